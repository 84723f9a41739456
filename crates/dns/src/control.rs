//! The orchestrator's side of the resolver's control socket: after writing or removing a
//! container's client file, it asks the resolver to sync that container and waits for the
//! answer, so that the container never starts before its resolver listens.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

use crate::resolver::SYNC;
use crate::Error;

/// How long the resolver has to answer.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Has the resolver behind the control socket `control` serve container `id` as its client file
/// now says (or stop serving it if the file is gone); returns once it does.
pub fn sync(control: &Path, id: &str) -> Result<(), Error> {
    let err = |source| Error::Control { path: control.to_path_buf(), source };
    let mut stream = UnixStream::connect(control).map_err(err)?;
    stream.set_read_timeout(Some(TIMEOUT)).map_err(err)?;
    stream.set_write_timeout(Some(TIMEOUT)).map_err(err)?;
    stream.write_all(format!("{SYNC}{id}\n").as_bytes()).map_err(err)?;
    let mut reply = String::new();
    BufReader::new(stream).read_line(&mut reply).map_err(err)?;
    let reply = reply.trim_end();
    if reply == "ok" {
        return Ok(());
    }
    match reply.strip_prefix("error ") {
        Some(message) => Err(Error::Refused { id: id.to_string(), message: message.to_string() }),
        None => Err(err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("unexpected reply {reply:?}")))),
    }
}
