//! TLS and SSH material: the `community.crypto` modules on Tier-B hosts,
//! made by the host's own `openssl` / `ssh-keygen` and read back there
//! with `openssl x509 -noout -text`, `openssl pkey`, `openssl verify` and
//! `ssh-keygen -l`. Keys are random, so stead and the Ansible oracle are
//! compared on changed counts and on the properties of the files, never on
//! their bytes. Sizes are small (RSA 2048, dhparam 1024): 2 cores.

use super::{converge, variants};
use crate::support::testhosts::TestHost;
use crate::support::{assert_has_line, play, play_vars, Outcome, Test, TestHosts};

const DIR: &str = "/etc/stead-tls";
const PASS: &str = "c0rrect-h0rse-Battery";

fn prepare(hosts: &TestHosts, host: &TestHost) {
    hosts.sh(host, &format!("mkdir -p {DIR} && chmod 0755 {DIR}"));
}

/// Neither the key's PEM body nor the passphrase in stdout, stderr or the
/// JSON report.
#[track_caller]
fn assert_no_secret(out: &Outcome, hosts: &TestHosts, host: &TestHost, key: &str) {
    let body = hosts.sh(host, &format!("sed -n 2p {key}"));
    let body = body.trim();
    assert!(body.len() > 20, "no key body in {key}: {body:?}");
    let report = out.report_text();
    for secret in [body, PASS] {
        assert!(!out.stdout.contains(secret), "stdout shows a secret ({secret})\n{}", out.stdout);
        assert!(!out.stderr.contains(secret), "stderr shows a secret ({secret})\n{}", out.stderr);
        assert!(!report.contains(secret), "the JSON report shows a secret ({secret})\n{report}");
    }
}

const KEYS: &str = r#"
- name: rsa key
  community.crypto.openssl_privatekey:
    path: /etc/stead-tls/rsa.pem
    size: 2048
- name: ec key with a passphrase
  community.crypto.openssl_privatekey:
    path: /etc/stead-tls/ec.pem
    type: ECC
    curve: secp384r1
    passphrase: "{{ pw }}"
    cipher: auto
- name: ed25519 key, group readable
  openssl_privatekey:
    path: /etc/stead-tls/ed.pem
    type: Ed25519
    mode: "0640"
    group: ssl-cert
  register: ed
- name: what it registers
  when: not ansible_check_mode
  assert:
    that:
      - ed.filename == '/etc/stead-tls/ed.pem'
      - ed.type == 'Ed25519'
      - ed.fingerprint.sha256 | length == 95
"#;

fn keys_play() -> String {
    play_vars(&format!("pw: {PASS}\n"), KEYS)
}

#[test]
fn openssl_privatekey_generates_rsa_ecc_and_ed25519_keys_on_the_host() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        prepare(&hosts, host);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", keys_play());
        let real = converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        let text = |f: &str, pass: &str| {
            hosts.sh(host, &format!("openssl pkey -in {DIR}/{f} -passin pass:{pass} -noout -text | head -1"))
        };
        assert!(text("rsa.pem", "").starts_with("Private-Key: (2048 bit"), "{e}");
        assert!(text("ec.pem", PASS).starts_with("Private-Key: (384 bit)"), "{e}");
        assert!(text("ed.pem", "").starts_with("ED25519 Private-Key"), "{e}");
        // (community.crypto writes the traditional `EC PRIVATE KEY` format with
        // a `Proc-Type: 4,ENCRYPTED` header, stead PKCS#8: both encrypted.)
        assert_ne!(hosts.sh(host, &format!("grep -c ENCRYPTED {DIR}/ec.pem")).trim(), "0", "{e}");
        assert_eq!(
            hosts.sh(host, &format!("cd {DIR} && stat -c '%n %a %G' rsa.pem ec.pem ed.pem")),
            "rsa.pem 600 root\nec.pem 600 root\ned.pem 640 ssl-cert\n",
            "{e}"
        );
        assert_eq!(hosts.sh(host, &format!("ls -A {DIR} | wc -l")).trim(), "3", "temporary files left: {e}");
        if engine.name() == "stead" {
            assert_no_secret(&real, &hosts, host, &format!("{DIR}/ec.pem"));
        }
    }
}

#[test]
fn openssl_privatekey_regenerates_a_key_of_the_wrong_size_and_shows_it() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    prepare(&hosts, host);
    hosts.sh(host, &format!("openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out {DIR}/rsa.pem"));
    let before = hosts.sh(host, &format!("sha256sum {DIR}/rsa.pem"));
    let task = "- name: key\n  openssl_privatekey: {path: /etc/stead-tls/rsa.pem, size: 2048}\n";
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(task));
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "-size: 1024");
    assert_has_line(&plan, "+size: 2048");
    assert_has_line(&plan, "+fingerprint: (new key)");
    assert_eq!(hosts.sh(host, &format!("sha256sum {DIR}/rsa.pem")), before, "plan changed the key");
    assert_no_secret(&plan, &hosts, host, &format!("{DIR}/rsa.pem"));
    let real = test.run_args(["apply", "site.yml", "--diff"]);
    real.assert_status(0).assert_changed(1);
    assert_no_secret(&real, &hosts, host, &format!("{DIR}/rsa.pem"));
    assert!(hosts.sh(host, &format!("openssl pkey -in {DIR}/rsa.pem -noout -text | head -1")).contains("2048 bit"));
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
    // `regenerate: fail` refuses a key that does not fit, and leaves it.
    let fail = "- name: key\n  openssl_privatekey: {path: /etc/stead-tls/rsa.pem, size: 3072, regenerate: fail}\n";
    test.write("site.yml", play(fail));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    out.assert_output_contains("Key has wrong type and/or size");
    // A passphrase the key does not have: full_idempotence (the default)
    // regenerates, encrypted now.
    let locked = format!(
        "- name: key\n  openssl_privatekey: {{path: /etc/stead-tls/rsa.pem, size: 2048, passphrase: {PASS}}}\n"
    );
    test.write("site.yml", play(&locked));
    converge(&test, &hosts, 1);
    assert!(hosts.sh(host, &format!("head -1 {DIR}/rsa.pem")).contains("ENCRYPTED"));
}

#[test]
fn openssl_privatekey_state_absent_removes_the_key() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    prepare(&hosts, host);
    hosts.sh(host, &format!("openssl genpkey -quiet -algorithm ED25519 -out {DIR}/gone.pem"));
    let task = "- name: key\n  openssl_privatekey: {path: /etc/stead-tls/gone.pem, state: absent}\n";
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(task));
    converge(&test, &hosts, 1);
    assert_eq!(hosts.sh(host, &format!("test -e {DIR}/gone.pem || echo gone")).trim(), "gone");
}
