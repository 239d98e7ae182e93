//! Tier B test hosts (CONTRACT §7): isolated `sshd` servers, each in its own
//! network, mount, UTS and PID namespaces over an overlay of this machine's
//! `/`, started by `scripts/testhosts` (which a person can also run by hand).
//!
//! Tier-B tests need root. Elsewhere they print why they are skipped and
//! pass; under CI (`CI=true`) a skip is a failure, so a green CI run always
//! means the hosts were used. Dropping [`TestHosts`] tears the run down,
//! also when the test panics; a run whose test process was killed is
//! removed by the next one.

use std::collections::BTreeMap;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;
use sha2::{Digest, Sha256};

use super::builder::Test;

/// The harness script, from the source tree.
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/testhosts");

/// Upper-directory paths that change by merely logging in, left out of
/// [`TestHosts::upper_hash`].
const LOGIN_RECORDS: &[&str] = &["var/log", "var/lib/sudo", "root/.ansible"];

/// How a run's hosts are built.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Hide every Python interpreter from the hosts.
    pub no_python: bool,
    /// Make a reboot a simulation (`scripts/testhosts --rebootable`): each
    /// host has a boot id of its own, and its `shutdown`/`reboot` kill its
    /// sshd (which comes back at once) and give it a new boot id.
    pub rebootable: bool,
}

/// One Tier-B host of a run.
#[derive(Clone, Debug)]
pub struct TestHost {
    /// `host1`, `host2`, ...: the host's own hostname.
    pub name: String,
    /// Its address in the run's /24.
    pub ip: String,
    upper: PathBuf,
}

impl TestHost {
    /// Whether a TCP connection from the controller to the host's `port` is
    /// accepted within 1.5 s (a port a firewall drops times out).
    pub fn answers(&self, port: u16) -> bool {
        let addr = std::net::SocketAddr::new(self.ip.parse().expect("host address"), port);
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(1500)).is_ok()
    }
}

/// A running set of Tier-B hosts, torn down on drop.
pub struct TestHosts {
    dir: PathBuf,
    hosts: Vec<TestHost>,
}

impl TestHosts {
    /// Starts `count` hosts, or returns `None` (after saying why) where
    /// Tier-B hosts cannot run. Panics under CI instead of skipping.
    pub fn up(count: usize) -> Option<TestHosts> {
        Self::up_with(count, Options::default())
    }

    /// Like [`TestHosts::up`], with options.
    pub fn up_with(count: usize, options: Options) -> Option<TestHosts> {
        if let Some(reason) = unavailable() {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "Tier-B test skipped under CI: {reason}");
            eprintln!("skipped: {reason}");
            return None;
        }
        let mut cmd = Command::new("bash");
        cmd.arg(SCRIPT).arg("up").arg("--owner").arg(std::process::id().to_string());
        if options.no_python {
            cmd.arg("--no-python");
        }
        if options.rebootable {
            cmd.arg("--rebootable");
        }
        let out = cmd.arg(count.to_string()).stdin(Stdio::null()).output().expect("run scripts/testhosts");
        assert!(
            out.status.success(),
            "scripts/testhosts up {count} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().lines().last().unwrap_or("").to_owned());
        let listing = std::fs::read_to_string(dir.join("hosts")).expect("read the run's hosts file");
        let hosts = listing
            .lines()
            .map(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                assert_eq!(fields.len(), 5, "bad hosts line {line:?}");
                TestHost { name: fields[0].into(), ip: fields[1].into(), upper: fields[3].into() }
            })
            .collect::<Vec<_>>();
        assert_eq!(hosts.len(), count, "scripts/testhosts started {} hosts, not {count}", hosts.len());
        Some(TestHosts { dir, hosts })
    }

    /// The run's hosts, in order.
    pub fn hosts(&self) -> &[TestHost] {
        &self.hosts
    }

    /// The `i`-th host (from 0).
    pub fn host(&self, i: usize) -> &TestHost {
        &self.hosts[i]
    }

    /// Inventory connection variables for a host: root over ssh with the
    /// run's client key, the run's known_hosts, strict host keys.
    pub fn host_vars(&self, host: &TestHost) -> Vec<(String, Value)> {
        vec![
            ("ansible_host".into(), host.ip.clone().into()),
            ("ansible_user".into(), "root".into()),
            ("ansible_ssh_private_key_file".into(), self.dir.join("client_key").display().to_string().into()),
            (
                "ansible_ssh_common_args".into(),
                format!(
                    "-o UserKnownHostsFile={} -o IdentitiesOnly=yes -F /dev/null",
                    self.dir.join("known_hosts").display()
                )
                .into(),
            ),
        ]
    }

    /// Runs `script` with `sh -c` inside a host (as its root, with the same
    /// capabilities as its sshd), bypassing ssh and stead.
    pub fn exec(&self, host: &TestHost, script: &str) -> Output {
        Command::new("bash")
            .arg(SCRIPT)
            .args(["exec"])
            .arg(&self.dir)
            .arg(&host.name)
            .args(["--", "sh", "-c", script])
            .stdin(Stdio::null())
            .output()
            .expect("run scripts/testhosts exec")
    }

    /// Like [`TestHosts::exec`], expecting success; returns stdout.
    #[track_caller]
    pub fn sh(&self, host: &TestHost, script: &str) -> String {
        let out = self.exec(host, script);
        assert!(
            out.status.success(),
            "on {}: {script}\nexit {:?}\n{}{}",
            host.name,
            out.status.code(),
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts a TCP listener on `port` inside the host (Python's HTTP
    /// server, in the host's PID namespace: it dies with the host) and
    /// waits until the controller reaches it.
    #[track_caller]
    pub fn listen(&self, host: &TestHost, port: u16) {
        self.sh(host, &format!("setsid python3 -m http.server {port} --bind 0.0.0.0 </dev/null >/dev/null 2>&1 &"));
        for _ in 0..50 {
            if host.answers(port) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the listener on {}:{port} did not start", host.ip);
    }

    /// Connects to a host with the system's ssh client (the run's key and
    /// known_hosts, strict host keys) and `extra` options, and runs
    /// `command`: for tests of what sshd itself accepts.
    pub fn ssh(&self, host: &TestHost, extra: &[&str], command: &str) -> Output {
        Command::new("ssh")
            .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=5"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.dir.join("known_hosts").display()))
            .arg("-i")
            .arg(self.dir.join("client_key"))
            .args(extra)
            .arg(format!("root@{}", host.ip))
            .arg(command)
            .stdin(Stdio::null())
            .output()
            .expect("run ssh")
    }

    /// The boot id a host reads in `/proc/sys/kernel/random/boot_id` (a
    /// rebootable host's own; this machine's otherwise).
    #[track_caller]
    pub fn boot_id(&self, host: &TestHost) -> String {
        self.sh(host, "cat /proc/sys/kernel/random/boot_id").trim().to_owned()
    }

    /// A fingerprint of everything a host changed relative to this machine:
    /// its overlay's upper directory (paths, types, modes, owners, device
    /// numbers, bytes, link targets), login records left out. Equal before
    /// and after a `--check` run proves the run changed nothing.
    pub fn upper_hash(&self, host: &TestHost) -> String {
        let mut entries = BTreeMap::new();
        collect(&host.upper, &host.upper, &mut entries);
        let mut hasher = Sha256::new();
        for (path, entry) in &entries {
            hasher.update(path.as_os_str().as_bytes());
            hasher.update([0]);
            hasher.update(entry.as_bytes());
            hasher.update([0]);
        }
        hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A readable listing of a host's upper directory, for failure messages.
    pub fn upper_listing(&self, host: &TestHost) -> String {
        let mut entries = BTreeMap::new();
        collect(&host.upper, &host.upper, &mut entries);
        entries.iter().map(|(p, e)| format!("{} {}\n", p.display(), e.lines().next().unwrap_or(""))).collect()
    }
}

impl Drop for TestHosts {
    fn drop(&mut self) {
        let _ = Command::new("bash")
            .arg(SCRIPT)
            .arg("down")
            .arg(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Test {
    /// Adds an inventory host for a Tier-B host of `hosts`.
    pub fn testhost(self, name: &str, hosts: &TestHosts, host: &TestHost) -> Test {
        self.host_with(name, hosts.host_vars(host))
    }
}

/// Why Tier-B hosts cannot run here, if they cannot.
fn unavailable() -> Option<String> {
    let uid = Command::new("id").arg("-u").output().ok()?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Some("Tier-B test hosts need root (network and mount namespaces)".into());
    }
    None
}

/// Whether this machine's `/` has a directory at `rel` with the same mode
/// and owner as the upper directory's.
fn same_as_lower(rel: &Path, upper: &std::fs::Metadata) -> bool {
    Path::new("/").join(rel).symlink_metadata().is_ok_and(|lower| {
        lower.is_dir() && lower.mode() == upper.mode() && lower.uid() == upper.uid() && lower.gid() == upper.gid()
    })
}

fn collect(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
    let Ok(read) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in read.flatten() {
        let path = entry.path();
        let rel = path.strip_prefix(root).expect("below the upper directory").to_path_buf();
        if LOGIN_RECORDS.iter().any(|skip| rel.starts_with(skip)) {
            continue;
        }
        let Ok(meta) = path.symlink_metadata() else {
            continue;
        };
        let kind = meta.file_type();
        let head = format!("{:o} {}:{}", meta.mode(), meta.uid(), meta.gid());
        let body = if kind.is_symlink() {
            format!("L {}", std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default())
        } else if kind.is_dir() {
            collect(root, &path, out);
            // A directory copied up only because something below it
            // changed is not itself a change.
            if same_as_lower(&rel, &meta) {
                continue;
            }
            "D".to_owned()
        } else if kind.is_char_device() || kind.is_block_device() {
            format!("dev {}", meta.rdev())
        } else if kind.is_file() {
            let bytes = std::fs::read(&path).unwrap_or_default();
            format!("F {:x}", Sha256::digest(&bytes))
        } else {
            "other".to_owned()
        };
        out.insert(rel, format!("{head} {body}"));
    }
}
