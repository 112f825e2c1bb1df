//! The real engine (store, sync, invites, consent) against scripted server answers (see
//! `contactsync_fuzz::answers`): every answer the client parses, through the real code path.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = contactsync_fuzz::scratch();
    contactsync_fuzz::answers::check(data, dir.path());
});
