//! The threads that verify passwords: a few of the layer's own (`max_concurrent_verifications`,
//! default half the cores), started at the first verification, at a lower scheduling priority
//! than the workers (nice [`NICE`] on Linux). A storm of wrong guesses then gets the CPU that
//! requests whose verification is cached leave, instead of taking it from them; Tokio's
//! blocking pool, shared with file reads and spooling, keeps its priority.

use std::panic::AssertUnwindSafe;
use std::sync::{mpsc, Arc, Mutex, OnceLock};

/// How much lower the hashing threads run than the rest of the process (Linux `nice`; the
/// scheduler then gives them about a tenth of a core they compete for).
pub(crate) const NICE: i32 = 10;

type Task = Box<dyn FnOnce() + Send>;

/// A fixed set of hashing threads fed through one queue; they stop when it is dropped.
pub(crate) struct Hashers {
    threads: usize,
    queue: OnceLock<Option<mpsc::Sender<Task>>>,
}

impl Hashers {
    /// `threads` hashing threads (at least one), started at the first [`run`](Self::run).
    pub(crate) fn new(threads: usize) -> Self {
        Hashers {
            threads: threads.max(1),
            queue: OnceLock::new(),
        }
    }

    /// Runs `work` on a hashing thread and returns what it gave; `None` when no thread could
    /// be started or `work` panicked. Work whose caller went away before a thread took it
    /// is skipped (a client that hung up costs no hash).
    pub(crate) async fn run<T, F>(&self, work: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let task: Task = Box::new(move || {
            if !tx.is_closed() {
                let _ = tx.send(work());
            }
        });
        let queue = self.queue.get_or_init(|| start(self.threads)).as_ref()?;
        queue.send(task).ok()?;
        rx.await.ok()
    }
}

/// Starts the threads; `None` when not one could be started.
fn start(threads: usize) -> Option<mpsc::Sender<Task>> {
    let (tx, rx) = mpsc::channel::<Task>();
    let rx = Arc::new(Mutex::new(rx));
    let mut started = 0;
    for i in 0..threads {
        let rx = rx.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("tollgate-hash-{i}"))
            .spawn(move || {
                lower_priority();
                loop {
                    let task = rx.lock().unwrap_or_else(|e| e.into_inner()).recv();
                    let Ok(task) = task else { return };
                    // A panicking hash drops its answer (the caller sees `None`), not the thread.
                    let _ = std::panic::catch_unwind(AssertUnwindSafe(task));
                }
            });
        match spawned {
            Ok(_) => started += 1,
            Err(err) => tracing::error!(error = %err, "basic auth: cannot start a hashing thread"),
        }
    }
    (started > 0).then_some(tx)
}

/// Lowers the calling thread's scheduling priority by [`NICE`]; a refusal is ignored (the
/// thread then runs at the process's priority).
#[cfg(target_os = "linux")]
fn lower_priority() {
    let tid = rustix::thread::gettid();
    let now = rustix::process::getpriority_process(Some(tid)).unwrap_or(0);
    let _ = rustix::process::setpriority_process(Some(tid), (now + NICE).min(19));
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_and_survives_a_panic() {
        let hashers = Hashers::new(1);
        assert_eq!(hashers.run(|| 2 + 2).await, Some(4));
        assert_eq!(hashers.run(|| -> u8 { panic!("bad hash") }).await, None);
        assert_eq!(hashers.run(|| "still here").await, Some("still here"));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn hashing_threads_run_at_a_lower_priority() {
        let hashers = Hashers::new(1);
        let ours = rustix::process::getpriority_process(None).unwrap();
        let theirs = hashers
            .run(|| rustix::process::getpriority_process(Some(rustix::thread::gettid())))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(theirs, (ours + NICE).min(19));
    }
}
