//! Filesystems: `mount` on a Tier-B host's own fstab and its own mount
//! namespace (tmpfs only), checked in `/etc/fstab` and `/proc/mounts`.

use super::{converge, variants};
use crate::support::{assert_has_line, play, Test, TestHosts};

/// fstab hardening as published roles write it, and a scratch tmpfs.
const TASKS: &str = r#"
- name: data entry, not mounted
  mount:
    path: /srv/data
    src: LABEL=data
    fstype: ext4
    opts: defaults,nodev
    state: present
- name: harden /dev/shm
  ansible.posix.mount:
    path: /dev/shm
    src: tmpfs
    fstype: tmpfs
    opts: rw,nosuid,nodev,noexec
    state: mounted
- name: scratch space
  mount:
    path: /mnt/stead scratch
    src: tmpfs
    fstype: tmpfs
    opts: size=8m,mode=1777
    state: mounted
"#;

fn mounts(hosts: &TestHosts, host: &crate::support::testhosts::TestHost) -> String {
    hosts.sh(host, "cat /proc/mounts")
}

#[test]
fn mount_keeps_fstab_and_mounts_in_the_hosts_namespace() {
    let own = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    for (engine, options) in variants() {
        let Some(hosts) = TestHosts::up_with(1, options) else { return };
        let host = hosts.host(0);
        let test = Test::new().engine(&engine).testhost("h1", &hosts, host).file("site.yml", play(TASKS));
        converge(&test, &hosts, 3);
        let e = format!("{} {options:?}", engine.name());
        let fstab = hosts.sh(host, "cat /etc/fstab");
        assert!(fstab.contains("LABEL=data /srv/data ext4 defaults,nodev 0 0\n"), "{e}: {fstab}");
        assert!(fstab.contains("tmpfs /dev/shm tmpfs rw,nosuid,nodev,noexec 0 0\n"), "{e}: {fstab}");
        assert!(fstab.contains("tmpfs /mnt/stead\\040scratch tmpfs size=8m,mode=1777 0 0\n"), "{e}: {fstab}");
        let mounted = mounts(&hosts, host);
        let shm = mounted.lines().find(|l| l.split(' ').nth(1) == Some("/dev/shm")).unwrap_or_default();
        assert!(shm.contains("noexec") && shm.contains("nosuid"), "{e}: {shm}");
        assert!(mounted.contains(" /mnt/stead\\040scratch tmpfs "), "{e}: {mounted}");
        assert!(!mounted.contains("/srv/data"), "{e}: present only writes fstab");
    }
    assert_eq!(std::fs::read_to_string("/proc/self/mounts").unwrap_or_default(), own, "this machine's mounts changed");
}

#[test]
fn mount_unmounts_and_removes_and_shows_the_change() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let test = Test::new().testhost("h1", &hosts, host).file("site.yml", play(TASKS));
    test.run_args(["apply", "site.yml"]).assert_status(0);
    test.write(
        "down.yml",
        play(
            r#"
            - name: unmount scratch
              mount: {path: /mnt/stead scratch, state: unmounted}
            - name: forget data
              mount: {path: /srv/data, state: absent}
            "#,
        ),
    );
    let plan = test.run_args(["plan", "down.yml"]);
    plan.assert_status(0).assert_changed(2);
    assert_has_line(&plan, "-mounted: yes");
    assert_has_line(&plan, "+mounted: no");
    assert_has_line(&plan, "-LABEL=data /srv/data ext4 defaults,nodev 0 0");
    assert!(mounts(&hosts, host).contains("/mnt/stead\\040scratch"), "plan unmounted");
    test.run_args(["apply", "down.yml"]).assert_status(0).assert_changed(2);
    assert!(!mounts(&hosts, host).contains("/mnt/stead\\040scratch"));
    assert!(!hosts.sh(host, "cat /etc/fstab").contains("/srv/data"));
    // The scratch entry stays in fstab: `unmounted` does not touch it.
    assert!(hosts.sh(host, "cat /etc/fstab").contains("/mnt/stead\\040scratch"));
    test.run_args(["apply", "down.yml"]).assert_status(0).assert_changed(0);
}

#[test]
fn a_failed_mount_leaves_fstab_as_it_was() {
    let Some(hosts) = TestHosts::up(1) else { return };
    let host = hosts.host(0);
    let before = hosts.sh(host, "cat /etc/fstab");
    let test = Test::new().testhost("h1", &hosts, host).file(
        "site.yml",
        play("- name: bad\n  mount: {path: /mnt/bad, src: /dev/nonexistent, fstype: ext4, state: mounted}\n"),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    let failed = out.task("h1", "bad");
    assert!(failed["msg"].as_str().unwrap_or("").contains("Error mounting /mnt/bad"), "{failed}");
    assert_eq!(hosts.sh(host, "cat /etc/fstab"), before, "fstab was not restored");
}
