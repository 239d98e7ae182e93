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

/// An own CA and a leaf, one module per stage (in check mode a CSR
/// cannot be made from a key that does not exist yet, under either engine).
const CA_KEYS: &str = r#"
- name: CA key
  community.crypto.openssl_privatekey:
    path: /etc/stead-tls/ca.key
    size: 2048
    passphrase: "{{ pw }}"
- name: leaf key
  community.crypto.openssl_privatekey:
    path: /etc/stead-tls/leaf.key
    type: ECC
    curve: secp256r1
"#;

const CA_CSRS: &str = r#"
- name: CA CSR
  community.crypto.openssl_csr:
    path: /etc/stead-tls/ca.csr
    privatekey_path: /etc/stead-tls/ca.key
    privatekey_passphrase: "{{ pw }}"
    common_name: Stead Test CA
    organization_name: Stead
    use_common_name_for_san: false
    basic_constraints: ["CA:TRUE"]
    basic_constraints_critical: true
    key_usage: [keyCertSign, cRLSign]
    key_usage_critical: true
- name: leaf CSR
  community.crypto.openssl_csr:
    path: /etc/stead-tls/leaf.csr
    privatekey_path: /etc/stead-tls/leaf.key
    common_name: www.stead.test
    country_name: DE
    subject_alt_name: ["DNS:www.stead.test", "DNS:stead.test", "IP:10.0.0.1"]
    extended_key_usage: [serverAuth]
    key_usage: [digitalSignature]
"#;

const CA_CERT: &str = r#"
- name: CA certificate
  community.crypto.x509_certificate:
    path: /etc/stead-tls/ca.crt
    csr_path: /etc/stead-tls/ca.csr
    privatekey_path: /etc/stead-tls/ca.key
    privatekey_passphrase: "{{ pw }}"
    provider: selfsigned
"#;

const LEAF_CERT: &str = r#"
- name: leaf certificate
  community.crypto.x509_certificate:
    path: /etc/stead-tls/leaf.crt
    csr_path: /etc/stead-tls/leaf.csr
    provider: ownca
    ownca_path: /etc/stead-tls/ca.crt
    ownca_privatekey_path: /etc/stead-tls/ca.key
    ownca_privatekey_passphrase: "{{ pw }}"
    ownca_not_after: "+90d"
"#;

const CA_INFO: &str = r#"
- name: info
  community.crypto.x509_certificate_info:
    path: /etc/stead-tls/leaf.crt
    valid_at: {in_30d: "+30d", in_100d: "+100d"}
  register: info
- name: what it says
  assert:
    that:
      - info.subject.commonName == 'www.stead.test'
      - info.subject.countryName == 'DE'
      - info.issuer.commonName == 'Stead Test CA'
      - "'DNS:stead.test' in info.subject_alt_name"
      - "'IP:10.0.0.1' in info.subject_alt_name"
      - info.extended_key_usage == ['TLS Web Server Authentication']
      - info.public_key_type == 'ECC'
      - info.valid_at.in_30d
      - not info.valid_at.in_100d
      - not info.expired
      - info.serial_number > 0
"#;

fn pw_play(tasks: &str) -> String {
    play_vars(&format!("pw: {PASS}\n"), tasks)
}

fn sha(hosts: &TestHosts, host: &TestHost, files: &str) -> String {
    hosts.sh(host, &format!("cd {DIR} && sha256sum {files}"))
}

#[test]
fn an_own_ca_signs_a_leaf_that_verifies_and_both_are_left_alone() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        prepare(&hosts, host);
        let e = format!("{} {options:?}", engine.name());
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", pw_play(CA_KEYS));
        converge(&test, &hosts, 2);
        test.write("site.yml", pw_play(CA_CSRS));
        let csrs = converge(&test, &hosts, 2);
        test.write("site.yml", pw_play(CA_CERT));
        let ca_cert = converge(&test, &hosts, 1);
        test.write("site.yml", pw_play(LEAF_CERT));
        let certs = converge(&test, &hosts, 1);
        test.write("site.yml", pw_play(CA_INFO));
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
        let x = |f: &str| hosts.sh(host, &format!("openssl x509 -in {DIR}/{f} -noout -text"));
        let leaf = x("leaf.crt");
        assert!(leaf.contains("Subject: C = DE, CN = www.stead.test"), "{e}\n{leaf}");
        assert!(leaf.contains("Issuer: O = Stead, CN = Stead Test CA"), "{e}\n{leaf}");
        assert!(leaf.contains("DNS:www.stead.test, DNS:stead.test, IP Address:10.0.0.1"), "{e}\n{leaf}");
        assert!(leaf.contains("TLS Web Server Authentication"), "{e}\n{leaf}");
        let ca = x("ca.crt");
        assert!(ca.contains("CA:TRUE") && ca.contains("Certificate Sign, CRL Sign"), "{e}\n{ca}");
        assert_eq!(
            hosts.sh(host, &format!("openssl verify -CAfile {DIR}/ca.crt {DIR}/leaf.crt")).trim(),
            format!("{DIR}/leaf.crt: OK"),
            "{e}"
        );
        assert_eq!(
            hosts.sh(host, &format!("openssl x509 -in {DIR}/leaf.crt -noout -pubkey")),
            hosts.sh(host, &format!("openssl pkey -in {DIR}/leaf.key -pubout")),
            "the leaf certifies its key: {e}"
        );
        assert_eq!(
            hosts.sh(host, &format!("openssl x509 -in {DIR}/ca.crt -noout -pubkey")),
            hosts.sh(host, &format!("openssl pkey -in {DIR}/ca.key -passin pass:{PASS} -pubout")),
            "{e}"
        );
        let expiry = |secs: u64| {
            hosts.sh(
                host,
                &format!(
                    "openssl x509 -in {DIR}/leaf.crt -noout -checkend {secs} >/dev/null && echo valid || echo expires"
                ),
            )
        };
        assert_eq!(expiry(89 * 86400).trim(), "valid", "{e}");
        assert_eq!(expiry(91 * 86400).trim(), "expires", "{e}");
        // Valid certificates and CSRs are left byte for byte alone.
        let before = sha(&hosts, host, "ca.csr leaf.csr ca.crt leaf.crt");
        test.write("site.yml", pw_play(&format!("{CA_CSRS}{CA_CERT}{LEAF_CERT}")));
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
        assert_eq!(sha(&hosts, host, "ca.csr leaf.csr ca.crt leaf.crt"), before, "{e}");
        if engine.name() == "stead" {
            assert_no_secret(&csrs, &hosts, host, &format!("{DIR}/ca.key"));
            assert_no_secret(&ca_cert, &hosts, host, &format!("{DIR}/ca.key"));
            assert_no_secret(&certs, &hosts, host, &format!("{DIR}/ca.key"));
            assert_no_secret(&certs, &hosts, host, &format!("{DIR}/leaf.key"));
        }
    }
}

#[test]
fn a_changed_san_list_makes_a_new_csr_and_then_a_new_certificate() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    prepare(&hosts, host);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", pw_play(CA_KEYS));
    test.run_args(["apply", "site.yml"]).assert_status(0);
    test.write("site.yml", pw_play(CA_CSRS));
    test.run_args(["apply", "site.yml"]).assert_status(0);
    test.write("site.yml", pw_play(&format!("{CA_CERT}{LEAF_CERT}")));
    test.run_args(["apply", "site.yml"]).assert_status(0);
    let before = sha(&hosts, host, "leaf.csr leaf.crt");
    let changed = CA_CSRS.replace(r#""IP:10.0.0.1""#, r#""IP:10.0.0.2""#);
    test.write("site.yml", pw_play(&format!("{changed}{CA_CERT}{LEAF_CERT}")));
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    // The certificate's CSR does not exist yet in the plan's eyes: only the
    // CSR is shown as changing; the certificate follows once it is there.
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "-subject_alt_name: DNS:www.stead.test, DNS:stead.test, IP:10.0.0.1");
    assert_has_line(&plan, "+subject_alt_name: DNS:www.stead.test, DNS:stead.test, IP:10.0.0.2");
    assert_eq!(sha(&hosts, host, "leaf.csr leaf.crt"), before, "plan changed the host");
    let real = test.run_args(["apply", "site.yml", "--diff"]);
    real.assert_status(0).assert_changed(2);
    assert!(hosts
        .sh(host, &format!("openssl x509 -in {DIR}/leaf.crt -noout -ext subjectAltName"))
        .contains("10.0.0.2"));
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
}

/// community.crypto's way to renew what expires soon: `valid_at` from
/// `x509_certificate_info`, then `force`. A certificate that stays valid
/// long enough is left byte for byte alone.
const RENEW: &str = r#"
- name: how long is it valid
  community.crypto.x509_certificate_info:
    path: /etc/stead-tls/web.crt
    valid_at: {in_a_week: "+7d"}
  register: web
- name: renew what expires within a week
  community.crypto.x509_certificate:
    path: /etc/stead-tls/web.crt
    privatekey_path: /etc/stead-tls/web.key
    csr_path: /etc/stead-tls/web.csr
    provider: selfsigned
    selfsigned_not_after: "+30d"
    force: "{{ not web.valid_at.in_a_week }}"
"#;

#[test]
fn an_expiring_certificate_is_renewed_and_a_valid_one_left_alone() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        prepare(&hosts, host);
        let e = format!("{} {options:?}", engine.name());
        hosts.sh(
            host,
            &format!(
                "cd {DIR} && openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out web.key && \
                 openssl req -new -key web.key -subj /CN=web.stead.test -addext subjectAltName=DNS:web.stead.test \
                 -out web.csr && openssl x509 -req -in web.csr -signkey web.key -days 1 -out web.crt 2>/dev/null"
            ),
        );
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(RENEW));
        converge(&test, &hosts, 1);
        let check = |secs: u64| {
            hosts.sh(
                host,
                &format!(
                    "openssl x509 -in {DIR}/web.crt -noout -checkend {secs} >/dev/null && echo valid || echo expires"
                ),
            )
        };
        assert_eq!(check(29 * 86400).trim(), "valid", "renewed for 30 days: {e}");
        assert_eq!(check(31 * 86400).trim(), "expires", "{e}");
        let x = hosts.sh(host, &format!("openssl x509 -in {DIR}/web.crt -noout -subject -ext subjectAltName"));
        assert!(x.contains("CN = web.stead.test") && x.contains("DNS:web.stead.test"), "{e}\n{x}");
        let before = sha(&hosts, host, "web.crt");
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
        assert_eq!(sha(&hosts, host, "web.crt"), before, "{e}");
    }
}

#[test]
fn strict_timestamps_renew_and_the_diff_shows_the_dates() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    prepare(&hosts, host);
    hosts.sh(
        host,
        &format!(
            "cd {DIR} && openssl genpkey -quiet -algorithm ED25519 -out s.key && \
             openssl req -new -key s.key -subj /CN=strict.stead.test -out s.csr"
        ),
    );
    let task = |not_after: &str| {
        play(&format!(
            "- name: cert\n  x509_certificate:\n    path: /etc/stead-tls/s.crt\n    privatekey_path: /etc/stead-tls/s.key\n    \
             csr_path: /etc/stead-tls/s.csr\n    provider: selfsigned\n    ignore_timestamps: false\n    \
             selfsigned_not_before: 20250101000000Z\n    selfsigned_not_after: {not_after}\n"
        ))
    };
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", task("20300101000000Z"));
    converge(&test, &hosts, 1);
    test.write("site.yml", task("20310101000000Z"));
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "-not_after: 20300101000000Z");
    assert_has_line(&plan, "+not_after: 20310101000000Z");
    assert_has_line(&plan, "subject: CN=strict.stead.test");
    assert_has_line(&plan, "+serial_number: (new)");
    converge(&test, &hosts, 1);
    let dates = hosts.sh(host, &format!("openssl x509 -in {DIR}/s.crt -noout -startdate -enddate"));
    assert_eq!(dates, "notBefore=Jan  1 00:00:00 2025 GMT\nnotAfter=Jan  1 00:00:00 2031 GMT\n");
}

const DH: &str = r#"
- name: dh parameters
  community.crypto.openssl_dhparam:
    path: /etc/stead-tls/dh.pem
    size: 1024
    mode: "0640"
  register: dh
- name: what it registers
  assert:
    that:
      - dh.size == 1024
      - dh.filename == '/etc/stead-tls/dh.pem'
"#;

#[test]
fn openssl_dhparam_makes_parameters_of_the_size_asked() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        prepare(&hosts, host);
        let e = format!("{} {options:?}", engine.name());
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(DH));
        converge(&test, &hosts, 1);
        assert_eq!(
            hosts.sh(host, &format!("openssl dhparam -in {DIR}/dh.pem -noout -text | head -1")).trim(),
            "DH Parameters: (1024 bit)",
            "{e}"
        );
        assert_eq!(hosts.sh(host, &format!("stat -c %a {DIR}/dh.pem")).trim(), "640", "{e}");
    }
    // A different size is shown and regenerates.
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    prepare(&hosts, host);
    hosts.sh(host, &format!("openssl dhparam -out {DIR}/dh.pem 512 2>/dev/null"));
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(DH));
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "-size: 512");
    assert_has_line(&plan, "+size: 1024");
    converge(&test, &hosts, 1);
}

const SSH_KEYS: &str = r#"
- name: host identity
  community.crypto.openssh_keypair:
    path: /etc/stead-tls/id_ed25519
    type: ed25519
    comment: deploy@stead
- name: rsa key
  community.crypto.openssh_keypair:
    path: /etc/stead-tls/id_rsa
    size: 2048
  register: rsa
- name: what it registers
  when: not ansible_check_mode
  assert:
    that:
      - rsa.fingerprint is match('SHA256:')
      - rsa.type == 'rsa'
      - rsa.size == 2048
      - rsa.filename == '/etc/stead-tls/id_rsa'
      - rsa.public_key is match('ssh-rsa ')
"#;

#[test]
fn openssh_keypair_makes_ed25519_and_rsa_pairs() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        prepare(&hosts, host);
        let e = format!("{} {options:?}", engine.name());
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(SSH_KEYS));
        converge(&test, &hosts, 2);
        let listed = hosts.sh(host, &format!("ssh-keygen -l -f {DIR}/id_ed25519"));
        assert!(
            listed.starts_with("256 SHA256:") && listed.trim_end().ends_with("deploy@stead (ED25519)"),
            "{e}: {listed}"
        );
        let rsa = hosts.sh(host, &format!("ssh-keygen -l -f {DIR}/id_rsa"));
        assert!(rsa.starts_with("2048 SHA256:") && rsa.trim_end().ends_with("(RSA)"), "{e}: {rsa}");
        let derived = hosts.sh(host, &format!("ssh-keygen -y -P '' -f {DIR}/id_rsa | cut -d' ' -f1-2"));
        assert_eq!(derived, hosts.sh(host, &format!("cut -d' ' -f1-2 {DIR}/id_rsa.pub")), "{e}");
        assert_eq!(
            hosts.sh(host, &format!("cd {DIR} && stat -c '%n %a' id_ed25519 id_ed25519.pub id_rsa id_rsa.pub")),
            "id_ed25519 600\nid_ed25519.pub 644\nid_rsa 600\nid_rsa.pub 644\n",
            "{e}"
        );
    }
}

/// (stead only: community.crypto encrypts with the host's python3-bcrypt,
/// which the test hosts lack.)
#[test]
fn openssh_keypair_with_a_passphrase_never_shows_it() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    prepare(&hosts, host);
    let task = "- name: key\n  openssh_keypair: {path: /etc/stead-tls/id_rsa, size: 2048, passphrase: \"{{ pw }}\"}\n";
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", pw_play(task));
    let real = converge(&test, &hosts, 1);
    assert_no_secret(&real, &hosts, host, &format!("{DIR}/id_rsa"));
    let derived = hosts.sh(host, &format!("ssh-keygen -y -P {PASS} -f {DIR}/id_rsa | cut -d' ' -f1-2"));
    assert_eq!(derived, hosts.sh(host, &format!("cut -d' ' -f1-2 {DIR}/id_rsa.pub")));
    let no_pass = hosts.exec(host, &format!("ssh-keygen -y -P '' -f {DIR}/id_rsa"));
    assert!(!no_pass.status.success(), "the key is not encrypted");
    let again = test.run_args(["apply", "site.yml", "--diff"]);
    again.assert_status(0).assert_changed(0);
    assert_no_secret(&again, &hosts, host, &format!("{DIR}/id_rsa"));
}

#[test]
fn openssh_keypair_restores_a_lost_public_key_and_a_new_comment() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    prepare(&hosts, host);
    hosts.sh(host, &format!("ssh-keygen -q -N '' -t ed25519 -C old -f {DIR}/id && rm {DIR}/id.pub"));
    let fp = hosts.sh(host, &format!("ssh-keygen -l -f {DIR}/id | cut -d' ' -f2"));
    let task = "- name: key\n  openssh_keypair: {path: /etc/stead-tls/id, type: ed25519, comment: new}\n";
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(task));
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert!(
        plan.stdout.lines().any(|l| l.starts_with("+public_key: ssh-ed25519 ") && l.ends_with(" new")),
        "{}",
        plan.stdout
    );
    converge(&test, &hosts, 1);
    assert_eq!(hosts.sh(host, &format!("ssh-keygen -l -f {DIR}/id | cut -d' ' -f2")), fp, "the same key");
    assert!(hosts.sh(host, &format!("cat {DIR}/id.pub")).trim_end().ends_with(" new"));
}
