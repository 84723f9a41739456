//! The terminal of a container's main process (`tty: true`), made as runc makes it: inside the
//! container, from its own `/dev/ptmx`, so that its stdin is one of its own `/dev/pts/N`; the
//! master side goes back to the caller over a unix socket (the "console socket").

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::fcntl::OFlag;
use nix::sys::socket::{recvmsg, sendmsg, ControlMessage, ControlMessageOwned, MsgFlags};

/// In the container, after its /dev is mounted: opens a terminal, makes its slave side the
/// process's controlling terminal and stdin, stdout and stderr, and sends the master over `socket`.
pub(crate) fn make_terminal(socket: OwnedFd) -> Result<(), String> {
    let master = nix::pty::posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC).map_err(|e| format!("opening /dev/ptmx: {e}"))?;
    nix::pty::grantpt(&master).map_err(|e| format!("grantpt: {e}"))?;
    nix::pty::unlockpt(&master).map_err(|e| format!("unlockpt: {e}"))?;
    let name = nix::pty::ptsname_r(&master).map_err(|e| format!("ptsname: {e}"))?;
    let slave: OwnedFd = nix::fcntl::open(name.as_str(), OFlag::O_RDWR | OFlag::O_NOCTTY, nix::sys::stat::Mode::empty()).map_err(|e| format!("opening {name}: {e}"))?;
    nix::unistd::setsid().map_err(|e| format!("setsid: {e}"))?;
    // SAFETY: TIOCSCTTY on a terminal descriptor we own; no memory is passed.
    if unsafe { nix::libc::ioctl(slave.as_raw_fd(), nix::libc::TIOCSCTTY, 0) } != 0 {
        return Err(format!("making {name} the controlling terminal: {}", std::io::Error::last_os_error()));
    }
    let stdio = crate::spawn::Stdio { stdin: Some(dup(&slave)?), stdout: Some(dup(&slave)?), stderr: Some(slave) };
    if let Some(e) = crate::spawn::wire_stdio(stdio) {
        return Err(e);
    }
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(socket.as_raw_fd(), &[IoSlice::new(b"t")], &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None).map_err(|e| format!("sending the terminal: {e}"))?;
    Ok(())
}

fn dup(fd: &OwnedFd) -> Result<OwnedFd, String> {
    fd.try_clone().map_err(|e| format!("dup: {e}"))
}

/// The caller's side: the master of the terminal the container made, once it has sent it
/// (after a successful start); `None` if it sent none.
pub fn receive_terminal(socket: &OwnedFd) -> Result<Option<OwnedFd>, String> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!(RawFd);
    let msg = recvmsg::<()>(socket.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC).map_err(|e| format!("receiving the terminal: {e}"))?;
    for cmsg in msg.cmsgs().map_err(|e| format!("receiving the terminal: {e}"))? {
        if let ControlMessageOwned::ScmRights(fds) = cmsg {
            if let Some(fd) = fds.first() {
                // SAFETY: the kernel just installed this descriptor in our table for us.
                return Ok(Some(unsafe { OwnedFd::from_raw_fd(*fd) }));
            }
        }
    }
    Ok(None)
}

/// A connected pair of unix sockets for [`crate::spawn_with_terminal`]: (the caller's end, the container's).
pub fn console_socket() -> Result<(OwnedFd, OwnedFd), String> {
    nix::sys::socket::socketpair(nix::sys::socket::AddressFamily::Unix, nix::sys::socket::SockType::Stream, None, nix::sys::socket::SockFlag::SOCK_CLOEXEC)
        .map_err(|e| format!("socketpair: {e}"))
}
