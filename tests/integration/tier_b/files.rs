//! Configuration files of a host's own `/etc`: `modprobe` (its persistent
//! files only: nothing here ever loads a kernel module, CONTRACT §7),
//! `pam_limits`, `ini_file` and `cron` (`cron_file` in `/etc/cron.d`).
//! Every file is compared byte for byte with what Ansible writes.

use super::{converge, variants};
use crate::support::oracle::{self, Engine};
use crate::support::testhosts::TestHost;
use crate::support::{assert_has_line, play, Test, TestHosts};

// ---------------------------------------------------------------- modprobe
//
// This machine's kernel has no loadable-module support (no /proc/modules)
// and kmod is not installed, and Tier-B hosts lack CAP_SYS_MODULE anyway.
// The scenario makes `dummy` a built-in module of the host (its own
// modules.builtin, in its overlay), so `state: present` needs no modprobe,
// and unloads `loop`, which is not loaded: only the files change. Ansible
// fails on such a host before it looks at anything (it requires the
// modprobe binary and /proc/modules); the oracle run pins that failure.

const MODPROBE_TASKS: &str = r#"
- name: dummy at boot
  community.general.modprobe:
    name: dummy
    params: numdummies=2
    persistent: present
- name: no loop at boot
  modprobe:
    name: loop
    state: absent
    persistent: absent
"#;

fn modprobe_setup(hosts: &TestHosts, host: &TestHost) {
    hosts.sh(
        host,
        "d=/lib/modules/$(uname -r); mkdir -p \"$d\" /etc/modprobe.d /etc/modules-load.d\n\
         printf 'kernel/drivers/block/brd.ko\\nkernel/drivers/net/dummy.ko\\n' > \"$d/modules.builtin\"\n\
         printf 'options dummy numdummies=1\\nblacklist floppy\\n' > /etc/modprobe.d/old.conf\n\
         printf '# boot\\nloop\\n' > /etc/modules-load.d/modules.conf",
    );
}

/// Whether `engine` really is Ansible (also when the whole suite runs
/// under the oracle, `STEAD_TEST_ORACLE`).
fn is_ansible(engine: &Engine) -> bool {
    *engine != Engine::Stead || oracle::ansible_playbook().is_some()
}

fn proc_modules() -> Option<Vec<u8>> {
    std::fs::read("/proc/modules").ok()
}

#[test]
fn modprobe_persistent_files_as_the_community_module_writes_them() {
    let kernel_before = proc_modules();
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        modprobe_setup(&hosts, host);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(MODPROBE_TASKS));
        let e = format!("{} {options:?}", engine.name());
        if is_ansible(&engine) {
            // Ansible needs the modprobe binary even to write the files.
            let out = test.run_args(["apply", "site.yml"]);
            out.assert_status(4);
            let msg = out.task("h1", "dummy at boot")["msg"].as_str().unwrap_or("").to_owned();
            assert!(msg.contains("Failed to find required executable"), "{e}: {msg}");
            continue;
        }
        converge(&test, &hosts, 2);
        let cat = |p: &str| hosts.sh(host, &format!("cat {p}"));
        assert_eq!(cat("/etc/modules-load.d/dummy.conf"), "dummy\n", "{e}");
        assert_eq!(cat("/etc/modprobe.d/dummy.conf"), "options dummy numdummies=2\n", "{e}");
        // Commented out, and joined with '\n' over lines that keep theirs.
        assert_eq!(cat("/etc/modprobe.d/old.conf"), "#options dummy numdummies=1\n\nblacklist floppy\n", "{e}");
        assert_eq!(cat("/etc/modules-load.d/modules.conf"), "# boot\n\n#loop\n", "{e}");
    }
    assert_eq!(proc_modules(), kernel_before, "this machine's /proc/modules changed");
}

#[test]
fn modprobe_plan_shows_the_files() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    modprobe_setup(&hosts, host);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(MODPROBE_TASKS));
    let out = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    out.assert_status(2).assert_changed(2);
    assert_has_line(&out, "+/etc/modules-load.d/dummy.conf: dummy");
    assert_has_line(&out, "-/etc/modprobe.d/old.conf: options dummy numdummies=1");
    assert_has_line(&out, "+/etc/modprobe.d/old.conf: #options dummy numdummies=1");
    assert_has_line(&out, "+/etc/modprobe.d/dummy.conf: options dummy numdummies=2");
    assert!(!hosts.sh(host, "ls /etc/modules-load.d").contains("dummy"), "plan changed the host");
}

/// Loading a module that is neither loaded nor built in needs modprobe,
/// which these hosts lack: both engines fail with Ansible's message, and
/// neither the host's files nor this machine's kernel change.
#[test]
fn modprobe_load_fails_clearly_without_modprobe() {
    let kernel_before = proc_modules();
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let test = Test::new()
            .engine(&engine)
            .testhost("h1", &hosts, host)
            .file("site.yml", play("- name: load\n  modprobe: {name: stead_no_such_module, persistent: present}\n"));
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(4);
        let e = format!("{} {options:?}", engine.name());
        let task = out.task("h1", "load");
        assert_eq!(task["status"], "failed", "{e}");
        let msg = task["msg"].as_str().unwrap_or("");
        assert!(msg.starts_with("Failed to find required executable \"modprobe\" in paths: "), "{e}: {msg}");
        assert_eq!(hosts.sh(host, "ls /etc/modules-load.d"), "modules.conf\n", "{e}");
    }
    assert_eq!(proc_modules(), kernel_before, "this machine's /proc/modules changed");
}

// -------------------------------------------------------------- pam_limits

const LIMITS_D: &str = "/etc/security/limits.d/90-stead.conf";

const PAM_TASKS: &str = r#"
- name: open files
  community.general.pam_limits:
    domain: '*'
    limit_type: soft
    limit_item: nofile
    value: 65536
    dest: /etc/security/limits.d/90-stead.conf
- name: fewer processes for ops
  pam_limits:
    domain: '@ops'
    limit_type: '-'
    limit_item: nproc
    value: "100"
    use_min: true
    dest: /etc/security/limits.d/90-stead.conf
- name: no core dumps for joe
  pam_limits:
    domain: joe
    limit_type: hard
    limit_item: core
    value: "0"
    comment: no dumps
"#;

#[test]
fn pam_limits_writes_lines_exactly_as_the_module_does() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, &format!("printf '# managed\\n@ops - nproc 200 # old\\n' > {LIMITS_D}"));
        let stock = hosts.sh(host, "cat /etc/security/limits.conf");
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(PAM_TASKS));
        converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        // A task without `comment` borrows the first data line's comment,
        // newline included, as the module does.
        assert_eq!(
            hosts.sh(host, &format!("cat {LIMITS_D}")),
            "# managed\n@ops\t-\tnproc\t100\t# old\n\n*\tsoft\tnofile\t65536\t# old\n\n",
            "{e}"
        );
        assert_eq!(
            hosts.sh(host, "cat /etc/security/limits.conf"),
            format!("{stock}joe\thard\tcore\t0\t#no dumps\n"),
            "{e}"
        );
    }
}

#[test]
fn pam_limits_plan_shows_the_new_line() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(PAM_TASKS));
    let out = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    out.assert_status(2).assert_changed(3);
    assert_has_line(&out, "+joe\thard\tcore\t0\t#no dumps");
    assert_has_line(&out, "+@ops\t-\tnproc\t100");
    assert_eq!(hosts.sh(host, &format!("test -e {LIMITS_D} && echo yes || echo no")), "no\n", "plan changed the host");
}

#[test]
fn pam_limits_refuses_an_invalid_value_and_a_bad_line() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, &format!("printf '* soft nofile lots\\n' > {LIMITS_D}"));
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file(
            "site.yml",
            play(&format!(
                "- name: bad value\n  pam_limits: {{domain: '*', limit_type: hard, limit_item: nice, value: '40'}}\n  \
                 ignore_errors: true\n\
                 - name: bad file\n  pam_limits: {{domain: x, limit_type: hard, limit_item: core, value: '0', dest: {LIMITS_D}}}\n"
            )),
        );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(4);
        let e = format!("{} {options:?}", engine.name());
        let msg = |t: &str| out.task("h1", t)["msg"].as_str().unwrap_or("").to_owned();
        assert!(msg("bad value").contains("Value of '40' for item 'nice' is invalid."), "{e}: {}", msg("bad value"));
        assert!(msg("bad file").starts_with(&format!("Invalid configuration found in '{LIMITS_D}'.")), "{e}");
        assert_eq!(hosts.sh(host, &format!("cat {LIMITS_D}")), "* soft nofile lots\n", "{e}");
    }
}

// ---------------------------------------------------------------- ini_file

const APP_INI: &str = "; header\n[main]\n# port = 80\nname = x\n\n[peer]\nname = a\nip = 1\n[peer]\nname = b\nip = 2\n";

const INI_TASKS: &str = r#"
- name: before the first section
  community.general.ini_file: {path: /etc/stead-test/app.ini, section: null, option: top, value: 1}
- name: port, reusing the commented line
  ini_file: {path: /etc/stead-test/app.ini, section: main, option: port, value: "8080"}
- name: the peer named b
  ini_file:
    dest: /etc/stead-test/app.ini
    section: peer
    section_has_values: [{option: name, value: b}]
    option: ip
    value: "9"
- name: repeated option in a new section
  ini_file: {path: /etc/stead-test/app.ini, section: extra, option: v, values: [a, b], no_extra_spaces: true}
- name: option without value in a new file
  ini_file: {path: /etc/stead-test/my.cnf, section: mysqld, option: skip-name-resolve, allow_no_value: true, mode: "0640"}
- name: drop an option
  ini_file: {path: /etc/stead-test/app.ini, section: main, option: name, state: absent}
"#;

fn ini_setup(hosts: &TestHosts, host: &TestHost) {
    hosts.sh(host, &format!("mkdir -p /etc/stead-test && printf '%s' '{APP_INI}' > /etc/stead-test/app.ini"));
}

#[test]
fn ini_file_edits_exactly_as_the_module_does() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        ini_setup(&hosts, host);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(INI_TASKS));
        converge(&test, &hosts, 6);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(
            hosts.sh(host, "cat /etc/stead-test/app.ini"),
            "top = 1\n; header\n[main]\nport = 8080\n\n[peer]\nname = a\nip = 1\n[peer]\nname = b\nip = 9\n\
             [extra]\nv=a\nv=b\n",
            "{e}"
        );
        // A new file starts with a blank line, as the module writes it.
        assert_eq!(hosts.sh(host, "cat /etc/stead-test/my.cnf"), "\n[mysqld]\nskip-name-resolve\n", "{e}");
        assert_eq!(hosts.sh(host, "stat -c %a /etc/stead-test/my.cnf"), "640\n", "{e}");
    }
}

#[test]
fn ini_file_plan_shows_the_lines() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    ini_setup(&hosts, host);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(INI_TASKS));
    let out = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    out.assert_status(2).assert_changed(6);
    assert_has_line(&out, "-# port = 80");
    assert_has_line(&out, "+port = 8080");
    assert_has_line(&out, "+skip-name-resolve");
    assert_eq!(hosts.sh(host, "cat /etc/stead-test/app.ini"), APP_INI, "plan changed the host");
}

#[test]
fn ini_file_fails_on_a_missing_file_without_create() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file(
            "site.yml",
            play("- name: no file\n  ini_file: {path: /etc/stead-none.ini, section: s, option: a, value: b, create: false}\n"),
        );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(4);
        let e = format!("{} {options:?}", engine.name());
        let msg = out.task("h1", "no file")["msg"].as_str().unwrap_or("").to_owned();
        assert!(msg.starts_with("Destination /etc/stead-none.ini does not exist!"), "{e}: {msg}");
        assert_eq!(hosts.sh(host, "ls /etc/stead-none.ini 2>/dev/null; echo end"), "end\n", "{e}");
    }
}

// -------------------------------------------------------------------- cron
//
// Per-user crontabs need the cron package, which this machine lacks: its
// two .deb files are fetched once with `apt-get download` into a cache on
// the controller (nothing is installed here) and installed with `dpkg -i`
// inside the test host only (policy-rc.d keeps the daemon from starting).

const CRON_DEBS: &str = "/var/tmp/stead-apt-cache/cron-debs";

/// The cron packages, fetched on first use (`None` when they cannot be).
fn cron_debs() -> Option<&'static str> {
    crate::support::apt_repo::downloaded(CRON_DEBS, &["cron", "cron-daemon-common"])
}

/// Installs cron in the host; false (test skipped) when it cannot.
fn install_cron(hosts: &TestHosts, host: &TestHost) -> bool {
    let Some(dir) = cron_debs() else { return false };
    hosts.sh(host, &format!("(dpkg -i {dir}/cron-daemon-common_*.deb && dpkg -i {dir}/cron_*.deb) >/dev/null 2>&1 || exit 1; command -v crontab >/dev/null"));
    true
}

const CRON_TASKS: &str = r#"
- name: adopt a hand-written job
  ansible.builtin.cron: {name: "true", job: /bin/true, user: daemon}
- name: nightly backup
  cron:
    name: backup
    minute: "5"
    hour: "2"
    job: /usr/local/bin/backup > /dev/null 2>&1
    user: daemon
- name: path for daemon's jobs
  cron: {name: PATH, env: true, job: "/usr/bin:/bin", insertafter: MAILTO, user: daemon}
- name: rotate daily
  cron: {name: rotate, special_time: daily, job: /usr/sbin/logrotate /etc/x, user: root, cron_file: stead-rotate}
- name: disabled job
  cron: {name: "off", minute: "*/5", job: /bin/off, user: root, cron_file: /etc/cron.d/stead-rotate, disabled: true}
"#;

const CRON_FILE: &str =
    "#Ansible: rotate\n@daily root /usr/sbin/logrotate /etc/x\n#Ansible: off\n#*/5 * * * * root /bin/off\n";

#[test]
fn cron_writes_crontabs_and_cron_files_with_ansibles_markers() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        if !install_cron(&hosts, host) {
            return;
        }
        hosts.sh(host, "printf 'MAILTO=ops\\n* * * * * /bin/true\\n' | crontab -u daemon -");
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(CRON_TASKS));
        converge(&test, &hosts, 5);
        let e = format!("{} {options:?}", engine.name());
        assert_eq!(
            hosts.sh(host, "crontab -u daemon -l"),
            "MAILTO=ops\nPATH=\"/usr/bin:/bin\"\n#Ansible: true\n* * * * * /bin/true\n#Ansible: backup\n\
             5 2 * * * /usr/local/bin/backup > /dev/null 2>&1\n",
            "{e}"
        );
        assert_eq!(hosts.sh(host, "cat /etc/cron.d/stead-rotate"), CRON_FILE, "{e}");
        assert_eq!(hosts.sh(host, "stat -c '%a %U' /etc/cron.d/stead-rotate"), "644 root\n", "{e}");
    }
}

#[test]
fn cron_plan_shows_the_new_lines() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    if !install_cron(&hosts, host) {
        return;
    }
    hosts.sh(host, "printf 'MAILTO=ops\\n' | crontab -u daemon -");
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(CRON_TASKS));
    let out = test.run_args(["plan", "site.yml", "--detailed-exitcode"]);
    out.assert_status(2).assert_changed(5);
    assert_has_line(&out, "+#Ansible: backup");
    assert_has_line(&out, "+5 2 * * * /usr/local/bin/backup > /dev/null 2>&1");
    assert_has_line(&out, "+@daily root /usr/sbin/logrotate /etc/x");
    assert_has_line(&out, "+PATH=\"/usr/bin:/bin\"");
    assert_eq!(hosts.sh(host, "crontab -u daemon -l"), "MAILTO=ops\n", "plan changed the host");
    assert_eq!(hosts.sh(host, "test -e /etc/cron.d/stead-rotate || echo none"), "none\n", "plan changed the host");
}

/// Without the cron package a `cron_file` still works in stead (Ansible
/// requires the crontab binary even then), and removing the last job
/// removes the file.
#[test]
fn cron_file_without_the_cron_package() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        hosts.sh(host, &format!("mkdir -p /etc/cron.d && printf '{CRON_FILE}' > /etc/cron.d/stead-rotate"));
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file(
            "site.yml",
            play(
                "- name: one\n  cron: {name: rotate, cron_file: stead-rotate, state: absent}\n\
                 - name: two\n  cron: {name: \"off\", cron_file: stead-rotate, state: absent}\n",
            ),
        );
        let e = format!("{} {options:?}", engine.name());
        if is_ansible(&engine) {
            let out = test.run_args(["apply", "site.yml"]);
            out.assert_status(4);
            let msg = out.task("h1", "one")["msg"].as_str().unwrap_or("").to_owned();
            assert!(msg.starts_with("Failed to find required executable \"crontab\""), "{e}: {msg}");
            continue;
        }
        converge(&test, &hosts, 2);
        assert_eq!(
            hosts.sh(host, "ls /etc/cron.d/stead-rotate 2>&1 || :"),
            "ls: cannot access '/etc/cron.d/stead-rotate': No such file or directory\n",
            "{e}"
        );
    }
}

#[test]
fn cron_fails_on_a_missing_anchor_and_without_crontab() {
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let installed = !is_ansible(&engine) && options.no_python;
        if installed && !install_cron(&hosts, host) {
            return;
        }
        let test = Test::new()
            .engine(&engine)
            .testhost("h1", &hosts, host)
            .file("site.yml", play("- name: env\n  cron: {name: X, env: true, job: \"1\", insertbefore: NOPE}\n"));
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(4);
        let e = format!("{} {options:?}", engine.name());
        let msg = out.task("h1", "env")["msg"].as_str().unwrap_or("").to_owned();
        if installed {
            assert_eq!(msg, "Variable named 'NOPE' not found.", "{e}");
            assert_eq!(hosts.exec(host, "crontab -l").status.code(), Some(1), "{e}");
        } else {
            assert!(msg.starts_with("Failed to find required executable \"crontab\" in paths: "), "{e}: {msg}");
        }
    }
}
