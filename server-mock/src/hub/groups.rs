//! Groups, topics and boxes: the many-party conversations. Membership is per user (all its
//! devices), kept across reconnects until the user leaves, so members that are offline get
//! the group's messages at their next login.

use std::collections::BTreeSet;

use foldhash::HashMap;

use imkit_protocols::{GroupId, UserId};

use super::ids::Sequence;

#[derive(Debug, Default)]
pub(crate) struct Group {
    /// Ordered, so fan-out order (and tests) are deterministic.
    pub members: BTreeSet<UserId>,
    pub ids: Sequence,
}

#[derive(Debug, Default)]
pub(crate) struct Groups {
    groups: HashMap<GroupId, Group>,
}

impl Groups {
    pub(crate) fn get(&self, group: &GroupId) -> Option<&Group> {
        self.groups.get(group)
    }

    pub(crate) fn get_mut(&mut self, group: &GroupId) -> Option<&mut Group> {
        self.groups.get_mut(group)
    }

    /// Create the group if needed; true if it is new.
    pub(crate) fn create(&mut self, group: &GroupId) -> bool {
        if self.groups.contains_key(group) {
            return false;
        }
        self.groups.insert(group.clone(), Group::default());
        true
    }

    /// Add a member; true if they were not one already.
    pub(crate) fn join(&mut self, group: &GroupId, user: &UserId) -> bool {
        self.groups
            .get_mut(group)
            .is_some_and(|g| g.members.insert(user.clone()))
    }

    pub(crate) fn leave(&mut self, group: &GroupId, user: &UserId) -> bool {
        self.groups
            .get_mut(group)
            .is_some_and(|g| g.members.remove(user))
    }
}
