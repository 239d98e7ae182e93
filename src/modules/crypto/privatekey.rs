//! `openssl_privatekey`: a private key generated on the host with its own
//! `openssl genpkey`, as `community.crypto.openssl_privatekey` decides it.
//!
//! Why it exists: a key made on the controller and copied would travel
//! and sit in the controller's files; made on the host it never leaves it.
//! The probe asks `openssl pkey` for the *public* key (type, size, curve,
//! fingerprints) and whether the passphrase opens the file; `compare`
//! follows community.crypto's `needs_regeneration` (the `regenerate`
//! ladder, `force`); the apply generates into a temporary file with mode
//! 0600 (or the requested one) in the key's directory and renames it.
//!
//! What it must never do: read the key's bytes off the host, return them
//! (`return_content: true` is refused), or put the passphrase on a command
//! line or in a script: it travels on stdin and reaches openssl as
//! `-pass env:` / `-passin env:` (see [`super::Passphrases`]).

use serde_json::Value;

use super::{KeyInfo, Passphrases, Sections};
use crate::modules::file_state::{Attrs, FileKind, FileState};
use crate::modules::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `openssl_privatekey` module.
pub struct OpensslPrivatekey;

/// The variable that holds the passphrase in scripts.
const PASS: &str = "STEAD_KEY_PASS";

/// community.crypto's curve choices.
pub const CURVES: &[&str] = &[
    "secp224r1",
    "secp256k1",
    "secp256r1",
    "secp384r1",
    "secp521r1",
    "secp192r1",
    "brainpoolP256r1",
    "brainpoolP384r1",
    "brainpoolP512r1",
    "sect163k1",
    "sect163r2",
    "sect233k1",
    "sect233r1",
    "sect283k1",
    "sect283r1",
    "sect409k1",
    "sect409r1",
    "sect571k1",
    "sect571r1",
];

const REGENERATE: &[&str] = &["never", "fail", "partial_idempotence", "full_idempotence", "always"];

/// The file arguments every crypto module refuses.
pub(crate) const FILE_REFUSED: &[(&str, &str)] = &[
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
    ArgSpec::new("type", ArgKind::Str)
        .choices(&["RSA", "ECC", "Ed25519", "Ed448", "X25519", "X448", "DSA"])
        .refuse_values(&[("DSA", "stead does not generate DSA keys (deprecated; use RSA, ECC or Ed25519)")]),
    ArgSpec::new("size", ArgKind::Int),
    ArgSpec::new("curve", ArgKind::Str).choices(CURVES),
    ArgSpec::new("passphrase", ArgKind::Str),
    ArgSpec::new("cipher", ArgKind::Str).choices(&["auto"]),
    ArgSpec::new("format", ArgKind::Str).choices(&["auto_ignore"]),
    ArgSpec::new("format_mismatch", ArgKind::Str).choices(&["regenerate", "convert"]),
    ArgSpec::new("regenerate", ArgKind::Str).choices(REGENERATE),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("return_content", ArgKind::Bool)
        .refuse_values(&[("true", "a private key never leaves the host, so stead never returns it")]),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.refused(FILE_REFUSED);

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Wanted {
    /// community.crypto's type name.
    pub kind: String,
    /// Bits (RSA).
    pub size: u32,
    /// Curve (ECC).
    pub curve: Option<String>,
}

impl Wanted {
    /// Whether an existing key has this type and size (community.crypto's
    /// `_check_size_and_type`: RSA by size, ECC by curve, the rest by type).
    pub fn matches(&self, have: &KeyInfo) -> bool {
        if have.kind != self.kind {
            return false;
        }
        match self.kind.as_str() {
            "RSA" | "DSA" => have.size == Some(self.size),
            "ECC" => have.curve.is_some() && have.curve == self.curve,
            _ => true,
        }
    }

    /// The `openssl genpkey` arguments.
    pub fn genpkey_args(&self) -> String {
        match self.kind.as_str() {
            "RSA" => format!("-algorithm RSA -pkeyopt rsa_keygen_bits:{}", self.size),
            "ECC" => format!(
                "-algorithm EC -pkeyopt {} -pkeyopt ec_param_enc:named_curve",
                quote(&format!("ec_paramgen_curve:{}", super::openssl_curve(self.curve.as_deref().unwrap_or(""))))
            ),
            "Ed25519" => "-algorithm ED25519".into(),
            "Ed448" => "-algorithm ED448".into(),
            "X25519" => "-algorithm X25519".into(),
            _ => "-algorithm X448".into(),
        }
    }

    /// `type: ..` lines for diffs.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![("type", self.kind.clone())];
        match self.kind.as_str() {
            "RSA" => v.push(("size", self.size.to_string())),
            "ECC" => v.push(("curve", self.curve.clone().unwrap_or_default())),
            _ => {}
        }
        v
    }
}

/// `type: ..` lines of an existing key for diffs.
pub fn key_pairs(k: &KeyInfo) -> Vec<(&'static str, String)> {
    let mut v = vec![("type", k.kind.clone())];
    if let Some(s) = k.size {
        v.push(("size", s.to_string()));
    }
    if let Some(c) = &k.curve {
        v.push(("curve", c.clone()));
    }
    v.push(("fingerprint", format!("sha256:{}", k.sha256())));
    v
}

impl Module for OpensslPrivatekey {
    fn name(&self) -> &'static str {
        "openssl_privatekey"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        if args.bool_or("return_content", false)? {
            return Err(ModuleError::Arg {
                arg: "return_content".into(),
                message: "a private key never leaves the host, so stead never returns it".into(),
            });
        }
        let kind = args.choice_or("type", &["RSA", "ECC", "Ed25519", "Ed448", "X25519", "X448"], "RSA")?;
        let curve = args.opt_str("curve")?;
        if kind == "ECC" && curve.is_none() {
            return Err(ModuleError::failed("type is ECC but all of the following are missing: curve"));
        }
        if let Some(c) = &curve {
            if !CURVES.contains(&c.as_str()) {
                return Err(ModuleError::Arg { arg: "curve".into(), message: format!("unknown curve `{c}`") });
            }
        }
        args.choice_or("cipher", &["auto"], "auto")?;
        args.choice_or("format", &["auto_ignore"], "auto_ignore")?;
        let size = args.opt_int("size")?.unwrap_or(4096);
        let size =
            u32::try_from(size).map_err(|_| ModuleError::Arg { arg: "size".into(), message: "out of range".into() })?;
        let force = args.bool_or("force", false)?;
        let mut regenerate = args.choice_or("regenerate", REGENERATE, "full_idempotence")?;
        if force {
            regenerate = "always".into();
        }
        let mut pass = Passphrases::default();
        pass.add(PASS, args.opt_str("passphrase")?.as_deref());
        Ok(Box::new(PrivatekeyAction {
            path: args.str("path")?,
            wanted: Wanted { kind, size, curve },
            pass,
            regenerate,
            present: args.choice_or("state", &["present", "absent"], "present")? == "present",
            backup: args.bool_or("backup", false)?,
            attrs: Attrs::from_args(args)?,
            st: FileState::default(),
            existing: None,
        }))
    }
}

/// One `openssl_privatekey` task on one host.
#[derive(Debug)]
pub struct PrivatekeyAction {
    path: String,
    wanted: Wanted,
    pass: Passphrases,
    regenerate: String,
    present: bool,
    backup: bool,
    attrs: Attrs,
    st: FileState,
    existing: Option<KeyInfo>,
}

/// What the probe found at the key's path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Existing {
    /// No file.
    Absent,
    /// A key openssl could not read with the passphrase given (or none).
    Unreadable,
    /// A key it could read; `encrypted` when the file says so.
    Key {
        /// The public half.
        info: KeyInfo,
        /// Whether the file is encrypted.
        encrypted: bool,
    },
}

/// community.crypto's `needs_regeneration`: `Ok(true)` to (re)generate,
/// an error where it fails instead.
pub fn needs_regeneration(
    wanted: &Wanted,
    has_passphrase: bool,
    regenerate: &str,
    existing: &Existing,
) -> Result<bool, ModuleError> {
    if regenerate == "always" {
        return Ok(true);
    }
    let (info, encrypted) = match existing {
        Existing::Absent => return Ok(true),
        Existing::Unreadable => (None, false),
        Existing::Key { info, encrypted } => (Some(info), *encrypted),
    };
    let passphrase_ok = info.is_some() && encrypted == has_passphrase;
    if !passphrase_ok {
        if regenerate == "full_idempotence" {
            return Ok(true);
        }
        return Err(ModuleError::failed(
            "Unable to read the key. The key is protected with a another passphrase / no passphrase or broken. \
             Will not proceed. To force regeneration, call the module with `generate` set to `full_idempotence` \
             or `always`, or with `force=true`.",
        ));
    }
    let info = info.expect("checked");
    if regenerate != "never" && !wanted.matches(info) {
        if regenerate == "partial_idempotence" || regenerate == "full_idempotence" {
            return Ok(true);
        }
        return Err(ModuleError::failed(
            "Key has wrong type and/or size. Will not proceed. To force regeneration, call the module with \
             `generate` set to `partial_idempotence`, `full_idempotence` or `always`, or with `force=true`.",
        ));
    }
    Ok(false)
}

impl PrivatekeyAction {
    fn result(&self, info: Option<&KeyInfo>) -> ResultMap {
        let mut r = ResultMap::new();
        r.insert("filename".into(), self.path.clone().into());
        r.insert("type".into(), self.wanted.kind.clone().into());
        r.insert("size".into(), self.wanted.size.into());
        if self.wanted.kind == "ECC" {
            r.insert("curve".into(), self.wanted.curve.clone().into());
        }
        r.insert("fingerprint".into(), info.map_or(Value::Null, KeyInfo::fingerprints));
        r
    }

    fn generate(&self) -> ApplyScript {
        let encrypt = if self.pass.has(PASS) { format!(" -aes-256-cbc -pass env:{PASS}") } else { String::new() };
        let body = format!(
            "{}openssl genpkey -quiet {}{encrypt} -out \"$tmp\"\n",
            self.pass.read_lines(),
            self.wanted.genpkey_args()
        );
        let mut script = super::generate_script(&self.path, &self.attrs, Some(0o600), self.backup, &body);
        script.push_str(&format!(
            "openssl pkey -in \"$d\" {} -pubout | {{\n{}}}\n",
            self.pass.passin(PASS),
            super::public_key_lines("new")
        ));
        ApplyScript { script, stdin: self.pass.stdin() }
    }
}

impl Action for PrivatekeyAction {
    fn probe(&self) -> Option<String> {
        let mut s = String::from(super::SH_LIB);
        s.push_str(&self.pass.read_lines());
        s.push_str(&super::file_state_section("fs", &self.path));
        s.push_str(&super::private_key_section("key", &self.path, &self.pass, PASS));
        Some(s)
    }

    fn probe_stdin(&self) -> Vec<u8> {
        self.pass.stdin()
    }

    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone()])
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("no probe output".into()))?;
        let sec = Sections::parse(&out.stdout)?;
        self.st = sec.file_state("fs")?;
        if self.st.exists && self.st.kind != FileKind::File {
            return Err(ModuleError::failed(format!("{} exists and is not a regular file", self.path)));
        }
        if !self.st.parent_dir && self.present {
            let dir = crate::modules::file_state::parent_of(&self.path);
            return Err(ModuleError::failed(format!(
                "The directory {dir} does not exist or the file is not a directory"
            )));
        }
        let existing = if !self.st.exists {
            Existing::Absent
        } else if let Some(info) = KeyInfo::from_sections(&sec, "key") {
            Existing::Key { info, encrypted: sec.flag("key-encrypted") }
        } else {
            Existing::Unreadable
        };
        self.existing = match &existing {
            Existing::Key { info, .. } => Some(info.clone()),
            _ => None,
        };
        let before = match &existing {
            Existing::Absent => vec![("state", "absent".to_owned())],
            Existing::Unreadable => vec![("state", "present (cannot be read with the passphrase given)".to_owned())],
            Existing::Key { info, .. } => key_pairs(info),
        };
        if !self.present {
            let mut plan = if self.st.exists {
                let mut script = String::new();
                if self.backup {
                    script.push_str(&crate::modules::file_write::prelude(&self.path, false));
                    script.push_str(super::BACKUP_LINES);
                }
                script.push_str(&super::remove_script(&[&self.path]));
                Plan::change(ApplyScript { script, stdin: Vec::new() }).with_diff(Some(Diff::state(
                    &self.path,
                    &before,
                    &[("state", "absent".to_owned())],
                )))
            } else {
                Plan::ok()
            };
            plan.result.insert("filename".into(), self.path.clone().into());
            return Ok(plan);
        }
        let attrs = super::attrs_with_default(&self.attrs, Some(0o600));
        if needs_regeneration(&self.wanted, self.pass.has(PASS), &self.regenerate, &existing)? {
            let mut after = self.wanted.pairs();
            after.push(("fingerprint", "(new key)".into()));
            let changes = crate::modules::file_state::new_path_attrs(&attrs, false);
            let (_, a) = changes.pairs();
            after.extend(a);
            let mut plan = Plan::change(self.generate()).with_diff(Some(Diff::state(&self.path, &before, &after)));
            plan.result = self.result(None);
            return Ok(plan);
        }
        let mut plan = match super::fix_attrs_script(&self.path, &attrs, &self.st) {
            Some(script) => {
                let (b, a) = attrs.changes(&self.st).pairs();
                Plan::change(ApplyScript { script, stdin: Vec::new() }).with_diff(Some(Diff::state(&self.path, &b, &a)))
            }
            None => Plan::ok(),
        };
        plan.result = self.result(self.existing.as_ref());
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status != 0 {
            return Err(super::failed(out, plan.result));
        }
        let sec = Sections::parse(&out.stdout)?;
        if let Some(info) = KeyInfo::from_sections(&sec, "new") {
            plan.result.insert("fingerprint".into(), info.fingerprints());
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
        OpensslPrivatekey.prepare(&Args::new(&SPEC, map), &FakeCtx::default()).unwrap()
    }

    fn rsa(size: u32) -> KeyInfo {
        KeyInfo { kind: "RSA".into(), size: Some(size), curve: None, public_pem: String::new() }
    }

    #[test]
    fn the_regenerate_ladder_follows_community_crypto() {
        let want = Wanted { kind: "RSA".into(), size: 2048, curve: None };
        let ok = Existing::Key { info: rsa(2048), encrypted: false };
        let small = Existing::Key { info: rsa(1024), encrypted: false };
        let locked = Existing::Key { info: rsa(2048), encrypted: true };
        for r in REGENERATE {
            assert!(needs_regeneration(&want, false, r, &Existing::Absent).unwrap(), "{r}");
            assert_eq!(needs_regeneration(&want, false, r, &ok).unwrap(), *r == "always", "{r}");
        }
        assert!(needs_regeneration(&want, false, "full_idempotence", &small).unwrap());
        assert!(needs_regeneration(&want, false, "partial_idempotence", &small).unwrap());
        assert!(!needs_regeneration(&want, false, "never", &small).unwrap());
        assert!(needs_regeneration(&want, false, "fail", &small).is_err());
        // A passphrase that does not fit: only full_idempotence regenerates.
        assert!(needs_regeneration(&want, true, "full_idempotence", &ok).unwrap());
        assert!(needs_regeneration(&want, true, "partial_idempotence", &ok).is_err());
        assert!(needs_regeneration(&want, false, "never", &locked).is_err());
        assert!(needs_regeneration(&want, false, "full_idempotence", &Existing::Unreadable).unwrap());
        assert!(!needs_regeneration(&want, true, "partial_idempotence", &locked).unwrap());
    }

    #[test]
    fn return_content_true_is_refused() {
        let map = serde_json::json!({"path": "/k", "return_content": true}).as_object().unwrap().clone();
        let err = OpensslPrivatekey.prepare(&Args::new(&SPEC, map), &FakeCtx::default()).err().unwrap();
        assert!(err.to_string().contains("never leaves the host"), "{err}");
    }

    /// The probe and the apply run for real with `sh` and the local openssl,
    /// in a hostile directory: the key is made with mode 0600, the second
    /// probe sees it, the passphrase never appears in a script, and no
    /// output holds the key.
    #[test]
    fn probe_generate_and_reprobe_with_a_passphrase_in_a_hostile_path() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("k 'x'.pem");
        let p = path.to_str().unwrap();
        let pass = "pa$$ 'w0rd'";
        let mut a = action(serde_json::json!({"path": p, "type": "ECC", "curve": "secp256r1", "passphrase": pass}));
        let probe = a.probe().unwrap();
        assert!(!probe.contains("w0rd"));
        let out = run(&probe, &a.probe_stdin());
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = a.compare(Some(&out)).unwrap();
        assert!(plan.changed);
        let apply = plan.apply.clone().unwrap();
        assert!(!apply.script.contains("w0rd"));
        let done = run(&apply.script, &apply.stdin);
        assert_eq!(done.status, 0, "{}", done.stderr_text());
        assert!(!done.stdout_text().contains("PRIVATE"), "{}", done.stdout_text());
        let plan = a.finish(plan, &done).unwrap();
        assert!(plan.result["fingerprint"]["sha256"].is_string(), "{:?}", plan.result);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("-----BEGIN ENCRYPTED PRIVATE KEY"), "{text}");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o7777, 0o600);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "temporary file left behind");
        let mut a = action(serde_json::json!({"path": p, "type": "ECC", "curve": "secp256r1", "passphrase": pass}));
        let out = run(&a.probe().unwrap(), &a.probe_stdin());
        assert!(!out.stdout_text().contains("PRIVATE"));
        let plan = a.compare(Some(&out)).unwrap();
        assert!(!plan.changed, "{:?}", plan.diff);
        // Without the passphrase the default (full_idempotence) regenerates;
        // partial_idempotence fails.
        let mut a = action(serde_json::json!({"path": p, "type": "ECC", "curve": "secp256r1"}));
        let out = run(&a.probe().unwrap(), &[]);
        assert!(a.compare(Some(&out)).unwrap().changed);
        let mut a = action(serde_json::json!({"path": p, "type": "ECC", "curve": "secp256r1",
                                             "regenerate": "partial_idempotence"}));
        let out = run(&a.probe().unwrap(), &[]);
        assert!(a.compare(Some(&out)).is_err());
        // `backup` keeps the old key beside the new one, mode kept.
        let mut a = action(serde_json::json!({"path": p, "type": "Ed25519", "backup": true}));
        let out = run(&a.probe().unwrap(), &[]);
        let plan = a.compare(Some(&out)).unwrap();
        let apply = plan.apply.clone().unwrap();
        let done = run(&apply.script, &apply.stdin);
        assert_eq!(done.status, 0, "{}", done.stderr_text());
        let plan = a.finish(plan, &done).unwrap();
        let backup = plan.result["backup_file"].as_str().unwrap().to_owned();
        assert!(std::fs::read_to_string(&backup).unwrap().starts_with("-----BEGIN ENCRYPTED PRIVATE KEY"));
        assert_eq!(std::fs::metadata(&backup).unwrap().permissions().mode() & 0o7777, 0o600);
        assert!(std::fs::read_to_string(&path).unwrap().starts_with("-----BEGIN PRIVATE KEY"));
        assert!(!std::path::Path::new("pwned").exists());
    }
}
