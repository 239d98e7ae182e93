//! Package sources and sudo rules: `apt_repository`, `deb822_repository`
//! and `sudoers` on Tier-B hosts, checked in each host's own files, apt
//! lists and sudo. The repository the tests add is the local one of
//! `support::apt_repo`; nothing is changed on this machine.

use super::{converge, variants};
use crate::support::apt_repo::{self, dpkg_state, AptRepo};
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
