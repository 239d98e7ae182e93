//! Privilege escalation with a password (issue 12, item 4): a login user
//! whose sudo asks for a password, made inside each test host's overlay
//! (`useradd`, `chpasswd`, a sudoers drop-in), and the password given as
//! an inventory variable, a vaulted one, a password file, a password
//! script, or not at all. The password must reach sudo and appear nowhere
//! else: not in any output or report, not on a command line on the host,
//! not on the script's stdin, not in a file left on the host.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::testhosts::TestHost;
use crate::support::{Test, TestHosts};

/// Hostile on purpose: quotes, `$`, a backslash, spaces.
const PASSWORD: &str = "s3cret 'pw' $HOME \\x-42";
const LOGIN: &str = "deployer";
const TARGET: &str = "/root/stead-become.txt";
/// Bytes a polluted stdin would change: the password's line must not
/// reach the copy, nor anything be lost from its start.
const CONTENT: &str = "first line\n\tsecond line, no newline at the end";

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// A login user whose sudo requires its password, inside the host only.
fn add_sudo_user(hosts: &TestHosts, host: &TestHost) {
    hosts.sh(
        host,
        &format!(
            "useradd -m -s /bin/sh {LOGIN} && printf '%s\\n' {} | chpasswd && \
             printf '%s ALL=(ALL:ALL) ALL\\n' {LOGIN} > /etc/sudoers.d/50-{LOGIN} && chmod 440 /etc/sudoers.d/50-{LOGIN} && \
             printf '127.0.1.1 %s\\n' \"$(hostname)\" >> /etc/hosts",
            sh_quote(&format!("{LOGIN}:{PASSWORD}"))
        ),
    );
    // The user cannot escalate without the password.
    let out = hosts.exec(host, &format!("su -s /bin/sh {LOGIN} -c 'sudo -n true' 2>&1"));
    assert!(!out.status.success(), "sudo must ask {LOGIN} for a password");
}

fn hosts_with_sudo_user(n: usize) -> Option<TestHosts> {
    let hosts = TestHosts::up(n)?;
    for h in hosts.hosts() {
        add_sudo_user(&hosts, h);
    }
    Some(hosts)
}

/// A project whose hosts log in as [`LOGIN`].
fn project(hosts: &TestHosts, names: &[&str], site: &str) -> Test {
    let mut test = Test::new().file("site.yml", site);
    for (i, name) in names.iter().enumerate() {
        test = test.testhost(name, hosts, hosts.host(i)).host_var(name, "ansible_user", LOGIN);
    }
    test
}

fn site(extra_task: &str) -> String {
    format!(
        "- hosts: all\n  gather_facts: false\n  become: true\n  tasks:\n    - name: root-owned file\n      copy:\n        \
         dest: {TARGET}\n        content: {}\n        mode: \"0600\"\n{extra_task}",
        serde_json::to_string(CONTENT).unwrap()
    )
}

/// The file the play wrote, as the host's root sees it.
#[track_caller]
fn assert_written(hosts: &TestHosts, host: &TestHost, what: &str) {
    let stat = hosts.sh(host, &format!("stat -c '%U %a' {TARGET}"));
    assert_eq!(stat.trim(), "root 600", "{what}");
    let bytes = hosts.sh(host, &format!("od -An -c {TARGET}"));
    let expected = {
        let out = Command::new("od")
            .args(["-An", "-c"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .and_then(|mut c| {
                use std::io::Write;
                c.stdin.take().unwrap().write_all(CONTENT.as_bytes())?;
                c.wait_with_output()
            })
            .expect("od");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(bytes, expected, "{what}: the copy's bytes changed (a polluted stdin?)");
}

/// No askpass helper (or anything else of stead's) is left on the host.
#[track_caller]
fn assert_nothing_left(hosts: &TestHosts, host: &TestHost) {
    let left = hosts.sh(host, &format!("ls -A /tmp /dev/shm /home/{LOGIN} | grep -i stead || true"));
    assert_eq!(left.trim(), "", "left on {}", host.name);
}

#[track_caller]
fn assert_secret_absent(test: &Test, out: &crate::support::Outcome, password: &str) {
    assert!(!out.stdout.contains(password), "password in stdout:\n{}", out.stdout);
    assert!(!out.stderr.contains(password), "password in stderr:\n{}", out.stderr);
    assert!(!out.report_text().contains(password), "password in the JSON report");
    let audit = std::fs::read_to_string(test.audit_log()).unwrap_or_default();
    assert!(!audit.contains(password), "password in the audit log");
}

fn encrypt_string(test: &Test, name: &str, plain: &str) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stead"))
        .args(["vault", "encrypt-string", "--name", name, "--vault-password-file", "vault-pw"])
        .current_dir(test.project())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stead vault encrypt-string");
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(plain.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "encrypt-string: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_become_password_from_the_inventory_or_a_vault_lets_sudo_write_root_files() {
    let Some(hosts) = hosts_with_sudo_user(2) else { return };
    // The process list during the run, as root on the host sees it.
    let ps = "    - name: process list\n      shell: ps -eo args > /root/ps.txt\n      changed_when: false\n";
    let test = project(&hosts, &["h1", "h2"], &site(ps))
        .host_var("h1", "ansible_become_password", PASSWORD)
        // The same host as h1, logged in as root: sudo needs no password.
        .testhost("root1", &hosts, hosts.host(0))
        .file("vault-pw", "vault-password-for-become\n");
    let vaulted = encrypt_string(&test, "ansible_become_password", PASSWORD);
    test.write("host_vars/h2.yml", vaulted);
    let args = ["apply", "site.yml", "--vault-password-file", "vault-pw", "-l", "h1:h2"];
    let first = test.run_args(args);
    first.assert_status(0).assert_changed(2);
    for (h, what) in [(hosts.host(0), "inventory variable"), (hosts.host(1), "vaulted variable")] {
        assert_written(&hosts, h, what);
        let ps = hosts.sh(h, "cat /root/ps.txt");
        assert!(ps.contains("sudo -A -H -u root"), "{what}: {ps}");
        assert!(!ps.contains(PASSWORD) && !ps.contains("s3cret"), "{what}: the password is on a command line:\n{ps}");
        assert_nothing_left(&hosts, h);
    }
    assert_secret_absent(&test, &first, PASSWORD);
    let again = test.run_args(args);
    again.assert_status(0).assert_changed(0);
    assert_secret_absent(&test, &again, PASSWORD);
    // A password costs no round trip: as many execs as sudo without one.
    let baseline = test.run_args(["apply", "site.yml", "--vault-password-file", "vault-pw", "-l", "root1"]);
    baseline.assert_status(0).assert_changed(0);
    let execs = |out: &crate::support::Outcome, h: &str| out.report_json()["hosts"][h]["remote_execs"].as_u64();
    assert_eq!(execs(&again, "h1"), execs(&baseline, "root1"), "remote execs with and without a password");
    assert!(execs(&again, "h1").is_some_and(|n| n > 0));
}

#[test]
fn a_become_password_file_or_script_lets_sudo_write_root_files() {
    let Some(hosts) = hosts_with_sudo_user(1) else { return };
    let host = hosts.host(0);
    // And a large binary file, whose bytes all travel on stdin after the password's line.
    let big: Vec<u8> = (0..512 * 1024u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let copy_big = "    - name: big file\n      copy:\n        src: big.bin\n        dest: /root/big.bin\n";
    let test =
        project(&hosts, &["h1"], &site(copy_big)).file("become-pw", format!("{PASSWORD}\n")).file("big.bin", &big);
    let out = test.run_args(["apply", "site.yml", "--become-password-file", "become-pw"]);
    out.assert_status(0).assert_changed(2);
    assert_written(&hosts, host, "--become-password-file");
    let sum = hosts.sh(host, "sha256sum /root/big.bin && stat -c %U /root/big.bin");
    let want = format!("{:x}", <sha2::Sha256 as sha2::Digest>::digest(&big));
    assert_eq!(sum, format!("{want}  /root/big.bin\nroot\n"), "the big file's bytes");
    assert_secret_absent(&test, &out, PASSWORD);
    assert_nothing_left(&hosts, host);
    // ANSIBLE_BECOME_PASSWORD_FILE naming a script that prints it.
    hosts.sh(host, &format!("rm {TARGET}"));
    test.write("become-pw.sh", format!("#!/bin/sh\nprintf '%s\\n' {}\n", sh_quote(PASSWORD)));
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(test.project().join("become-pw.sh"), std::fs::Permissions::from_mode(0o700)).unwrap();
    let script = test.project().join("become-pw.sh").display().to_string();
    let out = test.run_args_env(&[("ANSIBLE_BECOME_PASSWORD_FILE", &script)], ["apply", "site.yml"]);
    out.assert_status(0).assert_changed(1);
    assert_eq!(out.changed_tasks("h1"), ["root-owned file"]);
    assert_written(&hosts, host, "ANSIBLE_BECOME_PASSWORD_FILE script");
    assert_secret_absent(&test, &out, PASSWORD);
    // Two lines: refused before any host is contacted, the file's text unsaid.
    test.write("two-lines", format!("{PASSWORD}\nsecond-line-xyz\n"));
    let out = test.run_args(["apply", "site.yml", "--become-password-file", "two-lines"]);
    out.assert_status(1).assert_stderr_contains("holds more than one line").assert_stderr_lacks("second-line-xyz");
    // `stead facts --patches -b` escalates with it too (its probe runs as root).
    let facts = test.run_args(["facts", "h1", "--patches", "-b", "--become-password-file", "become-pw"]);
    facts.assert_status(0);
    assert_secret_absent(&test, &facts, PASSWORD);
    let dump = test.run_args_env(&[("ANSIBLE_BECOME_PASSWORD_FILE", &script)], ["config", "dump"]);
    dump.assert_status(0).assert_stdout_contains("become_password_file(env ANSIBLE_BECOME_PASSWORD_FILE)");
}

#[test]
fn a_wrong_become_password_fails_that_hosts_task_quickly_and_others_finish() {
    let Some(hosts) = hosts_with_sudo_user(3) else { return };
    // h3's sudo gives one try only: sudo asks its helper once, then fails.
    hosts.sh(
        hosts.host(2),
        "echo 'Defaults passwd_tries=1' > /etc/sudoers.d/10-tries && chmod 440 /etc/sudoers.d/10-tries",
    );
    let wrong = "not-the-password-7c1";
    let test = project(&hosts, &["h1", "h2", "h3"], &site(""))
        .host_var("h1", "ansible_become_password", wrong)
        // A templated one is rendered for the host.
        .host_var("h2", "ansible_become_password", "{{ deploy_sudo_password }}")
        .host_var("h2", "deploy_sudo_password", PASSWORD)
        .host_var("h3", "ansible_become_password", wrong);
    let started = Instant::now();
    let out = test.run_args(["apply", "site.yml"]);
    let took = started.elapsed();
    eprintln!("a wrong password failed its task in {took:?} (the whole run)");
    out.assert_status(4);
    let said = "failed: incorrect sudo password: sudo: 1 incorrect password attempt";
    assert_eq!(out.stdout.matches(said).count(), 2, "h1 and h3:\n{}", out.stdout);
    assert!(took < Duration::from_secs(20), "a wrong password took {took:?}");
    assert_eq!(out.task_statuses("h1"), ["failed"]);
    assert_eq!(out.task_statuses("h2"), ["changed"]);
    assert_eq!(out.task_statuses("h3"), ["failed"]);
    assert_written(&hosts, hosts.host(1), "the other host");
    for i in [0, 2] {
        let exists = hosts.sh(hosts.host(i), &format!("test -e {TARGET} && echo yes || echo no"));
        assert_eq!(exists.trim(), "no");
        assert_nothing_left(&hosts, hosts.host(i));
    }
    assert_secret_absent(&test, &out, wrong);
    assert_secret_absent(&test, &out, PASSWORD);
}

#[test]
fn no_become_password_or_su_with_one_is_a_clear_task_failure() {
    let Some(hosts) = hosts_with_sudo_user(1) else { return };
    let test = project(&hosts, &["h1"], &site(""));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    out.assert_output_contains("needs a password and none was given");
    out.assert_output_contains("-K/--ask-become-pass");
    out.assert_output_contains("ansible_become_password");
    // su reads a password only from a terminal: refused, naming sudo.
    let test = test.host_var("h1", "ansible_become_password", PASSWORD).host_var("h1", "ansible_become_method", "su");
    let started = Instant::now();
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    out.assert_output_contains("become_method su with a password needs a terminal");
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_secret_absent(&test, &out, PASSWORD);
    // -K without a terminal says so before any host is contacted.
    let out = test.run_args(["apply", "site.yml", "-K"]);
    out.assert_status(1).assert_stderr_contains("stdin is not a terminal");
    let out = test.run_args_env(&[("ANSIBLE_BECOME_ASK_PASS", "True")], ["apply", "site.yml"]);
    out.assert_status(1).assert_stderr_contains("stdin is not a terminal");
}

/// `-K` in a real terminal (a tmux pane): the prompt is Ansible's, the
/// typed password is not echoed, and it lets sudo write the root file.
#[test]
fn ask_become_pass_prompts_once_on_the_terminal_without_echo() {
    let Some(hosts) = hosts_with_sudo_user(1) else { return };
    let host = hosts.host(0);
    let test = project(&hosts, &["h1"], &site(""));
    test.write("inventory.yaml", test.inventory_yaml());
    let report = test.project().join("report.json");
    let command = format!(
        "env -u CI -u NO_COLOR STEAD_AUDIT_LOG={audit} {bin} apply site.yml -i inventory.yaml -K --output plain \
         --report json={report}; echo \"stead exited $?\"; sleep 60",
        audit = test.audit_log().display(),
        bin = env!("CARGO_BIN_EXE_stead"),
        report = report.display(),
    );
    let Some(pane) = crate::live_terminal::Pane::start(test.project(), &command) else { return };
    pane.wait_for(Duration::from_secs(20), "the become prompt", |s| s.contains("BECOME password:"));
    pane.type_line(PASSWORD);
    let screen = pane.wait_for(Duration::from_secs(60), "stead to finish", |s| s.contains("stead exited"));
    assert!(screen.contains("stead exited 0"), "{screen}");
    assert_eq!(screen.matches("BECOME password:").count(), 1, "asked once:\n{screen}");
    assert!(!screen.contains("s3cret"), "the password was echoed or printed:\n{screen}");
    assert_written(&hosts, host, "-K");
    let report = std::fs::read_to_string(&report).expect("the JSON report");
    assert!(!report.contains("s3cret"), "password in the report");
    let audit = std::fs::read_to_string(test.audit_log()).unwrap_or_default();
    assert!(!audit.contains("s3cret"), "password in the audit log");
}

/// The same scenarios under ansible-playbook (the oracle), when installed:
/// an inventory and a vaulted `ansible_become_password` let sudo write the
/// root file, a second run changes nothing, a wrong password fails only
/// that host's task (exit 4).
#[test]
fn ansible_playbook_agrees_on_become_passwords_right_and_wrong() {
    for engine in crate::support::oracle::engines() {
        let Some(hosts) = hosts_with_sudo_user(3) else { return };
        let e = engine.name();
        let test = project(&hosts, &["h1", "h2", "h3"], &site(""))
            .engine(&engine)
            .host_var("h1", "ansible_become_password", PASSWORD)
            .host_var("h3", "ansible_become_password", "not-the-password-7c1")
            .file("vault-pw", "vault-password-for-become\n");
        let vaulted = encrypt_string(&test, "ansible_become_password", PASSWORD);
        test.write("host_vars/h2.yml", vaulted);
        let args = ["apply", "site.yml", "--vault-password-file", "vault-pw"];
        let first = test.run_args(args);
        first.assert_status(4).assert_changed(2);
        assert_eq!(first.task_statuses("h3"), ["failed"], "{e}");
        for i in [0, 1] {
            assert_written(&hosts, hosts.host(i), e);
        }
        let again = test.run_args(["apply", "site.yml", "--vault-password-file", "vault-pw", "-l", "h1:h2"]);
        again.assert_status(0).assert_changed(0);
    }
}

/// A delegated task escalates on the delegate with the delegate's own
/// `ansible_become_password`, as Ansible does.
#[test]
fn a_delegated_task_escalates_with_the_delegates_password() {
    for engine in crate::support::oracle::engines() {
        delegated_with(&engine);
    }
}

fn delegated_with(engine: &crate::support::oracle::Engine) {
    let Some(hosts) = hosts_with_sudo_user(2) else { return };
    let site = format!(
        "- hosts: h1\n  gather_facts: false\n  become: true\n  tasks:\n    - copy:\n        dest: {TARGET}\n        \
         content: {}\n        mode: \"0600\"\n      delegate_to: h2\n",
        serde_json::to_string(CONTENT).unwrap()
    );
    let test = project(&hosts, &["h1", "h2"], &site)
        .engine(engine)
        .host_var("h1", "ansible_become_password", "h1-has-another-password")
        .host_var("h2", "ansible_become_password", PASSWORD);
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0).assert_changed(1);
    assert_written(&hosts, hosts.host(1), &format!("delegated, {}", engine.name()));
    if *engine == crate::support::oracle::Engine::Stead {
        assert_secret_absent(&test, &out, PASSWORD);
    }
}

const DOAS_DEBS: &str = "/var/tmp/stead-apt-cache/doas-debs";

/// `become_method: doas` (opendoas installed inside the host only): a
/// `nopass` rule runs the task as root with `doas -n`; a rule that wants the
/// password, given none, is the clear "needs a password" failure; given
/// one, doas is refused at task time, since it reads it only from a terminal.
#[test]
fn doas_runs_without_a_password_and_is_refused_with_one() {
    let Some(dir) = crate::support::apt_repo::downloaded(DOAS_DEBS, &["opendoas"]) else { return };
    let Some(hosts) = hosts_with_sudo_user(1) else { return };
    let host = hosts.host(0);
    hosts.sh(host, &format!("dpkg -i {dir}/opendoas_*.deb >/dev/null 2>&1 || exit 1; command -v doas >/dev/null"));
    hosts.sh(host, &format!("printf 'permit nopass {LOGIN} as root\\n' > /etc/doas.conf && chmod 600 /etc/doas.conf"));
    let test = project(&hosts, &["h1"], &site("")).host_var("h1", "ansible_become_method", "doas");
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0).assert_changed(1);
    assert_written(&hosts, host, "doas nopass");
    hosts.sh(host, &format!("rm {TARGET} && printf 'permit {LOGIN} as root\\n' > /etc/doas.conf"));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4).assert_output_contains("needs a password and none was given");
    let test = test.host_var("h1", "ansible_become_password", PASSWORD);
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4).assert_output_contains("become_method doas with a password needs a terminal");
    assert_secret_absent(&test, &out, PASSWORD);
}
