//! This snapshot against the stored one: which contacts need work at all.
//!
//! A snapshot starts by loading an [`Index`] of what is stored: per contact a 64-bit key of its
//! source id and its content fingerprint — about 40 bytes a contact, never the contacts
//! themselves. Each incoming contact then costs one fingerprint and one map lookup; only a contact
//! whose fingerprint differs is normalised and hashed ([`classify`]). [`prepare`] runs that on
//! worker threads and hands the results, in input order, to the single writer.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{DefaultHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;

use rusqlite::Connection;

use crate::contact::{Fingerprint, RawContact};
use crate::error::{Error, Result};
use crate::hash::HashKey;
use crate::identifier::Normalizer;
use crate::store::read;
use crate::store::write::{Prepared, fingerprint_from};

/// Contacts handed to one worker at a time.
const SUB_CHUNK: usize = 256;

/// A stored contact as the snapshot sees it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slot {
    pub fingerprint: Fingerprint,
}

/// Marks a key shared by two stored source ids; their contacts take the exact (slower) path.
const AMBIGUOUS: u32 = u32::MAX;

/// Stored contacts by source-id key.
#[derive(Debug, Default)]
pub(crate) struct Index {
    keys: HashMap<u64, u32>,
    slots: Vec<Slot>,
}

impl Index {
    /// Loads the index from the store in one scan.
    pub(crate) fn load(conn: &Connection) -> Result<Index> {
        let mut index = Index::default();
        read::each_contact_fingerprint(conn, |source_id, fingerprint, _generation| {
            let Some(fingerprint) = fingerprint_from(fingerprint) else {
                return; // A damaged row: the contact takes the exact path and is rewritten.
            };
            let slot = u32::try_from(index.slots.len()).unwrap_or(AMBIGUOUS);
            index.slots.push(Slot { fingerprint });
            match index.keys.entry(key64(source_id)) {
                Entry::Vacant(v) => {
                    v.insert(slot);
                }
                Entry::Occupied(mut o) => {
                    o.insert(AMBIGUOUS);
                }
            }
        })?;
        Ok(index)
    }

    /// The slot of a stored contact, when its key is unambiguous.
    pub(crate) fn lookup(&self, source_id: &str) -> Option<u32> {
        self.keys
            .get(&key64(source_id))
            .copied()
            .filter(|&s| s != AMBIGUOUS)
    }

    pub(crate) fn slot(&self, slot: u32) -> Option<&Slot> {
        self.slots.get(slot as usize)
    }

    /// How many contacts were stored when the index was loaded.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}

/// A fast 64-bit key of a source id. Only equality within one process matters: a collision
/// makes the key [`AMBIGUOUS`], never a wrong answer.
fn key64(source_id: &str) -> u64 {
    let mut h = DefaultHasher::new();
    h.write(source_id.as_bytes());
    h.finish()
}

/// What an incoming contact needs.
#[derive(Debug)]
pub(crate) enum Item {
    /// Stored with the same content: nothing to do but note that it was seen.
    Unchanged(u32),
    /// New or changed: normalised and hashed, to be written. `slot` when it was stored.
    Write(Option<u32>, Prepared),
}

/// Everything the workers share.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Context<'a> {
    pub normalizer: Normalizer,
    pub index: Option<&'a Index>,
    pub key: Option<&'a HashKey>,
}

/// Decides what one contact needs, normalising and hashing it only when it changed.
pub(crate) fn classify(contact: &RawContact, cx: Context<'_>) -> Item {
    let fingerprint = contact.content_fingerprint(&cx.normalizer);
    let slot = cx.index.and_then(|i| i.lookup(&contact.source_id));
    if let Some(s) = slot
        && cx.index.and_then(|i| i.slot(s)).map(|s| s.fingerprint) == Some(fingerprint)
    {
        return Item::Unchanged(s);
    }
    let normalized = cx.normalizer.normalize_contact_with(contact, fingerprint);
    Item::Write(slot, Prepared::new(normalized, cx.key))
}

/// Classifies `contacts` on `workers` threads and calls `sink` with each result **in input
/// order** on the calling thread (the writer). Stops early when `sink` fails.
pub(crate) fn prepare(
    contacts: &[RawContact],
    cx: Context<'_>,
    workers: usize,
    mut sink: impl FnMut(Item) -> Result<()>,
) -> Result<()> {
    if workers <= 1 || contacts.len() <= SUB_CHUNK {
        for c in contacts {
            sink(classify(c, cx))?;
        }
        return Ok(());
    }
    let chunks: Vec<&[RawContact]> = contacts.chunks(SUB_CHUNK).collect();
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // Bounded: workers run at most a few sub-chunks ahead of the writer.
        let (tx, rx) = mpsc::sync_channel::<(usize, Vec<Item>)>(workers * 2);
        for _ in 0..workers {
            let tx = tx.clone();
            let (chunks, next, stop) = (&chunks, &next, &stop);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    let Some(chunk) = chunks.get(n) else { break };
                    let items = chunk.iter().map(|c| classify(c, cx)).collect();
                    if tx.send((n, items)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        let mut pending: HashMap<usize, Vec<Item>> = HashMap::new();
        let mut want = 0usize;
        let result = (|| {
            while want < chunks.len() {
                let items = if let Some(items) = pending.remove(&want) {
                    items
                } else {
                    let Ok((n, items)) = rx.recv() else {
                        // A worker died (a panic in normalisation): report, do not hang.
                        return Err(Error::InvalidState("a normalisation worker failed".into()));
                    };
                    if n != want {
                        pending.insert(n, items);
                        continue;
                    }
                    items
                };
                for item in items {
                    sink(item)?;
                }
                want += 1;
            }
            Ok(())
        })();
        stop.store(true, Ordering::Relaxed);
        drop(rx);
        result
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identifier::{IdentifierKind, Region};

    fn book(n: usize) -> Vec<RawContact> {
        (0..n)
            .map(|i| {
                RawContact::new(format!("c{i}"), format!("Person {i}")).with(
                    IdentifierKind::Phone,
                    None,
                    format!("+49 151 {:08}", 10_000_000 + i),
                )
            })
            .collect()
    }

    #[test]
    fn parallel_preparation_keeps_input_order() {
        let contacts = book(3000);
        let cx = Context {
            normalizer: Normalizer::new(Region::new("DE").unwrap()),
            index: None,
            key: None,
        };
        let mut seen = Vec::new();
        prepare(&contacts, cx, 3, |item| {
            let Item::Write(None, p) = item else {
                panic!("everything is new")
            };
            seen.push(p.contact.source_id);
            Ok(())
        })
        .unwrap();
        let expected: Vec<String> = contacts.iter().map(|c| c.source_id.clone()).collect();
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_failing_sink_stops_the_workers() {
        let contacts = book(5000);
        let cx = Context {
            normalizer: Normalizer::new(Region::new("DE").unwrap()),
            index: None,
            key: None,
        };
        let mut calls = 0;
        let result = prepare(&contacts, cx, 2, |_| {
            calls += 1;
            if calls == 300 {
                Err(Error::Cancelled)
            } else {
                Ok(())
            }
        });
        assert_eq!(result, Err(Error::Cancelled));
        assert_eq!(calls, 300);
    }
}
