//! Diffs that modules report: file content (unified) or before/after state.

use similar::TextDiff;

/// What a task changes, or would change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diff {
    /// Label of the old side (`before: /etc/motd`).
    pub before_header: String,
    /// Label of the new side.
    pub after_header: String,
    /// Old text (content, or a rendering of the old state).
    pub before: String,
    /// New text.
    pub after: String,
}

impl Diff {
    /// A diff of a file's content.
    pub fn file(path: &str, before: &str, after: &str) -> Self {
        Diff {
            before_header: format!("before: {path}"),
            after_header: format!("after: {path}"),
            before: before.to_owned(),
            after: after.to_owned(),
        }
    }

    /// A diff of some state (mode, owner, presence), one `key: value` per line.
    pub fn state(path: &str, before: &[(&str, String)], after: &[(&str, String)]) -> Self {
        let lines = |pairs: &[(&str, String)]| pairs.iter().map(|(k, v)| format!("{k}: {v}\n")).collect::<String>();
        Diff {
            before_header: format!("before: {path}"),
            after_header: format!("after: {path}"),
            before: lines(before),
            after: lines(after),
        }
    }

    /// Renders as a unified diff (`--- before`, `+++ after`, hunks).
    pub fn unified(&self) -> String {
        TextDiff::from_lines(&self.before, &self.after)
            .unified_diff()
            .context_radius(3)
            .header(&self.before_header, &self.after_header)
            .missing_newline_hint(true)
            .to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unified_diff_marks_changed_lines() {
        let d = Diff::file("/etc/motd", "a\nb\n", "a\nc\n").unified();
        assert!(d.contains("--- before: /etc/motd"));
        assert!(d.contains("-b\n+c\n"), "{d}");
    }
}
