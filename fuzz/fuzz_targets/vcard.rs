//! Bytes → the vCard reader and its mapping to contacts (`contactsync import`'s path), with the
//! invariants of `contactsync_fuzz::sources`. Input that does not start like a vCard gets a
//! `BEGIN:VCARD` line first, so every input exercises the vCard reader.
#![no_main]

use contactsync_core::source::Format;
use contactsync_fuzz::sources::{VCARD_BEGIN, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| check(data, Format::VCard, VCARD_BEGIN));
