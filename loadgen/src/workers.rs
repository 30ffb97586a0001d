//! The threads virtual users run on: one single-threaded tokio runtime per core, each with
//! its own users, sockets, timers and recorder. A multi-threaded runtime woke an idle worker
//! (a futex, then an epoll_wait) for most messages; users that never change thread need
//! neither, and nothing they touch is shared but the run's counters.

use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use tokio::runtime::{Builder, Handle};
use tokio::sync::oneshot;

/// How long a worker's runtime may take to drop what is still running at the end.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(1);

/// Runtimes on their own threads; stopped (their tasks dropped) when this is dropped.
pub struct Workers {
    handles: Vec<Handle>,
    stops: Vec<oneshot::Sender<()>>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// `count` threads (at least one), each running a current-thread runtime.
    pub fn start(count: usize) -> std::io::Result<Workers> {
        let mut workers = Workers {
            handles: Vec::new(),
            stops: Vec::new(),
            threads: Vec::new(),
        };
        for i in 0..count.max(1) {
            let runtime = Builder::new_current_thread().enable_all().build()?;
            let (stop, stopped) = oneshot::channel::<()>();
            let (handle_tx, handle_rx) = mpsc::sync_channel(1);
            let thread = std::thread::Builder::new()
                .name(format!("loadgen-users-{i}"))
                .spawn(move || {
                    let _ = handle_tx.send(runtime.handle().clone());
                    // Drives every task spawned on this runtime until told to stop.
                    runtime.block_on(async {
                        let _ = stopped.await;
                    });
                    runtime.shutdown_timeout(SHUTDOWN_TIMEOUT);
                })?;
            let handle = handle_rx
                .recv()
                .map_err(|_| std::io::Error::other("a worker thread died at start"))?;
            workers.handles.push(handle);
            workers.stops.push(stop);
            workers.threads.push(thread);
        }
        Ok(workers)
    }

    /// The runtime user `index` runs on (users are dealt out in turn).
    pub fn for_user(&self, index: u32) -> &Handle {
        &self.handles[index as usize % self.handles.len()]
    }

    pub fn count(&self) -> usize {
        self.handles.len()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for stop in self.stops.drain(..) {
            let _ = stop.send(());
        }
        // Not joined: this may run on an async thread; each shuts down within its timeout.
        self.threads.clear();
    }
}

/// The default number of worker threads: the cores this process may use.
pub fn default_count() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_are_dealt_over_distinct_threads_that_run_their_tasks() {
        let workers = Workers::start(2).unwrap();
        assert_eq!(workers.count(), 2);
        let names: Vec<String> = (0..4)
            .map(|user| {
                let (tx, rx) = mpsc::channel();
                workers.for_user(user).spawn(async move {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    let _ = tx.send(std::thread::current().name().unwrap_or("").to_owned());
                });
                rx.recv_timeout(Duration::from_secs(10)).unwrap()
            })
            .collect();
        assert_eq!(
            names,
            [
                "loadgen-users-0",
                "loadgen-users-1",
                "loadgen-users-0",
                "loadgen-users-1"
            ]
        );
    }
}
