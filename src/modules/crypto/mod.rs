//! The `community.crypto` modules, carried out with the target's own
//! `openssl` and `ssh-keygen` (no Python on the host).
//!
//! Why a folder: the six modules share one way of talking to the host.
//! Each probe is one script that runs `openssl` on the host and prints
//! *public* facts only: public keys, subjects, extensions, dates, whether a
//! signature verifies. The controller decides with community.crypto's rules
//! (pure `compare`, unit-tested on canned output), and an apply script
//! generates keys, CSRs and certificates on the host, into a temporary file
//! made by `mktemp` in the destination's directory with its final mode and
//! owner already set, renamed into place only when the tool succeeded.
//!
//! What these modules must never do:
//! - bring a private key off the host: no probe prints one, no result,
//!   diff or error holds one (`return_content: true` of a private key is
//!   refused at load time);
//! - put a passphrase on a command line or in a script's text (a remote
//!   `ps` shows `sh -c SCRIPT`): passphrases travel on the script's stdin
//!   ([`Passphrases`]), are read into exported variables with `head -c N`,
//!   and reach `openssl` as `-passin env:NAME` / `-pass env:NAME`;
//! - build a shell string from a value by hand: every value goes through
//!   [`quote`], with `--` before operands where the tool takes it.
//!
//! # Probe output
//!
//! `key value` lines, and length-prefixed blocks for anything that may
//! hold newlines (`block NAME LEN\n<LEN bytes>\n`), parsed by [`Sections`].

pub mod certificate;
pub mod certificate_info;
pub mod csr;
pub mod dhparam;
pub mod openssh_keypair;
pub mod privatekey;

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use sha2::Digest as _;

use super::file_state::{self, Attrs, FileState, Probe};
use super::file_write;
use super::{ModuleError, ResultMap};
use crate::transport::quote::quote;

/// Shell functions every crypto script starts with: `blk NAME` prints its
/// stdin as a length-prefixed block, `kv KEY VALUE` one line.
pub(crate) const SH_LIB: &str = "LC_ALL=C\nexport LC_ALL\n\
blk() { v=$(cat; echo .); v=${v%.}; printf 'block %s %s\\n%s\\n' \"$1\" \"${#v}\" \"$v\"; }\n\
kv() { printf '%s %s\\n' \"$1\" \"$2\"; }\n";

/// Passphrases for one script, sent on its stdin in this order and read
/// into exported variables (never into the script's text).
#[derive(Debug, Clone, Default)]
pub struct Passphrases {
    items: Vec<(&'static str, String)>,
}

impl Passphrases {
    /// Adds one under the variable `var` (when there is one).
    pub fn add(&mut self, var: &'static str, value: Option<&str>) {
        if let Some(v) = value {
            self.items.push((var, v.to_owned()));
        }
    }

    /// Whether `var` was given.
    pub fn has(&self, var: &str) -> bool {
        self.items.iter().any(|(n, _)| *n == var)
    }

    /// The `-passin` argument that reads `var`, or an empty password.
    pub fn passin(&self, var: &str) -> String {
        if self.has(var) {
            format!("-passin env:{var}")
        } else {
            "-passin pass:".to_owned()
        }
    }

    /// Lines reading every passphrase from stdin into its variable.
    pub fn read_lines(&self) -> String {
        self.items.iter().map(|(var, v)| format!("{var}=$(head -c {})\nexport {var}\n", v.len())).collect()
    }

    /// The bytes for stdin.
    pub fn stdin(&self) -> Vec<u8> {
        self.items.iter().flat_map(|(_, v)| v.as_bytes().to_vec()).collect()
    }
}

/// The parsed output of a crypto probe or apply script.
#[derive(Debug, Default, Clone)]
pub struct Sections {
    lines: HashMap<String, String>,
    blocks: HashMap<String, Vec<u8>>,
}

impl Sections {
    /// Parses `key value` lines and blocks.
    pub fn parse(out: &[u8]) -> Result<Sections, ModuleError> {
        let bad = |what: &str| ModuleError::Probe(format!("crypto probe: {what}"));
        let mut s = Sections::default();
        let mut pos = 0;
        while pos < out.len() {
            let end = out[pos..].iter().position(|&b| b == b'\n').map_or(out.len(), |e| pos + e);
            let line = String::from_utf8_lossy(&out[pos..end]).into_owned();
            pos = (end + 1).min(out.len());
            if let Some(rest) = line.strip_prefix("block ") {
                let (name, len) = rest.rsplit_once(' ').ok_or_else(|| bad("bad block header"))?;
                let len: usize = len.parse().map_err(|_| bad("bad block length"))?;
                if pos + len > out.len() {
                    return Err(bad("block cut short"));
                }
                s.blocks.insert(name.to_owned(), out[pos..pos + len].to_vec());
                pos = (pos + len + 1).min(out.len());
            } else if !line.is_empty() {
                let (k, v) = line.split_once(' ').unwrap_or((line.as_str(), ""));
                s.lines.insert(k.to_owned(), v.to_owned());
            }
        }
        Ok(s)
    }

    /// A line's value.
    pub fn line(&self, key: &str) -> Option<&str> {
        self.lines.get(key).map(String::as_str)
    }

    /// Whether a line is there.
    pub fn flag(&self, key: &str) -> bool {
        self.lines.contains_key(key)
    }

    /// A block as text (empty blocks count as missing).
    pub fn text(&self, name: &str) -> Option<String> {
        self.blocks.get(name).filter(|b| !b.is_empty()).map(|b| String::from_utf8_lossy(b).into_owned())
    }

    /// A block's raw bytes.
    pub fn bytes(&self, name: &str) -> Option<&[u8]> {
        self.blocks.get(name).map(Vec::as_slice)
    }

    /// The file-state block `name` (see [`file_state_section`]).
    pub fn file_state(&self, name: &str) -> Result<FileState, ModuleError> {
        let bytes = self.bytes(name).ok_or_else(|| ModuleError::Probe(format!("no {name} section")))?;
        file_state::parse(bytes)
    }
}

/// A probe section with `path`'s state (no content: a key's bytes never
/// leave the host) as block `name`.
pub fn file_state_section(name: &str, path: &str) -> String {
    let probe = Probe::new(path).content_limit(None).sha256(true);
    format!("( {} ) | blk {name}\n", probe.script())
}

/// Probe lines that print the public key of the private key at `path`
/// (variable `var` holds its passphrase, when given) as `{name}-pub` and
/// `{name}-pubtext`, or `{name}-unreadable` when `openssl` cannot read it
/// (`{name}-encrypted` when the file says it is encrypted).
pub fn private_key_section(name: &str, path: &str, pass: &Passphrases, var: &str) -> String {
    let p = quote(path);
    format!(
        "if [ -f {p} ]; then\n  \
         if grep -q -e 'ENCRYPTED' -- {p} 2>/dev/null; then kv {name}-encrypted yes; fi\n  \
         if pk=$(openssl pkey -in {p} {passin} -pubout 2>/dev/null); then\n    \
         printf '%s\\n' \"$pk\" | blk {name}-pub\n    \
         printf '%s\\n' \"$pk\" | openssl pkey -pubin -noout -text 2>/dev/null | grep -v '^ ' | blk {name}-pubtext\n  \
         else kv {name}-unreadable yes; fi\nfi\n",
        passin = pass.passin(var)
    )
}

/// Probe lines that print the public key PEM on stdin as `{name}-pub` and
/// `{name}-pubtext`.
pub fn public_key_lines(name: &str) -> String {
    format!(
        "pk=$(cat)\nprintf '%s\\n' \"$pk\" | blk {name}-pub\n\
         printf '%s\\n' \"$pk\" | openssl pkey -pubin -noout -text 2>/dev/null | grep -v '^ ' | blk {name}-pubtext\n"
    )
}

/// A key's type, as community.crypto names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    /// `RSA`, `ECC`, `Ed25519`, `Ed448`, `X25519`, `X448`, `DSA`.
    pub kind: String,
    /// Bits (RSA, DSA, ECC).
    pub size: Option<u32>,
    /// Ansible's curve name (ECC).
    pub curve: Option<String>,
    /// The public key, PEM.
    pub public_pem: String,
}

/// OpenSSL's curve names that Ansible spells differently.
const CURVE_ALIASES: &[(&str, &str)] = &[("secp256r1", "prime256v1"), ("secp192r1", "prime192v1")];

/// The name `openssl genpkey` takes for an Ansible curve name.
pub fn openssl_curve(ansible: &str) -> &str {
    CURVE_ALIASES.iter().find(|(a, _)| *a == ansible).map_or(ansible, |(_, o)| o)
}

fn ansible_curve(openssl: &str) -> String {
    CURVE_ALIASES.iter().find(|(_, o)| *o == openssl).map_or(openssl, |(a, _)| a).to_owned()
}

impl KeyInfo {
    /// From the `-pub` and `-pubtext` blocks of a section.
    pub fn from_sections(s: &Sections, name: &str) -> Option<KeyInfo> {
        let pem = s.text(&format!("{name}-pub"))?;
        let text = s.text(&format!("{name}-pubtext")).unwrap_or_default();
        Some(KeyInfo::parse(&pem, &text))
    }

    /// From a public key PEM and the unindented lines of `openssl pkey -text`.
    pub fn parse(pem: &str, text: &str) -> KeyInfo {
        let bits = text
            .lines()
            .find_map(|l| l.split_once('(').and_then(|(_, r)| r.split(' ').next()).and_then(|n| n.parse().ok()));
        let curve = text.lines().find_map(|l| l.strip_prefix("ASN1 OID: ")).map(|c| ansible_curve(c.trim()));
        let first = text.lines().next().unwrap_or("");
        let kind = if text.lines().any(|l| l.starts_with("Modulus")) {
            "RSA"
        } else if curve.is_some() {
            "ECC"
        } else if first.starts_with("ED25519") {
            "Ed25519"
        } else if first.starts_with("ED448") {
            "Ed448"
        } else if first.starts_with("X25519") {
            "X25519"
        } else if first.starts_with("X448") {
            "X448"
        } else if text.lines().any(|l| l.starts_with("P:")) {
            "DSA"
        } else {
            "unknown"
        };
        KeyInfo {
            kind: kind.to_owned(),
            size: bits.filter(|_| matches!(kind, "RSA" | "DSA" | "ECC")),
            curve,
            public_pem: pem.trim_end().to_owned() + "\n",
        }
    }

    /// community.crypto's fingerprints of the public key (hashes of its DER
    /// encoding, `aa:bb:...`): sha224, sha256, sha384 and sha512.
    pub fn fingerprints(&self) -> serde_json::Value {
        fingerprints(&pem_der(&self.public_pem))
    }

    /// The SHA-256 fingerprint alone.
    pub fn sha256(&self) -> String {
        colon_hex(&sha2::Sha256::digest(pem_der(&self.public_pem)))
    }
}

/// The subject key identifier OpenSSL (`subjectKeyIdentifier=hash`) and
/// cryptography (`from_public_key`) compute: the SHA-1 of the public key's
/// BIT STRING, `AA:BB:..` upper case as `openssl -text` prints it.
pub fn key_identifier(public_pem: &str) -> Option<String> {
    let der = pem_der(public_pem);
    let (_, spki) = der_tlv(&der)?;
    let (alg_len, _) = der_tlv(spki)?;
    let (_, bits) = der_tlv(&spki[alg_len..])?;
    let hex = colon_hex(&sha1(bits.get(1..)?));
    Some(hex.to_ascii_uppercase())
}

/// One DER TLV at the start of `data`: (its whole length, its contents).
fn der_tlv(data: &[u8]) -> Option<(usize, &[u8])> {
    let first = *data.get(1)? as usize;
    let (len, head) = if first < 0x80 {
        (first, 2)
    } else {
        let n = first & 0x7f;
        let mut len = 0usize;
        for b in data.get(2..2 + n)? {
            len = (len << 8) | *b as usize;
        }
        (len, 2 + n)
    };
    Some((head + len, data.get(head..head + len)?))
}

/// SHA-1 (for key identifiers only, as X.509 defines them; never for
/// integrity).
pub fn sha1(data: &[u8]) -> [u8; 20] {
    use sha1::Digest;
    sha1::Sha1::digest(data).into()
}

/// The DER bytes of the first PEM block in `pem`.
pub fn pem_der(pem: &str) -> Vec<u8> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body.trim()).unwrap_or_default()
}

/// `aa:bb:cc` of bytes.
pub fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// The hashes community.crypto reports for bytes, those stead computes.
pub fn fingerprints(der: &[u8]) -> serde_json::Value {
    let mut m = serde_json::Map::new();
    m.insert("sha224".into(), colon_hex(&sha2::Sha224::digest(der)).into());
    m.insert("sha256".into(), colon_hex(&sha2::Sha256::digest(der)).into());
    m.insert("sha384".into(), colon_hex(&sha2::Sha384::digest(der)).into());
    m.insert("sha512".into(), colon_hex(&sha2::Sha512::digest(der)).into());
    serde_json::Value::Object(m)
}

/// The lines of an apply script that make `dest` anew: a temporary file
/// in its directory with the final mode and owner, `body` (which writes
/// `"$tmp"`, and must fail the script when the tool fails), a check that
/// something was written, an optional backup, then the rename.
pub fn generate_script(dest: &str, attrs: &Attrs, default_mode: Option<u32>, backup: bool, body: &str) -> String {
    let mut s = file_write::prelude(dest, false);
    s.push_str(SH_LIB);
    s.push_str(
        "dir=$(dirname -- \"$d\"; echo .); dir=${dir%?.}\n\
         [ -d \"$dir\" ] || die \"The directory $dir does not exist or the file is not a directory\"\n\
         tmp=$(mktemp -- \"$dir/.stead.XXXXXXXX\") || die \"cannot create a temporary file in $dir\"\n\
         trap 'rm -f -- \"$tmp\"' EXIT\ntrap 'exit 1' HUP INT TERM\n",
    );
    s.push_str(&attr_lines("\"$tmp\"", attrs, default_mode));
    s.push_str(body);
    s.push_str("[ -s \"$tmp\" ] || die \"nothing was written for $d\"\n");
    if backup {
        s.push_str(BACKUP_LINES);
    }
    s.push_str("mv -f -- \"$tmp\" \"$d\"\ntrap - EXIT\n");
    if backup {
        s.push_str("if [ -n \"$b\" ]; then printf %s \"$b\" | blk backup_file; fi\n");
    }
    s
}

/// Keeps the previous `$d` as Ansible names backups.
pub(crate) const BACKUP_LINES: &str =
    "b=\nif [ -f \"$d\" ]; then\n  b=\"$d.$$.$(date +%Y-%m-%d@%H:%M:%S)~\"\n  cp -p -- \"$d\" \"$b\"\nfi\n";

/// `chmod`/`chown`/`chgrp` of a new file `target` (a fixed shell word)
/// that replaces `"$d"`: what is not requested is taken from the file it
/// replaces (as Ansible's `atomic_move` keeps it), or a new file's default.
pub fn attr_lines(target: &str, attrs: &Attrs, default_mode: Option<u32>) -> String {
    let mut s = String::new();
    match attrs.target_mode(default_mode, false).or(default_mode) {
        Some(m) => s.push_str(&format!("chmod 0{m:04o} -- {target}\n")),
        None => s.push_str(&format!(
            "if [ -f \"$d\" ]; then chmod --reference=\"$d\" -- {target}\n\
             else chmod \"$(printf '%o' $((0666 & ~$(umask))))\" -- {target}; fi\n"
        )),
    }
    if attrs.owner.is_none() || attrs.group.is_none() {
        s.push_str(&format!("if [ -f \"$d\" ]; then chown --reference=\"$d\" -- {target} 2>/dev/null || :; fi\n"));
    }
    if let Some(o) = &attrs.owner {
        s.push_str(&format!("chown -- {} {target}\n", quote(o)));
    }
    if let Some(g) = &attrs.group {
        s.push_str(&format!("chgrp -- {} {target}\n", quote(g)));
    }
    s
}

/// The attributes requested, with the module's default mode (`0600` for
/// private keys) when none is given.
pub fn attrs_with_default(attrs: &Attrs, default_mode: Option<u32>) -> Attrs {
    let mut a = attrs.clone();
    if a.mode.is_none() {
        if let Some(m) = default_mode {
            a.mode = Some(super::mode::Mode::Octal(m));
        }
    }
    a
}

/// The lines that set an existing file's attributes where they differ.
pub fn fix_attrs_script(dest: &str, attrs: &Attrs, st: &FileState) -> Option<String> {
    let changes = attrs.changes(st);
    if changes.is_empty() {
        return None;
    }
    let mut s = file_write::prelude(dest, true);
    s.push_str(&file_write::attr_commands("\"$d\"", attrs, &changes, false, false));
    Some(s)
}

/// A script that removes `paths` (`state: absent`).
pub fn remove_script(paths: &[&str]) -> String {
    let mut s = String::from("set -e\n");
    for p in paths {
        s.push_str(&format!("rm -f -- {}\n", quote(p)));
    }
    s
}

/// The failure of an apply script: its stderr, without anything that
/// looks like PEM (openssl never prints a key on stderr, but a message
/// must never be the place one leaks).
pub fn failed(out: &crate::transport::ExecOutput, result: ResultMap) -> ModuleError {
    let text = redact_pem(out.stderr_text().trim());
    let mut result = result;
    result.insert("rc".into(), out.status.into());
    ModuleError::Failed { msg: if text.is_empty() { format!("exit {}", out.status) } else { text }, result }
}

/// Replaces every PEM block in `text` with a placeholder.
pub fn redact_pem(text: &str) -> String {
    let mut out = String::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("-----BEGIN") {
            inside = true;
            out.push_str("(PEM data not shown)\n");
        } else if line.starts_with("-----END") {
            inside = false;
        } else if !inside {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.trim_end().to_owned()
}

// ---------------------------------------------------------------- names

/// Ansible's (and OpenSSL's) short names of subject attributes and their
/// long names, as community.crypto reports them.
pub const NAME_ATTRS: &[(&str, &str)] = &[
    ("C", "countryName"),
    ("ST", "stateOrProvinceName"),
    ("L", "localityName"),
    ("O", "organizationName"),
    ("OU", "organizationalUnitName"),
    ("CN", "commonName"),
    ("emailAddress", "emailAddress"),
    ("serialNumber", "serialNumber"),
    ("DC", "domainComponent"),
    ("UID", "userId"),
    ("street", "streetAddress"),
    ("title", "title"),
    ("SN", "surname"),
    ("GN", "givenName"),
    ("postalCode", "postalCode"),
];

/// The short name of an attribute given by either name.
pub fn short_name(name: &str) -> String {
    let extra = [("E", "emailAddress"), ("userID", "UID")];
    NAME_ATTRS
        .iter()
        .find(|(s, l)| s.eq_ignore_ascii_case(name) || l.eq_ignore_ascii_case(name))
        .map(|(s, _)| (*s).to_owned())
        .or_else(|| extra.iter().find(|(a, _)| *a == name).map(|(_, s)| (*s).to_owned()))
        .unwrap_or_else(|| name.to_owned())
}

/// The long name of a short attribute name.
pub fn long_name(short: &str) -> String {
    NAME_ATTRS.iter().find(|(s, _)| *s == short).map_or(short, |(_, l)| l).to_owned()
}

/// A distinguished name: (short name, value) pairs in order.
pub type Name = Vec<(String, String)>;

/// Parses `-nameopt sname,sep_multiline,utf8,esc_ctrl` output (`subject=`
/// then one indented `CN=value` per line).
pub fn parse_name(text: &str) -> Name {
    text.lines()
        .filter(|l| l.starts_with("    "))
        .filter_map(|l| l.trim_start().split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())))
        .collect()
}

/// The name as `openssl -subj` takes it: `/CN=a\/b/O=c`.
pub fn subj_arg(name: &Name) -> String {
    if name.is_empty() {
        return "/".into();
    }
    let esc = |s: &str| s.replace('\\', "\\\\").replace('/', "\\/").replace('+', "\\+");
    name.iter().map(|(k, v)| format!("/{}={}", k, esc(v))).collect()
}

/// The name as text for diffs: `CN=a,O=b`.
pub fn name_text(name: &Name) -> String {
    name.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",")
}

/// The `-nameopt` that [`parse_name`] reads.
pub const NAMEOPT: &str = "-nameopt sname,sep_multiline,utf8,esc_ctrl";

// ---------------------------------------------------------------- extensions

/// One X.509v3 extension as `openssl -text` shows it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ext {
    /// Its name (`X509v3 Subject Alternative Name`).
    pub name: String,
    /// Whether it is critical.
    pub critical: bool,
    /// Its value lines, trimmed and joined with newlines.
    pub value: String,
}

/// `-certopt`/`-reqopt` that leave only the extensions of `-text`.
pub const EXT_ONLY: &str = "no_header,no_version,no_serial,no_signame,no_validity,no_subject,no_issuer,no_pubkey,no_sigdump,no_aux,no_attributes";

/// Parses the extensions of `openssl x509/req -text` output.
pub fn parse_exts(text: &str) -> Vec<Ext> {
    let indent = |l: &str| l.len() - l.trim_start().len();
    let mut lines = text.lines().skip_while(|l| !l.trim_end().ends_with("extensions:") && !l.contains("Extensions:"));
    let Some(start) = lines.next() else { return Vec::new() };
    let base = indent(start);
    let mut exts: Vec<Ext> = Vec::new();
    let mut header = None;
    for l in lines {
        if l.trim().is_empty() {
            continue;
        }
        let i = indent(l);
        if i <= base {
            break;
        }
        let h = *header.get_or_insert(i);
        if i == h {
            let t = l.trim();
            let (name, rest) = t.rsplit_once(':').unwrap_or((t, ""));
            exts.push(Ext { name: name.trim().to_owned(), critical: rest.trim() == "critical", value: String::new() });
        } else if let Some(e) = exts.last_mut() {
            if !e.value.is_empty() {
                e.value.push('\n');
            }
            e.value.push_str(l.trim());
        }
    }
    exts
}

/// Extension names as `openssl -text` prints them.
pub const SAN: &str = "X509v3 Subject Alternative Name";
/// Key usage.
pub const KU: &str = "X509v3 Key Usage";
/// Extended key usage.
pub const EKU: &str = "X509v3 Extended Key Usage";
/// Basic constraints.
pub const BC: &str = "X509v3 Basic Constraints";
/// Subject key identifier.
pub const SKI: &str = "X509v3 Subject Key Identifier";
/// Authority key identifier.
pub const AKI: &str = "X509v3 Authority Key Identifier";

/// Key usages: Ansible's (and `-addext`'s) name, then OpenSSL's display name.
pub const KEY_USAGES: &[(&str, &str)] = &[
    ("digitalSignature", "Digital Signature"),
    ("nonRepudiation", "Non Repudiation"),
    ("keyEncipherment", "Key Encipherment"),
    ("dataEncipherment", "Data Encipherment"),
    ("keyAgreement", "Key Agreement"),
    ("keyCertSign", "Certificate Sign"),
    ("cRLSign", "CRL Sign"),
    ("encipherOnly", "Encipher Only"),
    ("decipherOnly", "Decipher Only"),
];

/// Extended key usages: short name, OpenSSL's display name.
pub const EXT_KEY_USAGES: &[(&str, &str)] = &[
    ("serverAuth", "TLS Web Server Authentication"),
    ("clientAuth", "TLS Web Client Authentication"),
    ("codeSigning", "Code Signing"),
    ("emailProtection", "E-mail Protection"),
    ("timeStamping", "Time Stamping"),
    ("OCSPSigning", "OCSP Signing"),
    ("ipsecIKE", "ipsec Internet Key Exchange"),
    ("msCodeInd", "Microsoft Individual Code Signing"),
    ("msCodeCom", "Microsoft Commercial Code Signing"),
    ("msCTLSign", "Microsoft Trust List Signing"),
    ("msEFS", "Microsoft Encrypted File System"),
    ("anyExtendedKeyUsage", "Any Extended Key Usage"),
];

fn squash(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace() && *c != '_').collect::<String>().to_ascii_lowercase()
}

/// The `-addext` name of a key usage given by any of its names.
pub fn key_usage_name(name: &str) -> Option<&'static str> {
    let n = squash(name);
    let n = if n == "contentcommitment" { "nonrepudiation".to_owned() } else { n };
    KEY_USAGES.iter().find(|(a, d)| squash(a) == n || squash(d) == n).map(|(a, _)| *a)
}

/// The short name of an extended key usage given by any of its names (an
/// unknown one, such as a dotted OID, is kept as written).
pub fn ext_key_usage_name(name: &str) -> String {
    let n = squash(name);
    EXT_KEY_USAGES.iter().find(|(a, d)| squash(a) == n || squash(d) == n).map_or(name.trim(), |(a, _)| a).to_owned()
}

/// The extensions a CSR asks for, in the form they are compared in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WantedExts {
    /// Subject alternative names (`DNS:a`, `IP:10.0.0.1`), and critical.
    pub san: (Vec<String>, bool),
    /// Key usages (`-addext` names), and critical.
    pub key_usage: (BTreeSet<String>, bool),
    /// Extended key usages (short names), and critical.
    pub ext_key_usage: (BTreeSet<String>, bool),
    /// Basic constraints as written (`CA:TRUE`, `pathlen:0`), and critical.
    pub basic_constraints: (Vec<String>, bool),
}

/// A SAN entry normalised: `IP Address:` is `IP:`, addresses are parsed,
/// `email:` stays.
pub fn normalize_san(entry: &str) -> String {
    let e = entry.trim();
    let (kind, value) = e.split_once(':').unwrap_or(("", e));
    let kind = match kind.trim() {
        "IP Address" | "IP" => "IP",
        "email" | "EMAIL" => "email",
        "URI" => "URI",
        "DNS" => "DNS",
        "Registered ID" | "RID" => "RID",
        "DirName" | "dirName" => "dirName",
        "othername" | "otherName" => "otherName",
        other => other,
    };
    let value = if kind == "IP" {
        value.trim().parse::<std::net::IpAddr>().map_or(value.trim().to_owned(), |ip| ip.to_string())
    } else {
        value.trim().to_owned()
    };
    format!("{kind}:{value}")
}

/// `(ca, pathlen)` of basic constraints written as Ansible does.
pub fn basic_constraints_value(items: &[String]) -> (bool, Option<u32>) {
    let mut ca = false;
    let mut pathlen = None;
    for i in items {
        let (k, v) = i.split_once(':').unwrap_or((i, ""));
        match k.trim().to_ascii_lowercase().as_str() {
            "ca" => ca = v.trim().eq_ignore_ascii_case("true"),
            "pathlen" => pathlen = v.trim().parse().ok(),
            _ => {}
        }
    }
    (ca, pathlen)
}

fn find<'a>(exts: &'a [Ext], name: &str) -> Option<&'a Ext> {
    exts.iter().find(|e| e.name == name)
}

fn list(value: &str) -> Vec<String> {
    value.split(", ").map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect()
}

/// The subject alternative names of parsed extensions, normalised.
pub fn sans_of(exts: &[Ext]) -> Vec<String> {
    find(exts, SAN).map(|e| list(&e.value).iter().map(|s| normalize_san(s)).collect()).unwrap_or_default()
}

/// Whether the CSR's extensions are what community.crypto's `openssl_csr`
/// wants (its `_check_extensions`: each kind compared as a set, with its
/// criticality when present; kinds not asked for must be absent).
pub fn exts_match(wanted: &WantedExts, exts: &[Ext]) -> bool {
    let san_ok = {
        let want: BTreeSet<String> = wanted.san.0.iter().map(|s| normalize_san(s)).collect();
        let have: BTreeSet<String> = sans_of(exts).into_iter().collect();
        want == have && (want.is_empty() || find(exts, SAN).is_some_and(|e| e.critical == wanted.san.1))
    };
    let ku_ok = match find(exts, KU) {
        None => wanted.key_usage.0.is_empty(),
        Some(e) => {
            let have: BTreeSet<String> =
                list(&e.value).iter().filter_map(|d| key_usage_name(d)).map(str::to_owned).collect();
            !wanted.key_usage.0.is_empty() && have == wanted.key_usage.0 && e.critical == wanted.key_usage.1
        }
    };
    let eku_ok = {
        let have: BTreeSet<String> =
            find(exts, EKU).map(|e| list(&e.value).iter().map(|d| ext_key_usage_name(d)).collect()).unwrap_or_default();
        have == wanted.ext_key_usage.0
            && (have.is_empty() || find(exts, EKU).is_some_and(|e| e.critical == wanted.ext_key_usage.1))
    };
    let bc_ok = {
        let want = basic_constraints_value(&wanted.basic_constraints.0);
        let ext = find(exts, BC);
        let have = ext.map_or((false, None), |e| basic_constraints_value(&list(&e.value)));
        want == have
            && if wanted.basic_constraints.0.is_empty() {
                ext.is_none()
            } else {
                ext.is_some_and(|e| e.critical == wanted.basic_constraints.1)
            }
    };
    let others_absent = [SKI, AKI, "TLS Feature", "X509v3 Name Constraints", "X509v3 CRL Distribution Points"]
        .iter()
        .all(|n| find(exts, n).is_none());
    san_ok && ku_ok && eku_ok && bc_ok && others_absent
}

// ---------------------------------------------------------------- time

/// A point in time given as community.crypto takes it: relative to now
/// (`+90d`, `-1d`, `+32w1d2h`, `+0s`) or absolute ASN.1 (`20301231235959Z`,
/// `20301231235959+0100`).
pub fn parse_time(spec: &str, now: SystemTime) -> Result<SystemTime, String> {
    let s = spec.trim();
    if let Some(rest) = s.strip_prefix(['+', '-']) {
        let negative = s.starts_with('-');
        let mut secs: u64 = 0;
        let mut num = String::new();
        let mut last_unit = 0usize;
        let units = ['w', 'd', 'h', 'm', 's'];
        for c in rest.chars() {
            if c.is_ascii_digit() {
                num.push(c);
                continue;
            }
            let pos = units.iter().position(|u| *u == c).ok_or_else(|| format!("bad unit `{c}` in `{spec}`"))?;
            if pos < last_unit || num.is_empty() {
                return Err(format!("`{spec}` is not a relative time such as +32w1d2h"));
            }
            last_unit = pos + 1;
            let n: u64 = num.parse().map_err(|_| format!("bad number in `{spec}`"))?;
            secs += n * [604_800, 86_400, 3_600, 60, 1][pos];
            num.clear();
        }
        if !num.is_empty() || last_unit == 0 {
            return Err(format!("`{spec}` is not a relative time such as +32w1d2h"));
        }
        let d = Duration::from_secs(secs);
        return Ok(if negative { now - d } else { now + d });
    }
    parse_asn1(s)
        .ok_or_else(|| format!("`{spec}` is neither a relative time (+90d) nor an ASN.1 time (20301231235959Z)"))
}

/// Parses `YYYYMMDDHHMMSSZ` or `YYYYMMDDHHMMSS+hhmm`.
pub fn parse_asn1(s: &str) -> Option<SystemTime> {
    if s.len() < 15 || !s[..14].bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let rfc = format!("{}-{}-{}T{}:{}:{}Z", &s[..4], &s[4..6], &s[6..8], &s[8..10], &s[10..12], &s[12..14]);
    let t = humantime::parse_rfc3339(&rfc).ok()?;
    match &s[14..] {
        "Z" => Some(t),
        tz if tz.len() == 5 && (tz.starts_with('+') || tz.starts_with('-')) => {
            let h: u64 = tz[1..3].parse().ok()?;
            let m: u64 = tz[3..5].parse().ok()?;
            let off = Duration::from_secs(h * 3600 + m * 60);
            Some(if tz.starts_with('+') { t - off } else { t + off })
        }
        _ => None,
    }
}

/// `YYYYMMDDHHMMSSZ` of a time (whole seconds).
pub fn asn1(t: SystemTime) -> String {
    let r = humantime::format_rfc3339_seconds(t).to_string();
    r.chars().filter(|c| c.is_ascii_digit()).collect::<String>() + "Z"
}

/// Parses openssl's `-dateopt iso_8601` value (`2025-01-01 00:00:00Z`).
pub fn parse_iso(s: &str) -> Option<SystemTime> {
    humantime::parse_rfc3339(&s.trim().replacen(' ', "T", 1)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_parse_lines_and_blocks_with_newlines() {
        let out = b"kv1 yes\nblock a-pub 4\nx\ny\n\nblock empty 0\n\nlast one two\n";
        let s = Sections::parse(out).unwrap();
        assert_eq!(s.line("kv1"), Some("yes"));
        assert_eq!(s.text("a-pub").as_deref(), Some("x\ny\n"));
        assert_eq!(s.text("empty"), None);
        assert_eq!(s.line("last"), Some("one two"));
    }

    #[test]
    fn key_text_gives_type_size_and_curve() {
        let rsa = KeyInfo::parse("", "Public-Key: (2048 bit)\nModulus:\nExponent: 65537 (0x10001)\n");
        assert_eq!((rsa.kind.as_str(), rsa.size, rsa.curve), ("RSA", Some(2048), None));
        let ec = KeyInfo::parse("", "Public-Key: (256 bit)\npub:\nASN1 OID: prime256v1\nNIST CURVE: P-256\n");
        assert_eq!((ec.kind.as_str(), ec.size, ec.curve.as_deref()), ("ECC", Some(256), Some("secp256r1")));
        let ed = KeyInfo::parse("", "ED25519 Public-Key:\npub:\n");
        assert_eq!((ed.kind.as_str(), ed.size), ("Ed25519", None));
    }

    #[test]
    fn times_relative_and_absolute() {
        let now = parse_asn1("20260101000000Z").unwrap();
        assert_eq!(asn1(parse_time("+1d", now).unwrap()), "20260102000000Z");
        assert_eq!(asn1(parse_time("-1d", now).unwrap()), "20251231000000Z");
        assert_eq!(asn1(parse_time("+1w1d2h3m4s", now).unwrap()), "20260109020304Z");
        assert_eq!(asn1(parse_time("+0s", now).unwrap()), "20260101000000Z");
        assert_eq!(asn1(parse_time("20301231235959Z", now).unwrap()), "20301231235959Z");
        assert_eq!(asn1(parse_time("20301231235959+0100", now).unwrap()), "20301231225959Z");
        assert!(parse_time("+1x", now).is_err());
        assert!(parse_time("+1d1w", now).is_err());
        assert!(parse_time("tomorrow", now).is_err());
        assert_eq!(asn1(parse_iso("2025-01-01 00:00:00Z").unwrap()), "20250101000000Z");
    }

    #[test]
    fn extensions_of_openssl_text() {
        let text = "        Requested Extensions:\n            X509v3 Subject Alternative Name: \n                \
                    DNS:www.example, IP Address:10.0.0.1\n            X509v3 Key Usage: critical\n                \
                    Digital Signature, Key Encipherment\n            X509v3 Basic Constraints: \n                CA:FALSE\n\
                    \x20   Signature Algorithm: sha256WithRSAEncryption\n";
        let exts = parse_exts(text);
        assert_eq!(exts.len(), 3, "{exts:?}");
        assert_eq!(
            exts[1],
            Ext { name: KU.into(), critical: true, value: "Digital Signature, Key Encipherment".into() }
        );
        let mut want = WantedExts {
            san: (vec!["DNS:www.example".into(), "IP:10.0.0.1".into()], false),
            key_usage: (["digitalSignature", "keyEncipherment"].iter().map(|s| s.to_string()).collect(), true),
            basic_constraints: (vec!["CA:FALSE".into()], false),
            ..WantedExts::default()
        };
        assert!(exts_match(&want, &exts));
        want.key_usage.1 = false;
        assert!(!exts_match(&want, &exts), "criticality counts");
        want.key_usage.1 = true;
        want.san.0.pop();
        assert!(!exts_match(&want, &exts), "a SAN less");
    }

    #[test]
    fn names_parse_and_escape() {
        let name = parse_name("subject=\n    CN=www.example\n    O=Ex/Corp\n");
        assert_eq!(name, vec![("CN".into(), "www.example".into()), ("O".into(), "Ex/Corp".into())]);
        assert_eq!(subj_arg(&name), "/CN=www.example/O=Ex\\/Corp");
        assert_eq!(short_name("commonName"), "CN");
        assert_eq!(short_name("E"), "emailAddress");
        assert_eq!(normalize_san("IP Address:2001:DB8:0:0:0:0:0:1"), "IP:2001:db8::1");
        assert_eq!(key_usage_name("Certificate Sign"), Some("keyCertSign"));
        assert_eq!(key_usage_name("digital_signature"), Some("digitalSignature"));
        assert_eq!(ext_key_usage_name("TLS Web Server Authentication"), "serverAuth");
    }

    #[test]
    fn passphrases_travel_on_stdin_only() {
        let mut p = Passphrases::default();
        p.add("STEAD_KEY_PASS", Some("s3cret pass"));
        assert!(!p.read_lines().contains("s3cret"));
        assert_eq!(p.stdin(), b"s3cret pass");
        assert_eq!(p.passin("STEAD_KEY_PASS"), "-passin env:STEAD_KEY_PASS");
        assert_eq!(p.passin("OTHER"), "-passin pass:");
        let script =
            format!("{}printf '%s|' \"$STEAD_KEY_PASS\"; sh -c 'printf %s \"$STEAD_KEY_PASS\"'", p.read_lines());
        let out = crate::modules::file_write::testing::run(&script, &p.stdin());
        assert_eq!(out.stdout_text(), "s3cret pass|s3cret pass");
    }

    #[test]
    fn sha1_and_key_identifiers_match_openssl() {
        assert_eq!(colon_hex(&sha1(b"abc")), "a9:99:3e:36:47:06:81:6a:ba:3e:25:71:78:50:c2:6c:9c:d0:d8:9d");
        assert_eq!(colon_hex(&sha1(&[b'a'; 1000])).len(), 59);
        let tmp = tempfile::tempdir().unwrap();
        let dir = quote(tmp.path().to_str().unwrap()).into_owned();
        let script = format!(
            "cd {dir} && openssl genpkey -quiet -algorithm RSA -pkeyopt rsa_keygen_bits:1024 -out k && \
             openssl req -new -x509 -key k -subj /CN=x -days 1 -addext subjectKeyIdentifier=hash -out c \
             -config /dev/null 2>/dev/null && openssl x509 -in c -noout -pubkey && \
             openssl x509 -in c -noout -ext subjectKeyIdentifier | tail -1"
        );
        let out = crate::modules::file_write::testing::run(&script, b"");
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let text = out.stdout_text();
        let (pem, ski) = text.rsplit_once("-----END PUBLIC KEY-----\n").unwrap();
        assert_eq!(key_identifier(&format!("{pem}-----END PUBLIC KEY-----\n")).unwrap(), ski.trim());
    }

    #[test]
    fn pem_is_redacted_from_messages() {
        let t = redact_pem("bad\n-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\nend");
        assert_eq!(t, "bad\n(PEM data not shown)\nend");
    }
}
