//! Shared fixtures: a real sshd (Tier A), isolated Tier-B hosts, the fluent
//! builder, tree fingerprints, a TCP tripwire, and small helpers to write
//! playbooks.

// Not every topic file uses every helper.
#![allow(dead_code)]

pub mod apt_repo;
pub mod builder;
pub mod net;
pub mod oracle;
pub mod sshd;
pub mod testhosts;
pub mod tree;

pub use builder::{Outcome, Test};
pub use sshd::Sshd;
pub use testhosts::TestHosts;

/// Removes the leading newline and the common indentation of a raw string
/// literal, so YAML can be written indented inside test code.
pub fn unindent(text: &str) -> String {
    let text = text.strip_prefix('\n').unwrap_or(text);
    let indent =
        text.lines().filter(|l| !l.trim().is_empty()).map(|l| l.len() - l.trim_start().len()).min().unwrap_or(0);
    let mut out = String::new();
    for line in text.lines() {
        out.push_str(line.get(indent..).unwrap_or("").trim_end_matches(' '));
        out.push('\n');
    }
    // A literal that ends with `\n    ` would otherwise leave a blank line.
    while out.ends_with("\n\n") {
        out.pop();
    }
    out
}

/// One play on all hosts, without fact gathering, running `tasks` (a YAML
/// list, written at any indentation).
pub fn play(tasks: &str) -> String {
    play_vars("", tasks)
}

/// Like [`play`], with a `vars:` mapping (YAML, any indentation).
pub fn play_vars(vars: &str, tasks: &str) -> String {
    let mut out = String::from("- name: test play\n  hosts: all\n  gather_facts: false\n");
    if !vars.trim().is_empty() {
        out.push_str("  vars:\n");
        push_indented(&mut out, &unindent(vars), "    ");
    }
    out.push_str("  tasks:\n");
    push_indented(&mut out, &unindent(tasks), "    ");
    out
}

fn push_indented(out: &mut String, text: &str, prefix: &str) {
    for line in text.lines() {
        if !line.is_empty() {
            out.push_str(prefix);
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Asserts that `text` has a line equal to `line` (ignoring surrounding
/// whitespace), as unified diffs print `-old` and `+new`.
#[track_caller]
pub fn assert_has_line(outcome: &Outcome, line: &str) {
    assert!(
        outcome.stdout.lines().any(|l| l.trim() == line),
        "stdout has no line {line:?}\ncommand: {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
        outcome.command,
        outcome.stdout,
        outcome.stderr
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unindent_strips_common_indentation() {
        assert_eq!(unindent("\n    - a:\n        b\n    - c\n    "), "- a:\n    b\n- c\n");
    }

    #[test]
    fn play_nests_tasks_under_one_play() {
        let text = play("- ping:\n");
        assert_eq!(text, "- name: test play\n  hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n");
    }
}
