//! Private discovery's side of the directory: each hashing key's OPRF half, and each user's PRF
//! values with the filter's log of tags that became or stopped being a discoverable user's.
//!
//! The OPRF key rides on the hashing key, so one rotation flow (`POST /v1/admin/keys`, register
//! the users again, activate) serves both modes. The values are written in the transaction that
//! writes the user's hashes, and every change of a tag's presence is an entry in the log, in
//! every epoch that has a key: the next key's filter must be current the moment it is activated.

use std::collections::HashSet;

use contactsync_core::IdentifierKind;
use contactsync_core::oprf::SecretKey;
use rand_core::OsRng;

use crate::error::{ApiError, ServerError};
use crate::storage::{KeyRecord, OprfKey, PrfValue, Transaction};

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

/// Plans making `identifiers` a user's values under every key of `keys` that has an OPRF half
/// (none: a deletion). Call before the user's row changes.
pub(crate) fn plan_user(
    tx: &mut dyn Transaction,
    keys: &[&KeyRecord],
    user_ref: &str,
    identifiers: &[(IdentifierKind, &str)],
) -> Result<Vec<PrfPlan>, ApiError> {
    let mut plans = Vec::new();
    for key in keys {
        let Some((epoch, secret)) = secret_of(key)? else {
            continue;
        };
        let values = identifiers
            .iter()
            .map(|(kind, canonical)| {
                let output = secret.evaluate(*kind, canonical).map_err(|e| {
                    tracing::error!(error = %e, "evaluating a user's identifier failed");
                    ApiError::Internal
                })?;
                Ok(PrfValue {
                    lookup: output.lookup().0,
                    tag: output.tag().0,
                })
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        let mut affected: Vec<u64> = tx.user_prf_tags(user_ref, epoch)?;
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
        let after = tx.present_tags(plan.epoch, &plan.affected)?;
        for tag in &plan.affected {
            let present = after.contains(tag);
            if present != plan.before.contains(tag) {
                tx.append_filter_change(plan.epoch, *tag, present, now)?;
            }
        }
    }
    Ok(())
}
