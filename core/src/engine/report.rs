//! What an import did: [`ImportReport`], and how the import's steps add to it.
//!
//! Part of the façade stage; may import every stage below it. Its own file so that the report
//! (what apps and the CLI read) is found apart from the import machinery that fills it.

use std::collections::{BTreeMap, HashMap};

use serde::{Serialize, Serializer};

use crate::store::rows::Row;
use crate::store::write::{Transitions, Upserted};

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ImportReport {
    /// Contacts that were new.
    pub added: u64,
    /// Contacts whose content changed.
    pub changed: u64,
    /// Contacts seen with the same content as stored.
    pub unchanged: u64,
    /// Contacts removed (missing from a snapshot, or deleted in a change feed).
    pub removed: u64,
    /// Entries whose source id appeared earlier in the same import; the later one was kept.
    pub duplicates: u64,
    /// Contacts normalised and hashed: what the import actually cost.
    pub normalized: u64,
    /// Raw values rejected in the contacts normalised by this import.
    pub rejected: u64,
    /// Those rejections by reason code (`phone.too_short`, ...). A `HashMap` because that is the
    /// map UniFFI carries to apps; reports written as JSON list the codes sorted all the same.
    #[serde(serialize_with = "sorted")]
    pub rejections: HashMap<String, u64>,
    /// Identifiers that became pending upload. Like `queued_remove`, it counts transitions as
    /// each transaction commits them: an identifier added and dropped again within one import
    /// may count in both.
    pub queued_add: u64,
    /// Identifiers that became pending removal from the server (or were dropped before upload).
    pub queued_remove: u64,
}

impl ImportReport {
    pub(super) fn absorb(&mut self, other: ImportReport) {
        self.added += other.added;
        self.changed += other.changed;
        self.unchanged += other.unchanged;
        self.removed += other.removed;
        self.duplicates += other.duplicates;
        self.normalized += other.normalized;
        self.rejected += other.rejected;
        for (code, n) in other.rejections {
            *self.rejections.entry(code).or_default() += n;
        }
        self.queued_add += other.queued_add;
        self.queued_remove += other.queued_remove;
    }

    pub(super) fn transitions(&mut self, t: Transitions) {
        self.queued_add += t.queued_add;
        self.queued_remove += t.queued_remove;
    }

    /// What the import changed, for the engine's observers: the book and the matches when any
    /// contact was written or removed (a removed or edited contact may lose its match, an added
    /// one may share a matched identifier).
    pub(super) fn changes(&self) -> super::Changes {
        let written = self.added + self.changed + self.removed > 0;
        super::Changes {
            book: written,
            matches: written,
            ..super::Changes::default()
        }
    }

    /// The counts for a log line: never a contact's data.
    pub(super) fn summary(&self) -> String {
        format!(
            "{} added, {} changed, {} unchanged, {} removed, {} normalised, {} values rejected, {} queued for upload, {} for removal",
            self.added,
            self.changed,
            self.unchanged,
            self.removed,
            self.normalized,
            self.rejected,
            self.queued_add,
            self.queued_remove
        )
    }

    /// Counts one written contact.
    pub(super) fn written(&mut self, row: &Row<'_>, outcome: Upserted) {
        self.normalized += 1;
        if outcome != Upserted::Unchanged && row.rejected > 0 {
            for reason in row.rejection_reasons() {
                self.rejected += 1;
                *self.rejections.entry(reason).or_default() += 1;
            }
        }
        match outcome {
            Upserted::Added => self.added += 1,
            Upserted::Changed => self.changed += 1,
            Upserted::Unchanged => self.unchanged += 1,
            Upserted::Duplicate => self.duplicates += 1,
        }
    }
}

/// Writes a map with its keys in order, so the same report always reads the same.
fn sorted<S: Serializer>(map: &HashMap<String, u64>, s: S) -> Result<S::Ok, S::Error> {
    map.iter().collect::<BTreeMap<_, _>>().serialize(s)
}
