//! INI inventory values, read as Ansible reads them: Python's
//! `ast.literal_eval`, falling back to the text itself.
//!
//! So `port=22` is an integer, `debug=True` a boolean, `name='web 1'` a
//! string, `ports=[80, 443]` a list, while `flag=yes` stays the string
//! `"yes"` (INI is not YAML). Only literals are understood; nothing is ever
//! evaluated.

use serde_json::{Map, Number, Value};

/// The value of `text` as a Python literal, or `text` as a string.
pub(super) fn literal(text: &str) -> Value {
    let mut parser = Parser { chars: text.chars().collect(), pos: 0 };
    parser.skip_space();
    if let Some(value) = parser.value() {
        parser.skip_space();
        if parser.peek() == Some('#') {
            parser.pos = parser.chars.len();
        }
        if parser.pos == parser.chars.len() {
            return value;
        }
    }
    Value::String(text.to_owned())
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_space(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn value(&mut self) -> Option<Value> {
        match self.peek()? {
            '[' => {
                self.pos += 1;
                self.sequence(']').map(Value::Array)
            }
            '(' => {
                self.pos += 1;
                self.tuple()
            }
            '{' => {
                self.pos += 1;
                self.dict()
            }
            '\'' | '"' => self.strings(),
            'u' | 'U' | 'r' | 'R' if matches!(self.peek_at(1), Some('\'' | '"')) => self.strings(),
            '+' | '-' | '.' | '0'..='9' => self.number(),
            c if c.is_alphabetic() || c == '_' => self.keyword(),
            _ => None,
        }
    }

    /// Comma-separated values up to `close`; a trailing comma is allowed.
    fn sequence(&mut self, close: char) -> Option<Vec<Value>> {
        let mut items = Vec::new();
        loop {
            self.skip_space();
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.value()?);
            self.skip_space();
            if !self.eat(',') {
                self.skip_space();
                return self.eat(close).then_some(items);
            }
        }
    }

    /// `()`, `(x,)`, `(x, y)` are tuples (lists in JSON); `(x)` is `x`.
    fn tuple(&mut self) -> Option<Value> {
        self.skip_space();
        if self.eat(')') {
            return Some(Value::Array(Vec::new()));
        }
        let first = self.value()?;
        self.skip_space();
        if self.eat(')') {
            return Some(first);
        }
        if !self.eat(',') {
            return None;
        }
        let mut rest = self.sequence(')')?;
        rest.insert(0, first);
        Some(Value::Array(rest))
    }

    fn dict(&mut self) -> Option<Value> {
        let mut map = Map::new();
        loop {
            self.skip_space();
            if self.eat('}') {
                return Some(Value::Object(map));
            }
            let key = match self.value()? {
                Value::String(s) => s,
                Value::Bool(true) => "True".to_owned(),
                Value::Bool(false) => "False".to_owned(),
                Value::Null => "None".to_owned(),
                Value::Number(n) => n.to_string(),
                _ => return None,
            };
            self.skip_space();
            if !self.eat(':') {
                // `{1, 2}` is a set, which JSON cannot hold: keep the text.
                return None;
            }
            self.skip_space();
            let value = self.value()?;
            map.insert(key, value);
            self.skip_space();
            if !self.eat(',') {
                self.skip_space();
                return self.eat('}').then_some(Value::Object(map));
            }
        }
    }

    /// One or more adjacent string literals (`'a' "b"` is `"ab"`, as in Python).
    fn strings(&mut self) -> Option<Value> {
        let mut out = self.string()?;
        loop {
            let save = self.pos;
            self.skip_space();
            match self.peek() {
                Some('\'' | '"') => out.push_str(&self.string()?),
                Some('u' | 'U' | 'r' | 'R') if matches!(self.peek_at(1), Some('\'' | '"')) => {
                    out.push_str(&self.string()?);
                }
                _ => {
                    self.pos = save;
                    return Some(Value::String(out));
                }
            }
        }
    }

    fn string(&mut self) -> Option<String> {
        let mut raw = false;
        match self.peek()? {
            'r' | 'R' => {
                raw = true;
                self.pos += 1;
            }
            'u' | 'U' => self.pos += 1,
            _ => {}
        }
        let quote = self.peek()?;
        self.pos += 1;
        let mut out = String::new();
        loop {
            let c = self.peek()?;
            self.pos += 1;
            if c == quote {
                return Some(out);
            }
            if c != '\\' {
                out.push(c);
                continue;
            }
            let e = self.peek()?;
            self.pos += 1;
            if raw {
                out.push('\\');
                out.push(e);
                continue;
            }
            match e {
                '\n' => {}
                '\\' | '\'' | '"' => out.push(e),
                'n' => out.push('\n'),
                't' => out.push('\t'),
                'r' => out.push('\r'),
                'a' => out.push('\u{7}'),
                'b' => out.push('\u{8}'),
                'f' => out.push('\u{c}'),
                'v' => out.push('\u{b}'),
                'x' => out.push(self.hex(2)?),
                'u' => out.push(self.hex(4)?),
                'U' => out.push(self.hex(8)?),
                '0'..='7' => {
                    let mut n = e.to_digit(8)?;
                    for _ in 0..2 {
                        match self.peek().and_then(|d| d.to_digit(8)) {
                            Some(d) => {
                                n = n * 8 + d;
                                self.pos += 1;
                            }
                            None => break,
                        }
                    }
                    out.push(char::from_u32(n)?);
                }
                other => {
                    out.push('\\');
                    out.push(other);
                }
            }
        }
    }

    fn hex(&mut self, digits: usize) -> Option<char> {
        let text: String = self.chars.get(self.pos..self.pos + digits)?.iter().collect();
        self.pos += digits;
        char::from_u32(u32::from_str_radix(&text, 16).ok()?)
    }

    fn keyword(&mut self) -> Option<Value> {
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        let word: String = self.chars[start..self.pos].iter().collect();
        match word.as_str() {
            "True" => Some(Value::Bool(true)),
            "False" => Some(Value::Bool(false)),
            "None" => Some(Value::Null),
            _ => None,
        }
    }

    fn number(&mut self) -> Option<Value> {
        let mut negative = false;
        loop {
            self.skip_space();
            match self.peek()? {
                '-' => negative = !negative,
                '+' => {}
                _ => break,
            }
            self.pos += 1;
        }
        let start = self.pos;
        while let Some(c) = self.peek() {
            let hex = matches!(self.chars.get(start + 1), Some('x' | 'X'));
            let exponent_sign =
                matches!(c, '+' | '-') && !hex && self.pos > start && matches!(self.chars[self.pos - 1], 'e' | 'E');
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_') || exponent_sign {
                self.pos += 1;
            } else {
                break;
            }
        }
        let token: String = self.chars[start..self.pos].iter().collect();
        let value = number_token(&token)?;
        Some(if negative { negate(value)? } else { value })
    }
}

/// A Python number literal without sign: `42`, `0x1f`, `0o644`, `1_000`,
/// `1.5`, `.5`, `1e3`. `0644` is not one (Python 3 rejects it).
fn number_token(token: &str) -> Option<Value> {
    if token.starts_with('_') || token.ends_with('_') || token.contains("__") {
        return None;
    }
    let clean = token.replace('_', "");
    let lower = clean.to_ascii_lowercase();
    for (prefix, radix) in [("0x", 16), ("0o", 8), ("0b", 2)] {
        if let Some(digits) = lower.strip_prefix(prefix) {
            return i64::from_str_radix(digits, radix).ok().map(Value::from);
        }
    }
    if clean.bytes().all(|b| b.is_ascii_digit()) && !clean.is_empty() {
        if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|b| b != b'0') {
            return None;
        }
        return clean.parse::<i64>().ok().map(Value::from);
    }
    let float_like = clean.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
        && clean.bytes().any(|b| b.is_ascii_digit());
    if !float_like {
        return None;
    }
    let f: f64 = clean.parse().ok()?;
    Number::from_f64(f).map(Value::Number)
}

fn negate(value: Value) -> Option<Value> {
    let Value::Number(n) = value else {
        return None;
    };
    if let Some(i) = n.as_i64() {
        return i.checked_neg().map(Value::from);
    }
    Number::from_f64(-n.as_f64()?).map(Value::Number)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_literals_become_typed_values() {
        assert_eq!(literal("22"), json!(22));
        assert_eq!(literal("-3"), json!(-3));
        assert_eq!(literal("1.5"), json!(1.5));
        assert_eq!(literal("1_000"), json!(1000));
        assert_eq!(literal("0o644"), json!(0o644));
        assert_eq!(literal("0x1F"), json!(31));
        assert_eq!(literal("True"), json!(true));
        assert_eq!(literal("None"), json!(null));
        assert_eq!(literal("'web 1'"), json!("web 1"));
        assert_eq!(literal(r#""a\tb""#), json!("a\tb"));
        assert_eq!(literal("[80, 443,]"), json!([80, 443]));
        assert_eq!(literal("(1, 'x')"), json!([1, "x"]));
        assert_eq!(literal("{'a': 1, 'b': [True]}"), json!({"a": 1, "b": [true]}));
        assert_eq!(literal("1 # comment"), json!(1));
    }

    #[test]
    fn everything_else_stays_the_text_itself() {
        for text in
            ["yes", "true", "0644", "web1", "/etc/x", "1.2.3.4", "-o ProxyJump=x", "{1, 2}", "'open", "1e", "inf", ""]
        {
            assert_eq!(literal(text), json!(text), "{text}");
        }
    }
}
