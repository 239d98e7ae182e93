//! Several probe scripts in one remote exec.
//!
//! Each probe runs in its own subshell (so an `exit` inside it ends only that
//! probe); after it, a marker line with a per-batch random nonce and the
//! probe's exit status is printed. The output is cut back into one
//! [`ExecOutput`] per probe. The nonce makes it impossible for file content
//! printed by a probe to forge a marker.

use crate::transport::ExecOutput;

/// Builds the combined script for `probes`, returning it with its nonce.
#[cfg(test)]
pub fn combine(probes: &[String]) -> (String, String) {
    let (script, _, nonce) = combine_with_stdin(probes, &[]);
    (script, nonce)
}

/// Builds the combined script for `probes`, each with the bytes for its
/// stdin (`stdins[i]`, empty or missing: none), returning the script, the
/// combined stdin and the nonce. A probe with stdin reads exactly its own
/// bytes (`head -c N` reads no further); when any probe has stdin, the
/// others read `/dev/null`, so none can swallow another's bytes. Secrets
/// (a passphrase) travel this way, never in the script's text.
pub fn combine_with_stdin(probes: &[String], stdins: &[&[u8]]) -> (String, Vec<u8>, String) {
    let nonce = nonce();
    let mut script = String::new();
    let mut stdin = Vec::new();
    let any_stdin = stdins.iter().any(|s| !s.is_empty());
    for (i, probe) in probes.iter().enumerate() {
        let own = stdins.get(i).copied().unwrap_or_default();
        if !own.is_empty() {
            script.push_str(&format!("head -c {} | ", own.len()));
            stdin.extend_from_slice(own);
        }
        script.push_str("(\n");
        script.push_str(probe);
        script.push_str(if any_stdin && own.is_empty() { "\n) </dev/null\n" } else { "\n)\n" });
        // The leading newline guarantees the marker starts a line.
        script.push_str(&format!("printf '\\n%s %s\\n' {nonce}:{i} $?\n"));
    }
    (script, stdin, nonce)
}

/// The length of `script` once quoted for the remote shell.
pub fn quoted_len(script: &str) -> usize {
    crate::transport::quote::quote(script).len()
}

/// Cuts `probes` into consecutive ranges whose combined script, quoted,
/// stays within `limit` bytes (a probe too large alone is a range of one).
pub fn chunks(probes: &[String], limit: usize) -> Vec<std::ops::Range<usize>> {
    // Per probe: its quoted text, the subshell and the marker line.
    const FRAME: usize = 96;
    let mut out = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (i, p) in probes.iter().enumerate() {
        let cost = quoted_len(p) + FRAME;
        if i > start && size + cost > limit {
            out.push(start..i);
            start = i;
            size = 0;
        }
        size += cost;
    }
    if start < probes.len() {
        out.push(start..probes.len());
    }
    out
}

/// Splits the combined output back into one output per probe. Stderr is
/// shared and given to every probe.
pub fn split(out: &ExecOutput, nonce: &str, count: usize) -> Result<Vec<ExecOutput>, String> {
    let mut results = Vec::with_capacity(count);
    let mut rest: &[u8] = &out.stdout;
    for i in 0..count {
        let marker = format!("\n{nonce}:{i} ");
        let pos = find(rest, marker.as_bytes()).ok_or_else(|| {
            format!("probe {i} produced no end marker (exit {}): {}", out.status, out.stderr_text().trim())
        })?;
        let body = &rest[..pos];
        let after = &rest[pos + marker.len()..];
        let eol = after.iter().position(|b| *b == b'\n').unwrap_or(after.len());
        let status: i32 = std::str::from_utf8(&after[..eol]).ok().and_then(|s| s.trim().parse().ok()).unwrap_or(-1);
        results.push(ExecOutput { status, stdout: body.to_vec(), stderr: out.stderr.clone() });
        rest = after.get(eol + 1..).unwrap_or(&[]);
    }
    Ok(results)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn nonce() -> String {
    use std::collections::hash_map::RandomState;
    use std::hash::{BuildHasher, Hasher};
    let mut h = RandomState::new().build_hasher();
    h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0));
    format!("STEAD-{:016x}", h.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_stay_under_the_limit_and_cover_every_probe() {
        let probes: Vec<String> = (0..500).map(|i| format!("stat -c %s -- '/tmp/{i}'\n").repeat(20)).collect();
        let ranges = chunks(&probes, 100 * 1024);
        assert!(ranges.len() > 1, "500 large probes need several execs");
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, 500);
        for w in ranges.windows(2) {
            assert_eq!(w[0].end, w[1].start);
        }
        for r in &ranges {
            let (script, _) = combine(&probes[r.clone()]);
            assert!(quoted_len(&script) <= 100 * 1024, "{r:?} is {} bytes", quoted_len(&script));
        }
        assert_eq!(chunks(&probes[..3], 100 * 1024), vec![0..3]);
    }

    #[test]
    fn outputs_are_cut_back_per_probe_with_their_status() {
        let (script, nonce) = combine(&["printf 'a\\nb'".into(), "echo x; exit 3".into(), "true".into()]);
        let out = std::process::Command::new("sh").arg("-c").arg(&script).output().unwrap();
        let out = ExecOutput { status: 0, stdout: out.stdout, stderr: out.stderr };
        let parts = split(&out, &nonce, 3).unwrap();
        assert_eq!(parts[0].stdout, b"a\nb");
        assert_eq!(parts[1].stdout, b"x\n");
        assert_eq!(parts[1].status, 3);
        assert_eq!(parts[2].stdout, b"");
        assert_eq!(parts[2].status, 0);
    }

    #[test]
    fn each_probe_reads_exactly_its_own_stdin() {
        let probes: Vec<String> = vec!["cat".into(), "cat".into(), "cat; echo".into()];
        let (script, stdin, nonce) = combine_with_stdin(&probes, &[b"secret-one", b"", b"two"]);
        assert!(!script.contains("secret"), "a probe's stdin is not in the script");
        let out = crate::modules::file_write::testing::run(&script, &stdin);
        let parts = split(&out, &nonce, 3).unwrap();
        assert_eq!(parts[0].stdout, b"secret-one");
        assert_eq!(parts[1].stdout, b"");
        assert_eq!(parts[2].stdout, b"two\n");
    }
}
