//! Where a large for_each step's item outputs wait for the report.
//!
//! A run keeps every item's envelope until it ends (the report prints them, later steps read
//! `steps.<id>.envelopes`). For a step of a hundred thousand gets that is most of the run's
//! memory, so past an allowance of output text held in memory ([`SPILL_AFTER_BYTES`] per step
//! by default) each further item's output text is written to a temporary file the step owns,
//! and the item keeps only where it is. Reading an item back is one positioned read.
//!
//! The file is unnamed (made with `O_TMPFILE` where the system has it, otherwise removed as
//! soon as it is made), readable by this process alone, and gone when the last item that
//! points into it is dropped. If the file cannot be made or written, items stay in memory:
//! spilling only ever saves memory, it never loses an output.
use std::io;
use std::sync::Arc;

/// Output text a for_each step holds in memory before its further items' outputs go to the
/// step's temporary file.
pub const SPILL_AFTER_BYTES: usize = 8 << 20;

/// One step's temporary file of output texts, shared by the items that point into it.
#[derive(Debug)]
pub(crate) struct SpillFile {
    file: std::fs::File,
}

impl SpillFile {
    #[cfg(unix)]
    fn write_at(&self, text: &[u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::write_all_at(&self.file, text, offset)
    }

    #[cfg(unix)]
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(&self.file, buf, offset)
    }

    // Positioned reads and writes are what let items be read while others are written;
    // elsewhere nothing is spilled (`Spill::new` makes no file).
    #[cfg(not(unix))]
    fn write_at(&self, _text: &[u8], _offset: u64) -> io::Result<()> {
        Err(io::Error::other("spilling needs positioned file I/O"))
    }

    #[cfg(not(unix))]
    fn read_at(&self, _buf: &mut [u8], _offset: u64) -> io::Result<()> {
        Err(io::Error::other("spilling needs positioned file I/O"))
    }
}

/// One item's output text, in its step's temporary file.
#[derive(Debug, Clone)]
pub(crate) struct SpilledText {
    file: Arc<SpillFile>,
    offset: u64,
    len: u32,
}

impl SpilledText {
    /// The text, read back from the file.
    pub(crate) fn read(&self) -> io::Result<String> {
        let mut buf = vec![0; self.len as usize];
        self.file.read_at(&mut buf, self.offset)?;
        String::from_utf8(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// Decides, item by item, whether an output stays in memory or goes to the step's file.
#[derive(Debug)]
pub(crate) struct Spill {
    /// Output text still allowed in memory.
    allowance: usize,
    /// Made at the first item past the allowance.
    file: Option<Arc<SpillFile>>,
    /// Where the next text goes.
    end: u64,
    /// The file could not be made or written: everything stays in memory from then on.
    broken: bool,
}

impl Spill {
    /// A step that may hold `allowance` bytes of output text in memory.
    pub(crate) fn new(allowance: usize) -> Self {
        Spill {
            allowance,
            file: None,
            end: 0,
            broken: cfg!(not(unix)),
        }
    }

    /// Keeps `text` in memory while the allowance lasts; past it, writes it to the file and
    /// returns where. `None` means: keep it in memory.
    pub(crate) fn place(&mut self, text: &str) -> Option<SpilledText> {
        if text.len() <= self.allowance || self.broken {
            self.allowance = self.allowance.saturating_sub(text.len());
            return None;
        }
        let len = u32::try_from(text.len()).ok()?;
        let file = match &self.file {
            Some(file) => file.clone(),
            None => match tempfile::tempfile() {
                Ok(file) => self.file.insert(Arc::new(SpillFile { file })).clone(),
                Err(_) => {
                    self.broken = true;
                    return None;
                }
            },
        };
        if file.write_at(text.as_bytes(), self.end).is_err() {
            // A full disk: what was written stays readable, the rest stays in memory.
            self.broken = true;
            return None;
        }
        let offset = self.end;
        self.end += u64::from(len);
        Some(SpilledText { file, offset, len })
    }
}

/// An item whose text cannot be read back (its place lies past the end of an empty file), for
/// tests of what the report says then.
#[cfg(all(test, unix))]
pub(crate) fn unreadable() -> SpilledText {
    SpilledText {
        file: Arc::new(SpillFile {
            file: tempfile::tempfile().expect("a temporary file"),
        }),
        offset: 64,
        len: 8,
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn texts_past_the_allowance_go_to_the_file_and_read_back() {
        let mut spill = Spill::new(10);
        assert!(spill.place("{\"a\":1}").is_none(), "7 of 10 bytes: in memory");
        let first = spill.place("{\"b\":2}").expect("past the allowance");
        let second = spill.place("{\"name\":\"Zoë\"}").expect("past the allowance");
        assert_eq!(first.read().unwrap(), "{\"b\":2}");
        assert_eq!(second.read().unwrap(), "{\"name\":\"Zoë\"}");
        assert_eq!(second.offset, 7);
        // Reading does not move anything: read again, in another order.
        assert_eq!(first.read().unwrap(), "{\"b\":2}");
    }

    #[test]
    fn a_zero_allowance_spills_every_text() {
        let mut spill = Spill::new(0);
        let text = spill.place("null").expect("spilled");
        let list = spill.place("[]").expect("spilled");
        assert_eq!(text.read().unwrap(), "null");
        assert_eq!(list.read().unwrap(), "[]");
    }

    #[test]
    fn a_file_that_cannot_be_written_keeps_texts_in_memory() {
        let mut spill = Spill::new(0);
        // A file opened read-only: every write fails, as on a full disk.
        let path = tempfile::NamedTempFile::new().unwrap();
        spill.file = Some(Arc::new(SpillFile {
            file: std::fs::File::open(path.path()).unwrap(),
        }));
        assert!(spill.place("{\"a\":1}").is_none());
        assert!(spill.broken);
        assert!(spill.place("{\"b\":2}").is_none(), "stays in memory from then on");
    }
}
