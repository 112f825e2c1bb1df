//! A world for end-to-end tests: a real reference server on loopback with its `SQLite` file in a
//! temporary directory, devices registered on it, and engines with their own databases beside it.

use std::net::SocketAddr;
use std::path::PathBuf;

use contactsync_core::IdentifierKind::{Account, Email, Handle, Phone};
use contactsync_core::protocol::wire::{ConfigAnswer, Registered, UserAnswer};
use contactsync_core::upload::{Method, call, get};
use contactsync_core::{Config, Engine, Error, Normalizer, RawContact, Region};
use contactsync_server::{
    LimitsConfig, PrivateDiscoveryConfig, RegistrationLimits, RunningServer, ServerConfig,
};
use tempfile::TempDir;

use crate::net::{Loopback, put_user, register_first_identifiers, register_open};
use crate::person;
use crate::synthetic::{Book, DEFAULT_REGION};

/// The admin token of the test servers.
pub const ADMIN: &str = "admin-token-for-tests-0123456789";

/// A server with its own directory.
#[derive(Debug)]
pub struct World {
    /// The directory of the server's and the engines' databases.
    pub dir: TempDir,
    /// The running server.
    pub server: RunningServer,
    limits: LimitsConfig,
    registration: RegistrationLimits,
    private: PrivateDiscoveryConfig,
    batch_buckets: Option<Vec<u32>>,
}

impl World {
    /// A server with these limits.
    ///
    /// # Panics
    /// When the directory or the server cannot be made (a test failure).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn new(limits: LimitsConfig) -> World {
        World::with_registration(limits, RegistrationLimits::unlimited())
    }

    /// A server with these limits, and these limits of open registration (every device comes
    /// from 127.0.0.1, so one address's budget is every device's).
    ///
    /// # Panics
    /// When the directory or the server cannot be made (a test failure).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn with_registration(limits: LimitsConfig, registration: RegistrationLimits) -> World {
        let dir = tempfile::tempdir().unwrap();
        let private = PrivateDiscoveryConfig::default();
        let server = start(&dir, limits, registration, &private, None);
        World {
            dir,
            server,
            limits,
            registration,
            private,
            batch_buckets: None,
        }
    }

    /// A server with private discovery on (its filter rebuilt at most once a second, so a test
    /// sees users who joined and left within a second), the default limits otherwise.
    pub fn private() -> World {
        let mut world = World::default();
        world.set_private(true);
        world
    }

    /// A server that a measured sync of a large book never holds back: ten million new
    /// identifiers a day and in a set, a million requests a minute.
    pub fn roomy() -> World {
        World::new(LimitsConfig {
            daily_new_identifiers: 10_000_000,
            max_set_size: 10_000_000,
            requests_per_minute: 1_000_000,
            ..LimitsConfig::default()
        })
    }

    /// Restarts the server on the same database with private discovery on or off (the filter
    /// rebuilt at most once a second).
    pub fn set_private(&mut self, on: bool) {
        self.private = PrivateDiscoveryConfig {
            enabled: on,
            filter_rebuild: std::time::Duration::from_secs(1),
            ..PrivateDiscoveryConfig::default()
        };
        self.restart();
    }

    /// Restarts the server on the same database with its users' filter in `2^bits` shards
    /// (private discovery on, the filter rebuilt at most once a second).
    pub fn set_shard_bits(&mut self, bits: u8) {
        self.private = PrivateDiscoveryConfig {
            enabled: true,
            filter_rebuild: std::time::Duration::from_secs(1),
            shard_bits: bits,
            ..PrivateDiscoveryConfig::default()
        };
        self.restart();
    }

    /// Restarts the server on the same database with these batch buckets (`None`: the server's
    /// defaults; empty: none advertised, as an older server).
    pub fn set_batch_buckets(&mut self, buckets: Option<Vec<u32>>) {
        self.batch_buckets = buckets;
        self.restart();
    }

    /// Stops the server and starts a new one on the same database (on another port: transports
    /// made before point at the old one).
    pub fn restart(&mut self) {
        let fresh = start(
            &self.dir,
            self.limits,
            self.registration,
            &self.private,
            self.batch_buckets.clone(),
        );
        std::mem::replace(&mut self.server, fresh).stop();
    }

    /// The app backend's transport.
    pub fn admin(&self) -> Loopback {
        Loopback::new(&self.server.url(), Some(ADMIN))
    }

    /// A transport for a device's token, to the server running now.
    pub fn transport(&self, token: &str) -> Loopback {
        Loopback::new(&self.server.url(), Some(token))
    }

    /// Waits until the server's users' filter has moved past version `past` (it rebuilds at
    /// most once a second in these worlds), so a sync sees the users who changed; the version.
    ///
    /// # Panics
    /// When private discovery is off, or the filter does not move within ten seconds.
    #[allow(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        reason = "test helper"
    )]
    pub fn wait_for_filter(&self, token: &str, past: u64) -> u64 {
        for _ in 0..100 {
            let config: ConfigAnswer =
                get(&self.transport(token), Method::Get, "/v1/config").unwrap();
            let version = config
                .private
                .expect("private discovery is on")
                .filter_version;
            if version > past {
                return version;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the filter did not move past version {past}");
    }

    /// A device: open registration, or vouched for a user.
    ///
    /// # Panics
    /// When the server refuses (a test failure).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn device(&self, user_ref: Option<&str>) -> (Loopback, Registered) {
        let registered: Registered = match user_ref {
            None => register_open(&self.server.url()).unwrap(),
            Some(user) => call(
                &self.admin(),
                Method::Post,
                "/v1/admin/clients",
                Some(&serde_json::json!({ "user_ref": user })),
            )
            .unwrap(),
        };
        (self.transport(&registered.token), registered)
    }

    /// Registers (or replaces) a discoverable user with canonical identifiers.
    ///
    /// # Panics
    /// When the server refuses (a test failure).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn put_user(&self, user_ref: &str, ids: &[(&str, &str)]) {
        put_user(&self.admin(), user_ref, true, ids).unwrap();
    }

    /// Registers the users of [`book`] under the canonical forms the app's backend knows: Ana
    /// by phone, Clara by e-mail, Dario by linked account, Eva by handle.
    pub fn register_users(&self) {
        self.put_user("u_ana", &[("phone", "+4915123456789")]);
        self.put_user("u_clara", &[("email", "clara@example.com")]);
        self.put_user("u_dario", &[("account", "google:1078543")]);
        self.put_user("u_eva", &[("handle", "eva_k")]);
    }

    /// Registers the first valid identifier (in [`DEFAULT_REGION`]) of every `every`-th contact
    /// of `book` as the user `u_<index>`; how many users that made.
    ///
    /// # Panics
    /// When the server refuses (a test failure).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn register_every(&self, book: &Book, every: usize) -> usize {
        let normalizer = Normalizer::new(Region::new(DEFAULT_REGION).unwrap());
        let chosen = (0..book.size).step_by(every).map(|i| (i, book.contact(i)));
        register_first_identifiers(&self.admin(), chosen, &normalizer).unwrap()
    }

    /// Deletes a user.
    ///
    /// # Panics
    /// When the server refuses (a test failure).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn delete_user(&self, user_ref: &str) {
        let _: UserAnswer = contactsync_core::upload::get(
            &self.admin(),
            Method::Delete,
            &format!("/v1/admin/users/{user_ref}"),
        )
        .unwrap();
    }

    /// The server's database file.
    pub fn server_db(&self) -> PathBuf {
        self.dir.path().join("server.db")
    }

    /// Opens (or reopens) a device's engine, region DE.
    ///
    /// # Panics
    /// When the database cannot be opened (a test failure).
    #[allow(clippy::unwrap_used, reason = "test helper")]
    pub fn engine(&self, name: &str) -> Engine {
        self.try_engine(name).unwrap()
    }

    /// [`World::engine`], with the error.
    pub fn try_engine(&self, name: &str) -> Result<Engine, Error> {
        Engine::open(
            self.dir.path().join(format!("{name}.db")),
            Config::with_region(
                Region::new("DE").map_err(|e| Error::InvalidArgument(e.to_string()))?,
            ),
        )
    }
}

impl Default for World {
    /// A server with the protocol's default limits.
    fn default() -> World {
        World::new(LimitsConfig::default())
    }
}

/// The address book of the end-to-end tests (region DE): Ana, Clara, Dario and Eva use the app
/// ([`World::register_users`]), each by another kind of identifier and Clara in another case
/// than registered; Bernd and Gül share a number in two spellings; Frank is no user (until a
/// test makes him one); Hiro's number is not one.
pub fn book() -> Vec<RawContact> {
    vec![
        person(
            "1",
            "Ana",
            &[(Phone, "0151 23456789"), (Email, "ana@example.org")],
        ),
        person("2", "Bernd", &[(Phone, "+49 30 1234567")]),
        person("3", "Clara", &[(Email, "Clara@Example.COM")]),
        person("4", "Dario", &[(Account, "google:1078543")]),
        person("5", "Eva", &[(Handle, "@eva_k")]),
        person(
            "6",
            "Frank",
            &[(Phone, "0171 9876543"), (Email, "frank@nowhere.test")],
        ),
        person("7", "Gül", &[(Phone, "030 1234567")]),
        person("8", "Hiro", &[(Phone, "not a number")]),
    ]
}

#[allow(clippy::unwrap_used, reason = "test helper")]
fn start(
    dir: &TempDir,
    limits: LimitsConfig,
    registration: RegistrationLimits,
    private: &PrivateDiscoveryConfig,
    batch_buckets: Option<Vec<u32>>,
) -> RunningServer {
    let listen: SocketAddr = SocketAddr::from(([127, 0, 0, 1], 0));
    let mut config = ServerConfig::new(dir.path().join("server.db"), listen, ADMIN);
    config.limits = limits;
    // Devices register themselves, all from loopback.
    config.open_registration = true;
    config.registration = registration;
    config.private = private.clone();
    config.batch_buckets = batch_buckets;
    contactsync_server::start(config).unwrap()
}
