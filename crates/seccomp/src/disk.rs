//! Compiled filters kept on disk between processes: compiling Docker's default profile with
//! libseccomp takes about 11 ms, and every supervisor is a process of its own, so each would
//! compile it again. The BPF program is stored in a directory of the state root, one file per
//! key — the profile's content, the capability set, the architecture, the kernel version (the
//! profile's `minKernel` conditions) and libseccomp's version — and loading it then only reads
//! the bytes.
//!
//! A cache file is never trusted blindly: it starts with a magic header and the SHA-256 of the
//! program; one that is short, cut off, or whose program does not match its digest is compiled
//! again and rewritten (atomically: a temporary file renamed over it). Failing to write the
//! cache is not an error: the compiled filter is used all the same.

use std::io::Write;
use std::path::{Path, PathBuf};

use caps::Capability;
use nix::libc;
use sha2::{Digest, Sha256};

use crate::profile::Profile;

/// The first bytes of a cache file (its format's version is the last byte).
const MAGIC: &[u8; 8] = b"xcbpf\0\0\x01";

/// Bytes of a SHA-256 digest.
const DIGEST_LEN: usize = 32;

/// The kernel's limit on a filter's instructions (`BPF_MAXINSNS`).
const MAX_INSTRUCTIONS: usize = 4096;

/// Bytes of one BPF instruction.
const INSTRUCTION_LEN: usize = std::mem::size_of::<libc::sock_filter>();

/// The cache file of `profile` compiled for `caps` (sorted, without duplicates) on this host.
pub(crate) fn path(dir: &Path, profile: &Profile, caps: &[Capability], kernel: (u32, u32)) -> PathBuf {
    let mut key = Sha256::new();
    key.update(serde_json::to_vec(profile).expect("profiles serialise"));
    for cap in caps {
        key.update([cap.index()]);
    }
    let library = libseccomp::ScmpVersion::current().map(|v| format!("{}.{}.{}", v.major, v.minor, v.micro)).unwrap_or_default();
    key.update(format!("\n{}\n{}.{}\n{library}", std::env::consts::ARCH, kernel.0, kernel.1));
    dir.join(format!("{}.bpf", hex::encode(key.finalize())))
}

/// The program stored at `path`, if the file is there and whole.
pub(crate) fn read(path: &Path) -> Option<Vec<libc::sock_filter>> {
    let bytes = std::fs::read(path).ok()?;
    let rest = bytes.strip_prefix(MAGIC.as_slice())?;
    if rest.len() < DIGEST_LEN {
        return None;
    }
    let (digest, program) = rest.split_at(DIGEST_LEN);
    let whole = !program.is_empty() && program.len() % INSTRUCTION_LEN == 0 && program.len() / INSTRUCTION_LEN <= MAX_INSTRUCTIONS;
    (whole && Sha256::digest(program).as_slice() == digest).then(|| decode(program))
}

/// Stores `program` at `path` (a temporary file renamed over it, so a reader sees the old file
/// or the new one); a failure only means the next process compiles again.
pub(crate) fn write(path: &Path, program: &[libc::sock_filter]) {
    let Some(dir) = path.parent() else { return };
    let bytes = encode(program);
    let stored = std::fs::create_dir_all(dir).and_then(|()| {
        let mut file = tempfile::NamedTempFile::new_in(dir)?;
        file.write_all(MAGIC)?;
        file.write_all(&Sha256::digest(&bytes))?;
        file.write_all(&bytes)?;
        file.persist(path).map(drop).map_err(|e| e.error)
    });
    // A cache that cannot be written (read-only or full state root) costs time, not correctness.
    drop(stored);
}

/// The program as libseccomp exports it: each instruction in native byte order.
pub(crate) fn encode(program: &[libc::sock_filter]) -> Vec<u8> {
    let mut bytes = Vec::with_capacity(program.len() * INSTRUCTION_LEN);
    for insn in program {
        bytes.extend_from_slice(&insn.code.to_ne_bytes());
        bytes.extend_from_slice(&[insn.jt, insn.jf]);
        bytes.extend_from_slice(&insn.k.to_ne_bytes());
    }
    bytes
}

/// The instructions of `bytes` (whole instructions, native byte order).
pub(crate) fn decode(bytes: &[u8]) -> Vec<libc::sock_filter> {
    bytes
        .chunks_exact(INSTRUCTION_LEN)
        .map(|b| libc::sock_filter { code: u16::from_ne_bytes([b[0], b[1]]), jt: b[2], jf: b[3], k: u32::from_ne_bytes([b[4], b[5], b[6], b[7]]) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn program() -> Vec<libc::sock_filter> {
        vec![libc::sock_filter { code: 0x20, jt: 0, jf: 0, k: 4 }, libc::sock_filter { code: 0x06, jt: 1, jf: 2, k: 0x7fff_0000 }]
    }

    #[test]
    fn a_written_program_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/x.bpf");
        write(&file, &program());
        assert_eq!(read(&file).map(|p| encode(&p)), Some(encode(&program())));
    }

    #[test]
    fn a_damaged_file_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("x.bpf");
        write(&file, &program());
        let whole = std::fs::read(&file).unwrap();
        let mut flipped = whole.clone();
        *flipped.last_mut().unwrap() ^= 1;
        for damaged in [flipped, whole[..whole.len() - 3].to_vec(), whole[..MAGIC.len() + DIGEST_LEN].to_vec(), b"garbage".to_vec()] {
            std::fs::write(&file, &damaged).unwrap();
            assert!(read(&file).is_none(), "{damaged:?} was read");
        }
        assert!(read(&dir.path().join("missing.bpf")).is_none());
    }

    #[test]
    fn the_key_tells_profiles_and_capabilities_apart() {
        let dir = Path::new("/cache");
        let default = Profile::docker_default();
        let other = Profile::from_json(r#"{"defaultAction": "SCMP_ACT_ALLOW"}"#, "test").unwrap();
        let base = path(dir, &default, &[], (6, 1));
        assert_eq!(base, path(dir, &default, &[], (6, 1)));
        assert_ne!(base, path(dir, &other, &[], (6, 1)));
        assert_ne!(base, path(dir, &default, &[Capability::CAP_SYS_ADMIN], (6, 1)));
        assert_ne!(base, path(dir, &default, &[], (5, 10)));
    }
}
