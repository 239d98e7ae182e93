//! Host-level modules on Tier-B hosts: `find` over a tree the test made,
//! `hostname` in the host's own UTS namespace, `timezone` in its own
//! `/etc`, and `fetch` from the host to the controller.

use super::{converge, variants};
use crate::support::{assert_has_line, play, Test, TestHosts};

const TREE: &str = "mkdir -p /srv/tree/sub/deep /srv/tree/.git && \
    printf 'a = 1\\nneedle\\n' > /srv/tree/a.conf && \
    printf 'x\\n' > /srv/tree/sub/b.conf && \
    printf 'needle later\\n' > /srv/tree/sub/deep/c.conf && \
    printf 'y\\n' > /srv/tree/.git/config.conf && \
    printf 'z\\n' > /srv/tree/.hidden.conf && \
    printf 'big%.0s' $(seq 1 2000) > /srv/tree/sub/big.log && \
    ln -s sub /srv/tree/link && chmod 600 /srv/tree/sub/b.conf";

const FIND_TASKS: &str = r#"
- name: confs
  find: {paths: /srv/tree, patterns: "*.conf", recurse: true, get_checksum: true}
  register: confs
- name: check confs
  assert:
    that:
      - confs.changed == false
      - confs.matched == 4
      - confs.files | map(attribute='path') | sort | list == ['/srv/tree/.git/config.conf', '/srv/tree/a.conf', '/srv/tree/sub/b.conf', '/srv/tree/sub/deep/c.conf']
      - confs.examined == 10
      - confs.msg == 'All paths examined'
      - confs.skipped_paths == {}
      - (confs.files | selectattr('path', 'equalto', '/srv/tree/a.conf') | first).checksum == 'c9fdc1da0e7b5fa6f2d4ba8a47a28c58e6d3e4c5'
      - (confs.files | selectattr('path', 'equalto', '/srv/tree/sub/b.conf') | first).mode == '0600'
      - (confs.files | selectattr('path', 'equalto', '/srv/tree/a.conf') | first).pw_name == 'root'
- name: regex, contains, depth, size
  ansible.builtin.find:
    paths: [/srv/tree/]
    patterns: ['^[a-c]\.conf$']
    use_regex: true
    contains: '^needle'
    recurse: true
    depth: 2
  register: needles
- name: big files, links, directories, missing paths
  find: {paths: [/srv/tree, /srv/nope], size: 2k, recurse: true, hidden: true}
  register: big
- name: links
  find: {paths: /srv/tree, file_type: link}
  register: links
- name: directories
  find: {paths: /srv/tree, file_type: directory, hidden: yes, recurse: yes, excludes: 'd*'}
  register: dirs
- name: check the rest
  assert:
    that:
      - needles.files | map(attribute='path') | list == ['/srv/tree/a.conf']
      - big.files | map(attribute='path') | list == ['/srv/tree/sub/big.log']
      - big.skipped_paths | length == 1
      - "big.skipped_paths['/srv/nope'] == \"'/srv/nope' is not a directory\""
      - big.msg == 'Not all paths examined, check warnings for details'
      - links.files[0].islnk and links.matched == 1
      - dirs.files | map(attribute='path') | sort | list == ['/srv/tree/.git', '/srv/tree/sub']
"#;

#[test]
fn find_matches_files_as_ansible_does() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, TREE);
        let checksum = hosts.sh(host, "sha1sum < /srv/tree/a.conf | cut -d' ' -f1");
        let tasks = FIND_TASKS.replace("c9fdc1da0e7b5fa6f2d4ba8a47a28c58e6d3e4c5", checksum.trim());
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&tasks));
        let out = converge(&test, &hosts, 0);
        assert_eq!(out.summary("failed"), 0, "{} {options:?}\n{}", engine.name(), out.stdout);
    }
}

#[test]
fn find_fails_on_a_bad_age_and_a_bad_regex() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let test = Test::new().testhost("h1", &hosts, hosts.host(0)).file(
        "site.yml",
        play(
            "- name: bad age\n  find: {paths: /etc, age: 3y}\n  ignore_errors: true\n\
             - name: bad regex\n  find: {paths: /etc, patterns: '(', use_regex: true}\n",
        ),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    assert_eq!(out.task("h1", "bad age")["msg"], "failed to process age");
    assert!(out.task("h1", "bad regex")["msg"].as_str().unwrap().contains("invalid regular expression"));
}

fn this_machine_hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default()
}

const HOSTNAME_TASKS: &str = r#"
- name: name the host
  hostname: {name: web1.example.test}
  register: r
- name: check the result
  assert:
    that:
      - r.name == 'web1.example.test'
      - r.ansible_facts.ansible_hostname == 'web1'
      - r.ansible_facts.ansible_nodename == 'web1.example.test'
      - ansible_hostname == 'web1'
"#;

#[test]
fn hostname_writes_etc_hostname_as_ansible_does_on_debian() {
    let machine = this_machine_hostname();
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let live = hosts.sh(host, "hostname");
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(HOSTNAME_TASKS));
        converge(&test, &hosts, 1);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(hosts.sh(host, "cat /etc/hostname"), "web1.example.test\n", "{e}");
        // Without systemd, Ansible's Debian strategy leaves the live name alone.
        assert_eq!(hosts.sh(host, "hostname"), live, "{e}");
        assert_eq!(this_machine_hostname(), machine, "{e}");
    }
}

#[test]
fn hostname_use_alpine_sets_the_live_name_in_the_hosts_namespace_only() {
    let machine = this_machine_hostname();
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let test = Test::new()
        .testhost("h1", &hosts, host)
        .file("site.yml", play("- name: live too\n  hostname: {name: db7, use: alpine}\n"));
    converge(&test, &hosts, 1);
    assert_eq!(hosts.sh(host, "cat /etc/hostname"), "db7\n");
    assert_eq!(hosts.sh(host, "hostname").trim(), "db7");
    assert_eq!(this_machine_hostname(), machine);
}

#[test]
fn hostname_plan_shows_the_names_and_a_foreign_strategy_fails() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.sh(host, "echo old-name > /etc/hostname");
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play("- name: rename\n  hostname: {name: new-name}\n- name: redhat\n  hostname: {name: x, use: redhat}\n"),
    );
    let out = test.run_args(["plan", "site.yml"]);
    out.assert_status(4);
    assert_has_line(&out, "-hostname: old-name");
    assert_has_line(&out, "+hostname: new-name");
    assert!(out.task("h1", "redhat")["msg"].as_str().unwrap().contains("not `redhat`"));
    assert_eq!(hosts.sh(host, "cat /etc/hostname"), "old-name\n");
}

const TZ_TASKS: &str = r#"
- name: zone
  community.general.timezone: {name: Europe/Paris}
  register: tz
"#;

#[test]
fn timezone_sets_etc_timezone_and_the_localtime_link() {
    let machine = std::fs::read_link("/etc/localtime").ok();
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, "echo Etc/UTC > /etc/timezone && ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime");
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(TZ_TASKS));
        converge(&test, &hosts, 1);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(hosts.sh(host, "cat /etc/timezone"), "Europe/Paris\n", "{e}");
        assert_eq!(hosts.sh(host, "readlink /etc/localtime").trim(), "/usr/share/zoneinfo/Europe/Paris", "{e}");
        assert!(["CET", "CEST"].contains(&hosts.sh(host, "date +%Z").trim()), "{e}");
        assert_eq!(std::fs::read_link("/etc/localtime").ok(), machine, "{e}");
    }
}

#[test]
fn timezone_plan_shows_the_zones_and_an_unknown_zone_fails() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.sh(host, "echo Etc/UTC > /etc/timezone && ln -sf /usr/share/zoneinfo/Etc/UTC /etc/localtime");
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play("- name: zone\n  timezone: {name: Asia/Tokyo}\n- name: nowhere\n  timezone: {name: Mars/Olympus}\n"),
    );
    let out = test.run_args(["plan", "site.yml"]);
    out.assert_status(4);
    assert_has_line(&out, "-name: Etc/UTC");
    assert_has_line(&out, "+name: Asia/Tokyo");
    assert_eq!(out.task("h1", "nowhere")["msg"], "Error message:\ngiven timezone \"Mars/Olympus\" is not available");
    assert_eq!(hosts.sh(host, "cat /etc/timezone"), "Etc/UTC\n");
}

#[test]
fn timezone_refuses_hwclock_at_load_time() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let test = Test::new()
        .testhost("h1", &hosts, hosts.host(0))
        .file("site.yml", play("- timezone: {name: Etc/UTC, hwclock: UTC}\n"));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(1).assert_stderr_contains("stead does not support the argument `hwclock`");
}

const FETCH_TASKS: &str = r#"
- name: by host
  fetch: {src: /etc/stead-fetch.conf, dest: backups}
  register: f
- name: flat
  ansible.builtin.fetch: {src: /etc/stead-fetch.conf, dest: flat/, flat: true}
"#;

#[test]
fn fetch_copies_a_host_file_to_the_controller_once() {
    use crate::support::oracle::Engine;
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, "printf 'key = value\\n' > /etc/stead-fetch.conf");
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(FETCH_TASKS));
        let e = format!("{} {options:?}", engine.name());
        let by_host = test.project().join("backups/h1/etc/stead-fetch.conf");
        let flat = test.project().join("flat/stead-fetch.conf");
        let before = hosts.upper_hash(host);
        // Check mode writes nothing on either side. stead reports what a
        // real run would change; Ansible skips fetch in check mode.
        let check = test.run_args(["apply", "site.yml", "--check"]);
        check.assert_status(0).assert_changed(if engine == Engine::Stead { 2 } else { 0 });
        assert_eq!(hosts.upper_hash(host), before, "{e}");
        assert!(!by_host.exists() && !flat.exists(), "check mode wrote on the controller: {e}");
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(2);
        assert_eq!(std::fs::read_to_string(&by_host).unwrap(), "key = value\n", "{e}");
        assert_eq!(std::fs::read_to_string(&flat).unwrap(), "key = value\n", "{e}");
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
        hosts.sh(host, "printf 'key = other\\n' > /etc/stead-fetch.conf");
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(2);
        assert_eq!(std::fs::read_to_string(&flat).unwrap(), "key = other\n", "{e}");
    }
}

#[test]
fn fetch_plan_shows_the_checksums_and_a_missing_file_fails_unless_told() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.sh(host, "printf 'abc' > /etc/stead-fetch.conf");
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play(
            "- name: get\n  fetch: {src: /etc/stead-fetch.conf, dest: out/, flat: true}\n\
             - name: optional\n  fetch: {src: /etc/nope, dest: out/, flat: true, fail_on_missing: false}\n\
             - name: required\n  fetch: {src: /etc/nope, dest: out/, flat: true}\n",
        ),
    );
    let out = test.run_args(["plan", "site.yml"]);
    out.assert_status(4);
    assert_has_line(&out, "-checksum: (absent)");
    assert_has_line(&out, "+checksum: a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(out.task("h1", "optional")["status"], "ok");
    assert_eq!(out.task("h1", "required")["msg"], "the remote file does not exist, not transferring, ignored");
    assert!(!test.project().join("out").exists());
}
