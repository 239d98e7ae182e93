//! Ansible's `AES256` vault cipher: PBKDF2-HMAC-SHA256 (10 000 iterations)
//! stretches the password and a 32-byte salt into 80 bytes, the AES-256 key,
//! the HMAC key and the 16-byte initial counter; the plaintext is PKCS#7
//! padded to 16 bytes and encrypted with AES-256 in CTR mode; an
//! HMAC-SHA256 of the ciphertext authenticates it.
//!
//! The HMAC is checked (in constant time, `hmac`'s `verify_slice`) before
//! anything is decrypted, so a wrong password or a tampered file is told
//! apart from a good one without ever producing a plaintext.

use aes::Aes256;
use ctr::cipher::{KeyIvInit, StreamCipher};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::envelope::{Envelope, DEFAULT_ID};
use super::VaultError;

const ITERATIONS: u32 = 10_000;
const KEY_LEN: usize = 32;
const IV_LEN: usize = 16;
const SALT_LEN: usize = 32;

type Aes256Ctr = ctr::Ctr128BE<Aes256>;
type HmacSha256 = Hmac<Sha256>;

/// The three values PBKDF2 derives from a password and a salt.
struct Keys {
    cipher: [u8; KEY_LEN],
    mac: [u8; KEY_LEN],
    iv: [u8; IV_LEN],
}

impl Drop for Keys {
    fn drop(&mut self) {
        // Best effort: the keys do not outlive the call that needed them.
        self.cipher.fill(0);
        self.mac.fill(0);
        self.iv.fill(0);
    }
}

fn derive(password: &[u8], salt: &[u8]) -> Keys {
    let mut out = [0u8; 2 * KEY_LEN + IV_LEN];
    pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, ITERATIONS, &mut out);
    let mut keys = Keys { cipher: [0; KEY_LEN], mac: [0; KEY_LEN], iv: [0; IV_LEN] };
    keys.cipher.copy_from_slice(&out[..KEY_LEN]);
    keys.mac.copy_from_slice(&out[KEY_LEN..2 * KEY_LEN]);
    keys.iv.copy_from_slice(&out[2 * KEY_LEN..]);
    out.fill(0);
    keys
}

fn mac(keys: &Keys) -> HmacSha256 {
    // HMAC takes a key of any length; a 32-byte one cannot be refused.
    HmacSha256::new_from_slice(&keys.mac).expect("HMAC accepts any key length")
}

/// Encrypts `plaintext` with `password` into vault text labelled `label`
/// (`default` or `None` gives a 1.1 header), with a fresh random salt.
pub fn encrypt(plaintext: &[u8], password: &[u8], label: Option<&str>) -> Result<String, VaultError> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| VaultError::Random(e.to_string()))?;
    encrypt_with_salt(plaintext, password, label, &salt)
}

/// [`encrypt`] with a given salt (for known-answer tests).
pub fn encrypt_with_salt(
    plaintext: &[u8],
    password: &[u8],
    label: Option<&str>,
    salt: &[u8],
) -> Result<String, VaultError> {
    if password.is_empty() {
        return Err(VaultError::EmptyPassword);
    }
    let keys = derive(password, salt);
    let pad = 16 - plaintext.len() % 16;
    let mut data = Vec::with_capacity(plaintext.len() + pad);
    data.extend_from_slice(plaintext);
    data.resize(plaintext.len() + pad, pad as u8);
    Aes256Ctr::new(&keys.cipher.into(), &keys.iv.into()).apply_keystream(&mut data);
    let mut m = mac(&keys);
    m.update(&data);
    let hmac = m.finalize().into_bytes().to_vec();
    let envelope = Envelope {
        version: "1.1".into(),
        label: label.filter(|l| *l != DEFAULT_ID).map(str::to_owned),
        salt: salt.to_vec(),
        hmac,
        ciphertext: data,
    };
    Ok(envelope.format())
}

/// Decrypts a parsed vault with one password. `Err(WrongPassword)` when the
/// HMAC does not match (a wrong password, or a changed file).
pub fn decrypt(envelope: &Envelope, password: &[u8]) -> Result<Vec<u8>, VaultError> {
    let keys = derive(password, &envelope.salt);
    let mut m = mac(&keys);
    m.update(&envelope.ciphertext);
    m.verify_slice(&envelope.hmac).map_err(|_| VaultError::WrongPassword)?;
    let mut data = envelope.ciphertext.clone();
    Aes256Ctr::new(&keys.cipher.into(), &keys.iv.into()).apply_keystream(&mut data);
    let pad = usize::from(*data.last().unwrap_or(&0));
    let valid =
        (1..=16).contains(&pad) && pad <= data.len() && data[data.len() - pad..].iter().all(|b| *b as usize == pad);
    if !valid {
        data.fill(0);
        return Err(VaultError::Format("the padding of the decrypted data is invalid".into()));
    }
    data.truncate(data.len() - pad);
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_of_every_length_around_a_block() {
        for len in [0usize, 1, 15, 16, 17, 31, 32, 33, 100] {
            let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let text = encrypt(&plain, b"pw", None).unwrap();
            let env = Envelope::parse(text.as_bytes()).unwrap();
            assert_eq!(env.ciphertext.len() % 16, 0);
            assert!(env.ciphertext.len() > len, "PKCS#7 always pads");
            assert_eq!(decrypt(&env, b"pw").unwrap(), plain);
        }
    }

    #[test]
    fn the_wrong_password_fails_the_hmac() {
        let env = Envelope::parse(encrypt(b"secret", b"right", None).unwrap().as_bytes()).unwrap();
        assert!(matches!(decrypt(&env, b"wrong"), Err(VaultError::WrongPassword)));
    }

    #[test]
    fn a_tampered_ciphertext_or_hmac_is_refused() {
        let env = Envelope::parse(encrypt(b"secret value", b"pw", None).unwrap().as_bytes()).unwrap();
        let mut flipped = env.clone();
        flipped.ciphertext[0] ^= 1;
        assert!(matches!(decrypt(&flipped, b"pw"), Err(VaultError::WrongPassword)));
        let mut bad_mac = env.clone();
        bad_mac.hmac[31] ^= 0x80;
        assert!(matches!(decrypt(&bad_mac, b"pw"), Err(VaultError::WrongPassword)));
        let mut short_mac = env;
        short_mac.hmac.truncate(16);
        assert!(matches!(decrypt(&short_mac, b"pw"), Err(VaultError::WrongPassword)));
    }

    #[test]
    fn an_empty_password_is_refused() {
        assert!(matches!(encrypt(b"x", b"", None), Err(VaultError::EmptyPassword)));
    }

    #[test]
    fn a_known_salt_gives_a_stable_vault() {
        let a = encrypt_with_salt(b"x", b"pw", Some("prod"), &[7; 32]).unwrap();
        let b = encrypt_with_salt(b"x", b"pw", Some("prod"), &[7; 32]).unwrap();
        assert_eq!(a, b);
        assert!(a.starts_with("$ANSIBLE_VAULT;1.2;AES256;prod\n"));
    }
}
