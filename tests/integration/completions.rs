//! `stead completions` and `stead man`, generated from the one clap
//! definition (issue 11): the bash script really completes in bash, the
//! manual pages render, and every flag appears once in both.

use std::process::Command;

fn stead(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_stead")).args(args).output().expect("run stead");
    assert!(out.status.success(), "stead {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).expect("utf-8")
}

/// What bash completes for the words typed so far (the last one is completed).
fn bash_complete(script: &str, words: &[&str]) -> Vec<String> {
    let line = words.join(" ");
    let program = format!(
        "{script}\nCOMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}\n\
         _stead stead \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words.len() - 1
    );
    let out = Command::new("bash").arg("-c").arg(program).output().expect("bash");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

#[test]
fn bash_completes_commands_and_flags() {
    let script = stead(&["completions", "bash"]);
    let syntax = Command::new("bash").arg("-n").arg("-c").arg(&script).output().unwrap();
    assert!(syntax.status.success(), "{}", String::from_utf8_lossy(&syntax.stderr));
    assert_eq!(bash_complete(&script, &["stead", "ap"]), ["apply"]);
    assert!(bash_complete(&script, &["stead", "plan", "--det"]).contains(&"--detailed-exitcode".to_owned()));
    let reports = bash_complete(&script, &["stead", "apply", "--ou"]);
    assert!(reports.contains(&"--out".to_owned()) && reports.contains(&"--output".to_owned()), "{reports:?}");
}

#[test]
fn zsh_and_fish_scripts_name_every_command() {
    let zsh = stead(&["completions", "zsh"]);
    assert!(zsh.starts_with("#compdef stead"), "{}", &zsh[..80.min(zsh.len())]);
    let fish = stead(&["completions", "fish"]);
    for command in ["apply", "plan", "validate", "exec", "inventory", "facts", "audit", "completions", "man"] {
        assert!(zsh.contains(&format!("'{command}:")), "zsh lacks {command}");
        assert!(fish.contains(&format!("-a \"{command}\"")), "fish lacks {command}");
    }
    let bad = Command::new(env!("CARGO_BIN_EXE_stead")).args(["completions", "tcsh"]).output().unwrap();
    assert_eq!(bad.status.code(), Some(1), "an unknown shell is a usage error");
}

#[test]
fn the_manual_pages_render_with_every_flag() {
    let page = stead(&["man"]);
    assert!(page.contains(".TH stead 1"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    stead(&["man", "--out-dir", dir.path().to_str().unwrap()]);
    let apply = std::fs::read_to_string(dir.path().join("stead-apply.1")).expect("stead-apply.1");
    for flag in ["detailed\\-exitcode", "report", "shard", "out"] {
        assert!(apply.contains(&format!("\\-\\-{flag}")), "stead-apply.1 lacks --{flag}");
    }
    if let Ok(out) =
        Command::new("groff").args(["-man", "-Tutf8", "-ww", "-z"]).arg(dir.path().join("stead-apply.1")).output()
    {
        assert!(out.status.success() && out.stderr.is_empty(), "groff: {}", String::from_utf8_lossy(&out.stderr));
    }
}
