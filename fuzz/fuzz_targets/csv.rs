//! Bytes → the CSV reader (Google and Outlook layouts) and its mapping to contacts, with the
//! invariants of `contactsync_fuzz::sources`. Input whose first line is not a contacts header
//! gets one first, so every input exercises the row reader.
#![no_main]

use contactsync_core::source::Format;
use contactsync_fuzz::sources::{CSV_HEADER, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| check(data, Format::Csv, CSV_HEADER));
