//! The vault passwords of a run, each with its label (vault id), and where
//! they come from: a file, or an executable that prints the password, as
//! Ansible reads `--vault-password-file` and `--vault-id label@path`.
//! Prompting is the binary's job (it owns the terminal); it hands the
//! typed password in with [`Keyring::add`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, RwLock};

use super::envelope::{Envelope, DEFAULT_ID};
use super::secret::Secret;
use super::{cipher, VaultError};

/// One password and its label.
#[derive(Debug)]
pub struct VaultId {
    /// The label (`default` when none was given).
    pub label: String,
    password: Secret<Vec<u8>>,
}

impl VaultId {
    /// The password bytes.
    pub fn password(&self) -> &[u8] {
        self.password.expose()
    }
}

/// The passwords known to a run, in the order they were given.
#[derive(Debug, Default)]
pub struct Keyring {
    ids: Vec<VaultId>,
}

/// Where one `--vault-id` or `--vault-password-file` gets its password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A file holding the password, or an executable printing it.
    File(PathBuf),
    /// Asked on the terminal (`label@prompt`).
    Prompt,
}

/// Splits a `--vault-id` value as Ansible does: `label@source`, or just a
/// source (label `default`); the source `prompt` asks on the terminal.
pub fn parse_vault_id(spec: &str) -> (String, Source) {
    let (label, source) = match spec.split_once('@') {
        Some((label, source)) => (label, source),
        None => (DEFAULT_ID, spec),
    };
    let label = if label.is_empty() { DEFAULT_ID } else { label };
    let source = match source {
        "prompt" | "prompt_ask_vault_pass" => Source::Prompt,
        path => Source::File(PathBuf::from(path)),
    };
    (label.to_owned(), source)
}

/// Reads a password from a file, or runs the file and reads its standard
/// output when it is executable (Ansible's password script). A script whose
/// name ends in `-client` (before any extension) is Ansible's client
/// script: it is given `--vault-id LABEL` and exits 2 for an unknown label.
/// Surrounding whitespace of a file, and the line breaks around a script's
/// output, are dropped, as Ansible drops them; an empty password is refused.
pub fn read_password_file(path: &Path, label: &str) -> Result<Secret<Vec<u8>>, VaultError> {
    let shown = path.display().to_string();
    let meta =
        std::fs::metadata(path).map_err(|e| VaultError::PasswordFile { path: shown.clone(), reason: e.to_string() })?;
    if meta.is_dir() {
        return Err(VaultError::PasswordFile { path: shown, reason: "it is a directory".into() });
    }
    use std::os::unix::fs::PermissionsExt;
    let bytes = if meta.permissions().mode() & 0o111 != 0 {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let client = stem.ends_with("-client");
        // A relative path names a file here, not a program on $PATH.
        let program = if path.is_relative() { Path::new(".").join(path) } else { path.to_path_buf() };
        let mut cmd = Command::new(program);
        if client {
            cmd.args(["--vault-id", label]);
        }
        // The script may prompt on the terminal: its stdin and stderr are ours.
        let out = cmd
            .stdin(Stdio::inherit())
            .stdout(Stdio::piped())
            .stderr(if client { Stdio::piped() } else { Stdio::inherit() })
            .output()
            .map_err(|e| VaultError::PasswordFile {
                path: shown.clone(),
                reason: format!("cannot run it ({e}); if it is not a script, remove its executable bit"),
            })?;
        if !out.status.success() {
            let code = out.status.code().map_or("a signal".to_owned(), |c| c.to_string());
            let stderr = String::from_utf8_lossy(&out.stderr).trim().to_owned();
            let reason = if client && out.status.code() == Some(2) {
                format!("the client script knows no secret for vault id `{label}`")
            } else if stderr.is_empty() {
                format!("the password script exited with {code}")
            } else {
                format!("the password script exited with {code}: {stderr}")
            };
            return Err(VaultError::PasswordFile { path: shown, reason });
        }
        let mut stdout = out.stdout;
        let trimmed = trim_line_breaks(&stdout).to_vec();
        stdout.iter_mut().for_each(|b| *b = 0);
        trimmed
    } else {
        let mut raw =
            std::fs::read(path).map_err(|e| VaultError::PasswordFile { path: shown.clone(), reason: e.to_string() })?;
        let trimmed = raw.trim_ascii().to_vec();
        raw.iter_mut().for_each(|b| *b = 0);
        trimmed
    };
    if bytes.is_empty() {
        return Err(VaultError::PasswordFile { path: shown, reason: "the password is empty".into() });
    }
    if super::is_encrypted(&bytes) {
        return Err(VaultError::PasswordFile {
            path: shown,
            reason: "it is itself vault-encrypted, which stead does not open; keep the password in plain text (mode 0600) or print it from a script".into(),
        });
    }
    Ok(Secret::new(bytes))
}

fn trim_line_breaks(b: &[u8]) -> &[u8] {
    let is_break = |c: &u8| *c == b'\r' || *c == b'\n';
    let start = b.iter().position(|c| !is_break(c)).unwrap_or(b.len());
    let end = b.iter().rposition(|c| !is_break(c)).map_or(start, |e| e + 1);
    &b[start..end]
}

impl Keyring {
    /// An empty keyring.
    pub fn new() -> Self {
        Keyring::default()
    }

    /// Adds a password under a label.
    pub fn add(&mut self, label: &str, password: Secret<Vec<u8>>) -> Result<(), VaultError> {
        if password.expose().is_empty() {
            return Err(VaultError::EmptyPassword);
        }
        self.ids.push(VaultId { label: label.to_owned(), password });
        Ok(())
    }

    /// Whether no password is known.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// The labels, in order.
    pub fn labels(&self) -> Vec<&str> {
        self.ids.iter().map(|i| i.label.as_str()).collect()
    }

    /// The password to encrypt with: the one labelled `label`, else the only
    /// one (Ansible asks for `--encrypt-vault-id` when there are several).
    pub fn for_encrypt(&self, label: Option<&str>) -> Result<&VaultId, VaultError> {
        match label {
            Some(l) => self
                .ids
                .iter()
                .find(|i| i.label == l)
                .ok_or_else(|| VaultError::UnknownEncryptId { label: l.to_owned(), known: self.labels().join(", ") }),
            None => match self.ids.as_slice() {
                [] => Err(VaultError::NoPassword),
                [only] => Ok(only),
                _ => Err(VaultError::AmbiguousEncryptId(self.labels().join(", "))),
            },
        }
    }

    /// Encrypts with the password [`Keyring::for_encrypt`] picks, labelled
    /// with its id.
    pub fn encrypt(&self, plaintext: &[u8], label: Option<&str>) -> Result<String, VaultError> {
        let id = self.for_encrypt(label)?;
        cipher::encrypt(plaintext, id.password(), Some(&id.label))
    }

    /// Decrypts vault text: the password whose label the 1.2 header names
    /// first, then every other one in order, as Ansible tries them. Returns
    /// the plaintext and the password that opened it.
    pub fn decrypt(&self, text: &[u8]) -> Result<(Secret<Vec<u8>>, &VaultId), VaultError> {
        let envelope = Envelope::parse(text)?;
        if self.ids.is_empty() {
            return Err(VaultError::NoPassword);
        }
        let named = envelope.label.as_deref();
        let order = self
            .ids
            .iter()
            .filter(|i| Some(i.label.as_str()) == named)
            .chain(self.ids.iter().filter(|i| Some(i.label.as_str()) != named));
        for id in order {
            match cipher::decrypt(&envelope, id.password()) {
                Ok(plain) => return Ok((Secret::new(plain), id)),
                Err(VaultError::WrongPassword) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(VaultError::NoSecretDecrypts { tried: self.labels().join(", ") })
    }
}

/// The keyring of this run, installed once by the binary before anything
/// is loaded. Empty until then.
static INSTALLED: RwLock<Option<Arc<Keyring>>> = RwLock::new(None);

/// Makes `keyring` the one every loader decrypts with.
pub fn install(keyring: Keyring) {
    *INSTALLED.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(keyring));
}

/// The installed keyring (empty when none was installed).
pub fn installed() -> Arc<Keyring> {
    INSTALLED.read().unwrap_or_else(|e| e.into_inner()).clone().unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring(ids: &[(&str, &str)]) -> Keyring {
        let mut k = Keyring::new();
        for (label, pw) in ids {
            k.add(label, Secret::new(pw.as_bytes().to_vec())).unwrap();
        }
        k
    }

    #[test]
    fn vault_ids_parse_as_ansible_splits_them() {
        assert_eq!(parse_vault_id("prod@/run/pw"), ("prod".into(), Source::File("/run/pw".into())));
        assert_eq!(parse_vault_id("/run/pw"), ("default".into(), Source::File("/run/pw".into())));
        assert_eq!(parse_vault_id("dev@prompt"), ("dev".into(), Source::Prompt));
        assert_eq!(parse_vault_id("prompt"), ("default".into(), Source::Prompt));
    }

    #[test]
    fn the_labelled_password_opens_a_1_2_vault_and_others_are_tried_after() {
        let text = ring(&[("prod", "p")]).encrypt(b"v", Some("prod")).unwrap();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod"));
        let k = ring(&[("dev", "d"), ("prod", "p")]);
        let (plain, label) = k.decrypt(text.as_bytes()).unwrap();
        assert_eq!((plain.expose().as_slice(), label.label.as_str()), (&b"v"[..], "prod"));
        // The header's label is a hint, not a lock (Ansible's default).
        let k = ring(&[("other", "p")]);
        assert_eq!(k.decrypt(text.as_bytes()).unwrap().1.label, "other");
    }

    #[test]
    fn no_password_and_wrong_passwords_are_distinct_errors() {
        let text = ring(&[("default", "p")]).encrypt(b"v", None).unwrap();
        assert!(matches!(Keyring::new().decrypt(text.as_bytes()), Err(VaultError::NoPassword)));
        let err = ring(&[("a", "x"), ("b", "y")]).decrypt(text.as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "no vault secret could decrypt it (tried vault ids: a, b)");
    }

    #[test]
    fn encrypting_with_several_ids_needs_a_choice() {
        let k = ring(&[("a", "x"), ("b", "y")]);
        assert!(matches!(k.encrypt(b"v", None), Err(VaultError::AmbiguousEncryptId(_))));
        assert!(matches!(k.encrypt(b"v", Some("c")), Err(VaultError::UnknownEncryptId { .. })));
        assert!(k.encrypt(b"v", Some("b")).unwrap().contains(";b\n"));
    }

    #[test]
    fn password_files_and_scripts_are_read_as_ansible_reads_them() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pw");
        std::fs::write(&file, "  s3cret \n\n").unwrap();
        assert_eq!(read_password_file(&file, "default").unwrap().expose(), b"s3cret");
        let script = dir.path().join("pw.sh");
        std::fs::write(&script, "#!/bin/sh\nprintf 'from script\\n'\n").unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(read_password_file(&script, "default").unwrap().expose(), b"from script");
        let client = dir.path().join("pw-client.sh");
        std::fs::write(&client, "#!/bin/sh\n[ \"$2\" = prod ] && echo p-$2 && exit 0\nexit 2\n").unwrap();
        std::fs::set_permissions(&client, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert_eq!(read_password_file(&client, "prod").unwrap().expose(), b"p-prod");
        let err = read_password_file(&client, "dev").unwrap_err().to_string();
        assert!(err.contains("no secret for vault id `dev`"), "{err}");
        let failing = dir.path().join("fail.sh");
        std::fs::write(&failing, "#!/bin/sh\nexit 3\n").unwrap();
        std::fs::set_permissions(&failing, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(read_password_file(&failing, "default").unwrap_err().to_string().contains("exited with 3"));
        std::fs::write(&file, "\n").unwrap();
        assert!(read_password_file(&file, "default").unwrap_err().to_string().contains("empty"));
        assert!(read_password_file(&dir.path().join("missing"), "default").is_err());
        assert!(read_password_file(dir.path(), "default").unwrap_err().to_string().contains("directory"));
    }
}
