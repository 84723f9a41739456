//! The wait for a new supervisor: it writes a byte to its standard output (a pipe from the
//! runtime) once its container runs, and the start wakes on it instead of looking at the state
//! file every millisecond. The state file stays the truth: the notice only says when to look.

use std::io::{PipeReader, Read};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;

/// How long one wait lasts at most before the caller looks again (the supervisor may die
/// before it writes the notice while its keeper still holds the pipe open).
const LONGEST_WAIT: Duration = Duration::from_millis(10);

/// How long one wait lasts once the notice came or the pipe closed: as the polling before.
const AFTER_THE_NOTICE: Duration = Duration::from_millis(1);

/// The reading end of a supervisor's notice pipe, read by a thread of its own (the pipe has no
/// timeout; the thread ends with the first byte or the end of the pipe).
pub(crate) struct StartNotice(mpsc::Receiver<()>);

impl StartNotice {
    /// Starts reading `reader`.
    pub(crate) fn new(mut reader: PipeReader) -> StartNotice {
        let (sender, receiver) = mpsc::sync_channel(1);
        std::thread::spawn(move || {
            let _ = reader.read(&mut [0u8; 1]);
            let _ = sender.send(());
        });
        StartNotice(receiver)
    }

    /// Returns when the notice comes (or the pipe closes), after [`LONGEST_WAIT`] at most; once
    /// it has come, after [`AFTER_THE_NOTICE`].
    pub(crate) fn wait(&self) {
        if let Err(RecvTimeoutError::Disconnected) = self.0.recv_timeout(LONGEST_WAIT) {
            std::thread::sleep(AFTER_THE_NOTICE);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// Ample for a thread to pass a byte on, even on a loaded machine.
    const AMPLE: Duration = Duration::from_secs(10);

    #[test]
    fn the_notice_is_passed_on_once_while_the_writer_stays_open() {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let notice = StartNotice::new(reader);
        assert_eq!(notice.0.recv_timeout(Duration::from_millis(1)), Err(RecvTimeoutError::Timeout), "no notice yet");
        writer.write_all(b"\n").unwrap();
        assert_eq!(notice.0.recv_timeout(AMPLE), Ok(()));
        // The writer is still open (as a keeper holds its copy): later waits do not block on it.
        assert_eq!(notice.0.recv_timeout(AMPLE), Err(RecvTimeoutError::Disconnected));
        drop(writer);
    }

    #[test]
    fn a_pipe_closed_without_a_notice_ends_the_wait_too() {
        let (reader, writer) = std::io::pipe().unwrap();
        let notice = StartNotice::new(reader);
        drop(writer);
        assert_eq!(notice.0.recv_timeout(AMPLE), Ok(()));
        assert_eq!(notice.0.recv_timeout(AMPLE), Err(RecvTimeoutError::Disconnected));
    }
}
