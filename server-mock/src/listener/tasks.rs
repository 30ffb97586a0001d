//! The connection tasks still running, so the end of the shutdown's grace period can stop
//! them. Each task is registered once when it starts and once when it ends; the alternative,
//! each task also waiting on a shared cancellation token, takes two locks all connections
//! share at every poll of every connection.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

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
    /// The grace period is over: nothing new starts.
    aborted: bool,
}

impl ConnectionTasks {
    fn lock(&self) -> MutexGuard<'_, Running> {
        // Only plain inserts and removes happen under it: a poisoned map is still whole.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `task` on `tracker` until it ends or [`ConnectionTasks::abort_all`].
    pub(crate) fn spawn<F>(&self, tracker: &TaskTracker, task: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Registered under the lock the task takes to leave: a task that ends at once still
        // finds its entry there.
        let mut running = self.lock();
        if running.aborted {
            return;
        }
        let key = running.next;
        running.next += 1;
        let leave = Registered {
            tasks: self.clone(),
            key,
        };
        // Boxed: an async block that awaits a future it captured keeps room for it twice
        // (the capture and the awaited value), which for a connection is kilobytes.
        let task = Box::pin(task);
        let handle = tracker.spawn(async move {
            let _leave = leave;
            task.await
        });
        running.tasks.insert(key, handle.abort_handle());
    }

    /// Stop every task still running (each is dropped at its next turn); returns how many.
    pub(crate) fn abort_all(&self) -> usize {
        let handles: Vec<AbortHandle> = {
            let mut running = self.lock();
            running.aborted = true;
            running.tasks.drain().map(|(_, handle)| handle).collect()
        };
        for handle in &handles {
            handle.abort();
        }
        handles.len()
    }

    #[cfg(test)]
    fn running(&self) -> usize {
        self.lock().tasks.len()
    }
}

/// Removes its task's entry when the task ends (or is dropped).
struct Registered {
    tasks: ConnectionTasks,
    key: u64,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.tasks.lock().tasks.remove(&self.key);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn tasks_leave_when_they_end_and_the_rest_are_aborted() {
        let tracker = TaskTracker::new();
        let tasks = ConnectionTasks::default();
        tasks.spawn(&tracker, async {});
        tasks.spawn(&tracker, std::future::pending());
        let (started, ran) = tokio::sync::oneshot::channel::<()>();
        tasks.spawn(&tracker, async move {
            let _started = started;
            std::future::pending::<()>().await;
        });
        // The quick one leaves its entry behind it.
        tokio::time::timeout(Duration::from_secs(5), async {
            while tasks.running() != 2 {
                tokio::task::yield_now().await;
            }
        })
        .await
        .expect("the finished task left");
        assert_eq!(tasks.abort_all(), 2);
        tracker.close();
        tokio::time::timeout(Duration::from_secs(5), tracker.wait())
            .await
            .expect("aborted tasks end");
        // Dropped, not finished: the sender went away without sending.
        assert!(ran.await.is_err());
        assert_eq!(tasks.running(), 0);
        // Nothing new starts after the abort.
        tasks.spawn(&tracker, std::future::pending());
        assert_eq!(tasks.running(), 0);
    }
}
