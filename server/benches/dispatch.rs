//! Blocking storage or async storage? The PostgreSQL backend keeps the `Storage` trait blocking:
//! each request's rules run on tokio's blocking pool and hand every query to the storage's own
//! runtime. This measures that against the alternative — the same transactions written async,
//! on the server's runtime — on the real PostgreSQL server, in one run:
//!
//! - **blocking**: `spawn_blocking` → `PostgresStorage::read()` → the authenticating query
//!   (`client_by_token`) → commit, exactly as a request authenticates;
//! - **sync-client**: `spawn_blocking` → the `postgres` crate's blocking client, which drives its
//!   connection on the calling thread (no hand-off to another runtime), same statements;
//! - **async**: the same `BEGIN … READ ONLY`, the same prepared query and `COMMIT` through a
//!   deadpool-postgres pool of the same size, awaited on the server runtime's workers.
//!
//! Both run with 8 and 64 requests in flight on a 2-worker runtime (the server's) and print
//! transactions per second and the process's CPU time per transaction (user + system, from
//! `getrusage` through /proc/self/stat), medians of 5 rounds of 3 seconds each.
//!
//! `cargo bench -p contactsync-server --bench dispatch` (needs the tests' PostgreSQL server:
//! scripts/postgres-for-tests, or `CONTACTSYNC_TEST_POSTGRES`).
#![allow(
    clippy::print_stdout,
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss,
    clippy::too_many_lines,
    reason = "a benchmark binary: it reports on stdout and stops loudly on a broken setup"
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use contactsync_server::{PostgresStorage, Storage};
use sha2::Digest as _;

const ROUNDS: usize = 5;
const ROUND: Duration = Duration::from_secs(3);
const CLIENTS: usize = 1000;
const POOL: usize = 16;
const AUTH_SQL: &str = "SELECT client_id, user_ref, set_key_id, rekey_allowance, feed_start \
                        FROM clients WHERE token_sha256 = $1";

/// Blocking clients of the `postgres` crate (each drives its own connection on the calling
/// thread), with the authenticating statement prepared.
struct SyncPool {
    idle: std::sync::Mutex<Vec<(postgres::Client, postgres::Statement)>>,
    returned: std::sync::Condvar,
}

impl SyncPool {
    fn take(&self) -> (postgres::Client, postgres::Statement) {
        let mut idle = self.idle.lock().unwrap();
        loop {
            if let Some(c) = idle.pop() {
                return c;
            }
            idle = self.returned.wait(idle).unwrap();
        }
    }

    fn give(&self, c: (postgres::Client, postgres::Statement)) {
        self.idle.lock().unwrap().push(c);
        self.returned.notify_one();
    }
}

fn main() {
    let admin = std::env::var("CONTACTSYNC_TEST_POSTGRES").unwrap_or_else(|_| {
        "postgres://contactsync:contactsync@127.0.0.1:5432/contactsync".to_owned()
    });
    let schema = format!("bench_dispatch_{}", std::process::id());
    let mut setup = admin
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap();
    setup
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .unwrap();
    let sep = if admin.contains('?') { '&' } else { '?' };
    let url = format!("{admin}{sep}options=-csearch_path%3D{schema}&pool_size={POOL}");

    let storage: Arc<dyn Storage> = Arc::new(PostgresStorage::connect(&url).unwrap());
    let tokens: Arc<Vec<[u8; 32]>> = Arc::new(
        (0..CLIENTS)
            .map(|i| sha2::Sha256::digest(format!("t_{i}").as_bytes()).into())
            .collect(),
    );
    let mut conn = url
        .split("&pool_size")
        .next()
        .unwrap()
        .parse::<postgres::Config>()
        .unwrap()
        .connect(postgres::NoTls)
        .unwrap();
    for (i, token) in tokens.iter().enumerate() {
        conn.execute(
            "INSERT INTO clients (client_id, token_sha256, created_at) VALUES ($1, $2, 0)",
            &[&format!("c_{i}"), &&token[..]],
        )
        .unwrap();
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .max_blocking_threads(64)
        .enable_all()
        .build()
        .unwrap();
    let pool = runtime.block_on(async {
        let config: tokio_postgres::Config =
            url.split("&pool_size").next().unwrap().parse().unwrap();
        let manager = deadpool_postgres::Manager::new(config, tokio_postgres::NoTls);
        deadpool_postgres::Pool::builder(manager)
            .max_size(POOL)
            .build()
            .unwrap()
    });

    let plain_url = url.split("&pool_size").next().unwrap().to_owned();
    let sync_pool: Arc<SyncPool> = Arc::new(SyncPool {
        returned: std::sync::Condvar::new(),
        idle: std::sync::Mutex::new(
            (0..POOL)
                .map(|_| {
                    let mut client = plain_url
                        .parse::<postgres::Config>()
                        .unwrap()
                        .connect(postgres::NoTls)
                        .unwrap();
                    let stmt = client.prepare(AUTH_SQL).unwrap();
                    (client, stmt)
                })
                .collect(),
        ),
    });

    println!(
        "PostgreSQL dispatch: one authenticating read transaction per request, pool of {POOL}"
    );
    println!(
        "{:<10} {:>9} {:>12} {:>16}",
        "path", "in flight", "tx/s", "CPU µs per tx"
    );
    for in_flight in [8usize, 64] {
        for path in ["blocking", "sync-client", "async"] {
            let mut rates = Vec::new();
            let mut cpus = Vec::new();
            for _ in 0..ROUNDS {
                let (n, elapsed, cpu) = runtime.block_on(round(
                    path,
                    in_flight,
                    Arc::clone(&storage),
                    pool.clone(),
                    Arc::clone(&sync_pool),
                    Arc::clone(&tokens),
                ));
                rates.push(n as f64 / elapsed.as_secs_f64());
                cpus.push(cpu.as_secs_f64() * 1e6 / n as f64);
            }
            println!(
                "{path:<10} {in_flight:>9} {:>12.0} {:>16.1}",
                median(&mut rates),
                median(&mut cpus)
            );
        }
    }
    drop(storage);
    drop(runtime);
    drop(sync_pool);
    setup
        .batch_execute(&format!("DROP SCHEMA {schema} CASCADE"))
        .unwrap();
}

/// One round: `in_flight` tasks issuing transactions until the round ends.
async fn round(
    path: &'static str,
    in_flight: usize,
    storage: Arc<dyn Storage>,
    pool: deadpool_postgres::Pool,
    sync_pool: Arc<SyncPool>,
    tokens: Arc<Vec<[u8; 32]>>,
) -> (u64, Duration, Duration) {
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let cpu_before = process_cpu();
    let started = Instant::now();
    let tasks: Vec<_> = (0..in_flight)
        .map(|t| {
            let (storage, pool, tokens) = (Arc::clone(&storage), pool.clone(), Arc::clone(&tokens));
            let sync_pool = Arc::clone(&sync_pool);
            let (done, stop) = (Arc::clone(&done), Arc::clone(&stop));
            tokio::spawn(async move {
                let mut i = t;
                while !stop.load(Ordering::Relaxed) {
                    let token = tokens[i % tokens.len()];
                    i += in_flight;
                    if path == "blocking" {
                        let storage = Arc::clone(&storage);
                        tokio::task::spawn_blocking(move || {
                            let mut tx = storage.read().unwrap();
                            assert!(tx.client_by_token(&token).unwrap().is_some());
                            tx.commit().unwrap();
                        })
                        .await
                        .unwrap();
                    } else if path == "sync-client" {
                        let sync_pool = Arc::clone(&sync_pool);
                        tokio::task::spawn_blocking(move || {
                            let (mut client, stmt) = sync_pool.take();
                            client
                                .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                                .unwrap();
                            assert!(client.query_opt(&stmt, &[&&token[..]]).unwrap().is_some());
                            client.batch_execute("COMMIT").unwrap();
                            sync_pool.give((client, stmt));
                        })
                        .await
                        .unwrap();
                    } else {
                        let client = pool.get().await.unwrap();
                        client
                            .batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                            .await
                            .unwrap();
                        let stmt = client.prepare_cached(AUTH_SQL).await.unwrap();
                        assert!(
                            client
                                .query_opt(&stmt, &[&&token[..]])
                                .await
                                .unwrap()
                                .is_some()
                        );
                        client.batch_execute("COMMIT").await.unwrap();
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(ROUND).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    (
        done.load(Ordering::Relaxed),
        started.elapsed(),
        process_cpu().saturating_sub(cpu_before),
    )
}

/// This process's CPU time (user + system), from /proc/self/stat (clock ticks of 10 ms).
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_name = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the name and state.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    Duration::from_millis(ticks * 10)
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
