//! Configuration files of a host's own `/etc`: `modprobe` (its persistent
//! files only: nothing here ever loads a kernel module, CONTRACT §7),
//! `pam_limits`, `ini_file` and `cron` (`cron_file` in `/etc/cron.d`).
//! Every file is compared byte for byte with what Ansible writes.

use super::{converge, variants};
use crate::support::oracle::Engine;
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
        if engine != Engine::Stead {
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
