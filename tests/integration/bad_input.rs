//! Bad input stops stead before any host is contacted: exit status 1, an
//! error that names `file:line:column` (the right line), and no connection
//! (CONTRACT §2, §4).
//!
//! The host points at a [`Tripwire`]: a listener that records whether
//! anything connected, so "no connection" is an assertion that can fail.

use regex::Regex;

use crate::support::net::Tripwire;
use crate::support::{Outcome, Test};

/// A project whose only host sits behind a tripwire.
fn project(wire: &Tripwire, playbook: &str) -> Test {
    Test::new().host_with("web1", wire.host_vars()).file("site.yml", playbook)
}

/// Asserts the error names `file` at `line` (any column).
#[track_caller]
fn assert_location(out: &Outcome, file: &str, line: usize) {
    let re = Regex::new(&format!(r"{}:(\d+):(\d+)", regex::escape(file))).unwrap();
    let found: Vec<usize> = re.captures_iter(&out.stderr).map(|c| c[1].parse().unwrap()).collect();
    assert!(found.contains(&line), "expected {file}:{line}:COL in stderr, found lines {found:?}\n{}", out.stderr);
}

/// Runs `apply` and `validate`; both must refuse with exit 1 at `line`,
/// mention every needle, and never connect.
#[track_caller]
fn assert_rejected(test: &Test, wire: &Tripwire, file: &str, line: usize, needles: &[&str]) {
    for command in ["apply", "validate"] {
        let out = test.run_args([command, "site.yml"]);
        out.assert_status(1);
        assert_location(&out, file, line);
        for needle in needles {
            out.assert_stderr_contains(needle);
        }
        out.assert_stderr_lacks("unreachable").assert_stderr_lacks("cannot connect");
        assert!(!wire.was_touched(), "`stead {command}` connected to the host despite bad input\n{}", out.stderr);
    }
}

#[test]
fn yaml_syntax_error_is_reported_at_its_line() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      copy:
        content: hello: world
        dest: "{{ root }}/motd"
"#,
    );
    assert_rejected(&test, &wire, "site.yml", 6, &[]);
}

#[test]
fn unknown_module_is_reported_with_a_suggestion() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      copyy:
        content: hello
        dest: "{{ root }}/motd"
"#,
    );
    assert_rejected(&test, &wire, "site.yml", 5, &["copyy", "did you mean", "copy"]);
}

#[test]
fn unknown_module_argument_is_reported_at_its_line() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      copy:
        content: hello
        destt: "{{ root }}/motd"
"#,
    );
    assert_rejected(&test, &wire, "site.yml", 7, &["destt"]);
}

#[test]
fn wrong_argument_type_is_reported_at_its_line() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      copy:
        content: hello
        dest: "{{ root }}/motd"
        backup: [1]
"#,
    );
    assert_rejected(&test, &wire, "site.yml", 8, &["backup"]);
}

#[test]
fn undefined_variable_is_reported_at_its_use() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      copy:
        content: "{{ nope_undefined }}"
        dest: "{{ root }}/motd"
"#,
    );
    assert_rejected(&test, &wire, "site.yml", 6, &["nope_undefined"]);
}

#[test]
fn missing_template_file_is_reported_at_src() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      template:
        src: nothere.j2
        dest: "{{ root }}/motd"
"#,
    );
    assert_rejected(&test, &wire, "site.yml", 6, &["nothere.j2"]);
}

#[test]
fn template_syntax_error_is_reported_in_the_template() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      template:
        src: motd.j2
        dest: "{{ root }}/motd"
"#,
    )
    .file("templates/motd.j2", "line one\n{% for x in %}\n{% endfor %}\n");
    assert_rejected(&test, &wire, "motd.j2", 2, &[]);
}

#[test]
fn unknown_host_pattern_is_reported_at_hosts() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: webz
  gather_facts: false
  tasks:
    - ping:
"#,
    );
    assert_rejected(&test, &wire, "site.yml", 1, &["webz"]);
}

#[test]
fn mode_without_a_leading_zero_is_rejected() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      copy:
        content: hello
        dest: "{{ root }}/motd"
        mode: 644
"#,
    );
    assert_rejected(&test, &wire, "site.yml", 8, &["mode"]);
}

#[test]
fn unknown_task_keyword_is_reported_at_its_line() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      copy:
        content: hello
        dest: "{{ root }}/motd"
      whenn: true
"#,
    );
    assert_rejected(&test, &wire, "site.yml", 8, &["whenn"]);
}

#[test]
fn valid_playbook_validates_without_connecting() {
    let wire = Tripwire::new();
    let test = project(
        &wire,
        r#"- hosts: all
  gather_facts: false
  tasks:
    - name: motd
      copy:
        content: hello
        dest: "{{ root }}/motd"
        mode: "0644"
"#,
    );
    test.run_args(["validate", "site.yml"]).assert_status(0);
    assert!(!wire.was_touched(), "validate contacted a host");
}

#[test]
fn unknown_flag_is_a_usage_error_with_status_1() {
    let wire = Tripwire::new();
    let test = project(&wire, "- hosts: all\n  tasks: []\n");
    test.run_args(["apply", "site.yml", "--no-such-flag"]).assert_status(1).assert_stderr_contains("--no-such-flag");
    assert!(!wire.was_touched());
}

#[test]
fn missing_playbook_file_is_named_in_the_error() {
    let wire = Tripwire::new();
    let test = project(&wire, "- hosts: all\n  tasks: []\n");
    test.run_args(["apply", "nosuch.yml"]).assert_status(1).assert_stderr_contains("nosuch.yml");
    assert!(!wire.was_touched());
}

/// Issue 12: an invalid `ansible_port` silently became port 22.
#[test]
fn invalid_ansible_port_is_refused_not_turned_into_22() {
    for bad in
        [serde_json::json!("abc"), serde_json::json!(99999), serde_json::json!(-1), serde_json::json!("22 -oX=y")]
    {
        let wire = Tripwire::new();
        let test = project(&wire, "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n").host_var(
            "web1",
            "ansible_port",
            bad.clone(),
        );
        for command in ["apply", "validate"] {
            let out = test.run_args([command, "site.yml"]);
            out.assert_status(1).assert_stderr_contains("host `web1`").assert_stderr_contains("ansible_port");
            assert!(!wire.was_touched(), "{bad}: stead connected");
        }
    }
}

#[test]
fn connection_variables_stead_cannot_honour_are_refused_by_name() {
    for (var, value) in
        [("ansible_password", "hunter2"), ("ansible_become_flags", "-E"), ("ansible_connection", "winrm")]
    {
        let wire = Tripwire::new();
        let test =
            project(&wire, "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n").host_var("web1", var, value);
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(1).assert_stderr_contains(var);
        out.assert_stderr_lacks("hunter2");
        assert!(!wire.was_touched(), "{var}: stead connected");
    }
}

/// Issue 12: `stead validate ... | head` panicked on the closed pipe (exit 101).
#[test]
fn a_closed_stdout_pipe_ends_stead_quietly_not_with_a_panic() {
    use std::io::Read;
    let mut inventory = String::from("all:\n  hosts:\n");
    for i in 0..5000 {
        inventory.push_str(&format!("    host{i}.example.com: {{ansible_host: 127.0.0.1}}\n"));
    }
    let test = Test::new().file("inventory.yaml", inventory);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_stead"))
        .args(["inventory", "-i", "inventory.yaml", "--list"])
        .current_dir(test.project())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start stead");
    let mut first = [0u8; 16];
    child.stdout.take().unwrap().read_exact(&mut first).unwrap();
    // The read end is dropped here: the rest of the output hits a closed pipe.
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
}

#[test]
fn an_unknown_meta_action_is_rejected_at_its_line() {
    let wire = Tripwire::new();
    let test = project(&wire, "- hosts: all\n  gather_facts: false\n  tasks:\n    - meta: refresh_inventory\n");
    assert_rejected(&test, &wire, "site.yml", 4, &["refresh_inventory"]);
}

/// Issue 7: every system module checks its arguments before any host is
/// contacted: a misspelt argument, a value outside the choices and an
/// argument stead refuses are each reported at their own line.
/// The community.crypto modules: bad choices, and arguments (or values)
/// stead refuses, each with the reason, before any host is contacted.
#[test]
fn crypto_module_arguments_are_checked_at_their_line() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("community.crypto.openssl_privatekey: {path: /k, type: RSAA}", "RSAA", &["did you mean `RSA`"]),
        ("openssl_privatekey: {path: /k, type: DSA}", "DSA", &["does not support"]),
        ("openssl_privatekey: {path: /k, return_content: true}", "return_content", &["never leaves the host"]),
        ("openssl_privatekey: {path: /k, cipher: des}", "des", &["cipher"]),
        ("openssl_privatekey: {path: /k, select_crypto_backend: cryptography}", "select_crypto_backend", &["openssl"]),
        (
            "openssl_csr: {path: /c, privatekey_path: /k, privatekey_content: x}",
            "privatekey_content",
            &["stays on the host"],
        ),
        (
            "openssl_csr: {path: /c, privatekey_path: /k, ocsp_must_staple: true}",
            "ocsp_must_staple",
            &["does not support"],
        ),
        (
            "openssl_csr: {path: /c, privatekey_path: /k, subject_alt_nam: [DNS:a]}",
            "subject_alt_nam",
            &["did you mean"],
        ),
        ("x509_certificate: {path: /c, provider: acme}", "acme", &["does not support"]),
        ("x509_certificate: {path: /c, provider: selfsigned, entrust_api_user: u}", "entrust_api_user", &["entrust"]),
        (
            "x509_certificate: {path: /c, provider: selfsigned, ownca_privatekey_content: k}",
            "ownca_privatekey_content",
            &["stays on the host"],
        ),
        ("x509_certificate_info: {path: /c, name_encoding: idna}", "idna", &["does not support"]),
        ("openssl_dhparam: {path: /d, size: twelve}", "twelve", &["size"]),
        ("openssh_keypair: {path: /id, type: dsa}", "dsa", &["does not support"]),
        ("openssh_keypair: {path: /id, type: ed448}", "ed448", &["type"]),
        ("openssh_keypair: {path: /id, type: rsa1}", "rsa1", &["does not support"]),
        ("x509_certificate: {path: /c, provider: entrust}", "entrust", &["does not support"]),
        ("x509_certificate: {path: /c, provider: selfsigned, selfsigned_version: 2}", "selfsigned_version", &["3"]),
        ("openssl_csr: {path: /c, privatekey_path: /k, version: 2}", "version", &["must be one of 1"]),
    ];
    for (task, needle, extra) in cases {
        let wire = Tripwire::new();
        let test =
            project(&wire, &format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - name: case\n      {task}\n"));
        let out = test.run_args(["validate", "site.yml"]);
        assert_eq!(out.status, 1, "`{task}` was accepted\n{}{}", out.stdout, out.stderr);
        assert_location(&out, "site.yml", 5);
        out.assert_stderr_contains(needle);
        for e in *extra {
            out.assert_stderr_contains(e);
        }
        assert!(!wire.was_touched(), "`{task}` connected before failing\n{}", out.stderr);
    }
}

#[test]
fn system_module_arguments_are_checked_at_their_line() {
    let cases: &[(&str, &str, &[&str])] = &[
        ("sysctl: {name: net.ipv4.ip_forward, valu: 1}", "valu", &["did you mean `value`"]),
        ("sysctl: {name: net.ipv4.ip_forward, value: 1, state: gone}", "gone", &["state"]),
        ("mount: {path: /mnt, state: mountd}", "mountd", &["state"]),
        ("replace: {path: /etc/x, regexp: a, unsafe_writes: true}", "unsafe_writes", &["atomically"]),
        ("service: {name: ssh, state: started, runlevel: 3}", "runlevel", &["does not support"]),
        ("systemd: {name: ssh, enabld: true}", "enabld", &["did you mean `enabled`"]),
        ("apt: {name: hello, state: presnt}", "presnt", &["state"]),
        ("user: {name: alice, shel: /bin/sh}", "shel", &["did you mean `shell`"]),
        ("authorized_key: {user: alice, key: k, exclusive: maybe}", "maybe", &["exclusive"]),
        ("cron: {name: x, job: true, minut: 5}", "minut", &["did you mean `minute`"]),
        ("ini_file: {path: /etc/x.ini, section: s, option: o, value: v, attributes: i}", "attributes", &["not"]),
        ("pam_limits: {domain: '*', limit_type: hrd, limit_item: nofile, value: 1}", "hrd", &["limit_type"]),
        ("modprobe: {name: dummy, state: loaded}", "loaded", &["state"]),
        ("raw: ", "raw", &[]),
        ("find: {paths: /etc, file_typ: file}", "file_typ", &["did you mean `file_type`"]),
        ("fetch: {src: /etc/hostname, dest: out, flatt: true}", "flatt", &["did you mean `flat`"]),
        ("hostname: {nam: web1}", "nam", &["did you mean `name`"]),
        ("timezone: {name: UTC, hwclock: local}", "hwclock", &["does not support"]),
        ("apt_repository: {repo: 'deb http://x ./', stat: present}", "stat", &["did you mean `state`"]),
        ("deb822_repository: {name: x, uris: 'http://x', suites: s, typs: deb}", "typs", &["did you mean `types`"]),
        ("community.general.sudoers: {name: x, user: u, commands: ALL, nopasword: true}", "nopasword", &["nopassword"]),
        ("package_facts: {strategy: some}", "some", &["strategy"]),
        ("group: {name: g, gid: twelve}", "twelve", &["gid"]),
        ("reboot: {reboot_timout: 5}", "reboot_timout", &["did you mean `reboot_timeout`"]),
        ("get_url: {url: 'http://x', dest: /tmp/x, checksum: 5, ciphers: x}", "ciphers", &["does not support"]),
        (
            "nftables: {table: f, chains: [{name: c, rules: [{dprot: 22, action: accept}]}]}",
            "dprot",
            &["did you mean `dport`", "chains[0].rules[0]"],
        ),
        ("nftables: {table: f, chains: [{name: c, hook: inbound}]}", "inbound", &["hook"]),
        ("nftables: {table: f, sets: [{name: s}]}", "type", &["sets[0]"]),
        ("iptables: {chain: INPUT, jump: DROP, action: prepend}", "prepend", &["action", "append, insert"]),
        (
            "iptables: {chain: INPUT, jump: DROP, destination_prot: 22}",
            "destination_prot",
            &["did you mean `destination_port`"],
        ),
        ("iptables: {chain: INPUT, policy: REJECT}", "REJECT", &["policy"]),
        ("iptables: {flush: true, policy: DROP, chain: INPUT}", "cannot be used together", &[]),
        ("community.general.ufw: {rule: allow, name: OpenSSH}", "name", &["does not support", "applications.d"]),
        (
            "ufw: {rule: allow, port: 22, insert: 1, insert_relative_to: first-ipv4}",
            "first-ipv4",
            &["insert_relative_to"],
        ),
        ("ufw: {rule: permit, port: 22}", "permit", &["rule"]),
    ];
    for (task, needle, extra) in cases {
        let wire = Tripwire::new();
        let test =
            project(&wire, &format!("- hosts: all\n  gather_facts: false\n  tasks:\n    - name: case\n      {task}\n"));
        let out = test.run_args(["validate", "site.yml"]);
        assert_eq!(out.status, 1, "`{task}` was accepted\n{}{}", out.stdout, out.stderr);
        assert_location(&out, "site.yml", 5);
        out.assert_stderr_contains(needle);
        for e in *extra {
            out.assert_stderr_contains(e);
        }
        assert!(!wire.was_touched(), "`{task}` connected before failing\n{}", out.stderr);
    }
}

/// A templated `become_method` is decided when the task runs: one stead
/// does not implement fails that task, naming it, and never runs as sudo.
#[test]
fn a_templated_become_method_stead_lacks_fails_the_task_by_name() {
    let test = Test::new().host_with("ctl", vec![("ansible_connection".into(), "local".into())]).file(
        "site.yml",
        "- hosts: all\n  gather_facts: false\n  vars:\n    how: runas\n  tasks:\n    - command: id -u\n      \
         become: true\n      become_method: \"{{ how }}\"\n",
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4).assert_output_contains("unknown or unsupported become_method `runas`");
}
