//! The server loop: the server killed while a sync's batch is at it, its file checked, and
//! restarted on the same file; where each kill fell relative to its batch.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::book::{Rng, mix};
use crate::check;
use crate::proxy::Event;
use crate::rig::Rig;
use crate::{Finding, Result, Tally, finding, nanos, secs};

/// The server loop's kill window: a batch's time at the server, and the batches a round sends.
#[derive(Debug)]
struct ServerWindow {
    batch: Duration,
    per_round: u64,
}

/// Measures, through the proxy's events, how long the server takes over a batch (the median,
/// from the request written to the answer read) and how many batches a round after the first
/// sends, on clean rounds of a device of its own.
fn calibrate_server(rig: &Rig) -> Result<ServerWindow> {
    let calibration = rig.work.join("calibration.db");
    rig.register(&calibration)?;
    let (tx, rx) = mpsc::channel();
    rig.proxy.set_events(Some(tx));
    let mut book = rig.book();
    book.write_vcard(&rig.book_path)?;
    rig.clean_round(&calibration, false)?;
    let mut events: Vec<Event> = rx.try_iter().collect();
    book.advance();
    book.write_vcard(&rig.book_path)?;
    rig.clean_round(&calibration, false)?;
    rig.proxy.set_events(None);
    let second: Vec<Event> = rx.try_iter().collect();
    let per_round = second
        .iter()
        .filter(|e| matches!(e, Event::BatchForwarded { .. }))
        .count();
    events.extend(second);
    let mut sent = HashMap::new();
    let mut times = Vec::new();
    for e in &events {
        match e {
            Event::BatchForwarded { seq, at, .. } => {
                sent.insert(*seq, *at);
            }
            Event::BatchDone { seq, at } => {
                if let Some(start) = sent.get(seq) {
                    times.push(*at - *start);
                }
            }
        }
    }
    times.sort();
    let batch = times
        .get(times.len() / 2)
        .copied()
        .ok_or("no batch in the calibration rounds")?;
    eprintln!(
        "kill-loop: a batch takes {} at the server (median of {}); {per_round} batches in a \
         round after the first",
        secs(batch),
        times.len(),
    );
    Ok(ServerWindow {
        batch,
        per_round: u64::try_from(per_round)?.max(1),
    })
}

/// Where server kills fell relative to their batch, and how the syncs ended.
#[derive(Debug, Default)]
struct ServerKills {
    before_commit: u64,
    committed_unanswered: u64,
    after_answer: u64,
    synced: u64,
    gave_up: u64,
}

/// The server loop: each round imports its book (never killed) and syncs with `--force`;
/// while the sync runs, the server is killed once its k-th batch of the round (k uniform over
/// the batches a round sends) has been written to it, after a delay uniform over a batch's
/// median time at the server, so most kills fall while the server is working on the batch.
/// Then `integrity_check` on the server's file, and a restart on the same file; the sync retries
/// meanwhile (its failures while the server is down are expected) or gives up, and the next
/// round syncs again. Until N kills.
pub(crate) fn server_loop(rig: &mut Rig) -> Result<Tally> {
    let window = calibrate_server(rig)?;
    let device = rig.work.join("device.db");
    rig.register(&device)?;
    let mut rng = Rng::new(mix(rig.args.seed, 0x5E4B));
    let mut book = rig.book();
    let mut tally = Tally::default();
    let mut kills = ServerKills::default();
    let progress_every = (rig.args.kills / 10).max(1);
    while tally.kills < rig.args.kills {
        if tally.rounds > 0 {
            book.advance();
        }
        book.write_vcard(&rig.book_path)?;
        tally.rounds += 1;
        rig.cli
            .ok("import", &rig.import_args(&device))
            .map_err(|e| Finding(format!("round {}: {e}", tally.rounds)))?;
        let k = 1 + rng.below(window.per_round);
        let delay = Duration::from_nanos(rng.below(nanos(window.batch)));
        if server_round(rig, &device, k, delay, &mut kills, &tally)? {
            tally.kills += 1;
            if tally.kills % progress_every == 0 {
                eprintln!(
                    "kill-loop: {} server kills in {} rounds",
                    tally.kills, tally.rounds
                );
            }
        }
    }
    tally.lines.push(format!(
        "kill instants: after the k-th batch of a round (k in 1..={}) was written to the server, \
         uniform over {} (a batch's median time there)",
        window.per_round,
        secs(window.batch)
    ));
    tally.lines.push(format!(
        "kills: {} before the batch committed, {} after its commit and before its answer, {} \
         after its answer",
        kills.before_commit, kills.committed_unanswered, kills.after_answer
    ));
    tally.lines.push(format!(
        "integrity_check ok on the server after each of {} kills; syncs: {} completed, {} gave \
         up while the server was down",
        tally.kills, kills.synced, kills.gave_up
    ));
    Ok(tally)
}

/// One sync of the server loop; kills and restarts the server at its k-th batch. True when
/// it did.
fn server_round(
    rig: &mut Rig,
    device: &Path,
    k: u64,
    delay: Duration,
    kills: &mut ServerKills,
    tally: &Tally,
) -> Result<bool> {
    let (tx, rx) = mpsc::channel();
    rig.proxy.set_events(Some(tx));
    let url = rig.proxy.url();
    let mut child = rig.cli.spawn("sync", &Rig::sync_args(device, &url, true))?;
    let mut seen = 0u64;
    let mut killed = false;
    let exit = loop {
        if let Some(code) = child.try_wait()? {
            break code;
        }
        let Ok(event) = rx.recv_timeout(Duration::from_millis(2)) else {
            continue;
        };
        let Event::BatchForwarded { seq, batch_id, at } = event else {
            continue;
        };
        seen += 1;
        if killed || seen != k {
            continue;
        }
        std::thread::sleep((at + delay).saturating_duration_since(Instant::now()));
        rig.kill_server()?;
        killed = true;
        classify(rig, seq, &batch_id, kills)?;
        if let Some(e) = check::integrity(&rig.server_db)? {
            return finding(format!(
                "round {}: integrity_check of the server after kill {}: {e}",
                tally.rounds,
                tally.kills + 1
            ));
        }
        rig.start_server()?;
    };
    rig.proxy.set_events(None);
    match exit.code() {
        Some(0) => kills.synced += 1,
        // Still no server after the sync's retries: expected; the next round syncs again.
        Some(2) => kills.gave_up += 1,
        _ => {
            return finding(format!(
                "round {}: sync ended with {exit}:\n{}",
                tally.rounds,
                rig.cli.log("sync")
            ));
        }
    }
    Ok(killed)
}

/// Where a server kill fell: before the batch's commit, between its commit and its answer,
/// or after its answer.
fn classify(rig: &Rig, seq: u64, batch_id: &str, kills: &mut ServerKills) -> Result<()> {
    // The proxy's relay of that request ends once the dead server's socket is closed.
    let deadline = Instant::now() + Duration::from_secs(10);
    let outcome = loop {
        if let Some(o) = rig.proxy.with_log(|log| log.outcomes.get(&seq).copied()) {
            break o;
        }
        if Instant::now() > deadline {
            return Err(format!("the proxy never finished batch request {seq}").into());
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    let committed = check::server_has_batch(&check::open(&rig.server_db)?, batch_id)?;
    match (outcome.is_some(), committed) {
        (true, _) => kills.after_answer += 1,
        (false, true) => kills.committed_unanswered += 1,
        (false, false) => kills.before_commit += 1,
    }
    Ok(())
}
