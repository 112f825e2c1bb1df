//! The client loop: the device's `import` or `sync` killed at a random instant, in windows
//! measured on clean rounds first.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::book::{Rng, mix};
use crate::check;
use crate::procs::{Ended, run_until};
use crate::rig::Rig;
use crate::{Result, Tally, finding, nanos, secs};

/// The client loop's kill windows, measured on clean rounds of a device of its own, on this
/// machine under its current load.
#[derive(Debug)]
struct ClientWindows {
    import: Duration,
    sync: Duration,
}

fn calibrate_client(rig: &Rig) -> Result<ClientWindows> {
    let calibration = rig.work.join("calibration.db");
    rig.register(&calibration)?;
    let mut book = rig.book();
    book.write_vcard(&rig.book_path)?;
    let (import0, sync0) = rig.clean_round(&calibration, false)?;
    book.advance();
    book.write_vcard(&rig.book_path)?;
    let (import1, sync1) = rig.clean_round(&calibration, false)?;
    eprintln!(
        "kill-loop: clean rounds: first import {} + sync {}, next import {} + sync {}",
        secs(import0),
        secs(sync0),
        secs(import1),
        secs(sync1),
    );
    // The sync's window is a clean sync of a round like the loop's (the first is a full upload,
    // three times as long: with it, half the rounds' syncs would end before their instant).
    Ok(ClientWindows {
        import: import0.max(import1),
        sync: sync1,
    })
}

/// Kills during import and during sync, each without (`[0]`) and with (`[1]`) a batch in
/// flight at the kill: planned and not answered (being sent, at the server, or left by an
/// earlier kill).
#[derive(Debug, Default)]
struct ClientKills {
    import: [u64; 2],
    sync: [u64; 2],
    /// Rounds whose children ended before the kill's instant.
    unkilled: u64,
    /// Kills after which the device's file existed and passed `integrity_check`.
    checked: u64,
}

/// The client loop: import + sync of each round's book, one of them killed at a random instant.
///
/// Three rounds in four aim at the sync, where the batches are: the import runs to its end, and
/// the sync is killed at an instant uniform over a clean sync of a round's changes (a sync after
/// earlier kills has more to send, so the instant mostly falls among its batches). The fourth
/// aims at the import: an instant uniform over a clean import, from the round's start, killing
/// whichever child runs then (after a quick import, the sync's start). A round whose children
/// end before the instant is not killed; the loop goes on until N kills. After each kill the
/// device's file must pass `integrity_check`.
pub(crate) fn client_loop(rig: &mut Rig) -> Result<Tally> {
    let windows = calibrate_client(rig)?;
    let device = rig.work.join("device.db");
    rig.register(&device)?;
    let mut rng = Rng::new(mix(rig.args.seed, 0x4B11));
    let mut book = rig.book();
    let mut tally = Tally::default();
    let mut kills = ClientKills::default();
    let progress_every = (rig.args.kills / 20).max(1);
    while tally.kills < rig.args.kills {
        if tally.rounds > 0 {
            book.advance();
        }
        book.write_vcard(&rig.book_path)?;
        tally.rounds += 1;
        let aim_at_sync = rng.below(4) != 0;
        let window = if aim_at_sync {
            windows.sync
        } else {
            windows.import
        };
        let delay = Duration::from_nanos(rng.below(nanos(window)));
        let Some(in_sync) = client_round(rig, &device, aim_at_sync, delay, tally.rounds)? else {
            kills.unkilled += 1;
            continue;
        };
        tally.kills += 1;
        let phase = if in_sync {
            &mut kills.sync
        } else {
            &mut kills.import
        };
        // The file is as the kill left it (every state change is a commit): a batch in flight?
        // A sound file?
        if device.exists() {
            let conn = check::open(&device)?;
            phase[usize::from(check::device_batches(&conn)? > 0)] += 1;
            drop(conn);
            if let Some(e) = check::integrity(&device)? {
                return finding(format!(
                    "round {}: integrity_check of the device after kill {}: {e}",
                    tally.rounds, tally.kills
                ));
            }
            kills.checked += 1;
        } else {
            phase[0] += 1;
        }
        if tally.kills % progress_every == 0 {
            eprintln!(
                "kill-loop: {} kills in {} rounds ({} during sync, {} during import; {} with a \
                 batch in flight)",
                tally.kills,
                tally.rounds,
                kills.sync[0] + kills.sync[1],
                kills.import[0] + kills.import[1],
                kills.import[1] + kills.sync[1]
            );
        }
    }
    tally.lines.push(format!(
        "kill instants: 3 rounds in 4 uniform over a clean sync of a round ({}), 1 in 4 over a \
         clean import ({})",
        secs(windows.sync),
        secs(windows.import)
    ));
    tally.lines.push(format!(
        "kills: {} during sync ({} with a batch in flight), {} during import ({} with a batch of \
         an earlier sync in flight): {} of {} with a batch in flight; {} rounds ended before \
         their instant",
        kills.sync[0] + kills.sync[1],
        kills.sync[1],
        kills.import[0] + kills.import[1],
        kills.import[1],
        kills.import[1] + kills.sync[1],
        tally.kills,
        kills.unkilled
    ));
    tally.lines.push(format!(
        "integrity_check ok on the device after each of {} kills (the others came before the \
         file existed)",
        kills.checked
    ));
    Ok(tally)
}

/// One round of the client loop: `Some(in_sync)` when a child was killed, `None` when both
/// ended first. A child that fails on its own is a finding.
fn client_round(
    rig: &Rig,
    device: &Path,
    aim_at_sync: bool,
    delay: Duration,
    round: u64,
) -> Result<Option<bool>> {
    let start = Instant::now();
    let deadline = if aim_at_sync {
        start + Duration::from_secs(3600)
    } else {
        start + delay
    };
    let mut child = rig.cli.spawn("import", &rig.import_args(device))?;
    match run_until(&mut child, deadline)? {
        Ended::Killed => return Ok(Some(false)),
        Ended::Exited(code) if code.success() => {}
        Ended::Exited(code) => {
            return finding(format!(
                "round {round}: import failed ({code}):\n{}",
                rig.cli.log("import")
            ));
        }
    }
    let deadline = if aim_at_sync {
        Instant::now() + delay
    } else {
        deadline
    };
    let url = rig.proxy.url();
    let mut child = rig
        .cli
        .spawn("sync", &Rig::sync_args(device, &url, false))?;
    match run_until(&mut child, deadline)? {
        Ended::Killed => Ok(Some(true)),
        Ended::Exited(code) if code.success() => Ok(None),
        Ended::Exited(code) => finding(format!(
            "round {round}: sync failed ({code}):\n{}",
            rig.cli.log("sync")
        )),
    }
}
