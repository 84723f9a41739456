//! Container logs in Docker's `json-file` format, one JSON object per line, rotated by size.
//!
//! `{"log":"hello\n","stream":"stdout","time":"2026-11-25T03:12:00.123456789Z"}`
//!
//! When the file would grow past `max_size`, it becomes `<file>.1` (older ones shift up to
//! `<file>.<max_files-1>`, the oldest is deleted) and a new file starts; with `compress`, the
//! rotated files are gzipped (`<file>.1.gz`), as Docker's `json-file` and `local` drivers do.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// Docker's name of the stream: `stdout` or `stderr`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One log entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Entry {
    /// The line, with its newline.
    pub log: String,
    /// Its stream.
    pub stream: Stream,
    /// When it was read, RFC 3339 with nanoseconds.
    pub time: String,
}

/// Appends entries to a log file, rotating it by size.
#[derive(Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: File,
    size: u64,
    max_size: Option<u64>,
    max_files: u32,
    compress: bool,
}

/// How a container's output is kept (compose's `logging`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogOptions {
    /// Rotate past this size (`max-size`); none: never.
    pub max_size: Option<u64>,
    /// Files kept, the current one included (`max-file`).
    pub max_files: u32,
    /// Gzip the rotated files (`compress`).
    pub compress: bool,
    /// Keep nothing (the `none` driver).
    pub discard: bool,
}

impl Default for LogOptions {
    /// Docker's default `json-file`: one file, never rotated.
    fn default() -> Self {
        Self { max_size: None, max_files: 1, compress: false, discard: false }
    }
}

impl LogWriter {
    /// Opens (appending) `path`. `max_size` None means never rotate; `max_files` counts the
    /// current file too (Docker's `max-file`, at least 1).
    pub fn open(path: &Path, max_size: Option<u64>, max_files: u32) -> io::Result<Self> {
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        let size = file.metadata()?.len();
        Ok(Self { path: path.to_path_buf(), file, size, max_size, max_files: max_files.max(1), compress: false })
    }

    /// Gzips the files it rotates (`compress`).
    pub fn compressing(self, compress: bool) -> Self {
        Self { compress, ..self }
    }

    /// Writes one line read at `time`: whole, or (a failed write) not at all.
    pub fn write(&mut self, stream: Stream, line: &str, time: DateTime<Utc>) -> io::Result<()> {
        let entry = Entry { log: line.to_string(), stream, time: time.to_rfc3339_opts(SecondsFormat::Nanos, true) };
        let mut bytes = serde_json::to_vec(&entry).map_err(io::Error::other)?;
        bytes.push(b'\n');
        if let Some(max) = self.max_size {
            if self.size > 0 && self.size + bytes.len() as u64 > max {
                self.rotate()?;
            }
        }
        if let Err(e) = self.file.write_all(&bytes) {
            // A write cut short (a full disk) would leave half a JSON line that every later
            // read trips on: cut the file back to its last whole line. Best effort: the write's
            // own error is what the caller sees.
            let _ = self.file.set_len(self.size);
            return Err(e);
        }
        self.size += bytes.len() as u64;
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        let suffix = if self.compress { ".gz" } else { "" };
        let numbered = |n: u32| PathBuf::from(format!("{}.{n}{suffix}", self.path.display()));
        if self.max_files <= 1 {
            self.file.set_len(0)?;
            self.size = 0;
            return Ok(());
        }
        let _ = std::fs::remove_file(numbered(self.max_files - 1));
        for n in (1..self.max_files - 1).rev() {
            let from = numbered(n);
            if from.exists() {
                std::fs::rename(&from, numbered(n + 1))?;
            }
        }
        if self.compress {
            gzip(&self.path, &numbered(1))?;
            std::fs::remove_file(&self.path)?;
        } else {
            std::fs::rename(&self.path, numbered(1))?;
        }
        self.file = OpenOptions::new().create(true).append(true).open(&self.path)?;
        self.size = 0;
        Ok(())
    }
}

/// Writes `from` gzipped to `to` (through a temporary file, so a reader never sees half of it).
fn gzip(from: &Path, to: &Path) -> io::Result<()> {
    let dir = to.parent().unwrap_or(Path::new("."));
    let tmp = tempfile::NamedTempFile::new_in(dir)?;
    let mut encoder = flate2::write::GzEncoder::new(tmp, flate2::Compression::default());
    io::copy(&mut File::open(from)?, &mut encoder)?;
    encoder.finish()?.persist(to).map_err(|e| e.error)?;
    Ok(())
}

/// Reads the entries of a log, oldest rotated file first (gzipped ones too).
pub fn read_all(path: &Path) -> io::Result<Vec<Entry>> {
    let mut files: Vec<PathBuf> = Vec::new();
    let mut n = 1;
    loop {
        let plain = PathBuf::from(format!("{}.{n}", path.display()));
        let gzipped = PathBuf::from(format!("{}.{n}.gz", path.display()));
        match [plain, gzipped].into_iter().find(|p| p.exists()) {
            Some(p) => files.push(p),
            None => break,
        }
        n += 1;
    }
    files.reverse();
    files.push(path.to_path_buf());
    let mut entries = Vec::new();
    for f in files {
        let read = File::open(&f).and_then(|file| {
            let mut text = String::new();
            if f.extension().is_some_and(|e| e == "gz") {
                io::Read::read_to_string(&mut flate2::read::GzDecoder::new(file), &mut text)?;
            } else {
                io::Read::read_to_string(&mut { file }, &mut text)?;
            }
            Ok(text)
        });
        let text = match read {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for line in text.lines().filter(|l| !l.is_empty()) {
            entries.push(serde_json::from_str(line).map_err(io::Error::other)?);
        }
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_docker_json_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut w = LogWriter::open(&path, None, 1).unwrap();
        let t = DateTime::parse_from_rfc3339("2026-11-25T03:12:00.5Z").unwrap().with_timezone(&Utc);
        w.write(Stream::Stdout, "hello \"x\"\n", t).unwrap();
        w.write(Stream::Stderr, "oops\n", t).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(
            text,
            "{\"log\":\"hello \\\"x\\\"\\n\",\"stream\":\"stdout\",\"time\":\"2026-11-25T03:12:00.500000000Z\"}\n{\"log\":\"oops\\n\",\"stream\":\"stderr\",\"time\":\"2026-11-25T03:12:00.500000000Z\"}\n"
        );
        assert_eq!(read_all(&path).unwrap().len(), 2);
    }

    #[test]
    fn rotates_by_size_keeping_max_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut w = LogWriter::open(&path, Some(200), 3).unwrap();
        for i in 0..20 {
            w.write(Stream::Stdout, &format!("line {i:02}\n"), Utc::now()).unwrap();
        }
        assert!(std::fs::metadata(&path).unwrap().len() <= 200);
        assert!(dir.path().join("c.log.1").exists() && dir.path().join("c.log.2").exists());
        assert!(!dir.path().join("c.log.3").exists());
        let entries = read_all(&path).unwrap();
        // The newest lines survive, in order.
        assert_eq!(entries.last().unwrap().log, "line 19\n");
        let numbers: Vec<u32> = entries.iter().map(|e| e.log[5..7].parse().unwrap()).collect();
        assert!(numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    }

    #[test]
    fn compressed_rotations_are_gzipped_and_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let mut w = LogWriter::open(&path, Some(200), 3).unwrap().compressing(true);
        for i in 0..20 {
            w.write(Stream::Stdout, &format!("line {i:02}\n"), Utc::now()).unwrap();
        }
        let gz = std::fs::read(dir.path().join("c.log.1.gz")).unwrap();
        assert_eq!(&gz[..2], &[0x1f, 0x8b], "gzip magic");
        assert!(dir.path().join("c.log.2.gz").exists() && !dir.path().join("c.log.3.gz").exists() && !dir.path().join("c.log.1").exists());
        let entries = read_all(&path).unwrap();
        assert_eq!(entries.last().unwrap().log, "line 19\n");
        let numbers: Vec<u32> = entries.iter().map(|e| e.log[5..7].parse().unwrap()).collect();
        assert!(numbers.len() > 3 && numbers.windows(2).all(|w| w[1] == w[0] + 1), "{numbers:?}");
    }
}
