//! Ansible's control flow on a real host: block/rescue/always, until and
//! retries, keyword inheritance, result conditions, loop controls. Every
//! scenario runs under stead and, where installed (always in CI), under
//! ansible-playbook: the host's files, the exit status and the recap must be
//! the same.

use crate::support::oracle::{self, Engine};
use crate::support::{play, tree, Outcome, Sshd, Test};

const HOST: &str = "web1";

/// The recap counts of `host` in a run's report, in Ansible's order.
fn recap(out: &Outcome) -> [u64; 6] {
    ["ok", "changed", "failed", "skipped", "rescued", "ignored"].map(|k| out.summary(k))
}

/// Runs `tasks` on one fresh host under every engine; `check` inspects each
/// run (the engine, the outcome, the test for reading the host's files).
fn scenario(tasks: &str, runs: usize, check: impl Fn(&Engine, usize, &Outcome, &Test)) {
    let sshd = Sshd::start();
    for engine in oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file("site.yml", play(tasks));
        for run in 1..=runs {
            let out = test.run_args(["apply", "site.yml"]);
            check(&engine, run, &out, &test);
        }
    }
}

const RESCUED_BLOCK: &str = r#"
- name: guarded
  block:
    - name: breaks
      command: /bin/false
    - name: never runs
      copy: {content: "x\n", dest: "{{ root }}/never"}
  rescue:
    - name: rescue note
      copy:
        content: "rc={{ ansible_failed_result.rc }} task={{ ansible_failed_task.name }}\n"
        dest: "{{ root }}/rescued"
  always:
    - name: always note
      copy: {content: "always\n", dest: "{{ root }}/always"}
- name: after
  copy: {content: "after\n", dest: "{{ root }}/after"}
"#;

#[test]
fn block_rescue_clears_the_failure_and_always_runs() {
    scenario(RESCUED_BLOCK, 2, |engine, run, out, test| {
        let who = engine.name();
        out.assert_status(0);
        assert_eq!(test.read(HOST, "rescued"), "rc=1 task=breaks\n", "{who}");
        assert_eq!(test.read(HOST, "always"), "always\n", "{who}");
        assert_eq!(test.read(HOST, "after"), "after\n", "{who}");
        assert!(!test.exists(HOST, "never"), "{who}: the task after the failure ran");
        let changed = if run == 1 { 3 } else { 0 };
        assert_eq!(recap(out), [3, changed, 0, 0, 1, 0], "{who} run {run}\n{}", out.stdout);
    });
}

#[test]
fn always_without_rescue_runs_and_the_host_still_fails() {
    let tasks = r#"
        - block:
            - name: breaks
              command: /bin/false
          always:
            - name: always note
              copy: {content: "always\n", dest: "{{ root }}/always"}
        - name: after
          copy: {content: "after\n", dest: "{{ root }}/after"}
    "#;
    scenario(tasks, 1, |engine, _, out, test| {
        let who = engine.name();
        out.assert_status(4);
        assert_eq!(test.read(HOST, "always"), "always\n", "{who}");
        assert!(!test.exists(HOST, "after"), "{who}: a failed host went on");
        assert_eq!(recap(out), [1, 1, 1, 0, 0, 0], "{who}\n{}", out.stdout);
    });
}

#[test]
fn a_nested_block_without_rescue_is_rescued_by_the_outer_one() {
    let tasks = r#"
        - block:
            - block:
                - name: breaks
                  command: /bin/false
              always:
                - name: inner always
                  copy: {content: "inner\n", dest: "{{ root }}/inner"}
          rescue:
            - name: outer rescue
              copy: {content: "outer\n", dest: "{{ root }}/outer"}
        - name: after
          copy: {content: "after\n", dest: "{{ root }}/after"}
    "#;
    scenario(tasks, 1, |engine, _, out, test| {
        let who = engine.name();
        out.assert_status(0);
        for (file, text) in [("inner", "inner\n"), ("outer", "outer\n"), ("after", "after\n")] {
            assert_eq!(test.read(HOST, file), text, "{who}");
        }
        assert_eq!(recap(out), [3, 3, 0, 0, 1, 0], "{who}\n{}", out.stdout);
    });
}

#[test]
fn a_failing_rescue_fails_the_host_after_always() {
    let tasks = r#"
        - block:
            - name: breaks
              command: /bin/false
          rescue:
            - name: rescue breaks too
              command: /bin/false
          always:
            - name: always note
              copy: {content: "always\n", dest: "{{ root }}/always"}
    "#;
    scenario(tasks, 1, |engine, _, out, test| {
        let who = engine.name();
        out.assert_status(4);
        assert_eq!(test.read(HOST, "always"), "always\n", "{who}");
        assert_eq!(recap(out), [1, 1, 1, 0, 1, 0], "{who}\n{}", out.stdout);
    });
}

#[test]
fn block_keywords_are_inherited_by_its_tasks() {
    let tasks = r#"
        - name: configured
          vars: {greeting: hello, who: block}
          when: greeting is defined
          ignore_errors: true
          block:
            - name: uses block vars
              copy: {content: "{{ greeting }} {{ who }}\n", dest: "{{ root }}/greet"}
            - name: task vars win
              vars: {who: task}
              copy: {content: "{{ greeting }} {{ who }}\n", dest: "{{ root }}/greet2"}
            - name: fails but ignored
              command: /bin/false
        - name: skipped block
          when: false
          block:
            - name: not run
              copy: {content: "x\n", dest: "{{ root }}/skipped"}
    "#;
    scenario(tasks, 1, |engine, _, out, test| {
        let who = engine.name();
        out.assert_status(0);
        assert_eq!(test.read(HOST, "greet"), "hello block\n", "{who}");
        assert_eq!(test.read(HOST, "greet2"), "hello task\n", "{who}");
        assert!(!test.exists(HOST, "skipped"), "{who}");
        // The ignored failure counts ok and ignored, as in Ansible's recap,
        // and changed: the command ran.
        assert_eq!(recap(out), [3, 3, 0, 1, 0, 1], "{who}\n{}", out.stdout);
    });
}

const COUNTER: &str = r#"n=$(cat "$1/count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "$1/count"; [ $n -ge 3 ]"#;

#[test]
fn until_retries_until_the_condition_holds_and_registers_the_last_attempt() {
    let tasks = format!(
        r#"
        - name: flaky
          command: sh -c '{COUNTER}' sh "{{{{ root }}}}"
          register: r
          until: r.rc == 0
          retries: 5
          delay: 0
        - name: record
          copy: {{content: "attempts={{{{ r.attempts }}}} rc={{{{ r.rc }}}}\n", dest: "{{{{ root }}}}/result"}}
        "#
    );
    scenario(&tasks, 1, |engine, _, out, test| {
        let who = engine.name();
        out.assert_status(0);
        assert_eq!(test.read(HOST, "count"), "3\n", "{who}: runs");
        assert_eq!(test.read(HOST, "result"), "attempts=3 rc=0\n", "{who}");
    });
}

#[test]
fn until_that_never_holds_fails_after_the_retries() {
    let tasks = r#"
        - name: never
          command: sh -c 'echo x >> "$1/runs"; exit 1' sh "{{ root }}"
          register: r
          until: r.rc == 0
          retries: 2
          delay: 0
          ignore_errors: true
        - name: record
          copy: {content: "attempts={{ r.attempts }} failed={{ r.failed }}\n", dest: "{{ root }}/result"}
    "#;
    scenario(tasks, 1, |engine, _, out, test| {
        let who = engine.name();
        out.assert_status(0);
        assert_eq!(test.read(HOST, "runs"), "x\nx\nx\n", "{who}: one run and two retries");
        assert_eq!(test.read(HOST, "result"), "attempts=2 failed=True\n", "{who}");
    });
}

#[test]
fn failed_when_list_is_anded() {
    // Regression: stead used to OR the list, failing on rc 2.
    let tasks = r#"
        - name: exits 2
          command: sh -c 'exit 2'
          register: r
          failed_when:
            - r.rc != 0
            - r.rc != 2
        - name: after
          copy: {content: "rc={{ r.rc }}\n", dest: "{{ root }}/after"}
    "#;
    scenario(tasks, 1, |engine, _, out, test| {
        out.assert_status(0);
        assert_eq!(test.read(HOST, "after"), "rc=2\n", "{}", engine.name());
    });
}

#[test]
fn loop_control_index_var_and_extended() {
    let tasks = r#"
        - name: items
          copy:
            content: "{{ idx }} {{ ansible_loop.index }}/{{ ansible_loop.length }} first={{ ansible_loop.first }} prev={{ ansible_loop.previtem | default('-') }}\n"
            dest: "{{ root }}/{{ item }}"
          loop: [a, b, c]
          loop_control:
            index_var: idx
            extended: true
    "#;
    scenario(tasks, 1, |engine, _, out, test| {
        let who = engine.name();
        out.assert_status(0);
        assert_eq!(test.read(HOST, "a"), "0 1/3 first=True prev=-\n", "{who}");
        assert_eq!(test.read(HOST, "c"), "2 3/3 first=False prev=b\n", "{who}");
        assert_eq!(recap(out), [1, 1, 0, 0, 0, 0], "{who}: a loop is one result");
    });
}

#[test]
fn include_keywords_reach_the_included_tasks() {
    let sshd = Sshd::start();
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host(HOST, &sshd)
            .file("inc.yml", "- name: included\n  copy: {content: \"{{ word }}\\n\", dest: \"{{ root }}/inc\"}\n")
            .file(
                "site.yml",
                play(
                    r#"
                    - import_tasks: inc.yml
                      vars: {word: imported}
                    - include_tasks: inc.yml
                      when: false
                    "#,
                ),
            );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        assert_eq!(test.read(HOST, "inc"), "imported\n", "{}", engine.name());
    }
}

#[test]
fn play_sections_roles_and_play_keywords() {
    let sshd = Sshd::start();
    let site = r#"- name: keywords
  hosts: all
  gather_facts: false
  strategy: free
  collections: [ansible.builtin]
  ignore_errors: true
  vars_files: [vars.yml]
  pre_tasks:
    - name: pre
      lineinfile: {path: "{{ root }}/order", line: "pre {{ from_file }}", create: true}
  roles:
    - role: r
      vars: {role_word: param}
      when: role_word is defined
  tasks:
    - name: fails, the play ignores it
      command: /bin/false
    - name: main
      lineinfile: {path: "{{ root }}/order", line: main}
  post_tasks:
    - name: post
      lineinfile: {path: "{{ root }}/order", line: post}
"#;
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host(HOST, &sshd)
            .file("vars.yml", "from_file: vars-file\n")
            .file("roles/r/defaults/main.yml", "role_word: default\n")
            .file(
                "roles/r/tasks/main.yml",
                "- name: role task\n  lineinfile: {path: \"{{ root }}/order\", line: \"role {{ role_word }}\"}\n",
            )
            .file("site.yml", site);
        let out = test.run_args(["apply", "site.yml"]);
        let who = engine.name();
        out.assert_status(0);
        assert_eq!(test.read(HOST, "order"), "pre vars-file\nrole param\nmain\npost\n", "{who}");
        assert_eq!(out.summary("ignored"), 1, "{who}");
    }
}

#[test]
fn check_mode_no_log_and_diff_inherit_from_plays_blocks_and_tasks() {
    let tasks = r#"
        - name: dry block
          check_mode: true
          no_log: true
          diff: false
          block:
            - name: would write a secret
              copy: {content: "s3cr3t-value\n", dest: "{{ root }}/dry"}
        - name: real task
          copy: {content: "real\n", dest: "{{ root }}/real"}
    "#;
    let sshd = Sshd::start();
    for engine in oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file("site.yml", play(tasks));
        let out = test.run_args(["apply", "site.yml", "--diff"]);
        let who = engine.name();
        out.assert_status(0);
        assert!(!test.exists(HOST, "dry"), "{who}: check_mode on the block was not applied");
        assert_eq!(test.read(HOST, "real"), "real\n", "{who}");
        assert_eq!(out.summary("changed"), 2, "{who}: a check-mode change still counts");
        if engine == Engine::Stead {
            out.assert_stdout_lacks("s3cr3t-value");
            assert!(!out.report_text().contains("s3cr3t-value"), "{who}: the secret reached the report");
        }
    }
}

#[test]
fn tags_on_plays_blocks_roles_and_includes_select_their_tasks() {
    let sshd = Sshd::start();
    let site = r#"- name: tagged
  hosts: all
  gather_facts: false
  tags: [everything]
  roles:
    - role: r
      tags: [from_role]
  tasks:
    - name: tagged block
      tags: [from_block]
      block:
        - name: in block
          lineinfile: {path: "{{ root }}/ran", line: block, create: true}
    - import_tasks: inc.yml
      tags: [from_include]
    - name: untagged
      lineinfile: {path: "{{ root }}/ran", line: untagged, create: true}
"#;
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host(HOST, &sshd)
            .file(
                "inc.yml",
                "- name: in include\n  lineinfile: {path: \"{{ root }}/ran\", line: include, create: true}\n",
            )
            .file(
                "roles/r/tasks/main.yml",
                "- name: in role\n  lineinfile: {path: \"{{ root }}/ran\", line: role, create: true}\n",
            )
            .file("site.yml", site);
        let out = test.run_args(["apply", "site.yml", "--tags", "from_block,from_role,from_include"]);
        out.assert_status(0);
        assert_eq!(test.read(HOST, "ran"), "role\nblock\ninclude\n", "{}", engine.name());
        let all = test.run_args(["apply", "site.yml", "--tags", "everything"]);
        all.assert_status(0);
        assert_eq!(test.read(HOST, "ran"), "role\nblock\ninclude\nuntagged\n", "{}", engine.name());
    }
}

#[test]
fn handlers_listen_and_block_notify() {
    let sshd = Sshd::start();
    let site = r#"- name: handlers
  hosts: all
  gather_facts: false
  tasks:
    - name: notifying block
      notify: restart things
      block:
        - name: change
          copy: {content: "v1\n", dest: "{{ root }}/conf"}
  handlers:
    - name: first handler
      listen: restart things
      lineinfile: {path: "{{ root }}/handled", line: first, create: true}
    - name: second handler
      listen: restart things
      lineinfile: {path: "{{ root }}/handled", line: second, create: true}
"#;
    for engine in oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file("site.yml", site);
        test.run_args(["apply", "site.yml"]).assert_status(0);
        assert_eq!(test.read(HOST, "handled"), "first\nsecond\n", "{}", engine.name());
        // Nothing changes the second time: no handler runs.
        test.run_args(["apply", "site.yml"]).assert_status(0).assert_changed(0);
    }
}

/// A project with hosts h1..h3 on one sshd, and a `log` file shared by all
/// of them (the variable `log`), to see the order in which hosts ran.
fn three_hosts(engine: &Engine, sshd: &Sshd, site: &str) -> (Test, tempfile::TempDir) {
    let shared = tempfile::tempdir().expect("shared directory");
    let log = shared.path().join("log").display().to_string();
    let mut test = Test::new().engine(engine);
    for h in ["h1", "h2", "h3"] {
        test = test.host(h, sshd).host_var(h, "log", log.clone());
    }
    (test.file("site.yml", site), shared)
}

fn log_lines(shared: &tempfile::TempDir) -> Vec<String> {
    std::fs::read_to_string(shared.path().join("log")).unwrap_or_default().lines().map(str::to_owned).collect()
}

/// Two steps that depend on each other (`b` reads what `a` registered), so
/// a strategy may not run them as one.
const TWO_STEPS: &str = r#"
  tasks:
    - name: a
      shell: echo "{{ inventory_hostname }} a" >> "{{ log }}"
      register: a_out
    - name: b
      shell: echo "{{ inventory_hostname }} b {{ a_out.rc }}" >> "{{ log }}"
"#;

fn header(extra: &str) -> String {
    format!("- name: order\n  hosts: all\n  gather_facts: false\n{extra}")
}

#[test]
fn linear_hosts_finish_each_step_before_the_next() {
    let sshd = Sshd::start();
    for engine in oracle::engines() {
        let (test, shared) = three_hosts(&engine, &sshd, &format!("{}{TWO_STEPS}", header("")));
        test.run_args(["apply", "site.yml"]).assert_status(0);
        let lines = log_lines(&shared);
        let last_a = lines.iter().rposition(|l| l.ends_with(" a")).expect("a ran");
        let first_b = lines.iter().position(|l| l.contains(" b ")).expect("b ran");
        assert!(last_a < first_b, "{}: a step started before the last one ended: {lines:?}", engine.name());
        assert_eq!(lines.len(), 6, "{}", engine.name());
    }
}

#[test]
fn linear_output_has_one_task_header_per_task_and_a_line_per_host() {
    let sshd = Sshd::start();
    let site = format!(
        "{}  tasks:\n    - name: first\n      copy: {{content: \"1\\n\", dest: \"{{{{ root }}}}/1\"}}\n    \
         - name: second\n      copy: {{content: \"2\\n\", dest: \"{{{{ root }}}}/2\"}}\n",
        header("")
    );
    let (test, _shared) = three_hosts(&Engine::Stead, &sshd, &site);
    let out = test.run_args(["apply", "site.yml"]);
    out.assert_status(0);
    assert_eq!(out.stdout.matches("TASK [first]").count(), 1, "{}", out.stdout);
    assert_eq!(out.stdout.matches("TASK [second]").count(), 1, "{}", out.stdout);
    let first = out.stdout.find("TASK [first]").unwrap();
    let second = out.stdout.find("TASK [second]").unwrap();
    let block = &out.stdout[first..second];
    for h in ["h1", "h2", "h3"] {
        assert_eq!(block.matches(&format!("changed: [{h}]")).count(), 1, "{}", out.stdout);
    }
}

#[test]
fn serial_runs_the_play_batch_by_batch_in_the_order_asked() {
    let sshd = Sshd::start();
    for engine in oracle::engines() {
        let (test, shared) = three_hosts(&engine, &sshd, &format!("{}{TWO_STEPS}", header("  serial: 2\n")));
        test.run_args(["apply", "site.yml"]).assert_status(0);
        let lines = log_lines(&shared);
        let first_h3 = lines.iter().position(|l| l.starts_with("h3 ")).expect("h3 ran");
        assert_eq!(first_h3, 4, "{}: h3 is the second batch: {lines:?}", engine.name());

        let (test, shared) =
            three_hosts(&engine, &sshd, &format!("{}{TWO_STEPS}", header("  serial: 1\n  order: reverse_inventory\n")));
        test.run_args(["apply", "site.yml"]).assert_status(0);
        let expected = ["h3 a", "h3 b 0", "h2 a", "h2 b 0", "h1 a", "h1 b 0"];
        assert_eq!(log_lines(&shared), expected, "{}", engine.name());
    }
}

const ONE_FAILS: &str = r#"
  tasks:
    - name: a
      shell: echo "{{ inventory_hostname }} a" >> "{{ log }}"
      register: a_out
      failed_when: inventory_hostname == 'h1'
    - name: b
      shell: echo "{{ inventory_hostname }} b {{ a_out.rc }}" >> "{{ log }}"
"#;

#[test]
fn any_errors_fatal_and_max_fail_percentage_end_the_play_for_every_host() {
    let sshd = Sshd::start();
    for engine in oracle::engines() {
        let who = engine.name();
        for (keywords, b_runs) in [
            ("  any_errors_fatal: true\n", 0),
            ("  max_fail_percentage: 0\n", 0),
            ("  max_fail_percentage: 50\n", 2),
            ("", 2),
        ] {
            let (test, shared) = three_hosts(&engine, &sshd, &format!("{}{ONE_FAILS}", header(keywords)));
            let out = test.run_args(["apply", "site.yml"]);
            out.assert_status(4);
            let b = log_lines(&shared).iter().filter(|l| l.contains(" b ")).count();
            assert_eq!(b, b_runs, "{who} with {keywords:?}: {:?}", log_lines(&shared));
            assert_eq!(out.summary("failed"), 1, "{who} with {keywords:?}: only h1 counts as failed");
        }
    }
}

#[test]
fn meta_flush_handlers_end_host_and_end_play() {
    let sshd = Sshd::start();
    let site = format!(
        "{}{}",
        header(""),
        r#"  tasks:
    - name: change
      copy: {content: "v\n", dest: "{{ root }}/conf"}
      notify: write marker
    - meta: flush_handlers
    - name: see the marker
      stat: {path: "{{ root }}/marker"}
      register: st
    - name: record
      shell: echo "{{ inventory_hostname }} marker={{ st.stat.exists }}" >> "{{ log }}"
    - meta: end_host
      when: inventory_hostname == 'h2'
    - name: after end_host
      shell: echo "{{ inventory_hostname }} after" >> "{{ log }}"
    - meta: reset_connection
    - meta: noop
    - meta: end_play
    - name: never
      shell: echo "{{ inventory_hostname }} never" >> "{{ log }}"
  handlers:
    - name: write marker
      copy: {content: "m\n", dest: "{{ root }}/marker"}
"#
    );
    for engine in oracle::engines() {
        let (test, shared) = three_hosts(&engine, &sshd, &site);
        test.run_args(["apply", "site.yml"]).assert_status(0);
        let mut lines = log_lines(&shared);
        lines.sort();
        let expected = ["h1 after", "h1 marker=True", "h2 marker=True", "h3 after", "h3 marker=True"];
        assert_eq!(lines, expected, "{}", engine.name());
    }
}

#[test]
fn clear_host_errors_lets_a_failed_host_into_the_next_play() {
    let sshd = Sshd::start();
    let site = r#"- name: one
  hosts: all
  gather_facts: false
  tasks:
    - name: h1 fails
      command: /bin/false
      when: inventory_hostname == 'h1'
    - meta: clear_host_errors
- name: two
  hosts: all
  gather_facts: false
  tasks:
    - name: second play
      shell: echo "{{ inventory_hostname }} two" >> "{{ log }}"
"#;
    for engine in oracle::engines() {
        let (test, shared) = three_hosts(&engine, &sshd, site);
        test.run_args(["apply", "site.yml"]);
        let mut lines = log_lines(&shared);
        lines.sort();
        assert_eq!(lines, ["h1 two", "h2 two", "h3 two"], "{}", engine.name());
    }
}

#[test]
fn force_handlers_run_notified_handlers_after_a_failure() {
    let sshd = Sshd::start();
    let site = |force: &str| {
        format!(
            "- hosts: all\n  gather_facts: false\n{force}  tasks:\n    - name: change\n      \
             copy: {{content: \"v\\n\", dest: \"{{{{ root }}}}/conf\"}}\n      notify: h\n    - name: breaks\n      \
             command: /bin/false\n  handlers:\n    - name: h\n      copy: {{content: \"h\\n\", dest: \"{{{{ root }}}}/handled\"}}\n"
        )
    };
    for engine in oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file("site.yml", site(""));
        test.run_args(["apply", "site.yml"]).assert_status(4);
        assert!(!test.exists(HOST, "handled"), "{}: a failed host ran its handlers", engine.name());
        test.write("site.yml", site("  force_handlers: true\n"));
        std::fs::remove_file(test.path(HOST, "conf")).unwrap();
        test.run_args(["apply", "site.yml"]).assert_status(4);
        assert_eq!(test.read(HOST, "handled"), "h\n", "{}", engine.name());
        std::fs::remove_file(test.path(HOST, "conf")).unwrap();
        std::fs::remove_file(test.path(HOST, "handled")).unwrap();
        test.write("site.yml", site(""));
        test.run_args(["apply", "site.yml", "--force-handlers"]).assert_status(4);
        assert_eq!(test.read(HOST, "handled"), "h\n", "{} --force-handlers", engine.name());
    }
}

#[test]
fn roles_come_from_imports_includes_the_roles_path_and_collections() {
    let sshd = Sshd::start();
    let extra = tempfile::tempdir().expect("roles path");
    let role_line = |name: &str| {
        format!("- name: {name}\n  lineinfile: {{path: \"{{{{ root }}}}/ran\", line: {name}, create: true}}\n")
    };
    std::fs::create_dir_all(extra.path().join("pathrole/tasks")).unwrap();
    std::fs::write(extra.path().join("pathrole/tasks/main.yml"), role_line("from-roles-path")).unwrap();
    let site = r#"- name: roles
  hosts: all
  gather_facts: false
  tasks:
    - import_role:
        name: local
        tasks_from: other
    - include_role:
        name: local
      vars: {word: included}
    - import_role: {name: pathrole}
    - import_role: {name: acme.tools.deploy}
"#;
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .env("ANSIBLE_ROLES_PATH", &extra.path().display().to_string())
            .host(HOST, &sshd)
            .file("roles/local/tasks/main.yml", "- name: main\n  lineinfile: {path: \"{{ root }}/ran\", line: \"main {{ word }} {{ local_default }}\", create: true}\n  notify: local handler\n")
            .file("roles/local/tasks/other.yml", role_line("other"))
            .file("roles/local/defaults/main.yml", "local_default: d\n")
            .file("roles/local/handlers/main.yml", role_line("local handler"))
            .file("collections/ansible_collections/acme/tools/roles/deploy/tasks/main.yml", role_line("collection"))
            .file("site.yml", site);
        test.run_args(["apply", "site.yml"]).assert_status(0);
        assert_eq!(
            test.read(HOST, "ran"),
            "other\nmain included d\nfrom-roles-path\ncollection\nlocal handler\n",
            "{}",
            engine.name()
        );
    }
}

#[test]
fn a_user_command_exiting_127_or_255_fails_the_task_not_the_connection() {
    let tasks = r#"
        - name: not found
          command: stead-no-such-command-xyz
          ignore_errors: true
          register: nf
        - name: exits 255
          command: sh -c 'exit 255'
          ignore_errors: true
          register: e255
        - name: record
          copy: {content: "{{ nf.failed }} {{ e255.rc }}\n", dest: "{{ root }}/rc"}
    "#;
    scenario(tasks, 1, |engine, _, out, test| {
        out.assert_status(0);
        assert_eq!(test.read(HOST, "rc"), "True 255\n", "{}", engine.name());
        assert_eq!(out.summary("unreachable"), 0, "{}", engine.name());
    });
}

#[test]
fn roles_path_flag_and_ansible_cfg_find_roles() {
    let site = "- hosts: all\n  gather_facts: false\n  roles: [elsewhere]\n";
    let extra = tempfile::tempdir().expect("roles dir");
    std::fs::create_dir_all(extra.path().join("elsewhere/tasks")).unwrap();
    std::fs::write(extra.path().join("elsewhere/tasks/main.yml"), "- ping:\n").unwrap();
    let test = Test::new().file("site.yml", site);
    let out = test.raw().run_args(["validate", "site.yml"]);
    out.assert_status(1).assert_stderr_contains("role `elsewhere` not found");
    let flag = extra.path().display().to_string();
    let test = Test::new().file("site.yml", site);
    test.raw().run_args(["validate", "site.yml", "--roles-path", &flag]).assert_status(0);
    let test = Test::new().file("site.yml", site).file("ansible.cfg", format!("[defaults]\nroles_path = {flag}\n"));
    test.raw().run_args(["validate", "site.yml"]).assert_status(0);
}

#[test]
fn run_once_runs_on_the_first_host_and_gives_every_host_its_result() {
    let sshd = Sshd::start();
    let site = format!(
        "{}{}",
        header(""),
        r#"  tasks:
    - name: once
      shell: echo "once by {{ inventory_hostname }}" >> "{{ log }}"; echo token
      register: r
      run_once: true
    - name: every host sees it
      shell: echo "{{ inventory_hostname }} {{ r.stdout }}" >> "{{ log }}"
    - name: a block once
      run_once: true
      block:
        - name: in the block
          shell: echo "block once by {{ inventory_hostname }}" >> "{{ log }}"
    - import_tasks: inc.yml
      run_once: true
"#
    );
    for engine in oracle::engines() {
        let (test, shared) = three_hosts(&engine, &sshd, &site);
        let test = test.file(
            "inc.yml",
            "- name: included
  shell: echo \"inc once by {{ inventory_hostname }}\" >> \"{{ log }}\"
",
        );
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        let mut lines = log_lines(&shared);
        lines.sort();
        let expected = ["block once by h1", "h1 token", "h2 token", "h3 token", "inc once by h1", "once by h1"];
        assert_eq!(lines, expected, "{}", engine.name());
        assert_eq!(out.summary("changed"), 6, "{}: a run_once task counts once", engine.name());
    }
}

#[test]
fn delegate_to_runs_on_that_hosts_connection_with_this_hosts_variables() {
    let sshd = Sshd::start();
    let other = Sshd::start();
    let site = r#"- name: delegation
  hosts: web1
  gather_facts: false
  tasks:
    - name: on the other host
      shell: echo "{{ inventory_hostname }} ${SSH_CONNECTION##* }" > "{{ root }}/delegated"
      delegate_to: web2
    - name: on the controller
      shell: echo "{{ inventory_hostname }} local=${SSH_CONNECTION:-yes}" > "{{ root }}/local"
      delegate_to: localhost
    - name: local action
      local_action: shell echo "{{ inventory_hostname }}" > "{{ root }}/local_action"
    - name: delegated block
      delegate_to: web2
      block:
        - name: in the block
          shell: echo "${SSH_CONNECTION##* }" > "{{ root }}/block"
    - import_tasks: inc.yml
      delegate_to: web2
  roles:
    - role: r
      delegate_to: web2
"#;
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .env("SSH_CONNECTION", "")
            .host("web1", &sshd)
            .host("web2", &other)
            .file("inc.yml", "- name: included\n  shell: echo \"${SSH_CONNECTION##* }\" > \"{{ root }}/inc\"\n")
            .file(
                "roles/r/tasks/main.yml",
                "- name: role\n  shell: echo \"${SSH_CONNECTION##* }\" > \"{{ root }}/role\"\n",
            )
            .file("site.yml", site);
        test.run_args(["apply", "site.yml"]).assert_status(0);
        let who = engine.name();
        assert_eq!(test.read("web1", "delegated"), format!("web1 {}\n", other.port()), "{who}");
        assert_eq!(test.read("web1", "local"), "web1 local=yes\n", "{who}");
        assert_eq!(test.read("web1", "local_action"), "web1\n", "{who}");
        for file in ["block", "inc", "role"] {
            assert_eq!(test.read("web1", file), format!("{}\n", other.port()), "{who}: {file}");
        }
    }
}

#[test]
fn run_once_of_a_role_entry() {
    let sshd = Sshd::start();
    let site = format!("{}  roles:\n    - role: r\n      run_once: true\n", header(""));
    for engine in oracle::engines() {
        let (test, shared) = three_hosts(&engine, &sshd, &site);
        let test = test.file(
            "roles/r/tasks/main.yml",
            "- name: role task\n  shell: echo \"role once by {{ inventory_hostname }}\" >> \"{{ log }}\"\n",
        );
        test.run_args(["apply", "site.yml"]).assert_status(0);
        assert_eq!(log_lines(&shared), ["role once by h1"], "{}", engine.name());
    }
}

#[test]
fn include_tasks_over_a_loop_runs_the_whole_file_per_item() {
    let sshd = Sshd::start();
    let inc = "- name: one\n  lineinfile: {path: \"{{ root }}/ran\", line: \"{{ item }}-1\", create: true}\n\
               - name: two\n  lineinfile: {path: \"{{ root }}/ran\", line: \"{{ item }}-2\"}\n";
    let site = play("- name: per item\n  include_tasks: inc.yml\n  loop: [a, b]\n");
    for engine in oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file("inc.yml", inc).file("site.yml", &site);
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        let who = engine.name();
        assert_eq!(test.read(HOST, "ran"), "a-1\na-2\nb-1\nb-2\n", "{who}");
        // Each included item counts ok once, beside the four tasks.
        assert_eq!(recap(&out), [6, 4, 0, 0, 0, 0], "{who}\n{}", out.stdout);
        let again = test.run_args(["apply", "site.yml"]);
        assert_eq!(recap(&again), [6, 0, 0, 0, 0, 0], "{who}: second run");
    }
}

#[test]
fn include_keywords_apply_to_the_include_not_its_tasks() {
    let sshd = Sshd::start();
    let inc = "- name: turns the flag off\n  set_fact: {flag: false}\n\
               - name: still runs\n  lineinfile: {path: \"{{ root }}/ran\", line: second, create: true}\n";
    let site = r#"- name: includes
  hosts: all
  gather_facts: false
  vars: {flag: true}
  tasks:
    - name: guarded include
      include_tasks: inc.yml
      when: flag
      collections: [ansible.builtin]
      ignore_errors: true
      no_log: true
    - name: skipped include
      include_tasks: inc.yml
      when: not flag and false
    - name: tagged include
      include_tasks: tagged.yml
      tags: [t]
"#;
    let tagged = "- name: untagged inside\n  lineinfile: {path: \"{{ root }}/tagged\", line: inner, create: true}\n";
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host(HOST, &sshd)
            .file("inc.yml", inc)
            .file("tagged.yml", tagged)
            .file("site.yml", site);
        let who = engine.name();
        let out = test.run_args(["apply", "site.yml"]);
        out.assert_status(0);
        // The include's `when` is not evaluated again for its tasks.
        assert_eq!(test.read(HOST, "ran"), "second\n", "{who}");
        assert_eq!(out.summary("skipped"), 1, "{who}: a skipped include is one result\n{}", out.stdout);
        // The include's tags select the include, not the tasks inside it.
        std::fs::remove_file(test.path(HOST, "tagged")).unwrap();
        let out = test.run_args(["apply", "site.yml", "--tags", "t"]);
        out.assert_status(0);
        assert!(!test.exists(HOST, "tagged"), "{who}: an untagged task ran under --tags t");
    }
}

#[test]
fn include_role_over_a_loop_with_vars() {
    let sshd = Sshd::start();
    let site = play(
        r#"
        - name: role per item
          include_role: {name: r}
          vars: {suffix: "!"}
          loop: [x, y]
          loop_control: {loop_var: thing}
        "#,
    );
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host(HOST, &sshd)
            .file(
                "roles/r/tasks/main.yml",
                "- name: role task\n  lineinfile: {path: \"{{ root }}/ran\", line: \"{{ thing }}{{ suffix }}\", create: true}\n",
            )
            .file("site.yml", &site);
        test.run_args(["apply", "site.yml"]).assert_status(0);
        assert_eq!(test.read(HOST, "ran"), "x!\ny!\n", "{}", engine.name());
    }
}

/// What one engine left: per run the recap of each host, each host's files,
/// the shared log.
struct EngineRun {
    engine: &'static str,
    recaps: Vec<Vec<(String, [u64; 6])>>,
    listings: Vec<String>,
    log: Vec<String>,
}

/// Per host: [ok, changed, failed, skipped, rescued, ignored] from a report.
fn host_recaps(out: &Outcome, hosts: &[&str]) -> Vec<(String, [u64; 6])> {
    let report = out.report_json();
    hosts
        .iter()
        .map(|h| {
            let r = &report["hosts"][*h];
            let n = |k: &str| r[k].as_u64().unwrap_or(0);
            ((*h).to_owned(), [n("ok"), n("changed"), n("failed"), n("skipped"), n("rescued"), n("ignored")])
        })
        .collect()
}

/// The issue's "done when": one role with block/rescue/always and block
/// vars, include_tasks over a loop, until/retries, run_once, delegate_to:
/// localhost, flush_handlers, under serial: 2. stead and ansible-playbook
/// must leave the same hosts and print the same recap, on the first run and
/// on the second.
#[test]
fn a_role_using_the_whole_control_flow_matches_ansible() {
    let sshd = Sshd::start();
    let role = r#"
- name: guarded setup
  vars: {marker: from-block}
  block:
    - name: write marker
      copy: {content: "{{ marker }}\n", dest: "{{ root }}/marker"}
      notify: restart app
    - name: break on h2
      command: /bin/false
      when: inventory_hostname == 'h2'
  rescue:
    - name: note rescue
      copy: {content: "rescued {{ ansible_failed_result.rc }}\n", dest: "{{ root }}/rescued"}
  always:
    - name: always
      copy: {content: "always\n", dest: "{{ root }}/always"}
- name: per item
  include_tasks: item.yml
  loop: [one, two]
- name: flaky
  shell: n=$(cat "{{ root }}/count" 2>/dev/null || echo 0); n=$((n + 1)); echo $n > "{{ root }}/count"; [ $n -ge 2 ]
  register: flaky
  until: flaky.rc == 0
  retries: 3
  delay: 0
  changed_when: false
- name: once per batch
  shell: echo "{{ inventory_hostname }}" >> "{{ log }}"
  run_once: true
- name: on the controller
  copy: {content: "{{ inventory_hostname }} {{ flaky.attempts }}\n", dest: "{{ root }}/local"}
  delegate_to: localhost
- meta: flush_handlers
- name: after flush
  stat: {path: "{{ root }}/restarted"}
  register: st
- name: record
  copy: {content: "restarted={{ st.stat.exists }}\n", dest: "{{ root }}/after_flush"}
"#;
    let site = "- name: app\n  hosts: all\n  gather_facts: false\n  serial: 2\n  roles: [app]\n";
    let hosts = ["h1", "h2", "h3"];
    let mut seen: Vec<EngineRun> = Vec::new();
    for engine in oracle::engines() {
        let (test, shared) = three_hosts(&engine, &sshd, site);
        let test = test
            .file("roles/app/tasks/main.yml", role)
            .file(
                "roles/app/tasks/item.yml",
                "- name: item file\n  copy: {content: \"{{ item }}\\n\", dest: \"{{ root }}/item-{{ item }}\"}\n",
            )
            .file(
                "roles/app/handlers/main.yml",
                "- name: restart app\n  copy: {content: \"r\\n\", dest: \"{{ root }}/restarted\"}\n",
            );
        let mut recaps = Vec::new();
        for _ in 0..2 {
            let out = test.run_args(["apply", "site.yml"]);
            out.assert_status(0);
            recaps.push(host_recaps(&out, &hosts));
        }
        let listings = hosts.iter().map(|h| tree::listing(test.root(h))).collect();
        seen.push(EngineRun { engine: engine.name(), recaps, listings, log: log_lines(&shared) });
        assert_eq!(test.read("h2", "rescued"), "rescued 1\n", "{}", engine.name());
        assert_eq!(test.read("h1", "after_flush"), "restarted=True\n", "{}", engine.name());
    }
    let ours = &seen[0];
    assert_eq!(ours.log, ["h1", "h3", "h1", "h3"], "run_once runs once per serial batch, each run");
    for other in &seen[1..] {
        let who = other.engine;
        assert_eq!(ours.recaps, other.recaps, "recaps: stead vs {who}");
        assert_eq!(ours.listings, other.listings, "host files: stead vs {who}");
        assert_eq!(ours.log, other.log, "run_once: stead vs {who}");
    }
}

#[test]
fn keyword_values_given_as_templates_are_decided_per_host() {
    let sshd = Sshd::start();
    let site = r#"- name: templated keywords
  hosts: all
  gather_facts: "{{ do_gather | bool }}"
  vars: {do_gather: "no", lenient: true, runner: "{{ ansible_user | default('root') }}"}
  tasks:
    - name: fails, ignored by a template
      command: /bin/false
      ignore_errors: "{{ lenient }}"
    - name: dry by a template
      copy: {content: "x\n", dest: "{{ root }}/dry"}
      check_mode: "{{ not ansible_check_mode }}"
    - name: a block lenient by a template
      ignore_errors: "{{ lenient }}"
      block:
        - name: in block
          command: /bin/false
    - name: after
      copy: {content: "after\n", dest: "{{ root }}/after"}
"#;
    for engine in oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file("site.yml", site);
        let out = test.run_args(["apply", "site.yml"]);
        let who = engine.name();
        out.assert_status(0);
        assert!(!test.exists(HOST, "dry"), "{who}: check_mode from a template");
        assert_eq!(test.read(HOST, "after"), "after\n", "{who}");
        // No fact gathering: it would count one more ok.
        assert_eq!(recap(&out), [4, 4, 0, 0, 0, 2], "{who}\n{}", out.stdout);
    }
}

#[test]
fn set_fact_in_a_loop_sees_what_earlier_items_set() {
    let tasks = r#"
        - name: accumulate
          set_fact:
            acc: "{{ (acc | default([])) + [item] }}"
          loop: [a, b, c]
        - name: record
          copy: {content: "{{ acc | join(',') }}\n", dest: "{{ root }}/acc"}
    "#;
    scenario(tasks, 1, |engine, _, out, test| {
        out.assert_status(0);
        assert_eq!(test.read(HOST, "acc"), "a,b,c\n", "{}", engine.name());
    });
}

#[test]
fn a_template_reading_a_registered_variable_is_not_batched_with_the_task_that_registers_it() {
    let sshd = Sshd::start();
    for engine in oracle::engines() {
        let test =
            Test::new().engine(&engine).host(HOST, &sshd).file("templates/out.j2", "value={{ reg.stdout }}\n").file(
                "site.yml",
                play(
                    r#"
                    - name: produce
                      command: echo produced
                      register: reg
                    - name: render
                      template: {src: out.j2, dest: "{{ root }}/out"}
                    "#,
                ),
            );
        test.run_args(["apply", "site.yml"]).assert_status(0);
        assert_eq!(test.read(HOST, "out"), "value=produced\n", "{}", engine.name());
    }
}

#[test]
fn environment_of_plays_blocks_and_tasks_reaches_the_commands() {
    let sshd = Sshd::start();
    let site = r#"- name: env
  hosts: all
  gather_facts: false
  environment: {STEAD_A: play}
  tasks:
    - name: a block
      environment: {STEAD_B: block}
      block:
        - name: all three
          shell: echo "$STEAD_A $STEAD_B $STEAD_C" > "{{ root }}/abc"
          environment:
            STEAD_C: "it's {{ inventory_hostname }} $HOME `x`"
    - name: outside the block
      shell: echo "$STEAD_A ${STEAD_B:-none}" > "{{ root }}/a"
"#;
    for engine in oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file("site.yml", site);
        test.run_args(["apply", "site.yml"]).assert_status(0);
        let who = engine.name();
        assert_eq!(test.read(HOST, "abc"), "play block it's web1 $HOME `x`\n", "{who}");
        assert_eq!(test.read(HOST, "a"), "play none\n", "{who}");
    }
}

#[test]
fn environment_of_role_entries_and_imports() {
    let sshd = Sshd::start();
    let site = "- hosts: all\n  gather_facts: false\n  roles:\n    - role: r\n      environment: {STEAD_R: role}\n  \
                tasks:\n    - import_tasks: inc.yml\n      environment: {STEAD_R: import}\n";
    let body = |file: &str| format!("- name: {file}\n  shell: echo \"$STEAD_R\" > \"{{{{ root }}}}/{file}\"\n");
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host(HOST, &sshd)
            .file("roles/r/tasks/main.yml", body("role"))
            .file("inc.yml", body("inc"))
            .file("site.yml", site);
        test.run_args(["apply", "site.yml"]).assert_status(0);
        assert_eq!(test.read(HOST, "role"), "role\n", "{}", engine.name());
        assert_eq!(test.read(HOST, "inc"), "import\n", "{}", engine.name());
    }
}

#[test]
fn a_handler_notifies_another_handler() {
    let sshd = Sshd::start();
    let site = r#"- hosts: all
  gather_facts: false
  tasks:
    - name: change
      copy: {content: "v\n", dest: "{{ root }}/conf"}
      notify: first
  handlers:
    - name: second
      lineinfile: {path: "{{ root }}/handled", line: second, create: true}
    - name: first
      lineinfile: {path: "{{ root }}/handled", line: first, create: true}
      notify: second
"#;
    for engine in oracle::engines() {
        let test = Test::new().engine(&engine).host(HOST, &sshd).file("site.yml", site);
        test.run_args(["apply", "site.yml"]).assert_status(0);
        let handled = test.read(HOST, "handled");
        assert!(handled.contains("first") && handled.contains("second"), "{}: {handled:?}", engine.name());
    }
}

#[test]
fn ignore_unreachable_lets_the_play_go_on_for_that_host() {
    let sshd = Sshd::start();
    let site = r#"- hosts: all
  gather_facts: false
  roles:
    - role: r
      ignore_unreachable: true
  tasks:
    - name: task level
      copy: {content: "1\n", dest: "{{ root }}/one"}
      ignore_unreachable: true
    - name: block level
      ignore_unreachable: true
      block:
        - name: in block
          copy: {content: "2\n", dest: "{{ root }}/two"}
    - import_tasks: inc.yml
      ignore_unreachable: true
- hosts: all
  gather_facts: false
  ignore_unreachable: true
  tasks:
    - name: play level
      copy: {content: "4\n", dest: "{{ root }}/four"}
"#;
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host(HOST, &sshd)
            .unreachable_host("gone")
            .file("roles/r/tasks/main.yml", "- name: role\n  copy: {content: \"r\\n\", dest: \"{{ root }}/r\"}\n")
            .file("inc.yml", "- name: imported\n  copy: {content: \"3\\n\", dest: \"{{ root }}/three\"}\n")
            .file("site.yml", site);
        let out = test.run_args(["apply", "site.yml"]);
        let who = engine.name();
        out.assert_status(0);
        assert_eq!(test.read(HOST, "four"), "4\n", "{who}");
        let gone = &host_recaps(&out, &["gone"])[0].1;
        assert_eq!(gone, &[5, 0, 0, 0, 0, 5], "{who}: each unreachable task counts ok and ignored");
        assert_eq!(out.summary("unreachable"), 0, "{who}");
    }
}

#[test]
fn a_templated_include_name_picks_the_file_per_host_and_item() {
    let sshd = Sshd::start();
    let site = r#"- name: by flavour
  hosts: all
  gather_facts: false
  tasks:
    - name: setup for this host
      include_tasks: "setup-{{ flavour }}.yml"
    - name: steps
      include_tasks: "steps/{{ item }}.yml"
      loop: [one, two]
"#;
    let line = |text: &str| {
        format!("- name: {text}\n  lineinfile: {{path: \"{{{{ root }}}}/ran\", line: {text}, create: true}}\n")
    };
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host("h1", &sshd)
            .host("h2", &sshd)
            .host_var("h1", "flavour", "Debian")
            .host_var("h2", "flavour", "RedHat")
            .file("setup-Debian.yml", line("debian"))
            .file("setup-RedHat.yml", line("redhat"))
            .file("steps/one.yml", line("one"))
            .file("steps/two.yml", line("two"))
            .file("site.yml", site);
        test.run_args(["apply", "site.yml"]).assert_status(0);
        assert_eq!(test.read("h1", "ran"), "debian\none\ntwo\n", "{}", engine.name());
        assert_eq!(test.read("h2", "ran"), "redhat\none\ntwo\n", "{}", engine.name());
    }
}
