//! The connection tasks still running, so the end of the shutdown grace period can stop
//! them. A registry of abort handles rather than a cancellation token every task waits on:
//! a waiting task polls its token at each of its wake-ups, and a token's state sits behind
//! one lock shared by every connection, so both cores would take that lock (and pass its
//! cache line back and forth) for every message forwarded. Here a connection touches the
//! registry twice in its life: when it starts and when it ends.

use std::future::Future;
use std::sync::{Arc, Mutex, MutexGuard};

use foldhash::HashMap;
use tokio::task::AbortHandle;
use tokio_util::task::TaskTracker;

#[derive(Debug, Clone, Default)]
pub(crate) struct ConnectionTasks {
    inner: Arc<Mutex<Running>>,
}

#[derive(Debug, Default)]
struct Running {
    next: u64,
    tasks: HashMap<u64, AbortHandle>,
    /// Set by `abort_all`: later tasks are not started.
    aborted: bool,
}

impl ConnectionTasks {
    fn lock(&self) -> MutexGuard<'_, Running> {
        // Only inserts and removes happen under it: a panic cannot leave it inconsistent.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run the task `make` returns on `tracker`, until it ends or
    /// [`ConnectionTasks::abort_all`]; false (and nothing run) once `abort_all` was called.
    /// The task holds the [`Registration`] it is given until it ends: `make` builds the
    /// task around it, because a finished future moved into another one to be awaited is
    /// stored twice (a connection's task is kilobytes).
    pub(crate) fn spawn<F>(
        &self,
        tracker: &TaskTracker,
        make: impl FnOnce(Registration) -> F,
    ) -> bool
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Registered under the lock the task's own removal takes, so a task that ends at
        // once is removed after it was added, never before.
        let mut running = self.lock();
        if running.aborted {
            return false;
        }
        let id = running.next;
        running.next += 1;
        let registration = Registration {
            tasks: self.clone(),
            id,
        };
        let handle = tracker.spawn(make(registration));
        running.tasks.insert(id, handle.abort_handle());
        true
    }

    /// Stop every running task (each is dropped at its next turn on the runtime) and start
    /// no more. Returns how many were running.
    pub(crate) fn abort_all(&self) -> usize {
        let mut running = self.lock();
        running.aborted = true;
        for task in running.tasks.values() {
            task.abort();
        }
        running.tasks.len()
    }

    /// Tasks started and not yet ended.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().tasks.len()
    }
}

/// A task's entry, removed when the task (which holds it) ends, finished or aborted.
pub(crate) struct Registration {
    tasks: ConnectionTasks,
    id: u64,
}

impl Drop for Registration {
    fn drop(&mut self) {
        self.tasks.lock().tasks.remove(&self.id);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn ended_tasks_leave_the_registry_and_abort_all_stops_the_rest() {
        let tracker = TaskTracker::new();
        let tasks = ConnectionTasks::default();
        assert!(tasks.spawn(&tracker, |registration| async move {
            let _registration = registration;
        }));
        let (stopped_tx, stopped_rx) = tokio::sync::oneshot::channel::<()>();
        assert!(tasks.spawn(&tracker, |registration| async move {
            let _registration = registration;
            let _dropped_when_aborted = stopped_tx;
            std::future::pending::<()>().await;
        }));
        tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.len() > 1 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the finished task is removed");

        assert_eq!(tasks.abort_all(), 1);
        let stopped = tokio::time::timeout(Duration::from_secs(5), stopped_rx).await;
        assert!(
            stopped.expect("aborted in time").is_err(),
            "the pending task was dropped"
        );
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("the tracker sees every task end");
        assert_eq!(tasks.len(), 0);
        assert!(
            !tasks.spawn(&tracker, |_| async {}),
            "nothing starts after abort_all"
        );
    }
}
