//! `x509_certificate_info`: what a certificate on the host says, read with
//! the host's `openssl x509`, in `community.crypto.x509_certificate_info`'s
//! result keys.
//!
//! Why it exists: the usual way to renew an expiring certificate with
//! community.crypto is `valid_at` here and `force` on `x509_certificate`.
//! It changes nothing; a certificate given as `content` travels on the
//! probe's stdin (it is public, but may be large).
//!
//! What it must never do: change the host, or build a shell string from a
//! value by hand.

use std::collections::BTreeSet;
use std::time::SystemTime;

use serde_json::{Map, Value};

use super::certificate::{cert_section, serial_value, SeenCert};
use super::Sections;
use crate::modules::{Action, ArgKind, ArgSpec, Args, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `x509_certificate_info` module.
pub struct X509CertificateInfo;

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str),
    ArgSpec::new("content", ArgKind::Str),
    ArgSpec::new("valid_at", ArgKind::Dict),
    ArgSpec::new("name_encoding", ArgKind::Str).choices(&["ignore", "idna", "unicode"]).refuse_values(&[
        ("idna", "stead reports names as the certificate holds them (name_encoding: ignore)"),
        ("unicode", "stead reports names as the certificate holds them (name_encoding: ignore)"),
    ]),
])
.one_of(&[&["path", "content"]])
.exclusive(&[("path", "content")])
.refused(&[("select_crypto_backend", "stead always uses the host's openssl command, not a Python library")]);

impl Module for X509CertificateInfo {
    fn name(&self) -> &'static str {
        "x509_certificate_info"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let encoding = args.choice_or("name_encoding", &["ignore", "idna", "unicode"], "ignore")?;
        if encoding != "ignore" {
            return Err(ModuleError::Arg {
                arg: "name_encoding".into(),
                message: "stead reports names as the certificate holds them (name_encoding: ignore)".into(),
            });
        }
        let now = SystemTime::now();
        let mut valid_at = Vec::new();
        if let Some(Value::Object(m)) = args.get("valid_at") {
            for (k, v) in m {
                let Value::String(spec) = v else {
                    return Err(ModuleError::failed(format!(
                        "The value for valid_at.{k} must be of type string (got {v})"
                    )));
                };
                let t = super::parse_time(spec, now)
                    .map_err(|message| ModuleError::Arg { arg: format!("valid_at.{k}"), message })?;
                valid_at.push((k.clone(), t));
            }
        }
        Ok(Box::new(InfoAction { path: args.opt_str("path")?, content: args.opt_str("content")?, valid_at, now }))
    }
}

/// One `x509_certificate_info` task on one host.
#[derive(Debug)]
pub struct InfoAction {
    path: Option<String>,
    content: Option<String>,
    valid_at: Vec<(String, SystemTime)>,
    now: SystemTime,
}

/// A name as community.crypto reports it: a dict of long names, and the
/// ordered pairs.
fn name_values(name: &super::Name) -> (Value, Value) {
    let mut dict = Map::new();
    let mut ordered = Vec::new();
    for (k, v) in name {
        dict.insert(super::long_name(k), v.clone().into());
        ordered.push(Value::from(vec![super::long_name(k), v.clone()]));
    }
    (Value::Object(dict), Value::Array(ordered))
}

fn list(value: &str) -> Vec<String> {
    value.split(", ").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

/// community.crypto's result keys for a certificate.
pub fn info(cert: &SeenCert, now: SystemTime, valid_at: &[(String, SystemTime)]) -> ResultMap {
    let mut r = ResultMap::new();
    let (subject, subject_ordered) = name_values(&cert.subject);
    let (issuer, issuer_ordered) = name_values(&cert.issuer);
    r.insert("subject".into(), subject);
    r.insert("subject_ordered".into(), subject_ordered);
    r.insert("issuer".into(), issuer);
    r.insert("issuer_ordered".into(), issuer_ordered);
    r.insert("version".into(), 3.into());
    r.insert("signature_algorithm".into(), cert.signature_algorithm.clone().into());
    let ext = |n: &str| cert.ext(n);
    let crit = |n: &str| ext(n).is_some_and(|e| e.critical);
    let ku: Option<Vec<String>> = ext(super::KU).map(|e| {
        let mut v = list(&e.value);
        v.sort();
        v
    });
    r.insert("key_usage".into(), ku.into());
    r.insert("key_usage_critical".into(), crit(super::KU).into());
    let eku: Option<Vec<String>> =
        ext(super::EKU).map(|e| list(&e.value).into_iter().collect::<BTreeSet<_>>().into_iter().collect());
    r.insert("extended_key_usage".into(), eku.into());
    r.insert("extended_key_usage_critical".into(), crit(super::EKU).into());
    let bc: Option<Vec<String>> = ext(super::BC).map(|e| {
        let mut v = list(&e.value);
        v.sort();
        v
    });
    r.insert("basic_constraints".into(), bc.into());
    r.insert("basic_constraints_critical".into(), crit(super::BC).into());
    let sans = ext(super::SAN).map(|_| super::sans_of(&cert.exts));
    r.insert("subject_alt_name".into(), sans.into());
    r.insert("subject_alt_name_critical".into(), crit(super::SAN).into());
    r.insert("ocsp_must_staple".into(), ext("TLS Feature").map(|_| true).into());
    r.insert("ocsp_must_staple_critical".into(), crit("TLS Feature").into());
    r.insert("not_before".into(), cert.not_before.map(super::asn1).into());
    r.insert("not_after".into(), cert.not_after.map(super::asn1).into());
    r.insert("expired".into(), cert.not_after.is_some_and(|t| t < now).into());
    if let Some(k) = &cert.key {
        r.insert("public_key".into(), k.public_pem.clone().into());
        r.insert("public_key_type".into(), k.kind.clone().into());
        r.insert("public_key_fingerprints".into(), k.fingerprints());
        let mut data = Map::new();
        if let Some(s) = k.size {
            data.insert("size".into(), s.into());
        }
        if let Some(c) = &k.curve {
            data.insert("curve".into(), c.clone().into());
        }
        r.insert("public_key_data".into(), Value::Object(data));
    }
    r.insert("fingerprints".into(), super::fingerprints(&super::pem_der(&cert.pem)));
    let keyid = |n: &str| {
        ext(n).map(|e| e.value.trim().trim_start_matches("keyid:").lines().next().unwrap_or("").to_ascii_lowercase())
    };
    r.insert("subject_key_identifier".into(), keyid(super::SKI).into());
    r.insert("authority_key_identifier".into(), keyid(super::AKI).into());
    r.insert("serial_number".into(), serial_value(&cert.serial_hex));
    let mut valid = Map::new();
    for (k, t) in valid_at {
        let ok = cert.not_before.is_some_and(|b| b <= *t) && cert.not_after.is_some_and(|a| *t <= a);
        valid.insert(k.clone(), ok.into());
    }
    r.insert("valid_at".into(), Value::Object(valid));
    r
}

impl Action for InfoAction {
    fn probe(&self) -> Option<String> {
        let mut s = String::from(super::SH_LIB);
        match (&self.path, &self.content) {
            (Some(p), _) => {
                s.push_str(&format!("if [ ! -e {q} ]; then kv missing yes; fi\n", q = quote(p)));
                s.push_str(&cert_section("cert", &quote(p)));
            }
            (None, Some(c)) => {
                s.push_str(&format!(
                    "f=$(mktemp) || exit 1\ntrap 'rm -f -- \"$f\"' EXIT\nhead -c {} > \"$f\"\n",
                    c.len()
                ));
                s.push_str(&cert_section("cert", "\"$f\""));
            }
            (None, None) => {}
        }
        Some(s)
    }

    fn probe_stdin(&self) -> Vec<u8> {
        match (&self.path, &self.content) {
            (None, Some(c)) => c.as_bytes().to_vec(),
            _ => Vec::new(),
        }
    }

    fn paths(&self) -> Option<Vec<String>> {
        Some(self.path.iter().cloned().collect())
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("no probe output".into()))?;
        let sec = Sections::parse(&out.stdout)?;
        let Some(cert) = SeenCert::from_sections(&sec, "cert") else {
            let path = self.path.as_deref().unwrap_or("content");
            return Err(ModuleError::failed(if sec.flag("missing") {
                format!("Error while reading certificate file from disk: {path} does not exist")
            } else {
                format!("Unable to load certificate from {path}: not a certificate openssl can read")
            }));
        };
        let mut plan = Plan::ok();
        plan.result = info(&cert, self.now, &self.valid_at);
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx};

    #[test]
    fn a_certificate_is_read_and_valid_at_answered() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = quote(tmp.path().to_str().unwrap()).into_owned();
        let made = run(
            &format!(
                "cd {dir} && openssl genpkey -quiet -algorithm ED25519 -out k && openssl req -new -x509 -key k \
                 -subj /CN=info.example/O=Stead -days 2 -addext subjectAltName=DNS:info.example,IP:10.0.0.1 \
                 -addext keyUsage=critical,digitalSignature -config /dev/null -out c.pem"
            ),
            b"",
        );
        assert_eq!(made.status, 0, "{}", made.stderr_text());
        let path = tmp.path().join("c.pem");
        let pem = std::fs::read_to_string(&path).unwrap();
        for args in [
            serde_json::json!({"path": path.to_str().unwrap(), "valid_at": {"now": "+0s", "later": "+3d"}}),
            serde_json::json!({"content": pem, "valid_at": {"now": "+0s", "later": "+3d"}}),
        ] {
            let map = args.as_object().unwrap().clone();
            let mut a = X509CertificateInfo.prepare(&Args::new(&SPEC, map), &FakeCtx::default()).unwrap();
            let out = run(&a.probe().unwrap(), &a.probe_stdin());
            let plan = a.compare(Some(&out)).unwrap();
            assert!(!plan.changed && plan.apply.is_none());
            let r = plan.result;
            assert_eq!(r["subject"]["commonName"], "info.example");
            assert_eq!(r["subject"]["organizationName"], "Stead");
            assert_eq!(r["subject_alt_name"], serde_json::json!(["DNS:info.example", "IP:10.0.0.1"]));
            assert_eq!(r["key_usage"], serde_json::json!(["Digital Signature"]));
            assert_eq!(r["key_usage_critical"], true);
            assert_eq!(r["public_key_type"], "Ed25519");
            assert_eq!(r["expired"], false);
            assert_eq!(r["valid_at"], serde_json::json!({"now": true, "later": false}));
            assert_eq!(r["signature_algorithm"], "ED25519");
        }
    }
}
