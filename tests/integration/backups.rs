//! `stead backups`: every `backup: true` of a run is recorded in the audit
//! trail; `backups list` finds them, newest first, and `backups restore`
//! puts one back on the real host (atomically, with a diff, a dry run under
//! `--check`), keeping a backup of what it replaces.

use serde_json::Value;

use crate::support::{play, Sshd, Test};

const HOST: &str = "web1";

fn motd_play(content: &str) -> String {
    play(&format!("- name: motd\n  copy: {{content: \"{content}\\n\", dest: \"{{{{ root }}}}/motd\", backup: true}}\n"))
}

fn listed(test: &Test, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["backups", "list", "--json"];
    all.extend(args);
    let out = test.run_args(all);
    out.assert_status(0);
    out.stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn backups_are_listed_newest_first_and_restored_on_the_host() {
    let sshd = Sshd::start();
    let test = Test::new().host(HOST, &sshd).file("site.yml", motd_play("v2"));
    test.put(HOST, "motd", "v1\n");
    test.run_args(["apply", "site.yml"]).assert_status(0);
    test.write("site.yml", motd_play("v3"));
    test.run_args(["apply", "site.yml"]).assert_status(0);
    // A dry run makes no backup, and none is recorded.
    test.write("site.yml", motd_play("v4"));
    test.run_args(["apply", "site.yml", "--check"]).assert_status(0);
    let motd = test.path(HOST, "motd").display().to_string();

    let found = listed(&test, &[]);
    assert_eq!(found.len(), 2, "{found:?}");
    for b in &found {
        assert_eq!(
            (b["host"].as_str(), b["path"].as_str(), b["task"].as_str()),
            (Some(HOST), Some(&*motd), Some("motd"))
        );
    }
    let newest = found[0]["backup"].as_str().unwrap().to_owned();
    let oldest = found[1]["backup"].as_str().unwrap().to_owned();
    assert_eq!(std::fs::read_to_string(&newest).unwrap(), "v2\n");
    assert_eq!(std::fs::read_to_string(&oldest).unwrap(), "v1\n");
    assert_eq!(listed(&test, &[HOST, &motd]).len(), 2);
    assert!(listed(&test, &["other"]).is_empty());
    let plain = test.run_args(["backups", "list"]);
    plain.assert_status(0).assert_stdout_contains(&format!("  {HOST}  {motd}  {newest}  (motd)"));

    // --check shows what would come back and changes nothing.
    let before = test.tree_hash(HOST);
    let check = test.run_args(["backups", "restore", HOST, &motd, "--check", "-i", "inventory.yaml"]);
    check.assert_status(0).assert_stdout_contains("-v3").assert_stdout_contains("+v2");
    assert_eq!(test.tree_hash(HOST), before, "--check changed the host");

    let restored = test.run_args(["backups", "restore", HOST, &motd, "-i", "inventory.yaml"]);
    restored.assert_status(0).assert_stdout_contains("+v2");
    assert_eq!(test.read(HOST, "motd"), "v2\n");
    // The version it replaced is a backup too, so the restore can be undone.
    let after = listed(&test, &[HOST, &motd]);
    assert_eq!(after.len(), 3, "{after:?}");
    assert_eq!(std::fs::read_to_string(after[0]["backup"].as_str().unwrap()).unwrap(), "v3\n");
    assert!(after[0]["task"].as_str().unwrap().starts_with("restore "), "{after:?}");
    // Again: nothing to do.
    test.run_args(["backups", "restore", HOST, &motd, "--at", &newest, "-i", "inventory.yaml"])
        .assert_status(0)
        .assert_stdout_contains("ok: [web1]");

    let name = oldest.rsplit('/').next().unwrap();
    test.run_args(["backups", "restore", HOST, &motd, "--at", name, "-i", "inventory.yaml"]).assert_status(0);
    assert_eq!(test.read(HOST, "motd"), "v1\n");

    let unknown = test.run_args(["backups", "restore", HOST, "/etc/nothing", "-i", "inventory.yaml"]);
    unknown.assert_status(1).assert_stderr_contains("no backup of /etc/nothing on web1");
    let bad_at = test.run_args(["backups", "restore", HOST, &motd, "--at", "nope", "-i", "inventory.yaml"]);
    bad_at.assert_status(1).assert_stderr_contains("--at nope: not a recorded backup");
}
