//! Ansible Vault: the encrypted files and inline `!vault` values Ansible
//! users keep their secrets in, read and written byte-compatibly with
//! ansible-vault (format 1.1, and 1.2 with a vault id label; AES256 =
//! PBKDF2-HMAC-SHA256, AES-256-CTR, HMAC-SHA256).
//!
//! It exists so that a repository of playbooks with vaulted variables runs
//! under stead unchanged, and so that `stead vault` can stand in for
//! `ansible-vault` on it.
//!
//! - [`envelope`]: the header and the hex body (parse, format).
//! - [`cipher`]: encrypt and decrypt one vault with one password.
//! - [`keyring`]: the passwords of a run with their labels, where they come
//!   from (file, executable script), which one to try first.
//! - [`secret`]: [`Secret`], whose `Debug` and `Display` print `********`.
//! - [`mask`]: the run-wide set of decrypted values, and the one function
//!   that replaces them with `********` in text leaving the process.
//!
//! What it must never do: write a decrypted value or a password to disk
//! (`stead vault edit` writes one, to a 0600 file in a private directory
//! it removes on every path; that is the binary's, not this library's),
//! put one in a log, an error message or a process argument list, or
//! produce a plaintext from a vault whose HMAC does not verify. Every value
//! it decrypts for a run is registered with [`mask::register`] by the
//! caller that hands it on (the YAML loader) before anything else sees it.

pub mod cipher;
pub mod envelope;
pub mod keyring;
pub mod mask;
pub mod secret;

pub use envelope::{is_encrypted, Envelope, DEFAULT_ID, HEADER};
pub use keyring::{install, installed, parse_vault_id, read_password_file, Keyring, Source, VaultId};
pub use secret::{Secret, MASK};

/// Why a vault could not be read or written. No variant carries a password
/// or a plaintext.
#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    /// The text is not a well-formed vault.
    #[error("malformed vault: {0}")]
    Format(String),
    /// A version or cipher stead does not know.
    #[error("unsupported vault: {0}")]
    Unsupported(String),
    /// The HMAC does not match: a wrong password, or a changed vault.
    #[error("wrong vault password (or the vault was changed)")]
    WrongPassword,
    /// Every known password was tried and none opened the vault.
    #[error("no vault secret could decrypt it (tried vault ids: {tried})")]
    NoSecretDecrypts {
        /// The labels tried.
        tried: String,
    },
    /// There is a vault to open and no password was given.
    #[error("it is vault-encrypted and no vault password was given")]
    NoPassword,
    /// An empty password (Ansible refuses them too).
    #[error("the vault password is empty")]
    EmptyPassword,
    /// A password file or script could not give a password.
    #[error("vault password file {path}: {reason}")]
    PasswordFile {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// `--encrypt-vault-id` names a label no password has.
    #[error("no vault password has the id `{label}` (known: {known})")]
    UnknownEncryptId {
        /// The label asked for.
        label: String,
        /// The labels known.
        known: String,
    },
    /// Several passwords and no `--encrypt-vault-id`.
    #[error("several vault ids could encrypt ({0}); choose one with --encrypt-vault-id")]
    AmbiguousEncryptId(String),
    /// The operating system's random source failed.
    #[error("cannot get random bytes for the salt: {0}")]
    Random(String),
}

/// A controller-side file could not be read, or was a vault that could not
/// be opened.
#[derive(Debug, thiserror::Error)]
pub enum LocalFileError {
    /// Reading failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// The file is a vault, and it did not open.
    #[error("{0}")]
    Vault(#[from] VaultError),
}

/// Reads a controller-side file (a `copy` or `template` source), decrypting
/// it with the installed keyring when it is a vault, as Ansible's loader
/// does for these files. A decrypted text is registered for masking. The
/// flag says whether the file was a vault (what is made from it, such as a
/// rendered template, is then a secret too).
pub fn read_local(path: &std::path::Path) -> Result<(Vec<u8>, bool), LocalFileError> {
    // Through `inputs`, so a saved plan knows the file it came from.
    let bytes = crate::inputs::read(path)?;
    if !is_encrypted(&bytes) {
        return Ok((bytes, false));
    }
    let (plain, _) = installed().decrypt(&bytes)?;
    if let Ok(text) = std::str::from_utf8(plain.expose()) {
        mask::register(text);
    }
    Ok((plain.expose().clone(), true))
}

impl VaultError {
    /// A hint for the user, when one helps.
    pub fn hint(&self) -> Option<&'static str> {
        match self {
            VaultError::NoPassword => {
                Some("give the password with --vault-password-file FILE, --vault-id LABEL@FILE or --ask-vault-pass")
            }
            VaultError::NoSecretDecrypts { .. } | VaultError::WrongPassword => Some(
                "check the password file, or add the vault id this value was encrypted with (--vault-id LABEL@FILE)",
            ),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &[u8] = b"fixture-password";

    fn ring(label: &str) -> Keyring {
        let mut k = Keyring::new();
        k.add(label, Secret::new(PASSWORD.to_vec())).unwrap();
        k
    }

    #[test]
    fn vaults_written_by_ansible_vault_open() {
        let plain = b"db_password: s3cr3t-fixture\nport: 5432\n";
        let (got, _) = ring("default").decrypt(include_bytes!("testdata/ansible-1.1.yml")).unwrap();
        assert_eq!(got.expose().as_slice(), plain);
        let text = include_bytes!("testdata/ansible-1.2-prod.yml");
        assert_eq!(Envelope::parse(text).unwrap().label.as_deref(), Some("prod"));
        let prod = ring("prod");
        let (got, label) = prod.decrypt(text).unwrap();
        assert_eq!((got.expose().as_slice(), label.label.as_str()), (&plain[..], "prod"));
        let (got, _) = ring("default").decrypt(include_bytes!("testdata/ansible-empty.txt")).unwrap();
        assert!(got.expose().is_empty());
    }

    #[test]
    fn an_inline_value_from_ansible_vault_encrypt_string_opens() {
        let yaml = include_str!("testdata/ansible-inline.yml");
        let body = yaml.split_once("!vault |").unwrap().1;
        let (got, _) = ring("default").decrypt(body.as_bytes()).unwrap();
        assert_eq!(got.expose().as_slice(), b"inline-secret");
    }

    #[test]
    fn a_fixture_with_the_wrong_password_or_a_flipped_byte_fails() {
        let mut k = Keyring::new();
        k.add("default", Secret::new(b"not-it".to_vec())).unwrap();
        let text = include_bytes!("testdata/ansible-1.1.yml");
        assert!(matches!(k.decrypt(text), Err(VaultError::NoSecretDecrypts { .. })));
        let mut tampered = text.to_vec();
        // A hex digit of the body, past the header line.
        let pos = tampered.iter().position(|b| *b == b'\n').unwrap() + 5;
        tampered[pos] = if tampered[pos] == b'0' { b'1' } else { b'0' };
        assert!(ring("default").decrypt(&tampered).is_err());
    }

    #[test]
    fn errors_never_carry_the_password() {
        let text = include_bytes!("testdata/ansible-1.1.yml");
        let mut k = Keyring::new();
        k.add("default", Secret::new(b"wrong-password-xyz".to_vec())).unwrap();
        let err = k.decrypt(text).unwrap_err();
        assert!(!format!("{err} {err:?}").contains("wrong-password-xyz"));
        assert!(!format!("{k:?}").contains("wrong-password-xyz"));
    }
}
