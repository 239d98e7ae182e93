//! Ansible Vault (issue 12, item 3): `stead vault ...`, vaulted variables in
//! a run, and the masking of what they decrypt.
//!
//! Interop runs the pinned `ansible-vault` (beside the oracle's
//! `ansible-playbook`, `scripts/oracle-setup`): what it writes stead reads,
//! and the reverse. Without it those tests print a note and check stead
//! alone; under `CI=true` a missing oracle fails them, as
//! `oracle::engines` does.
//!
//! Runs use the `local` connection: the vault is a controller-side feature,
//! and what must be proved is what leaves the controller's process.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::oracle;
use crate::support::Test;

const PASSWORD: &str = "correct horse battery";
const SECRET: &str = "s3cr3t-Vault-Value";

/// `ansible-vault` next to the oracle's `ansible-playbook`, if installed.
fn ansible_vault() -> Option<PathBuf> {
    let found = oracle::installed().map(|pb| Path::new(&pb).with_file_name("ansible-vault")).filter(|p| p.is_file());
    if found.is_none() {
        if std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("the Ansible oracle (ansible-vault) is missing under CI: run scripts/oracle-setup first");
        }
        eprintln!("note: oracle not installed (scripts/oracle-setup); vault interop checked with stead only");
    }
    found
}

/// Runs ansible-vault in `dir` with `args`, `stdin` on its standard input.
fn run_ansible_vault(bin: &Path, dir: &Path, args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    std::fs::write(dir.join("oracle.cfg"), "[defaults]\n").unwrap();
    let mut child = Command::new(bin)
        .args(args)
        .current_dir(dir)
        .env("ANSIBLE_CONFIG", dir.join("oracle.cfg"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join(".ansible-tmp"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ansible-vault");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A project with one `local` host and the password in `pw`.
fn project() -> Test {
    Test::new()
        .host_with("ctl", vec![("ansible_connection".into(), "local".into())])
        .file("pw", format!("{PASSWORD}\n"))
}

fn executable(test: &Test, rel: &str, body: &str) {
    test.write(rel, body);
    std::fs::set_permissions(test.project().join(rel), std::fs::Permissions::from_mode(0o700)).unwrap();
}

/// `stead vault encrypt-string` of `plain` (from stdin) named `name`.
fn stead_encrypt_string(test: &Test, name: &str, plain: &str, id_args: &[&str]) -> String {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stead"));
    cmd.args(["vault", "encrypt-string", "--name", name])
        .args(id_args)
        .current_dir(test.project())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use std::io::Write;
        child.stdin.take().unwrap().write_all(plain.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "encrypt-string failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn vault_files_round_trip_with_ansible_vault_both_ways() {
    let test = project().file("plain.yml", format!("db_password: {SECRET}\n"));
    let plain = format!("db_password: {SECRET}\n");
    // stead encrypts; stead and ansible-vault read it.
    test.write("by_stead.yml", &plain);
    test.run_args(["vault", "encrypt", "--vault-password-file", "pw", "by_stead.yml"]).assert_status(0);
    let text = std::fs::read_to_string(test.project().join("by_stead.yml")).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1.1;AES256\n"), "{text}");
    assert!(text.lines().skip(1).all(|l| l.len() <= 80), "{text}");
    assert!(!text.contains(SECRET));
    let view = test.run_args(["vault", "view", "--vault-password-file", "pw", "by_stead.yml"]);
    view.assert_status(0);
    assert_eq!(view.stdout, plain);
    if let Some(av) = ansible_vault() {
        let (code, out, err) =
            run_ansible_vault(&av, test.project(), &["view", "--vault-password-file", "pw", "by_stead.yml"], b"");
        assert_eq!((code, out.as_str()), (0, plain.as_str()), "ansible-vault view: {err}");
        // ansible-vault encrypts; stead views and decrypts it in place.
        test.write("by_ansible.yml", &plain);
        let (code, _, err) =
            run_ansible_vault(&av, test.project(), &["encrypt", "--vault-password-file", "pw", "by_ansible.yml"], b"");
        assert_eq!(code, 0, "ansible-vault encrypt: {err}");
        let view = test.run_args(["vault", "view", "--vault-password-file", "pw", "by_ansible.yml"]);
        view.assert_status(0);
        assert_eq!(view.stdout, plain);
        test.run_args(["vault", "decrypt", "--vault-password-file", "pw", "by_ansible.yml"]).assert_status(0);
        assert_eq!(std::fs::read_to_string(test.project().join("by_ansible.yml")).unwrap(), plain);
    }
    // decrypt to another file, stdin to stdout.
    test.run_args(["vault", "decrypt", "--vault-password-file", "pw", "by_stead.yml", "--output", "out.yml"])
        .assert_status(0);
    assert_eq!(std::fs::read_to_string(test.project().join("out.yml")).unwrap(), plain);
    test.run_args(["vault", "encrypt", "--vault-password-file", "pw", "by_stead.yml"])
        .assert_status(1)
        .assert_stderr_contains("already vault-encrypted");
}

#[test]
fn vault_ids_write_a_1_2_label_and_pick_the_matching_password_first() {
    let test = project().file("dev-pw", "another password\n").file("s.yml", format!("token: {SECRET}\n"));
    test.run_args(["vault", "encrypt", "--vault-id", "dev@dev-pw", "--vault-id", "prod@pw", "s.yml"])
        .assert_status(1)
        .assert_stderr_contains("--encrypt-vault-id");
    test.run_args([
        "vault",
        "encrypt",
        "--vault-id",
        "dev@dev-pw",
        "--vault-id",
        "prod@pw",
        "--encrypt-vault-id",
        "prod",
        "s.yml",
    ])
    .assert_status(0);
    let text = std::fs::read_to_string(test.project().join("s.yml")).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"), "{text}");
    let view = test.run_args(["vault", "view", "--vault-id", "dev@dev-pw", "--vault-id", "prod@pw", "s.yml"]);
    view.assert_status(0).assert_stdout_contains(SECRET);
    test.run_args(["vault", "view", "--vault-id", "dev@dev-pw", "s.yml"])
        .assert_status(1)
        .assert_stderr_contains("no vault secret could decrypt it (tried vault ids: dev)");
    if let Some(av) = ansible_vault() {
        let (code, out, err) = run_ansible_vault(&av, test.project(), &["view", "--vault-id", "prod@pw", "s.yml"], b"");
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(SECRET));
    }
    // rekey to a new labelled password.
    test.run_args(["vault", "rekey", "--vault-id", "prod@pw", "--new-vault-id", "dev@dev-pw", "s.yml"])
        .assert_status(0);
    let text = std::fs::read_to_string(test.project().join("s.yml")).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;dev\n"), "{text}");
    test.run_args(["vault", "view", "--vault-password-file", "pw", "s.yml"]).assert_status(1);
    test.run_args(["vault", "view", "--vault-password-file", "dev-pw", "s.yml"]).assert_status(0);
}

#[test]
fn an_executable_password_file_is_run_and_its_output_is_the_password() {
    let test = project().file("s.yml", format!("v: {SECRET}\n"));
    executable(&test, "pw.sh", &format!("#!/bin/sh\nprintf '%s\\n' '{PASSWORD}'\n"));
    test.run_args(["vault", "encrypt", "--vault-password-file", "pw.sh", "s.yml"]).assert_status(0);
    // The same password from the plain file opens it: the script's output is the password.
    test.run_args(["vault", "view", "--vault-password-file", "pw", "s.yml"])
        .assert_status(0)
        .assert_stdout_contains(SECRET);
    // The environment variable Ansible reads names it too.
    test.run_args_env(&[("ANSIBLE_VAULT_PASSWORD_FILE", "pw.sh")], ["vault", "view", "s.yml"])
        .assert_status(0)
        .assert_stdout_contains(SECRET);
    executable(&test, "fail.sh", "#!/bin/sh\necho nope >&2\nexit 3\n");
    test.run_args(["vault", "view", "--vault-password-file", "fail.sh", "s.yml"])
        .assert_status(1)
        .assert_stderr_contains("exited with 3");
    if let Some(av) = ansible_vault() {
        let (code, out, err) =
            run_ansible_vault(&av, test.project(), &["view", "--vault-password-file", "pw.sh", "s.yml"], b"");
        assert_eq!(code, 0, "{err}");
        assert!(out.contains(SECRET));
    }
}

/// A playbook that uses a vaulted variable in a message, a template (under
/// `--diff`), a failing command's stderr and a task name.
const PLAYBOOK: &str = r#"- hosts: all
  gather_facts: false
  vars_files:
    - secrets.yml
  tasks:
    - name: show it
      debug:
        msg: "the token is {{ api_token }}"
    - name: dump it
      debug:
        var: db_password
    - name: write config
      template:
        src: app.conf.j2
        dest: "{{ root }}/app.conf"
    - name: fail with it
      command: sh -c 'echo "bad token {{ api_token }}" >&2; exit 3'
"#;

fn masked_project(api_token_block: &str) -> Test {
    let test = project()
        .file("site.yml", PLAYBOOK)
        .file("app.conf.j2", "token={{ api_token }}\npassword={{ db_password }}\n")
        .file("secrets.yml", format!("{api_token_block}\n"))
        .file("group_vars/all.yml", format!("db_password: {SECRET}-db\n"));
    // group_vars encrypted whole.
    test.run_args(["vault", "encrypt", "--vault-password-file", "pw", "group_vars/all.yml"]).assert_status(0);
    test
}

#[test]
fn vaulted_values_are_masked_in_output_diffs_errors_and_reports() {
    let test = project();
    let block = stead_encrypt_string(&test, "api_token", SECRET, &["--vault-password-file", "pw"]);
    assert!(block.starts_with("api_token: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n"), "{block}");
    let test = masked_project(&block);
    let run = test.run_args([
        "apply",
        "site.yml",
        "--diff",
        "--vault-password-file",
        "pw",
        "--report",
        &format!("junit={}", test.project().join("r.xml").display()),
        "--report",
        &format!("jsonl={}", test.project().join("r.jsonl").display()),
    ]);
    run.assert_status(4)
        .assert_stdout_contains("the token is ********")
        .assert_stdout_contains("db_password: \"********\"")
        .assert_stdout_contains("+token=********")
        .assert_stdout_contains("bad token ********");
    // The host got the real values.
    assert_eq!(test.read("ctl", "app.conf"), format!("token={SECRET}\npassword={SECRET}-db\n"));
    let everything = [
        run.stdout.clone(),
        run.stderr.clone(),
        run.report_text(),
        std::fs::read_to_string(test.project().join("r.xml")).unwrap(),
        std::fs::read_to_string(test.project().join("r.jsonl")).unwrap(),
        std::fs::read_to_string(test.audit_log()).unwrap(),
    ];
    for (i, text) in everything.iter().enumerate() {
        assert!(!text.contains(SECRET), "output #{i} shows the plaintext:\n{text}");
    }
    let report = run.report_json();
    assert!(report["hosts"]["ctl"]["tasks"].to_string().contains("********"), "{report:#}");
}

#[test]
fn inline_values_from_ansible_vault_encrypt_string_run_in_a_playbook() {
    let Some(av) = ansible_vault() else { return };
    let test = project();
    let (code, block, err) = run_ansible_vault(
        &av,
        test.project(),
        &["encrypt_string", "--vault-id", "prod@pw", "--stdin-name", "api_token"],
        SECRET.as_bytes(),
    );
    assert_eq!(code, 0, "{err}");
    assert!(block.contains("!vault |"), "{block}");
    let test = masked_project(&block);
    let run = test.run_args(["apply", "site.yml", "--vault-id", "prod@pw"]);
    run.assert_status(4).assert_stdout_contains("the token is ********").assert_stdout_lacks(SECRET);
    assert_eq!(test.read("ctl", "app.conf"), format!("token={SECRET}\npassword={SECRET}-db\n"));
    // And the reverse: ansible-playbook reads what stead's encrypt-string wrote.
    let block = stead_encrypt_string(&test, "api_token", SECRET, &["--vault-id", "prod@pw"]);
    assert!(block.contains("$ANSIBLE_VAULT;1.2;AES256;prod"), "{block}");
    // The value alone, as ansible-vault view takes it on stdin.
    let body: String = block.lines().skip(1).map(|l| format!("{}\n", l.trim())).collect();
    let (code, out, err) =
        run_ansible_vault(&av, test.project(), &["decrypt", "--vault-id", "prod@pw", "--output", "-"], body.as_bytes());
    assert_eq!((code, out.as_str()), (0, SECRET), "{err}");
}

#[test]
fn a_vaulted_value_without_a_password_stops_the_run_with_its_location() {
    let test = project();
    let block = stead_encrypt_string(&test, "api_token", SECRET, &["--vault-password-file", "pw"]);
    let test = masked_project(&block);
    let run = test.run_args(["apply", "site.yml"]);
    run.assert_status(1)
        .assert_stderr_contains("group_vars/all.yml:1:1: it is vault-encrypted and no vault password was given")
        .assert_stderr_contains("--vault-password-file");
    assert!(!test.exists("ctl", "app.conf"), "nothing ran");
    assert!(run.report_text().is_empty(), "no report: the run never started");
    // An inline value in a playbook's vars file is located at its vault text.
    test.run_args(["vault", "decrypt", "--vault-password-file", "pw", "group_vars/all.yml"]).assert_status(0);
    test.run_args(["apply", "site.yml"])
        .assert_status(1)
        .assert_stderr_contains("secrets.yml:2:11: it is vault-encrypted and no vault password was given")
        .assert_stderr_contains("= hint: give the password with --vault-password-file");
    test.write("wrong", "not the password\n");
    test.run_args(["apply", "site.yml", "--vault-password-file", "wrong"])
        .assert_status(1)
        .assert_stderr_contains("no vault secret could decrypt it");
    test.run_args(["validate", "site.yml", "--vault-password-file", "wrong"]).assert_status(1);
    test.run_args(["apply", "site.yml", "--ask-vault-pass"])
        .assert_status(1)
        .assert_stderr_contains("stdin is not a terminal");
}

#[test]
fn vault_edit_reencrypts_and_leaves_no_plaintext_behind() {
    let test = project().file("s.yml", format!("v: {SECRET}\n"));
    test.run_args(["vault", "encrypt", "--vault-id", "prod@pw", "--encrypt-vault-id", "prod", "s.yml"])
        .assert_status(0);
    let seen = test.project().join("seen");
    executable(
        &test,
        "editor.sh",
        &format!(
            "#!/bin/sh\nstat -c %a \"$1\" > {seen}\nstat -c %a \"$(dirname \"$1\")\" >> {seen}\necho \"$1\" >> {seen}\necho 'added: 1' >> \"$1\"\n",
            seen = seen.display()
        ),
    );
    let editor = test.project().join("editor.sh").display().to_string();
    test.run_args_env(&[("EDITOR", editor.as_str())], ["vault", "edit", "--vault-id", "prod@pw", "s.yml"])
        .assert_status(0);
    let seen = std::fs::read_to_string(&seen).unwrap();
    let lines: Vec<&str> = seen.lines().collect();
    assert_eq!(&lines[..2], ["600", "700"], "{seen}");
    assert!(!Path::new(lines[2]).exists(), "the plaintext file is gone");
    assert!(!Path::new(lines[2]).parent().unwrap().exists(), "its private folder is gone");
    let text = std::fs::read_to_string(test.project().join("s.yml")).unwrap();
    assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"), "the label is kept: {text}");
    let view = test.run_args(["vault", "view", "--vault-id", "prod@pw", "s.yml"]);
    assert_eq!(view.stdout, format!("v: {SECRET}\nadded: 1\n"));
    // A failing editor leaves the file as it was, and no plaintext.
    executable(
        &test,
        "bad.sh",
        &format!("#!/bin/sh\necho \"$1\" > {}\nexit 1\n", test.project().join("seen2").display()),
    );
    let bad = test.project().join("bad.sh").display().to_string();
    test.run_args_env(&[("EDITOR", bad.as_str())], ["vault", "edit", "--vault-id", "prod@pw", "s.yml"])
        .assert_status(1)
        .assert_stderr_contains("unchanged");
    let tmp = std::fs::read_to_string(test.project().join("seen2")).unwrap();
    assert!(!Path::new(tmp.trim()).exists());
    assert_eq!(std::fs::read_to_string(test.project().join("s.yml")).unwrap(), text);
}

#[test]
fn vault_encrypted_copy_and_template_sources_are_decrypted_unless_decrypt_is_false() {
    let test = project()
        .file("files/key.pem", format!("-----BEGIN KEY-----\n{SECRET}-line\n-----END KEY-----\n"))
        .file("templates/t.j2", format!("x={SECRET}-tpl {{{{ 1 + 1 }}}}\n"))
        .file(
            "site.yml",
            r#"- hosts: all
  gather_facts: false
  tasks:
    - name: copy key
      copy:
        src: key.pem
        dest: "{{ root }}/key.pem"
    - name: copy raw
      copy:
        src: key.pem
        dest: "{{ root }}/key.vault"
        decrypt: false
    - name: template it
      template:
        src: t.j2
        dest: "{{ root }}/t"
"#,
        );
    for f in ["files/key.pem", "templates/t.j2"] {
        test.run_args(["vault", "encrypt", "--vault-password-file", "pw", f]).assert_status(0);
    }
    let vault_text = std::fs::read_to_string(test.project().join("files/key.pem")).unwrap();
    // Without the password nothing is contacted.
    test.run_args(["apply", "site.yml"])
        .assert_status(1)
        .assert_stderr_contains("key.pem:1:1: it is vault-encrypted and no vault password was given");
    assert!(!test.exists("ctl", "key.pem"));
    let run = test.run_args(["apply", "site.yml", "--diff", "--vault-password-file", "pw"]);
    run.assert_status(0).assert_changed(3);
    assert_eq!(test.read("ctl", "key.pem"), format!("-----BEGIN KEY-----\n{SECRET}-line\n-----END KEY-----\n"));
    assert_eq!(test.read("ctl", "key.vault"), vault_text);
    assert_eq!(test.read("ctl", "t"), format!("x={SECRET}-tpl 2\n"));
    assert!(!run.stdout.contains(SECRET), "{}", run.stdout);
    assert!(!run.report_text().contains(SECRET));
    run.assert_stdout_contains("+********");
}

#[test]
fn a_signal_while_the_editor_runs_leaves_the_vault_unchanged_and_no_plaintext() {
    let test = project().file("s.yml", format!("v: {SECRET}\n"));
    test.run_args(["vault", "encrypt", "--vault-password-file", "pw", "s.yml"]).assert_status(0);
    let before = std::fs::read_to_string(test.project().join("s.yml")).unwrap();
    let seen = test.project().join("seen");
    // The editor records the file, then changes it slowly.
    executable(
        &test,
        "slow.sh",
        &format!("#!/bin/sh\necho \"$1\" > {}.tmp && mv {0}.tmp {0}\nsleep 2\necho 'x: 1' >> \"$1\"\n", seen.display()),
    );
    let editor = test.project().join("slow.sh");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stead"))
        .args(["vault", "edit", "--vault-password-file", "pw", "s.yml"])
        .current_dir(test.project())
        .env("EDITOR", &editor)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !seen.exists() {
        assert!(std::time::Instant::now() < deadline, "the editor never started");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // SIGTERM to the stead process this test started (by its PID only).
    let status = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(status.success());
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let code = child.wait().unwrap().code();
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    let tmp = std::fs::read_to_string(&seen).unwrap();
    assert!(!Path::new(tmp.trim()).exists(), "the plaintext file is gone");
    assert_eq!(std::fs::read_to_string(test.project().join("s.yml")).unwrap(), before);
}

#[test]
fn writing_a_vault_through_a_symlink_keeps_the_link() {
    let test = project().file("real.yml", format!("v: {SECRET}\n"));
    std::os::unix::fs::symlink("real.yml", test.project().join("link.yml")).unwrap();
    test.run_args(["vault", "encrypt", "--vault-password-file", "pw", "link.yml"]).assert_status(0);
    assert!(test.project().join("link.yml").is_symlink());
    assert!(std::fs::read_to_string(test.project().join("real.yml")).unwrap().starts_with("$ANSIBLE_VAULT;1.1;AES256"));
    test.run_args(["vault", "decrypt", "--vault-password-file", "pw", "link.yml"]).assert_status(0);
    assert!(test.project().join("link.yml").is_symlink());
    assert_eq!(std::fs::read_to_string(test.project().join("real.yml")).unwrap(), format!("v: {SECRET}\n"));
}

#[test]
fn a_saved_plan_never_holds_a_decrypted_value_and_applies_with_the_password() {
    let test = project()
        .file("site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: write config\n      template: {src: app.conf.j2, dest: \"{{ root }}/app.conf\"}\n")
        .file("app.conf.j2", "password={{ db_password }}\n")
        .file("group_vars/all.yml", format!("db_password: {SECRET}-db\n"));
    test.run_args(["vault", "encrypt", "--vault-password-file", "pw", "group_vars/all.yml"]).assert_status(0);
    let plan = test.project().join("plan.json");
    test.run_args(["plan", "site.yml", "--vault-password-file", "pw", "--out", plan.to_str().unwrap()])
        .assert_status(0);
    let text = std::fs::read_to_string(&plan).unwrap();
    assert!(!text.contains(SECRET), "the plan file shows the plaintext:\n{text}");
    assert!(text.contains("+password=********"), "the diff is kept, masked:\n{text}");
    test.run_args(["apply", plan.to_str().unwrap(), "--vault-password-file", "pw"]).assert_status(0);
    assert_eq!(test.read("ctl", "app.conf"), format!("password={SECRET}-db\n"));
}

#[test]
fn dash_vv_masks_a_vaulted_value_in_the_scripts_it_shows() {
    let test = project()
        .file("site.yml", "- hosts: all\n  gather_facts: false\n  tasks:\n    - name: use it\n      command: \"echo {{ db_password }}\"\n")
        .file("group_vars/all.yml", format!("db_password: {SECRET}-db\n"));
    test.run_args(["vault", "encrypt", "--vault-password-file", "pw", "group_vars/all.yml"]).assert_status(0);
    let run = test.run_args(["apply", "site.yml", "-vv", "--vault-password-file", "pw"]);
    run.assert_status(0).assert_stdout_contains("    | echo ********");
    assert!(!run.stdout.contains(SECRET) && !run.stderr.contains(SECRET), "{}", run.stdout);
}
