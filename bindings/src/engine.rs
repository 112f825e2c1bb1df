//! The engine object and the streamed snapshot: newtypes over the core's, one line of
//! conversion per method. Every method blocks until the work is done; the Kotlin and Swift layers
//! run them off the caller's thread.

use std::sync::{Arc, Mutex, PoisonError};

use contactsync_core as core;

use crate::callbacks::{
    CoreListener, CoreReregister, CoreTransport, ProgressListener, Reregister, Transport,
};
use crate::error::{ContactsyncError, Result};
use crate::observe::{ChangeObserver, CoreObserver, Subscription};
use crate::types::{
    Config, ContactView, DeleteReceipt, Discovery, IdentifierKind, ImportReport, Invite,
    InviteView, Match, Normalized, PendingUpload, RawContact, Status, SyncOptions, SyncReport,
    SyncSchedule,
};

/// One user's contacts, identifiers, upload state and matches, kept in one SQLite file.
///
/// Thread-safe: queries run while an import or a sync is under way. Closing the handle (Kotlin
/// `close()`, Swift deinit) closes the file once no call is running.
#[derive(Debug, uniffi::Object)]
pub struct Engine(core::Engine);

#[uniffi::export]
impl Engine {
    /// Opens (creating and migrating when needed) the database at `path`.
    #[uniffi::constructor]
    pub fn open(path: String, config: Config) -> Result<Arc<Self>> {
        Ok(Arc::new(Engine(core::Engine::open(
            path,
            config.try_into()?,
        )?)))
    }

    /// Imports the whole address book as one full snapshot: contacts not in `contacts` are
    /// removed. Chunked into transactions of `Config.chunk_size`.
    #[uniffi::method(default(listener = None))]
    pub fn import_snapshot(
        &self,
        contacts: Vec<RawContact>,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ImportReport> {
        Ok(self.0.import_snapshot(contacts, &CoreListener(listener))?)
    }

    /// Starts a streamed full snapshot (for books read page by page): `push` chunks, then
    /// `finish`. Starting another snapshot supersedes this one.
    pub fn begin_snapshot(&self) -> Result<Arc<Snapshot>> {
        Ok(Arc::new(Snapshot(Mutex::new(Some(
            self.0.begin_snapshot()?,
        )))))
    }

    /// Applies a change feed in one transaction: contacts added or edited since the last import,
    /// and the source ids deleted since.
    #[uniffi::method(default(listener = None))]
    pub fn apply_changes(
        &self,
        upserts: Vec<RawContact>,
        deleted: Vec<String>,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<ImportReport> {
        Ok(self
            .0
            .apply_changes(&upserts, &deleted, &CoreListener(listener))?)
    }

    /// Brings the server up to date with the store and the store with the server's matches.
    /// One sync runs at a time per engine; a failed one resumes where it stopped. With
    /// `reregister`, a `401 unauthorized` calls it once, then the sync runs again in full.
    #[uniffi::method(default(listener = None, reregister = None))]
    pub fn sync(
        &self,
        transport: Arc<dyn Transport>,
        options: SyncOptions,
        listener: Option<Arc<dyn ProgressListener>>,
        reregister: Option<Arc<dyn Reregister>>,
    ) -> Result<SyncReport> {
        let hook = reregister.map(CoreReregister);
        Ok(self.0.sync_with(
            &CoreTransport(transport),
            &options.into(),
            &CoreListener(listener),
            CoreReregister::as_core(hook.as_ref()),
        )?)
    }

    /// Registers `observer`, told after every committed change to this database made in this
    /// process, until the subscription is cancelled or released. Subscribe first, then read:
    /// no change falls between.
    pub fn subscribe(&self, observer: Arc<dyn ChangeObserver>) -> Arc<Subscription> {
        Subscription::new(self.0.subscribe(Arc::new(CoreObserver(observer))))
    }

    /// How this device discovered in its last sync: the mode its server chose (`Hashed` before
    /// the first sync; `Private`: the server never learns a contact who is not a user).
    pub fn discovery(&self) -> Result<Discovery> {
        Ok(self.0.discovery()?)
    }

    /// When the next sync will contact the server, as the last sync left it (the check interval,
    /// a backoff, a quota deferral): what a background scheduler picks its next run from.
    pub fn sync_schedule(&self) -> Result<SyncSchedule> {
        Ok(self.0.sync_schedule()?)
    }

    /// Makes the next sync send everything again in full mode (after registering again).
    pub fn reset_sync(&self) -> Result<()> {
        Ok(self.0.reset_sync()?)
    }

    /// Leaves the server without telling it (it moved or is gone; an account switch): its key,
    /// matches, invites and sync state go, contacts and exclusions stay, and the next sync, under
    /// the app's new registration, sends everything in full. `forget` is consent withdrawn.
    pub fn leave_server(&self) -> Result<()> {
        Ok(self.0.leave_server()?)
    }

    /// Consent withdrawn: the server deletes what it holds for this device, then the local store
    /// is wiped. A failure leaves both sides as they were. With `reregister`, a `401` calls it
    /// once and the deletion is asked for again under the new registration (the wipe still
    /// follows a receipt only).
    #[uniffi::method(default(reregister = None))]
    pub fn forget(
        &self,
        transport: Arc<dyn Transport>,
        reregister: Option<Arc<dyn Reregister>>,
    ) -> Result<DeleteReceipt> {
        let hook = reregister.map(CoreReregister);
        Ok(self
            .0
            .forget_with(
                &CoreTransport(transport),
                CoreReregister::as_core(hook.as_ref()),
            )?
            .into())
    }

    /// Creates an invite code (for a QR code or a link) for the user this device belongs to.
    /// With `reregister`, a `401` calls it once, then the invite is asked for again.
    #[uniffi::method(default(ttl_s = None, reregister = None))]
    pub fn create_invite(
        &self,
        transport: Arc<dyn Transport>,
        ttl_s: Option<u32>,
        reregister: Option<Arc<dyn Reregister>>,
    ) -> Result<Invite> {
        let hook = reregister.map(CoreReregister);
        Ok(self.0.create_invite_with(
            &CoreTransport(transport),
            ttl_s,
            CoreReregister::as_core(hook.as_ref()),
        )?)
    }

    /// Redeems someone's invite code (typed, or a QR link); returns the inviter's user reference.
    /// With `reregister`, a `401` calls it once, then the code is redeemed again.
    #[uniffi::method(default(reregister = None))]
    pub fn redeem_invite(
        &self,
        transport: Arc<dyn Transport>,
        code: String,
        reregister: Option<Arc<dyn Reregister>>,
    ) -> Result<String> {
        let hook = reregister.map(CoreReregister);
        Ok(self.0.redeem_invite_with(
            &CoreTransport(transport),
            &code,
            CoreReregister::as_core(hook.as_ref()),
        )?)
    }

    /// The invites this device created, newest first, with who redeemed each (learned by a sync).
    pub fn invites(&self) -> Result<Vec<InviteView>> {
        Ok(self.0.invites()?)
    }

    /// Closes an invite this device created: the server redeems it no more, and it leaves
    /// `invites`. An unknown, used or expired code is the server's `not_found` and stays listed.
    /// No `reregister`: after a `401` the invites went with the registration that made them.
    pub fn revoke_invite(&self, transport: Arc<dyn Transport>, code: String) -> Result<()> {
        Ok(self.0.revoke_invite(&CoreTransport(transport), &code)?)
    }

    /// Counts over the store.
    pub fn status(&self) -> Result<Status> {
        Ok(self.0.status()?)
    }

    /// Stored contacts in source-id order, `limit` from `offset` (for list UIs).
    pub fn contacts(&self, offset: u64, limit: u64) -> Result<Vec<ContactView>> {
        Ok(self.0.contacts(offset, limit)?)
    }

    /// Up to `limit` contacts after source id `after` (from the first when `None`).
    pub fn contacts_after(&self, after: Option<String>, limit: u64) -> Result<Vec<ContactView>> {
        Ok(self.0.contacts_after(after.as_deref(), limit)?)
    }

    /// One contact by source id.
    pub fn contact(&self, source_id: String) -> Result<Option<ContactView>> {
        Ok(self.0.contact(&source_id)?)
    }

    /// Several contacts by source id, in the order asked (`None` for an unknown one), in one
    /// call and one read transaction: a contacts screen asks for its rows at once.
    pub fn contacts_by_id(&self, source_ids: Vec<String>) -> Result<Vec<Option<ContactView>>> {
        Ok(self.0.contacts_by_id(&source_ids)?)
    }

    /// Up to `limit` hashes waiting for the server (additions first).
    pub fn pending_uploads(&self, limit: u64) -> Result<Vec<PendingUpload>> {
        Ok(self.0.pending_uploads(limit)?)
    }

    /// The contacts who use the app, and through which identifier.
    pub fn matches(&self) -> Result<Vec<Match>> {
        Ok(self.0.matches()?)
    }

    /// Excludes a contact from discovery (or includes it again); false for an unknown contact.
    pub fn set_contact_excluded(&self, source_id: String, excluded: bool) -> Result<bool> {
        Ok(self.0.set_contact_excluded(&source_id, excluded)?)
    }

    /// `set_contact_excluded` for several contacts in one call and one transaction: for each
    /// source id in order, whether it is a stored contact.
    pub fn set_contacts_excluded(
        &self,
        source_ids: Vec<String>,
        excluded: bool,
    ) -> Result<Vec<bool>> {
        Ok(self.0.set_contacts_excluded(&source_ids, excluded)?)
    }

    /// `set_identifier_excluded` for several values of one kind in one call and one transaction.
    /// A value that does not normalise is its own `Invalid` outcome (the single call throws
    /// `InvalidArgument` for it); the other values are still set.
    pub fn set_identifiers_excluded(
        &self,
        kind: IdentifierKind,
        values: Vec<String>,
        excluded: bool,
    ) -> Result<Vec<Normalized>> {
        Ok(self
            .0
            .set_identifiers_excluded(kind, &values, excluded)?
            .into_iter()
            .map(Normalized::from)
            .collect())
    }

    /// Excludes an identifier (read like a contact's value) whichever contacts hold it.
    pub fn set_identifier_excluded(
        &self,
        kind: IdentifierKind,
        value: String,
        excluded: bool,
    ) -> Result<()> {
        Ok(self.0.set_identifier_excluded(kind, &value, excluded)?)
    }

    /// The current hashing key's id, once a sync fetched one.
    pub fn key_id(&self) -> Option<String> {
        self.0.key_id()
    }

    /// Deletes everything stored locally. Use `forget` to tell the server as well.
    pub fn wipe(&self) -> Result<()> {
        Ok(self.0.wipe()?)
    }
}

/// A streamed full snapshot (see `Engine.begin_snapshot`). Each `push` is one transaction; a
/// snapshot never finished removes nothing.
#[derive(Debug, uniffi::Object)]
pub struct Snapshot(Mutex<Option<core::Snapshot>>);

impl Snapshot {
    fn finished() -> ContactsyncError {
        ContactsyncError::InvalidState {
            detail: "the snapshot is already finished".into(),
        }
    }
}

#[uniffi::export]
impl Snapshot {
    /// Adds a chunk of contacts (any size) in one transaction.
    #[uniffi::method(default(listener = None))]
    pub fn push(
        &self,
        contacts: Vec<RawContact>,
        listener: Option<Arc<dyn ProgressListener>>,
    ) -> Result<()> {
        let mut guard = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let snapshot = guard.as_mut().ok_or_else(Self::finished)?;
        Ok(snapshot.push(contacts, &CoreListener(listener))?)
    }

    /// Ends the snapshot: removes every stored contact it did not contain.
    #[uniffi::method(default(listener = None))]
    pub fn finish(&self, listener: Option<Arc<dyn ProgressListener>>) -> Result<ImportReport> {
        let snapshot = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(Self::finished)?;
        Ok(snapshot.finish(&CoreListener(listener))?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::callbacks::tests::scripted;
    use crate::callbacks::{HttpMethod, HttpResponse};
    use crate::types::Labelled;

    fn config() -> Config {
        Config {
            region: "DE".into(),
            workers: 1,
            chunk_size: 2,
            busy_timeout_ms: 1000,
            cache_kib: 1024,
        }
    }

    fn contact(id: &str, phone: &str) -> RawContact {
        RawContact {
            source_id: id.into(),
            display_name: format!("Contact {id}"),
            values: vec![Labelled {
                kind: IdentifierKind::Phone,
                label: Some("mobile".into()),
                value: phone.into(),
            }],
            version: None,
        }
    }

    #[test]
    fn a_streamed_snapshot_imports_and_refuses_use_after_finish() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine =
            Engine::open(dir.path().join("c.db").display().to_string(), config()).expect("opens");
        let snapshot = engine.begin_snapshot().expect("snapshot");
        snapshot
            .push(
                vec![contact("1", "0151 23456789"), contact("2", "030 1234567")],
                None,
            )
            .expect("push");
        snapshot.push(vec![contact("3", "12")], None).expect("push");
        let report = snapshot.finish(None).expect("finish");
        assert_eq!((report.added, report.rejected), (3, 1));
        assert_eq!(report.rejections.get("phone.unassigned"), Some(&1));
        assert!(matches!(
            snapshot.push(vec![], None),
            Err(ContactsyncError::InvalidState { .. })
        ));
        assert!(matches!(
            snapshot.finish(None),
            Err(ContactsyncError::InvalidState { .. })
        ));
        let status = engine.status().expect("status");
        assert_eq!((status.contacts, status.identifiers), (3, 2));
        let stored = engine.contact("1".into()).expect("read").expect("stored");
        assert_eq!(stored.identifiers[0].canonical, "+4915123456789");
    }

    /// Issue 20's calls through the FFI's types: a store that never synced has no schedule and no
    /// invites; a revocation the server refuses is its typed error, sent as `DELETE` of the
    /// canonical code, and text that is no code is refused before any request; leaving the
    /// server keeps the contacts, every identifier to be sent again.
    #[test]
    fn schedule_invites_revoke_and_leave_cross_the_ffi() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine =
            Engine::open(dir.path().join("c.db").display().to_string(), config()).expect("opens");
        engine
            .import_snapshot(vec![contact("1", "0151 23456789")], None)
            .expect("import");
        assert_eq!(
            engine.sync_schedule().expect("schedule"),
            SyncSchedule::default()
        );
        assert_eq!(engine.invites().expect("invites"), Vec::<InviteView>::new());

        let code = core::identifier::invite::from_entropy(&[7; 8]);
        let transport = scripted(Ok(HttpResponse {
            status: 404,
            headers: vec![],
            body: br#"{"error":{"code":"not_found","message":"no such open invite"}}"#.to_vec(),
        }));
        let refused = engine
            .revoke_invite(
                transport.clone(),
                core::identifier::invite::display(&code).to_lowercase(),
            )
            .expect_err("refused");
        assert!(
            matches!(&refused, ContactsyncError::Server { status: 404, code, .. } if code == "not_found"),
            "{refused:?}"
        );
        let malformed = engine
            .revoke_invite(transport.clone(), "not a code".into())
            .expect_err("refused");
        assert!(
            matches!(malformed, ContactsyncError::InvalidArgument { .. }),
            "{malformed:?}"
        );
        let seen = transport.seen.lock().expect("lock");
        assert_eq!(seen.len(), 1, "no request for text that is no code");
        assert_eq!(seen[0].method, HttpMethod::Delete);
        assert_eq!(seen[0].path, format!("/v1/invites/{code}"));
        drop(seen);

        engine.leave_server().expect("leaves");
        let status = engine.status().expect("status");
        assert_eq!((status.contacts, status.pending_add), (1, 1));
        assert!(status.full_resync && status.key_id.is_none(), "{status:?}");
    }

    #[test]
    fn an_unknown_region_is_an_invalid_argument() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut bad = config();
        bad.region = "XX".into();
        let err =
            Engine::open(dir.path().join("c.db").display().to_string(), bad).expect_err("refused");
        assert!(
            matches!(err, ContactsyncError::InvalidArgument { .. }),
            "{err:?}"
        );
    }
}
