//! The admin API's users: register or replace one (`PUT`) or many in one transaction (`POST`),
//! look one up (`GET`: kinds and counts per key, never a value or a hash), list them a page at a
//! time (references and discoverable flags only), delete one.
//!
//! A user's identifiers arrive in canonical form and are hashed on receipt under the current key
//! and, during a rotation, the next one; only the hashes (with the kind of identifier each is)
//! are stored. Every change of who a hash belongs to is a change in the feed. Under a key with
//! an OPRF half (private discovery), the user's PRF values are written in the same transaction
//! (`private::directory`).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::Arc;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{post, put};

use contactsync_core::protocol::wire::{
    UserAnswer, UserEntry, UserIdentifier, UserInfo, UserKeyInfo, UserListAnswer, UserListEntry,
    UserRequest, UsersAnswer, UsersRequest,
};
use contactsync_core::{Digest, Identifier, IdentifierKind, Region};

use super::auth::Admin;
use super::private::directory;
use super::{
    Payload, Route, Service, check_user_ref, current_hashes, hash_key, keys, lookup, parse_body,
    record_changes,
};
use crate::error::ApiError;
use crate::http::extract::{Accepts, Body, PathParam, WithPath, encoded, transact};
use crate::storage::{KeyRecord, KeyState, Scope, Transaction};

/// Users per page of `GET /v1/admin/users` when the request names no `limit`, and at most.
const DEFAULT_LIST_LIMIT: u32 = 100;
const MAX_LIST_LIMIT: u32 = 1000;

/// `after` (a user reference, empty for the first page) and `limit` of a user list.
fn parse_list_query(query: &str) -> Result<(String, u32), ApiError> {
    let mut after = None;
    let mut limit = None;
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        let taken = match name.as_ref() {
            "after" => {
                check_user_ref(&value)?;
                after.replace(value.into_owned()).is_some()
            }
            "limit" => limit
                .replace(
                    super::parse_number(&value)
                        .filter(|&n| n > 0)
                        .ok_or_else(|| ApiError::malformed("limit must be a positive number"))?,
                )
                .is_some(),
            _ => return Err(ApiError::malformed("unknown query parameter")),
        };
        if taken {
            return Err(ApiError::malformed("a query parameter is given twice"));
        }
    }
    let limit = limit.map_or(DEFAULT_LIST_LIMIT, |n| {
        u32::try_from(n).unwrap_or(u32::MAX).min(MAX_LIST_LIMIT)
    });
    Ok((after.unwrap_or_default(), limit))
}

/// A user's identifiers, checked: kind and canonical value, each once.
type Identifiers<'a> = BTreeSet<(IdentifierKind, &'a str)>;

pub(super) fn routes() -> Vec<Route> {
    vec![
        ("/v1/admin/users", post(put_users).get(list_users)),
        (
            "/v1/admin/users/{user_ref}",
            put(put_user).get(get_user).delete(delete_user),
        ),
    ]
}

async fn put_user(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Admin {
        body: WithPath(user_ref, body),
    }: Admin<WithPath<Body>>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.put_user(&user_ref, body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn put_users(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Admin { body }: Admin<Body>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.put_users(body.payload(), now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn list_users(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    RawQuery(query): RawQuery,
    _: Admin,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, _| {
        service.list_users(query.as_deref())
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

/// No body is read: the path is checked, then the token.
async fn get_user(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    PathParam(user_ref): PathParam,
    _: Admin,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, _| service.get_user(&user_ref)).await?;
    encoded(accepts, StatusCode::OK, &answer)
}

async fn delete_user(
    State(service): State<Arc<Service>>,
    accepts: Accepts,
    Admin {
        body: WithPath(user_ref, _),
    }: Admin<WithPath<Body>>,
) -> Result<Response, ApiError> {
    let answer = transact(service, move |service, now| {
        service.delete_user(&user_ref, now)
    })
    .await?;
    encoded(accepts, StatusCode::OK, &answer)
}

impl Service {
    /// `PUT /v1/admin/users/{user_ref}`.
    fn put_user(
        &self,
        user_ref: &str,
        body: Payload<'_>,
        now: i64,
    ) -> Result<UserAnswer, ApiError> {
        check_user_ref(user_ref)?;
        let request: UserRequest = parse_body(body)?;
        if request.identifiers.len() > self.limits.max_batch as usize {
            return Err(self.too_large());
        }
        let identifiers = checked_identifiers(&request.identifiers, "identifiers")?;
        let mut tx = self.storage.write_in(Scope::Directory)?;
        let (current, next) = keys(&mut *tx)?;
        replace_user(
            &mut *tx,
            (&current, next.as_ref()),
            user_ref,
            request.discoverable,
            &identifiers,
            now,
        )?;
        tx.commit()?;
        Ok(UserAnswer {
            user_ref: user_ref.to_owned(),
            identifiers: u32::try_from(identifiers.len()).unwrap_or(u32::MAX),
        })
    }

    /// `POST /v1/admin/users`: many users registered or replaced, all or none. The re-registration
    /// of a key rotation is this call, over the backend's whole user list. At most `max_batch`
    /// users and `max_batch` identifiers in all per request.
    fn put_users(&self, body: Payload<'_>, now: i64) -> Result<UsersAnswer, ApiError> {
        let request: UsersRequest = parse_body(body)?;
        let total: usize = request.users.iter().map(|u| u.identifiers.len()).sum();
        let max = self.limits.max_batch as usize;
        if request.users.len() > max || total > max {
            return Err(self.too_large());
        }
        let mut seen = HashSet::new();
        let mut users: Vec<(&UserEntry, Identifiers<'_>)> = Vec::with_capacity(request.users.len());
        for (i, user) in request.users.iter().enumerate() {
            check_user_ref(&user.user_ref)
                .map_err(|_| ApiError::malformed(format!("users[{i}]: not a valid user_ref")))?;
            if !seen.insert(user.user_ref.as_str()) {
                return Err(ApiError::malformed(format!(
                    "users[{i}]: the user_ref appears twice"
                )));
            }
            let identifiers =
                checked_identifiers(&user.identifiers, &format!("users[{i}].identifiers"))?;
            users.push((user, identifiers));
        }
        let mut tx = self.storage.write_in(Scope::Directory)?;
        let (current, next) = keys(&mut *tx)?;
        let mut count = 0;
        for (user, identifiers) in &users {
            replace_user(
                &mut *tx,
                (&current, next.as_ref()),
                &user.user_ref,
                user.discoverable,
                identifiers,
                now,
            )?;
            count += identifiers.len();
        }
        tx.commit()?;
        Ok(UsersAnswer {
            users: u32::try_from(users.len()).unwrap_or(u32::MAX),
            identifiers: u32::try_from(count).unwrap_or(u32::MAX),
        })
    }

    /// `GET /v1/admin/users/{user_ref}`: whether the user is discoverable, and per key how many
    /// identifiers of which kinds (never a value or a hash). `404` for an unknown user.
    /// `GET /v1/admin/users?after=REF&limit=N`: a page of users, references and discoverable
    /// flags only.
    fn list_users(&self, query: Option<&str>) -> Result<UserListAnswer, ApiError> {
        let (after, limit) = parse_list_query(query.unwrap_or(""))?;
        let mut tx = self.storage.read()?;
        let mut rows = tx.users_after(&after, limit.saturating_add(1))?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = more
            .then(|| rows.last().map(|(user_ref, _)| user_ref.clone()))
            .flatten();
        Ok(UserListAnswer {
            users: rows
                .into_iter()
                .map(|(user_ref, discoverable)| UserListEntry {
                    user_ref,
                    discoverable,
                })
                .collect(),
            next,
        })
    }

    fn get_user(&self, user_ref: &str) -> Result<UserInfo, ApiError> {
        check_user_ref(user_ref)?;
        let mut tx = self.storage.read()?;
        let user = tx
            .user(user_ref)?
            .ok_or(ApiError::NotFound("no such user"))?;
        let (current, next) = keys(&mut *tx)?;
        let counts = tx.user_hash_counts(user_ref)?;
        let keys = std::iter::once(&current)
            .chain(next.as_ref())
            .map(|key| {
                let mut kinds = BTreeMap::new();
                for (_, kind, n) in counts.iter().filter(|(k, _, _)| *k == key.key_id) {
                    *kinds
                        .entry(kind.map_or("unknown", IdentifierKind::as_str).to_owned())
                        .or_insert(0) += n;
                }
                UserKeyInfo {
                    key_id: key.key_id.clone(),
                    state: key.state.as_str().to_owned(),
                    identifiers: kinds.values().sum(),
                    kinds,
                }
            })
            .collect();
        Ok(UserInfo {
            user_ref: user_ref.to_owned(),
            discoverable: user.discoverable,
            updated_at: user.updated_at,
            keys,
        })
    }

    /// `DELETE /v1/admin/users/{user_ref}`. An unknown user answers 200 with 0 identifiers: a
    /// backend retrying a deletion must not see an error.
    fn delete_user(&self, user_ref: &str, now: i64) -> Result<UserAnswer, ApiError> {
        check_user_ref(user_ref)?;
        let mut tx = self.storage.write_in(Scope::Directory)?;
        let (current, next) = keys(&mut *tx)?;
        let old: Vec<Digest> = current_hashes(&mut *tx, user_ref, &current)?
            .into_iter()
            .collect();
        // A user who left is no longer found through their open invites either: they close.
        let mut affected: BTreeSet<Digest> = old.iter().copied().collect();
        affected.extend(tx.open_invite_hashes_of(user_ref, &current.key_id, now)?);
        let affected: Vec<Digest> = affected.into_iter().collect();
        let before = lookup(&mut *tx, &current.key_id, &affected, now)?;
        let every: Vec<&KeyRecord> = std::iter::once(&current).chain(next.as_ref()).collect();
        let private = directory::plan_user(&mut *tx, &every, user_ref, &[])?;
        tx.delete_user(user_ref)?;
        tx.delete_invites_of(user_ref)?;
        let after = lookup(&mut *tx, &current.key_id, &affected, now)?;
        record_changes(&mut *tx, &current.key_id, &affected, &before, &after, now)?;
        directory::apply_user(&mut *tx, user_ref, &private, false, now)?;
        tx.commit()?;
        Ok(UserAnswer {
            user_ref: user_ref.to_owned(),
            identifiers: u32::try_from(old.len()).unwrap_or(u32::MAX),
        })
    }
}

/// Each identifier's kind known and its value canonical (docs/identifiers.md); `field` names the
/// list in errors, which never quote a value.
fn checked_identifiers<'a>(
    given: &'a [UserIdentifier],
    field: &str,
) -> Result<Identifiers<'a>, ApiError> {
    let mut identifiers = BTreeSet::new();
    for (i, given) in given.iter().enumerate() {
        let kind = IdentifierKind::ALL
            .into_iter()
            .find(|k| k.as_str() == given.kind)
            .ok_or_else(|| ApiError::malformed(format!("{field}[{i}]: unknown kind")))?;
        let parsed = Identifier::parse(kind, &given.value, Region::default())
            .map_err(|e| ApiError::malformed(format!("{field}[{i}]: not valid ({})", e.code())))?;
        if parsed.canonical() != given.value {
            return Err(ApiError::malformed(format!(
                "{field}[{i}]: not in canonical form (docs/identifiers.md)"
            )));
        }
        identifiers.insert((kind, given.value.as_str()));
    }
    Ok(identifiers)
}

/// Makes `identifiers` the user's, hashed under the current key and the next one, and records a
/// change for every hash whose visible owner this changes (the user's old and new hashes, and
/// their open invites: hiding a user hides those too).
fn replace_user(
    tx: &mut dyn Transaction,
    (current, next): (&KeyRecord, Option<&KeyRecord>),
    user_ref: &str,
    discoverable: bool,
    identifiers: &Identifiers<'_>,
    now: i64,
) -> Result<(), ApiError> {
    let hashed = |key: &KeyRecord| -> Result<Vec<(IdentifierKind, Digest)>, ApiError> {
        let key = hash_key(key)?;
        Ok(identifiers
            .iter()
            .map(|(kind, value)| (*kind, key.hash_parts(*kind, value)))
            .collect())
    };
    debug_assert_eq!(current.state, KeyState::Current);
    let new_current = hashed(current)?;
    let mut affected: BTreeSet<Digest> = current_hashes(tx, user_ref, current)?;
    affected.extend(new_current.iter().map(|(_, d)| *d));
    affected.extend(tx.open_invite_hashes_of(user_ref, &current.key_id, now)?);
    let affected: Vec<Digest> = affected.into_iter().collect();
    let before = lookup(tx, &current.key_id, &affected, now)?;
    let listed: Vec<(IdentifierKind, &str)> = identifiers.iter().copied().collect();
    let keys: Vec<&KeyRecord> = std::iter::once(current).chain(next).collect();
    let private = directory::plan_user(tx, &keys, user_ref, &listed)?;
    tx.put_user(user_ref, discoverable, now)?;
    tx.set_user_hashes(user_ref, &current.key_id, &new_current)?;
    if let Some(next) = next {
        tx.set_user_hashes(user_ref, &next.key_id, &hashed(next)?)?;
    }
    let after = lookup(tx, &current.key_id, &affected, now)?;
    record_changes(tx, &current.key_id, &affected, &before, &after, now)?;
    directory::apply_user(tx, user_ref, &private, true, now)?;
    Ok(())
}
