//! The one thread that parses phone numbers in bulk: each region's warm-up and every import's
//! normalising run here, for as long as the process lives.
//!
//! Why a thread of its own: `rlibphonenumber` matches with `regex`, whose compiled patterns are
//! shared by the whole process, and a pattern gives a lock-free search cache only to the thread
//! that first searched with it; every other thread takes a lock per search (a pool of caches).
//! When the warm-up ran on a thread that then ended and each import normalised on a new thread,
//! every search of every import took that lock: 8.7% of the normaliser's instructions, ~20% of
//! its wall time (docs/performance.md, "The normaliser"). On one long-lived thread, the patterns
//! it compiles are its own.
//!
//! Work is handed over owned (`'static`): the caller waits for the answer, so this costs one
//! hand-over per batch, not per contact. A job that panics is caught here and re-raised on the
//! caller's thread; the thread goes on serving. Should the thread be unavailable (it could not be
//! spawned), work runs on the caller's thread, as it did before this existed.

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::OnceLock;
use std::sync::mpsc::{Sender, channel, sync_channel};

type Job = Box<dyn FnOnce() + Send>;

thread_local! {
    /// Set on the pattern thread: a job that asks for the thread runs at once instead of
    /// waiting for itself.
    static ON_PATTERN_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// The thread's queue; `None` when the thread could not be spawned.
fn queue() -> Option<&'static Sender<Job>> {
    static QUEUE: OnceLock<Option<Sender<Job>>> = OnceLock::new();
    QUEUE
        .get_or_init(|| {
            let (tx, rx) = channel::<Job>();
            std::thread::Builder::new()
                .name("contactsync-patterns".into())
                .spawn(move || {
                    ON_PATTERN_THREAD.with(|on| on.set(true));
                    for job in rx {
                        // `run`'s jobs report their own panics; a fire-and-forget job's panic
                        // is dropped, and the thread serves the next.
                        let _ = catch_unwind(AssertUnwindSafe(job));
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

/// Runs `job` on the pattern thread and waits for its result (on this thread when this *is*
/// the pattern thread, or when it is unavailable). A panic in `job` is re-raised here.
pub fn run<R: Send + 'static>(job: impl FnOnce() -> R + Send + 'static) -> R {
    let Some(queue) = queue().filter(|_| !ON_PATTERN_THREAD.with(Cell::get)) else {
        return job();
    };
    let (answer, result) = sync_channel::<std::thread::Result<R>>(1);
    let wrapped: Job = Box::new(move || {
        let _ = answer.send(catch_unwind(AssertUnwindSafe(job)));
    });
    if let Err(refused) = queue.send(wrapped) {
        // The thread is gone (it never ends while the process lives): run the job here. The
        // returned box still holds `job` and its answer channel.
        (refused.0)();
    }
    match result.recv() {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => resume_unwind(panic),
        // The job was dropped unrun, which only a thread torn down with the process does.
        Err(_) => {
            resume_unwind(Box::new("the pattern thread dropped a job") as Box<dyn Any + Send>)
        }
    }
}

/// Queues `job` on the pattern thread and returns at once (runs it here when the thread is
/// unavailable).
pub fn spawn(job: impl FnOnce() + Send + 'static) {
    match queue() {
        Some(queue) => {
            if let Err(refused) = queue.send(Box::new(job)) {
                (refused.0)();
            }
        }
        None => job(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_one_named_thread_and_return_their_values() {
        let first = run(|| std::thread::current().id());
        let second = run(|| std::thread::current().id());
        assert_eq!(first, second);
        assert_ne!(first, std::thread::current().id());
        let name = run(|| std::thread::current().name().map(str::to_owned));
        assert_eq!(name.as_deref(), Some("contactsync-patterns"));
        assert_eq!(run(|| vec![1, 2, 3].into_iter().sum::<i32>()), 6);
    }

    #[test]
    fn a_panicking_job_panics_its_caller_and_the_thread_serves_on() {
        let caught = catch_unwind(|| run(|| -> u32 { panic!("in the job") }));
        let message = caught.expect_err("re-raised");
        assert_eq!(message.downcast_ref::<&str>(), Some(&"in the job"));
        assert_eq!(run(|| 7), 7);
    }

    #[test]
    fn a_job_that_asks_for_the_thread_runs_in_place() {
        let (outer, inner) = run(|| {
            (
                std::thread::current().id(),
                run(|| std::thread::current().id()),
            )
        });
        assert_eq!(outer, inner);
    }

    #[test]
    fn spawned_jobs_run_in_order_before_later_ones() {
        let (tx, rx) = channel();
        for i in 0..3 {
            let tx = tx.clone();
            spawn(move || {
                let _ = tx.send(i);
            });
        }
        run(|| ());
        assert_eq!(rx.try_iter().collect::<Vec<_>>(), vec![0, 1, 2]);
    }
}
