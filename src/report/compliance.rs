//! Compliance by tag: rule tags (CIS-style `cis_5_2_4`, or `ssh`) read as a
//! table of hosts that are compliant, drifted or failed. A host is
//! *failed* for a tag when one of its tasks with that tag failed (not
//! ignored, not rescued) or the host could not be reached; *drifted* when
//! one of them changed (or would change, in check mode): the host was not
//! as declared; *compliant* otherwise. Handlers do not count: they follow
//! a change, they are not a rule. It reads the finished report; it decides
//! nothing about the run.

use std::collections::BTreeMap;

use serde::Serialize;

use super::json::HostReport;
use crate::exec::Status;

/// One tag's hosts, each list sorted by name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TagCompliance {
    /// Hosts whose tasks of this tag were all as declared.
    pub compliant: Vec<String>,
    /// Hosts where a task of this tag changed (would change).
    pub drifted: Vec<String>,
    /// Hosts where a task of this tag failed, or that were unreachable.
    pub failed: Vec<String>,
}

/// Where one host stands for one tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Standing {
    Compliant,
    Drifted,
    Failed,
}

/// The table: per tag found on any host's tasks, where each host stands.
/// An unreachable host is failed for every tag.
pub fn by_tag(hosts: &BTreeMap<String, HostReport>) -> BTreeMap<String, TagCompliance> {
    let mut standing: BTreeMap<&str, BTreeMap<&str, Standing>> = BTreeMap::new();
    for (host, h) in hosts {
        for t in h.tasks.iter().filter(|t| !t.handler) {
            let s = match t.status {
                Status::Failed if !t.ignored && !t.rescued => Standing::Failed,
                Status::Changed => Standing::Drifted,
                _ => Standing::Compliant,
            };
            for tag in &t.tags {
                let entry = standing.entry(tag).or_default().entry(host).or_insert(Standing::Compliant);
                *entry = (*entry).max(s);
            }
        }
    }
    let mut table = BTreeMap::new();
    for (tag, per_host) in standing {
        let mut row = TagCompliance::default();
        for (host, h) in hosts {
            let s = if h.unreachable { Some(Standing::Failed) } else { per_host.get(host.as_str()).copied() };
            match s {
                Some(Standing::Compliant) => row.compliant.push(host.clone()),
                Some(Standing::Drifted) => row.drifted.push(host.clone()),
                Some(Standing::Failed) => row.failed.push(host.clone()),
                // The host has no task of this tag (`when`, another play).
                None => {}
            }
        }
        table.insert(tag.to_owned(), row);
    }
    table
}

/// The table as `--compliance-summary` prints it after the recap.
pub fn render(table: &BTreeMap<String, TagCompliance>) -> String {
    if table.is_empty() {
        return "\nCOMPLIANCE BY TAG\n(no task has a tag)\n".into();
    }
    let width = table.keys().map(String::len).max().unwrap_or(3).max(3);
    let mut out = format!("\nCOMPLIANCE BY TAG\n{:<width$}  compliant  drifted  failed\n", "tag");
    for (tag, row) in table {
        let total = row.compliant.len() + row.drifted.len() + row.failed.len();
        let mut line = format!(
            "{tag:<width$}  {:>9}  {:>7}  {:>6}",
            format!("{}/{total}", row.compliant.len()),
            row.drifted.len(),
            row.failed.len()
        );
        if !row.drifted.is_empty() {
            line.push_str(&format!("  drifted: {}", row.drifted.join(", ")));
        }
        if !row.failed.is_empty() {
            line.push_str(&format!("  failed: {}", row.failed.join(", ")));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::TaskEntry;

    fn task(status: Status, tags: &[&str]) -> TaskEntry {
        TaskEntry {
            play: "p".into(),
            task: "t".into(),
            module: "copy".into(),
            status,
            diff: None,
            msg: None,
            duration_ms: 0,
            ignored: false,
            rescued: false,
            handler: false,
            tags: tags.iter().map(|t| t.to_string()).collect(),
            backups: vec![],
        }
    }

    fn host(tasks: Vec<TaskEntry>) -> HostReport {
        HostReport { tasks, ..HostReport::default() }
    }

    #[test]
    fn each_host_stands_where_its_worst_task_of_the_tag_stands() {
        let mut ignored = task(Status::Failed, &["cis_1"]);
        ignored.ignored = true;
        let mut handler = task(Status::Changed, &["cis_1"]);
        handler.handler = true;
        let hosts: BTreeMap<String, HostReport> = [
            ("web1".to_owned(), host(vec![task(Status::Ok, &["cis_1", "ssh"]), ignored, handler])),
            ("web2".to_owned(), host(vec![task(Status::Changed, &["cis_1"]), task(Status::Ok, &["ssh"])])),
            ("web3".to_owned(), host(vec![task(Status::Changed, &["cis_1"]), task(Status::Failed, &["cis_1"])])),
            ("web4".to_owned(), HostReport { unreachable: true, ..HostReport::default() }),
        ]
        .into();
        let table = by_tag(&hosts);
        let cis = &table["cis_1"];
        assert_eq!(cis.compliant, ["web1"], "an ignored failure and a handler do not count");
        assert_eq!(cis.drifted, ["web2"]);
        assert_eq!(cis.failed, ["web3", "web4"]);
        assert_eq!(table["ssh"].compliant, ["web1", "web2"], "web3 has no ssh task");
        let text = render(&table);
        let row = |tag: &str| {
            let line = text.lines().find(|l| l.starts_with(tag)).unwrap_or_else(|| panic!("no {tag} row: {text}"));
            line.split_whitespace().collect::<Vec<_>>().join(" ")
        };
        assert_eq!(row("cis_1"), "cis_1 1/4 1 2 drifted: web2 failed: web3, web4", "{text}");
        assert_eq!(row("ssh"), "ssh 2/3 0 1 failed: web4", "{text}");
    }
}
