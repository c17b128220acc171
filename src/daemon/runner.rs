//! The script thread: notify hooks, `fallback_check` runs and track scripts run on a thread
//! of their own, with its own tokio runtime, so that starting processes (a fork and an exec
//! each: a storm of hooks at start-up took longer than a 10 ms advert interval's
//! Master_Down_Interval), waiting for them and reading their output never delay an advert
//! or a timer of the protocol loop. The protocol loop hands work over as a closure that
//! builds the task on the script thread; results come back over the channels the closure
//! carries. When the script thread is busy, scripts wait there, never the protocol.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot};
use tracing::error;

use super::host::Launch;

/// A task's future, built on the script thread (it need not be `Send`).
type Job = Box<dyn FnOnce() -> Pin<Box<dyn Future<Output = ()>>> + Send>;

/// The script thread. Dropping it ends every task still running there (each kills its
/// process group, see [`super::process`]) and waits for the thread.
pub struct Runner {
    jobs: Option<mpsc::UnboundedSender<Job>>,
    thread: Option<JoinHandle<()>>,
    launcher: Arc<dyn Launch>,
}

impl Runner {
    /// Start the script thread; its tasks start processes with `launcher`.
    pub fn start(launcher: Arc<dyn Launch>) -> std::io::Result<Runner> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        let thread = std::thread::Builder::new()
            .name("baton-scripts".into())
            .spawn(move || {
                let local = tokio::task::LocalSet::new();
                local.block_on(&runtime, async move {
                    while let Some(job) = queue.recv().await {
                        tokio::task::spawn_local(job());
                    }
                });
                // The daemon is stopping: what still runs is dropped with the LocalSet.
            })?;
        Ok(Runner {
            jobs: Some(jobs),
            thread: Some(thread),
            launcher,
        })
    }

    /// Run the tasks on the caller's `LocalSet` instead of a thread of their own: for the
    /// in-process harness, whose processes are recorded, not started, and whose clock is
    /// tokio's paused one (a task on another runtime would not be part of it).
    #[cfg(test)]
    pub fn inline(launcher: Arc<dyn Launch>) -> Runner {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        tokio::task::spawn_local(async move {
            while let Some(job) = queue.recv().await {
                tokio::task::spawn_local(job());
            }
        });
        Runner {
            jobs: Some(jobs),
            thread: None,
            launcher,
        }
    }

    /// What the tasks start processes with.
    pub fn launcher(&self) -> Arc<dyn Launch> {
        self.launcher.clone()
    }

    /// Run the future `make` builds on the script thread. The returned [`Task`] can end it
    /// or wait for it; dropping the `Task` lets it run on.
    pub fn spawn<F, Fut>(&self, make: F) -> Task
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = ()> + 'static,
    {
        let (stop, stopped) = oneshot::channel::<()>();
        let (finished, done) = oneshot::channel::<()>();
        let job: Job = Box::new(move || {
            Box::pin(async move {
                tokio::select! {
                    () = make() => {}
                    // Only an explicit stop ends it; a dropped `Task` lets it run.
                    Ok(()) = stopped => {}
                }
                let _ = finished.send(());
            })
        });
        let sent = self
            .jobs
            .as_ref()
            .is_some_and(|jobs| jobs.send(job).is_ok());
        if !sent {
            error!("the script thread has stopped; a hook or check was not started");
        }
        Task {
            stop: Some(stop),
            done,
        }
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A task on the script thread.
pub struct Task {
    stop: Option<oneshot::Sender<()>>,
    done: oneshot::Receiver<()>,
}

impl Task {
    /// End the task (its future is dropped on the script thread: a process it waits for is
    /// killed with its process group).
    pub fn abort(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Wait until the task has ended (or the script thread is gone).
    pub async fn join(self) {
        let _ = self.done.await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn tasks_run_on_the_script_thread_and_can_be_awaited_or_stopped() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async {
            let runner =
                Runner::start(Arc::new(crate::daemon::host::Processes)).expect("script thread");
            let main = std::thread::current().id();
            let (tx, rx) = oneshot::channel();
            let task = runner.spawn(move || async move {
                let _ = tx.send(std::thread::current().id());
            });
            task.join().await;
            let ran_on = rx.await.expect("ran");
            assert_ne!(ran_on, main, "a task runs on the script thread");

            let (tx, rx) = oneshot::channel::<()>();
            let mut forever = runner.spawn(move || async move {
                let _keep = tx;
                std::future::pending::<()>().await;
            });
            forever.abort();
            tokio::time::timeout(Duration::from_secs(5), forever.join())
                .await
                .expect("an aborted task ends");
            assert!(rx.await.is_err(), "its future was dropped");

            // A dropped handle lets the task run to its end.
            let (tx, rx) = oneshot::channel();
            drop(runner.spawn(move || async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = tx.send(());
            }));
            tokio::time::timeout(Duration::from_secs(5), rx)
                .await
                .expect("in time")
                .expect("ran to its end");
        });
    }
}
