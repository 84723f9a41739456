//! Installing a compiled BPF program in the calling thread.

use nix::libc;

/// Installs `program` with `seccomp(SECCOMP_SET_MODE_FILTER)`. Without `no_new_privs` set the
/// caller needs CAP_SYS_ADMIN, so a container's filter goes in before its capabilities are
/// dropped (as runc does), and after them only when `no_new_privs` is on.
pub(crate) fn install(program: &[libc::sock_filter]) -> std::io::Result<()> {
    let len = u16::try_from(program.len()).map_err(|_| std::io::Error::other(format!("a filter of {} instructions is too long", program.len())))?;
    let prog = libc::sock_fprog { len, filter: program.as_ptr().cast_mut() };
    // SAFETY: `prog` points at `program`, alive for the call; the kernel copies the program.
    let rc = unsafe { libc::syscall(libc::SYS_seccomp, libc::SECCOMP_SET_MODE_FILTER, 0, &prog as *const libc::sock_fprog) };
    if rc != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
