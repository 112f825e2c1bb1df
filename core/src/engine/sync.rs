//! The engine's network calls: sync, consent withdrawal, invites. The protocol logic lives in
//! `crate::upload`; these methods hold the engine's locks and key around it.

use super::Engine;
use crate::error::{Error, Result};
use crate::upload::wire::{DeleteReceipt, InviteAnswer};
use crate::upload::{SyncOptions, SyncReport, Transport};
use crate::ProgressListener;

impl Engine {
    /// Brings the server up to date with the store and the store up to date with the server's
    /// matches (docs/protocol.md): key and limits, a batch left in flight by a crash, new batches
    /// (each persisted before it is sent), then the matches gained and lost since the last sync.
    pub fn sync(
        &self,
        transport: &dyn Transport,
        options: &SyncOptions,
        listener: &dyn ProgressListener,
    ) -> Result<SyncReport> {
        let _ = (transport, options, listener);
        Err(Error::InvalidState("sync: not yet".into()))
    }

    /// Consent withdrawn: asks the server to delete everything it holds for this device, then
    /// wipes the local store. The local wipe happens only once the server confirmed.
    pub fn forget(&self, transport: &dyn Transport) -> Result<DeleteReceipt> {
        let _ = transport;
        Err(Error::InvalidState("forget: not yet".into()))
    }

    /// Creates an invite code (for a QR code or link) and remembers it, so the match with
    /// whoever redeems it arrives with a later sync.
    pub fn create_invite(&self, transport: &dyn Transport, ttl_s: Option<u32>) -> Result<InviteAnswer> {
        let _ = (transport, ttl_s);
        Err(Error::InvalidState("create_invite: not yet".into()))
    }

    /// Redeems someone's invite code (as typed, or a link from a QR code) and records the match.
    /// Returns the inviter's user reference.
    pub fn redeem_invite(&self, transport: &dyn Transport, code: &str) -> Result<String> {
        let _ = (transport, code);
        Err(Error::InvalidState("redeem_invite: not yet".into()))
    }
}
