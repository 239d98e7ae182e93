//! The one function that quotes a value for the remote POSIX shell.
//!
//! Every remote command stead sends is assembled from pieces that went
//! through [`quote`] (values) or are fixed text written in this crate
//! (command names, operators). No module builds a shell string from a value
//! by hand: a grep for `format!` next to a value in `src/modules` that does
//! not go through `quote` is a bug.

use std::borrow::Cow;

/// Quotes `value` so that a POSIX shell reads it back as exactly one word
/// with exactly these bytes.
///
/// Single quotes preserve every byte except `'` itself, which is written as
/// `'\''`. Strings made only of characters that are never special are left
/// bare so that scripts stay readable in `--list-tasks` and logs.
pub fn quote(value: &str) -> Cow<'_, str> {
    if !value.is_empty() && value.bytes().all(is_plain) {
        return Cow::Borrowed(value);
    }
    let mut out = String::with_capacity(value.len() + 2);
    out.push('\'');
    for ch in value.chars() {
        if ch == '\'' {
            out.push_str("'\\''");
        } else {
            out.push(ch);
        }
    }
    out.push('\'');
    Cow::Owned(out)
}

/// Quotes raw bytes (paths need not be UTF-8). Same rules as [`quote`].
pub fn quote_bytes(value: &[u8]) -> Vec<u8> {
    if !value.is_empty() && value.iter().copied().all(is_plain) {
        return value.to_vec();
    }
    let mut out = Vec::with_capacity(value.len() + 2);
    out.push(b'\'');
    for &b in value {
        if b == b'\'' {
            out.extend_from_slice(b"'\\''");
        } else {
            out.push(b);
        }
    }
    out.push(b'\'');
    out
}

/// Joins words into one command line, quoting each.
pub fn join<'a>(words: impl IntoIterator<Item = &'a str>) -> String {
    words.into_iter().map(quote).collect::<Vec<_>>().join(" ")
}

fn is_plain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'/' | b',' | b':' | b'=' | b'@' | b'+' | b'%')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_stay_bare() {
        assert_eq!(quote("/etc/ssh/sshd_config"), "/etc/ssh/sshd_config");
    }

    #[test]
    fn empty_string_is_an_empty_word() {
        assert_eq!(quote(""), "''");
    }

    #[test]
    fn single_quotes_are_closed_escaped_and_reopened() {
        assert_eq!(quote("it's"), r"'it'\''s'");
    }

    #[test]
    fn shell_syntax_is_quoted() {
        assert_eq!(quote("$(reboot)"), "'$(reboot)'");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("~"), "'~'");
    }
}
