//! The fixtures themselves work, independently of stead.

use crate::support::net::Tripwire;
use crate::support::{tree, Sshd, Test};

#[test]
fn sshd_fixture_accepts_the_client_key() {
    let sshd = Sshd::start();
    let out = sshd.run("printf %s hello");
    assert!(
        out.status.success(),
        "ssh failed: {}\nsshd log: {}",
        String::from_utf8_lossy(&out.stderr),
        std::fs::read_to_string(sshd.dir().join("sshd.log")).unwrap_or_default()
    );
    assert_eq!(out.stdout, b"hello");
}

#[test]
fn sshd_fixture_rejects_an_unknown_key() {
    let sshd = Sshd::start();
    let other = tempfile::tempdir().unwrap();
    let key = other.path().join("key");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-N", "", "-t", "ed25519", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::process::Command::new("ssh")
        .args(["-F", "/dev/null", "-o", "BatchMode=yes", "-o"])
        .arg(format!("UserKnownHostsFile={}", sshd.known_hosts().display()))
        .args(["-o", "IdentitiesOnly=yes", "-i"])
        .arg(&key)
        .args(["-p", &sshd.port().to_string(), "127.0.0.1", "true"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success(), "a foreign key was accepted");
}

#[test]
fn sshd_fixture_stops_its_server_on_drop() {
    let sshd = Sshd::start();
    let port = sshd.port();
    let dir = sshd.dir().to_owned();
    drop(sshd);
    assert!(!dir.exists(), "fixture directory left behind");
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    assert!(
        std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_millis(500)).is_err(),
        "sshd still listening on {port}"
    );
}

#[test]
fn tripwire_notices_a_connection() {
    let wire = Tripwire::new();
    assert!(!wire.was_touched());
    let _conn = std::net::TcpStream::connect(("127.0.0.1", wire.port())).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert!(wire.was_touched());
}

#[test]
fn tree_hash_sees_content_mode_and_links() {
    let test = Test::new().unreachable_host("h");
    test.put("h", "a/b.txt", "one");
    let before = test.tree_hash("h");
    assert_eq!(before, test.tree_hash("h"), "hash is deterministic");

    test.put("h", "a/b.txt", "two");
    let content = test.tree_hash("h");
    assert_ne!(before, content);

    let path = test.path("h", "a/b.txt");
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o600);
    std::fs::set_permissions(&path, perms).unwrap();
    let mode = test.tree_hash("h");
    assert_ne!(content, mode);
    assert_eq!(tree::mode(&path), 0o600);

    std::os::unix::fs::symlink("a/b.txt", test.path("h", "link")).unwrap();
    assert_ne!(mode, test.tree_hash("h"));
}

#[test]
fn builder_writes_an_inventory_with_every_host_and_its_root() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).host("web2", &sshd).group("web", &["web1", "web2"]);
    let yaml = test.inventory_yaml();
    assert!(yaml.contains("web1:"), "{yaml}");
    assert!(yaml.contains(&format!("ansible_port: {}", sshd.port())), "{yaml}");
    assert!(yaml.contains(&format!("root: \"{}\"", test.root("web2").display())), "{yaml}");
    assert_ne!(test.root("web1"), test.root("web2"));
}

#[test]
fn sshd_fixture_drop_ends_open_sessions_too() {
    // sshd detaches every connection into its own session: the fixture
    // must end those as well, or stead's persistent masters and their
    // remote shells would outlive the test.
    let sshd = Sshd::start();
    let marker = format!("stead-fixture-{}", sshd.port());
    let mut client =
        sshd.ssh().arg(format!("exec -a {marker} sleep 60")).stderr(std::process::Stdio::null()).spawn().unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !process_with_arg0(&marker) {
        assert!(std::time::Instant::now() < deadline, "remote sleep never started");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(sshd);
    let status = client.wait().unwrap();
    assert!(!status.success(), "the session was cut");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while process_with_arg0(&marker) {
        assert!(std::time::Instant::now() < deadline, "remote process survived the fixture");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Whether a live process has `arg0` as its argv[0] (read from /proc).
fn process_with_arg0(arg0: &str) -> bool {
    std::fs::read_dir("/proc").unwrap().flatten().any(|e| {
        std::fs::read(e.path().join("cmdline"))
            .map(|c| c.split(|b| *b == 0).next() == Some(arg0.as_bytes()))
            .unwrap_or(false)
    })
}
