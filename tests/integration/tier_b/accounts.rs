//! Accounts: `user`, `group` and `authorized_key` on Tier-B hosts, whose
//! `/etc/passwd`, `/etc/shadow` and homes are their own (CONTRACT §7),
//! checked with `getent` and `id` on the host afterwards.

use super::{converge, variants};
use crate::support::{assert_has_line, play, Test, TestHosts};

/// `openssl passwd -6 -salt steadsalt1 'correct horse'`.
const HASH1: &str =
    "$6$steadsalt1$UaEKCwLBJ3dFnIBv.sG4pO3GhzNHr3aUTYINBPsBAmyW4kObzkfwzbhUdSTTRuX6oVl.JF4LM3hKeT2MwZ9n3.";
/// `openssl passwd -6 -salt steadsalt2 'battery staple'`.
const HASH2: &str =
    "$6$steadsalt2$SYS8i9YHFCSvoxKcpeJFnuSFPdCrw..BqHq3FqMD/sY5ZKS1yL5FcFr1rfrQ73LOhKqPFt2fWztCGgbLM9dEC.";

fn accounts_play() -> String {
    play(&format!(
        r#"
        - name: service group
          group: {{name: svcgrp, system: true}}
        - name: service account
          ansible.builtin.user:
            name: svcacct
            system: true
            group: svcgrp
            shell: /usr/sbin/nologin
            home: /var/lib/svcacct
            comment: Service account
        - name: team group
          ansible.builtin.group: {{name: team, gid: 4242}}
        - name: alice joins team
          user: {{name: alice, groups: [team], append: true, password: "{HASH1}"}}
        - name: bob leaves
          user: {{name: bob, state: absent, remove: true}}
        "#
    ))
}

/// Alice (in `adm`), Bob with a home, and group `team` (gid 4000) exist
/// before the play. (In check mode Ansible, like stead, fails a membership
/// in a group that an earlier task would create.)
fn prepare(hosts: &TestHosts, host: &crate::support::testhosts::TestHost) {
    hosts.sh(host, "useradd -m -G adm -s /bin/bash alice && useradd -m bob && touch /home/bob/notes");
    hosts.sh(host, "groupadd -g 4000 team");
}

#[test]
fn user_and_group_converge_a_service_account_membership_and_removal() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        prepare(&hosts, host);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", accounts_play());
        converge(&test, &hosts, 5);
        let e = format!("{} {options:?}", engine.name());
        let svc = hosts.sh(host, "getent passwd svcacct");
        let f: Vec<&str> = svc.trim().split(':').collect();
        let gid = hosts.sh(host, "getent group svcgrp | cut -d: -f3");
        assert!(f[2].parse::<u32>().unwrap() < 1000, "not a system uid: {svc} {e}");
        assert_eq!(
            (f[3], f[4], f[5], f[6]),
            (gid.trim(), "Service account", "/var/lib/svcacct", "/usr/sbin/nologin"),
            "{e}"
        );
        assert!(gid.trim().parse::<u32>().unwrap() < 1000, "not a system gid: {gid} {e}");
        assert_eq!(hosts.sh(host, "stat -c '%U %G %a' /var/lib/svcacct").trim(), "svcacct svcgrp 755", "{e}");
        assert_eq!(hosts.sh(host, "getent group team").trim(), "team:x:4242:alice", "{e}");
        assert_eq!(hosts.sh(host, "id -nG alice").trim(), "alice adm team", "{e}");
        assert_eq!(hosts.sh(host, "getent shadow alice | cut -d: -f2").trim(), HASH1, "{e}");
        assert_eq!(hosts.sh(host, "getent passwd bob || echo gone").trim(), "gone", "{e}");
        assert_eq!(hosts.sh(host, "test -e /home/bob || echo gone").trim(), "gone", "{e}");
    }
}

#[test]
fn user_registers_ansibles_result_without_the_password() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    prepare(&hosts, host);
    let tasks = format!(
        r#"
        - name: alice
          user: {{name: alice, groups: adm, password: "{HASH1}", shell: /bin/sh}}
          register: r
        - name: show
          debug: {{var: r}}
        - name: check
          assert:
            that:
              - r.changed
              - r.name == 'alice'
              - r.state == 'present'
              - r.shell == '/bin/sh'
              - r.home == '/home/alice'
              - r.groups == 'adm'
              - r.append == false
              - r.move_home == false
              - r.password == 'NOT_LOGGING_PASSWORD'
              - r.uid >= 1000
        "#
    );
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(&tasks));
    let out = test.run_args(["apply", "site.yml", "--diff"]);
    out.assert_status(0);
    assert_has_line(&out, "-shell: /bin/bash");
    assert_has_line(&out, "+shell: /bin/sh");
    assert_has_line(&out, "+password: (hidden) (changed)");
    assert!(!out.stdout.contains("steadsalt1") && !out.report_text().contains("steadsalt1"), "{}", out.stdout);
}

#[test]
fn a_changed_password_hash_shows_in_the_diff_but_its_value_never_does() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.sh(host, &format!("useradd -m -p '{HASH1}' carol"));
    let task = |hash: &str| play(&format!("- name: carol\n  user: {{name: carol, password: \"{hash}\"}}\n"));
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", task(HASH1));
    test.run_args(["plan", "site.yml", "--detailed-exitcode"]).assert_status(0).assert_changed(0);
    test.write("site.yml", task(HASH2));
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(1);
    assert_has_line(&plan, "-password: (hidden)");
    assert_has_line(&plan, "+password: (hidden) (changed)");
    for hidden in ["steadsalt", "SYS8i9", "UaEKCw"] {
        assert!(!plan.stdout.contains(hidden) && !plan.report_text().contains(hidden), "{hidden} shown");
    }
    assert_eq!(hosts.sh(host, "getent shadow carol | cut -d: -f2").trim(), HASH1, "plan changed the host");
    converge(&test, &hosts, 1);
    assert_eq!(hosts.sh(host, "getent shadow carol | cut -d: -f2").trim(), HASH2);
    // `update_password: on_create` leaves an existing account's hash alone.
    let keep =
        play(&format!("- name: carol\n  user: {{name: carol, password: \"{HASH1}\", update_password: on_create}}\n"));
    test.write("site.yml", keep);
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
    // Locking keeps the hash behind a `!`.
    test.write("site.yml", play("- name: lock\n  user: {name: carol, password_lock: true}\n"));
    converge(&test, &hosts, 1);
    assert_eq!(hosts.sh(host, "getent shadow carol | cut -d: -f2").trim(), format!("!{HASH2}"));
}

#[test]
fn user_and_group_failures_name_the_cause() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.sh(host, "groupadd primarygrp && useradd -M -g primarygrp dave");
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play(
            r#"
            - name: missing group
              user: {name: erin, groups: [no-such-group]}
              ignore_errors: true
            - name: primary group in use
              group: {name: primarygrp, state: absent}
              ignore_errors: true
            - name: forced
              group: {name: primarygrp, state: absent, force: true}
            "#,
        ),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    let missing = out.task("h1", "missing group");
    assert_eq!(missing["status"], "failed");
    assert_eq!(missing["msg"], "Group no-such-group does not exist", "{missing}");
    let in_use = out.task("h1", "primary group in use");
    assert_eq!(in_use["status"], "failed");
    assert!(in_use["msg"].as_str().unwrap_or("").contains("cannot remove the primary group"), "{in_use}");
    assert_eq!(hosts.sh(host, "getent passwd erin || echo none").trim(), "none");
    assert_eq!(hosts.sh(host, "getent group primarygrp || echo gone").trim(), "gone");
}

#[test]
fn refused_user_arguments_fail_at_load_time_with_the_reason() {
    let test = Test::new()
        .host_with("h1", vec![("ansible_connection".into(), "local".into())])
        .file("site.yml", play("- name: key\n  user: {name: x, generate_ssh_key: true}\n"));
    let out = test.run_args(["validate", "site.yml"]);
    out.assert_status(1);
    out.assert_output_contains("stead does not support the argument `generate_ssh_key`");
}

#[test]
fn a_bad_expires_literal_fails_at_load_time() {
    let test = Test::new()
        .host_with("h1", vec![("ansible_connection".into(), "local".into())])
        .file("site.yml", play("- name: soon\n  user: {name: x, expires: soon}\n"));
    let out = test.run_args(["validate", "site.yml"]);
    out.assert_status(1);
    out.assert_output_contains("`expires` must be a number");
}

const KEY1: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIKT0pTLp61Ne2bxYBK5KExpSgi9/dzWkkc8ndlNZlR8S key1@stead";
const KEY2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPEJx/0+oSY69fr22fJSkPHuMeFKAay0QyrGk7AwxNAn key2@stead";
const KEY3: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIALmlJGldezVfxFp0dMOVxEkzlGmcYRJezSn0iAr2yF8 key3@stead";
const OPTIONS: &str = r#"no-port-forwarding,from="10.0.0.0/8""#;

fn keys_play() -> String {
    play(&format!(
        r#"
        - name: deploy keys, exclusive
          authorized_key:
            user: deploy
            key: |
              {KEY1}
              {KEY2}
            key_options: '{OPTIONS}'
            exclusive: true
        - name: ops key, new ~/.ssh
          ansible.posix.authorized_key: {{user: ops, key: "{KEY3}", comment: ops-team}}
        "#
    ))
}

#[test]
fn authorized_key_adds_keys_with_options_exclusively_and_creates_the_ssh_dir() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(
            host,
            "useradd -m deploy && useradd -m ops && mkdir -m 700 /home/deploy/.ssh && \
             printf 'ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQOLD old@key\\n# a comment\\n' > /home/deploy/.ssh/authorized_keys && \
             chown -R deploy:deploy /home/deploy/.ssh",
        );
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", keys_play());
        converge(&test, &hosts, 2);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(
            hosts.sh(host, "cat /home/deploy/.ssh/authorized_keys"),
            format!("{OPTIONS} {KEY1}\n{OPTIONS} {KEY2}\n"),
            "{e}"
        );
        let k3 = KEY3.rsplit_once(' ').unwrap().0;
        assert_eq!(hosts.sh(host, "cat /home/ops/.ssh/authorized_keys"), format!("{k3} ops-team\n"), "{e}");
        assert_eq!(hosts.sh(host, "stat -c '%U:%G %a' /home/ops/.ssh").trim(), "ops:ops 700", "{e}");
        let files = "stat -c '%U:%G %a' /home/ops/.ssh/authorized_keys /home/deploy/.ssh/authorized_keys";
        assert_eq!(hosts.sh(host, files), "ops:ops 600\ndeploy:deploy 600\n", "{e}");
    }
}

#[test]
fn authorized_key_diff_shows_the_file_change_and_removal_works() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    hosts.sh(host, "useradd -m deploy && useradd -m ops");
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", keys_play());
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(2);
    assert_has_line(&plan, &format!("+{OPTIONS} {KEY1}"));
    assert_has_line(&plan, "+++ after: /home/ops/.ssh/authorized_keys");
    assert_eq!(hosts.sh(host, "test -e /home/ops/.ssh || echo none").trim(), "none", "plan changed the host");
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(2);
    test.write(
        "site.yml",
        play(&format!("- name: gone\n  authorized_key: {{user: deploy, key: \"{KEY2}\", state: absent}}\n")),
    );
    let out = test.run_args(["apply", "site.yml", "--diff"]);
    out.assert_status(0).assert_changed(1);
    assert_has_line(&out, &format!("-{OPTIONS} {KEY2}"));
    assert_eq!(hosts.sh(host, "cat /home/deploy/.ssh/authorized_keys"), format!("{OPTIONS} {KEY1}\n"));
}

#[test]
fn authorized_key_fails_for_a_missing_user_and_refuses_urls() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let test = Test::new().testhost("h1", &hosts, hosts.host(0)).file(
        "site.yml",
        play(&format!("- name: nobody here\n  authorized_key: {{user: no-such-user, key: \"{KEY1}\"}}\n")),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    let failed = out.task("h1", "nobody here");
    assert!(failed["msg"].as_str().unwrap_or("").starts_with("Failed to lookup user no-such-user"), "{failed}");
    test.write("site.yml", play("- name: url\n  authorized_key: {user: root, key: 'https://github.com/x.keys'}\n"));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    assert!(out.task("h1", "url")["msg"].as_str().unwrap_or("").contains("does not fetch keys from URLs"));
}

#[test]
fn getent_sets_facts_that_later_tasks_use() {
    let tasks = r#"
        - name: account
          user: {name: frank, uid: 4321, shell: /bin/sh, create_home: false}
        - name: read passwd
          getent: {database: passwd, key: frank}
        - name: read all groups
          ansible.builtin.getent: {database: group}
        - name: facts as Ansible shapes them
          assert:
            that:
              - getent_passwd.frank == ['x', '4321', getent_group.frank[1], '', '/home/frank', '/bin/sh']
              - getent_group.root[1] == '0'
        - name: missing key tolerated
          getent: {database: passwd, key: no-such-user, fail_key: false, split: ':'}
          register: missing
        - name: it replaces the fact
          assert:
            that:
              - getent_passwd == {'no-such-user': none}
              - missing.ansible_facts.getent_passwd['no-such-user'] is none
        - name: missing key fails
          getent: {database: group, key: no-such-group}
        "#;
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(tasks));
        let e = format!("{} {options:?}", engine.name());
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(4).assert_changed(1);
        assert_eq!(out.task_statuses("h1"), ["changed", "ok", "ok", "ok", "ok", "ok", "failed"], "{e}");
        let failed = out.task("h1", "missing key fails");
        assert_eq!(failed["msg"], "One or more supplied key could not be found in the database.", "{e}");
        assert_eq!(hosts.sh(host, "getent passwd frank | cut -d: -f3").trim(), "4321", "{e}");
    }
}

#[test]
fn user_changes_an_existing_account_field_by_field() {
    let tasks = r#"
        - name: greg changes
          user:
            name: greg
            uid: 4500
            comment: New
            shell: /bin/sh
            groups: []
            expires: 1893456000
            home: /srv/greg
            move_home: true
        - name: hal locked
          user: {name: hal, password_lock: true}
        - name: ivy loses her expiry
          user: {name: ivy, expires: -1}
        "#;
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(
            host,
            &format!(
                "useradd -m -G adm,users -s /bin/bash -c Old greg && touch /home/greg/file && chown greg /home/greg/file && \
                 useradd -M -p '{HASH1}' hal && useradd -M -e 2031-05-01 ivy"
            ),
        );
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(tasks));
        converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        let greg = hosts.sh(host, "getent passwd greg | cut -d: -f3,5-");
        assert_eq!(greg.trim(), "4500:New:/srv/greg:/bin/sh", "{e}");
        assert_eq!(hosts.sh(host, "id -nG greg").trim(), "greg", "{e}");
        assert_eq!(
            hosts.sh(host, "stat -c %U /srv/greg/file; test -e /home/greg || echo moved"),
            "greg\nmoved\n",
            "{e}"
        );
        assert_eq!(hosts.sh(host, "getent shadow greg | cut -d: -f8").trim(), "21915", "{e}");
        assert_eq!(hosts.sh(host, "getent shadow hal | cut -d: -f2").trim(), format!("!{HASH1}"), "{e}");
        assert_eq!(hosts.sh(host, "getent shadow ivy | cut -d: -f8").trim(), "", "{e}");
    }
}

#[test]
fn user_creates_from_a_skeleton_and_restores_a_missing_home() {
    let tasks = format!(
        r#"
        - name: jo created locked
          user:
            name: jo
            uid: 4600
            password: "{HASH1}"
            password_lock: true
            expires: 1893456000
            skeleton: /srv/skel
            home: /srv/homes/jo
        - name: kim's home comes back
          user: {{name: kim}}
        "#
    );
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, "mkdir /srv/skel && echo hi > /srv/skel/.stead-profile && useradd -m kim && rm -rf /home/kim");
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&tasks));
        converge(&test, &hosts, 2);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(hosts.sh(host, "getent passwd jo | cut -d: -f3,6").trim(), "4600:/srv/homes/jo", "{e}");
        assert_eq!(hosts.sh(host, "getent shadow jo | cut -d: -f2,8").trim(), format!("!{HASH1}:21915"), "{e}");
        let jo = hosts.sh(host, "stat -c '%U %a' /srv/homes/jo /srv/homes/jo/.stead-profile");
        assert_eq!(jo, "jo 755\njo 644\n", "{e}");
        let kim = hosts.sh(host, "stat -c '%U:%G %a' /home/kim /home/kim/.bashrc");
        assert_eq!(kim, "kim:kim 755\nkim:kim 644\n", "{e}");
    }
}
