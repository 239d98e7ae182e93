//! Dynamic inventory (issue 13): an executable `-i` source is run as
//! Ansible runs an inventory script, mixed with static sources, and its
//! `stead inventory --list` is what `ansible-inventory --list` prints for
//! the same script; a `plugin: constructed` source builds groups and
//! variables from the hosts before it, as Ansible's plugin does. A failing,
//! slow or garbled script stops the run before any host is contacted.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::support::net::Tripwire;
use crate::support::{oracle, play, Sshd, Test};

/// Writes an executable script into the project.
fn script(test: &Test, name: &str, body: &str) {
    test.write(name, format!("#!/bin/sh\n{body}"));
    let path = test.project().join(name);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod the script");
}

/// A CMDB-like script: groups with vars and children, no `_meta`, so each
/// host is asked for with `--host`.
const CMDB: &str = r#"case "$1" in
--list) cat <<'EOF'
{"web": {"hosts": ["web1", "web2"], "vars": {"greeting": "from the script"}},
 "db": ["db1"],
 "prod": {"children": ["web", "db"], "vars": {"env": "prod"}}}
EOF
;;
--host) case "$2" in
  web1) echo '{"role": "frontend", "ports": [80, 443]}' ;;
  *) echo '{}' ;;
  esac ;;
*) echo "usage: $0 --list | --host NAME" >&2; exit 2 ;;
esac
"#;

/// `ansible-inventory --list` of `sources`, when the oracle is installed
/// (under CI it must be).
fn ansible_list(test: &Test, sources: &[&str]) -> Option<Value> {
    let playbook = oracle::engines().into_iter().find_map(|e| match e {
        oracle::Engine::Ansible(bin) => Some(bin),
        oracle::Engine::Stead => None,
    })?;
    let bin = Path::new(&playbook).with_file_name("ansible-inventory");
    let mut cmd = Command::new(&bin);
    for s in sources {
        cmd.args(["-i", s]);
    }
    let out = cmd
        .arg("--list")
        .current_dir(test.project())
        .env("ANSIBLE_INVENTORY_UNPARSED_FAILED", "true")
        .output()
        .expect("run ansible-inventory");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    Some(serde_json::from_slice(&out.stdout).expect("ansible-inventory prints JSON"))
}

fn list(test: &Test, sources: &[&str]) -> Value {
    let mut args = vec!["inventory", "--list"];
    for s in sources {
        args.extend(["-i", s]);
    }
    let out = test.run_args(args);
    out.assert_status(0);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("not JSON: {e}\n{}", out.stdout))
}

#[test]
fn a_script_inventory_lists_as_ansible_inventory_lists_it() {
    let test = Test::new().raw();
    script(&test, "cmdb.sh", CMDB);
    let ours = list(&test, &["cmdb.sh"]);
    assert_eq!(ours["prod"]["children"], serde_json::json!(["web", "db"]), "{ours:#}");
    assert_eq!(ours["_meta"]["hostvars"]["web1"]["role"], "frontend", "{ours:#}");
    assert_eq!(ours["_meta"]["hostvars"]["web2"]["greeting"], "from the script", "{ours:#}");

    // The same JSON, kept in a file (the bridge from cloud inventory
    // plugins: `ansible-inventory --list > inventory.json`), reads the same.
    test.write("saved.json", ours.to_string());
    assert_eq!(list(&test, &["saved.json"]), ours);

    if let Some(theirs) = ansible_list(&test, &["cmdb.sh"]) {
        assert_eq!(ours, theirs, "stead:\n{ours:#}\nansible-inventory:\n{theirs:#}");
    }
}

const STATIC: &str = r#"
all:
  hosts:
    web1.example.com: {os: debian, release: "12", labels: [edge, public], listen_port: 8080}
    web2.example.com: {os: debian, release: "11", labels: [], listen_port: 80}
    db1: {os: alpine, role: {tier: data}}
  children:
    prod:
      hosts:
        db1:
      vars: {stage: prod}
"#;

const CONSTRUCTED: &str = r#"
plugin: constructed
strict: false
compose:
  release_major: release | int
  short: inventory_hostname_short
groups:
  modern: (release | default('0') | int) >= 12
  webservers: inventory_hostname.startswith('web')
  in_prod: "'prod' in group_names"
keyed_groups:
  - key: os
    prefix: os
  - key: labels
    prefix: label
    parent_group: tagged
  - key: role
    separator: "-"
  - key: stage
    default_value: none
    prefix: stage
"#;

/// Static hosts, then a constructed source that composes a variable and
/// groups them by condition and by value.
#[test]
fn a_constructed_source_groups_hosts_as_ansibles_plugin_does() {
    let test = Test::new().raw().file("10-hosts.yml", STATIC).file("20-constructed.yml", CONSTRUCTED);
    let ours = list(&test, &["10-hosts.yml", "20-constructed.yml"]);
    assert_eq!(ours["os_debian"]["hosts"], serde_json::json!(["web1.example.com", "web2.example.com"]), "{ours:#}");
    assert_eq!(ours["modern"]["hosts"], serde_json::json!(["web1.example.com"]), "{ours:#}");
    assert_eq!(ours["_meta"]["hostvars"]["web1.example.com"]["short"], "web1", "{ours:#}");
    if let Some(theirs) = ansible_list(&test, &["10-hosts.yml", "20-constructed.yml"]) {
        assert_eq!(ours, theirs, "stead:\n{ours:#}\nansible-inventory:\n{theirs:#}");
    }
    // A typo in an option is an error with a hint, not a skipped option.
    test.write("20-constructed.yml", "plugin: constructed\nkeyed_group:\n  - key: os\n");
    let out = test.run_args(["inventory", "--list", "-i", "10-hosts.yml", "-i", "20-constructed.yml"]);
    out.assert_status(1);
    out.assert_stderr_contains("20-constructed.yml:2:1: unknown constructed option `keyed_group`");
    out.assert_stderr_contains("did you mean `keyed_groups`?");
}

#[test]
fn a_script_mixed_with_a_static_inventory_drives_a_run() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).raw().file(
        "site.yml",
        play("- copy:\n    content: \"{{ greeting }} {{ role }} {{ env }}\\n\"\n    dest: \"{{ root }}/hello\"\n")
            .replace("hosts: all", "hosts: web"),
    );
    script(&test, "cmdb.sh", &CMDB.replace("\"web2\"", "\"web9\""));
    let out = test.run_args(["apply", "site.yml", "-i", "inventory.yaml", "-i", "cmdb.sh", "-l", "web1"]);
    out.assert_status(0);
    assert_eq!(test.read("web1", "hello"), "from the script frontend prod\n");
}

#[test]
fn a_failing_slow_or_garbled_script_stops_before_any_host_is_contacted() {
    let wire = Tripwire::new();
    let cases: &[(&str, &[&str])] = &[
        ("echo 'cmdb is down' >&2; exit 3", &["exited with status 3: cmdb is down"]),
        ("echo '{not json'", &["the output of --list is not JSON"]),
        ("echo '{\"web\": {\"host\": [\"a\"]}}'", &["group `web` has the key `host`"]),
        ("sleep 10", &["did not finish within 0.5 s", "STEAD_INVENTORY_SCRIPT_TIMEOUT"]),
    ];
    for (body, needles) in cases {
        let test = Test::new()
            .host_with("web1", wire.host_vars())
            .raw()
            .env("STEAD_INVENTORY_SCRIPT_TIMEOUT", "0.5")
            .file("site.yml", play("- ping:\n"));
        script(&test, "inv.sh", body);
        let started = std::time::Instant::now();
        let out = test.run_args(["apply", "site.yml", "-i", "inventory.yaml", "-i", "inv.sh"]);
        assert_eq!(out.status, 1, "`{body}`\n{}{}", out.stdout, out.stderr);
        for n in *needles {
            out.assert_stderr_contains(n);
        }
        assert!(started.elapsed().as_secs() < 5, "`{body}` took {:?}", started.elapsed());
        assert!(!wire.was_touched(), "`{body}` connected before failing");
    }
}
