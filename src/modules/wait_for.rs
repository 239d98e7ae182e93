//! `wait_for`: waits on the host for a TCP port, a file, a string in a
//! file or on a port, or for a port's connections to drain, as
//! `ansible.builtin.wait_for`.
//!
//! The whole wait is one remote script that polls with POSIX sh and the
//! host's own tools: a port is tested with bash's `/dev/tcp` under
//! coreutils' `timeout`, else with `nc -z` (or busybox's); the script fails
//! with a clear message when the host has none of them. `search_regex` is a
//! Python regular expression: the host matches it with `grep -P` (PCRE,
//! which reads Python's syntax), in multi-line mode over the whole file as
//! Ansible does; once it matches, the script sends back the text and the
//! controller computes `match_groups` and `match_groupdict` with
//! [`crate::pyregex`]. Connections are counted from `/proc/net/tcp{,6}`, as
//! Ansible's Linux implementation does.
//!
//! `wait_for` never changes the host: it reports `changed: false`, and in
//! check mode it is skipped, as Ansible skips it (the module does not
//! support check mode).

use serde_json::Value;

use super::file_state::{self, FileState, Probe};
use super::file_write;
use super::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::pyregex::{Flags, PyRegex};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `wait_for` module.
pub struct WaitFor;

/// Exit status of the script on timeout.
const TIMED_OUT: i32 = 3;
/// Exit status when the host lacks the tools a check needs.
const NO_TOOL: i32 = 4;

/// Largest text sent back for `match_groups`.
const CONTENT_LIMIT: u64 = 1 << 20;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("host", ArgKind::Str),
    ArgSpec::new("timeout", ArgKind::Int),
    ArgSpec::new("connect_timeout", ArgKind::Int),
    ArgSpec::new("delay", ArgKind::Int),
    ArgSpec::new("port", ArgKind::Int),
    ArgSpec::new("active_connection_states", ArgKind::List),
    ArgSpec::new("path", ArgKind::Str),
    ArgSpec::new("search_regex", ArgKind::Str),
    ArgSpec::new("state", ArgKind::Str).choices(&["absent", "drained", "present", "started", "stopped"]),
    ArgSpec::new("exclude_hosts", ArgKind::List),
    ArgSpec::new("sleep", ArgKind::Int),
    ArgSpec::new("msg", ArgKind::Str),
]);

/// TCP states as `/proc/net/tcp` numbers them.
const TCP_STATES: &[(&str, &str)] = &[
    ("ESTABLISHED", "01"),
    ("SYN_SENT", "02"),
    ("SYN_RECV", "03"),
    ("FIN_WAIT1", "04"),
    ("FIN_WAIT2", "05"),
    ("TIME_WAIT", "06"),
    ("CLOSE", "07"),
    ("CLOSE_WAIT", "08"),
    ("LAST_ACK", "09"),
    ("LISTEN", "0A"),
    ("CLOSING", "0B"),
];

const DEFAULT_ACTIVE: &[&str] = &["ESTABLISHED", "FIN_WAIT1", "FIN_WAIT2", "SYN_RECV", "SYN_SENT", "TIME_WAIT"];

/// What to wait for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The port accepts connections / the file exists (and matches).
    Present,
    /// The port refuses connections / the file is gone.
    Absent,
    /// No active connection on the port.
    Drained,
}

/// One `wait_for` task on one host.
#[derive(Debug)]
pub struct WaitForAction {
    host: String,
    port: Option<u16>,
    path: Option<String>,
    regex: Option<(String, PyRegex)>,
    state_name: String,
    state: State,
    timeout: i64,
    connect_timeout: i64,
    delay: i64,
    sleep: i64,
    msg: Option<String>,
    active_states: Vec<&'static str>,
    exclude_hosts: Vec<String>,
    check: bool,
}

fn positive(args: &Args, name: &str, default: i64) -> Result<i64, ModuleError> {
    let v = args.opt_int(name)?.unwrap_or(default);
    if v < 0 {
        return Err(ModuleError::Arg { arg: name.into(), message: "must not be negative".into() });
    }
    Ok(v)
}

impl Module for WaitFor {
    fn name(&self) -> &'static str {
        "wait_for"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let state_name = args.choice_or("state", &["absent", "drained", "present", "started", "stopped"], "started")?;
        let state = match state_name.as_str() {
            "absent" | "stopped" => State::Absent,
            "drained" => State::Drained,
            _ => State::Present,
        };
        let port =
            match args.opt_int("port")? {
                None => None,
                Some(p) => Some(u16::try_from(p).ok().filter(|p| *p > 0).ok_or_else(|| ModuleError::Arg {
                    arg: "port".into(),
                    message: format!("{p} is not a TCP port"),
                })?),
            };
        let path = args.opt_str("path")?.filter(|s| !s.is_empty());
        if port.is_some() && path.is_some() {
            return Err(ModuleError::failed("port and path parameter can not both be passed to wait_for"));
        }
        if path.is_some() && state_name == "stopped" {
            return Err(ModuleError::failed(
                "state=stopped should only be used for checking a port in the wait_for module",
            ));
        }
        if path.is_some() && state == State::Drained {
            return Err(ModuleError::failed(
                "state=drained should only be used for checking a port in the wait_for module",
            ));
        }
        let exclude_hosts = if args.has("exclude_hosts") { Some(args.str_list("exclude_hosts")?) } else { None };
        if exclude_hosts.is_some() && state != State::Drained {
            return Err(ModuleError::failed("exclude_hosts should only be with state=drained"));
        }
        let exclude_hosts = exclude_hosts.unwrap_or_default();
        for h in &exclude_hosts {
            if h.parse::<std::net::Ipv4Addr>().is_err() {
                return Err(ModuleError::Arg {
                    arg: "exclude_hosts".into(),
                    message: format!("`{h}`: stead takes IPv4 addresses here"),
                });
            }
        }
        let active_states = if args.has("active_connection_states") {
            args.str_list("active_connection_states")?
                .iter()
                .map(|s| {
                    TCP_STATES
                        .iter()
                        .find(|(n, _)| n == s)
                        .map(|(_, id)| *id)
                        .ok_or_else(|| ModuleError::failed(format!("unknown active_connection_state ({s}) defined")))
                })
                .collect::<Result<Vec<_>, _>>()?
        } else {
            DEFAULT_ACTIVE.iter().map(|n| TCP_STATES.iter().find(|(m, _)| m == n).map(|(_, id)| *id).unwrap()).collect()
        };
        let regex = match args.opt_str("search_regex")? {
            Some(r) => {
                let compiled = PyRegex::new(&r, Flags { multiline: true, ..Flags::default() })
                    .map_err(|e| ModuleError::failed(format!("Invalid regular expression: {e}")))?;
                Some((r, compiled))
            }
            None => None,
        };
        if state == State::Drained && port.is_none() {
            return Err(ModuleError::failed("state=drained needs a port"));
        }
        Ok(Box::new(WaitForAction {
            host: args.opt_str("host")?.unwrap_or_else(|| "127.0.0.1".into()),
            port,
            path,
            regex,
            state_name,
            state,
            timeout: positive(args, "timeout", 300)?,
            connect_timeout: positive(args, "connect_timeout", 5)?.max(1),
            delay: positive(args, "delay", 0)?,
            sleep: positive(args, "sleep", 1)?,
            msg: args.opt_str("msg")?,
            active_states,
            exclude_hosts,
            check: ctx.check_mode(),
        }))
    }
}

/// An IPv4 address as `/proc/net/tcp` prints it (little-endian hex).
pub fn proc_hex(ip: std::net::Ipv4Addr) -> String {
    let o = ip.octets();
    format!("{:02X}{:02X}{:02X}{:02X}", o[3], o[2], o[1], o[0])
}

/// The awk program that counts active connections on a port of the local
/// addresses in `ips` (hex; `00000000` = any), skipping remote addresses
/// in `exclude` (hex).
fn drained_awk() -> &'static str {
    r#"BEGIN { n = split(states, s, ","); for (i = 1; i <= n; i++) st[s[i]] = 1
  n = split(ips, a, ","); for (i = 1; i <= n; i++) ip[a[i]] = 1
  n = split(exclude, e, ","); for (i = 1; i <= n; i++) ex[e[i]] = 1; c = 0 }
$2 == "local_address" { next }
{ split($2, l, ":"); split($3, r, ":")
  if (!(toupper($4) in st) || toupper(l[2]) != port) next
  lip = l[1]; rip = r[1]
  if (length(lip) == 32) { if (substr(lip, 1, 24) == "0000000000000000FFFF0000") lip = substr(lip, 25); else if (lip == "00000000000000000000000000000000") lip = "00000000" }
  if (length(rip) == 32 && substr(rip, 1, 24) == "0000000000000000FFFF0000") rip = substr(rip, 25)
  if (rip in ex) next
  if ((lip in ip) || ("00000000" in ip)) c++ }
END { print c }"#
}

impl WaitForAction {
    fn target(&self) -> String {
        format!("{}:{}", self.host, self.port.unwrap_or(0))
    }

    /// Ansible's timeout message.
    fn timeout_msg(&self) -> String {
        if let Some(m) = &self.msg {
            return m.clone();
        }
        let re = self.regex.as_ref().map(|(r, _)| r.as_str());
        match (self.state, &self.path, re) {
            (State::Drained, _, _) => format!("Timeout when waiting for {} to drain", self.target()),
            (State::Absent, Some(p), _) => format!("Timeout when waiting for {p} to be absent."),
            (State::Absent, None, _) => format!("Timeout when waiting for {} to stop.", self.target()),
            (State::Present, Some(p), Some(r)) => format!("Timeout when waiting for search string {r} in {p}"),
            (State::Present, Some(p), None) => format!("Timeout when waiting for file {p}"),
            (State::Present, None, Some(r)) => {
                format!("Timeout when waiting for search string {r} in {}", self.target())
            }
            (State::Present, None, None) => format!("Timeout when waiting for {}", self.target()),
        }
    }

    /// Shell lines defining `conn` (succeeds when the port accepts a
    /// connection) and, with bash, `reader` (prints what the port sends).
    fn port_tools(&self) -> String {
        format!(
            "if command -v bash >/dev/null 2>&1 && command -v timeout >/dev/null 2>&1; then\n  \
             conn() {{ timeout \"$ct\" bash -c 'exec 3<>\"/dev/tcp/$1/$2\"' sh \"$host\" \"$port\" 2>/dev/null; }}\n  \
             tcp=bash\n\
             elif command -v nc >/dev/null 2>&1; then\n  \
             conn() {{ nc -z -w \"$ct\" \"$host\" \"$port\" </dev/null >/dev/null 2>&1; }}\n  tcp=nc\n\
             elif command -v busybox >/dev/null 2>&1 && busybox nc --help 2>&1 | grep -q -- -z; then\n  \
             conn() {{ busybox nc -z -w \"$ct\" \"$host\" \"$port\" </dev/null >/dev/null 2>&1; }}\n  tcp=nc\n\
             else\n  printf '%s\\n' 'wait_for cannot test a TCP port on this host: it needs bash and timeout, or nc' >&2\n  \
             exit {NO_TOOL}\nfi\n"
        )
    }

    /// The script: polls until the condition holds or the deadline.
    pub fn script(&self) -> String {
        let mut s = String::from("LC_ALL=C\nexport LC_ALL\n");
        s.push_str(&format!(
            "t0=$(date +%s)\nend=$((t0 + {}))\nct={}\nhost={}\nport={}\n",
            self.timeout,
            self.connect_timeout,
            quote(&self.host),
            self.port.unwrap_or(0)
        ));
        let grep_pattern = self.regex.as_ref().map(|(r, _)| quote(&format!("(?m){r}")).into_owned());
        if grep_pattern.is_some() {
            s.push_str(&format!(
                "printf '' | grep -qP '' 2>/dev/null; if [ $? -gt 1 ]; then\n  \
                 printf '%s\\n' 'search_regex needs grep -P (GNU grep with PCRE) on the host' >&2; exit {NO_TOOL}\nfi\n"
            ));
        }
        if self.port.is_some() && self.state != State::Drained {
            s.push_str(&self.port_tools());
            if grep_pattern.is_some() {
                s.push_str(&format!(
                    "[ \"$tcp\" = bash ] || {{ printf '%s\\n' 'search_regex on a port needs bash and timeout on the host' >&2; \
                     exit {NO_TOOL}; }}\nbuf=$(mktemp) || exit 1\ntrap 'rm -f -- \"$buf\"' EXIT\n"
                ));
            }
        }
        if let Some(p) = &self.path {
            s.push_str(&format!("p={}\n", quote(p)));
        }
        // `check` succeeds when the wait is over.
        let check = match (self.state, &self.path, &grep_pattern) {
            (State::Present, Some(_), None) => "[ -e \"$p\" ]".to_owned(),
            (State::Present, Some(_), Some(re)) => format!("[ -e \"$p\" ] && grep -qPz -e {re} -- \"$p\" 2>/dev/null"),
            (State::Absent, Some(_), _) => "! [ -e \"$p\" ]".to_owned(),
            (State::Present, None, None) if self.port.is_some() => "conn".to_owned(),
            (State::Present, None, Some(re)) if self.port.is_some() => format!(
                "{{ : > \"$buf\"; rem=$((end - $(date +%s))); [ \"$rem\" -gt 0 ] || rem=1\n  \
                 timeout \"$rem\" bash -c 'exec 3<>\"/dev/tcp/$1/$2\" && cat <&3' sh \"$host\" \"$port\" > \"$buf\" 2>/dev/null &\n  \
                 pid=$!; found=1\n  \
                 while :; do if grep -qPz -e {re} -- \"$buf\" 2>/dev/null; then found=0; break; fi\n    \
                 kill -0 \"$pid\" 2>/dev/null || {{ grep -qPz -e {re} -- \"$buf\" 2>/dev/null && found=0; break; }}\n    \
                 sleep 0.2; done\n  kill \"$pid\" 2>/dev/null; wait \"$pid\" 2>/dev/null; [ \"$found\" = 0 ]; }}"
            ),
            (State::Absent, None, _) if self.port.is_some() => "! conn".to_owned(),
            (State::Drained, _, _) => {
                let ips = match self.host.parse::<std::net::Ipv4Addr>() {
                    Ok(ip) => proc_hex(ip),
                    Err(_) if self.host == "localhost" => proc_hex(std::net::Ipv4Addr::LOCALHOST),
                    Err(_) => "00000000".into(),
                };
                let exclude = self
                    .exclude_hosts
                    .iter()
                    .filter_map(|h| h.parse().ok())
                    .map(proc_hex)
                    .collect::<Vec<_>>()
                    .join(",");
                format!(
                    "[ \"$(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v port={:04X} -v states={} -v ips={} -v exclude={} {})\" = 0 ]",
                    self.port.unwrap_or(0),
                    quote(&self.active_states.join(",")),
                    quote(&ips),
                    quote(&exclude),
                    quote(drained_awk())
                )
            }
            // Neither port nor path: Ansible sleeps for the whole timeout.
            _ => "false".to_owned(),
        };
        if self.delay > 0 {
            s.push_str(&format!("sleep {}\n", self.delay));
        }
        let idle = self.path.is_none() && self.port.is_none() && self.state != State::Drained;
        if idle {
            s.push_str(&format!("sleep {}\ndone=0\n", self.timeout));
        } else {
            s.push_str(&format!(
                "done=1\nwhile [ \"$(date +%s)\" -lt \"$end\" ]; do\n  if {check}; then done=0; break; fi\n  sleep {}\ndone\n",
                self.sleep
            ));
        }
        s.push_str("printf 'stead-wait_for elapsed %s\\n' \"$(( $(date +%s) - t0 ))\"\n");
        s.push_str(&format!("[ \"$done\" = 0 ] || exit {TIMED_OUT}\n"));
        if self.path.is_some() {
            // Ansible reports the file's attributes (its `state` too).
            s.push_str("if [ -e \"$p\" ]; then\nprintf 'stead-file-state 1\\n'\n");
            s.push_str(&Probe::new("").sha256(false).content_limit(None).body());
            s.push_str("fi\n");
        }
        if self.regex.is_some() {
            let source = if self.path.is_some() { "\"$p\"" } else { "\"$buf\"" };
            s.push_str(&format!(
                "n=$(head -c {CONTENT_LIMIT} -- {source} | wc -c)\nprintf 'stead-wait_for content %s\\n' \"$((n + 0))\"\n\
                 head -c {CONTENT_LIMIT} -- {source}\nprintf '\\n'\n"
            ));
        }
        s
    }

    fn result(&self, elapsed: i64, text: Option<&str>) -> Result<ResultMap, ModuleError> {
        let mut r = ResultMap::new();
        let mut groups = Vec::new();
        let mut groupdict = serde_json::Map::new();
        if let (Some((_, re)), Some(text)) = (&self.regex, text) {
            if let Some(m) = re.search(text).map_err(|e| ModuleError::failed(e.to_string()))? {
                let slice = |span: Option<(usize, usize)>| span.map_or(Value::Null, |(a, b)| Value::from(&text[a..b]));
                groups = m.groups.iter().skip(1).map(|g| slice(*g)).collect();
                for (name, _) in &m.names {
                    groupdict.insert(name.clone(), slice(m.named(name)));
                }
            }
        }
        r.insert("changed".into(), false.into());
        r.insert("state".into(), self.state_name.clone().into());
        r.insert("port".into(), self.port.map_or(Value::Null, Value::from));
        r.insert("path".into(), self.path.clone().map_or(Value::Null, Value::from));
        r.insert("search_regex".into(), self.regex.as_ref().map_or(Value::Null, |(s, _)| Value::from(s.clone())));
        r.insert("match_groups".into(), Value::Array(groups));
        r.insert("match_groupdict".into(), Value::Object(groupdict));
        r.insert("elapsed".into(), elapsed.into());
        Ok(r)
    }
}

/// Splits the script's output into the elapsed seconds, the path's state
/// and the matched text.
fn parse_output(stdout: &[u8]) -> (i64, Option<FileState>, Option<String>) {
    let marker = b"stead-file-state 1\n";
    let state =
        stdout.windows(marker.len()).position(|w| w == marker).and_then(|i| file_state::parse(&stdout[i..]).ok());
    let text = String::from_utf8_lossy(stdout);
    let mut elapsed = 0;
    let mut content = None;
    let mut rest = text.as_ref();
    while let Some((line, tail)) = rest.split_once('\n') {
        if let Some(v) = line.strip_prefix("stead-wait_for elapsed ") {
            elapsed = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = line.strip_prefix("stead-wait_for content ") {
            let n: usize = v.trim().parse().unwrap_or(0);
            content = Some(tail.get(..n).unwrap_or(tail).to_owned());
            break;
        }
        rest = tail;
    }
    (elapsed, state, content)
}

impl Action for WaitForAction {
    fn probe(&self) -> Option<String> {
        None
    }

    fn paths(&self) -> Option<Vec<String>> {
        Some(Vec::new())
    }

    fn compare(&mut self, _probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        if self.check {
            let msg = "remote module (wait_for) does not support check mode";
            let mut result = ResultMap::new();
            result.insert("msg".into(), msg.into());
            return Ok(Plan { skipped: true, unpredictable: true, msg: Some(msg.into()), result, ..Plan::ok() });
        }
        Ok(Plan { apply: Some(ApplyScript { script: self.script(), stdin: Vec::new() }), ..Plan::ok() })
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        let (elapsed, state, content) = parse_output(&out.stdout);
        match out.status {
            0 => {
                plan.result = self.result(elapsed, content.as_deref())?;
                if let Some(st) = &state {
                    file_write::fill_state(&mut plan.result, st);
                }
                plan.changed = false;
                Ok(plan)
            }
            TIMED_OUT => {
                let msg = self.timeout_msg();
                let mut result = ResultMap::new();
                result.insert("elapsed".into(), elapsed.into());
                result.insert("msg".into(), msg.clone().into());
                Err(ModuleError::Failed { msg, result })
            }
            _ => {
                let err = out.stderr_text();
                let msg = if err.trim().is_empty() {
                    format!("wait_for failed (exit {})", out.status)
                } else {
                    err.trim().to_owned()
                };
                let mut result = ResultMap::new();
                result.insert("elapsed".into(), elapsed.into());
                Err(ModuleError::Failed { msg, result })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};
    use serde_json::json;

    fn prepare(args: Value) -> Result<Box<dyn Action>, ModuleError> {
        WaitFor.prepare(&Args::new(&SPEC, args.as_object().unwrap().clone()), &FakeCtx::default())
    }

    fn go(args: Value) -> Result<Plan, ModuleError> {
        let mut a = prepare(args)?;
        let plan = a.compare(None)?;
        let apply = plan.apply.clone().unwrap();
        let out = run(&apply.script, &apply.stdin);
        a.finish(plan, &out)
    }

    #[test]
    fn arguments_are_checked_as_in_ansible() {
        let err = |v: Value| prepare(v).err().expect("an error").to_string();
        assert!(err(json!({"port": 22, "path": "/x"})).contains("can not both"));
        assert!(err(json!({"path": "/x", "state": "stopped"})).contains("state=stopped"));
        assert!(err(json!({"port": 22, "exclude_hosts": ["1.2.3.4"]})).contains("only be with state=drained"));
        assert!(err(json!({"port": 22, "state": "drained", "active_connection_states": ["NOPE"]})).contains("NOPE"));
        assert!(err(json!({"path": "/x", "search_regex": "("})).contains("Invalid regular expression"));
        assert_eq!(proc_hex("10.231.1.2".parse().unwrap()), "0201E70A");
    }

    #[test]
    fn a_file_appears_and_its_groups_are_reported() {
        let ctx = FakeCtx::default();
        let dir = ctx.root().join(HOSTILE);
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("log");
        std::fs::write(&file, "starting\nlistening on port 8080 (pid 42)\n").unwrap();
        let path = file.display().to_string();
        let plan =
            go(json!({"path": path, "search_regex": r"^listening on port (?P<port>\d+) \(pid (\d+)\)$", "timeout": 5}))
                .unwrap();
        assert_eq!(plan.result["match_groups"], json!(["8080", "42"]));
        assert_eq!(plan.result["match_groupdict"], json!({"port": "8080"}));
        assert_eq!(plan.result["state"], "file");
        assert_eq!(plan.result["size"], 41);
        assert!(!plan.changed);
        assert!(!ctx.root().join("pwned").exists());
        // Absent: done at once for a missing file.
        let gone = dir.join("gone").display().to_string();
        assert!(go(json!({"path": gone, "state": "absent", "timeout": 5})).is_ok());
    }

    #[test]
    fn a_timeout_fails_with_ansibles_message_or_msg() {
        let ctx = FakeCtx::default();
        let path = ctx.root().join("never").display().to_string();
        let err = go(json!({"path": path, "timeout": 1, "sleep": 1})).unwrap_err().to_string();
        assert_eq!(err, format!("Timeout when waiting for file {path}"));
        let err = go(json!({"path": path, "timeout": 1, "msg": "no luck"})).unwrap_err().to_string();
        assert_eq!(err, "no luck");
    }

    #[test]
    fn check_mode_skips() {
        struct Check(FakeCtx);
        impl TaskContext for Check {
            fn check_mode(&self) -> bool {
                true
            }
            fn render(&self, s: &str, n: &str) -> Result<String, ModuleError> {
                self.0.render(s, n)
            }
            fn eval(&self, e: &str) -> Result<Value, ModuleError> {
                self.0.eval(e)
            }
            fn find_file(&self, n: &str, s: &str) -> Result<std::path::PathBuf, ModuleError> {
                self.0.find_file(n, s)
            }
        }
        let ctx = Check(FakeCtx::default());
        let args = Args::new(&SPEC, json!({"port": 22}).as_object().unwrap().clone());
        let plan = WaitFor.prepare(&args, &ctx).unwrap().compare(None).unwrap();
        assert!(plan.skipped && plan.apply.is_none());
    }
}
