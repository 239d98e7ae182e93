//! A value that must not be shown: `Debug` and `Display` print `********`,
//! and the bytes are overwritten (best effort) when it is dropped.

use std::fmt;

/// What every masked value is replaced with.
pub const MASK: &str = "********";

/// A password or a decrypted value. Reach the value with [`Secret::expose`],
/// and only where it is needed (deriving a key, templating a variable).
pub struct Secret<T: Wipe>(T);

impl<T: Wipe> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value. Every call site is a place the secret leaves its box.
    pub fn expose(&self) -> &T {
        &self.0
    }
}

impl<T: Wipe + Clone> Clone for Secret<T> {
    fn clone(&self) -> Self {
        Secret(self.0.clone())
    }
}

impl<T: Wipe> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl<T: Wipe> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(MASK)
    }
}

impl<T: Wipe> Drop for Secret<T> {
    fn drop(&mut self) {
        self.0.wipe();
    }
}

/// Overwriting a value before its memory is freed.
pub trait Wipe {
    /// Overwrites the value in place.
    fn wipe(&mut self);
}

impl Wipe for Vec<u8> {
    fn wipe(&mut self) {
        self.iter_mut().for_each(|b| *b = 0);
        std::hint::black_box(&self);
    }
}

impl Wipe for String {
    fn wipe(&mut self) {
        let mut bytes = std::mem::take(self).into_bytes();
        bytes.wipe();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let s = Secret::new(String::from("hunter2-value"));
        assert_eq!(format!("{s}"), MASK);
        assert_eq!(format!("{s:?}"), "Secret(********)");
        assert_eq!(format!("{:?}", Some(&s)), "Some(Secret(********))");
        assert_eq!(s.expose(), "hunter2-value");
    }
}
