//! The text around a vault's ciphertext: the `$ANSIBLE_VAULT;1.1;AES256`
//! header (or `1.2;AES256;label`), then the payload hexlified and cut into
//! 80-column lines. The payload is itself three hexlified fields (salt,
//! HMAC, ciphertext) joined by newlines, so the body is hex of hex, as
//! Ansible writes it.
//!
//! Parsing never panics: any input either yields an [`Envelope`] or a
//! [`VaultError::Format`] that says what is wrong.

use super::VaultError;

/// The header every vault starts with.
pub const HEADER: &str = "$ANSIBLE_VAULT";

/// The only cipher Ansible writes (and reads) today.
pub const CIPHER: &str = "AES256";

/// The label of a password given without one (`--vault-password-file`),
/// and of a 1.1 vault, which names none.
pub const DEFAULT_ID: &str = "default";

/// A parsed vault: the header's fields and the three binary fields of the
/// payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// `1.1` or `1.2`.
    pub version: String,
    /// The label of a 1.2 vault (`None` for 1.1).
    pub label: Option<String>,
    /// The PBKDF2 salt.
    pub salt: Vec<u8>,
    /// The HMAC-SHA256 of the ciphertext.
    pub hmac: Vec<u8>,
    /// The AES-256-CTR ciphertext.
    pub ciphertext: Vec<u8>,
}

/// Whether `data` is vault-encrypted (starts with the header), as
/// Ansible's `is_encrypted` decides.
pub fn is_encrypted(data: &[u8]) -> bool {
    data.starts_with(HEADER.as_bytes())
}

fn format_err(what: impl Into<String>) -> VaultError {
    VaultError::Format(what.into())
}

impl Envelope {
    /// Parses vault text (a file's content, or an inline `!vault` value).
    /// Leading whitespace is allowed, and so are the indentation and line
    /// breaks a YAML block scalar leaves.
    pub fn parse(text: &[u8]) -> Result<Envelope, VaultError> {
        let text = std::str::from_utf8(text).map_err(|_| format_err("the vault is not ASCII text"))?;
        let mut lines = text.trim_start().lines();
        let header = lines.next().unwrap_or("").trim();
        let fields: Vec<&str> = header.split(';').map(str::trim).collect();
        if fields.first() != Some(&HEADER) {
            return Err(format_err(format!("the first line is not a vault header (`{HEADER};1.1;AES256`)")));
        }
        let (version, cipher) = match fields.as_slice() {
            [_, v, c] | [_, v, c, _] => (*v, *c),
            _ => return Err(format_err(format!("the header has {} fields, not 3 or 4", fields.len()))),
        };
        if version != "1.1" && version != "1.2" {
            return Err(VaultError::Unsupported(format!("vault format version {version} (stead reads 1.1 and 1.2)")));
        }
        if cipher != CIPHER {
            return Err(VaultError::Unsupported(format!("cipher {cipher} (Ansible and stead know only AES256)")));
        }
        let label = fields.get(3).filter(|l| !l.is_empty()).map(|l| (*l).to_owned());
        let body: String = lines.flat_map(|l| l.chars().filter(|c| !c.is_whitespace())).collect();
        let inner = unhex(body.as_bytes()).map_err(|e| format_err(format!("the body is not hex ({e})")))?;
        let mut parts = inner.splitn(3, |b| *b == b'\n');
        let (Some(salt), Some(hmac), Some(ciphertext)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(format_err("the body does not hold salt, HMAC and ciphertext"));
        };
        let field = |name: &str, hex: &[u8]| unhex(hex).map_err(|e| format_err(format!("the {name} is not hex ({e})")));
        let envelope = Envelope {
            version: version.to_owned(),
            label,
            salt: field("salt", salt)?,
            hmac: field("HMAC", hmac)?,
            ciphertext: field("ciphertext", ciphertext)?,
        };
        if envelope.salt.is_empty() {
            return Err(format_err("the salt is empty"));
        }
        if envelope.ciphertext.is_empty() || envelope.ciphertext.len() % 16 != 0 {
            return Err(format_err("the ciphertext is not a whole number of AES blocks"));
        }
        Ok(envelope)
    }

    /// The vault text, as Ansible formats it: the header (1.2 with a label
    /// other than `default`, else 1.1), the body in 80-column lines, and a
    /// final newline.
    pub fn format(&self) -> String {
        let mut inner = hex(&self.salt).into_bytes();
        inner.push(b'\n');
        inner.extend(hex(&self.hmac).into_bytes());
        inner.push(b'\n');
        inner.extend(hex(&self.ciphertext).into_bytes());
        let body = hex(&inner);
        let mut out = match self.label.as_deref() {
            Some(label) if label != DEFAULT_ID => format!("{HEADER};1.2;{CIPHER};{label}\n"),
            _ => format!("{HEADER};1.1;{CIPHER}\n"),
        };
        for chunk in body.as_bytes().chunks(80) {
            // Hex digits are ASCII, so every chunk is a whole str.
            out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
            out.push('\n');
        }
        out
    }
}

/// Lowercase hex, as Python's `hexlify`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    out
}

/// Decodes hex (either case), as Python's `unhexlify`.
pub fn unhex(text: &[u8]) -> Result<Vec<u8>, &'static str> {
    if text.len() % 2 != 0 {
        return Err("odd length");
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err("not a hex digit"),
    };
    text.chunks_exact(2).map(|pair| Ok(digit(pair[0])? << 4 | digit(pair[1])?)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(label: Option<&str>) -> Envelope {
        Envelope {
            version: "1.1".into(),
            label: label.map(str::to_owned),
            salt: vec![1; 32],
            hmac: vec![2; 32],
            ciphertext: vec![3; 48],
        }
    }

    #[test]
    fn hex_round_trips_and_rejects_garbage() {
        assert_eq!(hex(&[0, 0xab, 0xff]), "00abff");
        assert_eq!(unhex(b"00ABff").unwrap(), vec![0, 0xab, 0xff]);
        assert!(unhex(b"abc").is_err());
        assert!(unhex(b"zz").is_err());
    }

    #[test]
    fn format_is_80_columns_with_a_1_1_header_and_parses_back() {
        let text = sample(None).format();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("$ANSIBLE_VAULT;1.1;AES256"));
        assert!(lines.all(|l| l.len() <= 80 && !l.is_empty()));
        assert!(text.ends_with('\n'));
        let back = Envelope::parse(text.as_bytes()).unwrap();
        assert_eq!(back.label, None);
        assert_eq!((back.salt, back.hmac, back.ciphertext), (vec![1; 32], vec![2; 32], vec![3; 48]));
    }

    #[test]
    fn a_label_other_than_default_makes_a_1_2_header() {
        let text = sample(Some("prod")).format();
        assert!(text.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"), "{text}");
        assert_eq!(Envelope::parse(text.as_bytes()).unwrap().label.as_deref(), Some("prod"));
        assert!(sample(Some("default")).format().starts_with("$ANSIBLE_VAULT;1.1;AES256\n"));
    }

    #[test]
    fn indented_block_scalar_text_parses() {
        let text = sample(None).format();
        let indented: String = text.lines().map(|l| format!("          {l}\n")).collect();
        assert!(Envelope::parse(indented.as_bytes()).is_ok());
    }

    #[test]
    fn truncated_or_garbage_envelopes_are_errors_not_panics() {
        let good = sample(None).format();
        for cut in 0..good.len() {
            let _ = Envelope::parse(&good.as_bytes()[..cut]);
        }
        for bad in [
            &b""[..],
            b"$ANSIBLE_VAULT",
            b"$ANSIBLE_VAULT;1.1",
            b"$ANSIBLE_VAULT;1.1;AES256",
            b"$ANSIBLE_VAULT;1.1;AES256\nzz",
            b"$ANSIBLE_VAULT;1.1;AES256\n6162",
            b"$ANSIBLE_VAULT;9.9;AES256\n00",
            b"$ANSIBLE_VAULT;1.1;DES\n00",
            b"\xff\xfe",
            b"not a vault",
        ] {
            assert!(Envelope::parse(bad).is_err(), "{:?}", String::from_utf8_lossy(bad));
        }
    }
}
