//! Bytes → every protocol message type and the client's one-shot call (see
//! `contactsync_fuzz::wire`): the cheap, store-free check of answer parsing.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| contactsync_fuzz::wire::check(data));
