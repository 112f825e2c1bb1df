//! Private discovery's side of the directory: each hashing key's OPRF half, each user's PRF
//! values and each open invite's, with the filter's log of tags that became or stopped being a
//! discoverable user's (or an open invite's: its creator's while it is open, as its keyed hash is
//! in the other mode).
//!
//! The OPRF key rides on the hashing key, so one rotation flow (`POST /v1/admin/keys`, register
//! the users again, activate) serves both modes. The values are written in the transaction that
//! writes the user's hashes, and every change of a tag's presence is an entry in the log, in
//! every epoch that has a key: the next key's filter must be current the moment it is activated.

use std::collections::{BTreeMap, HashSet};

use contactsync_core::IdentifierKind;
use contactsync_core::oprf::SecretKey;
use rand_core::OsRng;

use crate::error::{ApiError, ServerError};
use crate::storage::{InviteSet, KeyRecord, OprfKey, PrfValue, Transaction};

/// A key's OPRF secret, if it has one.
pub(crate) fn secret_of(key: &KeyRecord) -> Result<Option<(u32, SecretKey)>, ApiError> {
    key.oprf
        .as_ref()
        .map(|o| {
            SecretKey::from_bytes(&o.secret)
                .map(|secret| (o.epoch, secret))
                .map_err(|e| {
                    tracing::error!(error = %e, "a stored OPRF key is unusable");
                    ApiError::Internal
                })
        })
        .transpose()
}

/// Gives the current and next keys that lack one an OPRF half; whether it gave any.
///
/// An epoch is the larger of the newest epoch + 1 and the time in Unix seconds: increasing, and
/// never one an earlier key had even when every key that had an epoch is gone (keys rotated
/// while the mode was off), so a client's values of a retired key can never pass for current.
pub(crate) fn ensure_oprf(tx: &mut dyn Transaction, now: i64) -> Result<bool, ServerError> {
    let keys = tx.keys()?;
    let mut epoch = keys
        .iter()
        .filter_map(|k| k.oprf.as_ref().map(|o| o.epoch))
        .max()
        .unwrap_or(0);
    let mut gave = false;
    for key in keys.iter().filter(|k| k.oprf.is_none()) {
        let clock = u32::try_from(now.max(0)).unwrap_or(u32::MAX);
        epoch = epoch.saturating_add(1).max(clock);
        let secret =
            SecretKey::generate(&mut OsRng).map_err(|e| ServerError::Random(e.to_string()))?;
        tx.set_key_oprf(
            &key.key_id,
            &OprfKey {
                epoch,
                secret: secret.to_bytes().to_vec(),
            },
        )?;
        tracing::info!(key_id = %key.key_id, epoch, "gave a key its private discovery epoch");
        gave = true;
    }
    Ok(gave)
}

/// One epoch's part of a change to a user, planned before anything is written: the values the
/// user will have, and which of the tags concerned were present before.
pub(crate) struct PrfPlan {
    epoch: u32,
    values: Vec<PrfValue>,
    affected: Vec<u64>,
    before: HashSet<u64>,
}

/// An identifier's PRF value under `secret`, as a device that holds it evaluates it.
fn value_of(
    secret: &SecretKey,
    kind: IdentifierKind,
    canonical: &str,
) -> Result<PrfValue, ApiError> {
    let output = secret.evaluate(kind, canonical).map_err(|e| {
        tracing::error!(error = %e, "evaluating an identifier failed");
        ApiError::Internal
    })?;
    Ok(PrfValue {
        lookup: output.lookup().0,
        tag: output.tag().0,
    })
}

/// Plans making `identifiers` a user's values under every key of `keys` that has an OPRF half
/// (none: a deletion). Call before the user's row changes. The user's open invites' tags are
/// among those concerned: hiding a user hides them too, and a deletion closes them.
pub(crate) fn plan_user(
    tx: &mut dyn Transaction,
    keys: &[&KeyRecord],
    user_ref: &str,
    identifiers: &[(IdentifierKind, &str)],
) -> Result<Vec<PrfPlan>, ApiError> {
    let mut plans = Vec::new();
    let invites = tx.invite_prf_tags(InviteSet::OfUser(user_ref))?;
    for key in keys {
        let Some((epoch, secret)) = secret_of(key)? else {
            continue;
        };
        let values = identifiers
            .iter()
            .map(|(kind, canonical)| value_of(&secret, *kind, canonical))
            .collect::<Result<Vec<_>, ApiError>>()?;
        let mut affected: Vec<u64> = tx.user_prf_tags(user_ref, epoch)?;
        affected.extend(invites.iter().filter(|(e, _)| *e == epoch).map(|(_, t)| *t));
        affected.extend(values.iter().map(|v| v.tag));
        affected.sort_unstable();
        affected.dedup();
        let before = tx.present_tags(epoch, &affected)?;
        plans.push(PrfPlan {
            epoch,
            values,
            affected,
            before,
        });
    }
    Ok(plans)
}

/// Writes the planned values (after the user's row changed, or was deleted) and logs every tag
/// whose presence they changed.
pub(crate) fn apply_user(
    tx: &mut dyn Transaction,
    user_ref: &str,
    plans: &[PrfPlan],
    exists: bool,
    now: i64,
) -> Result<(), ApiError> {
    for plan in plans {
        if exists {
            tx.set_user_prf(user_ref, plan.epoch, &plan.values)?;
        }
        log_presence(tx, plan.epoch, &plan.affected, &plan.before, now)?;
    }
    Ok(())
}

/// Logs every tag of `affected` whose presence in `epoch`'s filter differs from `before`.
fn log_presence(
    tx: &mut dyn Transaction,
    epoch: u32,
    affected: &[u64],
    before: &HashSet<u64>,
    now: i64,
) -> Result<(), ServerError> {
    let after = tx.present_tags(epoch, affected)?;
    for tag in affected {
        let present = after.contains(tag);
        if present != before.contains(tag) {
            tx.append_filter_change(epoch, *tag, present, now)?;
        }
    }
    Ok(())
}

/// An invite's PRF values under every key of `keys` that has an OPRF half: the invite
/// identifier (kind `invite`, the canonical code, as `invite::normalize` and a device's
/// identifier parser give it) evaluated as the device holding the link evaluates it. Only the
/// server's moment with the code (its creation) can compute them: the code is never stored.
pub(crate) fn invite_values(
    keys: &[&KeyRecord],
    code: &str,
) -> Result<Vec<(u32, PrfValue)>, ApiError> {
    let mut values = Vec::new();
    for key in keys {
        if let Some((epoch, secret)) = secret_of(key)? {
            values.push((epoch, value_of(&secret, IdentifierKind::Invite, code)?));
        }
    }
    Ok(values)
}

/// Runs `change`, which opens invites whose values' tags are `opened` or closes `closing`
/// (read before it), and logs every tag whose presence in its epoch's filter it changed: an
/// invite's value enters the filter when it is made, and leaves when it is redeemed, revoked,
/// expires, or its client or user goes — unless another value keeps the tag present.
pub(crate) fn invites_changing<T, E: From<ServerError>>(
    tx: &mut dyn Transaction,
    closing: InviteSet<'_>,
    opened: &[(u32, PrfValue)],
    now: i64,
    change: impl FnOnce(&mut dyn Transaction) -> Result<T, E>,
) -> Result<T, E> {
    let mut affected: BTreeMap<u32, Vec<u64>> = BTreeMap::new();
    let tags = tx.invite_prf_tags(closing)?;
    for (epoch, tag) in tags
        .into_iter()
        .chain(opened.iter().map(|(e, v)| (*e, v.tag)))
    {
        affected.entry(epoch).or_default().push(tag);
    }
    let mut before = Vec::with_capacity(affected.len());
    for (epoch, tags) in &affected {
        before.push(tx.present_tags(*epoch, tags)?);
    }
    let out = change(tx)?;
    for ((epoch, tags), before) in affected.iter().zip(&before) {
        log_presence(tx, *epoch, tags, before, now)?;
    }
    Ok(out)
}
