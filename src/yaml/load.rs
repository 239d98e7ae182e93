//! Reading YAML text into [`Node`]s with serde-saphyr.
//!
//! serde-saphyr parses YAML 1.1 scalars the way PyYAML does for Ansible,
//! except for the single letters `y`/`n`, which PyYAML keeps as strings: we
//! look at the source text of every boolean and undo that case. Duplicate
//! keys are passed through by the parser and resolved here (last wins, as in
//! Ansible), with a warning that names the key's location.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::options::DuplicateKeyPolicy;
use serde_saphyr::Spanned;

use super::node::{Key, Location, Node, NodeKind};

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

/// Parses YAML text; `path` is used for locations only.
pub fn load_str(text: &str, path: &Path) -> Result<Loaded, YamlError> {
    let mut options = serde_saphyr::Options::default();
    options.legacy_octal_numbers = true;
    options.duplicate_keys = DuplicateKeyPolicy::PassThrough;
    let file = Arc::new(path.to_path_buf());
    if text.trim().is_empty() {
        let loc = Location { file, line: 1, column: 1 };
        return Ok(Loaded { root: Node { kind: NodeKind::Null, loc, raw: None }, warnings: Vec::new() });
    }
    let raw: Spanned<Raw> = serde_saphyr::from_str_with_options(text, options).map_err(|err| {
        let (line, column) = err.location().map(|l| (l.line() as usize, l.column() as usize)).unwrap_or((0, 0));
        let detail = err.to_string().replace("<input>", &path.display().to_string());
        YamlError::Syntax { path: path.to_path_buf(), line, column, detail }
    })?;
    let mut builder = Builder { text, file, warnings: Vec::new() };
    let root = builder.node(raw);
    Ok(Loaded { root, warnings: builder.warnings })
}

/// The parser's view of a node, before source-text fixups.
enum Raw {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Raw>>),
    Map(Vec<(Spanned<Raw>, Spanned<Raw>)>),
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
}

impl Builder<'_> {
    fn location(&self, spanned: &Spanned<Raw>) -> Location {
        Location {
            file: self.file.clone(),
            line: spanned.referenced.line() as usize,
            column: spanned.referenced.column() as usize,
        }
    }

    /// The exact source text of a scalar, when the parser knows its bytes.
    fn source_text(&self, spanned: &Spanned<Raw>) -> Option<&str> {
        let span = spanned.defined.span();
        let (start, len) = (span.byte_offset()?, span.byte_len()?);
        self.text.get(start as usize..(start + len) as usize)
    }

    fn node(&mut self, spanned: Spanned<Raw>) -> Node {
        let loc = self.location(&spanned);
        let raw = match spanned.value {
            Raw::Seq(_) | Raw::Map(_) => None,
            _ => self.source_text(&spanned).map(str::to_owned),
        };
        let kind = match spanned.value {
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

    #[test]
    fn syntax_errors_name_file_line_and_column() {
        let err = load_str("- a: 1\n  b: [\n", Path::new("bad.yml")).unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("bad.yml:"), "{text}");
    }
}
