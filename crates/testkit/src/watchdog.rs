//! The watchdog: a small shell process that owns a sandbox's two namespace holders and tears the
//! whole sandbox down when the test process lets go of it, by dropping the [`crate::Sandbox`] or
//! by dying in any way (panic, `exit`, `kill -9`).
//!
//! It works like this:
//!
//! - The test process keeps the only write end of a pipe (close-on-exec, so no other child
//!   inherits it); the watchdog's stdin is the read end. The watchdog blocks reading it, and the
//!   read ends when the write end is closed: on drop, or by the kernel when the test process dies.
//! - The watchdog runs in its own process group with SIGINT, SIGTERM, SIGHUP and SIGQUIT ignored,
//!   so a Ctrl-C that kills `cargo test` does not stop it before it has cleaned up.
//! - The holders are `unshare --net --mount --uts --propagation private sleep infinity`, started
//!   through `setpriv --pdeathsig KILL`, so they die with the watchdog if it is ever killed.
//! - The watchdog reports the holders' pids only once both run `sleep` (so `unshare` has made the
//!   namespaces and the mounts private) in namespaces that differ from its own. It then opens their
//!   namespace files, which keeps their identities stable.
//! - Teardown: stop and kill, repeatedly, every process in one of the sandbox's namespaces, every
//!   process carrying the sandbox's mark in its environment (see [`MARK_VAR`]), and all
//!   descendants of those; close the namespace files (the kernel then frees the namespaces and,
//!   with them, every interface, route and mount made inside); remove the sandbox's temporary
//!   directory, from the host's mount namespace.

use std::io::{BufRead, BufReader};
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// Environment variable set, to the sandbox's mark, for every program started in a sandbox or its
/// peer. Descendants inherit it, so a process that leaves all of the sandbox's namespaces (say,
/// `unshare --net --mount --fork`) and is re-parented away is still found at teardown.
pub(crate) const MARK_VAR: &str = "XTK_SANDBOX";

/// The watchdog script; `$1` is the sandbox's temporary directory, `$2` its mark (see
/// [`MARK_VAR`]).
const SCRIPT: &str = r#"
trap '' INT TERM HUP QUIT PIPE
dir=$1
mark=$2
me=$$
parent=$PPID
holder() {
  setpriv --pdeathsig KILL -- unshare --net --mount --uts --propagation private -- sleep infinity </dev/null >/dev/null 2>&1 &
}
# True once process $1 runs `sleep` in net, mnt and uts namespaces that are not the watchdog's.
ready() {
  c=
  read -r c 2>/dev/null </proc/$1/comm || return 1
  [ "$c" = sleep ] || return 1
  for k in net mnt uts; do
    [ -e /proc/$1/ns/$k ] || return 1
    [ /proc/$1/ns/$k -ef /proc/$me/ns/$k ] && return 1
  done
  return 0
}
# True once process $1 has exited (it stays a zombie until the watchdog reaps it).
gone() {
  line=
  read -r line 2>/dev/null </proc/$1/stat || return 0
  set -- ${line##*) }
  [ "$1" = Z ]
}
# True if process directory $1 is in one of the sandbox's namespaces (open as fds 3 to 8).
inside() {
  [ "$pinned" = 1 ] || return 1
  [ $1/ns/net -ef /proc/$me/fd/3 ] || [ $1/ns/mnt -ef /proc/$me/fd/4 ] || [ $1/ns/uts -ef /proc/$me/fd/5 ] ||
  [ $1/ns/net -ef /proc/$me/fd/6 ] || [ $1/ns/mnt -ef /proc/$me/fd/7 ] || [ $1/ns/uts -ef /proc/$me/fd/8 ]
}
# The processes in the sandbox, and every descendant of one of them.
victims() {
  v=" "
  for d in /proc/[0-9]*; do
    p=${d#/proc/}
    case $p in "$me"|"$parent"|1) continue ;; esac
    inside $d && v="$v$p "
  done
  # Processes started through the sandbox that left all its namespaces still carry its mark.
  for f in $(grep -lasz -F -x -e "XTK_SANDBOX=$mark" /proc/[0-9]*/environ); do
    p=${f#/proc/}
    p=${p%/environ}
    case $p in "$me"|"$parent"|1) continue ;; esac
    case $v in *" $p "*) ;; *) v="$v$p " ;; esac
  done
  [ "$v" = " " ] && return 0
  grew=1
  while [ $grew = 1 ]; do
    grew=0
    for d in /proc/[0-9]*; do
      p=${d#/proc/}
      case $p in "$me"|"$parent"|1) continue ;; esac
      case $v in *" $p "*) continue ;; esac
      line=
      read -r line 2>/dev/null <$d/stat || continue
      set -- ${line##*) }
      case $v in *" $2 "*) v="$v$p "; grew=1 ;; esac
    done
  done
}
teardown() {
  kill -KILL $s $p 2>/dev/null
  n=0
  while [ $n -lt 200 ]; do
    victims
    [ "$v" = " " ] && break
    kill -STOP $v 2>/dev/null
    kill -KILL $v 2>/dev/null
    n=$((n + 1))
    sleep 0.02
  done
  exec 3<&- 4<&- 5<&- 6<&- 7<&- 8<&-
  case $dir in /?*/xtk-?*) rm -rf -- "$dir" ;; esac
  wait
  exit 0
}
pinned=0
holder; s=$!
holder; p=$!
n=0
until ready $s && ready $p; do
  n=$((n + 1))
  if [ $n -gt 1000 ]; then
    echo "FAIL namespace holders did not start (unshare --net --mount --uts failed?)"
    teardown
  fi
  if gone $s || gone $p; then
    echo "FAIL a namespace holder exited (unshare --net --mount --uts failed?)"
    teardown
  fi
  sleep 0.01
done
exec 3</proc/$s/ns/net 4</proc/$s/ns/mnt 5</proc/$s/ns/uts 6</proc/$p/ns/net 7</proc/$p/ns/mnt 8</proc/$p/ns/uts
pinned=1
for k in 3 4 5 6 7 8; do
  for own in net mnt uts; do
    if [ /proc/$me/fd/$k -ef /proc/$me/ns/$own ]; then
      pinned=0
      echo "FAIL a holder shares the watchdog's $own namespace"
      teardown
    fi
  done
done
echo "READY $s $p"
exec >/dev/null
while read -r _; do :; done
teardown
"#;

/// Result of [`spawn`]: the watchdog, and whether its holders came up.
pub(crate) type Spawned = (Child, OwnedFd, anyhow::Result<(u32, u32)>);

/// Starts a watchdog that will remove `temp_dir` and kill what carries `mark` at teardown, and
/// waits until its holders are ready. The watchdog is returned even when the holders failed, so
/// the caller can tear it down.
pub(crate) fn spawn(temp_dir: &Path, mark: &str) -> anyhow::Result<Spawned> {
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(SCRIPT)
        .arg("xtk-watchdog")
        .arg(temp_dir)
        .arg(mark)
        .env_remove(MARK_VAR)
        .stdin(Stdio::from(read_end))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .process_group(0)
        .spawn()
        .map_err(|e| anyhow::anyhow!("cannot start the sandbox watchdog (sh): {e}"))?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let mut line = String::new();
    let ready = match BufReader::new(stdout).read_line(&mut line) {
        Err(e) => Err(anyhow::anyhow!("reading from the sandbox watchdog: {e}")),
        Ok(_) => parse_ready(line.trim_end()),
    };
    Ok((child, write_end, ready))
}

fn parse_ready(line: &str) -> anyhow::Result<(u32, u32)> {
    let mut words = line.split(' ');
    match (words.next(), words.next(), words.next(), words.next()) {
        (Some("READY"), Some(s), Some(p), None) => Ok((s.parse()?, p.parse()?)),
        _ => match line.strip_prefix("FAIL ") {
            Some(reason) => anyhow::bail!("sandbox watchdog: {reason}"),
            None => {
                anyhow::bail!("sandbox watchdog exited without reporting its holders ({line:?})")
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_lines_are_parsed() {
        assert_eq!(parse_ready("READY 12 34").unwrap(), (12, 34));
        let err = parse_ready("FAIL a holder exited").unwrap_err().to_string();
        assert_eq!(err, "sandbox watchdog: a holder exited");
        assert!(parse_ready("").is_err());
        assert!(parse_ready("READY 12").is_err());
    }
}
