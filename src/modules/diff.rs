//! Diffs that modules report: file content (unified) or before/after state.

use similar::TextDiff;

/// Content larger than this (both sides together) gets a one-line summary
/// instead of a diff.
pub const MAX_DIFF_BYTES: usize = 256 * 1024;

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

    /// Renders as a unified diff (`--- before`, `+++ after`, hunks). A diff
    /// of more than [`MAX_DIFF_BYTES`] is replaced by one line saying so: a
    /// 50 MB new file must not print 50 MB.
    pub fn unified(&self) -> String {
        if self.before.len() + self.after.len() > MAX_DIFF_BYTES {
            return format!(
                "--- {}\n+++ {}\n@@ diff not shown: {} bytes before, {} bytes after (more than {} KiB) @@\n",
                self.before_header,
                self.after_header,
                self.before.len(),
                self.after.len(),
                MAX_DIFF_BYTES / 1024
            );
        }
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

    /// Issue 12: `plan` of a 50 MB new file printed a 50 MB diff.
    #[test]
    fn a_huge_diff_is_summarised_in_one_line() {
        let big = "x\n".repeat(MAX_DIFF_BYTES);
        let d = Diff::file("/srv/big", "", &big).unified();
        assert!(d.len() < 300, "{} bytes", d.len());
        assert!(d.contains("diff not shown"), "{d}");
    }

    #[test]
    fn unified_diff_marks_changed_lines() {
        let d = Diff::file("/etc/motd", "a\nb\n", "a\nc\n").unified();
        assert!(d.contains("--- before: /etc/motd"));
        assert!(d.contains("-b\n+c\n"), "{d}");
    }
}
