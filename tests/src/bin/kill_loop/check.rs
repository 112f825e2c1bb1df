//! What the loops check, read straight from the databases' files (read-only connections: nothing
//! here changes a file the next child opens, not even by a checkpoint).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;

use contactsync_core::protocol::wire::BatchAnswer;
use rusqlite::{Connection, OpenFlags, OptionalExtension, params};

use crate::Result;
use crate::proxy::Log;

/// Upload states (docs/store.md; `store::UploadState` codes).
const PENDING_ADD: i64 = 1;
const ADD_IN_FLIGHT: i64 = 2;
const ACKNOWLEDGED: i64 = 3;
const PENDING_REMOVE: i64 = 4;
const REMOVE_IN_FLIGHT: i64 = 5;

/// Opens a database read-only. A file whose writer was killed opens too (SQLite rebuilds its WAL
/// index), and a read-only connection never checkpoints: the file stays as the kill left it.
pub fn open(path: &Path) -> Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| format!("{}: {e}", path.display()))?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    Ok(conn)
}

/// `PRAGMA integrity_check`: `None` when "ok", else what it said.
pub fn integrity(path: &Path) -> Result<Option<String>> {
    let conn = open(path)?;
    let mut stmt = conn.prepare("PRAGMA integrity_check")?;
    let lines = stmt
        .query_map([], |r| r.get::<_, String>(0))?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    Ok(if lines == ["ok"] {
        None
    } else {
        Some(lines.join("; "))
    })
}

/// The client id in a device's credential file (`<db>.client.json`).
pub fn client_id(db: &Path) -> Result<String> {
    let mut name = db.as_os_str().to_owned();
    name.push(".client.json");
    let text = std::fs::read(&name)?;
    let value: serde_json::Value = serde_json::from_slice(&text)?;
    Ok(value
        .get("client_id")
        .and_then(serde_json::Value::as_str)
        .ok_or("no client_id in the credential file")?
        .to_owned())
}

/// Batches the device has in flight (planned, maybe sent, not answered); none in a file that a
/// kill left before its schema was made.
pub fn device_batches(conn: &Connection) -> Result<u64> {
    let made: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'batches')",
        [],
        |r| r.get(0),
    )?;
    if !made {
        return Ok(0);
    }
    let n: i64 = conn.query_row("SELECT count(*) FROM batches", [], |r| r.get(0))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Whether a batch is stored (applied) on the server for any client.
pub fn server_has_batch(conn: &Connection, batch_id: &str) -> Result<bool> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM batches WHERE batch_id = ?1",
            [batch_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// A client's set on the server.
fn server_set(conn: &Connection, client: &str) -> Result<HashSet<Vec<u8>>> {
    let mut stmt = conn.prepare("SELECT digest FROM client_hashes WHERE client_id = ?1")?;
    let set = stmt
        .query_map([client], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<std::result::Result<_, _>>()?;
    Ok(set)
}

/// A device's matches: (kind, canonical, user reference).
fn matches(conn: &Connection) -> Result<BTreeSet<(i64, String, String)>> {
    let mut stmt = conn.prepare("SELECT kind, canonical, user_ref FROM matches")?;
    let set = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<std::result::Result<_, _>>()?;
    Ok(set)
}

/// What the final check found. A clean run has every count at zero and nothing in `problems`.
#[derive(Debug, Default)]
pub struct Findings {
    /// Hashes a clean run of the final book has on the server and the device does not (an
    /// addition that never arrived).
    pub missing: u64,
    /// Hashes the device has on the server and a clean run does not (a removal that never
    /// arrived, or a stale addition applied after its removal).
    pub extra: u64,
    /// Hash operations the server applied a second time: an `add` of a hash the set already
    /// held, or a `remove` of one it no longer held, in a batch it applied.
    pub duplicated: u64,
    /// Identifiers pending or in flight on the device after the clean sync, plus batch rows.
    pub stuck: u64,
    /// Everything else that is wrong, one line each.
    pub problems: Vec<String>,
    /// Facts for the report.
    pub notes: Vec<String>,
}

impl Findings {
    pub fn lost(&self) -> u64 {
        self.missing + self.extra
    }

    pub fn clean(&self) -> bool {
        self.lost() == 0 && self.duplicated == 0 && self.stuck == 0 && self.problems.is_empty()
    }
}

/// The databases and ids the final check reads.
#[derive(Debug)]
pub struct Subjects<'a> {
    pub server: &'a Path,
    pub device: &'a Path,
    pub reference: &'a Path,
}

/// The final check: after the loop and one clean round on the device, and a clean run of the
/// same final book on a fresh reference device.
pub fn final_check(s: &Subjects<'_>, log: &Log) -> Result<Findings> {
    let mut f = Findings::default();
    for path in [s.server, s.device, s.reference] {
        if let Some(e) = integrity(path)? {
            f.problems
                .push(format!("integrity_check of {}: {e}", path.display()));
        }
    }
    let device_id = client_id(s.device)?;
    let reference_id = client_id(s.reference)?;
    let server = open(s.server)?;
    let device = open(s.device)?;
    let reference = open(s.reference)?;

    // The set: the device's against a clean run's.
    let set = server_set(&server, &device_id)?;
    let expected = server_set(&server, &reference_id)?;
    f.missing = expected.difference(&set).count() as u64;
    f.extra = set.difference(&expected).count() as u64;
    f.notes.push(format!(
        "server set: {} hashes for the device, {} for the clean reference",
        set.len(),
        expected.len()
    ));
    if expected.is_empty() {
        f.problems
            .push("the reference set is empty: the check would prove nothing".into());
    }

    // The device's own view agrees with the server: what it holds as acknowledged is exactly
    // the server's set (else it would never send a missing hash, or never remove an extra one).
    let mut stmt = device.prepare("SELECT digest FROM identifiers WHERE state = ?1")?;
    let acknowledged: HashSet<Vec<u8>> = stmt
        .query_map([ACKNOWLEDGED], |r| r.get::<_, Vec<u8>>(0))?
        .collect::<std::result::Result<_, _>>()?;
    let unknown_to_server = acknowledged.difference(&set).count();
    let unknown_to_device = set.difference(&acknowledged).count();
    if unknown_to_server + unknown_to_device > 0 {
        f.problems.push(format!(
            "the device's acknowledged identifiers differ from its server set: {unknown_to_server} \
             acknowledged but not on the server, {unknown_to_device} on the server but not \
             acknowledged"
        ));
    }

    // Stuck: nothing pending, nothing in flight, no batch left.
    let batches = device_batches(&device)?;
    let mut stmt = device.prepare(
        "SELECT state, count(*) FROM identifiers WHERE state IN (?1, ?2, ?3, ?4) GROUP BY state",
    )?;
    let by_state: Vec<(i64, i64)> = stmt
        .query_map(
            params![PENDING_ADD, ADD_IN_FLIGHT, PENDING_REMOVE, REMOVE_IN_FLIGHT],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?
        .collect::<std::result::Result<_, _>>()?;
    let unsettled: i64 = by_state.iter().map(|(_, n)| n).sum();
    f.stuck = batches + u64::try_from(unsettled).unwrap_or(0);
    if f.stuck > 0 {
        f.notes.push(format!(
            "stuck on the device: {batches} batch rows; identifiers by state code {by_state:?}"
        ));
    }

    // Matches: the device found exactly who a clean run finds.
    let got = matches(&device)?;
    let want = matches(&reference)?;
    if got != want {
        f.problems.push(format!(
            "matches differ from the clean run's: {} missing, {} extra",
            want.difference(&got).count(),
            got.difference(&want).count()
        ));
    }
    f.notes
        .push(format!("matches: {} (clean run {})", got.len(), want.len()));

    check_batches(&server, &device_id, set.len(), log, &mut f)?;
    Ok(f)
}

/// No batch applied twice. The server's set makes a second application invisible in the set
/// itself (adding a held hash changes nothing), so the check reads what it does change: the
/// applied batch's own answer. For every batch the server applied for the device, the proxy's
/// record of its body gives how many hashes it added and removed; a correct client only ever
/// adds a hash the set lacks and removes one it holds, so the answer's `added` and `removed`
/// must equal them. A shortfall is work applied before, under another batch id: duplicated.
/// The server's own counters must agree too: the day's quota used is the sum of `added` of the
/// day's batches and of their padding dummies, which are charged but never stored (a replay
/// charged again would break it), and `added` minus `removed` over all batches is the set's size.
fn check_batches(
    server: &Connection,
    device_id: &str,
    set_size: usize,
    log: &Log,
    f: &mut Findings,
) -> Result<()> {
    let mut stmt =
        server.prepare("SELECT batch_id, answer, created_at FROM batches WHERE client_id = ?1")?;
    let rows: Vec<(String, Vec<u8>, i64)> = stmt
        .query_map([device_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
        .collect::<std::result::Result<_, _>>()?;
    let mut added_by_day: HashMap<i64, u64> = HashMap::new();
    let (mut total_added, mut total_removed) = (0u64, 0u64);
    let mut unseen = 0;
    let mut conflicts = 0;
    let mut resent = 0u64;
    for (batch_id, answer, created_at) in &rows {
        let answer: BatchAnswer = serde_json::from_slice(answer)
            .map_err(|e| format!("stored answer of {batch_id}: {e}"))?;
        total_added += u64::from(answer.added);
        total_removed += u64::from(answer.removed);
        let day = added_by_day
            .entry(created_at.div_euclid(86_400))
            .or_default();
        *day += u64::from(answer.added);
        let Some(records) = log.batches.get(batch_id) else {
            unseen += 1;
            continue;
        };
        *day += records[0].padding as u64;
        resent += records.len() as u64 - 1;
        if records.iter().any(|r| r != &records[0]) {
            conflicts += 1;
        }
        let body = &records[0];
        let adds = body.adds as u64;
        let removes = body.removes as u64;
        let did_add = u64::from(answer.added);
        let did_remove = u64::from(answer.removed);
        if did_add > adds || (!body.full && did_remove > removes) {
            f.problems.push(format!(
                "batch {batch_id}: the server answered added {did_add} / removed {did_remove} \
                 for {adds} / {removes} hashes"
            ));
        }
        f.duplicated += adds.saturating_sub(did_add);
        if !body.full {
            f.duplicated += removes.saturating_sub(did_remove);
        } else if did_remove > 0 {
            // A full batch replaces the set: what it drops was held under no batch of ours.
            f.problems.push(format!(
                "full batch {batch_id} dropped {did_remove} hashes: a second full upload?"
            ));
        }
    }
    f.notes.push(format!(
        "server: {} batches applied for the device ({resent} resends of a batch id seen), \
         {total_added} hashes added and {total_removed} removed in all",
        rows.len()
    ));
    if unseen > 0 {
        f.problems.push(format!(
            "{unseen} batches applied on the server were never seen by the proxy"
        ));
    }
    if conflicts > 0 {
        f.problems.push(format!(
            "{conflicts} batch ids were sent with different bodies"
        ));
    }
    if total_added.checked_sub(total_removed) != Some(set_size as u64) {
        f.problems.push(format!(
            "the server's accounting: {total_added} added - {total_removed} removed != set size \
             {set_size}"
        ));
    }
    check_quota(server, device_id, &added_by_day, f)?;
    // A refusal (4xx: a conflict, a malformed batch, a limit) is a client bug or limits that
    // interfere with the loop; a 5xx is the server's trouble, worth a note.
    let by_class = |class: u16| -> Vec<String> {
        log.batch_statuses
            .iter()
            .filter(|(s, _)| **s / 100 == class)
            .map(|(s, n)| format!("{n} x {s}"))
            .collect()
    };
    let refused = by_class(4);
    if !refused.is_empty() {
        f.problems
            .push(format!("batches refused: {}", refused.join(", ")));
    }
    let failed = by_class(5);
    if !failed.is_empty() {
        f.notes
            .push(format!("batch answers 5xx: {}", failed.join(", ")));
    }
    Ok(())
}

/// The day's quota used against what the day's batches added (their padding included).
fn check_quota(
    server: &Connection,
    device_id: &str,
    added_by_day: &HashMap<i64, u64>,
    f: &mut Findings,
) -> Result<()> {
    let usage: Option<(i64, i64)> = server
        .query_row(
            "SELECT quota_day, quota_used FROM usage WHERE client_id = ?1",
            [device_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    if let Some((day, used)) = usage {
        let expected = added_by_day.get(&day).copied().unwrap_or(0);
        if u64::try_from(used).ok() != Some(expected) {
            f.problems.push(format!(
                "quota: day {day} used {used}, but the day's batches added {expected} (padding \
                 included)"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::BodyRecord;

    /// A server file reduced to what `check_batches` reads: the device's stored batch answers
    /// `(batch_id, added, removed, created_at)` and its quota counter `(day, used)`.
    fn server(batches: &[(&str, u32, u32, i64)], usage: (i64, i64)) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(
            "CREATE TABLE batches (client_id TEXT, batch_id TEXT, body_sha256 BLOB, answer BLOB,
                                   created_at INTEGER);
             CREATE TABLE usage (client_id TEXT, quota_day INTEGER, quota_used INTEGER,
                                 rate_minute INTEGER, rate_count INTEGER);",
        )
        .unwrap();
        for &(id, added, removed, at) in batches {
            let answer = serde_json::to_vec(&BatchAnswer {
                batch_id: id.into(),
                key_id: "k".into(),
                added,
                removed,
                matches: Vec::new(),
                remaining_today: 0,
            })
            .unwrap();
            conn.execute(
                "INSERT INTO batches VALUES ('c', ?1, x'00', ?2, ?3)",
                params![id, answer, at],
            )
            .unwrap();
        }
        conn.execute(
            "INSERT INTO usage VALUES ('c', ?1, ?2, 0, 0)",
            params![usage.0, usage.1],
        )
        .unwrap();
        conn
    }

    /// The proxy's record of bodies `(batch_id, adds, removes, fingerprint)`.
    fn log(bodies: &[(&str, usize, usize, u64)]) -> Log {
        let mut log = Log::default();
        for &(id, adds, removes, fingerprint) in bodies {
            log.batches
                .entry(id.to_owned())
                .or_default()
                .push(BodyRecord {
                    fingerprint,
                    adds,
                    removes,
                    full: false,
                    padding: 0,
                });
        }
        log
    }

    const DAY: i64 = 86_400;

    #[test]
    fn a_history_without_repeats_passes() {
        // b1 adds 3; b2, resent once after a kill, adds 1 and removes 2: a set of 2.
        let server = server(&[("b1", 3, 0, DAY), ("b2", 1, 2, DAY + 5)], (1, 4));
        let log = log(&[("b1", 3, 0, 1), ("b2", 1, 2, 2), ("b2", 1, 2, 2)]);
        let mut f = Findings::default();
        check_batches(&server, "c", 2, &log, &mut f).unwrap();
        assert!(f.clean(), "{f:?}");
    }

    #[test]
    fn work_applied_again_is_duplicated() {
        // b2 re-adds a hash b1 added and removes one already gone.
        let server = server(&[("b1", 3, 0, DAY), ("b2", 0, 1, DAY)], (1, 3));
        let log = log(&[("b1", 3, 0, 1), ("b2", 1, 2, 2)]);
        let mut f = Findings::default();
        check_batches(&server, "c", 2, &log, &mut f).unwrap();
        assert_eq!(f.duplicated, 2);
        assert!(f.problems.is_empty(), "{f:?}");
    }

    #[test]
    fn the_server_counters_and_the_bodies_must_agree() {
        let server = server(&[("b1", 3, 0, DAY), ("b2", 1, 0, 2 * DAY)], (2, 2));
        // b1 sent with two bodies; b2 never seen by the proxy.
        let log = log(&[("b1", 3, 0, 1), ("b1", 3, 0, 9)]);
        let mut f = Findings::default();
        check_batches(&server, "c", 5, &log, &mut f).unwrap();
        let text = f.problems.join("\n");
        assert!(text.contains("never seen by the proxy"), "{text}");
        assert!(text.contains("different bodies"), "{text}");
        assert!(text.contains("set size 5"), "{text}");
        assert!(text.contains("quota: day 2 used 2"), "{text}");
    }
}
