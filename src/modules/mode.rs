//! File modes as Ansible takes them: octal (`0644`, `'644'`, `'0o644'`) or
//! symbolic (`u=rw,g=r,o=`, `a+x`, `u+rwX`).

use std::fmt;

/// A requested mode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// An absolute mode, e.g. `0o644`.
    Octal(u32),
    /// Symbolic clauses, applied to the current mode.
    Symbolic(Vec<Clause>),
}

/// One symbolic clause: `who op perms`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clause {
    who: u32,
    op: char,
    perms: String,
}

/// A mode that cannot be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid mode `{0}`")]
pub struct BadMode(pub String);

impl Mode {
    /// Parses a mode written as a string.
    pub fn parse(text: &str) -> Result<Mode, BadMode> {
        let t = text.trim();
        let digits = t.strip_prefix("0o").unwrap_or(t);
        if !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()) {
            return u32::from_str_radix(digits, 8)
                .ok()
                .filter(|m| *m <= 0o7777)
                .map(Mode::Octal)
                .ok_or_else(|| BadMode(text.to_owned()));
        }
        let mut clauses = Vec::new();
        for part in t.split(',') {
            let op_at = part.find(['+', '-', '=']).ok_or_else(|| BadMode(text.to_owned()))?;
            let (who_text, rest) = part.split_at(op_at);
            let mut who = 0;
            for c in who_text.chars() {
                who |= match c {
                    'u' => 0o4700,
                    'g' => 0o2070,
                    'o' => 0o1007,
                    'a' => 0o7777,
                    _ => return Err(BadMode(text.to_owned())),
                };
            }
            if who == 0 {
                who = 0o7777;
            }
            let op = rest.chars().next().expect("found above");
            let perms = rest[1..].to_owned();
            if !perms.chars().all(|c| "rwxXst".contains(c)) {
                return Err(BadMode(text.to_owned()));
            }
            clauses.push(Clause { who, op, perms });
        }
        Ok(Mode::Symbolic(clauses))
    }

    /// Builds a mode from a YAML integer (already octal-decoded by the loader).
    pub fn from_int(value: i64) -> Result<Mode, BadMode> {
        u32::try_from(value).ok().filter(|m| *m <= 0o7777).map(Mode::Octal).ok_or_else(|| BadMode(value.to_string()))
    }

    /// The resulting permission bits, given the current ones (if the file exists).
    pub fn resolve(&self, current: Option<u32>, is_dir: bool) -> u32 {
        match self {
            Mode::Octal(m) => *m,
            Mode::Symbolic(clauses) => {
                let mut mode = current.unwrap_or(if is_dir { 0o755 } else { 0o644 }) & 0o7777;
                for clause in clauses {
                    let mut bits = 0;
                    for p in clause.perms.chars() {
                        bits |= match p {
                            'r' => 0o444,
                            'w' => 0o222,
                            'x' => 0o111,
                            'X' if is_dir || mode & 0o111 != 0 => 0o111,
                            's' => 0o6000,
                            't' => 0o1000,
                            _ => 0,
                        };
                    }
                    let who = clause.who;
                    let bits = bits & who;
                    match clause.op {
                        '+' => mode |= bits,
                        '-' => mode &= !bits,
                        _ => mode = (mode & !(who & 0o7777)) | bits,
                    }
                }
                mode
            }
        }
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Mode::Octal(m) => write!(f, "{m:04o}"),
            Mode::Symbolic(c) => {
                let parts: Vec<String> = c.iter().map(|c| format!("{:o}{}{}", c.who, c.op, c.perms)).collect();
                write!(f, "{}", parts.join(","))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_forms() {
        assert_eq!(Mode::parse("0644").unwrap(), Mode::Octal(0o644));
        assert_eq!(Mode::parse("644").unwrap(), Mode::Octal(0o644));
        assert_eq!(Mode::parse("0o755").unwrap(), Mode::Octal(0o755));
        assert!(Mode::parse("0999").is_err());
    }

    #[test]
    fn symbolic_applies_to_current_mode() {
        assert_eq!(Mode::parse("u=rw,g=r,o=").unwrap().resolve(Some(0o777), false), 0o640);
        assert_eq!(Mode::parse("a+x").unwrap().resolve(Some(0o644), false), 0o755);
        assert_eq!(Mode::parse("go-w").unwrap().resolve(Some(0o666), false), 0o644);
        assert_eq!(Mode::parse("u+X").unwrap().resolve(Some(0o600), true), 0o700);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(Mode::parse("rwxr--r--").is_err());
    }
}
