//! The admin credential: the app backend's bearer token for `/v1/admin/...`.
//!
//! It is either *configured* (`ServerConfig::admin_token`, which `contactsync serve` reads from
//! `--admin-token-file` or `$CONTACTSYNC_ADMIN_TOKEN`), or *stored*: the SHA-256 of a token in
//! the database, made by `contactsync admin token rotate` or `POST /v1/admin/token`. A stored
//! one is the same for every instance and across restarts, and a rotation revokes the old token
//! everywhere: the admin API reads the table on every call (admin calls are rare and write
//! anyway, so one indexed read is noise), while `GET /v1/config`, which devices call all the
//! time, only asks a copy at most [`CACHE_FOR`] old whether a token is the admin's (a revoked
//! admin token reads the config a few seconds longer; it is no secret from any device).
//!
//! `POST /v1/admin/token` rotates a stored one from the admin API.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::post;
use serde::Serialize;

use super::auth::Admin;
use super::{Route, Service};
use crate::error::{ApiError, ServerError};
use crate::http::extract::{Accepts, Body, encoded, transact};
use crate::storage::{Scope, Storage, retry_conflicts};
use crate::util::{random_id, same_digest, sha256};

/// How long `GET /v1/config` trusts its copy of the stored admin tokens.
const CACHE_FOR: Duration = Duration::from_secs(5);

pub(super) fn routes() -> Vec<Route> {
    vec![("/v1/admin/token", post(rotate_admin_token))]
}

/// `POST /v1/admin/token`'s answer: the new admin token, shown once.
#[derive(Serialize)]
struct AdminTokenAnswer {
    admin_token: String,
}

/// A new admin token; the one that authenticated this call stops working (on every instance).
async fn rotate_admin_token(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    _: Admin<Body>,
) -> Result<Response, ApiError> {
    let admin_token = transact(service, |service, _| service.rotate_admin_token()).await?;
    encoded(accepts, StatusCode::OK, &AdminTokenAnswer { admin_token })
}

impl Service {
    /// A new stored admin token, the old one revoked (`POST /v1/admin/token`).
    fn rotate_admin_token(&self) -> Result<String, ApiError> {
        self.admin.rotate(self.storage.as_ref(), self.now())
    }
}

/// Where the admin token is checked.
pub(crate) enum AdminCredential {
    /// A token given in the configuration: the only one, the database's table is not read.
    Configured([u8; 32]),
    /// The tokens stored in the database, and a short-lived copy of them.
    Stored(Mutex<Option<(Instant, Vec<[u8; 32]>)>>),
}

impl AdminCredential {
    pub(crate) fn new(configured: Option<&str>) -> Self {
        match configured {
            Some(token) => AdminCredential::Configured(sha256(token.as_bytes())),
            None => AdminCredential::Stored(Mutex::new(None)),
        }
    }

    /// Whether `token` is the admin's, read from the storage now (the admin API).
    pub(crate) fn check(&self, storage: &dyn Storage, token: &str) -> Result<bool, ServerError> {
        let digest = sha256(token.as_bytes());
        match self {
            AdminCredential::Configured(admin) => Ok(same_digest(&digest, admin)),
            AdminCredential::Stored(cache) => {
                let stored = storage.read()?.admin_tokens()?;
                let found = stored.iter().any(|s| same_digest(&digest, s));
                *cache.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((Instant::now(), stored));
                Ok(found)
            }
        }
    }

    /// Whether `token` is the admin's, from a copy at most [`CACHE_FOR`] old (`GET /v1/config`).
    pub(crate) fn check_cached(
        &self,
        storage: &dyn Storage,
        token: &str,
    ) -> Result<bool, ServerError> {
        let AdminCredential::Stored(cache) = self else {
            return self.check(storage, token);
        };
        let digest = sha256(token.as_bytes());
        {
            let copy = cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((read_at, stored)) = copy.as_ref()
                && read_at.elapsed() < CACHE_FOR
            {
                return Ok(stored.iter().any(|s| same_digest(&digest, s)));
            }
        }
        self.check(storage, token)
    }

    /// A new stored admin token, revoking the old one (`POST /v1/admin/token`). A configured
    /// token cannot be replaced from here: the configuration would bring it back.
    pub(crate) fn rotate(&self, storage: &dyn Storage, now: i64) -> Result<String, ApiError> {
        let AdminCredential::Stored(cache) = self else {
            return Err(ApiError::Forbidden(
                "the admin token is set by the server's configuration: change it there",
            ));
        };
        let token = rotate_stored(storage, now)?;
        *cache.lock().unwrap_or_else(PoisonError::into_inner) = None;
        Ok(token)
    }
}

/// Makes a new admin token the only stored one and returns it (shown once: only its SHA-256 is
/// kept). For `contactsync admin token rotate` on the server's own database, and the API.
pub fn rotate_stored(storage: &dyn Storage, now: i64) -> Result<String, ServerError> {
    let token = random_id::<32>("a_")?;
    let digest = sha256(token.as_bytes());
    retry_conflicts(|| {
        let mut tx = storage.write_in(Scope::Directory)?;
        let revoked = tx.replace_admin_token(&digest, now)?;
        tx.commit()?;
        tracing::info!(revoked, "a new admin token replaced the stored one");
        Ok::<(), ServerError>(())
    })?;
    Ok(token)
}

/// Whether the database holds an admin token (at start: without one, the server says how to
/// make one).
pub fn has_stored(storage: &dyn Storage) -> Result<bool, ServerError> {
    Ok(!storage.read()?.admin_tokens()?.is_empty())
}
