//! Host ranges (`web[01:03].example.com`, `db-[a:c]`) and `host:port` keys.
//!
//! Ansible lets one inventory line stand for many hosts. The same expansion
//! serves host patterns (`-l h[1:5]`), so it lives apart from both parsers.
//! Expansion is bounded: a typo such as `h[1:99999999]` is an error, never a
//! hang.

/// The most host names one entry may expand to.
const MAX_HOSTS: usize = 100_000;

/// Whether `name` contains a range (`[x:y]`) to expand.
pub(super) fn has_range(name: &str) -> bool {
    name.find('[')
        .is_some_and(|open| name[open..].find(']').is_some_and(|close| name[open..open + close].contains(':')))
}

/// Expands every `[begin:end]` / `[begin:end:step]` in `name`, left to right,
/// as Ansible does: numeric bounds with leading zeros keep their width
/// (`[01:10]`), single letters step through `a..z`/`A..Z`. A name without a
/// range expands to itself. `Err` holds the reason, one clause.
pub(super) fn expand(name: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    expand_into(name, &mut out)?;
    Ok(out)
}

fn expand_into(name: &str, out: &mut Vec<String>) -> Result<(), String> {
    let Some(open) = name.find('[') else {
        out.push(name.to_owned());
        return Ok(());
    };
    let Some(len) = name[open..].find(']') else {
        return Err(format!("`[` without a closing `]` in `{name}`"));
    };
    let (head, inner, tail) = (&name[..open], &name[open + 1..open + len], &name[open + len + 1..]);
    let bounds: Vec<&str> = inner.split(':').collect();
    if bounds.len() != 2 && bounds.len() != 3 {
        return Err(format!("the range `[{inner}]` must be `[begin:end]` or `[begin:end:step]`"));
    }
    let begin = if bounds[0].is_empty() { "0" } else { bounds[0] };
    let end = bounds[1];
    if end.is_empty() {
        return Err(format!("the range `[{inner}]` has no end"));
    }
    let step = match bounds.get(2) {
        None => 1,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if n > 0 => n,
            _ => return Err(format!("the step of `[{inner}]` must be a positive integer")),
        },
    };
    let items = if let (Some(b), Some(e)) = (single_letter(begin), single_letter(end)) {
        let (b, e) = (letter_index(b), letter_index(e));
        if b > e {
            return Err(format!("the range `[{inner}]` ends before it begins"));
        }
        (b..=e).step_by(step).map(|i| LETTERS[i..=i].to_owned()).collect::<Vec<_>>()
    } else {
        let width = if begin.len() > 1 && begin.starts_with('0') {
            if begin.len() != end.len() {
                return Err(format!("the bounds of `[{inner}]` must have the same width (leading zeros)"));
            }
            begin.len()
        } else {
            0
        };
        let (Ok(b), Ok(e)) = (begin.parse::<u64>(), end.parse::<u64>()) else {
            return Err(format!("the range `[{inner}]` needs two numbers or two letters"));
        };
        if b > e {
            return Err(format!("the range `[{inner}]` ends before it begins"));
        }
        if (e - b) / step as u64 >= MAX_HOSTS as u64 {
            return Err(format!("the range `[{inner}]` expands to more than {MAX_HOSTS} hosts"));
        }
        (b..=e).step_by(step).map(|i| format!("{i:0width$}")).collect()
    };
    for item in items {
        expand_into(&format!("{head}{item}{tail}"), out)?;
        if out.len() > MAX_HOSTS {
            return Err(format!("`{name}` expands to more than {MAX_HOSTS} hosts"));
        }
    }
    Ok(())
}

/// Python's `string.ascii_letters`, the alphabet of letter ranges.
const LETTERS: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

fn single_letter(s: &str) -> Option<char> {
    let mut chars = s.chars();
    match (chars.next(), chars.next()) {
        (Some(c), None) if c.is_ascii_alphabetic() => Some(c),
        _ => None,
    }
}

fn letter_index(c: char) -> usize {
    LETTERS.find(c).unwrap_or(0)
}

/// Splits an inventory host key into the name and an optional port, as
/// Ansible's `parse_address` does: `web1:2222`, `[::1]:22`, `[fe80::1]`.
/// A colon inside a range (`web[1:3]`) or an IPv6 address is not a port.
pub(super) fn split_port(key: &str) -> (String, Option<u16>) {
    if let Some(rest) = key.strip_prefix('[') {
        if let Some(close) = rest.find(']') {
            let inside = &rest[..close];
            if inside.parse::<std::net::Ipv6Addr>().is_ok() {
                let after = &rest[close + 1..];
                if after.is_empty() {
                    return (inside.to_owned(), None);
                }
                if let Some(port) = after.strip_prefix(':').and_then(|p| p.parse().ok()) {
                    return (inside.to_owned(), Some(port));
                }
            }
        }
    }
    let mut depth = 0usize;
    let mut colons = Vec::new();
    for (i, c) in key.char_indices() {
        match c {
            '[' => depth += 1,
            ']' => depth = depth.saturating_sub(1),
            ':' if depth == 0 => colons.push(i),
            _ => {}
        }
    }
    if let [at] = colons[..] {
        let (name, port) = (&key[..at], &key[at + 1..]);
        if !name.is_empty() && !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            if let Ok(port) = port.parse() {
                return (name.to_owned(), Some(port));
            }
        }
    }
    (key.to_owned(), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_ranges_keep_leading_zeros() {
        assert_eq!(
            expand("web[01:03].example.com").unwrap(),
            ["web01.example.com", "web02.example.com", "web03.example.com"]
        );
        assert_eq!(expand("h[8:10]").unwrap(), ["h8", "h9", "h10"]);
    }

    #[test]
    fn letter_ranges_and_steps_expand() {
        assert_eq!(expand("db-[a:c]").unwrap(), ["db-a", "db-b", "db-c"]);
        assert_eq!(expand("h[0:6:3]").unwrap(), ["h0", "h3", "h6"]);
    }

    #[test]
    fn several_ranges_expand_as_a_product() {
        assert_eq!(expand("r[1:2]-[a:b]").unwrap(), ["r1-a", "r1-b", "r2-a", "r2-b"]);
    }

    #[test]
    fn bad_ranges_are_errors_not_hangs() {
        assert!(expand("h[3:1]").is_err());
        assert!(expand("h[01:3]").is_err());
        assert!(expand("h[1:]").is_err());
        assert!(expand("h[1:x]").is_err());
        assert!(expand("h[0:99999999]").is_err());
        assert!(expand("h[1:2:0]").is_err());
    }

    #[test]
    fn host_keys_split_off_ports_but_not_from_ranges_or_ipv6() {
        assert_eq!(split_port("web1:2222"), ("web1".into(), Some(2222)));
        assert_eq!(split_port("web[1:3]"), ("web[1:3]".into(), None));
        assert_eq!(split_port("web[1:3]:22"), ("web[1:3]".into(), Some(22)));
        assert_eq!(split_port("fe80::1"), ("fe80::1".into(), None));
        assert_eq!(split_port("[::1]:22"), ("::1".into(), Some(22)));
        assert_eq!(split_port("[::1]"), ("::1".into(), None));
    }
}
