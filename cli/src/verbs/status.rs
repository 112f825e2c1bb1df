//! `contactsync status`: what the database holds, which server it syncs with, and when the next
//! sync will reach it — the check interval, a backoff and whose it is, and the identifiers the
//! server's daily quota deferred. `--json` keeps the engine's keys and adds the schedule's.

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use contactsync_core::identifier::Region;
use contactsync_core::{Discovery, Status, SyncSchedule};
use serde_json::{Value, json};

use crate::credentials::{self, Credential};
use crate::device_db::{engine_failure, open};
use crate::failure::Failure;
use crate::output::{now, when, write_json};

/// `contactsync status`.
pub fn status(
    out: &mut impl Write,
    region: Region,
    db: &Path,
    as_json: bool,
) -> Result<ExitCode, Failure> {
    let engine = open(db, region, true)?;
    let s = engine.status().map_err(|e| engine_failure(db, &e))?;
    let schedule = engine.sync_schedule().map_err(|e| engine_failure(db, &e))?;
    let discovery = engine.discovery().map_err(|e| engine_failure(db, &e))?;
    let credential = credentials::load(db)?;
    let now = now();
    // What the quota deferred and is still waiting: the additions pending while its wait runs.
    let deferred = match schedule.deferred_until {
        Some(until) if until > now => s.pending_add,
        _ => 0,
    };
    if as_json {
        let mut value = serde_json::to_value(&s).map_err(io::Error::other)?;
        if let Value::Object(map) = &mut value {
            map.insert("db".into(), db.display().to_string().into());
            map.insert("discovery".into(), discovery.as_str().into());
            map.insert(
                "schema_version".into(),
                json!(contactsync_core::store::SCHEMA_VERSION),
            );
            map.insert(
                "server".into(),
                json!(credential.as_ref().map(|c| &c.server)),
            );
            map.insert(
                "client_id".into(),
                json!(credential.as_ref().map(|c| &c.client_id)),
            );
            map.insert("next_check_at".into(), json!(schedule.next_check_at));
            map.insert("backoff_until".into(), json!(schedule.backoff_until));
            map.insert("backoff_attempts".into(), json!(schedule.backoff_attempts));
            map.insert("deferred".into(), json!(deferred));
            map.insert(
                "deferred_reason".into(),
                json!((deferred > 0).then_some("daily_quota")),
            );
            map.insert("deferred_until".into(), json!(schedule.deferred_until));
        }
        write_json(out, &value)?;
    } else {
        write_store(out, &s, db)?;
        // The Matrix mode is the device's choice (`sync --matrix-is`); the other two follow
        // the discovery server's config.
        let why = if discovery == Discovery::Matrix {
            "through a Matrix identity server, chosen by `sync --matrix-is`"
        } else {
            "the server's mode, followed at each sync"
        };
        writeln!(out, "  discovery       {} ({why})", discovery.as_str())?;
        write_schedule(out, credential.as_ref(), &schedule, deferred, now)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// What the database holds, in words.
fn write_store(out: &mut impl Write, s: &Status, db: &Path) -> io::Result<()> {
    writeln!(
        out,
        "database {} (schema {})",
        db.display(),
        contactsync_core::store::SCHEMA_VERSION
    )?;
    writeln!(
        out,
        "  contacts        {} ({} excluded from discovery)",
        s.contacts, s.excluded_contacts
    )?;
    writeln!(out, "  identifiers     {} distinct", s.identifiers)?;
    for (words, n) in [
        ("waiting to be sent", s.pending_add),
        ("to be removed from the server", s.pending_remove),
        ("sent, not yet answered", s.in_flight),
        ("on the server", s.acknowledged),
    ] {
        writeln!(out, "    {words:<31}{n:>7}")?;
    }
    writeln!(
        out,
        "  matches         {} (`contactsync matches` lists them)",
        s.matches
    )?;
    writeln!(
        out,
        "  rejected        {} (values that are no identifier: `contactsync contacts` shows them)",
        s.rejected
    )?;
    match &s.key_id {
        Some(key) => writeln!(out, "  hashing key     {key}")?,
        None => writeln!(out, "  hashing key     none yet (the first sync gets it)")?,
    }
    if s.full_resync {
        writeln!(
            out,
            "  full re-sync    the next sync sends the whole set (first sync, new key or server)"
        )?;
    }
    Ok(())
}

/// The server and when the next sync reaches it, in words.
fn write_schedule(
    out: &mut impl Write,
    credential: Option<&Credential>,
    schedule: &SyncSchedule,
    deferred: u64,
    now: i64,
) -> io::Result<()> {
    let Some(c) = credential else {
        return writeln!(
            out,
            "server           none: not registered (`contactsync sync --server URL` registers)"
        );
    };
    writeln!(out, "server {} (client {})", c.server, c.client_id)?;
    match schedule.next_check_at {
        Some(at) if at > now => writeln!(
            out,
            "  next check      {}: with nothing new to send, a sync before then asks nothing",
            when(at)
        )?,
        Some(_) => writeln!(out, "  next check      due now")?,
        None => writeln!(out, "  next check      due now (no sync completed yet)")?,
    }
    match schedule.backoff_until {
        Some(until) if until > now => {
            let n = schedule.backoff_attempts;
            let tries = if n == 1 { "attempt" } else { "attempts" };
            writeln!(
                out,
                "  backoff         this device's own, after {n} failed {tries} in a row: no \
                 request {}; `contactsync sync --force` tries now",
                when(until)
            )?;
        }
        _ => writeln!(out, "  backoff         none")?,
    }
    match schedule.deferred_until {
        Some(until) if deferred > 0 => writeln!(
            out,
            "  deferred        {deferred} identifiers wait for the server's daily quota of new \
             identifiers, which ran out: sent by a sync {}",
            when(until)
        ),
        _ => writeln!(out, "  deferred        none"),
    }
}
