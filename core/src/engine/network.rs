//! The engine's network calls: sync, consent withdrawal, invites. The protocol logic lives in
//! `crate::upload`; these methods hold the engine's sync lock and key around it.

use std::sync::PoisonError;

use super::{Changes, Engine};
use crate::error::{Error, Result};
use crate::identifier::{IdentifierKind, invite};
use crate::progress::{NoProgress, ProgressListener};
use crate::protocol::private::Discovery;
use crate::protocol::wire::{
    ConfigAnswer, DeleteReceipt, InviteAnswer, InviteRequest, RedeemAnswer, RedeemRequest,
    RevokeAnswer,
};
use crate::store::invites;
use crate::store::outbox as st;
use crate::store::{matrix, private, read};
use crate::upload::config;
use crate::upload::matrix::MatrixSession;
use crate::upload::private::PrivateSession;
use crate::upload::requests::{checked_user, unix_now};
use crate::upload::session::Session;
use crate::upload::{
    Method, Ran, Reregister, SyncOptions, SyncReport, SyncSchedule, Transport, UNAUTHORIZED, call,
    get,
};

/// What an invite call changes.
const INVITES: Changes = Changes {
    book: false,
    matches: false,
    consent: false,
    invites: true,
};

/// The discovery server refused the device's credentials.
fn is_unauthorized(e: &Error) -> bool {
    matches!(e, Error::Server { status, .. } if *status == UNAUTHORIZED)
}

/// Every call that sends the device's credentials goes through here (see [`Reregister`]): `call`;
/// on its `401` with a hook, the hook once, then `registered` (what the new registration needs
/// locally: a full re-sync), then `call` once more. Its second 401 is the error; a failing hook
/// is the first 401 with the hook's description (`what`: the call, for the log).
fn authorized<T>(
    what: &str,
    hook: Option<&dyn Reregister>,
    mut call: impl FnMut() -> Result<T>,
    registered: impl FnOnce() -> Result<()>,
) -> Result<T> {
    let (mut refused, hook) = match (call(), hook) {
        (Err(e), Some(hook)) if is_unauthorized(&e) => (e, hook),
        (result, _) => return result,
    };
    log::warn!("{what}: the server refused the device's credentials (401); re-registering");
    if let Err(detail) = hook.reregister() {
        log::warn!("{what}: the app's re-registration failed");
        if let Error::Server { message, .. } = &mut refused {
            *message = format!("{message} (re-registration failed: {detail})");
        }
        return Err(refused);
    }
    registered()?;
    log::info!("{what}: registered again; trying once more");
    call()
}

impl Engine {
    /// Brings the server up to date with the store, and the store up to date with the server's
    /// matches (docs/protocol.md): key and limits (a new key re-hashes everything), a batch left
    /// in flight by a crash (resent as it was), new batches (each persisted before it is sent),
    /// then the matches gained and lost since the last sync. When the server offers private
    /// discovery (its config says so), the private mode instead: the epoch's key, blinded
    /// evaluations of new identifiers, the users' filter, then lookups of its hits. With
    /// [`SyncOptions::matrix`], the transport reaches a Matrix identity server instead, and the
    /// sync looks up new identifiers (and the whole set after the options' interval or a new
    /// pepper) there: the matches are Matrix user ids (docs/matrix.md).
    ///
    /// Only one sync runs at a time per engine; imports may run meanwhile. Failures leave
    /// everything resumable: the next sync continues where this one stopped.
    pub fn sync(
        &self,
        transport: &dyn Transport,
        options: &SyncOptions,
        listener: &dyn ProgressListener,
    ) -> Result<SyncReport> {
        self.sync_with(transport, options, listener, None)
    }

    /// [`Engine::sync`], with the app's hook for a `401 unauthorized` (see [`Reregister`]): on
    /// the first 401 the hook registers the device again, the engine marks a full re-sync and
    /// the sync runs once more. A failing hook or a second 401 is the 401's
    /// [`Error::Server`]. The Matrix mode never calls it (its token is the options').
    pub fn sync_with(
        &self,
        transport: &dyn Transport,
        options: &SyncOptions,
        listener: &dyn ProgressListener,
        reregister: Option<&dyn Reregister>,
    ) -> Result<SyncReport> {
        let started = std::time::Instant::now();
        log::info!(
            "sync: started{}",
            if options.force { " (forced)" } else { "" }
        );
        let result = {
            let _one_at_a_time = self
                .inner
                .sync_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            // The Matrix mode's token is the options', not the device's registration.
            let hook = reregister.filter(|_| options.matrix.is_none());
            authorized(
                "sync",
                hook,
                || self.sync_locked(transport, options, listener),
                || self.reset_locked(),
            )
        };
        let elapsed = started.elapsed().as_millis();
        match &result {
            Ok(r) if r.skipped => log::info!("sync: skipped, the check interval has not passed"),
            Ok(r) => log::info!(
                "sync: done in {elapsed} ms: {} batches ({} retried, {} split), {} added, {} removed, {} new matches, {} lost, {} deferred{}",
                r.batches_sent,
                r.batches_retried,
                r.batches_split,
                r.added,
                r.removed,
                r.new_matches,
                r.lost_matches,
                r.deferred,
                if r.key_rotated { ", key rotated" } else { "" }
            ),
            Err(Error::Server { status, code, .. }) => {
                log::warn!("sync: failed after {elapsed} ms: server refused ({status} {code})");
            }
            Err(Error::RetryLater { until }) => {
                log::warn!("sync: failed after {elapsed} ms: retry after {until}");
            }
            Err(e) => log::warn!("sync: failed after {elapsed} ms: {}", e.code()),
        }
        self.notify_after(result, |r| {
            let sent = r.batches_sent > 0 || r.key_rotated;
            Changes {
                book: sent,
                matches: sent || r.new_matches + r.lost_matches > 0,
                ..Changes::default()
            }
        })
    }

    /// The sync itself, under the sync lock.
    fn sync_locked(
        &self,
        transport: &dyn Transport,
        options: &SyncOptions,
        listener: &dyn ProgressListener,
    ) -> Result<SyncReport> {
        let mut mode = self.inner.store.read(private::discovery)?;
        // The app chooses the Matrix mode (its options); a device leaving it starts afresh with
        // the discovery server, whose config then chooses between the other two.
        let chosen = if options.matrix.is_some() {
            Discovery::Matrix
        } else if mode == Discovery::Matrix {
            Discovery::Hashed
        } else {
            mode
        };
        if chosen != mode {
            log::info!("sync: discovery mode {mode:?} -> {chosen:?}");
            self.inner
                .store
                .write(|tx| private::switch_discovery(tx, chosen))?;
            self.inner.keys.forget();
            mode = chosen;
        }
        if let Some(matrix) = &options.matrix {
            let session =
                MatrixSession::new(&self.inner.store, transport, options, matrix, listener);
            return match session.run()? {
                Ran::Done(report) => Ok(report),
                Ran::Switch(_) => Err(Error::InvalidState(
                    "the Matrix mode never switches by itself".into(),
                )),
            };
        }
        // The server's config says the mode; a device that synced in the other follows it once.
        for _ in 0..2 {
            let ran = match mode {
                Discovery::Hashed | Discovery::Matrix => Session::new(
                    &self.inner.store,
                    &self.inner.keys,
                    transport,
                    options,
                    listener,
                )
                .run()?,
                Discovery::Private => {
                    PrivateSession::new(&self.inner.store, transport, options, listener).run()?
                }
            };
            match ran {
                Ran::Done(report) => return Ok(report),
                Ran::Switch(to) => {
                    log::info!("sync: the server discovers in the {to:?} mode; switching");
                    self.inner
                        .store
                        .write(|tx| private::switch_discovery(tx, to))?;
                    self.inner.keys.forget();
                    mode = to;
                }
            }
        }
        Err(Error::Protocol(
            "the server's discovery mode changed twice in one sync".into(),
        ))
    }

    /// How this device discovered in its last sync: the mode its server chose
    /// ([`Discovery::Hashed`] before the first sync; docs/protocol.md, "Private discovery").
    pub fn discovery(&self) -> Result<Discovery> {
        self.inner.store.read(private::discovery)
    }

    /// When the next sync will contact the server: the check interval and any backoff, as the
    /// last sync left them.
    pub fn sync_schedule(&self) -> Result<SyncSchedule> {
        let state = self.inner.store.read(st::sync_state)?;
        Ok(SyncSchedule {
            next_check_at: state.next_check,
            backoff_until: state.backoff_until,
            backoff_attempts: state.backoff_attempt,
            deferred_until: state.deferred_until,
        })
    }

    /// Makes the next sync send everything again, in full mode: for a device that registered
    /// again (a new client, with an empty set on the server) or restored a backup. In the
    /// private mode every identifier is evaluated again and the filter downloaded again.
    pub fn reset_sync(&self) -> Result<()> {
        let reset = {
            let _one_at_a_time = self
                .inner
                .sync_lock
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            self.reset_locked()
        };
        self.notify_after(reset, |()| Changes {
            book: true,
            ..Changes::default()
        })
    }

    /// [`Engine::reset_sync`] under the sync lock.
    fn reset_locked(&self) -> Result<()> {
        log::info!("sync: reset; the next sync sends everything in full");
        match self.inner.store.read(private::discovery)? {
            Discovery::Private => return self.inner.store.write(private::reset),
            Discovery::Matrix => {
                return self.inner.store.write(|tx| {
                    private::reset(tx)?;
                    matrix::forget(tx)
                });
            }
            Discovery::Hashed => {}
        }
        let Some((key_id, secret)) = self.inner.store.read(read::key)? else {
            return Ok(());
        };
        let key = crate::hash::HashKey::new(key_id, &secret)
            .map_err(|e| Error::InvalidState(format!("stored key: {e}")))?;
        self.inner.store.write(|tx| {
            crate::store::write::rehash(tx, &key, &secret, |_| Ok(()))?;
            st::set_cursor(tx, None)
        })
    }

    /// Consent withdrawn: asks the server to delete everything it holds for this device, then
    /// wipes the local store. The local wipe happens only once the server confirmed, so a
    /// failure leaves both sides as they were and the call can be repeated.
    pub fn forget(&self, transport: &dyn Transport) -> Result<DeleteReceipt> {
        self.forget_with(transport, None)
    }

    /// [`Engine::forget`], with the app's hook for a `401` (see [`Reregister`]). A 401 means the
    /// server knows no client under the token: a revoked client was deleted with everything it
    /// held (as `forget` deletes it), so nothing is left there. The hook registers again and the
    /// request is sent once more: the receipt is then the new registration's, which held nothing,
    /// and the wipe still happens only after a receipt. Without a hook, or when the hook fails,
    /// the 401 is the error and nothing is wiped.
    pub fn forget_with(
        &self,
        transport: &dyn Transport,
        reregister: Option<&dyn Reregister>,
    ) -> Result<DeleteReceipt> {
        let _one_at_a_time = self
            .inner
            .sync_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // Nothing to reset after a new registration: the store is wiped next.
        let receipt: DeleteReceipt = authorized(
            "forget",
            reregister,
            || get(transport, Method::Delete, "/v1/client"),
            || Ok(()),
        )?;
        log::info!("forget: the server deleted this device's data");
        // `wipe` tells the observers.
        self.wipe()?;
        Ok(receipt)
    }

    /// Leaves the server without telling it, for a device whose server moved or is gone (the
    /// server keeps what it held; [`Engine::forget`] is consent withdrawn). The contacts and the
    /// user's exclusions stay; the key, matches, invites and sync state go, so the next sync —
    /// with another server, under a new registration — sends everything in full.
    pub fn leave_server(&self) -> Result<()> {
        let _one_at_a_time = self
            .inner
            .sync_lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let left = self.inner.store.write(crate::store::write::leave_server);
        if left.is_ok() {
            self.inner.keys.forget();
            log::info!("left the server; the next sync registers anew");
        }
        self.notify_after(left, |()| Changes::ALL)
    }

    /// Creates an invite code (for a QR code or link) and keeps it, with its hash, so the match
    /// with whoever redeems it arrives through a later sync. Needs a device registered for a
    /// user of the app. In the private mode the code is kept without a hash: that mode's sync
    /// hashes its open invites' codes under the config's key when it reads its feed, and
    /// installing the key here would mark every identifier for a keyed-hash upload.
    pub fn create_invite(
        &self,
        transport: &dyn Transport,
        ttl_s: Option<u32>,
    ) -> Result<InviteAnswer> {
        self.create_invite_with(transport, ttl_s, None)
    }

    /// [`Engine::create_invite`], with the app's hook for a `401` (see [`Reregister`]): the hook
    /// registers again, the next sync is marked to send everything in full (as after
    /// [`Engine::sync_with`]'s), and the invite is asked for once more.
    pub fn create_invite_with(
        &self,
        transport: &dyn Transport,
        ttl_s: Option<u32>,
        reregister: Option<&dyn Reregister>,
    ) -> Result<InviteAnswer> {
        let answer: InviteAnswer = authorized(
            "invite",
            reregister,
            || {
                call(
                    transport,
                    Method::Post,
                    "/v1/invites",
                    Some(&InviteRequest { ttl_s }),
                )
            },
            || self.reset_sync(),
        )?;
        let code = invite::normalize(&answer.code)
            .map_err(|e| Error::Protocol(format!("the server's invite code: {}", e.code())))?;
        let key = if self.inner.store.read(private::discovery)? == Discovery::Private {
            None
        } else {
            Some(self.ensure_key(transport)?)
        };
        let digest = key
            .as_ref()
            .map(|k| (k.id(), k.hash_parts(IdentifierKind::Invite, &code)));
        let recorded = self.inner.store.write(|tx| {
            let now = unix_now();
            invites::record_invite(tx, &code, now, answer.expires_at)?;
            invites::pin(tx, IdentifierKind::Invite, &code, digest, None, now)
        });
        self.notify_after(recorded, |_| INVITES)?;
        Ok(answer)
    }

    /// The invites this device created (newest first), with who redeemed each: the server keeps
    /// only their hashes, so this list lives here.
    pub fn invites(&self) -> Result<Vec<crate::store::InviteView>> {
        self.inner.store.read(read::invites)
    }

    /// Revokes an invite this device created: the server closes it (it redeems no more), then it
    /// leaves the local list. An unknown, used or expired code is the server's `not_found`, and
    /// stays listed. No re-registration hook: after a 401 the client that made the invite is gone
    /// with its invites, and a new registration could not revoke them.
    pub fn revoke_invite(&self, transport: &dyn Transport, code: &str) -> Result<()> {
        let code = invite::normalize(code)
            .map_err(|e| Error::InvalidArgument(format!("invite code: {}", e.code())))?;
        let _: RevokeAnswer = get(transport, Method::Delete, &format!("/v1/invites/{code}"))?;
        let dropped = self.inner.store.write(|tx| invites::drop_invite(tx, &code));
        self.notify_after(dropped, |()| INVITES)
    }

    /// Redeems someone's invite code (as typed, or the link from a QR code) and records the
    /// match at once. Returns the inviter's user reference.
    pub fn redeem_invite(&self, transport: &dyn Transport, code: &str) -> Result<String> {
        self.redeem_invite_with(transport, code, None)
    }

    /// [`Engine::redeem_invite`], with the app's hook for a `401` (see [`Reregister`]): the hook
    /// registers again, the next sync is marked to send everything in full, and the code is
    /// redeemed once more (a code the server refused with the 401 is still open).
    pub fn redeem_invite_with(
        &self,
        transport: &dyn Transport,
        code: &str,
        reregister: Option<&dyn Reregister>,
    ) -> Result<String> {
        let code = invite::normalize(code)
            .map_err(|e| Error::InvalidArgument(format!("invite code: {}", e.code())))?;
        let request = RedeemRequest { code: code.clone() };
        let answer: RedeemAnswer = authorized(
            "redeem",
            reregister,
            || {
                call(
                    transport,
                    Method::Post,
                    "/v1/invites/redeem",
                    Some(&request),
                )
            },
            || self.reset_sync(),
        )?;
        // The same rule as for the matches a sync receives.
        checked_user(&answer.user_ref)?;
        let key = self.inner.key();
        let digest = key
            .as_ref()
            .map(|k| (k.id(), k.hash_parts(IdentifierKind::Invite, &code)));
        let pinned = self.inner.store.write(|tx| {
            invites::pin(
                tx,
                IdentifierKind::Invite,
                &code,
                digest,
                Some(&answer.user_ref),
                unix_now(),
            )
        });
        self.notify_after(pinned, |_| Changes {
            matches: true,
            ..INVITES
        })?;
        Ok(answer.user_ref)
    }

    /// The stored key, or the server's when there is none yet.
    fn ensure_key(&self, transport: &dyn Transport) -> Result<crate::hash::HashKey> {
        if let Some(key) = self.inner.key() {
            return Ok(key);
        }
        // One request, without the sync's retries; the answer takes the sync's checked path.
        let answer: ConfigAnswer = get(transport, Method::Get, "/v1/config")?;
        let inner = &self.inner;
        Ok(config::install(answer, None, &inner.store, &inner.keys, &NoProgress)?.key)
    }
}
