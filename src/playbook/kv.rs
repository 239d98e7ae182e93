//! Ansible's `key=value` argument strings (`copy: src=a dest=b`), split the
//! way Ansible splits them: on whitespace outside quotes and `{{ }}`.

/// Splits a string into words, keeping quoted parts and Jinja blocks whole
/// (quotes around a whole value are removed).
pub fn split_words(s: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut depth = 0usize;
    let mut chars = s.chars().peekable();
    let mut started = false;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) if c == q => {
                quote = None;
                continue;
            }
            Some(_) => {
                if c == '\\' {
                    if let Some(&n) = chars.peek() {
                        if Some(n) == quote {
                            cur.push(n);
                            chars.next();
                            continue;
                        }
                    }
                }
                cur.push(c);
                continue;
            }
            None => {}
        }
        if (c == '{' || c == '}') && chars.peek() == Some(&c) {
            if c == '{' {
                depth += 1
            } else {
                depth = depth.saturating_sub(1)
            }
            cur.push(c);
            cur.push(chars.next().expect("peeked"));
            started = true;
            continue;
        }
        if depth == 0 && (c == '"' || c == '\'') {
            quote = Some(c);
            started = true;
            continue;
        }
        if depth == 0 && c.is_whitespace() {
            if started {
                words.push(std::mem::take(&mut cur));
                started = false;
            }
            continue;
        }
        cur.push(c);
        started = true;
    }
    if started {
        words.push(cur);
    }
    words
}

/// Parses `k=v` words. Words without `=` (free-form text) are returned apart,
/// joined back with spaces.
pub fn parse_kv(s: &str) -> (Vec<(String, String)>, Option<String>) {
    let mut pairs = Vec::new();
    let mut free = Vec::new();
    for word in split_words(s) {
        match word.split_once('=') {
            Some((k, v)) if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') => {
                pairs.push((k.to_owned(), v.to_owned()))
            }
            _ => free.push(word),
        }
    }
    let free = if free.is_empty() { None } else { Some(free.join(" ")) };
    (pairs, free)
}

/// For free-form modules (`command`, `shell`): pulls the module's own
/// `k=v` options (`creates=`, `chdir=`, ...) off the command text, leaving
/// the command itself untouched (quotes and all).
pub fn split_free_form(s: &str, known: &[&str]) -> (Vec<(String, String)>, String) {
    let mut pairs = Vec::new();
    let mut rest: Vec<&str> = Vec::new();
    for raw in s.split(' ') {
        if let Some((k, v)) = raw.split_once('=') {
            if known.contains(&k) && rest.iter().all(|w| w.is_empty() || w.contains('=')) {
                pairs.push((k.to_owned(), v.trim_matches(|c| c == '"' || c == '\'').to_owned()));
                continue;
            }
        }
        rest.push(raw);
    }
    // Options may also trail the command (`cmd creates=/x`).
    while let Some(last) = rest.last() {
        match last.split_once('=') {
            Some((k, v)) if known.contains(&k) => {
                pairs.push((k.to_owned(), v.trim_matches(|c| c == '"' || c == '\'').to_owned()));
                rest.pop();
            }
            _ => break,
        }
    }
    (pairs, rest.join(" ").trim().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_with_quotes_and_jinja() {
        let (pairs, free) = parse_kv(r#"src=a.txt dest="/tmp/my file" mode={{ m | default('0644') }}"#);
        assert_eq!(pairs[0], ("src".into(), "a.txt".into()));
        assert_eq!(pairs[1], ("dest".into(), "/tmp/my file".into()));
        assert_eq!(pairs[2], ("mode".into(), "{{ m | default('0644') }}".into()));
        assert_eq!(free, None);
    }

    #[test]
    fn free_form_keeps_the_command_and_takes_known_options() {
        let (pairs, cmd) = split_free_form("touch /tmp/x creates=/tmp/x", &["creates", "chdir"]);
        assert_eq!(cmd, "touch /tmp/x");
        assert_eq!(pairs, vec![("creates".to_string(), "/tmp/x".to_string())]);
        let (_, cmd) = split_free_form("echo a=b", &["creates"]);
        assert_eq!(cmd, "echo a=b");
    }
}
