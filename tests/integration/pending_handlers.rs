//! Handlers that a failed run notified but never ran are not lost: the
//! next run of the play runs them first, and says so (Ansible forgets
//! them: its next run sees the config unchanged and never restarts).

use crate::support::{Sshd, Test};

fn playbook(fail: bool) -> String {
    let breaks = if fail { "    - name: breaks\n      command: /bin/false\n" } else { "" };
    format!(
        "- name: app\n  hosts: all\n  gather_facts: false\n  tasks:\n    - name: config\n      copy: {{content: \"v1\\n\", dest: \"{{{{ root }}}}/app.conf\"}}\n      notify: restart app\n{breaks}  handlers:\n    - name: restart app\n      shell: \"echo restarted >> {{{{ root }}}}/restarts\"\n"
    )
}

#[test]
fn handlers_a_failed_run_left_pending_run_first_on_the_next_run_and_only_once() {
    let sshd = Sshd::start();
    let test = Test::new().host("web1", &sshd).file("site.yml", playbook(true));
    let failed = test.run_args(["apply", "site.yml"]);
    failed.assert_status(4);
    assert_eq!(test.read("web1", "app.conf"), "v1\n");
    assert!(!test.exists("web1", "restarts"), "the failed run ran its handler");
    let store = std::fs::read_to_string(test.pending_handlers()).unwrap();
    assert!(store.contains("\"web1\"") && store.contains("restart app"), "{store}");

    // A dry run shows the handler would run, and keeps it pending.
    test.write("site.yml", playbook(false));
    let plan = test.run_args(["plan", "site.yml"]);
    plan.assert_status(0).assert_output_contains("running handlers an earlier run notified but never ran");
    // (A shell handler is skipped in check mode, as in Ansible; it is there.)
    plan.assert_stdout_contains("RUNNING HANDLER [restart app]");
    assert!(!test.exists("web1", "restarts"));

    let fixed = test.run_args(["apply", "site.yml"]);
    fixed.assert_status(0).assert_output_contains(
        "web1: running handlers an earlier run notified but never ran (it failed or was interrupted): restart app",
    );
    assert_eq!(fixed.changed_tasks("web1"), ["restart app"], "the config was already in place");
    assert_eq!(test.read("web1", "restarts"), "restarted\n");
    let store = std::fs::read_to_string(test.pending_handlers()).unwrap();
    assert!(!store.contains("restart app"), "{store}");

    let again = test.run_args(["apply", "site.yml"]);
    again.assert_status(0);
    assert!(again.changed_tasks("web1").is_empty());
    assert_eq!(test.read("web1", "restarts"), "restarted\n", "the handler ran once");
}
