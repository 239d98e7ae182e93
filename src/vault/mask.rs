//! The run-wide set of decrypted values, and the one function that hides
//! them in text on its way out of the process.
//!
//! Every value the vault decrypts is [`register`]ed here before anything
//! else sees it. Every place output leaves stead (the event stream that
//! feeds the terminal, the reports and the audit trail; the errors and
//! warnings the binary prints) passes its text through [`mask`], which
//! replaces each registered value with `********`.
//!
//! What is registered for one value: the value itself, each of its lines
//! (so a unified diff of a vaulted key file, which shows it line by line,
//! is masked too), and the JSON-escaped form of each (a value with a quote
//! or a newline inside a `debug: var=` dump). A value shorter than
//! [`MIN_LEN`] characters is not registered, nor a line of a multi-line
//! value shorter than [`LINE_MIN_LEN`]: masking every `1`, `ab` or `fi` in
//! the output would hide more than it protects (and tell a reader the
//! secret by what is missing). A vaulted value that short is not a secret
//! worth the name; docs/security.md says so.

use std::borrow::Cow;
use std::sync::RwLock;

use super::secret::MASK;

/// The shortest secret that is masked.
pub const MIN_LEN: usize = 3;

/// The shortest line of a multi-line secret that is masked on its own.
pub const LINE_MIN_LEN: usize = 8;

/// Registered pieces, longest first (so a secret that contains another is
/// replaced whole).
static SECRETS: RwLock<Vec<String>> = RwLock::new(Vec::new());

/// Registers a decrypted value: from now on [`mask`] hides it.
pub fn register(value: &str) {
    let mut pieces: Vec<String> = Vec::new();
    let mut add = |p: &str, min: usize| {
        if p.chars().count() >= min && p != MASK {
            pieces.push(p.to_owned());
            let escaped = serde_json::to_string(p).unwrap_or_default();
            let escaped = &escaped[1.min(escaped.len())..escaped.len().saturating_sub(1)];
            if escaped != p {
                pieces.push(escaped.to_owned());
            }
        }
    };
    add(value, MIN_LEN);
    add(value.trim(), MIN_LEN);
    if value.contains('\n') {
        for line in value.lines() {
            add(line.trim(), LINE_MIN_LEN);
        }
    }
    if pieces.is_empty() {
        return;
    }
    // Registered again and again (a host's become password, per task):
    // the common case takes only the read lock.
    if pieces.iter().all(|p| SECRETS.read().unwrap_or_else(|e| e.into_inner()).contains(p)) {
        return;
    }
    let mut set = SECRETS.write().unwrap_or_else(|e| e.into_inner());
    for p in pieces {
        if !set.contains(&p) {
            set.push(p);
        }
    }
    set.sort_by_key(|p| std::cmp::Reverse(p.len()));
}

/// Whether any value has been registered.
pub fn any() -> bool {
    !SECRETS.read().unwrap_or_else(|e| e.into_inner()).is_empty()
}

/// `text` with every registered value replaced by `********`.
pub fn mask(text: &str) -> Cow<'_, str> {
    let set = SECRETS.read().unwrap_or_else(|e| e.into_inner());
    let mut out = Cow::Borrowed(text);
    for secret in set.iter() {
        if out.contains(secret.as_str()) {
            out = Cow::Owned(out.replace(secret.as_str(), MASK));
        }
    }
    out
}

/// Masks a string in place.
pub fn mask_in_place(text: &mut String) {
    if let Cow::Owned(masked) = mask(text) {
        *text = masked;
    }
}

/// Masks every string (and key) of a JSON value in place.
pub fn mask_json(value: &mut serde_json::Value) {
    use serde_json::Value;
    match value {
        Value::String(s) => mask_in_place(s),
        Value::Array(items) => items.iter_mut().for_each(mask_json),
        Value::Object(map) => {
            let entries = std::mem::take(map);
            for (mut k, mut v) in entries {
                mask_in_place(&mut k);
                mask_json(&mut v);
                map.insert(k, v);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_whole_by_line_and_json_escaped() {
        register("mask-test-alpha\nmask-test-beta \"q\"");
        assert_eq!(mask("x mask-test-alpha y"), "x ******** y");
        assert_eq!(mask("-mask-test-beta \"q\""), "-********");
        assert_eq!(mask(r#"{"v": "mask-test-alpha\nmask-test-beta \"q\""}"#), r#"{"v": "********"}"#);
        assert!(matches!(mask("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn short_values_and_short_lines_are_not_registered() {
        register("zq");
        assert_eq!(mask("zq zq"), "zq zq");
        register("key-line-one-xyz\nfi\n");
        assert_eq!(mask("key-line-one-xyz fi"), "******** fi");
    }

    #[test]
    fn json_values_are_masked_in_strings_and_keys() {
        register("mask-test-json-value");
        let mut v = serde_json::json!({"a": ["mask-test-json-value!"], "mask-test-json-value": 1});
        mask_json(&mut v);
        assert_eq!(v, serde_json::json!({"a": ["********!"], "********": 1}));
    }
}
