//! Regular expressions with Python's `re` semantics, for every `regexp` a
//! playbook writes (`replace`, and in time `lineinfile` and the `regex_*`
//! filters).
//!
//! Ansible evaluates these patterns with Python's `re`, so roles rely on
//! backreferences (`^(\w+) .* \1$`), lookaround, `(?P<name>...)` and
//! `\g<name>` in replacements, none of which the `regex` crate has. This
//! layer compiles with `fancy-regex` (backtracking where a pattern needs
//! it, the `regex` crate's automata elsewhere) after translating the few
//! spellings that differ: `\Z` (Python's end of text), `{,n}`, and `$`
//! outside multi-line mode (Python's matches before a final newline too).
//! Replacement templates are parsed as Python parses them: `\1`, `\g<1>`,
//! `\g<name>`, `\n`/`\t`-style escapes, an unknown letter escape an error.
//!
//! Matching can fail (a pathological pattern exhausts the backtracking
//! budget): every search returns a `Result`, never panics.

use fancy_regex::{Captures, Regex, RegexBuilder};

/// A pattern that does not compile, a template that does not parse, or a
/// search that gave up.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PyRegexError {
    /// The pattern is not a valid regular expression.
    #[error("invalid regular expression `{pattern}`: {message}")]
    Pattern {
        /// The pattern as written.
        pattern: String,
        /// Why it does not compile.
        message: String,
    },
    /// The replacement template is invalid (Python's `re.error`).
    #[error("invalid replacement `{template}`: {message}")]
    Template {
        /// The template as written.
        template: String,
        /// What is wrong.
        message: String,
    },
    /// The search exceeded its backtracking budget.
    #[error("regular expression `{pattern}` gave up: {message}")]
    Search {
        /// The pattern as written.
        pattern: String,
        /// The engine's reason.
        message: String,
    },
}

/// Python's `re` flags that Ansible's modules pass.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Flags {
    /// `re.MULTILINE`: `^` and `$` match at every line.
    pub multiline: bool,
    /// `re.DOTALL`: `.` matches a newline too.
    pub dotall: bool,
    /// `re.IGNORECASE`.
    pub ignorecase: bool,
}

/// A compiled Python-style regular expression.
#[derive(Debug, Clone)]
pub struct PyRegex {
    source: String,
    regex: Regex,
}

/// One match: its span and its groups' spans (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// Span of the whole match.
    pub span: (usize, usize),
    /// Span of every group (`None`: the group did not take part).
    pub groups: Vec<Option<(usize, usize)>>,
    /// Names of the named groups, with their index.
    pub names: Vec<(String, usize)>,
}

impl Match {
    /// The span of a group by name.
    pub fn named(&self, name: &str) -> Option<(usize, usize)> {
        let (_, i) = self.names.iter().find(|(n, _)| n == name)?;
        self.groups.get(*i).copied().flatten()
    }
}

impl PyRegex {
    /// Compiles `pattern` with `flags`.
    pub fn new(pattern: &str, flags: Flags) -> Result<PyRegex, PyRegexError> {
        let translated = translate(pattern, flags.multiline || inline_multiline(pattern));
        let regex = RegexBuilder::new(&translated)
            .multi_line(flags.multiline)
            .dot_matches_new_line(flags.dotall)
            .case_insensitive(flags.ignorecase)
            .build()
            .map_err(|e| PyRegexError::Pattern { pattern: pattern.to_owned(), message: e.to_string() })?;
        Ok(PyRegex { source: pattern.to_owned(), regex })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    fn search_error(&self, e: fancy_regex::Error) -> PyRegexError {
        PyRegexError::Search { pattern: self.source.clone(), message: e.to_string() }
    }

    /// Python's `re.search(...) is not None`.
    pub fn is_match(&self, text: &str) -> Result<bool, PyRegexError> {
        self.regex.is_match(text).map_err(|e| self.search_error(e))
    }

    /// Python's `re.search`: the first match, with its groups.
    pub fn search(&self, text: &str) -> Result<Option<Match>, PyRegexError> {
        let caps = self.regex.captures(text).map_err(|e| self.search_error(e))?;
        Ok(caps.map(|c| self.to_match(&c)))
    }

    fn to_match(&self, caps: &Captures<'_, str>) -> Match {
        let whole = caps.get(0).map(|m| (m.start(), m.end())).unwrap_or((0, 0));
        let groups = (0..caps.len()).map(|i| caps.get(i).map(|m| (m.start(), m.end()))).collect();
        let names = self.regex.capture_names().enumerate().filter_map(|(i, n)| n.map(|n| (n.to_owned(), i))).collect();
        Match { span: whole, groups, names }
    }

    /// Python's `re.findall`-style walk over every non-overlapping match,
    /// with Python 3.7's rule for empty matches: one may follow a
    /// non-empty match directly; after an empty match the search resumes
    /// one character later.
    pub fn matches(&self, text: &str) -> Result<Vec<Match>, PyRegexError> {
        let mut out = Vec::new();
        let mut pos = 0;
        while pos <= text.len() {
            let Some(caps) = self.regex.captures_from_pos(text, pos).map_err(|e| self.search_error(e))? else {
                break;
            };
            let m = self.to_match(&caps);
            let (start, end) = m.span;
            out.push(m);
            pos = if end > start {
                end
            } else {
                // The next character boundary after an empty match.
                match text[end..].chars().next() {
                    Some(c) => end + c.len_utf8(),
                    None => break,
                }
            };
        }
        Ok(out)
    }

    /// Python's `re.subn(pattern, template, text)`: the new text and the
    /// number of replacements.
    pub fn subn(&self, text: &str, template: &Template) -> Result<(String, usize), PyRegexError> {
        self.subn_limit(text, template, usize::MAX)
    }

    /// Like [`PyRegex::subn`], replacing at most `limit` matches (Python's
    /// `count`).
    pub fn subn_limit(&self, text: &str, template: &Template, limit: usize) -> Result<(String, usize), PyRegexError> {
        let mut matches = self.matches(text)?;
        matches.truncate(limit);
        for m in &matches {
            template.check(m)?;
        }
        let mut out = String::with_capacity(text.len());
        let mut last = 0;
        for m in &matches {
            out.push_str(&text[last..m.span.0]);
            template.expand_into(text, m, &mut out);
            last = m.span.1;
        }
        out.push_str(&text[last..]);
        Ok((out, matches.len()))
    }
}

/// Whether the pattern turns on multi-line mode itself (`(?m)`, `(?im:`).
fn inline_multiline(pattern: &str) -> bool {
    pattern.match_indices("(?").any(|(i, _)| {
        let flags: String = pattern[i + 2..].chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        flags.contains('m') && matches!(pattern[i + 2 + flags.len()..].chars().next(), Some(')' | ':'))
    })
}

/// Rewrites Python-only spellings into fancy-regex's.
fn translate(pattern: &str, multiline: bool) -> String {
    let mut out = String::with_capacity(pattern.len() + 8);
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_class = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '\\' if i + 1 < chars.len() => {
                let n = chars[i + 1];
                if n == 'Z' && !in_class {
                    out.push_str("\\z");
                } else {
                    out.push('\\');
                    out.push(n);
                }
                i += 2;
                continue;
            }
            '[' if !in_class => {
                in_class = true;
                out.push(c);
                // A `]` (or `^]`) right after the opening bracket is literal.
                if chars.get(i + 1) == Some(&'^') {
                    out.push('^');
                    i += 1;
                }
                if chars.get(i + 1) == Some(&']') {
                    out.push_str("\\]");
                    i += 1;
                }
            }
            ']' if in_class => {
                in_class = false;
                out.push(c);
            }
            '{' if !in_class && chars.get(i + 1) == Some(&',') => out.push_str("{0"),
            '$' if !in_class && !multiline => out.push_str("(?:\\z|(?=\\n\\z))"),
            _ => out.push(c),
        }
        i += 1;
    }
    out
}

/// A parsed Python replacement template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    pieces: Vec<Piece>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Text(String),
    Group(usize),
    Named(String),
}

impl Template {
    /// Parses `template` as Python's `re` does.
    pub fn parse(template: &str) -> Result<Template, PyRegexError> {
        let bad = |message: String| PyRegexError::Template { template: template.to_owned(), message };
        let chars: Vec<char> = template.chars().collect();
        let mut pieces = Vec::new();
        let mut text = String::new();
        let mut i = 0;
        while i < chars.len() {
            let c = chars[i];
            i += 1;
            if c != '\\' {
                text.push(c);
                continue;
            }
            let Some(&n) = chars.get(i) else {
                return Err(bad("bad escape (end of pattern)".into()));
            };
            i += 1;
            let mut group = None;
            match n {
                'g' => {
                    if chars.get(i) != Some(&'<') {
                        return Err(bad("missing < after \\g".into()));
                    }
                    let Some(len) = chars[i + 1..].iter().position(|&c| c == '>') else {
                        return Err(bad("missing >, unterminated name".into()));
                    };
                    let name: String = chars[i + 1..i + 1 + len].iter().collect();
                    i += len + 2;
                    if name.is_empty() {
                        return Err(bad("missing group name".into()));
                    }
                    group = Some(match name.parse::<usize>() {
                        Ok(n) => Piece::Group(n),
                        Err(_) => Piece::Named(name),
                    });
                }
                '0' => {
                    // Octal escape: up to three octal digits.
                    let mut value = 0u32;
                    let mut count = 0;
                    while count < 2 && chars.get(i).is_some_and(|c| c.is_digit(8)) {
                        value = value * 8 + chars[i].to_digit(8).unwrap_or(0);
                        i += 1;
                        count += 1;
                    }
                    text.push(char::from_u32(value).unwrap_or('\0'));
                }
                '1'..='9' => {
                    let mut number = n.to_digit(10).unwrap_or(0) as usize;
                    if chars.get(i).is_some_and(char::is_ascii_digit) {
                        number = number * 10 + chars[i].to_digit(10).unwrap_or(0) as usize;
                        i += 1;
                    }
                    group = Some(Piece::Group(number));
                }
                'n' => text.push('\n'),
                't' => text.push('\t'),
                'r' => text.push('\r'),
                'f' => text.push('\x0c'),
                'v' => text.push('\x0b'),
                'a' => text.push('\x07'),
                'b' => text.push('\x08'),
                '\\' => text.push('\\'),
                other if other.is_ascii_alphabetic() => return Err(bad(format!("bad escape \\{other}"))),
                other => {
                    text.push('\\');
                    text.push(other);
                }
            }
            if let Some(g) = group {
                if !text.is_empty() {
                    pieces.push(Piece::Text(std::mem::take(&mut text)));
                }
                pieces.push(g);
            }
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text));
        }
        Ok(Template { source: template.to_owned(), pieces })
    }

    /// Whether the template only inserts text (no group references).
    pub fn is_literal(&self) -> bool {
        self.pieces.iter().all(|p| matches!(p, Piece::Text(_)))
    }

    /// Fails as Python does when a group the template names does not exist.
    fn check(&self, m: &Match) -> Result<(), PyRegexError> {
        for piece in &self.pieces {
            let ok = match piece {
                Piece::Text(_) => true,
                Piece::Group(i) => *i < m.groups.len(),
                Piece::Named(n) => m.names.iter().any(|(name, _)| name == n),
            };
            if !ok {
                let what = match piece {
                    Piece::Named(n) => format!("unknown group name '{n}'"),
                    Piece::Group(i) => format!("invalid group reference {i}"),
                    Piece::Text(_) => String::new(),
                };
                return Err(PyRegexError::Template { template: self.source.clone(), message: what });
            }
        }
        Ok(())
    }

    fn expand_into(&self, text: &str, m: &Match, out: &mut String) {
        for piece in &self.pieces {
            let span = match piece {
                Piece::Text(t) => {
                    out.push_str(t);
                    continue;
                }
                Piece::Group(i) => m.groups.get(*i).copied().flatten(),
                Piece::Named(n) => m.named(n),
            };
            // A group that did not take part expands to nothing (Python 3.5+).
            if let Some((s, e)) = span {
                out.push_str(&text[s..e]);
            }
        }
    }

    /// Expands the template for one match of `text`.
    pub fn expand(&self, text: &str, m: &Match) -> Result<String, PyRegexError> {
        self.check(m)?;
        let mut out = String::new();
        self.expand_into(text, m, &mut out);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn re(p: &str) -> PyRegex {
        PyRegex::new(p, Flags { multiline: true, ..Flags::default() }).unwrap()
    }

    fn sub(p: &str, t: &str, text: &str) -> (String, usize) {
        re(p).subn(text, &Template::parse(t).unwrap()).unwrap()
    }

    #[test]
    fn backreferences_and_lookaround_work() {
        assert!(re(r"^(\w+) .* \1$").is_match("ab x ab").unwrap());
        assert!(!re(r"^(\w+) .* \1$").is_match("ab x cd").unwrap());
        assert!(re(r"(?<=port )\d+").is_match("port 22").unwrap());
        assert!(re(r"^(?P<k>\w+)=(?P=k)$").is_match("a=a").unwrap());
        assert_eq!(sub(r"^(?!#)(\w+)=yes$", r"\1=no", "a=yes\n#b=yes\n"), ("a=no\n#b=yes\n".into(), 1));
    }

    #[test]
    fn python_templates_expand_groups_and_escapes() {
        assert_eq!(sub(r"(?P<key>\w+)=(\d+)", r"\g<key>: \2\t\g<0>", "x=1"), ("x: 1\tx=1".into(), 1));
        assert_eq!(sub("a", r"\.\\", "a"), (r"\.\".into(), 1));
        assert_eq!(sub(r"(a)|(b)", r"[\2]", "ab"), ("[][b]".into(), 2));
        assert!(Template::parse(r"\q").is_err());
        let e = re("(a)").subn("a", &Template::parse(r"\2").unwrap()).unwrap_err();
        assert!(e.to_string().contains("invalid group reference 2"), "{e}");
    }

    #[test]
    fn empty_matches_follow_python_37() {
        assert_eq!(sub("x*", "-", "axb"), ("-a--b-".into(), 4));
        assert_eq!(sub("^", "# ", "a\nb\n"), ("# a\n# b\n# ".into(), 3));
    }

    #[test]
    fn python_spellings_are_translated() {
        let plain = |p: &str| PyRegex::new(p, Flags::default()).unwrap();
        // `$` without MULTILINE matches before a final newline, as in Python.
        assert!(plain("b$").is_match("ab\n").unwrap());
        assert!(!plain("a$").is_match("a\nb").unwrap());
        assert!(plain(r"b\Z").is_match("ab").unwrap());
        assert!(!plain(r"b\Z").is_match("ab\n").unwrap());
        assert!(plain("^a{,2}$").is_match("aa").unwrap());
        assert!(plain("[$]").is_match("$").unwrap());
        assert!(plain("[]a]").is_match("]").unwrap());
        // An inline `(?m)` keeps `$` at every line.
        assert!(plain("(?m)^1$").is_match("1\n2").unwrap());
    }

    #[test]
    fn bad_patterns_are_errors_not_panics() {
        let e = PyRegex::new("(unclosed", Flags::default()).unwrap_err();
        assert!(e.to_string().contains("(unclosed"), "{e}");
    }
}
