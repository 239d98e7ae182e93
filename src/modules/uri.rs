//! `uri`: one HTTP request made from the host with curl, as
//! `ansible.builtin.uri`.
//!
//! The probe only finds curl and answers `creates`/`removes` (and whether
//! `dest` is a directory). The request itself is the apply script: it
//! reports `changed: false` unless it writes `dest`, as Ansible does. In
//! check mode the task is skipped, as Ansible's action plugin skips it
//! ("does not support check mode"). The request (URL, headers, credentials)
//! travels as a curl config on the script's stdin, followed by the body;
//! the result has Ansible's keys: `status`, `url`, `redirected`, `elapsed`,
//! `msg`, every response header lowercased with `-` turned into `_`,
//! `content` with `return_content`, and `json` when the response is JSON.

use serde_json::Value;

use super::file_state::{self, Attrs, FileKind, Probe};
use super::file_write;
use super::http::{self, Request, Tool};
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `uri` module.
pub struct Uri;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("url", ArgKind::Str).required(),
    ArgSpec::new("method", ArgKind::Str),
    ArgSpec::new("body", ArgKind::Any),
    ArgSpec::new("body_format", ArgKind::Str).choices(&["raw", "json", "form-urlencoded"]),
    ArgSpec::new("src", ArgKind::Str),
    ArgSpec::new("remote_src", ArgKind::Bool),
    ArgSpec::new("headers", ArgKind::Dict),
    ArgSpec::new("status_code", ArgKind::List),
    ArgSpec::new("return_content", ArgKind::Bool),
    ArgSpec::new("dest", ArgKind::Str),
    ArgSpec::new("creates", ArgKind::Str),
    ArgSpec::new("removes", ArgKind::Str),
    ArgSpec::new("follow_redirects", ArgKind::Str).choices(&["all", "no", "none", "safe", "urllib2", "yes"]),
    ArgSpec::new("timeout", ArgKind::Int),
    ArgSpec::new("validate_certs", ArgKind::Bool),
    ArgSpec::new("url_username", ArgKind::Str).aliases(&["user"]),
    ArgSpec::new("url_password", ArgKind::Str).aliases(&["password"]),
    ArgSpec::new("force_basic_auth", ArgKind::Bool),
    ArgSpec::new("http_agent", ArgKind::Str),
    ArgSpec::new("use_proxy", ArgKind::Bool),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("decompress", ArgKind::Bool),
    ArgSpec::new("use_netrc", ArgKind::Bool),
    ArgSpec::new("client_cert", ArgKind::Str),
    ArgSpec::new("client_key", ArgKind::Str),
    ArgSpec::new("ca_path", ArgKind::Str),
    ArgSpec::new("unix_socket", ArgKind::Str),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.exclusive(&[("body", "src")])
.refused(&[
    ("ciphers", "curl names TLS ciphers differently from Python; not supported"),
    ("unredirected_headers", "curl cannot drop chosen headers on redirects; not supported"),
    ("use_gssapi", "GSSAPI/Kerberos authentication is not supported"),
    ("attributes", "chattr attributes are not supported by stead's file modules"),
    ("seuser", "SELinux contexts are not supported"),
    ("serole", "SELinux contexts are not supported"),
    ("setype", "SELinux contexts are not supported"),
    ("selevel", "SELinux contexts are not supported"),
]);

/// Python's `json.dumps` with its defaults (`", "`, `": "`, ASCII only), as
/// Ansible serialises a `body_format: json` body.
pub fn python_json(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => if *b { "true" } else { "false" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => python_str(s),
        Value::Array(items) => format!("[{}]", items.iter().map(python_json).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter().map(|(k, v)| format!("{}: {}", python_str(k), python_json(v))).collect::<Vec<_>>().join(", ")
        ),
    }
}

fn python_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 || (c as u32) > 0x7e => {
                let mut buf = [0u16; 2];
                for unit in c.encode_utf16(&mut buf) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Python's text of a scalar (`to_text`): `True`, `1`, `a`.
fn python_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::Null => "None".into(),
        other => other.to_string(),
    }
}

/// `urllib.parse.quote_plus`.
fn quote_plus(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => out.push(b as char),
            b' ' => out.push('+'),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Ansible's `form_urlencoded`: a mapping (or list of pairs) whose values
/// may be lists, `None` values dropped.
pub fn form_urlencoded(body: &Value) -> Result<String, ModuleError> {
    let pairs: Vec<(String, Value)> = match body {
        Value::String(s) => return Ok(s.clone()),
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        Value::Array(items) => items
            .iter()
            .map(|item| match item {
                Value::Array(kv) if kv.len() == 2 => Ok((python_text(&kv[0]), kv[1].clone())),
                _ => Err(ModuleError::failed("failed to parse body as form_urlencoded: expected pairs")),
            })
            .collect::<Result<_, _>>()?,
        other => return Ok(python_text(other)),
    };
    let mut out = Vec::new();
    for (k, v) in pairs {
        let values = match v {
            Value::Array(items) => items,
            other => vec![other],
        };
        for value in values.into_iter().filter(|v| !v.is_null()) {
            out.push(format!("{}={}", quote_plus(&k), quote_plus(&python_text(&value))));
        }
    }
    Ok(out.join("&"))
}

/// Where the request body comes from.
#[derive(Debug, Clone)]
enum Body {
    None,
    /// Bytes sent after the config on stdin.
    Bytes(Vec<u8>),
    /// A file on the host (`src` with `remote_src`).
    HostFile(String),
}

impl Module for Uri {
    fn name(&self) -> &'static str {
        "uri"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let mut request = Request::from_args(args, "url_username", "url_password")?;
        if args.opt_int("timeout")?.is_none() {
            request.timeout = 30;
        }
        let method = args.opt_str("method")?.unwrap_or_else(|| "GET".into()).to_uppercase();
        if method.is_empty() || !method.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(ModuleError::failed(
                "Parameter 'method' needs to be a single word in uppercase, like GET or POST.",
            ));
        }
        request.method = method.clone();
        request.no_cache = args.bool_or("force", false)?;
        request.ca_path = args.opt_str("ca_path")?.filter(|s| !s.is_empty());
        request.unix_socket = args.opt_str("unix_socket")?.filter(|s| !s.is_empty());
        let follow = args.choice_or("follow_redirects", &["all", "no", "none", "safe", "urllib2", "yes"], "safe")?;
        request.follow_redirects = match follow.as_str() {
            "none" | "no" => false,
            "safe" => matches!(method.as_str(), "GET" | "HEAD"),
            _ => true,
        };
        let format = args.choice_or("body_format", &["raw", "json", "form-urlencoded"], "raw")?;
        let has_type = request.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("content-type"));
        let body = match args.get("body") {
            Some(b) => {
                let text = match format.as_str() {
                    "json" => match b {
                        Value::String(s) => s.clone(),
                        other => python_json(other),
                    },
                    "form-urlencoded" => form_urlencoded(b)?,
                    _ => python_text(b),
                };
                let content_type = match format.as_str() {
                    "json" => Some("application/json"),
                    "form-urlencoded" => Some("application/x-www-form-urlencoded"),
                    _ => None,
                };
                if let (Some(t), false) = (content_type, has_type) {
                    request.headers.push(("Content-Type".into(), t.into()));
                }
                Body::Bytes(text.into_bytes())
            }
            None => match args.opt_str("src")? {
                Some(src) if args.bool_or("remote_src", false)? => Body::HostFile(src),
                Some(src) => {
                    let path = ctx.find_file(&src, "files")?;
                    let bytes = crate::inputs::read(&path)
                        .map_err(|e| ModuleError::LocalFile { path: path.clone(), message: e.to_string() })?;
                    Body::Bytes(bytes)
                }
                None => Body::None,
            },
        };
        request.body = !matches!(body, Body::None);
        request.config(Tool::Curl)?;
        let status_codes = match args.get("status_code") {
            None => vec![200],
            Some(_) => args
                .str_list("status_code")?
                .iter()
                .map(|s| {
                    s.trim().parse::<i64>().map_err(|_| ModuleError::Arg {
                        arg: "status_code".into(),
                        message: format!("`{s}` is not an integer"),
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
        };
        Ok(Box::new(UriAction {
            request,
            body,
            status_codes,
            return_content: args.bool_or("return_content", false)?,
            dest: args.opt_str("dest")?.filter(|s| !s.is_empty()),
            creates: args.opt_str("creates")?,
            removes: args.opt_str("removes")?,
            attrs: Attrs::from_args(args)?,
            check: ctx.check_mode(),
            dest_path: None,
        }))
    }
}

/// One `uri` task on one host.
#[derive(Debug)]
pub struct UriAction {
    request: Request,
    body: Body,
    status_codes: Vec<i64>,
    return_content: bool,
    dest: Option<String>,
    creates: Option<String>,
    removes: Option<String>,
    attrs: Attrs,
    check: bool,
    dest_path: Option<String>,
}

/// Python's `repr` of a list of ints: `[200, 201]`.
fn list_repr(codes: &[i64]) -> String {
    format!("[{}]", codes.iter().map(i64::to_string).collect::<Vec<_>>().join(", "))
}

/// Whether a Content-Type is JSON as Ansible decides it (`json`,
/// `javascript`, or a `+json` suffix).
pub fn is_json_type(content_type: &str) -> bool {
    let t = content_type.split([';', ',']).next().unwrap_or("").trim().to_ascii_lowercase();
    let sub = t.split_once('/').map_or("", |(_, s)| s);
    let sub = sub.rsplit_once('+').map_or(sub, |(_, suffix)| suffix);
    matches!(sub, "json" | "javascript")
}

/// `urljoin(base, location)` for the usual forms of a Location header.
fn url_join(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let (scheme, rest) = base.split_once("://").unwrap_or(("http", base));
    let host_end = rest.find('/').unwrap_or(rest.len());
    let origin = format!("{scheme}://{}", &rest[..host_end]);
    if let Some(path) = location.strip_prefix("//") {
        return format!("{scheme}://{path}");
    }
    if location.starts_with('/') {
        return format!("{origin}{location}");
    }
    let path = rest[host_end..].split(['?', '#']).next().unwrap_or("");
    let dir = path.rfind('/').map_or("/", |i| &path[..=i]);
    format!("{origin}{dir}{location}")
}

/// What the apply script reported.
#[derive(Debug, Default)]
pub struct Response {
    /// curl's exit status.
    pub rc: i32,
    /// HTTP status (0 when none).
    pub code: i64,
    /// The final URL.
    pub url: String,
    /// Seconds.
    pub elapsed: i64,
    /// Raw headers of every response.
    pub headers: String,
    /// The body, when sent back.
    pub body: Option<Vec<u8>>,
    /// `dest` was written.
    pub written: bool,
    /// The final state of `dest`, when written.
    pub state: Option<file_state::FileState>,
}

/// Parses the apply script's stdout.
pub fn parse_response(stdout: &[u8]) -> Result<Response, ModuleError> {
    let bad = |what: &str| ModuleError::Probe(format!("bad uri output: {what}"));
    let mut r = Response::default();
    let mut pos = 0;
    while pos < stdout.len() {
        let rest = &stdout[pos..];
        if rest.starts_with(b"stead-file-state 1\n") {
            r.state = file_state::parse(rest).ok();
            break;
        }
        let end = rest.iter().position(|&b| b == b'\n').ok_or_else(|| bad("unterminated line"))?;
        let line = String::from_utf8_lossy(&rest[..end]).into_owned();
        pos += end + 1;
        let Some(field) = line.strip_prefix("stead-uri ") else { continue };
        let (k, v) = field.split_once(' ').unwrap_or((field, ""));
        let section = |pos: &mut usize| -> Result<Vec<u8>, ModuleError> {
            let n: usize = v.parse().map_err(|_| bad("length"))?;
            let data = stdout.get(*pos..*pos + n).ok_or_else(|| bad("truncated section"))?.to_vec();
            *pos += n + 1;
            Ok(data)
        };
        match k {
            "rc" => r.rc = v.parse().unwrap_or(-1),
            "code" => r.code = v.parse().unwrap_or(0),
            "elapsed" => r.elapsed = v.parse().unwrap_or(0),
            "url" => r.url = String::from_utf8_lossy(&section(&mut pos)?).into_owned(),
            "headers" => r.headers = String::from_utf8_lossy(&section(&mut pos)?).into_owned(),
            "body" => r.body = Some(section(&mut pos)?),
            "written" => r.written = true,
            _ => {}
        }
    }
    Ok(r)
}

impl UriAction {
    fn script(&self, dest: Option<&str>, config_len: usize) -> String {
        let mut s = String::from(file_state::PRELUDE);
        s.push_str("die() { printf '%s\\n' \"$*\" >&2; exit 1; }\n");
        s.push_str(http::NEWLINE);
        match dest {
            Some(d) => s.push_str(&format!(
                "d={}\ndir=$(dirname -- \"$d\"; echo .); dir=${{dir%?.}}\n\
                 [ -d \"$dir\" ] || die \"Destination $dir does not exist\"\n\
                 out=$(mktemp -- \"$dir/.stead-uri.XXXXXXXX\") || die \"cannot create a temporary file in $dir\"\n",
                quote(d)
            )),
            None => s.push_str("out=$(mktemp) || die 'cannot create a temporary file'\n"),
        }
        s.push_str(
            "cfg=$(mktemp) || die 'cannot create a temporary file'\nhdr=$(mktemp) || die 'cannot create a temporary file'\n\
             body=$(mktemp) || die 'cannot create a temporary file'\n\
             trap 'rm -f -- \"$out\" \"$cfg\" \"$hdr\" \"$body\"' EXIT\ntrap 'exit 1' HUP INT TERM\n",
        );
        s.push_str(&format!("dd bs=1 count={config_len} of=\"$cfg\" 2>/dev/null\n"));
        match &self.body {
            Body::None => s.push_str("inp=/dev/null\n"),
            Body::Bytes(_) => s.push_str("cat > \"$body\"\ninp=$body\n"),
            Body::HostFile(p) => {
                s.push_str(&format!("inp={}\n[ -r \"$inp\" ] || die \"Unable to open source file $inp\"\n", quote(p)))
            }
        }
        s.push_str("set --\n");
        if dest.is_some() {
            // As Ansible: an existing dest makes the request conditional.
            s.push_str("if [ -f \"$d\" ]; then set -- -z \"$d\"; fi\n");
        }
        s.push_str(
            "t0=$(date +%s)\nrc=0\nmeta=$(curl -sS -K \"$cfg\" -D \"$hdr\" -o \"$out\" \
             -w '%{http_code}\\n%{url_effective}\\n' \"$@\" < \"$inp\") || rc=$?\n\
             code=${meta%%\"$nl\"*}\neff=${meta#*\"$nl\"}\neff=${eff%\"$nl\"}\n\
             printf 'stead-uri rc %s\\nstead-uri code %s\\n' \"$rc\" \"${code:-0}\"\n\
             printf 'stead-uri elapsed %s\\n' \"$(( $(date +%s) - t0 ))\"\n\
             printf 'stead-uri url %s\\n%s\\n' \"${#eff}\" \"$eff\"\n\
             n=$(wc -c < \"$hdr\"); printf 'stead-uri headers %s\\n' \"$((n + 0))\"; cat -- \"$hdr\"; printf '\\n'\n",
        );
        let ok_codes = self.status_codes.iter().filter(|c| **c != 304).map(i64::to_string).collect::<Vec<_>>();
        let write = match (dest, ok_codes.is_empty()) {
            (Some(_), false) => {
                format!("[ \"$rc\" -eq 0 ] && case ${{code:-0}} in {}) true ;; *) false ;; esac", ok_codes.join("|"))
            }
            _ => "false".into(),
        };
        s.push_str(&format!("if {write}; then\n"));
        // A new file gets the default mode, an existing one keeps its own;
        // then the requested attributes.
        s.push_str("  m=$(stat -c %a -- \"$d\" 2>/dev/null) || m=$(printf '%o' $((0666 & ~$(umask))))\n");
        s.push_str("  chmod \"$m\" -- \"$out\"\n");
        if let Some(text) = &self.attrs.mode_text {
            s.push_str(&format!("  chmod {} -- \"$out\"\n", quote(&file_write::chmod_symbolic(text))));
        } else if let Some(m) = self.attrs.target_mode(None, false) {
            s.push_str(&format!("  chmod 0{m:04o} -- \"$out\"\n"));
        }
        if let Some(o) = &self.attrs.owner {
            s.push_str(&format!("  chown -- {} \"$out\"\n", quote(o)));
        }
        if let Some(g) = &self.attrs.group {
            s.push_str(&format!("  chgrp -- {} \"$out\"\n", quote(g)));
        }
        s.push_str("  mv -f -- \"$out\" \"$d\"\n  printf 'stead-uri written\\n'\n");
        s.push_str(&file_write::report_final_state(false));
        s.push_str("else\n  n=$(wc -c < \"$out\"); printf 'stead-uri body %s\\n' \"$((n + 0))\"; cat -- \"$out\"; printf '\\n'\nfi\n");
        s
    }

    fn result(&self, resp: &Response) -> Result<Plan, ModuleError> {
        let mut r = ResultMap::new();
        let (reason, fields) = http::last_response(&resp.headers);
        let status = if resp.code == 0 { -1 } else { resp.code };
        let url = if resp.url.is_empty() { self.request.url.clone() } else { resp.url.clone() };
        r.insert("redirected".into(), (url != self.request.url).into());
        r.insert("url".into(), url.into());
        let mut content_type = String::new();
        let mut content_length = None;
        let mut cookies = serde_json::Map::new();
        for (k, v) in &fields {
            let key = k.to_ascii_lowercase().replace('-', "_");
            match key.as_str() {
                "content_type" => content_type = v.clone(),
                "content_length" => content_length = Some(v.clone()),
                "set_cookie" => {
                    if let Some((name, value)) = v.split(';').next().and_then(|c| c.split_once('=')) {
                        cookies.insert(name.trim().into(), value.trim().into());
                    }
                }
                _ => {}
            }
            let value = if key == "location" { url_join(&self.request.url, v) } else { v.clone() };
            r.insert(key, value.into());
        }
        let cookies_string =
            cookies.iter().map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or(""))).collect::<Vec<_>>();
        r.insert("cookies_string".into(), cookies_string.join("; ").into());
        r.insert("cookies".into(), Value::Object(cookies));
        r.insert("elapsed".into(), resp.elapsed.into());
        r.insert("status".into(), status.into());
        r.insert("changed".into(), resp.written.into());
        let msg = if resp.code == 0 || resp.rc != 0 && !(200..400).contains(&resp.code) {
            format!("Request failed: {}", "connection error")
        } else if (200..300).contains(&resp.code) {
            format!("OK ({} bytes)", content_length.as_deref().unwrap_or("unknown"))
        } else {
            format!("HTTP Error {}: {reason}", resp.code)
        };
        if let Some(d) = &self.dest_path {
            r.insert("path".into(), d.clone().into());
        }
        if let Some(st) = &resp.state {
            file_write::fill_state(&mut r, st);
            r.insert("path".into(), self.dest_path.clone().unwrap_or_default().into());
        }
        let body = if self.request.method == "HEAD" { Some(Vec::new()) } else { resp.body.clone() };
        let text = body.as_ref().map(|b| String::from_utf8_lossy(b).into_owned());
        let maybe_json = is_json_type(&content_type);
        if let (true, Some(t)) = (maybe_json, &text) {
            if let Ok(js) = serde_json::from_str::<Value>(t) {
                r.insert("json".into(), js);
            }
        }
        if self.return_content {
            r.insert("content".into(), text.clone().map_or(Value::Null, Value::from));
        }
        if !self.status_codes.contains(&status) {
            let msg = format!("Status code was {status} and not {}: {msg}", list_repr(&self.status_codes));
            r.insert("msg".into(), msg.clone().into());
            return Err(ModuleError::Failed { msg, result: r });
        }
        r.insert("msg".into(), msg.into());
        Ok(Plan { changed: resp.written, result: r, ..Plan::ok() })
    }
}

impl Action for UriAction {
    fn probe(&self) -> Option<String> {
        let mut s = String::from(http::DETECT);
        for p in [&self.creates, &self.removes].into_iter().flatten() {
            s.push_str(&format!("if [ -e {} ]; then echo 1; else echo 0; fi\n", quote(p)));
        }
        if let Some(d) = &self.dest {
            let name = http::url_filename(&self.request.url);
            s.push_str(&Probe::new(d).sha256(false).content_limit(None).into_dir(Some(name)).script());
        }
        Some(s)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("the uri probe did not run".into()))?;
        if out.status != 0 {
            return Err(ModuleError::failed(format!("the uri probe failed: {}", out.stderr_text().trim())));
        }
        if self.check {
            // Ansible's uri action does not support check mode: skipped.
            let msg = "This action (uri) does not support check mode.";
            let mut result = ResultMap::new();
            result.insert("msg".into(), msg.into());
            return Ok(Plan { skipped: true, unpredictable: true, msg: Some(msg.into()), result, ..Plan::ok() });
        }
        let (tool, rest) = http::parse_tool(&out.stdout)?;
        let text = String::from_utf8_lossy(rest).into_owned();
        let mut lines = text.lines();
        let guard = |msg: String| {
            let mut result = ResultMap::new();
            result.insert("stdout".into(), msg.clone().into());
            Ok(Plan { result, ..Plan::ok() })
        };
        if let Some(p) = &self.creates {
            if lines.next() == Some("1") {
                return guard(format!("skipped, since '{p}' exists"));
            }
        }
        if let Some(p) = &self.removes {
            if lines.next() == Some("0") {
                return guard(format!("skipped, since '{p}' does not exist"));
            }
        }
        if tool != Some(Tool::Curl) {
            return Err(ModuleError::failed("uri needs curl on the host, and curl was not found"));
        }
        if let Some(d) = &self.dest {
            let start = text.find("stead-file-state 1\n").ok_or_else(|| ModuleError::Probe("no dest state".into()))?;
            let st = file_state::parse(&rest[start..])?;
            let path = if st.into_dir {
                format!("{}/{}", d.trim_end_matches('/'), http::url_filename(&self.request.url))
            } else {
                d.clone()
            };
            if st.exists && st.kind != FileKind::File {
                return Err(ModuleError::failed(format!("Destination {path} is not a regular file")));
            }
            self.dest_path = Some(path);
        }
        let config = self.request.config(Tool::Curl)?;
        let script = self.script(self.dest_path.as_deref(), config.len());
        let mut stdin = config.into_bytes();
        if let Body::Bytes(b) = &self.body {
            stdin.extend_from_slice(b);
        }
        // Not a change by itself: only writing dest is (decided in finish).
        Ok(Plan { apply: Some(ApplyScript { script, stdin }), ..Plan::ok() })
    }

    fn finish(&mut self, _plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status != 0 {
            return Err(ModuleError::failed(format!("uri failed: {}", out.stderr_text().trim())));
        }
        let resp = parse_response(&out.stdout)?;
        let mut plan = self.result(&resp);
        if resp.rc != 0 && resp.code == 0 {
            let detail = out.stderr_text().trim().to_owned();
            if let Err(ModuleError::Failed { msg, result }) = &mut plan {
                *msg = msg.replace("connection error", &detail);
                result.insert("msg".into(), msg.clone().into());
            }
        }
        plan
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bodies_serialise_as_python_does() {
        assert_eq!(
            python_json(&json!({"a": 1, "b": [true, null], "c": "é\n"})),
            r#"{"a": 1, "b": [true, null], "c": "\u00e9\n"}"#
        );
        assert_eq!(form_urlencoded(&json!({"q": "a b&c", "n": [1, 2], "x": null})).unwrap(), "q=a+b%26c&n=1&n=2");
        assert_eq!(form_urlencoded(&json!([["k", true]])).unwrap(), "k=True");
        assert_eq!(form_urlencoded(&json!("raw=1")).unwrap(), "raw=1");
    }

    #[test]
    fn json_types_and_locations_follow_ansible() {
        assert!(is_json_type("application/json; charset=utf-8"));
        assert!(is_json_type("application/vnd.api+json"));
        assert!(is_json_type("text/javascript"));
        assert!(!is_json_type("text/html"));
        assert_eq!(url_join("http://h:1/a/b?x", "/c"), "http://h:1/c");
        assert_eq!(url_join("http://h/a/b", "c"), "http://h/a/c");
        assert_eq!(url_join("http://h/a", "https://o/x"), "https://o/x");
    }

    fn action(args: Value) -> UriAction {
        UriAction {
            request: Request { url: args["url"].as_str().unwrap().into(), ..Request::default() },
            body: Body::None,
            status_codes: vec![200],
            return_content: args["return_content"].as_bool().unwrap_or(false),
            dest: None,
            creates: None,
            removes: None,
            attrs: Attrs::default(),
            check: false,
            dest_path: None,
        }
    }

    fn output(code: i64, headers: &str, body: &str) -> Vec<u8> {
        format!(
            "stead-uri rc 0\nstead-uri code {code}\nstead-uri elapsed 0\nstead-uri url 10\nhttp://h/x\n\
             stead-uri headers {}\n{headers}\nstead-uri body {}\n{body}\n",
            headers.len(),
            body.len()
        )
        .into_bytes()
    }

    #[test]
    fn results_have_ansibles_keys() {
        let a = action(json!({"url": "http://h/x", "return_content": true}));
        let out = output(
            200,
            "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\nX-Served-By: t\r\nContent-Length: 8\r\n\r\n",
            "{\"a\": 1}",
        );
        let plan = a.result(&parse_response(&out).unwrap()).unwrap();
        let r = &plan.result;
        assert_eq!(r["status"], 200);
        assert_eq!(r["json"], json!({"a": 1}));
        assert_eq!(r["content"], "{\"a\": 1}");
        assert_eq!(r["x_served_by"], "t");
        assert_eq!(r["content_length"], "8");
        assert_eq!(r["msg"], "OK (8 bytes)");
        assert_eq!(r["redirected"], false);
        assert!(!plan.changed);
        let out = output(404, "HTTP/1.0 404 File not found\r\n\r\n", "nope");
        match a.result(&parse_response(&out).unwrap()) {
            Err(ModuleError::Failed { msg, result }) => {
                assert_eq!(msg, "Status code was 404 and not [200]: HTTP Error 404: File not found");
                assert_eq!(result["status"], 404);
            }
            other => panic!("{other:?}"),
        }
    }
}
