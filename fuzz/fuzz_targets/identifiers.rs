//! Every identifier kind (and `auto`) × every region through normalisation: no panic, the
//! canonical form is idempotent (see `contactsync_fuzz::identifiers`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| contactsync_fuzz::identifiers::check(data));
