//! [`Transaction`](super::Transaction) for a backend's transaction type, forwarded to the type's
//! inherent methods of the same names: a backend writes each primitive in the module of its
//! resource (keys, clients, sets, users, invites, the feed), as a method of its transaction type,
//! and this one list ties them to the trait, instead of one `impl` block of every primitive's
//! SQL in one file.
//!
//! `Self::name` finds the inherent method before the trait's (`commit` takes the transaction by
//! value); a forwarder whose inherent method is missing would call itself, which rustc's
//! `unconditional_recursion` lint reports.

/// `forward_transaction!(Type)` implements `Transaction` for `Type` by its inherent methods.
macro_rules! forward_transaction {
    ($tx:ty) => {
        const _: () = {
            use std::collections::{HashMap, HashSet};

            use contactsync_core::protocol::wire::DeletedCounts;
            use contactsync_core::{Digest, IdentifierKind};

            use $crate::error::ServerError;
            use $crate::storage::{
                ChangeRecord, ClientRecord, InviteRecord, InviteSet, KeyCount, KeyRecord, KeyState,
                OprfKey, PrfValue, PrivateUsage, ReceiptRecord, StoredBatch, Transaction, Usage,
                UserRecord,
            };

            impl Transaction for $tx {
                fn commit(self: Box<Self>) -> Result<(), ServerError> {
                    Self::commit(*self)
                }
                fn keys(&mut self) -> Result<Vec<KeyRecord>, ServerError> {
                    Self::keys(self)
                }
                fn insert_key(&mut self, key: &KeyRecord) -> Result<(), ServerError> {
                    Self::insert_key(self, key)
                }
                fn set_key_state(
                    &mut self,
                    key_id: &str,
                    state: KeyState,
                ) -> Result<(), ServerError> {
                    Self::set_key_state(self, key_id, state)
                }
                fn delete_key(&mut self, key_id: &str) -> Result<(), ServerError> {
                    Self::delete_key(self, key_id)
                }
                fn insert_client(
                    &mut self,
                    client: &ClientRecord,
                    token_sha256: &[u8; 32],
                    created_at: i64,
                ) -> Result<(), ServerError> {
                    Self::insert_client(self, client, token_sha256, created_at)
                }
                fn client_by_token(
                    &mut self,
                    token_sha256: &[u8; 32],
                ) -> Result<Option<ClientRecord>, ServerError> {
                    Self::client_by_token(self, token_sha256)
                }
                fn client(&mut self, client_id: &str) -> Result<Option<ClientRecord>, ServerError> {
                    Self::client(self, client_id)
                }
                fn update_client_set(
                    &mut self,
                    client_id: &str,
                    set_key_id: &str,
                    rekey_allowance: u64,
                ) -> Result<(), ServerError> {
                    Self::update_client_set(self, client_id, set_key_id, rekey_allowance)
                }
                fn delete_client(
                    &mut self,
                    client_id: &str,
                ) -> Result<Option<DeletedCounts>, ServerError> {
                    Self::delete_client(self, client_id)
                }
                fn usage(&mut self, client_id: &str) -> Result<Option<Usage>, ServerError> {
                    Self::usage(self, client_id)
                }
                fn put_usage(&mut self, client_id: &str, usage: &Usage) -> Result<(), ServerError> {
                    Self::put_usage(self, client_id, usage)
                }
                fn set_size(&mut self, client_id: &str) -> Result<u64, ServerError> {
                    Self::set_size(self, client_id)
                }
                fn set_members(
                    &mut self,
                    client_id: &str,
                    digests: &[Digest],
                ) -> Result<HashSet<Digest>, ServerError> {
                    Self::set_members(self, client_id, digests)
                }
                fn clear_set(&mut self, client_id: &str) -> Result<u64, ServerError> {
                    Self::clear_set(self, client_id)
                }
                fn add_to_set(
                    &mut self,
                    client_id: &str,
                    digests: &[Digest],
                ) -> Result<u64, ServerError> {
                    Self::add_to_set(self, client_id, digests)
                }
                fn remove_from_set(
                    &mut self,
                    client_id: &str,
                    digests: &[Digest],
                ) -> Result<u64, ServerError> {
                    Self::remove_from_set(self, client_id, digests)
                }
                fn batch(
                    &mut self,
                    client_id: &str,
                    batch_id: &str,
                ) -> Result<Option<StoredBatch>, ServerError> {
                    Self::batch(self, client_id, batch_id)
                }
                fn insert_batch(
                    &mut self,
                    client_id: &str,
                    batch_id: &str,
                    batch: &StoredBatch,
                    created_at: i64,
                ) -> Result<(), ServerError> {
                    Self::insert_batch(self, client_id, batch_id, batch, created_at)
                }
                fn prune_batches(&mut self, before: i64) -> Result<u64, ServerError> {
                    Self::prune_batches(self, before)
                }
                fn forget_client_sets(&mut self) -> Result<(u64, u64), ServerError> {
                    Self::forget_client_sets(self)
                }
                fn visible_users(
                    &mut self,
                    key_id: &str,
                    digests: &[Digest],
                ) -> Result<HashMap<Digest, String>, ServerError> {
                    Self::visible_users(self, key_id, digests)
                }
                fn put_user(
                    &mut self,
                    user_ref: &str,
                    discoverable: bool,
                    updated_at: i64,
                ) -> Result<(), ServerError> {
                    Self::put_user(self, user_ref, discoverable, updated_at)
                }
                fn user(&mut self, user_ref: &str) -> Result<Option<UserRecord>, ServerError> {
                    Self::user(self, user_ref)
                }
                fn users_after(
                    &mut self,
                    after: &str,
                    limit: u32,
                ) -> Result<Vec<(String, bool)>, ServerError> {
                    Self::users_after(self, after, limit)
                }
                fn user_hashes(
                    &mut self,
                    user_ref: &str,
                ) -> Result<Vec<(String, Digest)>, ServerError> {
                    Self::user_hashes(self, user_ref)
                }
                fn user_hash_counts(
                    &mut self,
                    user_ref: &str,
                ) -> Result<Vec<(String, Option<IdentifierKind>, u64)>, ServerError> {
                    Self::user_hash_counts(self, user_ref)
                }
                fn set_user_hashes(
                    &mut self,
                    user_ref: &str,
                    key_id: &str,
                    digests: &[(IdentifierKind, Digest)],
                ) -> Result<(), ServerError> {
                    Self::set_user_hashes(self, user_ref, key_id, digests)
                }
                fn key_counts(&mut self) -> Result<Vec<KeyCount>, ServerError> {
                    Self::key_counts(self)
                }
                fn users_short(&mut self, current: &str, next: &str) -> Result<u64, ServerError> {
                    Self::users_short(self, current, next)
                }
                fn delete_user(&mut self, user_ref: &str) -> Result<bool, ServerError> {
                    Self::delete_user(self, user_ref)
                }
                fn insert_invite(
                    &mut self,
                    invite: &InviteRecord,
                    hashes: &[(String, Digest)],
                ) -> Result<(), ServerError> {
                    Self::insert_invite(self, invite, hashes)
                }
                fn invite(
                    &mut self,
                    code_sha256: &[u8; 32],
                ) -> Result<Option<InviteRecord>, ServerError> {
                    Self::invite(self, code_sha256)
                }
                fn open_invite_owners(
                    &mut self,
                    key_id: &str,
                    digests: &[Digest],
                    now: i64,
                ) -> Result<HashMap<Digest, String>, ServerError> {
                    Self::open_invite_owners(self, key_id, digests, now)
                }
                fn open_invite_hashes_of(
                    &mut self,
                    user_ref: &str,
                    key_id: &str,
                    now: i64,
                ) -> Result<Vec<Digest>, ServerError> {
                    Self::open_invite_hashes_of(self, user_ref, key_id, now)
                }
                fn delete_invites_of(&mut self, user_ref: &str) -> Result<u64, ServerError> {
                    Self::delete_invites_of(self, user_ref)
                }
                fn delete_invite(&mut self, code_sha256: &[u8; 32]) -> Result<(), ServerError> {
                    Self::delete_invite(self, code_sha256)
                }
                fn prune_invites(&mut self, now: i64) -> Result<u64, ServerError> {
                    Self::prune_invites(self, now)
                }
                fn insert_invite_prf(
                    &mut self,
                    code_sha256: &[u8; 32],
                    values: &[(u32, PrfValue)],
                ) -> Result<(), ServerError> {
                    Self::insert_invite_prf(self, code_sha256, values)
                }
                fn invite_prf_tags(
                    &mut self,
                    invites: InviteSet<'_>,
                ) -> Result<Vec<(u32, u64)>, ServerError> {
                    Self::invite_prf_tags(self, invites)
                }
                fn prune_unsynced_clients(
                    &mut self,
                    registered_before: i64,
                ) -> Result<u64, ServerError> {
                    Self::prune_unsynced_clients(self, registered_before)
                }
                fn append_change(
                    &mut self,
                    key_id: &str,
                    digest: &Digest,
                    user_ref: Option<&str>,
                    target_client: Option<&str>,
                    created_at: i64,
                ) -> Result<(), ServerError> {
                    Self::append_change(self, key_id, digest, user_ref, target_client, created_at)
                }
                fn head_seq(&mut self) -> Result<u64, ServerError> {
                    Self::head_seq(self)
                }
                fn changes_for(
                    &mut self,
                    client_id: &str,
                    after_seq: u64,
                    limit: u32,
                ) -> Result<Vec<ChangeRecord>, ServerError> {
                    Self::changes_for(self, client_id, after_seq, limit)
                }
                fn admin_tokens(&mut self) -> Result<Vec<[u8; 32]>, ServerError> {
                    Self::admin_tokens(self)
                }
                fn replace_admin_token(
                    &mut self,
                    token_sha256: &[u8; 32],
                    created_at: i64,
                ) -> Result<u64, ServerError> {
                    Self::replace_admin_token(self, token_sha256, created_at)
                }
                fn insert_receipt(&mut self, receipt: &ReceiptRecord) -> Result<(), ServerError> {
                    Self::insert_receipt(self, receipt)
                }
                fn set_key_oprf(
                    &mut self,
                    key_id: &str,
                    oprf: &OprfKey,
                ) -> Result<(), ServerError> {
                    Self::set_key_oprf(self, key_id, oprf)
                }
                fn user_prf_tags(
                    &mut self,
                    user_ref: &str,
                    epoch: u32,
                ) -> Result<Vec<u64>, ServerError> {
                    Self::user_prf_tags(self, user_ref, epoch)
                }
                fn set_user_prf(
                    &mut self,
                    user_ref: &str,
                    epoch: u32,
                    values: &[PrfValue],
                ) -> Result<(), ServerError> {
                    Self::set_user_prf(self, user_ref, epoch, values)
                }
                fn present_tags(
                    &mut self,
                    epoch: u32,
                    tags: &[u64],
                ) -> Result<HashSet<u64>, ServerError> {
                    Self::present_tags(self, epoch, tags)
                }
                fn discoverable_tags(&mut self, epoch: u32) -> Result<Vec<u64>, ServerError> {
                    Self::discoverable_tags(self, epoch)
                }
                fn prf_users(
                    &mut self,
                    epoch: u32,
                    lookups: &[[u8; 16]],
                    now: i64,
                ) -> Result<HashMap<[u8; 16], String>, ServerError> {
                    Self::prf_users(self, epoch, lookups, now)
                }
                fn append_filter_change(
                    &mut self,
                    epoch: u32,
                    tag: u64,
                    present: bool,
                    created_at: i64,
                ) -> Result<(), ServerError> {
                    Self::append_filter_change(self, epoch, tag, present, created_at)
                }
                fn filter_version(&mut self, epoch: u32) -> Result<u64, ServerError> {
                    Self::filter_version(self, epoch)
                }
                fn filter_log(
                    &mut self,
                    epoch: u32,
                    after: u64,
                    through: u64,
                ) -> Result<Vec<(u64, bool)>, ServerError> {
                    Self::filter_log(self, epoch, after, through)
                }
                fn filter_floor(&mut self, epoch: u32) -> Result<u64, ServerError> {
                    Self::filter_floor(self, epoch)
                }
                fn prune_filter_log(&mut self, before: i64) -> Result<u64, ServerError> {
                    Self::prune_filter_log(self, before)
                }
                fn private_usage(
                    &mut self,
                    client_id: &str,
                ) -> Result<Option<PrivateUsage>, ServerError> {
                    Self::private_usage(self, client_id)
                }
                fn put_private_usage(
                    &mut self,
                    client_id: &str,
                    usage: &PrivateUsage,
                ) -> Result<(), ServerError> {
                    Self::put_private_usage(self, client_id, usage)
                }
            }
        };
    };
}
