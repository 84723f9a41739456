//! Writing a big file that will be fsynced at its end: its writeback to the disk is started
//! while it is written, step by step, so the final fsync waits only for the last step instead of
//! the whole file (a pulled layer's blob: the disk works while the download goes on).

use std::fs::File;
use std::io::{self, Write};
use std::os::fd::AsRawFd;

/// Bytes written between two starts of writeback.
const STEP: u64 = 8 << 20;

/// A file whose writeback starts every [`STEP`] bytes written through it.
pub(crate) struct EarlyWriteback {
    file: File,
    /// Bytes written to the file.
    written: u64,
    /// Bytes whose writeback was started.
    started: u64,
}

impl EarlyWriteback {
    /// Writes into `file` from its start.
    pub fn new(file: File) -> Self {
        Self { file, written: 0, started: 0 }
    }

    /// Flushes the file to the disk (fsync) and gives it back.
    pub fn sync(self) -> io::Result<File> {
        self.file.sync_all()?;
        Ok(self.file)
    }

    /// Starts the writeback of what was written since the last start.
    fn start_writeback(&mut self) {
        // SAFETY: a syscall on a descriptor this owns, passing no memory. It only asks the
        // kernel to start writing those pages: its failure (a file system without it) changes
        // nothing, the final fsync still writes and reports errors.
        unsafe {
            nix::libc::sync_file_range(self.file.as_raw_fd(), self.started as i64, (self.written - self.started) as i64, nix::libc::SYNC_FILE_RANGE_WRITE);
        }
        self.started = self.written;
    }
}

impl Write for EarlyWriteback {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.written += n as u64;
        if self.written - self.started >= STEP {
            self.start_writeback();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_everything_and_starts_writeback_at_each_step() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("blob");
        let mut file = EarlyWriteback::new(File::create(&path).unwrap());
        let chunk = vec![7u8; 3 << 20];
        for _ in 0..4 {
            file.write_all(&chunk).unwrap();
        }
        // 12 MiB written: the first 9 MiB (the writes that crossed 8 MiB) have their writeback
        // started, the rest waits for the fsync.
        assert_eq!((file.written, file.started), (12 << 20, 9 << 20));
        file.sync().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), chunk.repeat(4));
    }
}
