//! `openssl_csr`: a certificate signing request made on the host with its
//! own `openssl req`, as `community.crypto.openssl_csr` decides it.
//!
//! Why it exists: the CSR is signed with a private key that lives on the
//! host, so it has to be made there. The probe reads the existing CSR's
//! subject, extensions, public key and self-signature, and the private
//! key's public half; `compare` follows community.crypto's `_check_csr`
//! (subject as a set, each extension kind as a set with its criticality,
//! kinds not asked for absent, the signature valid and made by this key)
//! and regenerates only when something no longer matches.
//!
//! What it must never do: read the private key off the host, or put its
//! passphrase on a command line or in a script (stdin, `-passin env:`).

use std::collections::BTreeSet;

use serde_json::Value;

use super::{Ext, KeyInfo, Name, Passphrases, Sections, WantedExts};
use crate::modules::file_state::{Attrs, FileKind, FileState};
use crate::modules::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `openssl_csr` module.
pub struct OpensslCsr;

const PASS: &str = "STEAD_KEY_PASS";

const NOT_YET: &str = "not implemented in stead yet";

static REFUSED: &[(&str, &str)] = &[
    ("privatekey_content", "a private key stays on the host: name it with privatekey_path"),
    ("subject_ordered", NOT_YET),
    ("ocsp_must_staple", NOT_YET),
    ("ocspMustStaple", NOT_YET),
    ("ocsp_must_staple_critical", NOT_YET),
    ("name_constraints_permitted", NOT_YET),
    ("name_constraints_excluded", NOT_YET),
    ("name_constraints_critical", NOT_YET),
    ("create_subject_key_identifier", NOT_YET),
    ("subject_key_identifier", NOT_YET),
    ("authority_key_identifier", NOT_YET),
    ("authority_cert_issuer", NOT_YET),
    ("authority_cert_serial_number", NOT_YET),
    ("crl_distribution_points", NOT_YET),
    ("attributes", "stead does not set file attributes (chattr)"),
    ("selevel", "SELinux contexts are not supported"),
    ("serole", "SELinux contexts are not supported"),
    ("setype", "SELinux contexts are not supported"),
    ("seuser", "SELinux contexts are not supported"),
    ("unsafe_writes", "stead always writes atomically (temporary file, then rename)"),
    ("select_crypto_backend", "stead always uses the host's openssl command, not a Python library"),
];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required(),
    ArgSpec::new("privatekey_path", ArgKind::Str).required(),
    ArgSpec::new("privatekey_passphrase", ArgKind::Str),
    ArgSpec::new("common_name", ArgKind::Str).aliases(&["CN", "commonName"]),
    ArgSpec::new("country_name", ArgKind::Str).aliases(&["C", "countryName"]),
    ArgSpec::new("state_or_province_name", ArgKind::Str).aliases(&["ST", "stateOrProvinceName"]),
    ArgSpec::new("locality_name", ArgKind::Str).aliases(&["L", "localityName"]),
    ArgSpec::new("organization_name", ArgKind::Str).aliases(&["O", "organizationName"]),
    ArgSpec::new("organizational_unit_name", ArgKind::Str).aliases(&["OU", "organizationalUnitName"]),
    ArgSpec::new("email_address", ArgKind::Str).aliases(&["E", "emailAddress"]),
    ArgSpec::new("subject", ArgKind::Dict),
    ArgSpec::new("subject_alt_name", ArgKind::List).aliases(&["subjectAltName"]),
    ArgSpec::new("subject_alt_name_critical", ArgKind::Bool).aliases(&["subjectAltName_critical"]),
    ArgSpec::new("use_common_name_for_san", ArgKind::Bool).aliases(&["useCommonNameForSAN"]),
    ArgSpec::new("key_usage", ArgKind::List).aliases(&["keyUsage"]),
    ArgSpec::new("key_usage_critical", ArgKind::Bool).aliases(&["keyUsage_critical"]),
    ArgSpec::new("extended_key_usage", ArgKind::List).aliases(&["extKeyUsage", "extendedKeyUsage"]),
    ArgSpec::new("extended_key_usage_critical", ArgKind::Bool)
        .aliases(&["extKeyUsage_critical", "extendedKeyUsage_critical"]),
    ArgSpec::new("basic_constraints", ArgKind::List).aliases(&["basicConstraints"]),
    ArgSpec::new("basic_constraints_critical", ArgKind::Bool).aliases(&["basicConstraints_critical"]),
    ArgSpec::new("digest", ArgKind::Str),
    ArgSpec::new("version", ArgKind::Int).choices(&["1"]),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("return_content", ArgKind::Bool),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.refused(REFUSED);

/// The digests stead passes to openssl (`-sha256`).
pub const DIGESTS: &[&str] = &["sha1", "sha224", "sha256", "sha384", "sha512", "sha512-224", "sha512-256", "md5"];

/// Checks a digest name.
pub fn digest_arg(args: &Args, name: &str) -> Result<String, ModuleError> {
    let d = args.opt_str(name)?.unwrap_or_else(|| "sha256".into());
    if DIGESTS.contains(&d.as_str()) {
        Ok(d)
    } else {
        Err(ModuleError::Arg {
            arg: name.into(),
            message: format!("unsupported digest `{d}`; use one of {}", DIGESTS.join(", ")),
        })
    }
}

/// What the CSR must hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WantedCsr {
    /// The subject, in the order given.
    pub subject: Name,
    /// The extensions.
    pub exts: WantedExts,
    /// The digest.
    pub digest: String,
}

impl WantedCsr {
    /// From the task's arguments (community.crypto's order of the named
    /// fields, then `subject`; the common name as a DNS SAN when no SAN is
    /// given and `use_common_name_for_san`).
    pub fn from_args(args: &Args) -> Result<WantedCsr, ModuleError> {
        let mut subject: Name = Vec::new();
        for (arg, short) in [
            ("country_name", "C"),
            ("state_or_province_name", "ST"),
            ("locality_name", "L"),
            ("organization_name", "O"),
            ("organizational_unit_name", "OU"),
            ("common_name", "CN"),
            ("email_address", "emailAddress"),
        ] {
            if let Some(v) = args.opt_str(arg)?.filter(|v| !v.is_empty()) {
                subject.push((short.into(), v));
            }
        }
        if let Some(Value::Object(m)) = args.get("subject") {
            for (k, v) in m {
                let values: Vec<String> = match v {
                    Value::Array(a) => a.iter().map(json_text).collect(),
                    other => vec![json_text(other)],
                };
                for v in values {
                    subject.push((super::short_name(k), v));
                }
            }
        }
        let mut san = args.str_list("subject_alt_name")?;
        if san.is_empty() && args.bool_or("use_common_name_for_san", true)? {
            if let Some((_, cn)) = subject.iter().find(|(k, _)| k == "CN") {
                san.push(format!("DNS:{cn}"));
            }
        }
        for s in &san {
            if !s.contains(':') {
                return Err(ModuleError::Arg {
                    arg: "subject_alt_name".into(),
                    message: format!("`{s}` has no type: write DNS:{s}, IP:..., email:... or URI:..."),
                });
            }
        }
        let mut key_usage = BTreeSet::new();
        for k in args.str_list("key_usage")? {
            let name = super::key_usage_name(&k).ok_or_else(|| ModuleError::Arg {
                arg: "key_usage".into(),
                message: format!("unknown key usage `{k}`"),
            })?;
            key_usage.insert(name.to_owned());
        }
        let ext_key_usage: BTreeSet<String> =
            args.str_list("extended_key_usage")?.iter().map(|k| super::ext_key_usage_name(k)).collect();
        let bc = args.str_list("basic_constraints")?;
        Ok(WantedCsr {
            subject,
            exts: WantedExts {
                san: (san, args.bool_or("subject_alt_name_critical", false)?),
                key_usage: (key_usage, args.bool_or("key_usage_critical", false)?),
                ext_key_usage: (ext_key_usage, args.bool_or("extended_key_usage_critical", false)?),
                basic_constraints: (bc, args.bool_or("basic_constraints_critical", false)?),
            },
            digest: digest_arg(args, "digest")?,
        })
    }

    /// The `-addext` arguments.
    pub fn addext_args(&self) -> String {
        let mut out = String::new();
        let crit = |c: bool| if c { "critical," } else { "" };
        let mut add = |name: &str, critical: bool, values: Vec<String>| {
            if !values.is_empty() {
                out.push_str(&format!(" -addext {}", quote(&format!("{name}={}{}", crit(critical), values.join(",")))));
            }
        };
        let e = &self.exts;
        add("subjectAltName", e.san.1, e.san.0.iter().map(|s| s.trim().to_owned()).collect());
        add("keyUsage", e.key_usage.1, e.key_usage.0.iter().cloned().collect());
        add("extendedKeyUsage", e.ext_key_usage.1, e.ext_key_usage.0.iter().cloned().collect());
        add(
            "basicConstraints",
            e.basic_constraints.1,
            e.basic_constraints.0.iter().map(|s| s.trim().to_owned()).collect(),
        );
        out
    }

    /// Diff lines of what is asked.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let e = &self.exts;
        let crit = |c: bool, s: String| if c && !s.is_empty() { format!("{s} (critical)") } else { s };
        let mut v = vec![("subject", super::name_text(&self.subject))];
        let san: Vec<String> = e.san.0.iter().map(|s| super::normalize_san(s)).collect();
        push_nonempty(&mut v, "subject_alt_name", crit(e.san.1, san.join(", ")));
        push_nonempty(
            &mut v,
            "key_usage",
            crit(e.key_usage.1, e.key_usage.0.iter().cloned().collect::<Vec<_>>().join(", ")),
        );
        push_nonempty(
            &mut v,
            "extended_key_usage",
            crit(e.ext_key_usage.1, e.ext_key_usage.0.iter().cloned().collect::<Vec<_>>().join(", ")),
        );
        push_nonempty(&mut v, "basic_constraints", crit(e.basic_constraints.1, e.basic_constraints.0.join(", ")));
        v
    }

    /// The result fields community.crypto reports.
    pub fn result(&self) -> ResultMap {
        let mut r = ResultMap::new();
        let pairs: Vec<Value> = self.subject.iter().map(|(k, v)| Value::from(vec![k.clone(), v.clone()])).collect();
        r.insert("subject".into(), pairs.into());
        let opt = |v: Vec<String>| if v.is_empty() { Value::Null } else { v.into() };
        r.insert("subjectAltName".into(), opt(self.exts.san.0.clone()));
        r.insert("keyUsage".into(), opt(self.exts.key_usage.0.iter().cloned().collect()));
        r.insert("extendedKeyUsage".into(), opt(self.exts.ext_key_usage.0.iter().cloned().collect()));
        r.insert("basicConstraints".into(), opt(self.exts.basic_constraints.0.clone()));
        r.insert("ocspMustStaple".into(), false.into());
        r
    }
}

fn push_nonempty(v: &mut Vec<(&'static str, String)>, k: &'static str, s: String) {
    if !s.is_empty() {
        v.push((k, s));
    }
}

fn json_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Diff lines of parsed extensions (the kinds stead compares).
pub fn ext_pairs(subject: &Name, exts: &[Ext]) -> Vec<(&'static str, String)> {
    let mut v = vec![("subject", super::name_text(subject))];
    let find = |n: &str| exts.iter().find(|e| e.name == n);
    let crit = |e: &Ext, s: String| if e.critical { format!("{s} (critical)") } else { s };
    if let Some(e) = find(super::SAN) {
        v.push(("subject_alt_name", crit(e, super::sans_of(exts).join(", "))));
    }
    if let Some(e) = find(super::KU) {
        let names: BTreeSet<String> =
            e.value.split(", ").filter_map(super::key_usage_name).map(str::to_owned).collect();
        v.push(("key_usage", crit(e, names.into_iter().collect::<Vec<_>>().join(", "))));
    }
    if let Some(e) = find(super::EKU) {
        let names: BTreeSet<String> = e.value.split(", ").map(super::ext_key_usage_name).collect();
        v.push(("extended_key_usage", crit(e, names.into_iter().collect::<Vec<_>>().join(", "))));
    }
    if let Some(e) = find(super::BC) {
        v.push(("basic_constraints", crit(e, e.value.clone())));
    }
    v
}

/// Probe lines that print a CSR's facts as `{name}-ok`, `{name}-subject`,
/// `{name}-ext`, `{name}-pub`/`-pubtext` and `{name}-verify`.
pub fn csr_section(name: &str, path: &str) -> String {
    let p = quote(path);
    format!(
        "if [ -f {p} ] && openssl req -in {p} -noout 2>/dev/null; then\n  kv {name}-ok yes\n  \
         openssl req -in {p} -noout -subject {nameopt} | blk {name}-subject\n  \
         openssl req -in {p} -noout -text -reqopt {ext_only} | blk {name}-ext\n  \
         openssl req -in {p} -noout -pubkey | {{\n{pubkey}}}\n  \
         if openssl req -in {p} -noout -verify >/dev/null 2>&1; then kv {name}-verify ok; fi\nfi\n",
        nameopt = super::NAMEOPT,
        ext_only = super::EXT_ONLY,
        pubkey = super::public_key_lines(name),
    )
}

/// A CSR as the probe saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenCsr {
    /// Its subject.
    pub subject: Name,
    /// Its extensions.
    pub exts: Vec<Ext>,
    /// Its public key.
    pub key: Option<KeyInfo>,
    /// Whether its self-signature verifies.
    pub signature_ok: bool,
}

impl SeenCsr {
    /// From a [`csr_section`]; `None` when there is no readable CSR.
    pub fn from_sections(s: &Sections, name: &str) -> Option<SeenCsr> {
        if !s.flag(&format!("{name}-ok")) {
            return None;
        }
        Some(SeenCsr {
            subject: super::parse_name(&s.text(&format!("{name}-subject")).unwrap_or_default()),
            exts: super::parse_exts(&s.text(&format!("{name}-ext")).unwrap_or_default()),
            key: KeyInfo::from_sections(s, name),
            signature_ok: s.flag(&format!("{name}-verify")),
        })
    }
}

/// community.crypto's `_check_csr`: whether the existing CSR still holds
/// what is asked and was signed by `key`.
pub fn csr_matches(want: &WantedCsr, seen: &SeenCsr, key: &KeyInfo) -> bool {
    let set = |n: &Name| n.iter().cloned().collect::<BTreeSet<_>>();
    set(&want.subject) == set(&seen.subject)
        && super::exts_match(&want.exts, &seen.exts)
        && seen.signature_ok
        && seen.key.as_ref().is_some_and(|k| k.public_pem == key.public_pem)
}

impl Module for OpensslCsr {
    fn name(&self) -> &'static str {
        "openssl_csr"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        if args.opt_int("version")?.is_some_and(|v| v != 1) {
            return Err(ModuleError::Arg { arg: "version".into(), message: "must be 1".into() });
        }
        let mut pass = Passphrases::default();
        pass.add(PASS, args.opt_str("privatekey_passphrase")?.as_deref());
        Ok(Box::new(CsrAction {
            path: args.str("path")?,
            key_path: args.str("privatekey_path")?,
            want: WantedCsr::from_args(args)?,
            pass,
            force: args.bool_or("force", false)?,
            present: args.choice_or("state", &["present", "absent"], "present")? == "present",
            backup: args.bool_or("backup", false)?,
            return_content: args.bool_or("return_content", false)?,
            attrs: Attrs::from_args(args)?,
            st: FileState::default(),
        }))
    }
}

/// One `openssl_csr` task on one host.
#[derive(Debug)]
pub struct CsrAction {
    path: String,
    key_path: String,
    want: WantedCsr,
    pass: Passphrases,
    force: bool,
    present: bool,
    backup: bool,
    return_content: bool,
    attrs: Attrs,
    st: FileState,
}

impl CsrAction {
    fn base_result(&self) -> ResultMap {
        let mut r = self.want.result();
        r.insert("filename".into(), self.path.clone().into());
        r.insert("privatekey".into(), self.key_path.clone().into());
        r
    }

    fn generate(&self, key: &KeyInfo) -> ApplyScript {
        let digest = if matches!(key.kind.as_str(), "RSA" | "ECC" | "DSA") {
            format!(" -{}", self.want.digest)
        } else {
            String::new()
        };
        let body = format!(
            "{}printf '[req]\\ndistinguished_name=dn\\n[dn]\\n' | openssl req -new -config /dev/stdin -key {} {} \
             -utf8 -subj {}{}{digest} -out \"$tmp\"\n",
            self.pass.read_lines(),
            quote(&self.key_path),
            self.pass.passin(PASS),
            quote(&super::subj_arg(&self.want.subject)),
            self.want.addext_args(),
        );
        let mut script = super::generate_script(&self.path, &self.attrs, None, self.backup, &body);
        if self.return_content {
            script.push_str("blk csr < \"$d\"\n");
        }
        ApplyScript { script, stdin: self.pass.stdin() }
    }
}

impl Action for CsrAction {
    fn probe(&self) -> Option<String> {
        let mut s = String::from(super::SH_LIB);
        s.push_str(&self.pass.read_lines());
        s.push_str(&super::file_state_section("fs", &self.path));
        s.push_str(&csr_section("csr", &self.path));
        s.push_str(&super::private_key_section("key", &self.key_path, &self.pass, PASS));
        if self.return_content {
            s.push_str(&format!("if [ -f {p} ]; then blk csr < {p}; fi\n", p = quote(&self.path)));
        }
        Some(s)
    }

    fn probe_stdin(&self) -> Vec<u8> {
        self.pass.stdin()
    }

    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone(), self.key_path.clone()])
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("no probe output".into()))?;
        let sec = Sections::parse(&out.stdout)?;
        self.st = sec.file_state("fs")?;
        if self.st.exists && self.st.kind != FileKind::File {
            return Err(ModuleError::failed(format!("{} exists and is not a regular file", self.path)));
        }
        let seen = SeenCsr::from_sections(&sec, "csr");
        let before = match &seen {
            None if self.st.exists => vec![("state", "present (not a CSR openssl can read)".to_owned())],
            None => vec![("state", "absent".to_owned())],
            Some(c) => ext_pairs(&c.subject, &c.exts),
        };
        if !self.present {
            let mut plan = if self.st.exists {
                Plan::change(ApplyScript { script: super::remove_script(&[&self.path]), stdin: Vec::new() })
                    .with_diff(Some(Diff::state(&self.path, &before, &[("state", "absent".to_owned())])))
            } else {
                Plan::ok()
            };
            plan.result.insert("filename".into(), self.path.clone().into());
            return Ok(plan);
        }
        if !self.st.parent_dir {
            let dir = crate::modules::file_state::parent_of(&self.path);
            return Err(ModuleError::failed(format!(
                "The directory {dir} does not exist or the file is not a directory"
            )));
        }
        let key = KeyInfo::from_sections(&sec, "key").ok_or_else(|| {
            ModuleError::failed(if sec.flag("key-unreadable") {
                format!("cannot read the private key {} (wrong or missing privatekey_passphrase?)", self.key_path)
            } else {
                format!("The private key {} does not exist", self.key_path)
            })
        })?;
        let regenerate = self.force || seen.as_ref().is_none_or(|c| !csr_matches(&self.want, c, &key));
        let mut result = self.base_result();
        if regenerate {
            let mut after = self.want.pairs();
            if seen.as_ref().is_some_and(|c| c.key.as_ref().is_some_and(|k| k.public_pem != key.public_pem)) {
                after.push(("public_key", format!("sha256:{}", key.sha256())));
            }
            let (_, a) = crate::modules::file_state::new_path_attrs(&self.attrs, false).pairs();
            after.extend(a);
            let mut plan = Plan::change(self.generate(&key)).with_diff(Some(Diff::state(&self.path, &before, &after)));
            plan.result = result;
            return Ok(plan);
        }
        if let Some(csr) = sec.text("csr") {
            result.insert("csr".into(), csr.into());
        }
        let mut plan = match super::fix_attrs_script(&self.path, &self.attrs, &self.st) {
            Some(script) => {
                let (b, a) = self.attrs.changes(&self.st).pairs();
                Plan::change(ApplyScript { script, stdin: Vec::new() }).with_diff(Some(Diff::state(&self.path, &b, &a)))
            }
            None => Plan::ok(),
        };
        plan.result = result;
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status != 0 {
            return Err(super::failed(out, plan.result));
        }
        let sec = Sections::parse(&out.stdout)?;
        if let Some(csr) = sec.text("csr") {
            plan.result.insert("csr".into(), csr.into());
        }
        if let Some(b) = sec.text("backup_file") {
            plan.result.insert("backup_file".into(), b.into());
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};

    fn action(args: serde_json::Value) -> Box<dyn Action> {
        let map = args.as_object().unwrap().clone();
        OpensslCsr.prepare(&Args::new(&SPEC, map), &FakeCtx::default()).unwrap()
    }

    #[test]
    fn the_common_name_becomes_a_san_unless_sans_are_given() {
        let map = serde_json::json!({"path": "/c", "privatekey_path": "/k", "CN": "www.example",
                                     "subject": {"organizationName": "Ex"}})
        .as_object()
        .unwrap()
        .clone();
        let w = WantedCsr::from_args(&Args::new(&SPEC, map)).unwrap();
        assert_eq!(w.subject, vec![("CN".into(), "www.example".into()), ("O".into(), "Ex".into())]);
        assert_eq!(w.exts.san.0, vec!["DNS:www.example".to_owned()]);
        assert_eq!(w.addext_args(), " -addext subjectAltName=DNS:www.example");
    }

    /// Real openssl, hostile paths: made once, then left alone; a changed
    /// SAN list makes a new one.
    #[test]
    fn a_csr_is_made_then_left_alone_until_its_sans_change() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        let key = dir.join("k.pem");
        let out = run(&format!("openssl genpkey -quiet -algorithm ED25519 -out {}", quote(key.to_str().unwrap())), b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let csr = dir.join("c 'x'.csr");
        let args = |sans: &[&str]| {
            serde_json::json!({"path": csr.to_str().unwrap(), "privatekey_path": key.to_str().unwrap(),
                               "common_name": "a/b \"c\"", "subject_alt_name": sans,
                               "key_usage": ["digitalSignature"], "key_usage_critical": true,
                               "extended_key_usage": ["serverAuth", "clientAuth"]})
        };
        let cycle = |sans: &[&str]| {
            let mut a = action(args(sans));
            let out = run(&a.probe().unwrap(), &a.probe_stdin());
            assert_eq!(out.status, 0, "{}", out.stderr_text());
            let plan = a.compare(Some(&out)).unwrap();
            if let Some(apply) = &plan.apply {
                let done = run(&apply.script, &apply.stdin);
                assert_eq!(done.status, 0, "{}", done.stderr_text());
            }
            plan.changed
        };
        assert!(cycle(&["DNS:a.example", "IP:10.0.0.1"]));
        assert!(!cycle(&["IP:10.0.0.1", "DNS:a.example"]), "same SANs in another order");
        assert!(cycle(&["DNS:a.example"]));
        assert!(!cycle(&["DNS:a.example"]));
        assert!(!std::path::Path::new("pwned").exists());
    }
}
