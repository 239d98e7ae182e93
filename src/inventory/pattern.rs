//! Ansible host patterns: `web:&prod:!web3`, `*.example.com`, `~db\d+`,
//! `h[1:5]`, `web[0]`.
//!
//! Evaluation follows Ansible's `InventoryManager`: the pattern is split into
//! parts (commas, or colons outside brackets), plain parts are unioned first,
//! then `&` parts intersect and `!` parts exclude, whatever order they were
//! written in. Two things differ on purpose:
//!
//! - a plain name that is neither a host nor a group is an error with a "did
//!   you mean" hint (Ansible warns and matches nothing, which turns a typo
//!   in `--limit` into a run against fewer hosts than meant);
//! - `name[x:y]` where `name` is not a group or host expands as a host range
//!   (`h[1:3]` is `h1,h2,h3`); when it is one, it is Ansible's subscript.
//!
//! The result is in inventory order, whatever order the parts matched in.

use std::collections::HashSet;

use regex::Regex;

use super::error::{did_you_mean, InventoryError};
use super::{range, Inventory, IMPLICIT_LOCAL};

/// One matched host: an inventory host, or the implicit localhost by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Target {
    Host(usize),
    Local(String),
}

/// See [`Inventory::select`].
pub(super) fn select(inv: &Inventory, pattern: &str) -> Result<Vec<String>, InventoryError> {
    let parts = split(pattern);
    let mut regular: Vec<&str> = Vec::new();
    let mut intersect = Vec::new();
    let mut exclude = Vec::new();
    for part in &parts {
        if let Some(p) = part.strip_prefix('&') {
            intersect.push(p);
        } else if let Some(p) = part.strip_prefix('!') {
            exclude.push(p);
        } else {
            regular.push(part);
        }
    }
    if regular.is_empty() {
        regular.push("all");
    }
    let mut selected: Vec<Target> = Vec::new();
    let mut seen: HashSet<Target> = HashSet::new();
    for part in regular {
        for target in match_one(inv, pattern, part, true)? {
            if seen.insert(target.clone()) {
                selected.push(target);
            }
        }
    }
    for part in intersect {
        let keep: HashSet<Target> = match_one(inv, pattern, part, true)?.into_iter().collect();
        selected.retain(|t| keep.contains(t));
    }
    for part in exclude {
        let drop: HashSet<Target> = match_one(inv, pattern, part, true)?.into_iter().collect();
        selected.retain(|t| !drop.contains(t));
    }
    let mut hosts: Vec<usize> = Vec::new();
    let mut local: Vec<String> = Vec::new();
    for target in selected {
        match target {
            Target::Host(h) => hosts.push(h),
            Target::Local(name) => local.push(name),
        }
    }
    hosts.sort_unstable();
    Ok(hosts.into_iter().map(|h| inv.hosts[h].name.clone()).chain(local).collect())
}

/// Splits a pattern into its parts, as Ansible's `split_host_pattern`:
/// on commas, then on colons and whitespace outside `[...]`. An IPv6
/// address stays whole.
fn split(pattern: &str) -> Vec<String> {
    let mut parts = Vec::new();
    for piece in pattern.split(',') {
        let piece = piece.trim();
        let bare = piece.trim_start_matches(['&', '!']);
        if bare.parse::<std::net::Ipv6Addr>().is_ok() {
            parts.push(piece.to_owned());
            continue;
        }
        let mut part = String::new();
        let mut in_brackets = false;
        for c in piece.chars() {
            if in_brackets {
                in_brackets = c != ']';
                part.push(c);
            } else if c == ':' || c.is_whitespace() {
                if !part.is_empty() {
                    parts.push(std::mem::take(&mut part));
                }
            } else {
                in_brackets = c == '[';
                part.push(c);
            }
        }
        if !part.is_empty() {
            parts.push(part);
        }
    }
    parts
}

/// The hosts one part (without its `&`/`!`) matches. With `strict`, a plain
/// name that matches nothing is an error.
fn match_one(inv: &Inventory, whole: &str, part: &str, strict: bool) -> Result<Vec<Target>, InventoryError> {
    let bad = |reason: String| InventoryError::BadPattern { pattern: whole.to_owned(), reason };
    if let Some(&h) = inv.host_index.get(part) {
        return Ok(vec![Target::Host(h)]);
    }
    if let Some(expr) = part.strip_prefix('~') {
        let re = Regex::new(&format!("^(?:{expr})"))
            .map_err(|e| bad(format!("`{part}` is not a valid regular expression: {e}")))?;
        return Ok(matching(inv, &re));
    }
    if let Some((base, subscript)) = subscript(part) {
        let hosts = match_one(inv, whole, base, false)?;
        if !hosts.is_empty() {
            let count = hosts.len();
            return apply_subscript(hosts, subscript)
                .ok_or_else(|| bad(format!("`{base}` matches {count} host(s), so `{part}` is past the end")));
        }
    }
    if range::has_range(part) {
        let mut out = Vec::new();
        for name in range::expand(part).map_err(bad)? {
            for t in match_one(inv, whole, &name, false)? {
                if !out.contains(&t) {
                    out.push(t);
                }
            }
        }
        return Ok(out);
    }
    if part.contains(['*', '?', '[']) {
        let re = Regex::new(&glob_regex(part)).map_err(|e| bad(format!("`{part}` is not a valid glob: {e}")))?;
        return Ok(matching(inv, &re));
    }
    if let Some(&g) = inv.group_index.get(part) {
        return Ok(inv.members[g].iter().map(|&h| Target::Host(h)).collect());
    }
    if IMPLICIT_LOCAL.contains(&part) {
        return Ok(vec![Target::Local(part.to_owned())]);
    }
    if !strict {
        return Ok(Vec::new());
    }
    let names = inv.groups.iter().map(|g| g.name.as_str()).chain(inv.hosts.iter().map(|h| h.name.as_str()));
    Err(InventoryError::UnknownPattern {
        pattern: whole.to_owned(),
        name: part.to_owned(),
        hint: did_you_mean(part, names),
    })
}

/// Hosts of every group whose name matches, and every host whose name does.
fn matching(inv: &Inventory, re: &Regex) -> Vec<Target> {
    let mut hit = vec![false; inv.hosts.len()];
    for (g, group) in inv.groups.iter().enumerate() {
        if re.is_match(&group.name) {
            for &h in &inv.members[g] {
                hit[h] = true;
            }
        }
    }
    for (h, host) in inv.hosts.iter().enumerate() {
        if re.is_match(&host.name) {
            hit[h] = true;
        }
    }
    (0..inv.hosts.len()).filter(|&h| hit[h]).map(Target::Host).collect()
}

/// Ansible's subscript: `[i]` (negative counts from the end), `[i:j]`
/// inclusive, `[i:]` to the end.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Subscript {
    Index(i64),
    Slice(usize, Option<usize>),
}

fn subscript(part: &str) -> Option<(&str, Subscript)> {
    let inner = part.strip_suffix(']')?;
    let open = inner.rfind('[')?;
    let (base, spec) = (&inner[..open], &inner[open + 1..]);
    if base.is_empty() || base.starts_with('~') {
        return None;
    }
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let sub = match spec.split_once(':') {
        None => {
            let n = spec.strip_prefix('-').unwrap_or(spec);
            if !digits(n) {
                return None;
            }
            Subscript::Index(spec.parse().ok()?)
        }
        Some((start, end)) => {
            if !digits(start) || !(end.is_empty() || digits(end)) {
                return None;
            }
            Subscript::Slice(start.parse().ok()?, end.parse().ok())
        }
    };
    Some((base, sub))
}

/// `None` when a single index is out of range (slices clamp, as in Python).
fn apply_subscript(hosts: Vec<Target>, subscript: Subscript) -> Option<Vec<Target>> {
    let len = hosts.len();
    match subscript {
        Subscript::Index(i) => {
            let i = if i < 0 { len as i64 + i } else { i };
            let i = usize::try_from(i).ok()?;
            hosts.into_iter().nth(i).map(|t| vec![t])
        }
        Subscript::Slice(start, end) => {
            // Ansible: `[i:0]` is the single host `i`; `[i:]` runs to the end.
            let end = match end {
                Some(0) => start,
                Some(e) => e,
                None => len.saturating_sub(1),
            };
            Some(hosts.into_iter().enumerate().filter(|(n, _)| *n >= start && *n <= end).map(|(_, t)| t).collect())
        }
    }
}

/// Python's `fnmatch.translate`: `*`, `?`, `[seq]`, `[!seq]`, whole name.
fn glob_regex(glob: &str) -> String {
    let chars: Vec<char> = glob.chars().collect();
    let mut re = String::from("^(?s:");
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' => re.push_str(".*"),
            '?' => re.push('.'),
            '[' => {
                let mut j = i;
                if chars.get(j) == Some(&'!') {
                    j += 1;
                }
                if chars.get(j) == Some(&']') {
                    j += 1;
                }
                while j < chars.len() && chars[j] != ']' {
                    j += 1;
                }
                if j >= chars.len() {
                    re.push_str("\\[");
                    continue;
                }
                let mut class: &[char] = &chars[i..j];
                re.push('[');
                if class.first() == Some(&'!') {
                    re.push('^');
                    class = &class[1..];
                }
                for &c in class {
                    if c == '-' || c.is_alphanumeric() {
                        re.push(c);
                    } else {
                        re.push('\\');
                        re.push(c);
                    }
                }
                re.push(']');
                i = j + 1;
            }
            c => re.push_str(&regex::escape(&c.to_string())),
        }
    }
    re.push_str(")$");
    re
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_split_on_commas_and_colons_but_not_inside_brackets() {
        assert_eq!(split("web:&prod:!web3"), ["web", "&prod", "!web3"]);
        assert_eq!(split("web, db"), ["web", "db"]);
        assert_eq!(split("h[1:3]:db"), ["h[1:3]", "db"]);
        assert_eq!(split("::1,!fe80::1"), ["::1", "!fe80::1"]);
    }

    #[test]
    fn subscripts_parse_like_ansible() {
        assert_eq!(subscript("web[0]"), Some(("web", Subscript::Index(0))));
        assert_eq!(subscript("web[-1]"), Some(("web", Subscript::Index(-1))));
        assert_eq!(subscript("web[1:]"), Some(("web", Subscript::Slice(1, None))));
        assert_eq!(subscript("web[0:2]"), Some(("web", Subscript::Slice(0, Some(2)))));
        assert_eq!(subscript("web[a:c]"), None);
        assert_eq!(subscript("~web[0]"), None);
    }

    #[test]
    fn globs_translate_like_fnmatch() {
        let m = |g: &str, s: &str| Regex::new(&glob_regex(g)).unwrap().is_match(s);
        assert!(m("*.example.com", "web1.example.com"));
        assert!(!m("*.example.com", "web1.example.org"));
        assert!(m("web?", "web1"));
        assert!(!m("web?", "web10"));
        assert!(m("db[12]", "db2"));
        assert!(m("db[!12]", "db3"));
        assert!(!m("db[!12]", "db1"));
        assert!(m("a[", "a["));
    }
}
