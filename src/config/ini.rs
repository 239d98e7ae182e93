//! ansible.cfg's INI dialect, read as Python's `configparser` reads it for
//! Ansible (`ConfigParser(inline_comment_prefixes=(';',))`, values taken
//! raw, so `%` is never interpolated).
//!
//! - `[section]` headers; `key = value` or `key: value` (the first `=` or
//!   `:` splits); keys are case-insensitive (lowercased), values trimmed;
//! - whole-line comments start with `#` or `;`; an inline comment is a `;`
//!   after whitespace;
//! - an indented line continues the previous value (joined with `\n`);
//! - a key before any section, a line without `=`/`:`, a key given twice in
//!   a section and a section given twice are errors, as configparser's
//!   strict mode makes them.

use std::path::Path;

use super::{Origin, Problem};

/// One `key = value` of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The section, as written (`defaults`).
    pub section: String,
    /// The key, lowercased.
    pub key: String,
    /// The value, trimmed, continuation lines joined with `\n`.
    pub value: String,
    /// The line of the key (from 1).
    pub line: usize,
}

/// Reads the entries of an INI text, or every syntax problem in it.
pub fn parse(text: &str, path: &Path) -> Result<Vec<Entry>, Vec<Problem>> {
    let at = |line: usize| Origin::File { path: path.to_path_buf(), line };
    let mut entries: Vec<Entry> = Vec::new();
    let mut problems = Vec::new();
    let mut sections: Vec<(String, usize)> = Vec::new();
    let mut section: Option<String> = None;
    // Whether the previous line was a key whose value may continue.
    let mut continuing = false;
    for (n, raw) in text.lines().enumerate() {
        let line = n + 1;
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            continuing = false;
            continue;
        }
        if trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        let value_part = strip_inline_comment(trimmed);
        if raw.starts_with([' ', '\t']) && continuing {
            if let Some(last) = entries.last_mut() {
                if !value_part.is_empty() {
                    last.value.push('\n');
                    last.value.push_str(value_part);
                }
            }
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|l| l.split_once(']')).map(|(n, _)| n) {
            let name = name.to_owned();
            if let Some((_, first)) = sections.iter().find(|(s, _)| *s == name) {
                problems.push(Problem::new(
                    at(line),
                    format!("section [{name}] is given twice (first on line {first})"),
                    Some("merge the two sections: Ansible refuses a file that repeats one".into()),
                ));
            } else {
                sections.push((name.clone(), line));
            }
            section = Some(name);
            continuing = false;
            continue;
        }
        let Some(split) = value_part.find(['=', ':']) else {
            problems.push(Problem::new(
                at(line),
                format!("`{trimmed}` is not a `key = value` line"),
                Some("write `key = value`, or comment the line out with `#`".into()),
            ));
            continuing = false;
            continue;
        };
        let key = value_part[..split].trim().to_lowercase();
        let value = value_part[split + 1..].trim().to_owned();
        let Some(section) = &section else {
            problems.push(Problem::new(
                at(line),
                format!("`{key}` comes before any [section]"),
                Some("put it under [defaults] (or the section it belongs to)".into()),
            ));
            continue;
        };
        if let Some(first) = entries.iter().find(|e| e.section == *section && e.key == key) {
            problems.push(Problem::new(
                at(line),
                format!("`{key}` is given twice in [{section}] (first on line {})", first.line),
                Some("keep one of them: Ansible refuses a file that repeats a key".into()),
            ));
            continue;
        }
        entries.push(Entry { section: section.clone(), key, value, line });
        continuing = true;
    }
    if problems.is_empty() {
        Ok(entries)
    } else {
        Err(problems)
    }
}

/// The text before an inline `;` comment (one preceded by whitespace).
fn strip_inline_comment(text: &str) -> &str {
    let bytes = text.as_bytes();
    for (i, b) in bytes.iter().enumerate() {
        if *b == b';' && i > 0 && bytes[i - 1].is_ascii_whitespace() {
            return text[..i].trim_end();
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(text: &str) -> Vec<(String, String, String, usize)> {
        parse(text, Path::new("/p/ansible.cfg"))
            .unwrap()
            .into_iter()
            .map(|e| (e.section, e.key, e.value, e.line))
            .collect()
    }

    #[test]
    fn sections_keys_comments_and_continuations() {
        let got = entries(
            "# top comment\n; another\n[defaults]\nForks = 10 ; inline\ninventory: hosts.ini\nx=a;b\n\
             [ssh_connection]\nssh_args = -o A=1\n  -o B=2\n\n[empty]\n",
        );
        assert_eq!(
            got,
            vec![
                ("defaults".into(), "forks".into(), "10".into(), 4),
                ("defaults".into(), "inventory".into(), "hosts.ini".into(), 5),
                ("defaults".into(), "x".into(), "a;b".into(), 6),
                ("ssh_connection".into(), "ssh_args".into(), "-o A=1\n-o B=2".into(), 8),
            ]
        );
    }

    #[test]
    fn the_first_delimiter_splits_and_percent_stays_raw() {
        let got = entries("[ssh_connection]\ncontrol_path = %(directory)s/%%h-%%r\nk: a=b\n");
        assert_eq!(got[0].2, "%(directory)s/%%h-%%r");
        assert_eq!((got[1].1.as_str(), got[1].2.as_str()), ("k", "a=b"));
    }

    #[test]
    fn strict_mode_problems_are_located() {
        let problems =
            parse("forks = 1\n[defaults]\nnonsense\nforks = 2\nforks = 3\n[defaults]\n", Path::new("/p/a.cfg"))
                .unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 4, "{text:?}");
        assert!(text[0].starts_with("/p/a.cfg:1: `forks` comes before any [section]"), "{text:?}");
        assert!(text[1].starts_with("/p/a.cfg:3: `nonsense` is not a `key = value` line"), "{text:?}");
        assert!(text[2].starts_with("/p/a.cfg:5: `forks` is given twice in [defaults] (first on line 4)"), "{text:?}");
        assert!(text[3].starts_with("/p/a.cfg:6: section [defaults] is given twice"), "{text:?}");
    }
}
