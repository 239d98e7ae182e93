//! `x509_certificate`: a certificate signed on the host with its own
//! `openssl ca`, by the certificate's own key (`provider: selfsigned`) or
//! by a CA whose key is on the host (`provider: ownca`), as
//! `community.crypto.x509_certificate` decides it.
//!
//! Why it exists: the signing key lives on the host, so signing happens
//! there. The probe reads the existing certificate's subject, issuer,
//! extensions, public key, dates and whether its signature verifies, and
//! the same facts of the CSR, the key and the CA. `compare` follows
//! community.crypto's `needs_regeneration` to the letter: a certificate
//! that still matches its key, CSR (subject, public key, extensions other
//! than the key identifiers) and issuer is left byte for byte alone;
//! `not_before` / `not_after` are compared only with `ignore_timestamps:
//! false` (community.crypto's default is `true`: an expiring certificate is
//! renewed with `force`, typically from `x509_certificate_info`'s
//! `valid_at`).
//!
//! `openssl ca` is used because it is the one OpenSSL 3.0 command that
//! takes exact start and end dates; its database lives in a temporary
//! directory that is removed on exit.
//!
//! What it must never do: read a private key off the host, or put a
//! passphrase on a command line or in a script (stdin, `-passin env:`).

use std::time::SystemTime;

use serde_json::Value;

use super::csr::{digest_arg, SeenCsr};
use super::{Ext, KeyInfo, Name, Passphrases, Sections};
use crate::modules::file_state::{Attrs, FileKind, FileState};
use crate::modules::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `x509_certificate` module.
pub struct X509Certificate;

const KEY_PASS: &str = "STEAD_KEY_PASS";
const CA_PASS: &str = "STEAD_CA_PASS";
const KEY_STAYS: &str = "a private key stays on the host: name it with its _path argument";
const SKI_CHOICES: &[&str] = &["create_if_not_provided", "always_create", "never_create"];

static REFUSED: &[(&str, &str)] = &[
    ("privatekey_content", KEY_STAYS),
    ("ownca_privatekey_content", KEY_STAYS),
    ("csr_content", "give the CSR as a file on the host (csr_path)"),
    ("ownca_content", "give the CA certificate as a file on the host (ownca_path)"),
    ("acme_accountkey_path", "the acme provider is not supported (use community.crypto's acme_certificate)"),
    ("acme_challenge_path", "the acme provider is not supported"),
    ("acme_chain", "the acme provider is not supported"),
    ("acme_directory", "the acme provider is not supported"),
    ("entrust_cert_type", "the entrust provider is not supported"),
    ("entrust_requester_email", "the entrust provider is not supported"),
    ("entrust_requester_name", "the entrust provider is not supported"),
    ("entrust_requester_phone", "the entrust provider is not supported"),
    ("entrust_api_user", "the entrust provider is not supported"),
    ("entrust_api_key", "the entrust provider is not supported"),
    ("entrust_api_client_cert_path", "the entrust provider is not supported"),
    ("entrust_api_client_cert_key_path", "the entrust provider is not supported"),
    ("entrust_not_after", "the entrust provider is not supported"),
    ("entrust_api_specification_path", "the entrust provider is not supported"),
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
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("provider", ArgKind::Str).choices(&["selfsigned", "ownca", "acme", "entrust"]).refuse_values(&[
        ("acme", "the acme provider is not supported (use community.crypto's acme_certificate)"),
        ("entrust", "the entrust provider is not supported"),
    ]),
    ArgSpec::new("csr_path", ArgKind::Str),
    ArgSpec::new("privatekey_path", ArgKind::Str),
    ArgSpec::new("privatekey_passphrase", ArgKind::Str),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("ignore_timestamps", ArgKind::Bool),
    ArgSpec::new("backup", ArgKind::Bool),
    ArgSpec::new("return_content", ArgKind::Bool),
    ArgSpec::new("selfsigned_version", ArgKind::Int).choices(&["3"]),
    ArgSpec::new("selfsigned_digest", ArgKind::Str),
    ArgSpec::new("selfsigned_not_before", ArgKind::Str).aliases(&["selfsigned_notBefore"]),
    ArgSpec::new("selfsigned_not_after", ArgKind::Str).aliases(&["selfsigned_notAfter"]),
    ArgSpec::new("selfsigned_create_subject_key_identifier", ArgKind::Str).choices(SKI_CHOICES),
    ArgSpec::new("ownca_path", ArgKind::Str),
    ArgSpec::new("ownca_privatekey_path", ArgKind::Str),
    ArgSpec::new("ownca_privatekey_passphrase", ArgKind::Str),
    ArgSpec::new("ownca_digest", ArgKind::Str),
    ArgSpec::new("ownca_version", ArgKind::Int).choices(&["3"]),
    ArgSpec::new("ownca_not_before", ArgKind::Str),
    ArgSpec::new("ownca_not_after", ArgKind::Str),
    ArgSpec::new("ownca_create_subject_key_identifier", ArgKind::Str).choices(SKI_CHOICES),
    ArgSpec::new("ownca_create_authority_key_identifier", ArgKind::Bool),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.refused(REFUSED);

/// Probe lines that print a certificate's facts (the file is the shell
/// word `p`) as `{name}-ok`, `-subject`, `-issuer`, `-ext`, `-pub`,
/// `-pubtext`, `-dates`, `-serial`, `-sigalg`, `-pem`.
pub fn cert_section(name: &str, p: &str) -> String {
    format!(
        "if [ -f {p} ] && openssl x509 -in {p} -noout 2>/dev/null; then\n  kv {name}-ok yes\n  \
         openssl x509 -in {p} -noout -subject {nameopt} | blk {name}-subject\n  \
         openssl x509 -in {p} -noout -issuer {nameopt} | blk {name}-issuer\n  \
         openssl x509 -in {p} -noout -text -certopt {ext_only} | blk {name}-ext\n  \
         openssl x509 -in {p} -noout -startdate -enddate -dateopt iso_8601 | blk {name}-dates\n  \
         openssl x509 -in {p} -noout -serial | blk {name}-serial\n  \
         openssl x509 -in {p} -noout -text -certopt {sig_only} | blk {name}-sigalg\n  \
         openssl x509 -in {p} | blk {name}-pem\n  \
         openssl x509 -in {p} -noout -pubkey | {{\n{pubkey}}}\nfi\n",
        nameopt = super::NAMEOPT,
        ext_only = super::EXT_ONLY,
        sig_only =
            "no_header,no_version,no_serial,no_validity,no_subject,no_issuer,no_pubkey,no_sigdump,no_aux,no_extensions",
        pubkey = super::public_key_lines(name),
    )
}

/// A certificate as the probe saw it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SeenCert {
    /// Subject.
    pub subject: Name,
    /// Issuer.
    pub issuer: Name,
    /// Extensions.
    pub exts: Vec<Ext>,
    /// Public key.
    pub key: Option<KeyInfo>,
    /// Start of validity.
    pub not_before: Option<SystemTime>,
    /// End of validity.
    pub not_after: Option<SystemTime>,
    /// Serial number, hex as openssl prints it.
    pub serial_hex: String,
    /// Signature algorithm (`sha256WithRSAEncryption`).
    pub signature_algorithm: String,
    /// The certificate, PEM (public).
    pub pem: String,
}

impl SeenCert {
    /// From a [`cert_section`]; `None` when there is no readable certificate.
    pub fn from_sections(s: &Sections, name: &str) -> Option<SeenCert> {
        if !s.flag(&format!("{name}-ok")) {
            return None;
        }
        let t = |k: &str| s.text(&format!("{name}-{k}")).unwrap_or_default();
        let dates = t("dates");
        let date = |key: &str| dates.lines().find_map(|l| l.strip_prefix(key)).and_then(super::parse_iso);
        Some(SeenCert {
            subject: super::parse_name(&t("subject")),
            issuer: super::parse_name(&t("issuer")),
            exts: super::parse_exts(&t("ext")),
            key: KeyInfo::from_sections(s, name),
            not_before: date("notBefore="),
            not_after: date("notAfter="),
            serial_hex: t("serial").trim().trim_start_matches("serial=").to_owned(),
            signature_algorithm: t("sigalg")
                .lines()
                .find_map(|l| l.trim().strip_prefix("Signature Algorithm: ").map(str::to_owned))
                .unwrap_or_default(),
            pem: t("pem"),
        })
    }

    /// The value of an extension.
    pub fn ext(&self, name: &str) -> Option<&Ext> {
        self.exts.iter().find(|e| e.name == name)
    }

    /// Diff lines.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut v = vec![("subject", super::name_text(&self.subject)), ("issuer", super::name_text(&self.issuer))];
        v.push(("not_before", self.not_before.map(super::asn1).unwrap_or_default()));
        v.push(("not_after", self.not_after.map(super::asn1).unwrap_or_default()));
        v.push(("serial_number", self.serial_hex.clone()));
        let sans = super::sans_of(&self.exts);
        if !sans.is_empty() {
            v.push(("subject_alt_name", sans.join(", ")));
        }
        if let Some(k) = &self.key {
            v.push(("public_key", format!("sha256:{}", k.sha256())));
        }
        v
    }
}

/// Which signer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Provider {
    /// The certificate's own key.
    SelfSigned,
    /// A CA certificate and key on the host.
    OwnCa {
        /// The CA certificate.
        cert: String,
        /// The CA's private key.
        key: String,
    },
}

/// Everything `needs_regeneration` looks at, as the probe saw it.
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// The existing certificate (`None`: absent or unreadable).
    pub cert: Option<SeenCert>,
    /// The CSR (`None` without `csr_path`).
    pub csr: Option<SeenCsr>,
    /// The private key's public half.
    pub key: Option<KeyInfo>,
    /// The CA certificate (ownca).
    pub ca: Option<SeenCert>,
    /// Whether the certificate's signature verifies with the signer's key.
    pub signature_ok: bool,
}

/// The task's decision inputs that are not on the host.
#[derive(Debug, Clone)]
pub struct Rules {
    /// Regenerate whatever is there.
    pub force: bool,
    /// Leave dates out of the comparison.
    pub ignore_timestamps: bool,
    /// The signer.
    pub provider: Provider,
    /// `*_create_subject_key_identifier`.
    pub create_ski: String,
    /// `ownca_create_authority_key_identifier`.
    pub create_aki: bool,
    /// Wanted start of validity.
    pub not_before: SystemTime,
    /// Wanted end of validity.
    pub not_after: SystemTime,
}

fn strip_keyid(v: &str) -> String {
    v.trim().trim_start_matches("keyid:").trim().to_ascii_uppercase()
}

/// community.crypto's `needs_regeneration` for the selfsigned and ownca
/// providers, on what the probe saw.
pub fn needs_regeneration(r: &Rules, seen: &Seen) -> bool {
    let Some(cert) = &seen.cert else { return true };
    if r.force {
        return true;
    }
    let cert_pub = cert.key.as_ref().map(|k| k.public_pem.as_str());
    if let Some(k) = &seen.key {
        if cert_pub != Some(k.public_pem.as_str()) {
            return true;
        }
    }
    let ownca = matches!(r.provider, Provider::OwnCa { .. });
    if let Some(csr) = &seen.csr {
        if !csr.signature_ok || csr.key.as_ref().map(|k| k.public_pem.as_str()) != cert_pub {
            return true;
        }
        if csr.subject != cert.subject {
            return true;
        }
        let keep = |e: &&Ext| {
            !(r.create_ski != "never_create" && e.name == super::SKI || ownca && r.create_aki && e.name == super::AKI)
        };
        let mut a: Vec<&Ext> = cert.exts.iter().filter(keep).collect();
        let mut b: Vec<&Ext> = csr.exts.iter().filter(keep).collect();
        a.sort();
        b.sort();
        if a != b {
            return true;
        }
    } else if !ownca {
        // Without a CSR, community.crypto signs an empty one: no subject,
        // no extensions but the key identifier.
        if !cert.subject.is_empty() || cert.exts.iter().any(|e| e.name != super::SKI) {
            return true;
        }
    }
    if r.create_ski != "never_create" {
        let Some(ski) = cert.ext(super::SKI) else { return true };
        let from_csr = (r.create_ski == "create_if_not_provided")
            .then(|| seen.csr.as_ref().and_then(|c| c.exts.iter().find(|e| e.name == super::SKI)))
            .flatten();
        let want = match from_csr {
            Some(e) => Some(strip_keyid(&e.value)),
            None => cert_pub.and_then(super::key_identifier),
        };
        if want.as_deref() != Some(strip_keyid(&ski.value).as_str()) {
            return true;
        }
    }
    if !r.ignore_timestamps
        && (cert.not_before.map(super::asn1) != Some(super::asn1(r.not_before))
            || cert.not_after.map(super::asn1) != Some(super::asn1(r.not_after)))
    {
        return true;
    }
    if !seen.signature_ok {
        return true;
    }
    if let (true, Some(ca)) = (ownca, &seen.ca) {
        if ca.subject != cert.issuer {
            return true;
        }
        if r.create_aki {
            let want = match ca.ext(super::SKI) {
                Some(e) => Some(strip_keyid(&e.value)),
                None => ca.key.as_ref().and_then(|k| super::key_identifier(&k.public_pem)),
            };
            match cert.ext(super::AKI) {
                Some(e) if want.as_deref() == Some(strip_keyid(&e.value).as_str()) => {}
                _ => return true,
            }
        }
    }
    false
}

/// Whether `openssl verify` output says the leaf's signature (or its
/// issuer) is wrong, rather than something about the CA that
/// community.crypto does not check.
pub fn verify_says_bad_signature(text: &str) -> bool {
    if text.lines().any(|l| l.trim_end().ends_with(": OK")) {
        return false;
    }
    ["error 7 at 0", "error 20 at 0", "error 21 at 0", "error 2 at 0"].iter().any(|e| text.contains(e))
        || !text.contains(" at ")
}

impl Module for X509Certificate {
    fn name(&self) -> &'static str {
        "x509_certificate"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let present = args.choice_or("state", &["present", "absent"], "present")? == "present";
        let provider = args.opt_str("provider")?;
        if present && provider.is_none() {
            return Err(ModuleError::failed("state is present but all of the following are missing: provider"));
        }
        let now = SystemTime::now();
        let time = |arg: &str, default: &str| -> Result<SystemTime, ModuleError> {
            let spec = args.opt_str(arg)?.unwrap_or_else(|| default.to_owned());
            super::parse_time(&spec, now).map_err(|message| ModuleError::Arg { arg: arg.into(), message })
        };
        let mut pass = Passphrases::default();
        pass.add(KEY_PASS, args.opt_str("privatekey_passphrase")?.as_deref());
        let (provider, prefix) = match provider.as_deref().unwrap_or("selfsigned") {
            "selfsigned" => {
                if present && !args.has("privatekey_path") {
                    return Err(ModuleError::failed(
                        "One of privatekey_path and privatekey_content must be specified for the selfsigned provider.",
                    ));
                }
                (Provider::SelfSigned, "selfsigned")
            }
            "ownca" => {
                let cert = args.opt_str("ownca_path")?;
                let key = args.opt_str("ownca_privatekey_path")?;
                let (Some(cert), Some(key)) = (cert, key) else {
                    return Err(ModuleError::failed(
                        "ownca_path and ownca_privatekey_path must be specified for the ownca provider.",
                    ));
                };
                if present && !args.has("csr_path") {
                    return Err(ModuleError::failed("csr_path or csr_content is required for ownca provider"));
                }
                pass.add(CA_PASS, args.opt_str("ownca_privatekey_passphrase")?.as_deref());
                (Provider::OwnCa { cert, key }, "ownca")
            }
            other => {
                return Err(ModuleError::Arg {
                    arg: "provider".into(),
                    message: format!("the {other} provider is not supported by stead (selfsigned, ownca)"),
                })
            }
        };
        if args.opt_int(&format!("{prefix}_version"))?.is_some_and(|v| v != 3) {
            return Err(ModuleError::Arg {
                arg: format!("{prefix}_version"),
                message: "only version 3 certificates are made (as with community.crypto's cryptography backend)"
                    .into(),
            });
        }
        let rules = Rules {
            force: args.bool_or("force", false)?,
            ignore_timestamps: args.bool_or("ignore_timestamps", true)?,
            create_ski: args.choice_or(
                &format!("{prefix}_create_subject_key_identifier"),
                SKI_CHOICES,
                "create_if_not_provided",
            )?,
            create_aki: args.bool_or("ownca_create_authority_key_identifier", true)?,
            not_before: time(&format!("{prefix}_not_before"), "+0s")?,
            not_after: time(&format!("{prefix}_not_after"), "+3650d")?,
            provider,
        };
        Ok(Box::new(CertAction {
            path: args.str("path")?,
            csr_path: args.opt_str("csr_path")?,
            key_path: args.opt_str("privatekey_path")?,
            digest: digest_arg(args, &format!("{prefix}_digest"))?,
            rules,
            pass,
            present,
            backup: args.bool_or("backup", false)?,
            return_content: args.bool_or("return_content", false)?,
            attrs: Attrs::from_args(args)?,
            st: FileState::default(),
        }))
    }
}

/// One `x509_certificate` task on one host.
#[derive(Debug)]
pub struct CertAction {
    path: String,
    csr_path: Option<String>,
    key_path: Option<String>,
    digest: String,
    rules: Rules,
    pass: Passphrases,
    present: bool,
    backup: bool,
    return_content: bool,
    attrs: Attrs,
    st: FileState,
}

impl CertAction {
    fn base_result(&self) -> ResultMap {
        let mut r = ResultMap::new();
        r.insert("filename".into(), self.path.clone().into());
        r.insert("privatekey".into(), self.key_path.clone().into());
        r.insert("csr".into(), self.csr_path.clone().into());
        if let Provider::OwnCa { cert, key } = &self.rules.provider {
            r.insert("ca_cert".into(), cert.clone().into());
            r.insert("ca_privatekey".into(), key.clone().into());
        }
        r
    }

    fn fill_cert(&self, r: &mut ResultMap, cert: &SeenCert) {
        r.insert("notBefore".into(), cert.not_before.map(super::asn1).into());
        r.insert("notAfter".into(), cert.not_after.map(super::asn1).into());
        r.insert("serial_number".into(), serial_value(&cert.serial_hex));
        if self.return_content {
            r.insert("certificate".into(), cert.pem.clone().into());
        }
    }

    /// The apply: `openssl ca` in a temporary directory, into `$tmp`.
    fn generate(&self, signer_kind: &str, csr_has_ski: bool) -> ApplyScript {
        let r = &self.rules;
        let mut ext = String::new();
        let add_ski = match r.create_ski.as_str() {
            "always_create" => true,
            "never_create" => false,
            _ => !csr_has_ski,
        };
        if add_ski {
            ext.push_str("subjectKeyIdentifier=hash\\n");
        }
        let ownca = matches!(r.provider, Provider::OwnCa { .. });
        if ownca && r.create_aki {
            ext.push_str("authorityKeyIdentifier=keyid\\n");
        }
        let md =
            if matches!(signer_kind, "RSA" | "ECC" | "DSA") { format!(" -md {}", self.digest) } else { String::new() };
        let key = self.key_path.clone().unwrap_or_default();
        let mut body = self.pass.read_lines();
        body.push_str(
            "w=$(mktemp -d) || die \"cannot create a temporary directory\"\n\
             trap 'rm -f -- \"$tmp\"; rm -rf -- \"$w\"' EXIT\n\
             : > \"$w/index.txt\"\nprintf '4%s\\n' \"$(openssl rand -hex 8 | cut -c1-15)\" > \"$w/serial\"\n",
        );
        body.push_str(&format!(
            "printf '[ca]\\ndefault_ca=c\\n[c]\\ndatabase=%s/index.txt\\nnew_certs_dir=%s\\nserial=%s/serial\\n\
             policy=p\\ncopy_extensions=copy\\nunique_subject=no\\ndefault_md=default\\n[p]\\n[x]\\n{ext}' \
             \"$w\" \"$w\" \"$w\" > \"$w/ca.cnf\"\n"
        ));
        let csr = match &self.csr_path {
            Some(c) => quote(c).into_owned(),
            None => {
                body.push_str(&format!(
                    "printf '[req]\\ndistinguished_name=dn\\n[dn]\\n' | openssl req -new -config /dev/stdin -key {} {} \
                     -subj / -out \"$w/req.csr\"\n",
                    quote(&key),
                    self.pass.passin(KEY_PASS)
                ));
                "\"$w/req.csr\"".to_owned()
            }
        };
        let signer = match &r.provider {
            Provider::SelfSigned => format!("-selfsign -keyfile {} {}", quote(&key), self.pass.passin(KEY_PASS)),
            Provider::OwnCa { cert, key } => {
                format!("-cert {} -keyfile {} {}", quote(cert), quote(key), self.pass.passin(CA_PASS))
            }
        };
        let ext_arg = if ext.is_empty() { "" } else { " -extensions x" };
        body.push_str(&format!(
            "if ! openssl ca -batch -config \"$w/ca.cnf\" {signer} -in {csr} -startdate {} -enddate {}{md}{ext_arg} \
             -preserveDN -notext -out \"$tmp\" 2> \"$w/err\"; then\n  \
             grep -v -e '^Using configuration' -e '^Check that the request' -e '^Signature ok' \"$w/err\" >&2\n  exit 1\nfi\n",
            super::asn1(r.not_before),
            super::asn1(r.not_after),
        ));
        let mut script = super::generate_script(&self.path, &self.attrs, None, self.backup, &body);
        script.push_str("rm -rf -- \"$w\"\n");
        script.push_str(&cert_section("new", "\"$d\""));
        ApplyScript { script, stdin: self.pass.stdin() }
    }
}

/// A serial number as community.crypto reports it: an integer (as a
/// string when larger than 64 bits).
pub fn serial_value(hex: &str) -> Value {
    match u64::from_str_radix(hex, 16) {
        Ok(n) => n.into(),
        Err(_) => u128::from_str_radix(hex, 16).map_or_else(|_| Value::from(hex), |n| Value::from(n.to_string())),
    }
}

impl Action for CertAction {
    fn probe(&self) -> Option<String> {
        let mut s = String::from(super::SH_LIB);
        s.push_str(&self.pass.read_lines());
        s.push_str(&super::file_state_section("fs", &self.path));
        if !self.present {
            return Some(s);
        }
        s.push_str(&cert_section("cert", &quote(&self.path)));
        if let Some(c) = &self.csr_path {
            s.push_str(&super::csr::csr_section("csr", c));
        }
        if let Some(k) = &self.key_path {
            s.push_str(&super::private_key_section("key", k, &self.pass, KEY_PASS));
        }
        let p = quote(&self.path);
        match &self.rules.provider {
            Provider::SelfSigned => s.push_str(&format!(
                "if [ -f {p} ] && openssl verify -no_check_time -partial_chain -check_ss_sig -CAfile {p} {p} \
                 >/dev/null 2>&1; then kv sig ok; fi\n"
            )),
            Provider::OwnCa { cert, key } => {
                s.push_str(&cert_section("ca", &quote(cert)));
                s.push_str(&super::private_key_section("cakey", key, &self.pass, CA_PASS));
                s.push_str(&format!(
                    "if [ -f {p} ] && [ -f {c} ]; then openssl verify -no_check_time -partial_chain -CAfile {c} {p} \
                     2>&1 | blk verify; fi\n",
                    c = quote(cert)
                ));
            }
        }
        Some(s)
    }

    fn probe_stdin(&self) -> Vec<u8> {
        self.pass.stdin()
    }

    fn paths(&self) -> Option<Vec<String>> {
        let mut v = vec![self.path.clone()];
        v.extend(self.csr_path.clone());
        v.extend(self.key_path.clone());
        if let Provider::OwnCa { cert, key } = &self.rules.provider {
            v.push(cert.clone());
            v.push(key.clone());
        }
        Some(v)
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("no probe output".into()))?;
        let sec = Sections::parse(&out.stdout)?;
        self.st = sec.file_state("fs")?;
        if self.st.exists && self.st.kind != FileKind::File {
            return Err(ModuleError::failed(format!("{} exists and is not a regular file", self.path)));
        }
        if !self.present {
            let mut plan = if self.st.exists {
                Plan::change(ApplyScript { script: super::remove_script(&[&self.path]), stdin: Vec::new() }).with_diff(
                    Some(Diff::state(
                        &self.path,
                        &[("state", "present".to_owned())],
                        &[("state", "absent".to_owned())],
                    )),
                )
            } else {
                Plan::ok()
            };
            plan.result = self.base_result();
            return Ok(plan);
        }
        if !self.st.parent_dir {
            let dir = crate::modules::file_state::parent_of(&self.path);
            return Err(ModuleError::failed(format!(
                "The directory {dir} does not exist or the file is not a directory"
            )));
        }
        let cert = SeenCert::from_sections(&sec, "cert");
        let csr = match &self.csr_path {
            Some(c) => Some(SeenCsr::from_sections(&sec, "csr").ok_or_else(|| {
                ModuleError::failed(format!("The certificate signing request file {c} does not exist"))
            })?),
            None => None,
        };
        let unreadable = |name: &str, path: &str| {
            ModuleError::failed(if sec.flag(&format!("{name}-unreadable")) {
                format!("cannot read the private key {path} (wrong or missing passphrase?)")
            } else {
                format!("The private key file {path} does not exist")
            })
        };
        let key = match &self.key_path {
            Some(k) => Some(KeyInfo::from_sections(&sec, "key").ok_or_else(|| unreadable("key", k))?),
            None => None,
        };
        let (ca, signer_kind, signature_ok) = match &self.rules.provider {
            Provider::SelfSigned => {
                let kind = key.as_ref().map(|k| k.kind.clone()).unwrap_or_default();
                (None, kind, sec.flag("sig"))
            }
            Provider::OwnCa { cert: ca_path, key: ca_key } => {
                let ca = SeenCert::from_sections(&sec, "ca")
                    .ok_or_else(|| ModuleError::failed(format!("The CA certificate file {ca_path} does not exist")))?;
                let ca_priv = KeyInfo::from_sections(&sec, "cakey").ok_or_else(|| unreadable("cakey", ca_key))?;
                if ca.key.as_ref().map(|k| &k.public_pem) != Some(&ca_priv.public_pem) {
                    return Err(ModuleError::failed("The CA private key does not belong to the CA certificate"));
                }
                let ok = !verify_says_bad_signature(&sec.text("verify").unwrap_or_default());
                (Some(ca), ca_priv.kind, ok)
            }
        };
        let csr_has_ski = csr.as_ref().is_some_and(|c| c.exts.iter().any(|e| e.name == super::SKI));
        let seen = Seen { cert: cert.clone(), csr: csr.clone(), key: key.clone(), ca: ca.clone(), signature_ok };
        let mut result = self.base_result();
        if needs_regeneration(&self.rules, &seen) {
            let before = match &cert {
                Some(c) => c.pairs(),
                None if self.st.exists => vec![("state", "present (not a certificate openssl can read)".to_owned())],
                None => vec![("state", "absent".to_owned())],
            };
            let subject = csr.as_ref().map(|c| c.subject.clone()).unwrap_or_default();
            let issuer = ca.as_ref().map_or_else(|| subject.clone(), |c| c.subject.clone());
            let mut after = vec![
                ("subject", super::name_text(&subject)),
                ("issuer", super::name_text(&issuer)),
                ("not_before", super::asn1(self.rules.not_before)),
                ("not_after", super::asn1(self.rules.not_after)),
                ("serial_number", "(new)".to_owned()),
            ];
            let sans = csr.as_ref().map(|c| super::sans_of(&c.exts)).unwrap_or_default();
            if !sans.is_empty() {
                after.push(("subject_alt_name", sans.join(", ")));
            }
            if let Some(k) = csr.as_ref().and_then(|c| c.key.clone()).or(key.clone()) {
                after.push(("public_key", format!("sha256:{}", k.sha256())));
            }
            let (_, a) = crate::modules::file_state::new_path_attrs(&self.attrs, false).pairs();
            after.extend(a);
            result.insert("notBefore".into(), super::asn1(self.rules.not_before).into());
            result.insert("notAfter".into(), super::asn1(self.rules.not_after).into());
            let mut plan = Plan::change(self.generate(&signer_kind, csr_has_ski))
                .with_diff(Some(Diff::state(&self.path, &before, &after)));
            plan.result = result;
            return Ok(plan);
        }
        let cert = cert.expect("a certificate that needs no regeneration exists");
        self.fill_cert(&mut result, &cert);
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
        if let Some(cert) = SeenCert::from_sections(&sec, "new") {
            self.fill_cert(&mut plan.result, &cert);
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

    fn cycle(args: &serde_json::Value) -> (bool, ResultMap) {
        let map = args.as_object().unwrap().clone();
        let mut a = X509Certificate.prepare(&Args::new(&SPEC, map), &FakeCtx::default()).unwrap();
        let out = run(&a.probe().unwrap(), &a.probe_stdin());
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = a.compare(Some(&out)).unwrap();
        let changed = plan.changed;
        let plan = match plan.apply.clone() {
            Some(apply) => {
                let done = run(&apply.script, &apply.stdin);
                assert_eq!(done.status, 0, "{}\n{}", done.stderr_text(), apply.script);
                a.finish(plan, &done).unwrap()
            }
            None => plan,
        };
        (changed, plan.result)
    }

    /// Real openssl in a hostile directory: a CA, a leaf signed by it; both
    /// left alone on the second run; a stricter date with
    /// `ignore_timestamps: false` renews; the chain verifies.
    #[test]
    fn selfsigned_ca_and_ownca_leaf_converge_and_verify() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        let f = |n: &str| dir.join(n).to_str().unwrap().to_owned();
        let pass = "ca pass 'x'";
        let setup = format!(
            "set -e\nopenssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -aes-256-cbc -pass pass:{} -out {}\n\
             openssl genpkey -quiet -algorithm ED25519 -out {}\n\
             printf '[req]\\ndistinguished_name=dn\\n[dn]\\n' | openssl req -new -config /dev/stdin -key {} -passin pass:{} \
             -subj /CN=Stead-CA -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out {}\n\
             printf '[req]\\ndistinguished_name=dn\\n[dn]\\n' | openssl req -new -config /dev/stdin -key {} \
             -subj /CN=leaf.example -addext subjectAltName=DNS:leaf.example -out {}\n",
            quote(pass),
            quote(&f("ca.key")),
            quote(&f("leaf.key")),
            quote(&f("ca.key")),
            quote(pass),
            quote(&f("ca.csr")),
            quote(&f("leaf.key")),
            quote(&f("leaf.csr")),
        );
        let out = run(&setup, b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let ca = serde_json::json!({"path": f("ca.crt"), "provider": "selfsigned", "privatekey_path": f("ca.key"),
                                    "privatekey_passphrase": pass, "csr_path": f("ca.csr")});
        let (changed, result) = cycle(&ca);
        assert!(changed);
        assert!(result["serial_number"].as_u64().is_some(), "{result:?}");
        assert!(!cycle(&ca).0, "a valid CA certificate is left alone");
        let leaf = serde_json::json!({"path": f("leaf.crt"), "provider": "ownca", "csr_path": f("leaf.csr"),
                                      "ownca_path": f("ca.crt"), "ownca_privatekey_path": f("ca.key"),
                                      "ownca_privatekey_passphrase": pass, "ownca_not_after": "+1d"});
        assert!(cycle(&leaf).0);
        let before = std::fs::read(f("leaf.crt")).unwrap();
        assert!(!cycle(&leaf).0, "a valid leaf is left alone");
        assert_eq!(std::fs::read(f("leaf.crt")).unwrap(), before, "byte for byte");
        let verify = run(&format!("openssl verify -CAfile {} {}", quote(&f("ca.crt")), quote(&f("leaf.crt"))), b"");
        assert!(verify.stdout_text().ends_with(": OK\n"), "{}{}", verify.stdout_text(), verify.stderr_text());
        let mut strict = leaf.clone();
        strict["ownca_not_after"] = "20301231235959Z".into();
        strict["ignore_timestamps"] = false.into();
        let (changed, result) = cycle(&strict);
        assert!(changed);
        assert_eq!(result["notAfter"], "20301231235959Z");
        // A new CA key and certificate: the leaf no longer verifies and is renewed.
        assert!(
            cycle(&serde_json::json!({"path": f("ca.crt"), "provider": "selfsigned", "force": true,
                                           "privatekey_path": f("ca.key"), "privatekey_passphrase": pass,
                                           "csr_path": f("ca.csr")}))
            .0
        );
        assert!(!cycle(&leaf).0, "the same CA key and subject still vouch for the leaf");
        // Without a CSR: an empty subject, as community.crypto signs it.
        let bare =
            serde_json::json!({"path": f("bare.crt"), "provider": "selfsigned", "privatekey_path": f("leaf.key")});
        assert!(cycle(&bare).0);
        assert!(!cycle(&bare).0);
        assert!(!std::path::Path::new("pwned").exists());
    }

    #[test]
    fn verify_output_is_read_as_community_crypto_checks_it() {
        assert!(!verify_says_bad_signature("x.crt: OK\n"));
        assert!(verify_says_bad_signature("CN = leaf\nerror 7 at 0 depth lookup: certificate signature failure\n"));
        assert!(verify_says_bad_signature("CN = leaf\nerror 20 at 0 depth lookup: unable to get local issuer\n"));
        assert!(!verify_says_bad_signature("CN = ca\nerror 79 at 1 depth lookup: invalid CA certificate\n"));
    }
}
