//! Text edits of a host's real configuration files: `replace`, with
//! Python's regular expressions (backreferences, lookaround, `\g<name>`).

use super::{converge, variants};
use crate::support::{assert_has_line, play, Test, TestHosts};

/// Hardening edits as published roles write them, on Debian's own files.
const TASKS: &str = r#"
- name: no root login
  replace:
    path: /etc/ssh/sshd_config
    regexp: '^#?PermitRootLogin\s+\S+$'
    replace: PermitRootLogin no
- name: no X11, comments kept
  ansible.builtin.replace:
    path: /etc/ssh/sshd_config
    regexp: '^(?P<hash>#?)(\s*)X11Forwarding\s+(?!no$)\w+$'
    replace: '\g<hash>\2X11Forwarding no'
- name: password ageing
  replace:
    dest: /etc/login.defs
    regexp: '^(PASS_MAX_DAYS\s+)\d+$'
    replace: '\g<1>90'
    backup: true
"#;

#[test]
fn replace_edits_real_configuration_with_python_regexes() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(TASKS));
        converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        let sshd = hosts.sh(host, "cat /etc/ssh/sshd_config");
        assert!(sshd.lines().any(|l| l == "PermitRootLogin no"), "{e}: {sshd}");
        assert!(sshd.lines().any(|l| l == "X11Forwarding no"), "{e}: {sshd}");
        // The commented example keeps its `#` and its tab.
        assert!(sshd.lines().any(|l| l == "#\tX11Forwarding no"), "{e}: {sshd}");
        assert!(!sshd.contains("X11Forwarding yes"), "{e}");
        assert_eq!(hosts.sh(host, "grep '^PASS_MAX_DAYS' /etc/login.defs"), "PASS_MAX_DAYS\t90\n", "{e}");
        let backups = hosts.sh(host, "ls /etc | grep -c '^login.defs\\..*~$' || true");
        assert_eq!(backups.trim(), "1", "{e}: one backup of login.defs");
    }
}

#[test]
fn replace_diff_shows_the_edit_and_a_section_limits_it() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.sh(host, "printf 'a=1\\n[x]\\na=1\\n[y]\\na=1\\n' > /etc/stead-sections.ini");
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play(
            r#"
            - name: only in x
              replace:
                path: /etc/stead-sections.ini
                after: '\[x\]'
                before: '\[y\]'
                regexp: '^a=1$'
                replace: 'a=2'
              register: r
            - name: missing section
              replace: {path: /etc/stead-sections.ini, after: '\[z\]', regexp: a, replace: b}
              register: missing
            - debug: {msg: "{{ r.msg }} / {{ missing.msg }}"}
            "#,
        ),
    );
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0).assert_changed(1);
    assert_has_line(&plan, "+a=2");
    assert_has_line(&plan, "-a=1");
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0).assert_changed(1);
    out.assert_stdout_contains(
        r"1 replacements made / Pattern for before/after params did not match the given file: \[z\](?P<subsection>.*)",
    );
    assert_eq!(hosts.sh(host, "cat /etc/stead-sections.ini"), "a=1\n[x]\na=2\n[y]\na=1\n");
}

#[test]
fn replace_on_a_missing_file_fails_that_host_only() {
    let Some(hosts) = TestHosts::up(2) else { return };
    hosts.sh(hosts.host(1), "echo 'k=v' > /etc/stead-present");
    let test = Test::new().testhost("h1", &hosts, hosts.host(0)).testhost("h2", &hosts, hosts.host(1)).file(
        "site.yml",
        play("- name: edit\n  replace: {path: /etc/stead-present, regexp: '^k=(v)$', replace: 'k=\\1\\1'}\n"),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    let failed = out.task("h1", "edit");
    assert!(failed["msg"].as_str().unwrap_or("").starts_with("Path /etc/stead-present does not exist !"), "{failed}");
    assert_eq!(out.task("h2", "edit")["status"], "changed");
    assert_eq!(hosts.sh(hosts.host(1), "cat /etc/stead-present"), "k=vv\n");
}

#[test]
fn stat_reports_mime_and_attributes_as_ansible_does() {
    let mut seen = Vec::new();
    for engine in crate::support::oracle::engines() {
        let Some(hosts) = TestHosts::up(1) else { return };
        let test = Test::new().engine(&engine).testhost("h1", &hosts, hosts.host(0)).file(
            "site.yml",
            play(
                r#"
                - stat: {path: /etc/passwd}
                  register: s
                - name: fields
                  debug:
                    msg: "{{ s.stat.mimetype }} {{ s.stat.charset }} {{ s.stat.attributes }} {{ s.stat.attr_flags }} {{ s.stat.mode }} {{ s.stat.pw_name }}"
                "#,
            ),
        );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        seen.push(out.task("h1", "fields")["msg"].as_str().unwrap_or("").to_owned());
    }
    assert!(seen[0].starts_with("text/plain us-ascii "), "{seen:?}");
    assert!(seen.iter().all(|m| *m == seen[0]), "stead and Ansible disagree: {seen:?}");
}
