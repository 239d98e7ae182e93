//! Tier A test host (CONTRACT §7): a real `sshd` on `127.0.0.1` and an
//! ephemeral port, with its host key, client key, `authorized_keys` and
//! config in a temporary directory.
//!
//! The server runs as a child of the test process. Dropping [`Sshd`] kills
//! exactly that child (by its handle, never by name) and removes the
//! directory, also when the test panics.

use std::io::Read;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// Where Debian and most distributions install the server. sshd insists on
/// being started by its absolute path (it re-executes itself).
const SSHD: &str = "/usr/sbin/sshd";

/// How long a freshly started server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(5);

/// Attempts at finding a port nobody else grabbed in the meantime.
const PORT_ATTEMPTS: usize = 10;

/// A running OpenSSH server for one test.
pub struct Sshd {
    // Field order matters: the child is killed (in `Drop`) before the
    // directory holding its config and keys is removed.
    child: Child,
    port: u16,
    dir: TempDir,
}

impl Sshd {
    /// Starts a server that accepts the current user with the fixture's
    /// client key, and nobody else.
    pub fn start() -> Sshd {
        let dir = tempfile::Builder::new().prefix("stead-sshd-").tempdir().expect("create the sshd directory");
        keygen(&dir.path().join("host_key"));
        keygen(&dir.path().join("client_key"));
        std::fs::copy(dir.path().join("client_key.pub"), dir.path().join("authorized_keys"))
            .expect("write authorized_keys");
        ensure_privsep_dir();

        let mut last_error = String::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            write_config(dir.path(), port);
            let host_key = std::fs::read_to_string(dir.path().join("host_key.pub")).expect("read the host public key");
            std::fs::write(dir.path().join("known_hosts"), format!("[127.0.0.1]:{port} {host_key}"))
                .expect("write known_hosts");
            match spawn_and_wait(dir.path(), port) {
                Ok(child) => return Sshd { child, port, dir },
                // Most likely someone took the port between our probe and
                // sshd's bind: try another one.
                Err(e) => last_error = e,
            }
        }
        panic!("sshd did not start after {PORT_ATTEMPTS} attempts: {last_error}");
    }

    /// The TCP port the server listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The fixture's directory (keys, config, known_hosts).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The client's private key, authorized on this server.
    pub fn client_key(&self) -> PathBuf {
        self.dir.path().join("client_key")
    }

    /// A known_hosts file that holds exactly this server's host key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.path().join("known_hosts")
    }

    /// The `ansible_ssh_common_args` that make ssh trust this server's key
    /// and ignore the developer's own `~/.ssh/config`.
    pub fn common_args(&self) -> String {
        format!("-o UserKnownHostsFile={} -o IdentitiesOnly=yes -F /dev/null", self.known_hosts().display())
    }

    /// The inventory connection variables for a host served by this sshd,
    /// in the order they are written to the inventory.
    pub fn host_vars(&self) -> Vec<(String, serde_json::Value)> {
        vec![
            ("ansible_host".into(), "127.0.0.1".into()),
            ("ansible_port".into(), self.port.into()),
            ("ansible_user".into(), current_user().into()),
            ("ansible_ssh_private_key_file".into(), self.client_key().display().to_string().into()),
            ("ansible_ssh_common_args".into(), self.common_args().into()),
        ]
    }

    /// An `ssh` command for this server with the same options stead gets,
    /// ready for the remote command arguments.
    pub fn ssh(&self) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.args(["-F", "/dev/null"])
            .args(["-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes"])
            .arg("-o")
            .arg(format!("UserKnownHostsFile={}", self.known_hosts().display()))
            .args(["-o", "IdentitiesOnly=yes", "-i"])
            .arg(self.client_key())
            .args(["-p", &self.port.to_string(), "-l", &current_user()])
            .arg("127.0.0.1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs `remote` (one command line for the remote login shell) over ssh.
    pub fn run(&self, remote: impl AsRef<std::ffi::OsStr>) -> Output {
        self.ssh().arg("--").arg(remote).output().expect("run ssh")
    }
}

impl Sshd {
    /// Opens a multiplexed connection (an `ssh -M` master owned by the
    /// returned guard), so many commands cost one login.
    pub fn mux(&self) -> Mux {
        let socket = self.dir.path().join(format!("mux-{}", MUX_ID.fetch_add(1, Ordering::Relaxed)));
        let master = self
            .ssh()
            .args(["-M", "-N", "-S"])
            .arg(&socket)
            .args(["-o", "ControlPersist=no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the ssh master");
        let mux = Mux { master, socket, base: self.ssh_args() };
        let deadline = Instant::now() + START_TIMEOUT;
        while !mux.control(&["-O", "check"]) {
            assert!(Instant::now() < deadline, "ssh master did not come up");
            std::thread::sleep(Duration::from_millis(20));
        }
        mux
    }

    fn ssh_args(&self) -> Vec<std::ffi::OsString> {
        self.ssh().get_args().map(ToOwned::to_owned).collect()
    }
}

static MUX_ID: AtomicUsize = AtomicUsize::new(0);

/// A multiplexed ssh connection to a fixture server.
pub struct Mux {
    master: Child,
    socket: PathBuf,
    base: Vec<std::ffi::OsString>,
}

impl Mux {
    fn command(&self) -> Command {
        // `base` ends with the destination; the control options go before it.
        let (dest, options) = self.base.split_last().expect("ssh arguments");
        let mut cmd = Command::new("ssh");
        cmd.args(options).arg("-S").arg(&self.socket).args(["-o", "ControlMaster=no"]).arg(dest).stdin(Stdio::null());
        cmd
    }

    fn control(&self, args: &[&str]) -> bool {
        self.command().args(args).stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    }

    /// Runs `remote` (one command line for the remote login shell).
    pub fn run(&self, remote: impl AsRef<std::ffi::OsStr>) -> Output {
        self.command().arg("--").arg(remote).output().expect("run ssh over the master")
    }
}

impl Drop for Mux {
    fn drop(&mut self) {
        let _ = self.control(&["-O", "exit"]);
        let _ = self.master.kill();
        let _ = self.master.wait();
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        // sshd runs every connection in a forked child that calls setsid,
        // so killing the listener alone would leave sessions (and stead's
        // persistent ssh masters) alive. Freeze our child's process tree
        // first (so nothing forks or gets reparented away), then kill
        // exactly those processes, by pid.
        let mut tree = vec![self.child.id()];
        for _ in 0..3 {
            let found = process_tree(self.child.id());
            signal(&found, "STOP");
            if found == tree {
                break;
            }
            tree = found;
        }
        signal(&tree, "KILL");
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `root` and all its descendants (from `/proc`), sorted.
fn process_tree(root: u32) -> Vec<u32> {
    let mut parent_of: Vec<(u32, u32)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            // `pid (comm) state ppid ...`; comm may hold spaces and parens.
            let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) else {
                continue;
            };
            if let Some(ppid) = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok()) {
                parent_of.push((pid, ppid));
            }
        }
    }
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        tree.extend(parent_of.iter().filter(|&&(_, ppid)| ppid == parent).map(|&(pid, _)| pid));
        i += 1;
    }
    tree.sort_unstable();
    tree.dedup();
    tree
}

fn signal(pids: &[u32], sig: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The name of the user running the tests (sshd's `AllowUsers`).
pub fn current_user() -> String {
    if let Ok(user) = std::env::var("USER") {
        if !user.is_empty() && user_id_of(&user).as_deref() == Some(&uid()) {
            return user;
        }
    }
    let out = Command::new("id").arg("-un").output().expect("run id -un");
    assert!(out.status.success(), "id -un failed");
    String::from_utf8(out.stdout).expect("user name is UTF-8").trim().to_owned()
}

fn uid() -> String {
    let out = Command::new("id").arg("-u").output().expect("run id -u");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn user_id_of(user: &str) -> Option<String> {
    let out = Command::new("id").args(["-u", user]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A port on 127.0.0.1 that was free a moment ago: bind port 0, read the
/// port the kernel chose, release it.
pub fn free_port() -> u16 {
    TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port on 127.0.0.1")
        .port()
}

fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-C", "stead-test", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    assert!(out.status.success(), "ssh-keygen failed: {}", String::from_utf8_lossy(&out.stderr));
}

/// sshd refuses to start as root without its privilege separation
/// directory; containers often lack it.
fn ensure_privsep_dir() {
    let dir = Path::new("/run/sshd");
    if !dir.exists() {
        // Fails harmlessly when not root: then sshd does not need it.
        let _ = std::fs::create_dir_all(dir);
    }
}

/// `SetEnv SHLVL=5`: bash sources `~/.bashrc` for a command run by sshd
/// only at shell level 1. This machine's root `.bashrc` runs `pyenv
/// rehash`, which waits 60 s on a lock a killed session leaves behind (the
/// fault tests kill sessions): the test hosts' login shells skip it, as a
/// stock Debian `.bashrc` does for a non-interactive shell.
fn write_config(dir: &Path, port: u16) {
    let config = format!(
        "ListenAddress 127.0.0.1\n\
         Port {port}\n\
         HostKey {dir}/host_key\n\
         AuthorizedKeysFile {dir}/authorized_keys\n\
         PidFile {dir}/sshd.pid\n\
         StrictModes no\n\
         UsePAM no\n\
         PasswordAuthentication no\n\
         KbdInteractiveAuthentication no\n\
         PubkeyAuthentication yes\n\
         PermitRootLogin prohibit-password\n\
         AllowUsers {user}\n\
         LogLevel ERROR\n\
         MaxStartups 100\n\
         MaxSessions 100\n\
         SetEnv SHLVL=5\n\
         Subsystem sftp internal-sftp\n",
        dir = dir.display(),
        user = current_user(),
    );
    std::fs::write(dir.join("sshd_config"), config).expect("write sshd_config");
}

/// Starts sshd on `port` and waits until it accepts TCP connections.
fn spawn_and_wait(dir: &Path, port: u16) -> Result<Child, String> {
    let _ = std::fs::remove_file(dir.join("sshd.pid"));
    let log = std::fs::File::create(dir.join("sshd.log")).map_err(|e| e.to_string())?;
    let mut child = Command::new(SSHD)
        .arg("-D")
        .arg("-e")
        .arg("-f")
        .arg(dir.join("sshd_config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .map_err(|e| format!("cannot run {SSHD}: {e}"))?;
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if let Some(status) = child.try_wait().map_err(|e| e.to_string())? {
            let mut log = String::new();
            let _ = std::fs::File::open(dir.join("sshd.log")).and_then(|mut f| f.read_to_string(&mut log));
            return Err(format!("sshd exited with {status}: {log}"));
        }
        // sshd writes its pid file only after binding its listen socket, so
        // our child's pid in it proves the port is ours (a bare connect
        // could reach whoever took the port in the meantime).
        let pid = std::fs::read_to_string(dir.join("sshd.pid")).unwrap_or_default();
        let addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, port).into();
        if pid.trim() == child.id().to_string() && TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
        {
            return Ok(child);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("sshd did not listen on port {port} within {START_TIMEOUT:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
