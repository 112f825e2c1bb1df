//! This snapshot against the stored one: which contacts need work at all.
//!
//! Stage: owns the index of stored contacts and the triage of incoming ones. May import `contact`,
//! `identifier`, `hash` and `store` (which it asks for its index); never `key`, `upload` or
//! `engine`.
//!
//! A snapshot starts by loading an [`Index`] of what is stored: per contact a 64-bit key of its
//! source id and its content fingerprint — about 40 bytes a contact, never the contacts
//! themselves. Each incoming contact then costs one fingerprint and one map lookup; only a contact
//! whose fingerprint differs is normalised and hashed. [`prepare`] triages on every core,
//! normalises on the process's [pattern thread](crate::identifier::pattern_thread), and hands
//! the results, in input order, to the single writer.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::{BuildHasherDefault, Hasher};

use crate::contact::{Fingerprint, Prepared, RawContact};
use crate::error::{Error, Result};
use crate::hash::HashKey;
use crate::identifier::{Normalizer, pattern_thread};
use crate::store::Store;

/// Below twice this many contacts, a chunk is classified on the calling thread.
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
    keys: HashMap<u64, u32, BuildHasherDefault<Prehashed>>,
    slots: Vec<Slot>,
    /// Every stored source id, end to end (`ends[slot]` is where slot's id ends): the sweep
    /// needs the ids of unseen contacts, and this costs a few bytes a contact, not a second scan.
    ids: String,
    ends: Vec<usize>,
}

impl Index {
    /// Loads the index from the store in one scan. The map is built after it, at its final
    /// size: grown during the scan it would rehash every key about twice.
    pub(crate) fn load(store: &Store) -> Result<Index> {
        let mut index = Index::default();
        let mut keys = Vec::new();
        store.each_contact_fingerprint(|source_id, fingerprint| {
            // A damaged fingerprint matches nothing: the contact is rewritten if present.
            let fingerprint = fingerprint.unwrap_or(Fingerprint([0; 16]));
            index.slots.push(Slot { fingerprint });
            index.ids.push_str(source_id);
            index.ends.push(index.ids.len());
            keys.push(key64(source_id));
        })?;
        index.keys.reserve(keys.len());
        for (slot, key) in keys.into_iter().enumerate() {
            let slot = u32::try_from(slot).unwrap_or(AMBIGUOUS);
            match index.keys.entry(key) {
                Entry::Vacant(v) => {
                    v.insert(slot);
                }
                Entry::Occupied(mut o) => {
                    o.insert(AMBIGUOUS);
                }
            }
        }
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

    /// The source id of a slot.
    pub(crate) fn source_id(&self, slot: usize) -> &str {
        let start = slot
            .checked_sub(1)
            .and_then(|p| self.ends.get(p).copied())
            .unwrap_or(0);
        let end = self.ends.get(slot).copied().unwrap_or(start);
        self.ids.get(start..end).unwrap_or("")
    }

    /// How many contacts were stored when the index was loaded.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }
}

/// A fast 64-bit key of a source id (FNV-1a, then a multiply-xorshift finaliser). Only equality
/// within one process matters: a collision makes the key [`AMBIGUOUS`], never a wrong answer,
/// so a cryptographic or DoS-resistant hash buys nothing here.
fn key64(source_id: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for &b in source_id.as_bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^ (h >> 33)
}

/// The map's hasher: keys are already well-mixed 64-bit hashes, so they are used as they are.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
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

/// The cheap first look at a contact: fingerprint and index lookup, no phone patterns.
#[derive(Debug, Clone, Copy)]
enum Triage {
    Unchanged(u32),
    Work(Option<u32>, Fingerprint),
}

fn triage(contact: &RawContact, cx: Context<'_>) -> Triage {
    let fingerprint = contact.content_fingerprint(&cx.normalizer);
    let slot = cx.index.and_then(|i| i.lookup(&contact.source_id));
    match slot {
        Some(s) if cx.index.and_then(|i| i.slot(s)).map(|s| s.fingerprint) == Some(fingerprint) => {
            Triage::Unchanged(s)
        }
        _ => Triage::Work(slot, fingerprint),
    }
}

/// Normalises and hashes the contacts the triage found new or changed.
fn normalize(
    normalizer: Normalizer,
    key: Option<&HashKey>,
    contact: &RawContact,
    fp: Fingerprint,
) -> Prepared {
    Prepared::new(normalizer.normalize_contact_with(contact, fp), key)
}

/// Classifies `contacts` and calls `sink` with each result **in input order** on the calling
/// thread (the writer); stops when `sink` fails. (A trait object: one copy of this function serves
/// the three import paths, in a library kept under 5 MiB.)
///
/// Two passes: the triage (a fingerprint and a lookup per contact) runs on every core, as it
/// touches no phone patterns; normalising the contacts that changed runs on the
/// [pattern thread](crate::identifier::pattern_thread) (and `workers - 1` helpers of its own),
/// where the phone patterns search without a lock — which is why the contacts are handed over
/// owned.
pub(crate) fn prepare(
    contacts: Vec<RawContact>,
    cx: Context<'_>,
    workers: usize,
    sink: &mut dyn FnMut(Item) -> Result<()>,
) -> Result<()> {
    let triaged = parallel_map(&contacts, cores(), |c| triage(c, cx));
    let work: Vec<(RawContact, Fingerprint)> = contacts
        .into_iter()
        .zip(&triaged)
        .filter_map(|(c, t)| match *t {
            Triage::Work(_, fp) => Some((c, fp)),
            Triage::Unchanged(_) => None,
        })
        .collect();
    let normalized = if work.is_empty() {
        Vec::new()
    } else {
        let (normalizer, key) = (cx.normalizer, cx.key.cloned());
        pattern_thread::run(move || {
            parallel_map(&work, workers, |(c, fp)| {
                normalize(normalizer, key.as_ref(), c, *fp)
            })
        })
    };
    let mut normalized = normalized.into_iter();
    for t in triaged {
        let item = match t {
            Triage::Unchanged(slot) => Item::Unchanged(slot),
            Triage::Work(slot, _) => match normalized.next() {
                Some(p) => Item::Write(slot, p),
                None => return Err(Error::InvalidState("normalisation lost a contact".into())),
            },
        };
        sink(item)?;
    }
    Ok(())
}

/// The cores this process may run on, asked once: `available_parallelism` reads the cgroup files
/// on every call (a few percent of a re-import when asked per batch).
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZero::get))
}

/// `items.iter().map(f)` on up to `threads` threads (contiguous shares, results in order), the
/// calling thread taking the first share; without spawning for small inputs.
fn parallel_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    if threads <= 1 || items.len() < 2 * SUB_CHUNK {
        return items.iter().map(f).collect();
    }
    let share = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let f = &f;
        let mut parts = items.chunks(share);
        let first = parts.next().unwrap_or_default();
        let handles: Vec<_> = parts
            .map(|part| scope.spawn(move || part.iter().map(f).collect::<Vec<R>>()))
            .collect();
        let mut out = Vec::with_capacity(items.len());
        out.extend(first.iter().map(f));
        for h in handles {
            match h.join() {
                Ok(part) => out.extend(part),
                // A panic in a worker is re-raised here, on the caller's thread, where the
                // caller's own unwinding (and the FFI layer's catch) deal with it.
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        out
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
        prepare(contacts.clone(), cx, 3, &mut |item| {
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
        let result = prepare(contacts, cx, 2, &mut |_| {
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
