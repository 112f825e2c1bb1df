//! Reading ahead on a thread of its own ([`read_ahead`]).
//!
//! Why: an import from files reads, parses, normalises and writes. The engine normalises on one
//! thread and writes on another; parsing a vCard file (about a third of the reading thread's
//! work for the benchmark book) then sits on the normalising thread, which is the longer of the
//! two. Parsing ahead on a third thread takes it off, at the cost of a few batches of contacts
//! in a bounded channel.

use std::sync::mpsc::{Receiver, sync_channel};
use std::thread::JoinHandle;

/// Items per batch sent between the threads (one channel operation per batch, not per item).
const BATCH: usize = 256;

/// Batches read ahead and not yet taken.
const AHEAD: usize = 4;

/// The items of `items`, read on a thread of its own while the caller works on earlier ones, at
/// most about a thousand ahead.
///
/// The reading thread stops when its source ends or when this iterator is dropped. If it panics,
/// the items end with `Err(lost())`, never silently: a snapshot taken from a source that stopped
/// early must not remove the contacts it never read.
pub fn read_ahead<T, E>(
    items: impl Iterator<Item = Result<T, E>> + Send + 'static,
    lost: fn() -> E,
) -> ReadAhead<T, E>
where
    T: Send + 'static,
    E: Send + 'static,
{
    let (tx, rx) = sync_channel::<Vec<Result<T, E>>>(AHEAD);
    let handle = std::thread::Builder::new()
        .name("contactsync-read".into())
        .spawn(move || {
            let mut batch = Vec::with_capacity(BATCH);
            for item in items {
                batch.push(item);
                if batch.len() == BATCH
                    && tx
                        .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                        .is_err()
                {
                    return;
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
        });
    match handle {
        Ok(handle) => ReadAhead {
            rx: Some(rx),
            current: Vec::new().into_iter(),
            handle: Some(handle),
            lost,
        },
        // No thread to be had: the items were moved into the closure that could not run.
        Err(_) => ReadAhead {
            rx: None,
            current: Vec::new().into_iter(),
            handle: None,
            lost,
        },
    }
}

/// The iterator [`read_ahead`] returns.
#[derive(Debug)]
pub struct ReadAhead<T, E> {
    rx: Option<Receiver<Vec<Result<T, E>>>>,
    current: std::vec::IntoIter<Result<T, E>>,
    handle: Option<JoinHandle<()>>,
    lost: fn() -> E,
}

impl<T, E> Iterator for ReadAhead<T, E> {
    type Item = Result<T, E>;

    fn next(&mut self) -> Option<Result<T, E>> {
        loop {
            if let Some(item) = self.current.next() {
                return Some(item);
            }
            let rx = self.rx.as_ref()?;
            if let Ok(batch) = rx.recv() {
                self.current = batch.into_iter();
                continue;
            }
            // The thread is gone: after its last batch, or in a panic (or it never started),
            // which is an error and not the end of the source.
            self.rx = None;
            return match self.handle.take().map(JoinHandle::join) {
                Some(Ok(())) => None,
                Some(Err(_)) | None => Some(Err((self.lost)())),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yields_every_item_in_order_and_errors_in_place() {
        let items = (0..1000usize).map(|i| if i == 700 { Err(i) } else { Ok(i) });
        let got: Vec<Result<usize, usize>> = read_ahead(items, || 0).collect();
        assert_eq!(got.len(), 1000);
        assert_eq!(got[700], Err(700));
        assert!(got.iter().enumerate().all(|(i, r)| i == 700 || *r == Ok(i)));
        assert_eq!(
            read_ahead(std::iter::empty::<Result<u8, u8>>(), || 0).count(),
            0
        );
    }

    #[test]
    fn a_reader_that_panics_ends_in_an_error_not_an_early_end() {
        let items = (0..600).map(|i| {
            assert!(i < 300, "the file went away");
            Ok::<i32, &str>(i)
        });
        let got: Vec<_> = read_ahead(items, || "lost").collect();
        assert_eq!(got.last(), Some(&Err("lost")));
        assert_eq!(got.iter().filter(|r| r.is_ok()).count(), 256);
    }

    #[test]
    fn dropping_the_iterator_stops_the_reader() {
        let mut ahead = read_ahead((0..).map(Ok::<u64, ()>), || ());
        assert_eq!(ahead.next(), Some(Ok(0)));
        drop(ahead);
    }
}
