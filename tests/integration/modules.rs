//! Every core module against a real host: a real apply changes the host's
//! files, a second apply changes nothing, `--check` leaves the host
//! byte-for-byte unchanged while reporting what would change, and `--diff`
//! shows the change (CONTRACT §5). Semantics are Ansible's.

use crate::support::{assert_has_line, play, play_vars, tree, unindent, Outcome, Sshd, Test};

const HOST: &str = "web1";

/// A project with one host on `sshd` and `site.yml` running `tasks`.
fn one_host(sshd: &Sshd, tasks: &str) -> Test {
    Test::new().host(HOST, sshd).file("site.yml", play(tasks))
}

/// Like [`one_host`], with play vars.
fn one_host_vars(sshd: &Sshd, vars: &str, tasks: &str) -> Test {
    Test::new().host(HOST, sshd).file("site.yml", play_vars(vars, tasks))
}

/// Pins CONTRACT §5 for the playbook as written: `--check` (with
/// `--detailed-exitcode`) reports `changed` tasks and touches nothing, the
/// real run changes exactly as many, and a second run changes nothing.
/// Returns the real run.
#[track_caller]
fn converge(test: &Test, changed: u64) -> Outcome {
    let before = test.tree_hash(HOST);
    let listing = tree::listing(test.root(HOST));
    let check = test.run_args(["apply", "site.yml", "--check", "--detailed-exitcode"]);
    check.assert_status(if changed > 0 { 2 } else { 0 }).assert_changed(changed);
    assert_eq!(check.report_json()["check_mode"], true, "check_mode in the report of a --check run");
    assert_eq!(
        before,
        test.tree_hash(HOST),
        "--check modified the host\nbefore:\n{listing}\nafter:\n{}\n{}",
        tree::listing(test.root(HOST)),
        check.stdout
    );

    let real = test.run_args(["apply", "site.yml"]);
    real.assert_status(0).assert_changed(changed);

    let again = test.run_args(["apply", "site.yml", "--detailed-exitcode"]);
    again.assert_status(0).assert_changed(0);
    real
}

/// Runs the playbook once for real and expects success.
#[track_caller]
fn apply(test: &Test) -> Outcome {
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    out
}

// ---------------------------------------------------------------- command

#[test]
fn command_guarded_by_creates_runs_once() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: make marker
          command:
            cmd: touch "{{ root }}/marker"
            creates: "{{ root }}/marker"
        "#,
    );
    converge(&test, 1);
    assert!(test.exists(HOST, "marker"));
}

#[test]
fn command_chdir_runs_in_that_directory() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: touch relative
          command:
            cmd: touch here
            chdir: "{{ root }}/sub"
            creates: "{{ root }}/sub/here"
        "#,
    );
    std::fs::create_dir(test.path(HOST, "sub")).unwrap();
    converge(&test, 1);
    assert!(test.exists(HOST, "sub/here"));
}

#[test]
fn command_guarded_by_removes_runs_only_while_the_file_exists() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: drop old
          command: rm "{{ root }}/old"
          args:
            removes: "{{ root }}/old"
        "#,
    );
    test.put(HOST, "old", "stale\n");
    converge(&test, 1);
    assert!(!test.exists(HOST, "old"));
}

#[test]
fn command_without_a_guard_reports_changed_on_every_run() {
    let sshd = Sshd::start();
    let test = one_host(&sshd, "- command: \"true\"\n");
    apply(&test).assert_changed(1);
    apply(&test).assert_changed(1);
}

#[test]
fn command_without_a_guard_does_not_run_in_check_mode() {
    let sshd = Sshd::start();
    let test = one_host(&sshd, "- command: touch \"{{ root }}/ran\"\n");
    let before = test.tree_hash(HOST);
    test.run_args(["apply", "site.yml", "--check"]).assert_status(0);
    assert_eq!(before, test.tree_hash(HOST));
    assert!(!test.exists(HOST, "ran"));
}

#[test]
fn command_passes_shell_syntax_through_as_literal_arguments() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: echo literally
          command: echo $(id -u) ; "{{ root }}/x" > "{{ root }}/redirected"
          register: r
        - name: keep stdout
          copy:
            content: "{{ r.stdout }}"
            dest: "{{ root }}/stdout"
        "#,
    );
    apply(&test);
    assert!(!test.exists(HOST, "redirected"), "command went through a shell");
    let root = test.root(HOST).display().to_string();
    assert_eq!(test.read(HOST, "stdout"), format!("$(id -u) ; {root}/x > {root}/redirected"));
}

#[test]
fn command_failure_fails_the_host_and_stops_its_later_tasks() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: boom
          command: sh -c "echo to-stderr >&2; exit 3"
        - name: never
          copy:
            content: "x"
            dest: "{{ root }}/never"
        "#,
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4);
    assert!(!test.exists(HOST, "never"));
    assert_eq!(out.task(HOST, "boom")["status"], "failed");
    assert_eq!(out.summary("failed"), 1);
}

// ------------------------------------------------------------------ shell

#[test]
fn shell_interprets_pipes_redirections_and_expansions() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: compute
          shell: printf '%s\n' b a c | sort > "{{ root }}/sorted"; echo $((40 + 2)) >> "{{ root }}/sorted"
          args:
            creates: "{{ root }}/sorted"
        "#,
    );
    converge(&test, 1);
    assert_eq!(test.read(HOST, "sorted"), "a\nb\nc\n42\n");
}

#[test]
fn shell_chdir_and_register_capture_stdout_and_rc() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: where
          shell: pwd; exit 0
          args:
            chdir: "{{ root }}"
          register: r
        - name: keep
          copy:
            content: "{{ r.stdout }} rc={{ r.rc }}"
            dest: "{{ root }}/out"
        "#,
    );
    apply(&test);
    let root = std::fs::canonicalize(test.root(HOST)).unwrap();
    assert_eq!(test.read(HOST, "out"), format!("{} rc=0", root.display()));
}

// ------------------------------------------------------------------- file

#[test]
fn file_directory_is_created_with_its_mode() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: conf dir
          file:
            path: "{{ root }}/conf.d"
            state: directory
            mode: "0750"
        "#,
    );
    converge(&test, 1);
    let path = test.path(HOST, "conf.d");
    assert!(path.is_dir());
    assert_eq!(tree::mode(&path), 0o750);
}

#[test]
fn file_mode_change_is_shown_before_and_after_in_the_diff() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: tighten
          file:
            path: "{{ root }}/secret"
            mode: "0600"
        "#,
    );
    test.put(HOST, "secret", "s\n");
    set_mode(&test.path(HOST, "secret"), 0o644);
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0).assert_stdout_contains("0644").assert_stdout_contains("0600");
    converge(&test, 1);
    assert_eq!(tree::mode(&test.path(HOST, "secret")), 0o600);
    assert_eq!(test.read(HOST, "secret"), "s\n", "content untouched");
}

#[test]
fn file_absent_removes_a_whole_tree() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: gone
          file:
            path: "{{ root }}/tree"
            state: absent
        "#,
    );
    test.put(HOST, "tree/a/b", "1");
    test.put(HOST, "tree/c", "2");
    test.put(HOST, "keep", "3");
    converge(&test, 1);
    assert!(!test.exists(HOST, "tree"));
    assert!(test.exists(HOST, "keep"));
}

#[test]
fn file_touch_creates_an_empty_file_with_its_mode() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: touch
          file:
            path: "{{ root }}/stamp"
            state: touch
            mode: "0640"
        "#,
    );
    let before = test.tree_hash(HOST);
    test.run_args(["apply", "site.yml", "--check"]).assert_status(0).assert_changed(1);
    assert_eq!(before, test.tree_hash(HOST));
    apply(&test).assert_changed(1);
    assert_eq!(test.read(HOST, "stamp"), "");
    assert_eq!(tree::mode(&test.path(HOST, "stamp")), 0o640);
}

#[test]
fn file_touch_with_preserved_times_is_idempotent() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: touch
          file:
            path: "{{ root }}/stamp"
            state: touch
            modification_time: preserve
            access_time: preserve
        "#,
    );
    converge(&test, 1);
    assert!(test.exists(HOST, "stamp"));
}

#[test]
fn file_link_points_at_src() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: link
          file:
            src: "{{ root }}/target"
            path: "{{ root }}/link"
            state: link
        "#,
    );
    test.put(HOST, "target", "t");
    converge(&test, 1);
    assert_eq!(std::fs::read_link(test.path(HOST, "link")).unwrap(), test.path(HOST, "target"));
}

#[test]
fn file_recurse_sets_the_mode_on_the_whole_tree() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: lock down
          file:
            path: "{{ root }}/tree"
            state: directory
            mode: "0750"
            recurse: true
        "#,
    );
    test.put(HOST, "tree/a/b", "1");
    test.put(HOST, "tree/c", "2");
    for rel in ["tree", "tree/a"] {
        set_mode(&test.path(HOST, rel), 0o755);
    }
    for rel in ["tree/a/b", "tree/c"] {
        set_mode(&test.path(HOST, rel), 0o644);
    }
    converge(&test, 1);
    for rel in ["tree", "tree/a", "tree/a/b", "tree/c"] {
        assert_eq!(tree::mode(&test.path(HOST, rel)), 0o750, "{rel}");
    }
}

#[test]
fn file_state_file_on_a_missing_path_fails() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: must exist
          file:
            path: "{{ root }}/missing"
            state: file
        "#,
    );
    test.run_args(["apply", "site.yml"]).assert_status(4);
    assert!(!test.exists(HOST, "missing"));
}

// ------------------------------------------------------------------- copy

#[test]
fn copy_content_writes_the_file_with_its_mode() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: motd
          copy:
            content: "hello\nworld\n"
            dest: "{{ root }}/motd"
            mode: "0640"
        "#,
    );
    converge(&test, 1);
    assert_eq!(test.read(HOST, "motd"), "hello\nworld\n");
    assert_eq!(tree::mode(&test.path(HOST, "motd")), 0o640);
}

#[test]
fn copy_src_is_found_in_the_files_directory() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: app config
          ansible.builtin.copy:
            src: app.conf
            dest: "{{ root }}/app.conf"
        "#,
    )
    .file("files/app.conf", "listen = 8080\n");
    converge(&test, 1);
    assert_eq!(test.read(HOST, "app.conf"), "listen = 8080\n");
}

#[test]
fn copy_diff_shows_removed_and_added_lines() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: motd
          copy:
            content: "keep\nnew line\n"
            dest: "{{ root }}/motd"
        "#,
    );
    test.put(HOST, "motd", "keep\nold line\n");
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0);
    assert_has_line(&plan, "-old line");
    assert_has_line(&plan, "+new line");
    assert_eq!(test.read(HOST, "motd"), "keep\nold line\n", "plan changed the host");

    let out = test.run_args(["apply", "site.yml", "--diff"]);
    out.assert_status(0).assert_changed(1);
    assert_has_line(&out, "-old line");
    assert_has_line(&out, "+new line");
    assert_eq!(test.read(HOST, "motd"), "keep\nnew line\n");
}

#[test]
fn copy_backup_keeps_the_previous_version_beside_the_file() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: motd
          copy:
            content: "new\n"
            dest: "{{ root }}/motd"
            backup: true
        "#,
    );
    test.put(HOST, "motd", "old\n");
    converge(&test, 1);
    assert_eq!(test.read(HOST, "motd"), "new\n");
    let backups: Vec<_> = std::fs::read_dir(test.root(HOST))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n != "motd")
        .collect();
    assert_eq!(backups.len(), 1, "exactly one backup: {backups:?}");
    assert!(backups[0].starts_with("motd."), "{backups:?}");
    assert_eq!(test.read(HOST, &backups[0]), "old\n");
}

#[test]
fn copy_remote_src_copies_a_file_on_the_host_as_ansible_does() {
    let sshd = Sshd::start();
    for engine in crate::support::oracle::engines() {
        let who = engine.name();
        let test = Test::new().engine(&engine).host(HOST, &sshd).file(
            "site.yml",
            play(
                r#"
                - name: restore the config
                  copy: {src: "{{ root }}/saved.conf", dest: "{{ root }}/app.conf", remote_src: true, mode: "0640"}
                  register: r
                - name: show
                  debug: {msg: "{{ r.dest }} {{ r.checksum | default('') }}"}
                "#,
            ),
        );
        test.put(HOST, "saved.conf", "port=80\n");
        test.put(HOST, "app.conf", "port=8080\n");
        let first = test.run_args(["apply", "site.yml", "--diff"]);
        first.assert_status(0);
        if engine == crate::support::oracle::Engine::Stead {
            // Ansible shows no diff for a remote_src copy; stead shows the lines.
            first.assert_output_contains("-port=8080").assert_output_contains("+port=80");
        }
        assert_eq!(test.read(HOST, "app.conf"), "port=80\n", "{who}");
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(test.path(HOST, "app.conf")).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o640, "{who}");
        assert_eq!(first.changed_tasks(HOST), ["restore the config"], "{who}");
        let again = test.run_args(["apply", "site.yml"]);
        again.assert_status(0);
        assert!(again.changed_tasks(HOST).is_empty(), "{who}: a second run changes nothing");
        // Check mode reports the change and touches nothing.
        test.put(HOST, "saved.conf", "port=81\n");
        let before = test.tree_hash(HOST);
        let check = test.run_args(["apply", "site.yml", "--check"]);
        check.assert_status(0);
        assert_eq!(check.changed_tasks(HOST), ["restore the config"], "{who}");
        assert_eq!(test.tree_hash(HOST), before, "{who}: --check changed the host");
    }
}

#[test]
fn copy_remote_src_compares_a_large_file_by_checksum_and_refuses_what_it_cannot_copy() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: big
          copy: {src: "{{ root }}/big.bin", dest: "{{ root }}/copy.bin", remote_src: true}
        "#,
    );
    let big: Vec<u8> = (0..400_000u32).map(|i| (i * 7 % 251) as u8).collect();
    test.put(HOST, "big.bin", &big);
    let run = converge(&test, 1);
    run.assert_status(0);
    assert_eq!(std::fs::read(test.path(HOST, "copy.bin")).unwrap(), big);
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0);
    for (task, setup, message) in [
        ("src: \"{{ root }}/nothing\", dest: \"{{ root }}/x\", remote_src: true", "", "Source "),
        ("src: \"{{ root }}/adir\", dest: \"{{ root }}/x\", remote_src: true", "adir/f", "is a directory"),
        ("content: \"x\", dest: \"{{ root }}/x\", remote_src: true", "", "cannot be used with content"),
    ] {
        if !setup.is_empty() {
            test.put(HOST, setup, "f\n");
        }
        test.write("bad.yml", play(&format!("- name: bad\n  copy: {{{task}}}\n")));
        let out = test.run_args(["apply", "bad.yml"]);
        out.assert_status(4).assert_output_contains(message);
        assert!(!test.exists(HOST, "x"), "nothing written for: {task}");
    }
}

// --------------------------------------------------------------- template

#[test]
fn template_from_the_templates_directory_renders_vars_and_loops() {
    let sshd = Sshd::start();
    let test = one_host_vars(
        &sshd,
        "users: [alice, bob]\n",
        r#"
        - name: motd
          template:
            src: motd.j2
            dest: "{{ root }}/motd"
            mode: "0644"
        "#,
    )
    .file(
        "templates/motd.j2",
        "Welcome to {{ inventory_hostname }}\n{% for u in users %}\n- {{ u | upper }}\n{% endfor %}\n",
    );
    converge(&test, 1);
    // Ansible's template module renders with trim_blocks.
    assert_eq!(test.read(HOST, "motd"), "Welcome to web1\n- ALICE\n- BOB\n");
    assert_eq!(tree::mode(&test.path(HOST, "motd")), 0o644);
}

#[test]
fn template_beside_the_playbook_is_found() {
    let sshd = Sshd::start();
    let test = one_host_vars(
        &sshd,
        "port: 8080\n",
        r#"
        - name: conf
          template:
            src: app.conf.j2
            dest: "{{ root }}/app.conf"
        "#,
    )
    .file("app.conf.j2", "port={{ port }}\n");
    converge(&test, 1);
    assert_eq!(test.read(HOST, "app.conf"), "port=8080\n");
}

#[test]
fn template_diff_shows_the_rendered_change() {
    let sshd = Sshd::start();
    let test = one_host_vars(
        &sshd,
        "port: 9090\n",
        r#"
        - name: conf
          template:
            src: app.conf.j2
            dest: "{{ root }}/app.conf"
        "#,
    )
    .file("templates/app.conf.j2", "name=app\nport={{ port }}\n");
    test.put(HOST, "app.conf", "name=app\nport=8080\n");
    let out = test.run_args(["apply", "site.yml", "--diff"]);
    out.assert_status(0).assert_changed(1);
    assert_has_line(&out, "-port=8080");
    assert_has_line(&out, "+port=9090");
    assert_eq!(test.read(HOST, "app.conf"), "name=app\nport=9090\n");
}

// ------------------------------------------------------------- lineinfile

fn lineinfile(sshd: &Sshd, args: &str, start: Option<&str>) -> Test {
    let tasks = format!(
        "- name: edit\n  lineinfile:\n    path: \"{{{{ root }}}}/sshd_config\"\n{}",
        indent(&unindent(args), "    ")
    );
    let test = one_host(sshd, &tasks);
    if let Some(start) = start {
        test.put(HOST, "sshd_config", start);
    }
    test
}

const SSHD_CONFIG: &str = "# sshd\nPort 22\nPermitRootLogin yes\nX11Forwarding yes\n";

#[test]
fn lineinfile_regexp_replaces_the_matching_line() {
    let sshd = Sshd::start();
    let test = lineinfile(&sshd, "regexp: '^#?PermitRootLogin'\nline: PermitRootLogin no\n", Some(SSHD_CONFIG));
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0);
    assert_has_line(&plan, "-PermitRootLogin yes");
    assert_has_line(&plan, "+PermitRootLogin no");
    converge(&test, 1);
    assert_eq!(test.read(HOST, "sshd_config"), "# sshd\nPort 22\nPermitRootLogin no\nX11Forwarding yes\n");
}

#[test]
fn lineinfile_insertafter_puts_the_line_after_the_last_match() {
    let sshd = Sshd::start();
    let test = lineinfile(&sshd, "line: AddressFamily inet\ninsertafter: '^Port'\n", Some(SSHD_CONFIG));
    converge(&test, 1);
    assert_eq!(
        test.read(HOST, "sshd_config"),
        "# sshd\nPort 22\nAddressFamily inet\nPermitRootLogin yes\nX11Forwarding yes\n"
    );
}

#[test]
fn lineinfile_insertbefore_bof_puts_the_line_first() {
    let sshd = Sshd::start();
    let test = lineinfile(&sshd, "line: '# managed by stead'\ninsertbefore: BOF\n", Some(SSHD_CONFIG));
    converge(&test, 1);
    assert_eq!(test.read(HOST, "sshd_config"), format!("# managed by stead\n{SSHD_CONFIG}"));
}

#[test]
fn lineinfile_without_a_match_appends_at_eof() {
    let sshd = Sshd::start();
    let test =
        lineinfile(&sshd, "regexp: '^MaxAuthTries'\nline: MaxAuthTries 3\ninsertafter: EOF\n", Some(SSHD_CONFIG));
    converge(&test, 1);
    assert_eq!(test.read(HOST, "sshd_config"), format!("{SSHD_CONFIG}MaxAuthTries 3\n"));
}

#[test]
fn lineinfile_create_makes_a_missing_file() {
    let sshd = Sshd::start();
    let test = lineinfile(&sshd, "line: Port 2222\ncreate: true\n", None);
    converge(&test, 1);
    assert_eq!(test.read(HOST, "sshd_config"), "Port 2222\n");
}

#[test]
fn lineinfile_backrefs_substitutes_groups_of_the_match() {
    let sshd = Sshd::start();
    let test = lineinfile(&sshd, "regexp: '^(Port) 22$'\nline: '\\1 2222'\nbackrefs: true\n", Some(SSHD_CONFIG));
    converge(&test, 1);
    assert_eq!(test.read(HOST, "sshd_config"), "# sshd\nPort 2222\nPermitRootLogin yes\nX11Forwarding yes\n");
}

#[test]
fn lineinfile_backrefs_without_a_match_leaves_the_file_alone() {
    let sshd = Sshd::start();
    let test =
        lineinfile(&sshd, "regexp: '^(ListenAddress) .*$'\nline: '\\1 0.0.0.0'\nbackrefs: true\n", Some(SSHD_CONFIG));
    converge(&test, 0);
    assert_eq!(test.read(HOST, "sshd_config"), SSHD_CONFIG);
}

#[test]
fn lineinfile_absent_removes_every_matching_line() {
    let sshd = Sshd::start();
    let test = lineinfile(&sshd, "regexp: 'yes$'\nstate: absent\n", Some(SSHD_CONFIG));
    converge(&test, 1);
    assert_eq!(test.read(HOST, "sshd_config"), "# sshd\nPort 22\n");
}

#[test]
fn lineinfile_on_a_missing_file_without_create_fails() {
    let sshd = Sshd::start();
    let test = lineinfile(&sshd, "line: Port 2222\n", None);
    test.run_args(["apply", "site.yml"]).assert_status(4);
    assert!(!test.exists(HOST, "sshd_config"));
}

// ------------------------------------------------------------ blockinfile

#[test]
fn blockinfile_appends_a_marked_block() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: block
          blockinfile:
            path: "{{ root }}/hosts"
            block: |
              10.0.0.1 db
              10.0.0.2 cache
        "#,
    );
    test.put(HOST, "hosts", "127.0.0.1 localhost\n");
    converge(&test, 1);
    assert_eq!(
        test.read(HOST, "hosts"),
        "127.0.0.1 localhost\n\
         # BEGIN ANSIBLE MANAGED BLOCK\n\
         10.0.0.1 db\n\
         10.0.0.2 cache\n\
         # END ANSIBLE MANAGED BLOCK\n"
    );
}

#[test]
fn blockinfile_with_a_custom_marker_replaces_its_block_in_place() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r##"
        - name: block
          blockinfile:
            path: "{{ root }}/hosts"
            marker: "# {mark} stead hosts"
            block: |
              10.0.0.9 db
        "##,
    );
    test.put(HOST, "hosts", "top\n# BEGIN stead hosts\n10.0.0.1 db\n# END stead hosts\nbottom\n");
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0);
    assert_has_line(&plan, "-10.0.0.1 db");
    assert_has_line(&plan, "+10.0.0.9 db");
    converge(&test, 1);
    assert_eq!(test.read(HOST, "hosts"), "top\n# BEGIN stead hosts\n10.0.0.9 db\n# END stead hosts\nbottom\n");
}

#[test]
fn blockinfile_absent_removes_the_block_and_its_markers() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: block
          blockinfile:
            path: "{{ root }}/hosts"
            state: absent
        "#,
    );
    test.put(HOST, "hosts", "top\n# BEGIN ANSIBLE MANAGED BLOCK\nx\n# END ANSIBLE MANAGED BLOCK\nbottom\n");
    converge(&test, 1);
    assert_eq!(test.read(HOST, "hosts"), "top\nbottom\n");
}

#[test]
fn blockinfile_create_makes_a_missing_file() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: block
          blockinfile:
            path: "{{ root }}/new"
            create: true
            block: "a"
        "#,
    );
    converge(&test, 1);
    assert_eq!(test.read(HOST, "new"), "# BEGIN ANSIBLE MANAGED BLOCK\na\n# END ANSIBLE MANAGED BLOCK\n");
}

// ------------------------------------------------------------------- stat

#[test]
fn stat_registers_exists_mode_and_isdir() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: look at file
          stat:
            path: "{{ root }}/present"
          register: st
        - name: look at nothing
          stat:
            path: "{{ root }}/absent"
          register: missing
        - name: look at dir
          stat:
            path: "{{ root }}/dir"
          register: d
        - name: check
          assert:
            that:
              - st.stat.exists
              - st.stat.mode == '0644'
              - not st.stat.isdir
              - not missing.stat.exists
              - d.stat.isdir
        "#,
    );
    test.put(HOST, "present", "x");
    set_mode(&test.path(HOST, "present"), 0o644);
    std::fs::create_dir(test.path(HOST, "dir")).unwrap();
    converge(&test, 0);
}

#[test]
fn stat_result_drives_a_when_condition() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: probe
          stat:
            path: "{{ root }}/flag"
          register: flag
        - name: only with flag
          copy:
            content: "seen\n"
            dest: "{{ root }}/seen"
          when: flag.stat.exists
        - name: only without flag
          copy:
            content: "unseen\n"
            dest: "{{ root }}/unseen"
          when: not flag.stat.exists
        "#,
    );
    test.put(HOST, "flag", "");
    let out = converge(&test, 1);
    assert_eq!(out.task(HOST, "only without flag")["status"], "skipped");
    assert!(test.exists(HOST, "seen"));
    assert!(!test.exists(HOST, "unseen"));
}

// ------------------------------------------------ debug, set_fact, assert, fail, ping

#[test]
fn debug_prints_msg_and_var() {
    let sshd = Sshd::start();
    let test = one_host_vars(
        &sshd,
        "who: world\nother: distinct-value-42\n",
        r#"
        - debug:
            msg: "hello {{ who }}"
        - debug:
            var: other
        "#,
    );
    let out = converge(&test, 0);
    out.assert_stdout_contains("hello world").assert_stdout_contains("distinct-value-42");
}

#[test]
fn set_fact_is_visible_to_later_tasks() {
    let sshd = Sshd::start();
    let test = one_host_vars(
        &sshd,
        "who: world\n",
        r#"
        - name: derive
          set_fact:
            greeting: "{{ who | upper }}-x"
        - name: write
          copy:
            content: "{{ greeting }}\n"
            dest: "{{ root }}/greeting"
        "#,
    );
    let out = converge(&test, 1);
    assert_eq!(out.task(HOST, "derive")["status"], "ok");
    assert_eq!(test.read(HOST, "greeting"), "WORLD-x\n");
}

#[test]
fn assert_that_passes_when_every_condition_holds() {
    let sshd = Sshd::start();
    let test = one_host_vars(
        &sshd,
        "who: world\n",
        r#"
        - name: sane
          assert:
            that:
              - 1 + 1 == 2
              - who == 'world'
        "#,
    );
    converge(&test, 0);
}

#[test]
fn assert_failure_stops_the_host_with_its_fail_msg() {
    let sshd = Sshd::start();
    let test = one_host_vars(
        &sshd,
        "who: world\n",
        r#"
        - name: wrong planet
          assert:
            that: who == 'mars'
            fail_msg: "who is not mars"
        - name: after
          copy:
            content: "x"
            dest: "{{ root }}/after"
        "#,
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4).assert_output_contains("who is not mars");
    assert!(!test.exists(HOST, "after"));
    assert_eq!(out.task(HOST, "wrong planet")["status"], "failed");
}

#[test]
fn fail_stops_the_host_with_its_msg() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: stop
          fail:
            msg: "stop here please"
        - name: after
          copy:
            content: "x"
            dest: "{{ root }}/after"
        "#,
    );
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(4).assert_output_contains("stop here please");
    assert!(!test.exists(HOST, "after"));
    let task = out.task(HOST, "stop");
    assert_eq!(task["status"], "failed");
    assert_eq!(task["module"], "fail");
    assert!(task["msg"].as_str().unwrap_or("").contains("stop here please"), "{task:#}");
}

#[test]
fn fail_with_a_false_condition_is_skipped() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: stop
          fail:
            msg: "never"
          when: false
        "#,
    );
    let out = converge(&test, 0);
    assert_eq!(out.task(HOST, "stop")["status"], "skipped");
}

#[test]
fn ping_reports_ok_without_change() {
    let sshd = Sshd::start();
    let test = one_host(&sshd, "- name: alive\n  ping:\n");
    let out = converge(&test, 0);
    let task = out.task(HOST, "alive");
    assert_eq!(task["status"], "ok");
    assert_eq!(task["module"], "ping");
}

// ---------------------------------------------------------------- helpers

fn set_mode(path: &std::path::Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn indent(text: &str, prefix: &str) -> String {
    text.lines().map(|l| format!("{prefix}{l}\n")).collect()
}

/// Issue 5 / 12: a run of 500 loop items used to exceed the kernel's
/// 128 KiB limit for one argument and the host was reported unreachable.
#[test]
fn a_500_item_loop_is_probed_in_chunks_under_the_argument_limit() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: many directories
          file: {path: "{{ root }}/d/{{ item }}-with-a-long-name-to-make-the-probe-big", state: directory}
          loop: "{{ range(500) | list }}"
        "#,
    );
    // All but one exist already: the probe is what is large here, not the
    // applies (one exec each, measured by the benchmark instead).
    for i in 1..500 {
        std::fs::create_dir_all(test.path(HOST, &format!("d/{i}-with-a-long-name-to-make-the-probe-big"))).unwrap();
    }
    let first = test.run_args(["apply", "site.yml"]);
    first.assert_status(0).assert_changed(1);
    assert_eq!(std::fs::read_dir(test.path(HOST, "d")).unwrap().count(), 500);
    let again = test.run_args(["apply", "site.yml"]);
    again.assert_status(0).assert_changed(0);
    let execs = again.report_json()["hosts"][HOST]["remote_execs"].as_u64().unwrap();
    assert!((2..=10).contains(&execs), "a no-change run of 500 items took {execs} remote execs");
}

/// Regression: after the re-probe became path-based, a file written into a
/// directory that an earlier task of the same run created (with its
/// parents) was still probed as "parent missing" and failed.
#[test]
fn a_directory_made_earlier_in_the_run_is_seen_by_a_later_task_on_a_sibling_path() {
    let sshd = Sshd::start();
    let test = one_host(
        &sshd,
        r#"
        - name: deep directory
          file: {path: "{{ root }}/etc/ssh/sshd_config.d", state: directory}
        - name: file beside it
          copy: {content: "banner\n", dest: "{{ root }}/etc/issue.net"}
        "#,
    );
    let real = test.run_args(["apply", "site.yml"]);
    real.assert_status(0).assert_changed(2);
    assert_eq!(test.read(HOST, "etc/issue.net"), "banner\n");
    test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
}

// ---------------------------------------------------------------- debug, assert

/// Issue 6: `verbosity` and `quiet` were accepted and ignored; `debug: var`
/// of an undefined variable failed where Ansible prints it.
#[test]
fn debug_verbosity_assert_quiet_and_undefined_vars_behave_as_in_ansible() {
    let sshd = Sshd::start();
    for engine in crate::support::oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file(
            "site.yml",
            play(
                r#"
                - name: only with -v
                  debug: {msg: hidden, verbosity: 1}
                - name: undefined
                  debug: {var: no_such_variable}
                  register: u
                - name: quiet
                  assert: {that: ["1 == 1"], quiet: true, success_msg: fine}
                  register: q
                - name: results
                  debug: {msg: "{{ u.no_such_variable }} / {{ q.msg }}"}
                "#,
            ),
        );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        let e = engine.name();
        assert_eq!(out.task(HOST, "only with -v")["status"], "skipped", "{e}");
        assert_eq!(out.task(HOST, "quiet")["status"], "ok", "{e}");
        assert_eq!(out.task(HOST, "results")["msg"], "VARIABLE IS NOT DEFINED! / fine", "{e}");
    }
}

/// Issue 6: `set_fact: cacheable` was accepted and ignored; in Ansible it
/// also makes the variable a host fact.
#[test]
fn set_fact_cacheable_makes_a_host_fact() {
    let sshd = Sshd::start();
    for engine in crate::support::oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file(
            "site.yml",
            play(
                r#"
                - set_fact: {plain: 1}
                - set_fact: {kept: 2, cacheable: true}
                - name: facts
                  debug: {msg: "{{ ansible_facts.kept }} {{ ansible_facts.plain is defined }}"}
                "#,
            ),
        );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        assert_eq!(out.task(HOST, "facts")["msg"], "2 False", "{}", engine.name());
    }
}

/// `playbook_dir` was empty for a playbook named without a directory
/// (`site.yml`), so `{{ playbook_dir }}/backups` meant `/backups`.
#[test]
fn playbook_dir_is_absolute() {
    let sshd = Sshd::start();
    for engine in crate::support::oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host(HOST, &sshd)
            .file("site.yml", play("- name: dir\n  debug: {msg: \"{{ playbook_dir }}\"}\n"));
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        assert_eq!(out.task(HOST, "dir")["msg"], test.project().display().to_string(), "{}", engine.name());
    }
}
