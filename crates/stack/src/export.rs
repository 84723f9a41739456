//! `export`: a container's filesystem as a tar stream, as `docker export` writes it: its root
//! without what is mounted on it (volumes, `/proc`, `/sys`, `/dev`: their mount points are
//! archived empty).

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::copy::{in_container, write_tar_within, ContainerFs, Flow};
use crate::{Stack, StackError};

/// The mount points of a process's mount table (`/proc/PID/mountinfo`'s fifth field, relative
/// to its root, with the kernel's octal escapes of spaces and the like decoded), `/` left out.
fn mount_points(mountinfo: &str) -> Vec<PathBuf> {
    mountinfo
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(unescape)
        .filter(|p| p != "/")
        .map(PathBuf::from)
        .collect()
}

/// Decodes mountinfo's `\\ooo` escapes.
fn unescape(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes.get(i + 1..i + 4).and_then(|d| std::str::from_utf8(d).ok()).and_then(|d| u8::from_str_radix(d, 8).ok());
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Stack {
    /// Writes the filesystem of container `id` to `out` as a tar.
    pub fn export(&self, id: &str, out: &mut dyn Write) -> Result<(), StackError> {
        let fs = self.container_fs(id)?;
        let skip = match &fs {
            ContainerFs::Running(pid) => {
                let path = PathBuf::from(format!("/proc/{pid}/mountinfo"));
                mount_points(&std::fs::read_to_string(&path).map_err(StackError::io(&path))?)
            }
            ContainerFs::Stopped(..) => Vec::new(),
        };
        in_container(&fs, Flow::Out, |pipe| write_tar_within(Path::new("/"), "", &skip, pipe).map_err(|e| e.to_string()), |mut pipe| {
            std::io::copy(&mut pipe, out).map(drop)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_points_come_from_mountinfo() {
        let table = "1 0 0:1 / / rw - overlay overlay rw\n2 1 0:2 / /proc rw - proc proc rw\n3 1 8:1 /v /my\\040data rw - ext4 /dev/sda1 rw\n";
        assert_eq!(mount_points(table), vec![PathBuf::from("/proc"), PathBuf::from("/my data")]);
    }
}
