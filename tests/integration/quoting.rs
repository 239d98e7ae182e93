//! `stead::transport::quote` against real shells: whatever the bytes, the
//! shell reads back exactly one word with exactly those bytes (CONTRACT §5:
//! no value ever reaches a remote shell unquoted).
//!
//! Locally through `sh -c`, and over the real sshd, where ssh joins its
//! arguments into one command line for the remote login shell.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::process::{Command, Stdio};

use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};
use stead::transport::quote::{join, quote, quote_bytes};

use crate::support::sshd::Mux;
use crate::support::Sshd;

/// Fragments that mean something to a shell.
const HOSTILE: &[&str] = &[
    "'", "\"", "$(", ")", "`", "\n", "\\", "*", "?", "[", "~", "-", "--", " ", "\t", "$HOME", "${IFS}", "!", "#", ";",
    "&", "|", "<", ">", "{", "}", "'\\''", "%s", "=", "\r",
];

/// Strings built from hostile fragments and arbitrary characters (no NUL:
/// no shell word can hold one).
fn hostile_string() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => proptest::sample::select(HOSTILE).prop_map(str::to_owned),
        2 => any::<char>().prop_filter("no NUL", |c| *c != '\0').prop_map(String::from),
        1 => "[a-z]{1,4}",
    ];
    prop::collection::vec(piece, 0..10).prop_map(|v| v.concat())
}

/// Arbitrary bytes, not necessarily UTF-8, without NUL.
fn hostile_bytes() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        2 => proptest::sample::select(HOSTILE).prop_map(|s| s.as_bytes().to_vec()),
        3 => (1u8..=255).prop_map(|b| vec![b]),
    ];
    prop::collection::vec(piece, 0..12).prop_map(|v| v.concat())
}

/// Runs `script` with the local `sh -c` and returns its stdout.
fn local_sh(script: &[u8]) -> Vec<u8> {
    let out =
        Command::new("sh").arg("-c").arg(OsStr::from_bytes(script)).stdin(Stdio::null()).output().expect("run sh");
    assert!(
        out.status.success(),
        "sh failed on {:?}: {}",
        String::from_utf8_lossy(script),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

fn printf_script(quoted: &[u8]) -> Vec<u8> {
    let mut script = b"printf %s ".to_vec();
    script.extend_from_slice(quoted);
    script
}

/// Sends `line` as the remote command line and returns the remote stdout.
fn over_ssh(mux: &Mux, line: &[u8]) -> Vec<u8> {
    let out = mux.run(OsStr::from_bytes(line));
    assert!(
        out.status.success(),
        "remote shell failed on {:?}: {}",
        String::from_utf8_lossy(line),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs a property over the real sshd (its own server, stopped at the end
/// of the test, also on failure), through one multiplexed connection, with
/// fewer cases than the local properties.
fn over_ssh_property<S: Strategy>(strategy: S, property: impl Fn(&Mux, S::Value) -> Result<(), TestCaseError>) {
    let sshd = Sshd::start();
    let mux = sshd.mux();
    let mut runner = TestRunner::new(ProptestConfig::with_cases(SSH_CASES));
    if let Err(e) = runner.run(&strategy, |value| property(&mux, value)) {
        panic!("{e}");
    }
}

/// Logins per over-ssh property, and values checked per login.
const SSH_CASES: u32 = 16;
const PER_LOGIN: usize = 8;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn quote_round_trips_through_local_sh(value in hostile_string()) {
        let script = printf_script(quote(&value).as_bytes());
        prop_assert_eq!(local_sh(&script), value.as_bytes());
    }

    #[test]
    fn quote_bytes_round_trips_through_local_sh(value in hostile_bytes()) {
        let script = printf_script(&quote_bytes(&value));
        prop_assert_eq!(local_sh(&script), value);
    }

    #[test]
    fn quote_and_quote_bytes_agree_on_utf8(value in hostile_string()) {
        let quoted = quote(&value);
        prop_assert_eq!(quoted.as_bytes(), &quote_bytes(value.as_bytes())[..]);
    }

    #[test]
    fn join_keeps_every_word_separate(words in prop::collection::vec(hostile_string(), 0..5)) {
        // `printf '%s\0'` prints each argument terminated by NUL, so the
        // word boundaries come back too.
        let line = join(words.iter().map(String::as_str));
        let script = format!("printf '%s\\0' {line}");
        let out = local_sh(script.as_bytes());
        let mut got: Vec<String> = out
            .split(|b| *b == 0)
            .map(|w| String::from_utf8(w.to_vec()).unwrap())
            .collect();
        got.pop(); // after the last NUL
        if words.is_empty() {
            // printf with no arguments still prints the format once.
            prop_assert_eq!(got, vec![String::new()]);
        } else {
            prop_assert_eq!(got, words);
        }
    }
}

/// Several values per login (each remote login costs a shell startup):
/// every value is printed by its own `printf`, NUL-terminated.
fn remote_line(quoted: &[Vec<u8>]) -> Vec<u8> {
    let mut line = Vec::new();
    for q in quoted {
        line.extend_from_slice(b"printf '%s\\0' ");
        line.extend_from_slice(q);
        line.extend_from_slice(b"; ");
    }
    line.extend_from_slice(b"true");
    line
}

fn split_nul(out: &[u8]) -> Vec<Vec<u8>> {
    let mut words: Vec<Vec<u8>> = out.split(|b| *b == 0).map(<[u8]>::to_vec).collect();
    words.pop(); // after the last NUL
    words
}

#[test]
fn quote_round_trips_through_the_remote_login_shell() {
    over_ssh_property(prop::collection::vec(hostile_string(), 1..PER_LOGIN), |mux, values| {
        let quoted: Vec<Vec<u8>> = values.iter().map(|v| quote(v).as_bytes().to_vec()).collect();
        let got = split_nul(&over_ssh(mux, &remote_line(&quoted)));
        let want: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        prop_assert_eq!(got, want);
        Ok(())
    });
}

#[test]
fn quote_bytes_round_trips_through_the_remote_login_shell() {
    over_ssh_property(prop::collection::vec(hostile_bytes(), 1..PER_LOGIN), |mux, values| {
        let quoted: Vec<Vec<u8>> = values.iter().map(|v| quote_bytes(v)).collect();
        let got = split_nul(&over_ssh(mux, &remote_line(&quoted)));
        prop_assert_eq!(got, values);
        Ok(())
    });
}

#[test]
fn nested_quoting_survives_sh_c_on_the_remote_side() {
    // How stead wraps every script: `sh -c <quoted script>`, where the
    // script itself quotes its values.
    over_ssh_property(prop::collection::vec(hostile_string(), 1..PER_LOGIN), |mux, values| {
        let quoted: Vec<Vec<u8>> = values.iter().map(|v| quote(v).as_bytes().to_vec()).collect();
        let script = String::from_utf8(remote_line(&quoted)).unwrap();
        let line = format!("sh -c {}", quote(&script));
        let got = split_nul(&over_ssh(mux, line.as_bytes()));
        let want: Vec<Vec<u8>> = values.iter().map(|v| v.as_bytes().to_vec()).collect();
        prop_assert_eq!(got, want);
        Ok(())
    });
}
