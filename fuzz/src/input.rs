//! The byte encoding of the structured inputs, on top of `arbitrary`'s [`Unstructured`].
//!
//! The structured targets (`client_answers`, `server_requests`) read their input with these few
//! primitives only: a byte, a little-endian `u16`/`u32` (missing bytes read as zero, as
//! `arbitrary` does), and a blob (a `u16` length, then that many bytes or what is left). That
//! encoding is stable and simple, so [`Writer`] can write the same format and the seed corpora
//! can hold real protocol bodies (docs/protocol.md's examples) at known places. The derived
//! `Arbitrary` encoding has no writer: seeds for it could only be random.

use arbitrary::Unstructured;

/// Reads the structured inputs. Never fails: an exhausted input reads as zeros and empty blobs,
/// so every byte string is a valid input.
#[derive(Debug)]
pub struct Reader<'a> {
    u: Unstructured<'a>,
}

impl<'a> Reader<'a> {
    /// A reader over a fuzz input.
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            u: Unstructured::new(data),
        }
    }

    /// Whether the input is used up.
    pub fn is_empty(&self) -> bool {
        self.u.is_empty()
    }

    /// One byte (0 when the input is used up).
    pub fn byte(&mut self) -> u8 {
        self.u.arbitrary().unwrap_or(0)
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self) -> u16 {
        self.u.arbitrary().unwrap_or(0)
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self) -> u32 {
        self.u.arbitrary().unwrap_or(0)
    }

    /// One of `n` choices (`n` at least 1), from one byte.
    pub fn choose(&mut self, n: usize) -> usize {
        usize::from(self.byte()) % n.max(1)
    }

    /// Whether the next byte is odd.
    pub fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    /// A `u16` length, then that many bytes (or what is left).
    pub fn blob(&mut self) -> &'a [u8] {
        let len = usize::from(self.u16()).min(self.u.len());
        self.u.bytes(len).unwrap_or_default()
    }

    /// A blob as text (invalid UTF-8 replaced).
    pub fn text(&mut self) -> String {
        String::from_utf8_lossy(self.blob()).into_owned()
    }
}

/// Writes what [`Reader`] reads: used to make the seed corpora.
#[derive(Debug, Default)]
pub struct Writer {
    out: Vec<u8>,
}

impl Writer {
    /// An empty input.
    pub fn new() -> Self {
        Writer::default()
    }

    /// One byte.
    pub fn byte(&mut self, b: u8) -> &mut Self {
        self.out.push(b);
        self
    }

    /// A little-endian `u16`.
    pub fn u16(&mut self, v: u16) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A little-endian `u32`.
    pub fn u32(&mut self, v: u32) -> &mut Self {
        self.out.extend_from_slice(&v.to_le_bytes());
        self
    }

    /// A blob (at most `u16::MAX` bytes).
    pub fn blob(&mut self, bytes: &[u8]) -> &mut Self {
        let len = u16::try_from(bytes.len()).expect("a seed blob over 64 KiB");
        self.u16(len);
        self.out.extend_from_slice(bytes);
        self
    }

    /// The input.
    pub fn finish(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_writer_writes_what_the_reader_reads() {
        let bytes = Writer::new()
            .byte(7)
            .u16(513)
            .u32(70_000)
            .blob(b"{\"a\":1}")
            .byte(3)
            .finish();
        let mut r = Reader::new(&bytes);
        assert_eq!(r.byte(), 7);
        assert_eq!(r.u16(), 513);
        assert_eq!(r.u32(), 70_000);
        assert_eq!(r.blob(), b"{\"a\":1}");
        assert_eq!(r.choose(2), 1);
        assert!(r.is_empty());
        assert_eq!((r.byte(), r.u32(), r.blob()), (0, 0, &b""[..]));
    }

    #[test]
    fn a_short_input_reads_as_what_is_left() {
        let mut r = Reader::new(&[0xff, 0xff, b'a', b'b']);
        assert_eq!(r.blob(), b"ab");
    }
}
