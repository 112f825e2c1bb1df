//! Bounded line reading: a line longer than the bound is consumed and counted, never held.
//!
//! Used by the file readers and by anything else that reads lines from untrusted input (the
//! CLI's stdin), so that a line without end costs a bounded buffer.

use std::io::{self, BufRead};

/// One physical line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line {
    /// The line's bytes without its end (`\n`, `\r\n`, or the `\r\r\n` some exporters write).
    Text,
    /// A line over the bound: only its first `max` bytes are in the buffer.
    Overlong,
}

/// Reads lines of at most `max` bytes from a `BufRead`, and counts them.
#[derive(Debug)]
pub struct LineReader<R> {
    inner: R,
    max: usize,
    line_no: usize,
    started: bool,
    /// A byte to count over whole lines, including the part of an over-long line not kept.
    counted: Option<u8>,
    count: usize,
}

impl<R: BufRead> LineReader<R> {
    /// A reader of lines of at most `max` bytes (a UTF-8 BOM at the very start is dropped).
    pub fn new(inner: R, max: usize) -> Self {
        LineReader {
            inner,
            max: max.max(1),
            line_no: 0,
            started: false,
            counted: None,
            count: 0,
        }
    }

    /// Also counts `byte` in every line, over the whole line even when it is over-long (the CSV
    /// reader counts quotes this way to know whether a record goes on).
    #[must_use]
    pub fn counting(mut self, byte: u8) -> Self {
        self.counted = Some(byte);
        self
    }

    /// How many times the counted byte occurs in the line last returned.
    pub fn count(&self) -> usize {
        self.count
    }

    /// 1-based number of the line last returned.
    pub fn line_no(&self) -> usize {
        self.line_no
    }

    /// Reads the next line into `buf` (cleared first). `None` at the end of input.
    pub fn next_line(&mut self, buf: &mut Vec<u8>) -> io::Result<Option<Line>> {
        buf.clear();
        self.count = 0;
        let mut overlong = false;
        let mut any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                break;
            }
            any = true;
            let (chunk, done) = match available.iter().position(|&b| b == b'\n') {
                Some(i) => (&available[..i], i + 1),
                None => (available, available.len()),
            };
            if let Some(byte) = self.counted {
                self.count += chunk.iter().filter(|&&b| b == byte).count();
            }
            let room = self.max.saturating_sub(buf.len());
            if chunk.len() > room {
                overlong = true;
            }
            buf.extend_from_slice(&chunk[..chunk.len().min(room)]);
            let found_end = done > chunk.len();
            self.inner.consume(done);
            if found_end {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.line_no += 1;
        while buf.last() == Some(&b'\r') {
            buf.pop();
        }
        if !self.started {
            self.started = true;
            if buf.starts_with(b"\xEF\xBB\xBF") {
                buf.drain(..3);
            }
        }
        Ok(Some(if overlong { Line::Overlong } else { Line::Text }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufReader, Cursor};

    #[test]
    fn bounds_and_line_ends() {
        let mut input = b"\xEF\xBB\xBFone\r\r\ntwo\r\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 10_000));
        input.extend_from_slice(b"\nlast");
        // A tiny BufReader capacity exercises lines that span many buffer fills.
        let mut r = LineReader::new(BufReader::with_capacity(7, Cursor::new(input)), 100);
        let mut buf = Vec::new();
        assert_eq!(r.next_line(&mut buf).unwrap(), Some(Line::Text));
        assert_eq!(buf, b"one");
        assert_eq!(r.next_line(&mut buf).unwrap(), Some(Line::Text));
        assert_eq!(buf, b"two");
        assert_eq!(r.next_line(&mut buf).unwrap(), Some(Line::Overlong));
        assert_eq!(buf.len(), 100);
        assert_eq!(r.next_line(&mut buf).unwrap(), Some(Line::Text));
        assert_eq!(buf, b"last");
        assert_eq!(r.line_no(), 4);
        assert_eq!(r.next_line(&mut buf).unwrap(), None);
    }
}
