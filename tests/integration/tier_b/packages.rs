//! Packages: `apt`, `package` and `package_facts` on Tier-B hosts whose
//! only apt source is the local repository of `support::apt_repo`, checked
//! in each host's own dpkg database. Nothing is installed on this machine.

use super::{converge, variants};
use crate::support::apt_repo::{self, dpkg_state, AptRepo, DUMMY, DUMMY_CONF};
use crate::support::testhosts::{Options, TestHost};
use crate::support::{assert_has_line, play, Test, TestHosts};

/// Hosts whose apt source is the test repository.
fn hosts_with_repo(n: usize, options: Options) -> Option<(TestHosts, &'static AptRepo)> {
    let repo = apt_repo::repo()?;
    let hosts = TestHosts::up_with(n, options)?;
    for h in hosts.hosts() {
        repo.use_in(&hosts, h);
    }
    Some((hosts, repo))
}

/// A package the host has before the test (this machine's, when one of
/// the candidates is installed without reverse dependencies; else the
/// dummy, installed into the host first), with its version.
fn base_package(hosts: &TestHosts, host: &TestHost) -> (String, String) {
    match apt_repo::removable_base_package() {
        Some(found) => found,
        None => {
            install_dummy(hosts, host, "1.0");
            (DUMMY.to_owned(), "1.0".to_owned())
        }
    }
}

fn main_tasks(base: &str) -> String {
    format!(
        r#"
        - name: one package
          apt:
            name: hello
        - name: a list, in one call
          ansible.builtin.apt:
            pkg: [figlet, tree]
            install_recommends: false
        - name: a base package, removed
          apt:
            name: {base}
            state: absent
        "#
    )
}

#[test]
fn apt_installs_one_package_a_list_and_removes_a_base_package() {
    for (engine, options) in variants() {
        let Some((hosts, repo)) = hosts_with_repo(1, options) else { return };
        let host = hosts.host(0);
        let (base, _) = base_package(&hosts, host);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&main_tasks(&base)));
        converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        for p in ["hello", "figlet", "tree"] {
            assert_eq!(dpkg_state(&hosts, host, p), format!("installed {}", repo.version(p)), "{p} {e}");
        }
        assert!(!dpkg_state(&hosts, host, &base).starts_with("installed"), "{base} {e}");
    }
}

#[test]
fn apt_plan_shows_versions_and_leaves_dpkg_alone() {
    let Some((hosts, repo)) = hosts_with_repo(1, Options::default()) else { return };
    let host = hosts.host(0);
    let (base, version) = base_package(&hosts, host);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(&main_tasks(&base)));
    let before = hosts.upper_hash(host);
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(3);
    assert_has_line(&plan, "-hello: absent");
    assert_has_line(&plan, &format!("+hello: {}", repo.version("hello")));
    assert_has_line(&plan, &format!("+figlet: {}", repo.version("figlet")));
    assert_has_line(&plan, &format!("+tree: {}", repo.version("tree")));
    assert_has_line(&plan, &format!("-{base}: {version}"));
    assert_has_line(&plan, &format!("+{base}: absent"));
    assert_eq!(before, hosts.upper_hash(host), "plan changed the host");
    // The real run reports the same, with Ansible's result keys.
    let out = test.run_args(["apply", "site.yml", "--diff", "--report", "json=report.json"]);
    out.assert_status(0).assert_changed(3);
    assert_has_line(&out, &format!("+hello: {}", repo.version("hello")));
}

fn install_dummy(hosts: &TestHosts, host: &TestHost, version: &str) {
    hosts.sh(host, &format!("DEBIAN_FRONTEND=noninteractive apt-get install -y -q {DUMMY}={version} >/dev/null"));
}

#[test]
fn apt_latest_upgrades_and_purge_removes_the_configuration() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let Some((hosts, _)) = hosts_with_repo(1, options) else { return };
        let host = hosts.host(0);
        install_dummy(&hosts, host, "1.0");
        let test = Test::new()
            .engine(&engine)
            .testhost("h1", &hosts, host)
            .file("site.yml", play(&format!("- name: latest\n  apt: {{name: {DUMMY}, state: latest}}\n")));
        converge(&test, &hosts, 1);
        let e = engine.name();
        assert_eq!(dpkg_state(&hosts, host, DUMMY), "installed 2.0", "{e}");

        // Removed (its conffile stays), then purged: both change once.
        let test = test.file(
            "site.yml",
            play(&format!(
                r#"
                - name: removed
                  apt: {{name: {DUMMY}, state: absent}}
                - name: purged
                  apt: {{name: {DUMMY}, state: absent, purge: true}}
                "#
            )),
        );
        converge(&test, &hosts, 2);
        assert_eq!(dpkg_state(&hosts, host, DUMMY), "not-installed", "{e}");
        assert_eq!(hosts.exec(host, &format!("test -e {DUMMY_CONF}")).status.code(), Some(1), "{e}");
    }
}

#[test]
fn apt_pins_a_version_and_downgrades_only_when_allowed() {
    let Some((hosts, _)) = hosts_with_repo(1, Options::default()) else { return };
    let host = hosts.host(0);
    install_dummy(&hosts, host, "2.0");
    let test = Test::new()
        .testhost("h1", &hosts, host)
        .file("site.yml", play(&format!("- name: pinned\n  apt: {{name: '{DUMMY}=1.*', allow_downgrade: true}}\n")));
    let plan = test.run_args(["plan", "site.yml"]);
    assert_has_line(&plan, "-stead-dummy: 2.0");
    assert_has_line(&plan, "+stead-dummy: 1.0");
    converge(&test, &hosts, 1);
    assert_eq!(dpkg_state(&hosts, host, DUMMY), "installed 1.0");
}

#[test]
fn apt_fails_on_an_unknown_package_and_other_hosts_go_on() {
    let Some((hosts, repo)) = hosts_with_repo(2, Options::default()) else { return };
    let test = Test::new().testhost("h1", &hosts, hosts.host(0)).testhost("h2", &hosts, hosts.host(1)).file(
        "site.yml",
        play(
            r#"
            - name: unknown
              apt: {name: [hello, no-such-package-stead]}
              when: inventory_hostname == 'h1'
            - name: known
              apt: {name: hello}
            "#,
        ),
    );
    let out = test.run_args(["apply", "site.yml", "--report", "json=-"]);
    out.assert_status(4);
    let failed = out.task("h1", "unknown");
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["msg"], "No package matching 'no-such-package-stead' is available", "{failed}");
    // Nothing was installed on h1 (one call for the list, refused before it).
    assert_eq!(dpkg_state(&hosts, hosts.host(0), "hello"), "not-installed");
    assert_eq!(out.task("h2", "known")["status"], "changed");
    assert_eq!(dpkg_state(&hosts, hosts.host(1), "hello"), format!("installed {}", repo.version("hello")));
}

#[test]
fn apt_update_cache_respects_cache_valid_time() {
    let Some((hosts, _)) = hosts_with_repo(1, Options::default()) else { return };
    let host = hosts.host(0);
    // The lists are an hour old, and one is missing, so that an update
    // really writes (an update that fetches nothing new leaves the
    // directory's mtime, and Ansible then reports no change either).
    hosts.sh(host, "rm -f /var/lib/apt/lists/*_Packages* && touch -d '1 hour ago' /var/lib/apt/lists");
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play(
            r#"
            - name: refresh
              apt: {update_cache: true, cache_valid_time: 600}
              register: r
            - assert:
                that: r.cache_update_time > 0
            "#,
        ),
    );
    converge(&test, &hosts, 1);
    // Fresh now: nothing is fetched, and the result says when it was.
    let lists = hosts.sh(host, "stat -c %Y /var/lib/apt/lists");
    let out = test.run_args(["apply", "site.yml", "--report", "json=-"]);
    out.assert_status(0).assert_changed(0);
    assert_eq!(out.task("h1", "refresh")["status"], "ok");
    assert_eq!(hosts.sh(host, "stat -c %Y /var/lib/apt/lists"), lists);
}

#[test]
fn package_dispatches_to_apt_and_package_facts_reads_versions() {
    for (engine, options) in variants() {
        let Some((hosts, repo)) = hosts_with_repo(1, options) else { return };
        let host = hosts.host(0);
        let (base, version) = base_package(&hosts, host);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file(
            "site.yml",
            play(&format!(
                r#"
                - name: generic
                  package: {{name: tree, state: present}}
                - name: facts
                  package_facts: {{manager: auto}}
                - name: a base package's version
                  assert:
                    that:
                      - ansible_facts.packages['{base}'][0].version == '{version}'
                      - ansible_facts.packages['{base}'][0].source == 'apt'
                "#
            )),
        );
        converge(&test, &hosts, 1);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(dpkg_state(&hosts, host, "tree"), format!("installed {}", repo.version("tree")), "{e}");
        let facts = test.file(
            "facts.yml",
            play(&format!(
                r#"
                - package_facts:
                - assert:
                    that:
                      - packages['tree'][0].version == '{}'
                      - ansible_facts.packages['tree'][0].name == 'tree'
                      - ansible_facts.packages['tree'] | length == 1
                "#,
                repo.version("tree")
            )),
        );
        facts.run_args(["apply", "facts.yml"]).assert_status(0).assert_changed(0);
    }
}

#[test]
fn dnf_and_yum_tasks_are_validated_skipped_by_when_and_refused_when_run() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let test = Test::new().testhost("h1", &hosts, hosts.host(0)).file(
        "site.yml",
        play(
            r#"
            - name: rpm only
              dnf: {name: [httpd], state: installed, enablerepo: epel}
              when: ansible_os_family | default('Debian') == 'RedHat'
            - name: yum, run
              ansible.builtin.yum: {name: httpd}
            "#,
        ),
    );
    let out = test.run_args(["apply", "site.yml", "--report", "json=-"]);
    out.assert_status(4);
    assert_eq!(out.task("h1", "rpm only")["status"], "skipped");
    let failed = out.task("h1", "yum, run");
    assert!(failed["msg"].as_str().unwrap_or("").starts_with("stead does not manage rpm packages yet"), "{failed}");
    let bad = Test::new()
        .testhost("h1", &hosts, hosts.host(0))
        .file("site.yml", play("- dnf: {name: httpd, state: instaled}\n"));
    let out = bad.run_args(["validate", "site.yml"]);
    out.assert_status(1).assert_stderr_contains("site.yml:5:33: dnf: `state` must be one of");
}

#[test]
fn apt_installs_a_deb_file_from_the_host() {
    for (engine, options) in variants() {
        let Some((hosts, repo)) = hosts_with_repo(1, options) else { return };
        let host = hosts.host(0);
        let deb = repo.dir.join(format!("{DUMMY}_1.0_all.deb"));
        let test = Test::new()
            .engine(&engine)
            .testhost("h1", &hosts, host)
            .file("site.yml", play(&format!("- name: from a file\n  apt: {{deb: '{}'}}\n", deb.display())));
        converge(&test, &hosts, 1);
        assert_eq!(dpkg_state(&hosts, host, DUMMY), "installed 1.0", "{} {options:?}", engine.name());
    }
}

#[test]
fn apt_policy_rc_d_is_put_back_after_the_call() {
    let Some((hosts, _)) = hosts_with_repo(1, Options::default()) else { return };
    let host = hosts.host(0);
    let before = hosts.sh(host, "cat /usr/sbin/policy-rc.d");
    let test = Test::new()
        .testhost("h1", &hosts, host)
        .file("site.yml", play("- name: no daemons\n  apt: {name: hello, policy_rc_d: 101}\n"));
    converge(&test, &hosts, 1);
    assert_eq!(hosts.sh(host, "cat /usr/sbin/policy-rc.d"), before);
}

#[test]
fn apt_upgrade_dist_upgrades_what_the_repository_has_newer() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let Some((hosts, _)) = hosts_with_repo(1, options) else { return };
        let host = hosts.host(0);
        install_dummy(&hosts, host, "1.0");
        let test = Test::new()
            .engine(&engine)
            .testhost("h1", &hosts, host)
            .file("site.yml", play("- name: everything\n  apt: {upgrade: dist}\n"));
        converge(&test, &hosts, 1);
        assert_eq!(dpkg_state(&hosts, host, DUMMY), "installed 2.0", "{}", engine.name());
    }
}
