//! No silent keyword, ever: every Ansible keyword of a play, block, task,
//! role entry and task include is either implemented, with a test that
//! proves its behaviour, or refused before any host is contacted, with
//! `file:line:column`.

use stead::playbook::keywords::Place;

use crate::support::oracle::{self, Engine};
use crate::support::{Sshd, Test};

/// Implemented keywords and a test that exercises each (a test function
/// name; the table below checks that it exists).
const COVERED: &[(Place, &str, &str)] = &[
    (Place::Play, "name", "json_report_has_the_contract_shape"),
    (Place::Play, "hosts", "play_hosts_pattern_selects_a_group"),
    (Place::Play, "vars", "template_from_the_templates_directory_renders_vars_and_loops"),
    (Place::Play, "vars_files", "play_sections_roles_and_play_keywords"),
    (Place::Play, "become", "become_keywords_are_inherited_by_tasks"),
    (Place::Play, "become_user", "become_keywords_are_inherited_by_tasks"),
    (Place::Play, "become_method", "an_unknown_become_method_is_refused_where_it_is_written"),
    (Place::Play, "remote_user", "remote_user_of_the_play_is_the_ssh_login"),
    (Place::Play, "gather_facts", "play_sections_roles_and_play_keywords"),
    (Place::Play, "tasks", "play_sections_roles_and_play_keywords"),
    (Place::Play, "pre_tasks", "play_sections_roles_and_play_keywords"),
    (Place::Play, "post_tasks", "play_sections_roles_and_play_keywords"),
    (Place::Play, "handlers", "handlers_listen_and_block_notify"),
    (Place::Play, "roles", "play_sections_roles_and_play_keywords"),
    (Place::Play, "tags", "tags_on_plays_blocks_roles_and_includes_select_their_tasks"),
    (Place::Play, "collections", "play_sections_roles_and_play_keywords"),
    (Place::Play, "ignore_errors", "play_sections_roles_and_play_keywords"),
    (Place::Play, "no_log", "check_mode_no_log_and_diff_inherit_from_plays_blocks_and_tasks"),
    (Place::Play, "check_mode", "check_mode_no_log_and_diff_inherit_from_plays_blocks_and_tasks"),
    (Place::Play, "diff", "check_mode_no_log_and_diff_inherit_from_plays_blocks_and_tasks"),
    (Place::Play, "strategy", "linear_hosts_finish_each_step_before_the_next"),
    (Place::Play, "serial", "serial_runs_the_play_batch_by_batch_in_the_order_asked"),
    (Place::Play, "order", "serial_runs_the_play_batch_by_batch_in_the_order_asked"),
    (Place::Play, "any_errors_fatal", "any_errors_fatal_and_max_fail_percentage_end_the_play_for_every_host"),
    (Place::Play, "max_fail_percentage", "any_errors_fatal_and_max_fail_percentage_end_the_play_for_every_host"),
    (Place::Play, "force_handlers", "force_handlers_run_notified_handlers_after_a_failure"),
    (Place::Block, "name", "block_keywords_are_inherited_by_its_tasks"),
    (Place::Block, "block", "block_rescue_clears_the_failure_and_always_runs"),
    (Place::Block, "rescue", "block_rescue_clears_the_failure_and_always_runs"),
    (Place::Block, "always", "always_without_rescue_runs_and_the_host_still_fails"),
    (Place::Block, "when", "block_keywords_are_inherited_by_its_tasks"),
    (Place::Block, "tags", "tags_on_plays_blocks_roles_and_includes_select_their_tasks"),
    (Place::Block, "vars", "block_keywords_are_inherited_by_its_tasks"),
    (Place::Block, "become", "become_keywords_are_inherited_by_tasks"),
    (Place::Block, "become_user", "become_keywords_are_inherited_by_tasks"),
    (Place::Block, "become_method", "become_keywords_are_inherited_by_tasks"),
    (Place::Block, "ignore_errors", "block_keywords_are_inherited_by_its_tasks"),
    (Place::Block, "no_log", "check_mode_no_log_and_diff_inherit_from_plays_blocks_and_tasks"),
    (Place::Block, "check_mode", "check_mode_no_log_and_diff_inherit_from_plays_blocks_and_tasks"),
    (Place::Block, "diff", "check_mode_no_log_and_diff_inherit_from_plays_blocks_and_tasks"),
    (Place::Block, "notify", "handlers_listen_and_block_notify"),
    (Place::Block, "collections", "play_sections_roles_and_play_keywords"),
    (Place::Task, "name", "json_report_has_the_contract_shape"),
    (Place::Task, "when", "stat_result_drives_a_when_condition"),
    (Place::Task, "loop", "loop_control_index_var_and_extended"),
    (Place::Task, "loop_control", "loop_control_index_var_and_extended"),
    (Place::Task, "register", "shell_chdir_and_register_capture_stdout_and_rc"),
    (Place::Task, "notify", "handlers_count_like_tasks_and_a_loop_is_one_result"),
    (Place::Task, "listen", "handlers_listen_and_block_notify"),
    (Place::Task, "become", "become_keywords_are_inherited_by_tasks"),
    (Place::Task, "become_user", "become_keywords_are_inherited_by_tasks"),
    (Place::Task, "become_method", "become_wraps_the_script_for_sudo_su_and_doas"),
    (Place::Task, "ignore_errors", "until_that_never_holds_fails_after_the_retries"),
    (Place::Task, "tags", "tags_on_plays_blocks_roles_and_includes_select_their_tasks"),
    (Place::Task, "no_log", "no_log_values_appear_in_no_output_and_no_report"),
    (Place::Task, "changed_when", "failed_when_overrides_the_module_both_ways_and_changed_when_decides_changed"),
    (Place::Task, "failed_when", "failed_when_list_is_anded"),
    (Place::Task, "check_mode", "check_mode_no_log_and_diff_inherit_from_plays_blocks_and_tasks"),
    (Place::Task, "diff", "check_mode_no_log_and_diff_inherit_from_plays_blocks_and_tasks"),
    (Place::Task, "vars", "block_keywords_are_inherited_by_its_tasks"),
    (Place::Task, "args", "command_guarded_by_removes_runs_only_while_the_file_exists"),
    (Place::Task, "until", "until_retries_until_the_condition_holds_and_registers_the_last_attempt"),
    (Place::Task, "retries", "until_that_never_holds_fails_after_the_retries"),
    (Place::Task, "delay", "until_alone_retries_three_times_five_seconds_apart"),
    (Place::Task, "collections", "play_sections_roles_and_play_keywords"),
    (Place::Role, "role", "play_sections_roles_and_play_keywords"),
    (Place::Role, "name", "role_and_include_keywords_reach_their_tasks"),
    (Place::Role, "tags", "tags_on_plays_blocks_roles_and_includes_select_their_tasks"),
    (Place::Role, "vars", "play_sections_roles_and_play_keywords"),
    (Place::Role, "when", "play_sections_roles_and_play_keywords"),
    (Place::Role, "become", "become_keywords_are_inherited_by_tasks"),
    (Place::Role, "become_user", "become_keywords_are_inherited_by_tasks"),
    (Place::Role, "become_method", "become_keywords_are_inherited_by_tasks"),
    (Place::Role, "ignore_errors", "role_and_include_keywords_reach_their_tasks"),
    (Place::Role, "no_log", "role_and_include_keywords_reach_their_tasks"),
    (Place::Role, "check_mode", "role_and_include_keywords_reach_their_tasks"),
    (Place::Role, "diff", "role_and_include_keywords_reach_their_tasks"),
    (Place::Role, "collections", "role_and_include_keywords_reach_their_tasks"),
    (Place::Import, "name", "include_keywords_reach_the_included_tasks"),
    (Place::Import, "when", "include_keywords_reach_the_included_tasks"),
    (Place::Import, "tags", "tags_on_plays_blocks_roles_and_includes_select_their_tasks"),
    (Place::Import, "vars", "include_keywords_reach_the_included_tasks"),
    (Place::Import, "become", "become_keywords_are_inherited_by_tasks"),
    (Place::Import, "become_user", "become_keywords_are_inherited_by_tasks"),
    (Place::Import, "become_method", "become_keywords_are_inherited_by_tasks"),
    (Place::Import, "ignore_errors", "role_and_include_keywords_reach_their_tasks"),
    (Place::Import, "no_log", "role_and_include_keywords_reach_their_tasks"),
    (Place::Import, "check_mode", "role_and_include_keywords_reach_their_tasks"),
    (Place::Import, "diff", "role_and_include_keywords_reach_their_tasks"),
    (Place::Import, "collections", "role_and_include_keywords_reach_their_tasks"),
    (Place::Block, "run_once", "run_once_runs_on_the_first_host_and_gives_every_host_its_result"),
    (Place::Block, "delegate_to", "delegate_to_runs_on_that_hosts_connection_with_this_hosts_variables"),
    (Place::Task, "run_once", "run_once_runs_on_the_first_host_and_gives_every_host_its_result"),
    (Place::Task, "delegate_to", "delegate_to_runs_on_that_hosts_connection_with_this_hosts_variables"),
    (Place::Role, "run_once", "run_once_of_a_role_entry"),
    (Place::Role, "delegate_to", "delegate_to_runs_on_that_hosts_connection_with_this_hosts_variables"),
    (Place::Import, "run_once", "run_once_runs_on_the_first_host_and_gives_every_host_its_result"),
    (Place::Import, "delegate_to", "delegate_to_runs_on_that_hosts_connection_with_this_hosts_variables"),
    (Place::Task, "local_action", "delegate_to_runs_on_that_hosts_connection_with_this_hosts_variables"),
    (Place::Include, "name", "include_tasks_over_a_loop_runs_the_whole_file_per_item"),
    (Place::Include, "when", "include_keywords_apply_to_the_include_not_its_tasks"),
    (Place::Include, "tags", "include_keywords_apply_to_the_include_not_its_tasks"),
    (Place::Include, "vars", "include_role_over_a_loop_with_vars"),
    (Place::Include, "loop", "include_tasks_over_a_loop_runs_the_whole_file_per_item"),
    (Place::Include, "loop_control", "include_role_over_a_loop_with_vars"),
    (Place::Include, "ignore_errors", "include_keywords_apply_to_the_include_not_its_tasks"),
    (Place::Include, "no_log", "include_keywords_apply_to_the_include_not_its_tasks"),
    (Place::Include, "collections", "include_keywords_apply_to_the_include_not_its_tasks"),
    (Place::Play, "environment", "environment_of_plays_blocks_and_tasks_reaches_the_commands"),
    (Place::Block, "environment", "environment_of_plays_blocks_and_tasks_reaches_the_commands"),
    (Place::Task, "environment", "environment_of_plays_blocks_and_tasks_reaches_the_commands"),
    (Place::Role, "environment", "environment_of_role_entries_and_imports"),
    (Place::Import, "environment", "environment_of_role_entries_and_imports"),
    (Place::Play, "ignore_unreachable", "ignore_unreachable_lets_the_play_go_on_for_that_host"),
    (Place::Block, "ignore_unreachable", "ignore_unreachable_lets_the_play_go_on_for_that_host"),
    (Place::Task, "ignore_unreachable", "ignore_unreachable_lets_the_play_go_on_for_that_host"),
    (Place::Role, "ignore_unreachable", "ignore_unreachable_lets_the_play_go_on_for_that_host"),
    (Place::Import, "ignore_unreachable", "ignore_unreachable_lets_the_play_go_on_for_that_host"),
];

/// The sources the test names above are looked up in.
const SOURCES: &[&str] = &[
    include_str!("control_flow.rs"),
    include_str!("modules.rs"),
    include_str!("hosts.rs"),
    include_str!("report.rs"),
    include_str!("keywords.rs"),
    include_str!("../../src/playbook/load.rs"),
    include_str!("../../src/exec/outcome.rs"),
    include_str!("../../src/transport/mod.rs"),
];

/// A playbook that writes `key: x` at `place`, and the line it is on.
fn playbook_with(place: Place, key: &str) -> (Vec<(&'static str, String)>, usize) {
    let head = "- hosts: all\n  gather_facts: false\n";
    match place {
        Place::Play => (vec![("site.yml", format!("{head}  {key}: x\n  tasks: []\n"))], 3),
        Place::Block => {
            (vec![("site.yml", format!("{head}  tasks:\n    - block:\n        - ping:\n      {key}: x\n"))], 6)
        }
        Place::Task => (vec![("site.yml", format!("{head}  tasks:\n    - ping:\n      {key}: x\n"))], 5),
        Place::Import => (
            vec![
                ("site.yml", format!("{head}  tasks:\n    - import_tasks: inc.yml\n      {key}: x\n")),
                ("inc.yml", "- ping:\n".into()),
            ],
            5,
        ),
        Place::Include => (
            vec![
                ("site.yml", format!("{head}  tasks:\n    - include_tasks: inc.yml\n      {key}: x\n")),
                ("inc.yml", "- ping:\n".into()),
            ],
            5,
        ),
        Place::Role => (
            vec![
                ("site.yml", format!("{head}  roles:\n    - role: r\n      {key}: x\n")),
                ("roles/r/tasks/main.yml", "- ping:\n".into()),
            ],
            5,
        ),
    }
}

#[test]
fn every_ansible_keyword_is_implemented_with_a_test_or_refused_with_a_location() {
    let mut problems = Vec::new();
    for place in Place::ALL {
        for key in place.ansible() {
            if place.implements(key) {
                match COVERED.iter().find(|(p, k, _)| *p == place && *k == key) {
                    None => problems.push(format!("{} `{key}`: implemented, but no test is named", place.noun())),
                    Some((_, _, test)) => {
                        if !SOURCES.iter().any(|src| src.contains(&format!("fn {test}("))) {
                            problems.push(format!("{} `{key}`: the test `{test}` does not exist", place.noun()));
                        }
                    }
                }
                continue;
            }
            let (files, line) = playbook_with(place, key);
            let mut test = Test::new();
            for (name, text) in &files {
                test = test.file(name, text);
            }
            let out = test.raw().run_args(["validate", "site.yml"]);
            let located = format!("site.yml:{line}:");
            if out.status != 1 || !out.stderr.contains(&located) || !out.stderr.contains(key) {
                problems.push(format!(
                    "{} `{key}`: neither implemented nor refused at {located}\n{}",
                    place.noun(),
                    out.stderr
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn role_and_include_keywords_reach_their_tasks() {
    // `name:` names the role; its keywords apply to its tasks, and a key that
    // is not a keyword (`word`) is a role parameter. An import hands its
    // keywords down the same way.
    let site = r#"- name: keywords
  hosts: all
  gather_facts: false
  roles:
    - name: r
      ignore_errors: true
      no_log: true
      check_mode: true
      diff: false
      collections: [ansible.builtin]
      word: s3cr3t-role
  tasks:
    - import_tasks: inc.yml
      ignore_errors: true
      no_log: true
      check_mode: true
      diff: false
      collections: [ansible.builtin]
      vars: {word: s3cr3t-inc}
"#;
    let body = "- name: would write\n  copy: {content: \"{{ word }}\\n\", dest: \"{{ root }}/{{ word }}\"}\n\
                - name: fails\n  fail: {msg: \"boom {{ word }}\"}\n";
    let sshd = Sshd::start();
    for engine in oracle::engines() {
        let test = Test::new()
            .engine(&engine)
            .host("web1", &sshd)
            .file("site.yml", site)
            .file("inc.yml", body)
            .file("roles/r/tasks/main.yml", body);
        let out = test.run_args(["apply", "site.yml", "--diff"]);
        let who = engine.name();
        out.assert_status(0);
        for word in ["s3cr3t-role", "s3cr3t-inc"] {
            assert!(!test.exists("web1", word), "{who}: check_mode did not reach the task writing {word}");
        }
        assert_eq!(out.summary("ignored"), 2, "{who}: ignore_errors");
        assert_eq!(out.summary("changed"), 2, "{who}: the check-mode writes count as changes");
        if engine == Engine::Stead {
            out.assert_stdout_lacks("s3cr3t");
            assert!(!out.report_text().contains("s3cr3t"), "the report shows a no_log value");
        }
    }
}

#[test]
fn docs_compatibility_lists_every_refused_keyword() {
    let doc = include_str!("../../docs/compatibility.md");
    for place in Place::ALL {
        for key in place.ansible() {
            if !place.implements(key) {
                assert!(
                    doc.contains(&format!("`{key}`")),
                    "docs/compatibility.md does not list `{key}` ({})",
                    place.noun()
                );
            }
        }
    }
}
