//! Reading YAML text into [`Node`]s with serde-saphyr.
//!
//! serde-saphyr parses YAML 1.1 scalars the way PyYAML does for Ansible,
//! except for the single letters `y`/`n`, which PyYAML keeps as strings: we
//! look at the source text of every boolean and undo that case. Duplicate
//! keys are passed through by the parser and resolved here (last wins, as in
//! Ansible), with a warning that names the key's location.
//!
//! Vault-encrypted content is decrypted here, as Ansible's loader does it,
//! with the keyring the binary installed ([`crate::vault::install`]): a
//! scalar tagged `!vault` becomes its plaintext string, and a whole file
//! that starts with `$ANSIBLE_VAULT;` is decrypted and then parsed. Every
//! decrypted value is registered with [`crate::vault::mask`] before the
//! node is built, so the output layers can hide it. A vault that cannot be
//! opened is an error at its `file:line:column`.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::options::DuplicateKeyPolicy;
use serde_saphyr::{Spanned, Tagged};

use super::node::{Key, Location, Node, NodeKind};
use crate::vault::{self, Keyring, VaultError};

/// A YAML file could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum YamlError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The text is not valid YAML.
    #[error("{path}:{line}:{column}: YAML syntax error\n{detail}")]
    Syntax {
        /// The file.
        path: PathBuf,
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// The parser's message with the source snippet.
        detail: String,
    },
    /// A vault-encrypted value or file could not be decrypted.
    #[error("{path}:{line}:{column}: {error}{}", error.hint().map(|h| format!("\nhint: {h}")).unwrap_or_default())]
    Vault {
        /// The file.
        path: PathBuf,
        /// 1-based line of the value (1 for a whole encrypted file).
        line: usize,
        /// 1-based column.
        column: usize,
        /// Why (not a `source`: the message already says it).
        error: VaultError,
    },
}

/// The result of loading one file: the documents and any warnings.
#[derive(Debug)]
pub struct Loaded {
    /// The first document (Null when the file is empty).
    pub root: Node,
    /// Non-fatal findings (duplicate keys), each already located.
    pub warnings: Vec<String>,
}

/// Reads and parses a YAML file.
pub fn load_file(path: &Path) -> Result<Loaded, YamlError> {
    let text =
        crate::inputs::read_to_string(path).map_err(|source| YamlError::Read { path: path.to_path_buf(), source })?;
    load_str(&text, path)
}

/// Parses YAML text; `path` is used for locations only. Vaults are opened
/// with the installed keyring.
pub fn load_str(text: &str, path: &Path) -> Result<Loaded, YamlError> {
    load_str_with(text, path, &vault::installed())
}

/// [`load_str`] with an explicit keyring.
pub fn load_str_with(text: &str, path: &Path, keyring: &Keyring) -> Result<Loaded, YamlError> {
    if vault::is_encrypted(text.trim_start().as_bytes()) {
        return load_encrypted(text, path, keyring);
    }
    parse(text, path, keyring)
}

/// A whole-file vault: decrypted, then parsed. Every scalar of the
/// plaintext is registered as a secret (the file was encrypted whole
/// because its values are). A syntax error does not quote the plaintext.
fn load_encrypted(text: &str, path: &Path, keyring: &Keyring) -> Result<Loaded, YamlError> {
    let (plain, _) = keyring.decrypt(text.as_bytes()).map_err(|source| {
        let line = text.len() - text.trim_start().len();
        let line = text[..line].matches('\n').count() + 1;
        YamlError::Vault { path: path.to_path_buf(), line, column: 1, error: source }
    })?;
    let plain = vault::Secret::new(String::from_utf8_lossy(plain.expose()).into_owned());
    match parse(plain.expose(), path, keyring) {
        Ok(loaded) => {
            register_scalars(&loaded.root);
            Ok(loaded)
        }
        Err(YamlError::Syntax { path, line, column, .. }) => Err(YamlError::Syntax {
            path,
            line,
            column,
            detail: format!("in the decrypted content at line {line}, column {column} (not shown: it is vaulted)"),
        }),
        Err(e) => Err(e),
    }
}

fn register_scalars(node: &Node) {
    match &node.kind {
        NodeKind::Seq(items) => items.iter().for_each(register_scalars),
        NodeKind::Map(entries) => entries.iter().for_each(|(_, v)| register_scalars(v)),
        NodeKind::Str(s) => vault::mask::register(s),
        // `yes`, `true`, `~`: masking them everywhere would hide nothing secret.
        NodeKind::Null | NodeKind::Bool(_) => {}
        _ => {
            if let Some(raw) = &node.raw {
                vault::mask::register(raw);
            }
        }
    }
}

fn parse(text: &str, path: &Path, keyring: &Keyring) -> Result<Loaded, YamlError> {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    let file = Arc::new(path.to_path_buf());
    if text.trim().is_empty() {
        let loc = Location { file, line: 1, column: 1 };
        return Ok(Loaded { root: Node { kind: NodeKind::Null, loc, raw: None }, warnings: Vec::new() });
    }
    let raw: Child = serde_saphyr::from_str_with_options(text, options).map_err(|err| {
        let (line, column) = err.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((0, 0));
        let detail = err.to_string().replace("<input>", &path.display().to_string());
        YamlError::Syntax { path: path.to_path_buf(), line, column, detail }
    })?;
    let mut builder = Builder { text, file, warnings: Vec::new(), keyring, vault_error: None };
    let root = builder.node(raw);
    if let Some(e) = builder.vault_error {
        return Err(e);
    }
    Ok(Loaded { root, warnings: builder.warnings })
}

/// A node as the parser hands it over: its span, its tag, its value.
type Child = Spanned<Tagged<Raw>>;

/// The parser's view of a node, before source-text fixups.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Child>),
    Map(Vec<(Child, Child)>),
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = Raw;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_none<E>(self) -> Result<Raw, E> {
        Ok(Raw::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Raw, E> {
        Ok(Raw::Bool(b))
    }
    fn visit_i64<E>(self, i: i64) -> Result<Raw, E> {
        Ok(Raw::Int(i))
    }
    fn visit_u64<E: serde::de::Error>(self, i: u64) -> Result<Raw, E> {
        i64::try_from(i).map(Raw::Int).or(Ok(Raw::Float(i as f64)))
    }
    fn visit_f64<E>(self, f: f64) -> Result<Raw, E> {
        Ok(Raw::Float(f))
    }
    fn visit_str<E>(self, s: &str) -> Result<Raw, E> {
        Ok(Raw::Str(s.to_owned()))
    }
    fn visit_string<E>(self, s: String) -> Result<Raw, E> {
        Ok(Raw::Str(s))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Raw, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Raw::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Raw, A::Error> {
        let mut entries = Vec::new();
        while let Some(entry) = map.next_entry()? {
            entries.push(entry);
        }
        Ok(Raw::Map(entries))
    }
}

impl<'de> Deserialize<'de> for Raw {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Raw, D::Error> {
        d.deserialize_any(RawVisitor)
    }
}

struct Builder<'a> {
    text: &'a str,
    file: Arc<PathBuf>,
    warnings: Vec<String>,
    keyring: &'a Keyring,
    /// The first vault that could not be opened.
    vault_error: Option<YamlError>,
}

impl Builder<'_> {
    fn location(&self, spanned: &Child) -> Location {
        Location {
            file: self.file.clone(),
            line: spanned.referenced.line() as usize,
            column: spanned.referenced.column() as usize,
        }
    }

    /// The exact source text of a scalar, when the parser knows its bytes.
    fn source_text(&self, spanned: &Child) -> Option<&str> {
        let span = spanned.defined.span();
        let (start, len) = (span.byte_offset()?, span.byte_len()?);
        self.text.get(start as usize..(start + len) as usize)
    }

    /// A `!vault` scalar: its plaintext, registered for masking. An error
    /// is kept (the first one wins) and the node becomes null.
    fn decrypt(&mut self, loc: &Location, value: &Raw) -> NodeKind {
        let result = match value {
            Raw::Str(text) => self.keyring.decrypt(text.as_bytes()),
            _ => Err(VaultError::Format("a `!vault` value must be a string (the output of encrypt-string)".into())),
        };
        match result {
            Ok((plain, _)) => {
                let text = String::from_utf8_lossy(plain.expose()).into_owned();
                vault::mask::register(&text);
                NodeKind::Str(text)
            }
            Err(source) => {
                if self.vault_error.is_none() {
                    self.vault_error = Some(YamlError::Vault {
                        path: (*loc.file).clone(),
                        line: loc.line,
                        column: loc.column,
                        error: source,
                    });
                }
                NodeKind::Null
            }
        }
    }

    fn node(&mut self, spanned: Child) -> Node {
        let loc = self.location(&spanned);
        if matches!(spanned.value.1.as_deref(), Some("!vault" | "!vault-encrypted")) {
            // The source text is ciphertext; the node carries no raw text.
            let kind = self.decrypt(&loc, &spanned.value.0);
            return Node { kind, loc, raw: None };
        }
        let raw = match spanned.value.0 {
            Raw::Seq(_) | Raw::Map(_) => None,
            _ => self.source_text(&spanned).map(str::to_owned),
        };
        let kind = match spanned.value.0 {
            Raw::Bool(b) => match self.source_text(&spanned) {
                // PyYAML (and so Ansible) reads the single letters as strings.
                Some(t @ ("y" | "Y" | "n" | "N")) => NodeKind::Str(t.to_owned()),
                _ => NodeKind::Bool(b),
            },
            Raw::Null => NodeKind::Null,
            Raw::Int(i) => NodeKind::Int(i),
            Raw::Float(f) => NodeKind::Float(f),
            Raw::Str(s) => NodeKind::Str(s),
            Raw::Seq(items) => NodeKind::Seq(items.into_iter().map(|i| self.node(i)).collect()),
            Raw::Map(entries) => {
                let mut out: Vec<(Key, Node)> = Vec::with_capacity(entries.len());
                for (k, v) in entries {
                    let key_loc = self.location(&k);
                    let name = match self.node(k).kind {
                        NodeKind::Str(s) => s,
                        NodeKind::Int(i) => i.to_string(),
                        NodeKind::Bool(b) => if b { "True" } else { "False" }.to_owned(),
                        NodeKind::Float(f) => f.to_string(),
                        NodeKind::Null => String::new(),
                        other => format!("{other:?}"),
                    };
                    let value = self.node(v);
                    if let Some(pos) = out.iter().position(|(existing, _)| existing.name == name) {
                        self.warnings.push(format!(
                            "{key_loc}: duplicate key `{name}` (first at line {}); the last one wins",
                            out[pos].0.loc.line
                        ));
                        out.remove(pos);
                    }
                    out.push((Key { name, loc: key_loc }, value));
                }
                NodeKind::Map(out)
            }
        };
        Node { kind, loc, raw }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Loaded {
        load_str(text, Path::new("t.yml")).unwrap()
    }

    #[test]
    fn yaml_1_1_scalars_read_as_ansible_reads_them() {
        let doc = parse("a: yes\nb: off\nc: 0644\nd: \"yes\"\ne: y\nf: 0o644\n").root;
        assert_eq!(doc.get("a").unwrap().kind, NodeKind::Bool(true));
        assert_eq!(doc.get("b").unwrap().kind, NodeKind::Bool(false));
        assert_eq!(doc.get("c").unwrap().kind, NodeKind::Int(0o644));
        assert_eq!(doc.get("d").unwrap().kind, NodeKind::Str("yes".into()));
        assert_eq!(doc.get("e").unwrap().kind, NodeKind::Str("y".into()));
    }

    #[test]
    fn merge_keys_expand_and_local_keys_override() {
        let doc = parse("base: &b\n  x: 1\n  y: 2\nother:\n  <<: *b\n  y: 3\n").root;
        let other = doc.get("other").unwrap();
        assert_eq!(other.get("x").unwrap().kind, NodeKind::Int(1));
        assert_eq!(other.get("y").unwrap().kind, NodeKind::Int(3));
    }

    #[test]
    fn duplicate_keys_last_wins_with_a_located_warning() {
        let loaded = parse("a: 1\nb: 2\na: 3\n");
        assert_eq!(loaded.root.get("a").unwrap().kind, NodeKind::Int(3));
        assert_eq!(loaded.warnings.len(), 1);
        assert!(loaded.warnings[0].starts_with("t.yml:3:1"), "{}", loaded.warnings[0]);
    }

    #[test]
    fn nodes_keep_line_and_column() {
        let doc = parse("- name: x\n  copy:\n    dest: /tmp/x\n").root;
        let task = &doc.as_seq().unwrap()[0];
        let dest = task.get("copy").unwrap().get("dest").unwrap();
        assert_eq!((dest.loc.line, dest.loc.column), (3, 11));
    }

    fn fixture_ring() -> Keyring {
        let mut k = Keyring::new();
        k.add("default", vault::Secret::new(b"fixture-password".to_vec())).unwrap();
        k
    }

    #[test]
    fn a_vault_tagged_scalar_becomes_its_plaintext_and_is_masked() {
        let text = format!("x: 1\n{}\nafter: [a]\n", include_str!("../vault/testdata/ansible-inline.yml"));
        let loaded = load_str_with(&text, Path::new("v.yml"), &fixture_ring()).unwrap();
        let key = loaded.root.get("api_key").unwrap();
        assert_eq!(key.kind, NodeKind::Str("inline-secret".into()));
        assert_eq!(key.raw, None);
        assert_eq!(loaded.root.get("after").unwrap().to_json(), serde_json::json!(["a"]));
        assert_eq!(vault::mask::mask("the inline-secret"), "the ********");
    }

    #[test]
    fn a_vault_value_without_a_password_is_located() {
        let text = format!("x: 1\n{}\n", include_str!("../vault/testdata/ansible-inline.yml"));
        let err = load_str_with(&text, Path::new("v.yml"), &Keyring::new()).unwrap_err().to_string();
        assert!(err.starts_with("v.yml:3:11: it is vault-encrypted and no vault password was given"), "{err}");
        assert!(err.contains("hint: give the password with --vault-password-file"), "{err}");
        let mut wrong = Keyring::new();
        wrong.add("default", vault::Secret::new(b"nope".to_vec())).unwrap();
        let err = load_str_with(&text, Path::new("v.yml"), &wrong).unwrap_err().to_string();
        assert!(err.contains("no vault secret could decrypt it"), "{err}");
    }

    #[test]
    fn a_whole_file_vault_is_decrypted_then_parsed_and_its_values_masked() {
        let text = include_str!("../vault/testdata/ansible-1.1.yml");
        let loaded = load_str_with(text, Path::new("secrets.yml"), &fixture_ring()).unwrap();
        assert_eq!(loaded.root.get("db_password").unwrap().kind, NodeKind::Str("s3cr3t-fixture".into()));
        assert_eq!(loaded.root.get("port").unwrap().kind, NodeKind::Int(5432));
        assert_eq!(vault::mask::mask("pw=s3cr3t-fixture"), "pw=********");
        let err = load_str_with(text, Path::new("secrets.yml"), &Keyring::new()).unwrap_err().to_string();
        assert!(err.starts_with("secrets.yml:1:1: it is vault-encrypted"), "{err}");
    }

    #[test]
    fn a_garbage_vault_value_is_an_error_not_a_panic() {
        for text in
            ["a: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  zz\n", "a: !vault [1]\n", "a: !vault\n", "$ANSIBLE_VAULT;1.1"]
        {
            assert!(load_str_with(text, Path::new("g.yml"), &fixture_ring()).is_err(), "{text}");
        }
    }

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = load_str("- a: 1\n  b: [\n", Path::new("bad.yml")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yml:"), "{text}");
    }
}
