//! Package sources and sudo rules: `apt_repository`, `deb822_repository`
//! and `sudoers` on Tier-B hosts, checked in each host's own files, apt
//! lists and sudo. The repository the tests add is the local one of
//! `support::apt_repo`; nothing is changed on this machine.

use super::{converge, variants};
use crate::support::apt_repo::{self, dpkg_state, AptRepo};
use crate::support::oracle::Engine;
use crate::support::testhosts::Options;
use crate::support::{assert_has_line, play, Test, TestHosts};

const DEAD: &str = "http://deb.example.invalid/debian bookworm main";

/// Hosts with no apt source but a commented line in `sources.list` and a
/// legacy file, and no package lists.
fn hosts_without_sources(options: Options) -> Option<(TestHosts, &'static AptRepo)> {
    let repo = apt_repo::repo()?;
    let hosts = TestHosts::up_with(1, options)?;
    hosts.sh(
        hosts.host(0),
        &format!(
            "rm -f /etc/apt/sources.list && rm -rf /etc/apt/sources.list.d /var/lib/apt/lists && \
             mkdir -p /etc/apt/sources.list.d /var/lib/apt/lists/partial && \
             printf '%s\\n' '#deb   {DEAD}   # old' > /etc/apt/sources.list && \
             printf 'deb {DEAD}\\n' > /etc/apt/sources.list.d/legacy.list"
        ),
    );
    Some((hosts, repo))
}

fn line_of(repo: &AptRepo) -> String {
    format!("deb [trusted=yes] file:{} ./", repo.dir.display())
}

/// The file Ansible names after the repository's URI.
fn file_of(repo: &AptRepo) -> String {
    let name: Vec<String> = format!("file:{}", repo.dir.display())
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect();
    format!("/etc/apt/sources.list.d/{}.list", name.join("_"))
}

fn apt_repository_tasks(repo: &AptRepo) -> String {
    format!(
        r#"
        - name: the legacy line goes
          apt_repository:
            repo: deb {DEAD}
            state: absent
            update_cache: false
        - name: the local repository
          ansible.builtin.apt_repository:
            repo: "{line}"
        - name: a source line in a file of its own
          apt_repository:
            repo: "deb-src   {DEAD}"
            filename: stead-src
            mode: "0600"
            update-cache: no
        "#,
        line = line_of(repo)
    )
}

#[test]
fn apt_repository_adds_removes_and_normalises_as_ansible_does() {
    for (engine, options) in variants() {
        let Some((hosts, repo)) = hosts_without_sources(options) else { return };
        let host = hosts.host(0);
        let test = Test::new()
            .engine(&engine)
            .testhost("h1", &hosts, host)
            .file("site.yml", play(&apt_repository_tasks(repo)));
        converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        // Every sources file rewritten in Ansible's normalised form; the
        // emptied file removed.
        assert_eq!(hosts.sh(host, "cat /etc/apt/sources.list"), format!("# deb {DEAD} # old\n"), "{e}");
        assert_eq!(hosts.sh(host, "ls /etc/apt/sources.list.d"), format!("{}\nstead-src.list\n", &file_of(repo)[24..]));
        assert_eq!(hosts.sh(host, &format!("stat -c %a {}", file_of(repo))), "644\n", "{e}");
        assert_eq!(hosts.sh(host, &format!("cat {}", file_of(repo))), format!("{}\n", line_of(repo)), "{e}");
        assert_eq!(hosts.sh(host, "stat -c %a /etc/apt/sources.list.d/stead-src.list"), "600\n", "{e}");
        assert_eq!(hosts.sh(host, "cat /etc/apt/sources.list.d/stead-src.list"), format!("deb-src {DEAD}\n"), "{e}");
        // update_cache ran inside the host: apt knows the repository, and
        // installs from it.
        let policy = hosts.sh(host, "apt-cache policy hello");
        assert!(policy.contains(&format!("file:{} ./ Packages", repo.dir.display())), "{e}\n{policy}");
        let test = test.file("site.yml", play("- name: from it\n  apt: {name: hello}\n"));
        converge(&test, &hosts, 1);
        assert_eq!(dpkg_state(&hosts, host, "hello"), format!("installed {}", repo.version("hello")), "{e}");
    }
}

#[test]
fn apt_repository_plan_shows_each_file_and_changes_nothing() {
    let Some((hosts, repo)) = hosts_without_sources(Options::default()) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(&apt_repository_tasks(repo)));
    let before = hosts.upper_hash(host);
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(3);
    assert_has_line(&plan, "==> /etc/apt/sources.list <==");
    assert_has_line(&plan, &format!("-#deb   {DEAD}   # old"));
    assert_has_line(&plan, &format!("+# deb {DEAD} # old"));
    assert_has_line(&plan, &format!("-deb {DEAD}"));
    assert_has_line(&plan, &format!("+{}", line_of(repo)));
    assert_has_line(&plan, &format!("+deb-src {DEAD}"));
    assert_eq!(before, hosts.upper_hash(host), "plan changed the host");
    // The registered result has Ansible's keys.
    let out = test.run_args(["apply", "site.yml", "--report", "json=report.json"]);
    out.assert_status(0).assert_changed(3);
    let task = out.task("h1", "the local repository");
    assert_eq!(task["status"], "changed", "{task}");
}

#[test]
fn apt_repository_restores_the_files_when_the_update_fails() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let Some((hosts, _)) = hosts_without_sources(options) else { return };
        let host = hosts.host(0);
        let tasks = r#"
            - name: a repository that is not there
              apt_repository:
                repo: deb [trusted=yes] file:/nonexistent/stead-repo ./
                update_cache_retries: 1
            "#;
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(tasks));
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(4);
        out.assert_output_contains("Failed to update apt cache after 1 retries");
        let e = engine.name();
        assert_eq!(hosts.sh(host, "ls /etc/apt/sources.list.d"), "legacy.list\n", "{e}");
    }
}

#[test]
fn apt_repository_refuses_a_ppa_with_a_reason() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let before = hosts.upper_hash(host);
    let test = Test::new()
        .testhost("h1", &hosts, host)
        .file("site.yml", play("- name: ppa\n  apt_repository: {repo: 'ppa:deadsnakes/ppa'}\n"));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4).assert_output_contains("Launchpad");
    assert_eq!(before, hosts.upper_hash(host));
}

const DEB822_DEBS: &str = "/var/tmp/stead-apt-cache/deb822-debs";

/// python3-debian (and its dependency), which Ansible's deb822_repository
/// needs on the host, fetched on first use.
fn deb822_debs() -> Option<&'static str> {
    crate::support::apt_repo::downloaded(DEB822_DEBS, &["python3-debian", "python3-chardet"])
}

/// A host with no apt source and no lists, a legacy `.sources` file and its
/// key; with python3-debian for the oracle.
fn deb822_host(engine: &Engine, options: Options) -> Option<(TestHosts, &'static AptRepo)> {
    let repo = apt_repo::repo()?;
    let hosts = TestHosts::up_with(1, options)?;
    let host = hosts.host(0);
    hosts.sh(
        host,
        "rm -f /etc/apt/sources.list && rm -rf /etc/apt/sources.list.d /var/lib/apt/lists && \
         mkdir -p /etc/apt/sources.list.d /var/lib/apt/lists/partial /etc/apt/keyrings && \
         printf 'Types: deb\\nURIs: http://legacy.invalid/\\nSuites: x\\n' > /etc/apt/sources.list.d/legacy.sources && \
         echo key > /etc/apt/keyrings/legacy.asc",
    );
    if *engine != Engine::Stead {
        let debs = deb822_debs()?;
        hosts.sh(host, &format!("dpkg -i {debs}/*.deb >/dev/null 2>&1"));
    }
    Some((hosts, repo))
}

fn deb822_tasks(repo: &AptRepo) -> String {
    format!(
        r#"
        - name: the local repository
          deb822_repository:
            name: Stead Local_Repo
            types: deb
            uris: "file:{dir}"
            suites: "./"
            trusted: true
            by_hash: false
            check_date: no
            pdiffs: false
        - name: a disabled one with every field
          ansible.builtin.deb822_repository:
            name: extra
            types: [deb, deb-src]
            uris: [http://a.example/debian, http://b.example/debian]
            suites: [bookworm, bookworm-updates]
            components: [main, contrib]
            architectures: amd64,arm64
            signed_by: |
              -----BEGIN PGP PUBLIC KEY BLOCK-----

              mQINBGN0
              -----END PGP PUBLIC KEY BLOCK-----
            enabled: false
            allow_insecure: true
            allow_downgrade_to_insecure: false
            allow_weak: false
            check_valid_until: false
            date_max_future: 10
            inrelease_path: InRelease
            languages: [en, de]
            targets: [Packages]
            mode: "0600"
        - name: a legacy one goes
          deb822_repository:
            name: legacy
            state: absent
        "#,
        dir = repo.dir.display()
    )
}

const EXTRA: &str = "Allow-Downgrade-To-Insecure: no\nAllow-Insecure: yes\nAllow-Weak: no\n\
Architectures: amd64 arm64\nCheck-Valid-Until: no\nComponents: main contrib\nDate-Max-Future: 10\n\
Enabled: no\nInrelease-Path: InRelease\nLanguages: en de\nX-Repolib-Name: extra\nSigned-By:\n    \
-----BEGIN PGP PUBLIC KEY BLOCK-----\n    .\n    mQINBGN0\n    -----END PGP PUBLIC KEY BLOCK-----\n\
Suites: bookworm bookworm-updates\nTargets: Packages\nTypes: deb deb-src\n\
URIs: http://a.example/debian http://b.example/debian\n";

#[test]
fn deb822_repository_writes_ansibles_format_and_apt_uses_it() {
    for (engine, options) in variants() {
        let Some((hosts, repo)) = deb822_host(&engine, options) else { return };
        let host = hosts.host(0);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(&deb822_tasks(repo)));
        converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        let local = "/etc/apt/sources.list.d/stead-local-repo.sources";
        assert_eq!(
            hosts.sh(host, &format!("cat {local}")),
            format!(
                "By-Hash: no\nCheck-Date: no\nX-Repolib-Name: Stead Local_Repo\nPdiffs: no\nSuites: ./\n\
                 Trusted: yes\nTypes: deb\nURIs: file:{}\n",
                repo.dir.display()
            ),
            "{e}"
        );
        assert_eq!(hosts.sh(host, "cat /etc/apt/sources.list.d/extra.sources"), EXTRA, "{e}");
        assert_eq!(
            hosts.sh(host, &format!("stat -c '%a %n' {local} /etc/apt/sources.list.d/extra.sources")),
            format!("644 {local}\n600 /etc/apt/sources.list.d/extra.sources\n"),
            "{e}"
        );
        assert_eq!(
            hosts.sh(host, "ls /etc/apt/sources.list.d /etc/apt/keyrings"),
            "/etc/apt/keyrings:\n\n/etc/apt/sources.list.d:\nextra.sources\nstead-local-repo.sources\n",
            "{e}"
        );
        // apt reads the file: its lists know the repository, and install from it.
        hosts.sh(host, "apt-get update -q >/dev/null");
        let policy = hosts.sh(host, "apt-cache policy hello");
        assert!(policy.contains(&format!("file:{} ./ Packages", repo.dir.display())), "{e}\n{policy}");
        let test = test.file("site.yml", play("- name: from it\n  apt: {name: hello}\n"));
        converge(&test, &hosts, 1);
        assert_eq!(dpkg_state(&hosts, host, "hello"), format!("installed {}", repo.version("hello")), "{e}");
    }
}

#[test]
fn deb822_repository_plan_shows_the_fields_and_a_url_key_is_refused() {
    let Some((hosts, repo)) = deb822_host(&Engine::Stead, Options::default()) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(&deb822_tasks(repo)));
    let before = hosts.upper_hash(host);
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(3);
    assert_has_line(&plan, &format!("+URIs: file:{}", repo.dir.display()));
    assert_has_line(&plan, "+X-Repolib-Name: Stead Local_Repo");
    assert_has_line(&plan, "+    -----BEGIN PGP PUBLIC KEY BLOCK-----");
    assert_has_line(&plan, "-URIs: http://legacy.invalid/");
    assert_eq!(before, hosts.upper_hash(host), "plan changed the host");
    // A key at a URL would be a download: refused, nothing written.
    let test = test.file(
        "site.yml",
        play("- name: url key\n  deb822_repository: {name: k, uris: 'file:/x', suites: './', signed_by: 'https://keys.invalid/k.asc'}\n"),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4).assert_output_contains("Could not fetch signed_by key");
    assert_eq!(before, hosts.upper_hash(host));
}

/// A host with a user and a group for sudo rules, and an old rule file.
fn sudo_host(options: Options) -> Option<TestHosts> {
    let hosts = TestHosts::up_with(1, options)?;
    hosts.sh(
        hosts.host(0),
        "groupadd steadadm && useradd -m -s /bin/sh steadops && \
         printf 'steadops ALL=(ALL) ALL\\n' > /etc/sudoers.d/40-old && chmod 0440 /etc/sudoers.d/40-old",
    );
    Some(hosts)
}

const SUDO_TASKS: &str = r#"
- name: steadops may run true as root
  community.general.sudoers:
    name: 50-steadops
    user: steadops
    commands: [/usr/bin/true, /bin/true]
    runas: root
- name: a group rule, with a password
  community.general.sudoers:
    name: 60-admins
    group: steadadm
    commands: ALL
    nopassword: false
    setenv: true
    noexec: true
    validation: required
- name: an old rule goes
  community.general.sudoers:
    name: 40-old
    state: absent
"#;

/// Whether `user` may run `true` as root without a password, inside the host.
fn sudo_works(hosts: &TestHosts, host: &crate::support::testhosts::TestHost, user: &str) -> bool {
    hosts.exec(host, &format!("su -s /bin/sh {user} -c 'sudo -n -u root true' 2>/dev/null")).status.success()
}

#[test]
fn sudoers_rules_work_in_sudo_and_match_the_community_module() {
    for (engine, options) in variants() {
        let Some(hosts) = sudo_host(options) else { return };
        let host = hosts.host(0);
        assert!(!sudo_works(&hosts, host, "steadops"), "sudo works before the rule");
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(SUDO_TASKS));
        converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(
            hosts.sh(host, "cat /etc/sudoers.d/50-steadops"),
            "steadops ALL=(root)NOPASSWD: /usr/bin/true, /bin/true\n",
            "{e}"
        );
        assert_eq!(hosts.sh(host, "cat /etc/sudoers.d/60-admins"), "%steadadm ALL=NOEXEC:SETENV: ALL\n", "{e}");
        assert_eq!(
            hosts.sh(host, "stat -c '%a %U' /etc/sudoers.d/50-steadops /etc/sudoers.d/60-admins"),
            "440 root\n440 root\n",
            "{e}"
        );
        assert_eq!(hosts.exec(host, "test -e /etc/sudoers.d/40-old").status.code(), Some(1), "{e}");
        assert!(sudo_works(&hosts, host, "steadops"), "{e}: the rule does not work in sudo");
    }
}

#[test]
fn sudoers_plan_shows_the_rules_and_changes_nothing() {
    let Some(hosts) = sudo_host(Options::default()) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(SUDO_TASKS));
    let before = hosts.upper_hash(host);
    let plan = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    plan.assert_status(2).assert_changed(3);
    assert_has_line(&plan, "+steadops ALL=(root)NOPASSWD: /usr/bin/true, /bin/true");
    assert_has_line(&plan, "+%steadadm ALL=NOEXEC:SETENV: ALL");
    assert_has_line(&plan, "-steadops ALL=(ALL) ALL");
    assert_eq!(before, hosts.upper_hash(host), "plan changed the host");
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(3);
}

#[test]
fn sudoers_rejects_a_broken_rule_and_keeps_the_old_file() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let Some(hosts) = sudo_host(options) else { return };
        let host = hosts.host(0);
        let broken = "- name: broken\n  community.general.sudoers:\n    name: 40-old\n    user: steadops\n    \
                      commands: [relative/path]\n";
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(broken));
        for args in [&["apply", "site.yml", "--check"][..], &["apply", "site.yml"][..]] {
            let out = test.run_args(args.iter().copied());
            out.assert_status(4).assert_output_contains("Failed to validate sudoers rule");
        }
        let e = engine.name();
        assert_eq!(hosts.sh(host, "cat /etc/sudoers.d/40-old"), "steadops ALL=(ALL) ALL\n", "{e}");
    }
}

#[test]
fn bad_literals_fail_at_load_time_with_their_location() {
    let tasks = r#"
        - name: a
          apt_repository: {repo: "deb http://a x", update_cache: maybe}
        - name: b
          deb822_repository: {name: b, date_max_future: soon}
        - name: c
          community.general.sudoers: {name: c, user: u, group: g, commands: ALL, validation: sometimes}
        "#;
    let test = Test::new().unreachable_host("h1").file("site.yml", play(tasks));
    let out = test.run_args(["validate", "site.yml"]);
    out.assert_status(1);
    for needle in ["site.yml:6:", "site.yml:8:", "site.yml:10:", "update_cache", "date_max_future", "validation"] {
        out.assert_output_contains(needle);
    }
}

#[test]
fn apt_repository_appends_to_an_existing_file_of_that_name() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let Some((hosts, _)) = hosts_without_sources(options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, "printf 'deb http://other.invalid x main\\n' > /etc/apt/sources.list.d/stead-x.list");
        let tasks = r#"
            - name: into stead-x.list
              apt_repository: {repo: "deb http://b.invalid x main", filename: stead-x, update_cache: false}
            "#;
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(tasks));
        converge(&test, &hosts, 1);
        let e = engine.name();
        assert_eq!(
            hosts.sh(host, "cat /etc/apt/sources.list.d/stead-x.list"),
            "deb http://other.invalid x main\ndeb http://b.invalid x main\n",
            "{e}"
        );
    }
}

#[test]
fn apt_repository_removes_two_matches_with_ansibles_index_arithmetic() {
    for (engine, options) in variants().into_iter().filter(|(_, o)| !o.no_python) {
        let Some((hosts, _)) = hosts_without_sources(options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, "printf 'deb http://a.invalid x\\nc1\\ndeb http://a.invalid x\\nc2\\n' > /etc/apt/sources.list");
        let tasks = r#"
            - name: both go, Ansible's way
              apt_repository: {repo: "deb http://a.invalid x", state: absent, update_cache: false}
            "#;
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(tasks));
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(1);
        // Ansible pops by the line's original index: the second pop takes
        // the line after the second match.
        assert_eq!(hosts.sh(host, "cat /etc/apt/sources.list"), "c1\ndeb http://a.invalid x\n", "{}", engine.name());
    }
}
