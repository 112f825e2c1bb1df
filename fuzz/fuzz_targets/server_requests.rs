//! Requests from the fuzz input through the server's real router, handlers and `SQLite` storage
//! (see `contactsync_fuzz::requests`): every answer a JSON envelope or success, never a 5xx but
//! 503, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let dir = contactsync_fuzz::scratch();
    contactsync_fuzz::requests::check(data, dir.path());
});
