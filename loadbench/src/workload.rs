//! What the simulated devices do, as goose scenarios: a newcomer's first sync (register, config,
//! cursor, one full batch of its book), a steady device's delta syncs and change polls at a rate
//! under the server's limit, and an abusive client that polls at ten times that limit.
//!
//! Requests go round-robin over the server instances (one counter for all users), so N
//! instances share the load evenly whatever the users do. Every answer the harness relies on
//! is checked: a first sync or a delta must be answered with exactly the matches its book
//! holds, so a harness that hashes differently from the server fails loudly instead of
//! measuring a benchmark of nothing (`World::mismatches`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use contactsync_core::Digest;
use contactsync_core::protocol::wire::{
    BatchAnswer, BatchRequest, ChangesAnswer, ConfigAnswer, Mode, Registered, WireHash,
};
use goose::goose::GooseResponse;
use goose::prelude::*;
use serde::de::DeserializeOwned;

/// Request names (goose groups its metrics by them). Those of the setup a steady user does when
/// the newcomers left it no device start with [`SETUP`] and are left out of the figures; the
/// abuser's start with [`ABUSER`].
pub const SETUP: &str = "setup ";
pub const ABUSER: &str = "abuser ";
/// The name of the first sync's full batch: its successes times the book size are the hashes
/// the first-sync phase had looked up.
pub const FULL_BATCH: &str = "POST /v1/batches (full)";
/// The name of a steady device's delta batch.
pub const DELTA_BATCH: &str = "POST /v1/batches (delta)";
/// A steady device's poll of the change feed, and the abuser's.
pub const POLL: &str = "GET /v1/changes";
pub const ABUSER_POLL: &str = "abuser GET /v1/changes";

/// What every simulated device shares: the servers, the key, the app's users' hashes, and the
/// devices that finished their first sync.
#[derive(Debug)]
pub struct World {
    urls: Vec<String>,
    next: AtomicUsize,
    key_id: String,
    /// The hashes of the registered app users' identifiers: the share of a book that matches.
    user_hashes: Vec<Digest>,
    /// Hashes in a first sync's book.
    book: usize,
    /// Chance, in thousandths, that a hash of a book or a delta is an app user's.
    match_per_mille: u64,
    /// The time between two requests of one of the abuser's connections.
    abuser_period: Duration,
    /// The abuser's client token and cursor, shared by all its connections.
    abuser: Mutex<Option<(String, String)>>,
    /// Hashes a delta adds and removes.
    delta_add: usize,
    delta_remove: usize,
    /// Devices that finished their first sync, for the steady phases to take.
    pool: Mutex<Vec<Device>>,
    seed: AtomicU64,
    /// Batches answered with other matches than the book holds (must stay 0).
    pub mismatches: AtomicU64,
}

/// One device's state between its requests (goose session data).
#[derive(Debug)]
pub struct Device {
    token: String,
    cursor: String,
    /// The device's current set on the server, for deltas to remove from.
    set: Vec<Digest>,
    batches: u64,
    rng: Rng,
    /// The abuser's next request slot (it paces itself: see [`abuser`]).
    next_at: Option<Instant>,
}

impl World {
    pub fn new(
        urls: Vec<String>,
        key_id: String,
        user_hashes: Vec<Digest>,
        book: usize,
        match_percent: u64,
        abuser_rps: f64,
        abuser_connections: usize,
    ) -> Self {
        World {
            urls,
            next: AtomicUsize::new(0),
            key_id,
            user_hashes,
            book,
            match_per_mille: match_percent * 10,
            abuser_period: Duration::from_secs_f64(
                f64::from(u32::try_from(abuser_connections).unwrap_or(1)) / abuser_rps,
            ),
            abuser: Mutex::new(None),
            delta_add: 3,
            delta_remove: 2,
            pool: Mutex::new(Vec::new()),
            seed: AtomicU64::new(0x5EED),
            mismatches: AtomicU64::new(0),
        }
    }

    /// The next instance's URL for `path` (round-robin per request).
    fn url(&self, path: &str) -> String {
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.urls.len();
        format!("{}{path}", self.urls[i])
    }

    fn rng(&self) -> Rng {
        Rng(self.seed.fetch_add(0x9E37_79B9, Ordering::Relaxed))
    }

    /// A fresh hash for a book or a delta, not in `set`: an app user's with the configured
    /// chance, else a random digest (indistinguishable from a non-user's identifier to the
    /// server, and far cheaper for the generator than an HMAC). Returns whether it is a user's.
    fn fresh_hash(&self, rng: &mut Rng, set: &HashSet<Digest>) -> (Digest, bool) {
        if !self.user_hashes.is_empty() && rng.below(1000) < self.match_per_mille {
            for _ in 0..8 {
                let h = &self.user_hashes[rng.index(self.user_hashes.len())];
                if !set.contains(h) {
                    return (*h, true);
                }
            }
        }
        (rng.digest(), false)
    }

    fn take_device(&self) -> Option<Device> {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    }

    fn check_matches(&self, answer: &BatchAnswer, expected: usize) {
        if answer.matches.len() != expected {
            self.mismatches.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// One request: method, path, metric name, token and JSON body.
struct Call<'a> {
    method: GooseMethod,
    path: &'a str,
    name: &'a str,
    token: Option<&'a str>,
    body: Option<Vec<u8>>,
}

/// Sends `call` to the next instance and parses a 2xx answer. `None` for any other status (a
/// 429 for the abuser; goose has counted it as a failure with its status code).
async fn send<T: DeserializeOwned>(
    user: &mut GooseUser,
    world: &World,
    call: Call<'_>,
) -> Result<Option<T>, Box<TransactionError>> {
    let url = world.url(call.path);
    let mut builder = user.get_request_builder(&call.method, &url)?;
    if let Some(token) = call.token {
        builder = builder.bearer_auth(token);
    }
    if let Some(body) = call.body {
        builder = builder
            .header("content-type", "application/json")
            .body(body);
    }
    let request = GooseRequest::builder()
        .method(call.method)
        .path(url.as_str())
        .name(call.name)
        .set_request_builder(builder)
        .build();
    let GooseResponse {
        mut request,
        response,
    } = user.request(request).await?;
    let Ok(response) = response else {
        return Ok(None);
    };
    if !response.status().is_success() {
        return Ok(None);
    }
    let parsed = match response.bytes().await {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    match parsed {
        Ok(value) => Ok(Some(value)),
        Err(e) => {
            user.set_failure(&format!("{}: {e}", call.name), &mut request, None, None)?;
            Ok(None)
        }
    }
}

fn json<T: serde::Serialize>(value: &T) -> Option<Vec<u8>> {
    serde_json::to_vec(value).ok()
}

/// A new device's first sync: `POST /v1/clients`, `GET /v1/config`, `GET /v1/changes` for its
/// cursor, then its whole book in one full batch (500 hashes is well under `max_batch`).
/// `prefix` names the requests (empty, or [`SETUP`]).
async fn first_sync(
    user: &mut GooseUser,
    world: &World,
    prefix: &str,
) -> Result<Option<Device>, Box<TransactionError>> {
    let name = |endpoint: &str| format!("{prefix}{endpoint}");
    let registered: Option<Registered> = send(
        user,
        world,
        post(
            "/v1/clients",
            &name("POST /v1/clients"),
            None,
            Some(b"{}".to_vec()),
        ),
    )
    .await?;
    let Some(registered) = registered else {
        return Ok(None);
    };
    let token = registered.token;
    let config: Option<ConfigAnswer> = send(
        user,
        world,
        get("/v1/config", &name("GET /v1/config"), &token),
    )
    .await?;
    if config.is_some_and(|c| c.key_id != world.key_id) {
        world.mismatches.fetch_add(1, Ordering::Relaxed);
    }
    let changes: Option<ChangesAnswer> = send(
        user,
        world,
        get("/v1/changes", &name("GET /v1/changes (cursor)"), &token),
    )
    .await?;
    let Some(changes) = changes else {
        return Ok(None);
    };
    let mut rng = world.rng();
    let mut seen = HashSet::with_capacity(world.book);
    let mut users = 0;
    while seen.len() < world.book {
        let (hash, is_user) = world.fresh_hash(&mut rng, &seen);
        users += usize::from(is_user);
        seen.insert(hash);
    }
    let book: Vec<Digest> = seen.into_iter().collect();
    let batch = BatchRequest {
        batch_id: "b0".to_owned(),
        key_id: world.key_id.clone(),
        mode: Mode::Full,
        add: book.iter().map(WireHash::from).collect(),
        remove: Vec::new(),
        padding: None,
    };
    let body = json(&batch);
    let answer: Option<BatchAnswer> = send(
        user,
        world,
        post("/v1/batches", &name(FULL_BATCH), Some(&token), body),
    )
    .await?;
    let Some(answer) = answer else {
        return Ok(None);
    };
    world.check_matches(&answer, users);
    Ok(Some(Device {
        token,
        cursor: changes.cursor,
        set: book,
        batches: 1,
        rng,
        next_at: None,
    }))
}

fn get<'a>(path: &'a str, name: &'a str, token: &'a str) -> Call<'a> {
    Call {
        method: GooseMethod::Get,
        path,
        name,
        token: Some(token),
        body: None,
    }
}

fn post<'a>(
    path: &'a str,
    name: &'a str,
    token: Option<&'a str>,
    body: Option<Vec<u8>>,
) -> Call<'a> {
    Call {
        method: GooseMethod::Post,
        path,
        name,
        token,
        body,
    }
}

/// The newcomers' transaction: one first sync, the device then kept for the steady phases.
async fn newcomer(user: &mut GooseUser, world: &World) -> TransactionResult {
    if let Some(device) = first_sync(user, world, "").await? {
        world
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(device);
    }
    Ok(())
}

/// A device the newcomers made, else one made now (its requests named as setup).
async fn synced_device(
    user: &mut GooseUser,
    world: &World,
) -> Result<Option<Device>, Box<TransactionError>> {
    match world.take_device() {
        Some(d) => Ok(Some(d)),
        None => first_sync(user, world, SETUP).await,
    }
}

/// A steady user's start: it takes a device that made its first sync.
async fn adopt(user: &mut GooseUser, world: &World) -> TransactionResult {
    if let Some(device) = synced_device(user, world).await? {
        user.set_session_data(device);
    }
    Ok(())
}

/// A steady device's delta sync: `GET /v1/config`, a delta batch (a few hashes added, a few
/// removed), `GET /v1/changes` from its cursor.
async fn delta_sync(user: &mut GooseUser, world: &World) -> TransactionResult {
    let Some(device) = user.get_session_data_mut::<Device>() else {
        return Ok(());
    };
    let mut remove = Vec::with_capacity(world.delta_remove);
    for _ in 0..world.delta_remove.min(device.set.len().saturating_sub(1)) {
        let i = device.rng.index(device.set.len());
        remove.push(device.set.swap_remove(i));
    }
    let current: HashSet<Digest> = device.set.iter().copied().collect();
    let mut add = Vec::with_capacity(world.delta_add);
    let mut users = 0;
    while add.len() < world.delta_add {
        let (hash, is_user) = world.fresh_hash(&mut device.rng, &current);
        if !add.contains(&hash) && !remove.contains(&hash) {
            users += usize::from(is_user);
            add.push(hash);
        }
    }
    device.set.extend(add.iter().copied());
    device.batches += 1;
    let batch = BatchRequest {
        batch_id: format!("b{}", device.batches),
        key_id: world.key_id.clone(),
        mode: Mode::Delta,
        add: add.iter().map(WireHash::from).collect(),
        remove: remove.iter().map(WireHash::from).collect(),
        padding: None,
    };
    let token = device.token.clone();
    let _: Option<ConfigAnswer> =
        send(user, world, get("/v1/config", "GET /v1/config", &token)).await?;
    let answer: Option<BatchAnswer> = send(
        user,
        world,
        post("/v1/batches", DELTA_BATCH, Some(&token), json(&batch)),
    )
    .await?;
    if let Some(answer) = answer {
        world.check_matches(&answer, users);
    }
    poll_as(user, world, POLL).await
}

/// A steady device's poll of the change feed.
async fn poll(user: &mut GooseUser, world: &World) -> TransactionResult {
    poll_as(user, world, POLL).await
}

/// One of the abuser's connections starts: all use one client (one token, one rate window),
/// adopted by the first of them.
async fn adopt_abuser(user: &mut GooseUser, world: &World) -> TransactionResult {
    let shared = world
        .abuser
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let (token, cursor) = if let Some(client) = shared {
        client
    } else {
        let Some(device) = synced_device(user, world).await? else {
            return Ok(());
        };
        let mut shared = world.abuser.lock().unwrap_or_else(PoisonError::into_inner);
        shared.get_or_insert((device.token, device.cursor)).clone()
    };
    let mut rng = world.rng();
    // The connections' schedules spread over one period, not all at once.
    let offset = world.abuser_period.mul_f64(rng.unit());
    user.set_session_data(Device {
        token,
        cursor,
        set: Vec::new(),
        batches: 0,
        rng,
        next_at: Some(Instant::now() + offset),
    });
    Ok(())
}

/// The abuser's poll: the same request, named apart, sent on a fixed schedule of
/// `world.abuser_period` per connection (a request late for its slot is sent at once, and the
/// next slots keep the schedule), so it keeps its rate while the server is fast enough, and
/// its several connections keep it when one request takes longer than a period.
async fn abuse(user: &mut GooseUser, world: &World) -> TransactionResult {
    let Some(device) = user.get_session_data_mut::<Device>() else {
        return Ok(());
    };
    let slot = *device.next_at.get_or_insert_with(Instant::now);
    device.next_at = Some(slot + world.abuser_period);
    tokio::time::sleep_until(slot).await;
    poll_as(user, world, ABUSER_POLL).await
}

async fn poll_as(user: &mut GooseUser, world: &World, name: &str) -> TransactionResult {
    let Some(device) = user.get_session_data::<Device>() else {
        return Ok(());
    };
    let (token, path) = (
        device.token.clone(),
        format!("/v1/changes?since={}", device.cursor),
    );
    let answer: Option<ChangesAnswer> = send(user, world, get(&path, name, &token)).await?;
    if let (Some(answer), Some(device)) = (answer, user.get_session_data_mut::<Device>()) {
        device.cursor = answer.cursor;
    }
    Ok(())
}

/// A goose transaction that runs `$f(user, &world)`.
macro_rules! transaction_of {
    ($world:expr, $f:path) => {{
        let world = Arc::clone($world);
        Transaction::new(Arc::new(move |user| {
            let world = Arc::clone(&world);
            Box::pin(async move { $f(user, &world).await })
        }))
    }};
}

/// Newcomers: first syncs back to back, as fast as the server answers (the throughput phase).
pub fn newcomers(world: &Arc<World>) -> Scenario {
    Scenario::new("Newcomer").register_transaction(transaction_of!(world, newcomer))
}

/// Steady devices: a delta sync, then a poll, with a wait after each so that one device sends
/// about `rps` requests a second (a delta sync is 3 requests, a poll 1: 2 per transaction).
pub fn steady_devices(world: &Arc<World>, weight: usize, rps: f64) -> Result<Scenario, GooseError> {
    let wait = Duration::from_secs_f64(2.0 / rps);
    Scenario::new("Device")
        .set_weight(weight)?
        .set_wait_time(wait / 2, wait * 3 / 2)
        .map(|s| {
            s.register_transaction(transaction_of!(world, adopt).set_on_start())
                .register_transaction(transaction_of!(world, delta_sync))
                .register_transaction(transaction_of!(world, poll))
        })
}

/// The abusive client: one client token polling from `connections` goose users (connections),
/// each paced at `World::abuser_period`, without goose's waits.
pub fn abuser(world: &Arc<World>, connections: usize) -> Result<Scenario, GooseError> {
    Ok(Scenario::new("Abuser")
        .set_weight(connections)?
        .register_transaction(transaction_of!(world, adopt_abuser).set_on_start())
        .register_transaction(transaction_of!(world, abuse)))
}

/// `SplitMix64`: uniform enough for picking hashes, without a dependency.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// Uniform in [0, 1).
    fn unit(&mut self) -> f64 {
        #[expect(clippy::cast_precision_loss, reason = "53 random bits")]
        let bits = (self.next() >> 11) as f64;
        bits / 9_007_199_254_740_992.0 // 2^53
    }

    fn index(&mut self, len: usize) -> usize {
        usize::try_from(self.below(len as u64)).unwrap_or(0)
    }

    /// A random digest.
    fn digest(&mut self) -> Digest {
        let mut bytes = [0u8; contactsync_core::hash::DIGEST_LEN];
        for chunk in bytes.chunks_mut(8) {
            chunk.copy_from_slice(&self.next().to_le_bytes());
        }
        Digest(bytes)
    }
}
