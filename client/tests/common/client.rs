//! The UI loop in miniature: actions from a real network worker into `update`, effects back
//! out to the worker (no terminal).

use std::time::Duration;

use imkit_client::action::Action;
use imkit_client::effect::Effect;
use imkit_client::net::NetWorker;
use tokio::sync::mpsc;

use super::Session;

const WAIT: Duration = Duration::from_secs(20);

pub struct Client {
    pub session: Session,
    pub worker: NetWorker,
    pub actions: mpsc::UnboundedReceiver<Action>,
}

impl Client {
    pub fn perform(&mut self, effects: Vec<Effect>) {
        for effect in effects {
            match effect {
                Effect::Connect(target) => self.worker.connect(target),
                Effect::Send(command) => self.worker.send(command),
                _ => {}
            }
        }
    }

    /// Type a line, and hand what it asks to the worker.
    pub fn say(&mut self, line: &str) {
        self.session.say(line);
        let fx = self.session.take();
        self.perform(fx);
    }

    /// Apply worker actions until `done` holds for the state.
    pub async fn until(&mut self, what: &str, done: impl Fn(&Session) -> bool) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !done(&self.session) {
            let action = tokio::time::timeout_at(deadline, self.actions.recv())
                .await
                .unwrap_or_else(|_| {
                    panic!(
                        "timed out waiting for {what}: {:#?}",
                        self.session.state.rooms
                    )
                })
                .expect("worker alive");
            let fx = self.session.act(action).to_vec();
            self.session.take();
            self.perform(fx);
        }
    }
}
