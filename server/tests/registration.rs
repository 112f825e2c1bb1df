//! Open registration's limits, on both backends, on a real server on loopback: 300 registrations
//! from one address get the bucket's worth while other addresses keep registering (one after
//! the other, and from threads at once); the global
//! bucket; `X-Forwarded-For` from a trusted proxy only, read from the right, IPv6 per /64; the
//! daily budget of new identifiers per address across every open device (vouched devices
//! untouched); and open devices that never upload expire in the sweep.
//!
//! Clients come from different loopback addresses (on Linux every 127.0.0.0/8 address is the
//! loopback: the client socket is bound to one before connecting), or through a trusted proxy's
//! header. The server's clock is the test's: refills and days move when the test moves it.

// Test code throughout: clippy.toml's allowances for tests cover its helpers too.
#![cfg(test)]

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use common::{Backend, TestServer, count, delta, fakes, manual, open_db};
use contactsync_server::{RegistrationLimits, ServerConfig};
use serde_json::{Value, json};

const START: i64 = 1_800_000_000;
const DAY: i64 = 86_400;

/// A server on `backend` with open registration, these limits, and a clock the test moves.
fn server(
    backend: Backend,
    limits: RegistrationLimits,
    adjust: impl FnOnce(&mut ServerConfig),
) -> (TestServer, Arc<AtomicI64>) {
    let (now, clock) = manual(START);
    let t = TestServer::with_on(backend, move |c| {
        c.registration = limits;
        c.clock = clock;
        c.limits.requests_per_minute = 1_000_000;
        adjust(c);
    });
    (t, now)
}

/// One answer of [`Client::send`].
#[derive(Debug)]
struct Answer {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
}

impl Answer {
    fn ok(self, status: u16) -> Value {
        assert_eq!(self.status, status, "{self:?}");
        self.body
    }

    /// A `429 too_many_requests` for `reason`: its `Retry-After` (header and body agree).
    fn refused(self, reason: &str) -> u64 {
        assert_eq!(self.status, 429, "{self:?}");
        assert_eq!(self.body["error"]["code"], "too_many_requests", "{self:?}");
        assert_eq!(self.body["error"]["reason"], reason, "{self:?}");
        let after = self.retry_after.expect("Retry-After");
        assert_eq!(self.body["error"]["retry_after_s"], after, "{self:?}");
        after
    }
}

/// A device on one loopback address, optionally behind a proxy that says `forwarded_for`.
struct Client {
    server: SocketAddr,
    from: Ipv4Addr,
    forwarded_for: Option<String>,
}

impl Client {
    fn at(t: &TestServer, from: [u8; 4]) -> Client {
        Client {
            server: t.server.addr(),
            from: Ipv4Addr::from(from),
            forwarded_for: None,
        }
    }

    /// From 127.0.0.1, the trusted proxy, forwarding for `client`.
    fn via_proxy(t: &TestServer, client: &str) -> Client {
        Client {
            forwarded_for: Some(client.to_owned()),
            ..Client::at(t, [127, 0, 0, 1])
        }
    }

    /// One request on a fresh connection from this client's address.
    fn send(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> Answer {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let stream = runtime
            .block_on(async {
                let socket = tokio::net::TcpSocket::new_v4()?;
                socket.bind(SocketAddr::V4(SocketAddrV4::new(self.from, 0)))?;
                socket.connect(self.server).await
            })
            .unwrap();
        let mut stream = stream.into_std().unwrap();
        stream.set_nonblocking(false).unwrap();
        let body = body
            .map(|b| serde_json::to_vec(b).unwrap())
            .unwrap_or_default();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: {}\r\n\
             Content-Type: application/json\r\n",
            body.len()
        );
        for (name, value) in [
            ("Authorization", token.map(|t| format!("Bearer {t}"))),
            ("X-Forwarded-For", self.forwarded_for.clone()),
        ] {
            if let Some(value) = value {
                head.push_str(name);
                head.push_str(": ");
                head.push_str(&value);
                head.push_str("\r\n");
            }
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes()).unwrap();
        stream.write_all(&body).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        let retry_after = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("retry-after")
                .then(|| value.trim().parse().unwrap())
        });
        Answer {
            status,
            retry_after,
            body: serde_json::from_str(body).unwrap_or(Value::Null),
        }
    }

    fn register(&self) -> Answer {
        self.send("POST", "/v1/clients", None, Some(&json!({})))
    }

    fn token(&self) -> String {
        self.register().ok(201)["token"]
            .as_str()
            .unwrap()
            .to_owned()
    }
}

on_each_backend! {
    /// The measurement: 300 registrations from one address in a burst got 300 tokens.
    /// Now they get the bucket's three, every refusal says when to come back, and a device on
    /// another address registers after every 30 of them; then the global bucket, and a refill.
    fn one_address_gets_its_bucket_while_others_keep_registering(backend) {
        let limits = RegistrationLimits {
            per_ip_burst: 3,
            per_ip_per_hour: 60,
            global_per_minute: 20,
            ..RegistrationLimits::default()
        };
        let (t, now) = server(backend, limits, |_| {});
        let attacker = Client::at(&t, [127, 0, 0, 1]);
        let mut granted = 0;
        let mut legitimate = Vec::new();
        for i in 0..300u32 {
            let answer = attacker.register();
            if answer.status == 201 {
                granted += 1;
            } else {
                // The bucket refills one registration a minute.
                assert_eq!(answer.refused("rate"), 60);
            }
            if i % 30 == 29 {
                let device = Client::at(&t, [127, 0, 1, u8::try_from(i / 30).unwrap()]);
                let token = device.token();
                device.send("GET", "/v1/config", Some(&token), None).ok(200);
                legitimate.push(token);
            }
        }
        assert_eq!(granted, 3, "the burst, not 300");
        assert_eq!(legitimate.len(), 10);
        assert_eq!(
            count(&open_db(&t.db), "SELECT count(*) FROM clients"),
            13,
            "refused registrations leave nothing behind"
        );

        // 13 of the global 20 are spent: 7 more addresses register, the next waits 3 s (a
        // minute's 20 registrations refill one per 3 s).
        for n in 1..=7 {
            Client::at(&t, [127, 0, 2, n]).register().ok(201);
        }
        assert_eq!(Client::at(&t, [127, 0, 2, 8]).register().refused("rate"), 3);

        // A minute later the attacker's bucket holds one registration again, and only one.
        now.fetch_add(60, Ordering::SeqCst);
        attacker.register().ok(201);
        assert_eq!(attacker.register().refused("rate"), 60);
        Client::at(&t, [127, 0, 2, 8]).register().ok(201);
    }
}

on_each_backend! {
    /// `X-Forwarded-For` counts only from a trusted proxy, from the right (what a client writes
    /// left of the proxy's entry changes nothing), and IPv6 addresses count per /64.
    fn a_trusted_proxy_names_the_client_and_nobody_else_does(backend) {
        let limits = RegistrationLimits {
            per_ip_burst: 1,
            ..RegistrationLimits::default()
        };
        let (t, _) = server(backend, limits, |c| {
            c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        });
        Client::via_proxy(&t, "203.0.113.1").register().ok(201);
        Client::via_proxy(&t, "203.0.113.1").register().refused("rate");
        // A forged entry left of the proxy's is not the client's address.
        Client::via_proxy(&t, "198.51.100.9, 203.0.113.1").register().refused("rate");
        Client::via_proxy(&t, "203.0.113.1, 203.0.113.2").register().ok(201);
        // One /64 is one subscriber; the next /64 is another.
        Client::via_proxy(&t, "2001:db8:1:2::1").register().ok(201);
        Client::via_proxy(&t, "2001:db8:1:2:ffff::7").register().refused("rate");
        Client::via_proxy(&t, "2001:db8:1:3::1").register().ok(201);

        // A peer that is not a trusted proxy: its header is ignored, its own address counts.
        let mut untrusted = Client::at(&t, [127, 0, 0, 2]);
        untrusted.forwarded_for = Some("192.0.2.1".into());
        untrusted.register().ok(201);
        untrusted.forwarded_for = Some("192.0.2.2".into());
        untrusted.register().refused("rate");
    }
}

on_each_backend! {
    /// Registering more devices buys no more identifiers: the open devices sending from one
    /// address share its day's budget, `remaining_today` says what is left of it, and a batch
    /// over it is refused whole as the daily quota is (until the next UTC day). Vouched devices
    /// are not counted.
    fn open_devices_share_their_addresses_budget_of_new_identifiers(backend) {
        let limits = RegistrationLimits {
            identifiers_per_ip_per_day: 50,
            ..RegistrationLimits::unlimited()
        };
        let (t, now) = server(backend, limits, |c| {
            c.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
        });
        let here = Client::via_proxy(&t, "198.51.100.1");
        let elsewhere = Client::via_proxy(&t, "198.51.100.2");
        let (a, b) = (here.token(), here.token());
        let (_, vouched) = t.api.vouch("u_1");
        let key = t.api.key(&a);
        let remaining = |client: &Client, token: &str| {
            client.send("GET", "/v1/config", Some(token), None).ok(200)["limits"]["remaining_today"]
                .as_u64()
                .unwrap()
        };
        let batch = |client: &Client, token: &str, id: &str, tag: u8, n: u64| {
            client.send("POST", "/v1/batches", Some(token), Some(&delta(id, &key, &fakes(tag, 0..n), &[])))
        };
        assert_eq!(remaining(&here, &a), 50);
        assert_eq!(batch(&here, &a, "a1", 1, 30).ok(200)["remaining_today"], 20);
        // B is a new device with its own quota of 100,000, but its address has 20 left.
        assert_eq!(remaining(&here, &b), 20);
        let tomorrow = u64::try_from(DAY - START.rem_euclid(DAY)).unwrap();
        assert_eq!(batch(&here, &b, "b1", 2, 30).refused("daily_quota"), tomorrow);
        assert_eq!(count(&open_db(&t.db), "SELECT count(*) FROM client_hashes"), 30, "refused whole");
        assert_eq!(batch(&here, &b, "b2", 2, 20).ok(200)["remaining_today"], 0);
        // Re-adding what the set holds is free, here as for the device's own quota.
        batch(&here, &b, "b3", 2, 20).ok(200);
        // Another address has its own budget; a vouched device is not counted.
        assert_eq!(batch(&elsewhere, &b, "b4", 3, 30).ok(200)["remaining_today"], 20);
        batch(&here, &vouched, "v1", 4, 100).ok(200);
        // The next UTC day, the address's budget is whole again.
        now.fetch_add(DAY, Ordering::SeqCst);
        assert_eq!(batch(&here, &a, "a2", 5, 50).ok(200)["remaining_today"], 0);
    }
}

on_each_backend! {
    /// The sweep deletes open devices that never uploaded once they are older than the TTL;
    /// a device that uploaded, a vouched one, and a younger one stay.
    fn open_devices_that_never_sync_expire(backend) {
        let limits = RegistrationLimits {
            unsynced_client_ttl: Duration::from_secs(3600),
            ..RegistrationLimits::unlimited()
        };
        let (t, now) = server(backend, limits, |c| c.sweep_every = Duration::from_millis(20));
        let device = Client::at(&t, [127, 0, 0, 1]);
        let idle = device.register().ok(201);
        let idle_token = idle["token"].as_str().unwrap();
        // Reading its config is not an upload (and leaves a request counter on PostgreSQL).
        device.send("GET", "/v1/config", Some(idle_token), None).ok(200);
        let synced = device.token();
        let (vouched_id, _) = t.api.vouch("u_1");
        let key = t.api.key(&synced);
        device
            .send("POST", "/v1/batches", Some(&synced), Some(&delta("s1", &key, &fakes(1, 0..1), &[])))
            .ok(200);
        now.store(START + 1800, Ordering::SeqCst);
        let young = device.register().ok(201);
        let conn = open_db(&t.db);
        let exists = |id: &Value| {
            count(&conn, &format!("SELECT count(*) FROM clients WHERE client_id = '{}'", id.as_str().unwrap())) == 1
        };
        // Sweeps run every 20 ms: none deletes anything before its time.
        std::thread::sleep(Duration::from_millis(100));
        assert!(exists(&idle["client_id"]));

        now.store(START + 3601, Ordering::SeqCst);
        let deadline = Instant::now() + Duration::from_secs(20);
        while exists(&idle["client_id"]) {
            assert!(Instant::now() < deadline, "the idle device was not swept");
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(device.send("GET", "/v1/config", Some(idle_token), None).status, 401);
        if backend == Backend::Postgres {
            let idle_id = idle["client_id"].as_str().unwrap();
            let counters = format!("SELECT count(*) FROM request_counts WHERE client_id = '{idle_id}'");
            assert_eq!(count(&conn, &counters), 0, "its request counter went with it");
        }
        assert_eq!(count(&conn, "SELECT count(*) FROM clients"), 3);
        assert!(exists(&young["client_id"]));
        assert!(exists(&json!(vouched_id)));
    }
}

on_each_backend! {
    /// The same under load: 300 registrations from one address sent by six threads at once,
    /// while four other addresses register devices alongside. The flood gets the burst and
    /// nothing more, never a 5xx, and every legitimate registration goes through.
    fn a_concurrent_flood_gets_the_burst_and_nobody_else_waits(backend) {
        let limits = RegistrationLimits {
            per_ip_burst: 5,
            per_ip_per_hour: 1,
            global_per_minute: 60,
            ..RegistrationLimits::default()
        };
        let (t, _now) = server(backend, limits, |_| {});
        let t = Arc::new(t);
        let flood: Vec<_> = (0..6)
            .map(|_| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    let attacker = Client::at(&t, [127, 0, 0, 1]);
                    (0..50)
                        .map(|_| attacker.register().status)
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        let devices: Vec<_> = (0..4u8)
            .map(|n| {
                let t = Arc::clone(&t);
                std::thread::spawn(move || {
                    (0..5u8)
                        .map(|k| Client::at(&t, [127, 0, 3, n * 8 + k]).register().status)
                        .collect::<Vec<u16>>()
                })
            })
            .collect();
        let flood: Vec<u16> = flood.into_iter().flat_map(|h| h.join().unwrap()).collect();
        let devices: Vec<u16> = devices.into_iter().flat_map(|h| h.join().unwrap()).collect();
        assert_eq!(flood.len(), 300);
        assert_eq!(flood.iter().filter(|s| **s == 201).count(), 5, "the burst: {flood:?}");
        assert!(flood.iter().all(|s| matches!(s, 201 | 429)), "{flood:?}");
        assert_eq!(devices, vec![201; 20], "every legitimate device registered");
        assert_eq!(count(&open_db(&t.db), "SELECT count(*) FROM clients"), 25);
    }
}
