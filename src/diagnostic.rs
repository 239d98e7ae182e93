//! Located errors: one sentence, the source line with a caret, and a hint.
//!
//! Every error found in user input before any host is contacted is a
//! [`Diagnostic`]. It renders like a compiler message:
//!
//! ```text
//! site.yml:12:7: unknown module `lineinfle`
//!    |
//! 12 |     - lineinfle:
//!    |       ^
//!    = hint: did you mean `lineinfile`?
//! ```

use std::fmt;

use crate::yaml::Location;

/// An error in user input, with its location.
#[derive(Debug, Clone, PartialEq)]
pub struct Diagnostic {
    /// Where.
    pub loc: Location,
    /// What is wrong, one sentence.
    pub message: String,
    /// How to fix it.
    pub hint: Option<String>,
}

impl Diagnostic {
    /// A new diagnostic.
    pub fn new(loc: &Location, message: impl Into<String>) -> Self {
        Diagnostic { loc: loc.clone(), message: message.into(), hint: None }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Adds a hint when there is one.
    pub fn maybe_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.loc, self.message)?;
        if self.loc.is_real() {
            if let Some(line) = std::fs::read_to_string(self.loc.file.as_path())
                .ok()
                .and_then(|text| text.lines().nth(self.loc.line - 1).map(str::to_owned))
            {
                let number = self.loc.line.to_string();
                let pad = " ".repeat(number.len());
                let caret_pad: String = line
                    .chars()
                    .take(self.loc.column.saturating_sub(1))
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                write!(f, "\n{pad} |\n{number} | {line}\n{pad} | {caret_pad}^")?;
            }
        }
        if let Some(hint) = &self.hint {
            write!(f, "\n  = hint: {hint}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// Several diagnostics reported together (all problems of a playbook at once).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}
