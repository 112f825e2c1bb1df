//! The private discovery mode's costs, each beside the keyed-hash mode's in the same run:
//! per identifier on the device (blinding, then verifying and unblinding a padded batch), per
//! element on the server (a batch evaluation with its proof; a registered user's evaluation),
//! and the users' filter (build time, bytes per user, false positives measured over strangers,
//! and the bytes of one shard at 4, 8, 12 and 16 shard bits).
//!
//! `cargo bench -p contactsync-core --bench private` (add `-- --users 1000000` for a larger
//! filter). Medians of 5 runs; docs/performance.md, "Private discovery". The device's figures
//! are wall time on the cores the process may use (blinding and checking spread over them):
//! `taskset -c 0 cargo bench ...` gives one core's.

// A benchmark binary reports on stdout; that is its job. Its `main` is one run of every figure,
// read top to bottom.
#![allow(
    clippy::print_stdout,
    clippy::cast_precision_loss,
    clippy::too_many_lines
)]

use std::error::Error;
use std::hint::black_box;
use std::time::{Duration, Instant};

use contactsync_core::IdentifierKind;
use contactsync_core::hash::HashKey;
use contactsync_core::oprf::filter::{FilterHeader, HEADER_LEN, UserFilter};
use contactsync_core::oprf::{Blinded, Element, SecretKey, Tag};
use contactsync_core::protocol::encoding::Encoding;
use contactsync_core::protocol::private::{
    Bytes, EvaluateAnswer, EvaluateRequest, shard_count, shard_of,
};
use rand_core::OsRng;

const RUNS: usize = 5;
/// Identifiers per batch: the largest default bucket.
const BATCH: usize = 1024;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn per_item(d: Duration, n: usize) -> f64 {
    d.as_secs_f64() * 1e6 / n as f64
}

fn identifiers(n: usize, salt: u64) -> Vec<(IdentifierKind, String)> {
    (0..n)
        .map(|i| {
            (
                IdentifierKind::Phone,
                format!("+49151{:08}", i as u64 + salt),
            )
        })
        .collect()
}

#[allow(
    clippy::too_many_lines,
    reason = "one run's steps and its figures, printed in order"
)]
fn main() -> Result<(), Box<dyn Error>> {
    let args: Vec<String> = std::env::args().collect();
    let users = args
        .iter()
        .position(|a| a == "--users")
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000usize);

    let key = SecretKey::generate(&mut OsRng)?;
    let public = key.public_key();
    let hmac = HashKey::new("k", &[7; 32])?;
    let book = identifiers(BATCH, 0);

    let (mut hashed, mut blind, mut evaluate, mut finalize, mut clear) =
        (vec![], vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let t = Instant::now();
        for (kind, canonical) in &book {
            black_box(hmac.hash_parts(*kind, canonical));
        }
        hashed.push(t.elapsed());

        let t = Instant::now();
        let blinded = Blinded::new(&book, BATCH)?;
        blind.push(t.elapsed());

        let t = Instant::now();
        let (evaluated, proofs) = key.evaluate_batch(blinded.elements(), &mut OsRng)?;
        evaluate.push(t.elapsed());

        let t = Instant::now();
        let values = blinded.finalize(&public, &evaluated, &proofs)?;
        finalize.push(t.elapsed());
        black_box(values);

        let t = Instant::now();
        for (kind, canonical) in &book {
            black_box(key.evaluate(*kind, canonical)?);
        }
        clear.push(t.elapsed());
    }
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    println!(
        "private discovery, per identifier, batches of {BATCH} (medians of {RUNS} runs; the \
         device on {cores} core(s)):"
    );
    let (blind, finalize) = (median(blind), median(finalize));
    println!(
        "  baseline: keyed hash (HMAC-SHA-256)        {:8.2} µs",
        per_item(median(hashed), BATCH)
    );
    println!(
        "  device: blind                              {:8.2} µs",
        per_item(blind, BATCH)
    );
    println!(
        "  device: verify the proof and unblind       {:8.2} µs",
        per_item(finalize, BATCH)
    );
    println!(
        "  device: all of it (target: at most 100)    {:8.2} µs",
        per_item(blind + finalize, BATCH)
    );
    println!(
        "  server: evaluate a batch with its proofs   {:8.2} µs",
        per_item(median(evaluate), BATCH)
    );
    println!(
        "  server: a registered user's identifier     {:8.2} µs",
        per_item(median(clear), BATCH)
    );

    server_throughput(&key, cores)?;
    wire_bytes(&key)?;

    users_filter(&key, users)
}

/// The users' filter of `users` users: build time, bytes, false positives, and its shards.
fn users_filter(key: &SecretKey, users: usize) -> Result<(), Box<dyn Error>> {
    // The filter: users' tags (PRF values of distinct identifiers), then strangers' tags.
    let tags: Vec<Tag> = identifiers(users, 0)
        .iter()
        .map(|(kind, canonical)| key.evaluate(*kind, canonical).map(|v| v.tag()))
        .collect::<Result<_, _>>()?;
    let mut builds = vec![];
    let mut filter = UserFilter::build(&[])?;
    for _ in 0..RUNS {
        let t = Instant::now();
        filter = UserFilter::build(&tags)?;
        builds.push(t.elapsed());
    }
    let members: std::collections::HashSet<Tag> = tags.iter().copied().collect();
    let strangers = 1_000_000usize;
    let false_hits = (0..strangers)
        .filter(|i| {
            let tag = Tag((*i as u64 ^ 0x5bd1_e995).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
            !members.contains(&tag) && filter.contains(tag)
        })
        .count();
    let t = Instant::now();
    let mut hits = 0usize;
    for tag in &tags {
        hits += usize::from(filter.contains(*tag));
    }
    let query = t.elapsed();
    println!("users' filter of {users} users:");
    println!(
        "  build {:.0} ms, {} bytes ({:.2} bits per user), query {:.3} µs per tag ({hits} of \
         {users} users found)",
        median(builds).as_secs_f64() * 1e3,
        filter.wire_len(),
        8.0 * filter.wire_len() as f64 / users as f64,
        per_item(query, users),
    );
    println!(
        "  false positives: {false_hits} in {strangers} strangers ({:.2e}; 2^-16 = {:.2e})",
        false_hits as f64 / strangers as f64,
        2f64.powi(-16)
    );
    shards(&tags, &filter)?;
    Ok(())
}

/// The filter in shards (`private-shard-bits`): each shard's bytes on the wire (a part's
/// header included), smallest, median and largest, against the one filter's.
fn shards(tags: &[Tag], whole: &UserFilter) -> Result<(), Box<dyn Error>> {
    const PART_HEADER: usize = 4 + 4 + 8 + 4 + 4 + FilterHeader::LEN;
    println!(
        "  sharded (bytes a shard download costs, header included; one filter: {}):",
        whole.wire_len() - HEADER_LEN + PART_HEADER
    );
    for bits in [4u8, 8, 12, 16] {
        let mut by_shard: Vec<Vec<Tag>> = vec![Vec::new(); shard_count(bits) as usize];
        for tag in tags {
            by_shard[shard_of(*tag, bits) as usize].push(*tag);
        }
        let t = Instant::now();
        let mut sizes = by_shard
            .iter()
            .map(|tags| UserFilter::build(tags).map(|f| 2 * f.fingerprints().len() + PART_HEADER))
            .collect::<Result<Vec<_>, _>>()?;
        let build = t.elapsed();
        sizes.sort_unstable();
        let total: usize = sizes.iter().sum();
        println!(
            "    k = {bits:2}: {:6} shards, bytes min {} / median {} / max {}, all shards {total} \
             ({:.2} bits per user), built in {:.0} ms",
            sizes.len(),
            sizes[0],
            sizes[sizes.len() / 2],
            sizes[sizes.len() - 1],
            8.0 * total as f64 / tags.len() as f64,
            build.as_secs_f64() * 1e3
        );
    }
    Ok(())
}

/// Evaluations per second with one evaluating thread per core, as a server's blocking pool runs
/// concurrent requests: batches of [`BATCH`] for about two seconds.
fn server_throughput(key: &SecretKey, cores: usize) -> Result<(), Box<dyn Error>> {
    let batches: Vec<Vec<Element>> = (0..cores)
        .map(|c| {
            Blinded::new(&identifiers(BATCH, 1_000_000 * c as u64), BATCH)
                .map(|b| b.elements().to_vec())
        })
        .collect::<Result<_, _>>()?;
    let t = Instant::now();
    let done: usize = std::thread::scope(|scope| {
        let workers: Vec<_> = batches
            .iter()
            .map(|batch| {
                scope.spawn(move || {
                    let mut n = 0;
                    while t.elapsed() < Duration::from_secs(2) {
                        if key.evaluate_batch(batch, &mut OsRng).is_ok() {
                            n += batch.len();
                        }
                    }
                    n
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    println!(
        "  server: {:.0} evaluations per second on {cores} core(s) (target: at least 20,000 on 2)",
        done as f64 / t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Bytes an identifier costs on the wire: one evaluation request and its answer for a full
/// batch, in both encodings (HTTP headers aside), against the keyed-hash mode's batch entry.
fn wire_bytes(key: &SecretKey) -> Result<(), Box<dyn Error>> {
    let blinded = Blinded::new(&identifiers(BATCH, 0), BATCH)?;
    let (evaluated, proofs) = key.evaluate_batch(blinded.elements(), &mut OsRng)?;
    let request = EvaluateRequest {
        epoch: 1,
        elements: blinded.elements().iter().map(|e| Bytes(e.0)).collect(),
    };
    let answer = EvaluateAnswer {
        epoch: 1,
        evaluated: evaluated.into_iter().map(|e| Bytes(e.0)).collect(),
        proofs: proofs.into_iter().map(Bytes).collect(),
        remaining_today: 99_000,
    };
    for encoding in [Encoding::Json, Encoding::Cbor] {
        let up = encoding.encode(&request)?.len();
        let down = encoding.encode(&answer)?.len();
        println!(
            "  wire ({encoding:?}): {:.1} bytes up and {:.1} down per identifier",
            up as f64 / BATCH as f64,
            down as f64 / BATCH as f64
        );
    }
    Ok(())
}
