//! HTTP requests made on the host, shared by `get_url` and `uri`: with
//! `curl`, or `wget` when curl is missing (the probe says which one the
//! host has).
//!
//! Nothing the playbook gives (URL, headers, credentials, user agent) is
//! put on a command line: the request travels as a curl config file (or a
//! wgetrc) on the apply script's stdin, written to a private temporary file
//! and read with `curl -K` / `wget --config`, so a password never shows in
//! the host's process list, a diff or a report. The one exception is wget's
//! URL, which is an operand, quoted with [`quote`] after `--`.

use serde_json::Value;

use super::{Args, ModuleError};
use crate::transport::quote::quote;

/// Which client the host has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tool {
    /// `curl`.
    Curl,
    /// `wget` (curl missing).
    Wget,
}

/// Probe lines that print `stead-http-tool curl|wget|none`.
pub const DETECT: &str = "if command -v curl >/dev/null 2>&1; then printf 'stead-http-tool curl\\n'; \
     elif command -v wget >/dev/null 2>&1; then printf 'stead-http-tool wget\\n'; \
     else printf 'stead-http-tool none\\n'; fi\n";

/// Reads the tool line at the start of a probe's output; returns the tool
/// (`None`: neither) and the rest.
pub fn parse_tool(stdout: &[u8]) -> Result<(Option<Tool>, &[u8]), ModuleError> {
    let bad = || ModuleError::Probe("missing the stead-http-tool line".into());
    let end = stdout.iter().position(|&b| b == b'\n').ok_or_else(bad)?;
    let tool = match &stdout[..end] {
        b"stead-http-tool curl" => Some(Tool::Curl),
        b"stead-http-tool wget" => Some(Tool::Wget),
        b"stead-http-tool none" => None,
        _ => return Err(bad()),
    };
    Ok((tool, &stdout[end + 1..]))
}

/// One request.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The URL.
    pub url: String,
    /// `GET`, `POST`, ...
    pub method: String,
    /// Extra request headers, in order.
    pub headers: Vec<(String, String)>,
    /// Basic-auth user.
    pub user: Option<String>,
    /// Basic-auth password (never shown).
    pub password: Option<String>,
    /// Send credentials without waiting for a 401 challenge.
    pub force_basic_auth: bool,
    /// Check TLS certificates.
    pub validate_certs: bool,
    /// Seconds: connection timeout, and the longest stall of a transfer.
    pub timeout: u64,
    /// The User-Agent.
    pub agent: String,
    /// Honour `*_proxy` variables.
    pub use_proxy: bool,
    /// Follow redirects.
    pub follow_redirects: bool,
    /// Ask for a compressed response and decompress it.
    pub decompress: bool,
    /// Read `~/.netrc` for credentials when none are given.
    pub use_netrc: bool,
    /// The request sends the body in `"$reqbody"`.
    pub body: bool,
    /// TLS client certificate (PEM) on the host.
    pub client_cert: Option<String>,
    /// Its key, when not in the certificate file.
    pub client_key: Option<String>,
    /// CA bundle to verify the server with (`uri`'s `ca_path`).
    pub ca_path: Option<String>,
    /// Connect through this Unix socket (`uri`'s `unix_socket`, curl only).
    pub unix_socket: Option<String>,
    /// Ask caches for a fresh copy (`Cache-Control: no-cache`, Ansible's `force`).
    pub no_cache: bool,
}

/// A value for a config line, or an error for one that cannot be written
/// safely (a line break would start a new directive).
fn one_line<'a>(what: &str, value: &'a str) -> Result<&'a str, ModuleError> {
    if value.contains(['\n', '\r', '\0']) {
        return Err(ModuleError::Arg { arg: what.into(), message: "must not contain a line break".into() });
    }
    Ok(value)
}

/// A curl config string: double-quoted, `\` and `"` escaped.
fn curl_str(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

impl Request {
    /// The common URL arguments of a task (`url_argument_spec`), with the
    /// user/password argument names of the module.
    pub fn from_args(args: &Args, user_arg: &str, password_arg: &str) -> Result<Self, ModuleError> {
        let timeout = args.opt_int("timeout")?.unwrap_or(10);
        if timeout <= 0 {
            return Err(ModuleError::Arg { arg: "timeout".into(), message: "must be a positive number".into() });
        }
        Ok(Request {
            url: args.str("url")?,
            method: "GET".into(),
            headers: headers(args)?,
            user: args.opt_str(user_arg)?.filter(|s| !s.is_empty()),
            password: args.opt_str(password_arg)?,
            force_basic_auth: args.bool_or("force_basic_auth", false)?,
            validate_certs: args.bool_or("validate_certs", true)?,
            timeout: timeout as u64,
            agent: args.opt_str("http_agent")?.unwrap_or_else(|| "ansible-httpget".into()),
            use_proxy: args.bool_or("use_proxy", true)?,
            follow_redirects: true,
            decompress: args.bool_or("decompress", true)?,
            use_netrc: args.bool_or("use_netrc", true)?,
            body: false,
            client_cert: args.opt_str("client_cert")?.filter(|s| !s.is_empty()),
            client_key: args.opt_str("client_key")?.filter(|s| !s.is_empty()),
            ca_path: None,
            unix_socket: None,
            no_cache: false,
        })
    }

    /// The config file for `tool`, sent on stdin.
    pub fn config(&self, tool: Tool) -> Result<String, ModuleError> {
        let mut c = String::new();
        one_line("url", &self.url)?;
        for (k, v) in &self.headers {
            one_line("headers", k)?;
            one_line("headers", v)?;
        }
        one_line("http_agent", &self.agent)?;
        if let Some(u) = &self.user {
            one_line("url_username", u)?;
        }
        if let Some(p) = &self.password {
            one_line("url_password", p)?;
        }
        for (arg, v) in [
            ("client_cert", &self.client_cert),
            ("client_key", &self.client_key),
            ("ca_path", &self.ca_path),
            ("unix_socket", &self.unix_socket),
        ] {
            if let Some(v) = v {
                one_line(arg, v)?;
            }
        }
        match tool {
            Tool::Curl => {
                c.push_str(&format!("url = {}\n", curl_str(&self.url)));
                c.push_str(&format!("user-agent = {}\n", curl_str(&self.agent)));
                for (k, v) in &self.headers {
                    c.push_str(&format!("header = {}\n", curl_str(&format!("{k}: {v}"))));
                }
                if let Some(u) = &self.user {
                    let p = self.password.as_deref().unwrap_or("");
                    c.push_str(&format!("user = {}\n", curl_str(&format!("{u}:{p}"))));
                } else if self.use_netrc {
                    c.push_str("netrc-optional\n");
                }
                if !self.validate_certs {
                    c.push_str("insecure\n");
                }
                if !self.use_proxy {
                    c.push_str("noproxy = \"*\"\n");
                }
                if self.follow_redirects {
                    c.push_str("location\nmax-redirs = 50\n");
                }
                if self.decompress {
                    c.push_str("compressed\n");
                }
                if self.no_cache {
                    c.push_str("header = \"Cache-Control: no-cache\"\n");
                }
                for (key, v) in [
                    ("cert", &self.client_cert),
                    ("key", &self.client_key),
                    ("cacert", &self.ca_path),
                    ("unix-socket", &self.unix_socket),
                ] {
                    if let Some(v) = v {
                        c.push_str(&format!("{key} = {}\n", curl_str(v)));
                    }
                }
                let t = self.timeout;
                c.push_str(&format!("connect-timeout = {t}\nspeed-time = {t}\nspeed-limit = 1\n"));
                match self.method.as_str() {
                    "GET" if !self.body => {}
                    "HEAD" => c.push_str("head\n"),
                    m => {
                        one_line("method", m)?;
                        c.push_str(&format!("request = {}\n", curl_str(m)));
                    }
                }
                if self.body {
                    c.push_str("data-binary = \"@-\"\n");
                }
            }
            Tool::Wget => {
                c.push_str(&format!("user_agent = {}\n", self.agent));
                for (k, v) in &self.headers {
                    c.push_str(&format!("header = {k}: {v}\n"));
                }
                if let Some(u) = &self.user {
                    c.push_str(&format!("http_user = {u}\n"));
                    c.push_str(&format!("http_password = {}\n", self.password.as_deref().unwrap_or("")));
                    if self.force_basic_auth {
                        c.push_str("auth_no_challenge = on\n");
                    }
                }
                if !self.validate_certs {
                    c.push_str("check_certificate = off\n");
                }
                if !self.use_proxy {
                    c.push_str("use_proxy = off\n");
                }
                if !self.follow_redirects {
                    c.push_str("max_redirect = 0\n");
                }
                c.push_str(&format!("timeout = {}\ntries = 1\n", self.timeout));
                if self.no_cache {
                    c.push_str("cache = off\n");
                }
                for (key, v) in [
                    ("certificate", &self.client_cert),
                    ("private_key", &self.client_key),
                    ("ca_certificate", &self.ca_path),
                ] {
                    if let Some(v) = v {
                        c.push_str(&format!("{key} = {v}\n"));
                    }
                }
                if self.unix_socket.is_some() {
                    return Err(ModuleError::failed("unix_socket needs curl on the host (only wget was found)"));
                }
                if self.method != "GET" || self.body {
                    return Err(ModuleError::failed(format!(
                        "{} requests need curl on the host (only wget was found)",
                        self.method
                    )));
                }
            }
        }
        Ok(c)
    }

    /// Shell lines that fetch the response body into `"$out"` and its
    /// headers into `"$hdr"` (every response of a redirect chain) with the
    /// config in `"$cfg"`, and set `rc` (the tool's exit status), `code`
    /// (the last HTTP status, `000` when none) and `eff` (the final URL).
    pub fn fetch_lines(&self, tool: Tool) -> String {
        match tool {
            Tool::Curl => {
                // The request body, when any, is read from "$reqbody"
                // (data-binary @- in the config reads stdin).
                let input = if self.body { "< \"$reqbody\"" } else { "</dev/null" };
                format!(
                    "rc=0\nmeta=$(curl -sS -K \"$cfg\" -D \"$hdr\" -o \"$out\" \
                     -w '%{{http_code}}\\n%{{url_effective}}\\n' {input}) || rc=$?\n\
                     code=${{meta%%\"$nl\"*}}\neff=${{meta#*\"$nl\"}}\neff=${{eff%\"$nl\"}}\n\
                     [ -n \"$code\" ] || code=000\n"
                )
            }
            Tool::Wget => format!(
                "rc=0\nwget --config=\"$cfg\" -nv -S -O \"$out\" -- {} 2>\"$hdr\" </dev/null || rc=$?\n\
                 code=$(sed -n 's/^  HTTP\\/[0-9.]* \\([0-9][0-9]*\\).*/\\1/p' \"$hdr\" | tail -n 1)\n\
                 [ -n \"$code\" ] || code=000\n\
                 eff=$(sed -n 's/^  [Ll]ocation: *//p' \"$hdr\" | tail -n 1 | tr -d '\\r')\n\
                 case $eff in http://* | https://*) ;; *) eff={} ;; esac\n",
                quote(&self.url),
                quote(&self.url)
            ),
        }
    }
}

/// Shell lines that set `nl` to a newline (used by [`Request::fetch_lines`]).
pub const NEWLINE: &str = "nl='\n'\n";

/// The `headers` argument as ordered pairs of strings.
fn headers(args: &Args) -> Result<Vec<(String, String)>, ModuleError> {
    match args.get("headers") {
        None => Ok(Vec::new()),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    Value::String(s) => s.clone(),
                    Value::Null => String::new(),
                    other => other.to_string(),
                };
                Ok((k.clone(), v))
            })
            .collect(),
        Some(other) => {
            Err(ModuleError::Arg { arg: "headers".into(), message: format!("expected a mapping, got {other}") })
        }
    }
}

/// Ansible's `url_filename`: the last part of the URL's path, or
/// `index.html` when it has none.
pub fn url_filename(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let name = path.rsplit('/').next().unwrap_or("");
    if name.is_empty() {
        "index.html".into()
    } else {
        percent_decode(name)
    }
}

/// Decodes `%XX` escapes (as `urllib.parse.unquote`).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses raw response headers (curl's `-D` file, or wget's `-S` lines):
/// the status line's reason and the header fields of the last response.
pub fn last_response(raw: &str) -> (String, Vec<(String, String)>) {
    let mut reason = String::new();
    let mut fields = Vec::new();
    for line in raw.lines() {
        let line = line.trim_end_matches('\r');
        let trimmed = line.trim_start();
        if let Some(status) = trimmed.strip_prefix("HTTP/") {
            fields.clear();
            reason = status.splitn(3, ' ').nth(2).unwrap_or("").to_owned();
        } else if let Some((k, v)) = trimmed.split_once(':') {
            if !k.is_empty() && !k.contains(' ') {
                fields.push((k.to_owned(), v.trim().to_owned()));
            }
        }
    }
    (reason, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_come_from_the_url_path() {
        assert_eq!(url_filename("http://h/a/b.tar.gz"), "b.tar.gz");
        assert_eq!(url_filename("http://h/a/b%20c.txt?x=1"), "b c.txt");
        assert_eq!(url_filename("http://h/"), "index.html");
        assert_eq!(url_filename("http://h"), "index.html");
        assert_eq!(url_filename("file:///srv/x.bin"), "x.bin");
    }

    #[test]
    fn the_config_carries_every_value_quoted_and_refuses_line_breaks() {
        let r = Request {
            url: "http://h/x\"y".into(),
            method: "GET".into(),
            headers: vec![("X-A".into(), "1 \\ 2".into())],
            user: Some("u".into()),
            password: Some("p\"w".into()),
            timeout: 5,
            agent: "a".into(),
            ..Request::default()
        };
        let c = r.config(Tool::Curl).unwrap();
        assert!(c.contains("url = \"http://h/x\\\"y\"\n"), "{c}");
        assert!(c.contains("header = \"X-A: 1 \\\\ 2\"\n"), "{c}");
        assert!(c.contains("user = \"u:p\\\"w\"\n"), "{c}");
        assert!(c.contains("connect-timeout = 5\n"), "{c}");
        let w = r.config(Tool::Wget).unwrap();
        assert!(w.contains("http_password = p\"w\n"), "{w}");
        let bad = Request { headers: vec![("X".into(), "a\nurl = evil".into())], ..r };
        assert!(bad.config(Tool::Curl).is_err());
    }

    #[test]
    fn the_last_response_of_a_redirect_chain_is_read() {
        let raw = "HTTP/1.0 301 Moved\r\nLocation: /b\r\n\r\nHTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n";
        let (reason, fields) = last_response(raw);
        assert_eq!(reason, "OK");
        assert_eq!(fields, vec![("Content-Type".to_owned(), "text/plain".to_owned())]);
        let wget = "  HTTP/1.1 404 File not found\n  Server: x\n2026-01-01 ERROR 404\n";
        assert_eq!(last_response(wget).0, "File not found");
    }
}
