//! Ansible's common filters and tests, on top of minijinja's builtins.

use minijinja::value::{Kwargs, Rest, Value, ValueKind};
use minijinja::{Environment, Error, ErrorKind, State};

use crate::pyregex::{Flags, PyRegex, Template};

fn invalid(msg: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, msg.into())
}

/// Registers the filters and tests.
pub fn register(env: &mut Environment<'static>) {
    env.add_filter("d", default_filter);
    env.add_filter("bool", to_bool);
    env.add_filter("to_json", to_json);
    env.add_filter("to_nice_json", to_nice_json);
    env.add_filter("from_json", from_json);
    env.add_filter("regex_replace", regex_replace);
    env.add_filter("regex_search", regex_search);
    env.add_filter("regex_findall", regex_findall);
    env.add_filter("regex_escape", regex_escape);
    env.add_filter("b64encode", b64encode);
    env.add_filter("b64decode", b64decode);
    env.add_filter("basename", |p: String| p.rsplit('/').next().unwrap_or("").to_owned());
    env.add_filter("dirname", |p: String| match p.rfind('/') {
        Some(0) => "/".to_owned(),
        Some(i) => p[..i].to_owned(),
        None => String::new(),
    });
    env.add_filter("quote", |s: String| crate::transport::quote::quote(&s).into_owned());
    env.add_filter("mandatory", mandatory);
    env.add_filter("ternary", ternary);
    env.add_filter("combine", combine);
    env.add_filter("dict2items", dict2items);
    env.add_filter("items2dict", items2dict);
    env.add_filter("flatten", flatten);
    env.add_filter("split", |s: String, sep: Option<String>| -> Vec<String> {
        match sep {
            Some(sep) => s.split(sep.as_str()).map(str::to_owned).collect(),
            None => s.split_whitespace().map(str::to_owned).collect(),
        }
    });
    env.add_filter("hash", hash);
    env.add_filter("checksum", |s: String| hash(s, Some("sha1".into())));
    env.add_test("match", |v: String, pat: String, kw: Kwargs| regex_test(&v, &format!("\\A(?:{pat})"), kw));
    env.add_test("search", |v: String, pat: String, kw: Kwargs| regex_test(&v, &pat, kw));
    env.add_test("regex", |v: String, pat: String, kw: Kwargs| {
        let match_type: Option<String> = kw.get("match_type")?;
        let pat = match match_type.as_deref() {
            None | Some("search") => pat,
            Some("match") => format!("\\A(?:{pat})"),
            Some("fullmatch") => format!("\\A(?:{pat})\\z"),
            Some(other) => return Err(invalid(format!("invalid match_type `{other}`: search, match or fullmatch"))),
        };
        regex_test(&v, &pat, kw)
    });
    for (name, field, want) in [
        ("failed", "failed", true),
        ("failure", "failed", true),
        ("succeeded", "failed", false),
        ("success", "failed", false),
        ("successful", "failed", false),
        ("changed", "changed", true),
        ("change", "changed", true),
        ("skipped", "skipped", true),
        ("skip", "skipped", true),
    ] {
        env.add_test(name, move |v: Value| {
            let flag = v.get_attr(field).map(|f| f.is_true()).unwrap_or(false);
            flag == want
        });
    }
}

fn default_filter(value: Value, other: Option<Value>, boolean: Option<bool>) -> Value {
    let use_default = value.is_undefined() || (boolean.unwrap_or(false) && !value.is_true());
    if use_default {
        other.unwrap_or_else(|| Value::from(""))
    } else {
        value
    }
}

fn to_bool(value: Value) -> bool {
    match value.kind() {
        ValueKind::Bool => value.is_true(),
        ValueKind::Number => value.as_i64() == Some(1),
        _ => value
            .as_str()
            .map(|s| matches!(s.trim().to_ascii_lowercase().as_str(), "yes" | "on" | "1" | "true" | "y" | "t"))
            .unwrap_or(false),
    }
}

fn to_json(value: Value, _kw: Kwargs) -> Result<String, Error> {
    serde_json::to_string(&value).map_err(|e| invalid(e.to_string()))
}

fn to_nice_json(value: Value, _kw: Kwargs) -> Result<String, Error> {
    serde_json::to_string_pretty(&value).map_err(|e| invalid(e.to_string()))
}

fn from_json(s: String) -> Result<Value, Error> {
    let v: serde_json::Value = serde_json::from_str(&s).map_err(|e| invalid(e.to_string()))?;
    Ok(Value::from(minijinja::value::Serde(&v)))
}

/// Compiles a filter's or test's pattern with Python's semantics and the
/// `ignorecase` / `multiline` keyword arguments.
fn py_regex(pat: &str, kw: &Kwargs) -> Result<PyRegex, Error> {
    let ignorecase: Option<bool> = kw.get("ignorecase")?;
    let multiline: Option<bool> = kw.get("multiline")?;
    let flags = Flags { ignorecase: ignorecase.unwrap_or(false), multiline: multiline.unwrap_or(false), dotall: false };
    PyRegex::new(pat, flags).map_err(|e| invalid(e.to_string()))
}

fn regex_test(value: &str, pat: &str, kw: Kwargs) -> Result<bool, Error> {
    let re = py_regex(pat, &kw)?;
    kw.assert_all_used()?;
    re.is_match(value).map_err(|e| invalid(e.to_string()))
}

/// Ansible's `regex_replace(pattern, replacement, ignorecase, multiline,
/// count, mandatory_count)`: Python's `re.subn`.
fn regex_replace(s: String, pat: String, rep: Option<String>, kw: Kwargs) -> Result<String, Error> {
    let re = py_regex(&pat, &kw)?;
    let count: Option<usize> = kw.get("count")?;
    let mandatory: Option<usize> = kw.get("mandatory_count")?;
    kw.assert_all_used()?;
    let template = Template::parse(&rep.unwrap_or_default()).map_err(|e| invalid(e.to_string()))?;
    let (out, n) = match count.filter(|&c| c > 0) {
        None => re.subn(&s, &template),
        Some(limit) => re.subn_limit(&s, &template, limit),
    }
    .map_err(|e| invalid(e.to_string()))?;
    if let Some(m) = mandatory.filter(|&m| m > 0) {
        if m != n {
            return Err(invalid(format!("'{pat}' should match {m} times, but matches {n} times")));
        }
    }
    Ok(out)
}

/// Ansible's `regex_search`: the match (or the groups named by `'\\1'` /
/// `'\\g<name>'` arguments, as a list), or none.
fn regex_search(s: String, pat: String, groups: Rest<String>, kw: Kwargs) -> Result<Value, Error> {
    let re = py_regex(&pat, &kw)?;
    kw.assert_all_used()?;
    let Some(m) = re.search(&s).map_err(|e| invalid(e.to_string()))? else {
        return Ok(Value::from(()));
    };
    let text = |span: Option<(usize, usize)>| span.map_or(Value::from(()), |(a, b)| Value::from(&s[a..b]));
    if groups.is_empty() {
        return Ok(text(Some(m.span)));
    }
    let mut out = Vec::new();
    for g in groups.iter() {
        let span = if let Some(name) = g.strip_prefix("\\g<").and_then(|n| n.strip_suffix('>')) {
            match name.parse::<usize>() {
                Ok(i) => m.groups.get(i).copied().flatten(),
                Err(_) => m.named(name),
            }
        } else if let Some(i) = g.strip_prefix('\\').and_then(|n| n.parse::<usize>().ok()) {
            m.groups.get(i).copied().flatten()
        } else {
            return Err(invalid(format!("Unknown argument `{g}`: regex_search takes '\\1' or '\\g<name>'")));
        };
        out.push(text(span));
    }
    Ok(Value::from(out))
}

/// Ansible's `regex_findall`: Python's `re.findall` (whole matches, a
/// group's text, or lists of groups).
fn regex_findall(s: String, pat: String, kw: Kwargs) -> Result<Value, Error> {
    let re = py_regex(&pat, &kw)?;
    kw.assert_all_used()?;
    let matches = re.matches(&s).map_err(|e| invalid(e.to_string()))?;
    let text = |span: Option<(usize, usize)>| span.map_or(String::new(), |(a, b)| s[a..b].to_owned());
    Ok(Value::from(
        matches
            .iter()
            .map(|m| match m.groups.len() {
                1 => Value::from(text(Some(m.span))),
                2 => Value::from(text(m.groups[1])),
                _ => Value::from(m.groups[1..].iter().map(|g| text(*g)).collect::<Vec<_>>()),
            })
            .collect::<Vec<_>>(),
    ))
}

/// Ansible's `regex_escape` (Python's `re.escape`; `re_type='posix_basic'`
/// escapes for POSIX basic regular expressions).
fn regex_escape(s: String, re_type: Option<String>) -> Result<String, Error> {
    // Python 3.7's `re.escape` escapes exactly these.
    let special: &str = match re_type.as_deref() {
        None | Some("python") => "()[]{}?*+-|^$\\.&~# \t\n\r\x0b\x0c",
        Some("posix_basic") => ".[]\\*^$",
        Some(other) => return Err(invalid(format!("Regex type ({other}) not yet implemented"))),
    };
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if special.contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    Ok(out)
}

fn b64encode(s: String) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s.as_bytes())
}

fn b64decode(s: String) -> Result<String, Error> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD.decode(s.trim()).map_err(|e| invalid(e.to_string()))?;
    String::from_utf8(bytes).map_err(|e| invalid(e.to_string()))
}

fn mandatory(state: &State, value: Value, msg: Option<String>) -> Result<Value, Error> {
    let _ = state;
    if value.is_undefined() {
        Err(Error::new(ErrorKind::UndefinedError, msg.unwrap_or_else(|| "mandatory variable not defined".into())))
    } else {
        Ok(value)
    }
}

fn ternary(value: Value, yes: Value, no: Value, none: Option<Value>) -> Value {
    if value.is_none() {
        if let Some(n) = none {
            return n;
        }
    }
    if value.is_true() {
        yes
    } else {
        no
    }
}

fn to_json_value(v: &Value) -> Result<serde_json::Value, Error> {
    serde_json::to_value(v).map_err(|e| invalid(e.to_string()))
}

fn merge(into: &mut serde_json::Value, from: serde_json::Value, recursive: bool) {
    match (into, from) {
        (serde_json::Value::Object(a), serde_json::Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(&k) {
                    Some(existing) if recursive && existing.is_object() && v.is_object() => merge(existing, v, true),
                    _ => {
                        a.insert(k, v);
                    }
                }
            }
        }
        (slot, from) => *slot = from,
    }
}

fn combine(base: Value, others: Rest<Value>, kw: Kwargs) -> Result<Value, Error> {
    let recursive: Option<bool> = kw.get("recursive")?;
    let _: Option<String> = kw.get("list_merge")?;
    kw.assert_all_used()?;
    let mut acc = to_json_value(&base)?;
    for other in others.iter() {
        merge(&mut acc, to_json_value(other)?, recursive.unwrap_or(false));
    }
    Ok(Value::from(minijinja::value::Serde(&acc)))
}

/// The `key_name` / `value_name` keyword arguments of dict2items and items2dict.
fn item_names(kw: &Kwargs) -> Result<(String, String), Error> {
    let key_name: Option<String> = kw.get("key_name")?;
    let value_name: Option<String> = kw.get("value_name")?;
    kw.assert_all_used()?;
    Ok((key_name.unwrap_or_else(|| "key".into()), value_name.unwrap_or_else(|| "value".into())))
}

fn dict2items(v: Value, kw: Kwargs) -> Result<Value, Error> {
    let (kn, vn) = item_names(&kw)?;
    let json = to_json_value(&v)?;
    let obj = json.as_object().ok_or_else(|| invalid("dict2items expects a dictionary"))?;
    let items: Vec<serde_json::Value> =
        obj.iter().map(|(k, val)| serde_json::json!({ kn.clone(): k, vn.clone(): val })).collect();
    Ok(Value::from(minijinja::value::Serde(&items)))
}

fn items2dict(v: Value, kw: Kwargs) -> Result<Value, Error> {
    let (kn, vn) = item_names(&kw)?;
    let json = to_json_value(&v)?;
    let mut out = serde_json::Map::new();
    for item in json.as_array().ok_or_else(|| invalid("items2dict expects a list"))? {
        let k = item.get(&kn).ok_or_else(|| invalid(format!("item has no `{kn}`")))?;
        let key = k.as_str().map_or_else(|| k.to_string(), str::to_owned);
        out.insert(key, item.get(&vn).cloned().unwrap_or(serde_json::Value::Null));
    }
    Ok(Value::from(minijinja::value::Serde(&out)))
}

fn flatten(v: Value, levels: Option<usize>) -> Result<Value, Error> {
    fn go(v: &serde_json::Value, depth: Option<usize>, out: &mut Vec<serde_json::Value>) {
        match v {
            serde_json::Value::Array(items) if depth != Some(0) => {
                for i in items {
                    go(i, depth.map(|d| d - 1), out);
                }
            }
            other => out.push(other.clone()),
        }
    }
    let json = to_json_value(&v)?;
    let mut out = Vec::new();
    if let serde_json::Value::Array(items) = &json {
        for i in items {
            go(i, levels, &mut out);
        }
    }
    Ok(Value::from(minijinja::value::Serde(&out)))
}

fn hash(s: String, algo: Option<String>) -> Result<String, Error> {
    use sha2::Digest;
    match algo.as_deref().unwrap_or("sha1") {
        "sha256" => Ok(format!("{:x}", sha2::Sha256::digest(s.as_bytes()))),
        "sha512" => Ok(format!("{:x}", sha2::Sha512::digest(s.as_bytes()))),
        other => Err(invalid(format!("hash algorithm `{other}` is not supported (use sha256 or sha512)"))),
    }
}

#[cfg(test)]
mod tests {
    use crate::template::Templates;
    use serde_json::json;

    fn eval(expr: &str) -> Result<serde_json::Value, String> {
        let t = Templates::new();
        let ctx = minijinja::Value::from(minijinja::value::Serde(&json!({"s": "port=22 user=root"})));
        t.eval(expr, &ctx).map_err(|e| e.to_string())
    }

    #[test]
    fn regex_filters_have_pythons_semantics() {
        assert_eq!(eval(r"s | regex_replace('(\\w+)=(\\w+)', '\\2:\\1')").unwrap(), json!("22:port root:user"));
        assert_eq!(eval(r"s | regex_replace('=', ':', count=1)").unwrap(), json!("port:22 user=root"));
        assert!(eval(r"s | regex_replace('=', ':', mandatory_count=3)").unwrap_err().contains("should match 3 times"));
        assert_eq!(eval(r"s | regex_search('user=(?P<u>\\w+)', '\\g<u>', '\\1')").unwrap(), json!(["root", "root"]));
        assert_eq!(eval(r"s | regex_search('nope')").unwrap(), json!(null));
        assert_eq!(eval(r"s | regex_findall('(\\w+)=')").unwrap(), json!(["port", "user"]));
        assert_eq!(eval(r"s | regex_findall('(\\w+)=(\\w+)')").unwrap(), json!([["port", "22"], ["user", "root"]]));
        assert_eq!(eval(r"'a.b c' | regex_escape").unwrap(), json!(r"a\.b\ c"));
    }

    #[test]
    fn regex_tests_match_search_and_refuse_bad_patterns() {
        assert_eq!(eval(r"s is match('port')").unwrap(), json!(true));
        assert_eq!(eval(r"s is match('user')").unwrap(), json!(false));
        assert_eq!(eval(r"s is search('(?<=user=)root')").unwrap(), json!(true));
        assert_eq!(eval(r"s is search('ROOT', ignorecase=true)").unwrap(), json!(true));
        assert_eq!(eval(r"s is regex('port=22 user=root', match_type='fullmatch')").unwrap(), json!(true));
        assert!(eval(r"s is search('(unclosed')").is_err(), "a bad pattern is an error, not false");
    }
}
