//! ansible.cfg and the `ANSIBLE_*` variables (issue 11): `stead config
//! dump`, and each setting observably applied to a real run against a real
//! sshd.

use crate::support::sshd::current_user;
use crate::support::{play, Sshd, Test};

const HELLO: &str = r#"
- name: hello
  copy:
    content: "hello {{ inventory_hostname }}\n"
    dest: "{{ root }}/hello"
"#;

/// The sshd's connection variables without the ones a test wants to come
/// from the configuration instead.
fn vars_without(sshd: &Sshd, drop: &[&str]) -> Vec<(String, serde_json::Value)> {
    sshd.host_vars().into_iter().filter(|(k, _)| !drop.contains(&k.as_str())).collect()
}

/// The lines of `text` that contain `needle`.
fn lines_with<'a>(text: &'a str, needle: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.contains(needle)).collect()
}

#[test]
fn config_dump_shows_each_value_and_where_it_came_from() {
    let test = Test::new()
        .file(
            "ansible.cfg",
            "[defaults]\n# the project's settings\nforks = 7\nremote_user = deploy ; inline comment\n\
             [ssh_connection]\nssh_args = -o 'ServerAliveInterval=5' -C\n",
        )
        .env("ANSIBLE_TIMEOUT", "3")
        .raw();
    let cfg = test.project().join("ansible.cfg");
    let out = test.run_args(["config", "dump"]);
    out.assert_status(0)
        .assert_stdout_contains(&format!("# config file: {}", cfg.display()))
        .assert_stdout_contains(&format!("forks({}:3) = 7\n", cfg.display()))
        .assert_stdout_contains(&format!("remote_user({}:4) = deploy\n", cfg.display()))
        .assert_stdout_contains(&format!("ssh_args({}:6) = -o ServerAliveInterval=5 -C\n", cfg.display()))
        .assert_stdout_contains("timeout(env ANSIBLE_TIMEOUT) = 3\n")
        .assert_stdout_contains("host_key_checking(default) = True\n")
        .assert_stdout_contains("gathering(default) = implicit\n");
    let names: Vec<&str> = out.stdout.lines().skip(1).map(|l| l.split('(').next().unwrap()).collect();
    assert_eq!(names[..3], ["inventory", "forks", "remote_user"], "a stable order\n{}", out.stdout);

    let out = test.run_args(["config", "dump", "--json"]);
    out.assert_status(0);
    let doc: serde_json::Value = serde_json::from_str(&out.stdout).expect("config dump --json is JSON");
    assert_eq!(doc["config_file"], cfg.display().to_string());
    let forks = doc["settings"].as_array().unwrap().iter().find(|s| s["name"] == "forks").unwrap();
    assert_eq!(forks["value"], 7);
    assert_eq!(forks["origin"], format!("{}:3", cfg.display()));
    let ssh_args = doc["settings"].as_array().unwrap().iter().find(|s| s["name"] == "ssh_args").unwrap();
    assert_eq!(ssh_args["value"], serde_json::json!(["-o", "ServerAliveInterval=5", "-C"]));
}

#[test]
fn ansible_config_names_the_file_and_only_that_one_is_read() {
    let elsewhere = tempfile::tempdir().unwrap();
    let custom = elsewhere.path().join("custom.cfg");
    std::fs::write(&custom, "[defaults]\nforks = 3\n").unwrap();
    let test = Test::new().file("ansible.cfg", "[defaults]\nforks = 9\ntimeout = 4\n").raw();
    let out = test.run_args(["config", "dump"]);
    out.assert_stdout_contains("forks(").assert_stdout_contains(") = 9\n");

    let test = test.env("ANSIBLE_CONFIG", &custom.display().to_string());
    let out = test.run_args(["config", "dump"]);
    out.assert_status(0)
        .assert_stdout_contains(&format!("# config file: {}", custom.display()))
        .assert_stdout_contains(&format!("forks({}:2) = 3\n", custom.display()))
        // The project's ansible.cfg is not read at all once another was found.
        .assert_stdout_contains("timeout(default) = 10\n");
}

#[test]
fn remote_user_private_key_file_ssh_args_timeout_and_control_path_dir_reach_ssh() {
    let sshd = Sshd::start();
    let sockets = tempfile::Builder::new().prefix("cp-").tempdir_in("/tmp").unwrap();
    let control_dir = sockets.path().join("masters");
    let vars = vars_without(&sshd, &["ansible_user", "ansible_ssh_private_key_file", "ansible_ssh_common_args"]);
    // Every connection setting comes from ansible.cfg: without any of them
    // the host would be unreachable. A task then reads the command line of
    // its own ssh master (this machine is the host) to see the rest.
    let cfg = format!(
        "[defaults]\nremote_user = {user}\nprivate_key_file = {key}\ntimeout = 7\n\
         [ssh_connection]\nssh_args = -o \"UserKnownHostsFile={known}\" -o IdentitiesOnly=yes -F /dev/null\n\
         control_path_dir = {control}\n",
        user = current_user(),
        key = sshd.client_key().display(),
        known = sshd.known_hosts().display(),
        control = control_dir.display(),
    );
    let test = Test::new().host_with("web1", vars).file("ansible.cfg", cfg).file(
        "site.yml",
        play(
            r#"
            - name: masters
              shell: for f in /proc/[0-9]*/cmdline; do tr '\0' ' ' < "$f"; echo; done > "{{ root }}/masters"
            "#,
        ),
    );
    test.run_args(["apply", "site.yml"]).assert_status(0);
    let masters = test.read("web1", "masters");
    let known = format!("UserKnownHostsFile={}", sshd.known_hosts().display());
    let ours: Vec<&str> = masters.lines().filter(|l| l.starts_with("ssh ") && l.contains(&known)).collect();
    assert_eq!(ours.len(), 1, "one ssh master for the host\n{masters}");
    let master = ours[0];
    for part in [
        format!("-l {}", current_user()),
        format!("-i {}", sshd.client_key().display()),
        "ConnectTimeout=7".to_owned(),
        // ssh_args as separate arguments, the quotes removed as a shell would.
        format!("-o {known} -o IdentitiesOnly=yes -F /dev/null"),
        format!("-S {}/stead-", control_dir.display()),
    ] {
        assert!(master.contains(&part), "{part:?} not in the master's command line: {master}");
    }
    assert!(!std::fs::read_dir(&control_dir).unwrap().any(|_| true), "the master's socket directory is removed");
}

#[test]
fn host_variables_still_beat_the_configuration() {
    let sshd = Sshd::start();
    // ansible.cfg names a user and a key that would not work; the host's
    // own ansible_user and key are used.
    let test = Test::new()
        .host("web1", &sshd)
        .file("ansible.cfg", "[defaults]\nremote_user = nosuchuser-stead\nprivate_key_file = /nonexistent/key\n")
        .file("site.yml", play(HELLO));
    test.run_args(["apply", "site.yml"]).assert_status(0);
    assert_eq!(test.read("web1", "hello"), "hello web1\n");
}

#[test]
fn forks_of_ansible_cfg_is_the_default_of_dash_f() {
    // The rendezvous of hosts.rs's forks test: it needs both hosts in flight.
    let sshd = Sshd::start();
    let barrier = tempfile::tempdir().unwrap();
    let test = Test::new().host("h1", &sshd).host("h2", &sshd).file("ansible.cfg", "[defaults]\nforks = 1\n").file(
        "site.yml",
        play(&format!(
            r#"
                - name: rendezvous
                  shell: |
                    touch "{barrier}/{{{{ inventory_hostname }}}}"
                    i=0
                    while [ "$(ls "{barrier}" | wc -l)" -lt 2 ]; do
                      i=$((i + 1))
                      [ "$i" -gt 10 ] && exit 1
                      sleep 0.1
                    done
                "#,
            barrier = barrier.path().display(),
        )),
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    assert_eq!(out.summary("failed"), 1, "forks = 1: one host at a time, the first one times out");
    for f in std::fs::read_dir(barrier.path()).unwrap() {
        std::fs::remove_file(f.unwrap().path()).unwrap();
    }
    test.run_args(["apply", "site.yml", "--forks", "2"]).assert_status(0);
}

#[test]
fn host_key_checking_false_accepts_a_new_host_says_so_once_and_still_refuses_a_changed_key() {
    let sshd = Sshd::start();
    let known = tempfile::NamedTempFile::new().unwrap();
    let args = format!("-o UserKnownHostsFile={} -o IdentitiesOnly=yes -F /dev/null", known.path().display());
    let test = Test::new()
        .host("web1", &sshd)
        .host("web2", &sshd)
        .host_var("web1", "ansible_ssh_common_args", args.as_str())
        .host_var("web2", "ansible_ssh_common_args", args.as_str())
        .file("ansible.cfg", "[defaults]\nhost_key_checking = False\n")
        .file("site.yml", play(HELLO));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    assert_eq!(test.read("web1", "hello"), "hello web1\n");
    assert!(!std::fs::read_to_string(known.path()).unwrap().is_empty(), "the new key is recorded");
    let notes = lines_with(&out.stderr, "host_key_checking = False");
    assert_eq!(notes.len(), 1, "one note per run, not per host\n{}", out.stderr);
    assert!(notes[0].contains("ansible.cfg:2") && notes[0].contains("a changed key is still refused"), "{}", notes[0]);

    // A key that changed is refused all the same.
    let other = tempfile::tempdir().unwrap();
    let key = other.path().join("k");
    let status = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .status()
        .unwrap();
    assert!(status.success());
    let pubkey = std::fs::read_to_string(key.with_extension("pub")).unwrap();
    std::fs::write(known.path(), format!("[127.0.0.1]:{} {pubkey}", sshd.port())).unwrap();
    test.write("site.yml", play(&HELLO.replace("hello {{", "again {{")));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(8).assert_output_contains("CHANGED");
    assert_eq!(test.read("web1", "hello"), "hello web1\n", "nothing ran on a host whose key changed");
}

#[test]
fn a_refused_setting_stops_the_run_naming_the_file_and_line() {
    let sshd = Sshd::start();
    let test = Test::new()
        .host("web1", &sshd)
        .file("ansible.cfg", "[defaults]\nforks = 5\nstrategy = free\n")
        .file("site.yml", play(HELLO));
    let cfg = test.project().join("ansible.cfg");
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(1)
        .assert_stderr_contains(&format!("{}:3: `strategy` = `free` is not supported", cfg.display()))
        .assert_stderr_contains("hint: set `strategy:` on the plays instead");
    assert!(!test.exists("web1", "hello"), "no host is contacted");

    test.write("ansible.cfg", "[defaults]\nhash_behaviour = merge\n");
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(1)
        .assert_stderr_contains(&format!("{}:2: `hash_behaviour` = `merge` is not supported", cfg.display()))
        .assert_stderr_contains("combine");

    test.write("ansible.cfg", "[defaults]\nforks = lots\n");
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(1).assert_stderr_contains(&format!("{}:2: `forks` = `lots`", cfg.display()));
    let out = test.run_args(["config", "dump"]);
    out.assert_status(1).assert_stderr_contains("`forks` = `lots`");
    assert!(!test.exists("web1", "hello"));
}

#[test]
fn tuning_only_settings_are_one_warning_and_the_run_works() {
    let sshd = Sshd::start();
    let test = Test::new()
        .host("web1", &sshd)
        .file(
            "ansible.cfg",
            "[defaults]\nstdout_callback = yaml\nretry_files_enabled = False\nnocows = 1\nforsk = 2\n\
             [ssh_connection]\npipelining = True\n",
        )
        .file("site.yml", play(HELLO));
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    assert_eq!(test.read("web1", "hello"), "hello web1\n");
    let warnings = lines_with(&out.stderr, "only tune Ansible itself");
    assert_eq!(warnings.len(), 1, "{}", out.stderr);
    for name in ["stdout_callback (line 2)", "retry_files_enabled (line 3)", "nocows (line 4)", "pipelining (line 7)"] {
        assert!(warnings[0].contains(name), "{name} not in {}", warnings[0]);
    }
    out.assert_stderr_contains("`forsk` is not an Ansible setting of [defaults]; did you mean `forks`?");
}

#[test]
fn gathering_explicit_gathers_only_for_plays_that_ask() {
    let sshd = Sshd::start();
    let site = "- hosts: all\n  tasks:\n    - debug: {msg: one}\n\
                - hosts: all\n  gather_facts: true\n  tasks:\n    - debug: {msg: two}\n";
    let test = Test::new().host("web1", &sshd).file("site.yml", site);
    let gathered = |out: &crate::support::Outcome| {
        out.report_json()["hosts"]["web1"]["tasks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["task"] == "Gathering Facts")
            .count()
    };
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    assert_eq!(gathered(&out), 1, "implicit: the first play gathers, the second reuses the facts");
    test.write("ansible.cfg", "[defaults]\ngathering = explicit\n");
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    let tasks: Vec<String> = out.report_json()["hosts"]["web1"]["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(tasks[1], "Gathering Facts", "only the second play gathers: {tasks:?}");
    assert_eq!(gathered(&out), 1);
    let out = test.env("ANSIBLE_GATHERING", "sometimes").run_args(["apply", "site.yml"]);
    out.assert_status(1).assert_stderr_contains("env ANSIBLE_GATHERING: `gathering` = `sometimes`");
}

#[test]
fn ansible_managed_and_inventory_come_from_ansible_cfg() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file(
        "site.yml",
        play(
            r#"
            - copy:
                content: "{{ ansible_managed }} ({{ stage }})\n"
                dest: "{{ root }}/managed"
            "#,
        ),
    );
    // The inventory named by ansible.cfg, not ./inventory.yaml (no -i: raw).
    let staging = test.inventory_yaml().replace("      root:", "      stage: \"staging\"\n      root:");
    test.write("staging/hosts.yaml", staging);
    test.write(
        "ansible.cfg",
        "[defaults]\ninventory = staging/hosts.yaml\nansible_managed = Managed by stead: hands off\n",
    );
    let test = test.raw();
    let out = test.run_args(["apply", "site.yml", "--output", "plain"]);
    out.assert_status(0);
    assert_eq!(test.read("web1", "managed"), "Managed by stead: hands off (staging)\n");

    // Without the key, Ansible's default text.
    test.write("ansible.cfg", "[defaults]\ninventory = staging/hosts.yaml\n");
    test.run_args(["apply", "site.yml", "--output", "plain"]).assert_status(0);
    assert_eq!(test.read("web1", "managed"), "Ansible managed (staging)\n");
}

#[test]
fn ansible_managed_and_gathering_explicit_as_ansible_playbook_reads_them() {
    // The same project under stead and, when installed, ansible-playbook.
    let sshd = Sshd::start();
    let site = "- hosts: all\n  tasks:\n    - template: {src: managed.j2, dest: \"{{ root }}/managed\"}\n";
    for engine in crate::support::oracle::engines() {
        let who = engine.name();
        let test = Test::new()
            .engine(&engine)
            .host("web1", &sshd)
            .file("ansible.cfg", "[defaults]\nansible_managed = Managed by the site repo\ngathering = explicit\n")
            .file("managed.j2", "# {{ ansible_managed }}\n")
            .file("site.yml", site);
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        assert_eq!(test.read("web1", "managed"), "# Managed by the site repo\n", "{who}");
        let tasks = out.report_json()["hosts"]["web1"]["tasks"].clone();
        assert!(
            tasks.as_array().unwrap().iter().all(|t| t["task"] != "Gathering Facts"),
            "{who}: gathering = explicit, and the play does not ask: {tasks:#}"
        );
    }
}
