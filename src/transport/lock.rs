//! The host lock: two stead runs against one host at once (a timer and a
//! person) would interleave their changes, so a run holds a lock on each
//! host it works on, and a second run refuses that host (or waits, with
//! `--lock-wait`), naming the holder.
//!
//! The lock costs no exec of its own: its prelude rides on the first
//! command of the host's connection. It takes `flock` on a file (by
//! default `/run/lock/stead.lock`; a `mkdir` lock where `flock` is missing)
//! and hands it to a small background process on the host that keeps it
//! while the connection's sshd process lives. The lock is thus released
//! when the run closes its connection, and also when the controller dies
//! (ssh's master exits after `ControlPersist`, its sshd process with it),
//! or when someone removes the lock file.
//!
//! The prelude prints nothing on stdout and leaves the script's shell as it
//! found it but for variables and functions named `__stead*`; it must never
//! make a host unusable: where no lock can be opened at all, the run goes on
//! without one.

use super::quote::quote;

/// The exit status of a first command whose host is locked by another run.
pub const BUSY_STATUS: i32 = 75;
/// The first word of the stderr line that names the holder.
pub const BUSY_MARKER: &str = "stead-lock-busy ";

/// Added to every wait: a holder notices its run's end within a second,
/// so a run that starts right after another one ended waits this long
/// rather than being refused.
pub const GRACE_SECS: u64 = 2;

/// The default lock file.
pub const DEFAULT_PATH: &str = "/run/lock/stead.lock";

/// How a connection locks its host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostLock {
    /// The lock file on the host.
    pub path: String,
    /// Who holds it, as another run will be told: user, controller, pid,
    /// start time, command.
    pub holder: String,
    /// How long to wait for another run's lock, in seconds, beyond
    /// [`GRACE_SECS`] (0: refuse after the grace).
    pub wait_secs: u64,
}

impl HostLock {
    /// The shell lines that take the lock, to run before the first script.
    pub fn prelude(&self) -> String {
        format!(
            "__stead_l={path}\n__stead_h={holder}\n__stead_w={wait}\n{BODY}",
            path = quote(&self.path),
            holder = quote(&self.holder),
            wait = self.wait_secs + GRACE_SECS,
        )
    }
}

/// The holder named in a first command's stderr, when the host was locked.
pub fn busy_holder(status: i32, stderr: &[u8]) -> Option<String> {
    if status != BUSY_STATUS {
        return None;
    }
    let text = String::from_utf8_lossy(stderr);
    text.lines().find_map(|l| l.strip_prefix(BUSY_MARKER)).map(|h| h.trim().to_owned())
}

/// The lock itself (POSIX sh). `__stead_p` becomes the connection's sshd
/// process: the nearest ancestor called `sshd*` where /proc tells, else
/// the parent.
const BODY: &str = r#"__stead_parent() { set -- $1; printf '%s' "$2"; }
__stead_p=$PPID
__stead_q=$PPID
while [ -r "/proc/$__stead_q/stat" ] && [ "$__stead_q" -gt 1 ]; do
  case $(cat "/proc/$__stead_q/comm" 2>/dev/null) in sshd*) __stead_p=$__stead_q; break ;; esac
  __stead_s=$(cat "/proc/$__stead_q/stat" 2>/dev/null) || break
  __stead_q=$(__stead_parent "${__stead_s##*) }")
done
__stead_alive() { [ -e "$1" ] && { [ -d "/proc/$__stead_p" ] || kill -0 "$__stead_p" 2>/dev/null; }; }
__stead_busy() { printf 'stead-lock-busy %s\n' "${1:-another stead run}" >&2; exit 75; }
__stead_d=${__stead_l%/*}
[ -d "$__stead_d" ] || mkdir -p -- "$__stead_d" 2>/dev/null || :
if command -v flock >/dev/null 2>&1; then
  # A failed redirection of `exec` would end the shell: test first, and
  # `command` keeps a failure from doing so anyway.
  __stead_o=
  if [ -w "$__stead_l" ] || { [ ! -e "$__stead_l" ] && [ -w "$__stead_d" ]; }; then
    { command exec 9>>"$__stead_l"; } 2>/dev/null && __stead_o=1
  elif [ -r "$__stead_l" ]; then
    { command exec 9<"$__stead_l"; } 2>/dev/null && __stead_o=1
  fi
  if [ -n "$__stead_o" ]; then
    flock -w "$__stead_w" 9 || __stead_busy "$(cat -- "$__stead_l.holder" 2>/dev/null)"
    # Renamed into place, never written through a name someone else may
    # have planted (the lock folder is often world-writable).
    if __stead_t=$(mktemp "$__stead_l.XXXXXX" 2>/dev/null); then
      printf '%s\n' "$__stead_h" >"$__stead_t" && mv -f -- "$__stead_t" "$__stead_l.holder" 2>/dev/null || rm -f -- "$__stead_t"
    fi
    (while __stead_alive "$__stead_l"; do sleep 1; done) </dev/null >/dev/null 2>&1 &
    exec 9>&-
  fi
else
  __stead_n=0
  while ! mkdir -- "$__stead_l.d" 2>/dev/null; do
    __stead_o=$(cat -- "$__stead_l.d/pid" 2>/dev/null)
    if [ -n "$__stead_o" ] && [ -d /proc/1 ] && [ ! -d "/proc/$__stead_o" ]; then
      rm -rf -- "$__stead_l.d"
      continue
    fi
    [ "$__stead_n" -lt "$__stead_w" ] || __stead_busy "$(cat -- "$__stead_l.d/holder" 2>/dev/null)"
    __stead_n=$((__stead_n + 1))
    sleep 1
  done
  printf '%s\n' "$__stead_h" >"$__stead_l.d/holder"
  (while __stead_alive "$__stead_l.d"; do sleep 1; done; rm -rf -- "$__stead_l.d") </dev/null >/dev/null 2>&1 &
  echo $! >"$__stead_l.d/pid"
fi
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_holder_is_read_from_the_busy_line_only() {
        assert_eq!(busy_holder(75, b"x\nstead-lock-busy ci@runner (pid 7)\n"), Some("ci@runner (pid 7)".into()));
        assert_eq!(busy_holder(75, b"some other failure\n"), None);
        assert_eq!(busy_holder(1, b"stead-lock-busy ci@runner\n"), None);
    }

    #[test]
    fn the_prelude_quotes_what_it_is_given() {
        let lock = HostLock { path: "/run/lock/a b.lock".into(), holder: "x'; rm -rf /".into(), wait_secs: 3 };
        let p = lock.prelude();
        assert!(p.starts_with("__stead_l='/run/lock/a b.lock'\n__stead_h='x'\\''; rm -rf /'\n__stead_w=5\n"), "{p}");
    }

    /// The prelude against this machine's sh, in a temporary directory:
    /// a second taker is refused while the first holder's parent lives.
    /// A lock folder nobody may write to: the run goes on without a lock.
    #[test]
    fn an_unusable_lock_folder_is_skipped_not_fatal() {
        let lock = HostLock { path: "/proc/stead-no/such.lock".into(), holder: "h".into(), wait_secs: 0 };
        let out =
            std::process::Command::new("sh").arg("-c").arg(format!("{}\necho ran", lock.prelude())).output().unwrap();
        assert_eq!(String::from_utf8_lossy(&out.stdout), "ran\n", "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.status.success());
    }

    #[test]
    fn a_second_taker_is_refused_while_the_first_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let lock = HostLock {
            path: dir.path().join("stead.lock").display().to_string(),
            holder: "first".into(),
            wait_secs: 0,
        };
        // The first taker's shell stays alive (sleep) while the second tries.
        let mut first = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("{}\necho taken\nsleep 3", lock.prelude()))
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(first.stdout.take().unwrap()), &mut line).unwrap();
        assert_eq!(line, "taken\n");
        let second = HostLock { holder: "second".into(), ..lock.clone() };
        let out =
            std::process::Command::new("sh").arg("-c").arg(format!("{}\necho ran", second.prelude())).output().unwrap();
        assert_eq!(out.status.code(), Some(BUSY_STATUS));
        assert_eq!(busy_holder(BUSY_STATUS, &out.stderr).as_deref(), Some("first"));
        assert!(out.stdout.is_empty());
        let _ = first.kill();
        let _ = first.wait();
    }
}
