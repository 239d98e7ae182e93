//! `openssh_keypair`: an SSH key pair (`path`, `path.pub`) made on the host
//! with its own `ssh-keygen`, as `community.crypto.openssh_keypair`
//! decides it (its `opensshbin` backend).
//!
//! Why it exists: a host's SSH identity must be made where it is used.
//! The probe asks `ssh-keygen -l` for the key's size, type and
//! fingerprint, and `ssh-keygen -y` for the public key that matches the
//! private one; the private key's bytes never leave the host.
//!
//! What it must never do: put the passphrase on a command line or in a
//! script. `ssh-keygen` takes a passphrase only from a prompt, so stead
//! answers the prompt with `SSH_ASKPASS` (`SSH_ASKPASS_REQUIRE=force`,
//! OpenSSH 8.4 or later): a two-line helper in a private temporary
//! directory prints the exported variable that stdin filled.

use super::privatekey::FILE_REFUSED;
use super::{Passphrases, Sections};
use crate::modules::file_state::{Attrs, FileKind, FileState};
use crate::modules::{
    Action, ApplyScript, ArgKind, ArgSpec, Args, Diff, Module, ModuleError, ModuleSpec, Plan, ResultMap, TaskContext,
};
use crate::transport::quote::quote;
use crate::transport::ExecOutput;

/// The `openssh_keypair` module.
pub struct OpensshKeypair;

const PASS: &str = "STEAD_KEY_PASS";
const REGENERATE: &[&str] = &["never", "fail", "partial_idempotence", "full_idempotence", "always"];

static SPEC: ModuleSpec = ModuleSpec::new(&[
    ArgSpec::new("path", ArgKind::Str).required(),
    ArgSpec::new("type", ArgKind::Str).choices(&["rsa", "dsa", "rsa1", "ecdsa", "ed25519"]).refuse_values(&[
        ("dsa", "DSA keys are refused by current OpenSSH; use ed25519, ecdsa or rsa"),
        ("rsa1", "SSH protocol 1 keys are not supported by current OpenSSH"),
    ]),
    ArgSpec::new("size", ArgKind::Int),
    ArgSpec::new("comment", ArgKind::Str),
    ArgSpec::new("passphrase", ArgKind::Str),
    ArgSpec::new("regenerate", ArgKind::Str).choices(REGENERATE),
    ArgSpec::new("private_key_format", ArgKind::Str).choices(&["auto"]),
    ArgSpec::new("backend", ArgKind::Str).choices(&["auto", "opensshbin"]),
    ArgSpec::new("state", ArgKind::Str).choices(&["present", "absent"]),
    ArgSpec::new("force", ArgKind::Bool),
    ArgSpec::new("mode", ArgKind::Mode),
    ArgSpec::new("owner", ArgKind::Str),
    ArgSpec::new("group", ArgKind::Str),
])
.refused(FILE_REFUSED);

impl Module for OpensshKeypair {
    fn name(&self) -> &'static str {
        "openssh_keypair"
    }

    fn spec(&self) -> &'static ModuleSpec {
        &SPEC
    }

    fn prepare(&self, args: &Args, _ctx: &dyn TaskContext) -> Result<Box<dyn Action>, ModuleError> {
        let kind = args.choice_or("type", &["rsa", "ecdsa", "ed25519"], "rsa")?;
        let size = args.opt_int("size")?;
        let size = match kind.as_str() {
            "rsa" => {
                let s = size.unwrap_or(4096);
                if s < 1024 {
                    return Err(ModuleError::failed(
                        "For RSA keys, the minimum size is 1024 bits and the default is 4096 bits. \
                         Attempting to use bit lengths under 1024 will cause the module to fail.",
                    ));
                }
                s
            }
            "ecdsa" => {
                let s = size.unwrap_or(256);
                if ![256, 384, 521].contains(&s) {
                    return Err(ModuleError::failed(
                        "For ECDSA keys, size determines the key length by selecting from one of three elliptic \
                         curve sizes: 256, 384 or 521 bits. Attempting to use bit lengths other than these three \
                         values for ECDSA keys will cause this module to fail.",
                    ));
                }
                s
            }
            _ => 256,
        };
        let mut regenerate = args.choice_or("regenerate", REGENERATE, "partial_idempotence")?;
        if args.bool_or("force", false)? {
            regenerate = "always".into();
        }
        let mut pass = Passphrases::default();
        pass.add(PASS, args.opt_str("passphrase")?.filter(|p| !p.is_empty()).as_deref());
        Ok(Box::new(KeypairAction {
            path: args.str("path")?,
            kind,
            size: size as u32,
            comment: args.opt_str("comment")?,
            pass,
            regenerate,
            present: args.choice_or("state", &["present", "absent"], "present")? == "present",
            attrs: Attrs::from_args(args)?,
        }))
    }
}

/// One `openssh_keypair` task on one host.
#[derive(Debug)]
pub struct KeypairAction {
    path: String,
    kind: String,
    size: u32,
    comment: Option<String>,
    pass: Passphrases,
    regenerate: String,
    present: bool,
    attrs: Attrs,
}

/// `ssh-keygen -l` output: size, fingerprint, type (lower case).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Bits.
    pub size: u32,
    /// `SHA256:...`.
    pub fingerprint: String,
    /// `rsa`, `ecdsa`, `ed25519`.
    pub kind: String,
}

/// Parses `256 SHA256:xxx comment words (ED25519)`.
pub fn parse_listed(line: &str) -> Option<Listed> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let kind = words.last()?.strip_prefix('(')?.strip_suffix(')')?.to_ascii_lowercase();
    Some(Listed { size: words.first()?.parse().ok()?, fingerprint: (*words.get(1)?).to_owned(), kind })
}

/// A public key line split: (`type data`, comment).
pub fn split_public(line: &str) -> (String, String) {
    let mut it = line.trim().splitn(3, ' ');
    let t = it.next().unwrap_or("");
    let d = it.next().unwrap_or("");
    (format!("{t} {d}"), it.next().unwrap_or("").to_owned())
}

/// Lines that answer ssh-keygen's passphrase prompts from `$STEAD_KEY_PASS`.
fn askpass_lines() -> &'static str {
    "a=$(mktemp -d) || exit 1\ntrap 'rm -rf -- \"$a\"' EXIT\n\
     printf '#!/bin/sh\\nprintf \"%%s\\\\n\" \"$STEAD_KEY_PASS\"\\n' > \"$a/askpass\"\nchmod 0700 \"$a/askpass\"\n\
     SSH_ASKPASS=$a/askpass\nSSH_ASKPASS_REQUIRE=force\nexport SSH_ASKPASS SSH_ASKPASS_REQUIRE\n"
}

impl KeypairAction {
    fn pub_path(&self) -> String {
        format!("{}.pub", self.path)
    }

    fn result(&self) -> ResultMap {
        let mut r = ResultMap::new();
        r.insert("size".into(), self.size.into());
        r.insert("type".into(), self.kind.clone().into());
        r.insert("filename".into(), self.path.clone().into());
        r
    }

    fn fill(&self, r: &mut ResultMap, sec: &Sections, prefix: &str) {
        let listed = sec.text(&format!("{prefix}list")).and_then(|t| parse_listed(t.trim()));
        r.insert("fingerprint".into(), listed.map(|l| l.fingerprint).unwrap_or_default().into());
        let (public, comment) = sec.text(&format!("{prefix}pub")).map(|t| split_public(&t)).unwrap_or_default();
        r.insert("public_key".into(), public.into());
        r.insert("comment".into(), comment.into());
    }

    /// Lines that print `{prefix}list` and `{prefix}pub` for the pair at `p`.
    fn report_lines(prefix: &str, p: &str, pubp: &str) -> String {
        format!(
            "if [ -f {p} ]; then ssh-keygen -l -f {p} </dev/null 2>/dev/null | blk {prefix}list; fi\n\
             if [ -f {pubp} ]; then blk {prefix}pub < {pubp}; fi\n"
        )
    }

    fn generate(&self) -> ApplyScript {
        let p = quote(&self.path);
        let pub_path = self.pub_path();
        let pubp = quote(&pub_path);
        let mut s = String::from("set -e\n");
        s.push_str(super::SH_LIB);
        s.push_str(&self.pass.read_lines());
        s.push_str("die() { printf '%s\\n' \"$*\" >&2; exit 1; }\n");
        s.push_str(&format!("d={p}\n"));
        s.push_str(
            "dir=$(dirname -- \"$d\"; echo .); dir=${dir%?.}\n\
             [ -d \"$dir\" ] || die \"The directory $dir does not exist or the file is not a directory\"\n\
             t=$(mktemp -d -- \"$dir/.stead.XXXXXXXX\") || die \"cannot create a temporary directory in $dir\"\n",
        );
        let mut cleanup = String::from("rm -rf -- \"$t\"");
        if self.pass.has(PASS) {
            s.push_str(
                "a=$(mktemp -d) || exit 1\nprintf '#!/bin/sh\\nprintf \"%%s\\\\n\" \"$STEAD_KEY_PASS\"\\n' > \"$a/askpass\"\n\
                 chmod 0700 \"$a/askpass\"\nSSH_ASKPASS=$a/askpass\nSSH_ASKPASS_REQUIRE=force\n\
                 export SSH_ASKPASS SSH_ASKPASS_REQUIRE\n",
            );
            cleanup.push_str("; rm -rf -- \"$a\"");
        }
        s.push_str(&format!("trap '{cleanup}' EXIT\ntrap 'exit 1' HUP INT TERM\n"));
        let n = if self.pass.has(PASS) { "" } else { " -N ''" };
        s.push_str(&format!(
            "ssh-keygen -q{n} -b {} -t {} -C {} -f \"$t/k\" </dev/null\n",
            self.size,
            quote(&self.kind),
            quote(self.comment.as_deref().unwrap_or("")),
        ));
        // The private key keeps 0600 unless a mode is asked; community.crypto
        // applies mode, owner and group to both files.
        let mode = self.attrs.target_mode(Some(0o600), false);
        if let Some(m) = mode {
            s.push_str(&format!("chmod 0{m:04o} -- \"$t/k\" \"$t/k.pub\"\n"));
        }
        for (cmd, v) in [("chown", &self.attrs.owner), ("chgrp", &self.attrs.group)] {
            if let Some(v) = v {
                s.push_str(&format!("{cmd} -- {} \"$t/k\" \"$t/k.pub\"\n", quote(v)));
            }
        }
        s.push_str(&format!("mv -f -- \"$t/k\" {p}\nmv -f -- \"$t/k.pub\" {pubp}\n"));
        s.push_str(&Self::report_lines("new", &p, &pubp));
        ApplyScript { script: s, stdin: self.pass.stdin() }
    }

    fn restore_public(&self) -> ApplyScript {
        let p = quote(&self.path);
        let pub_path = self.pub_path();
        let pubp = quote(&pub_path);
        let mut s = String::from("set -e\n");
        s.push_str(super::SH_LIB);
        s.push_str(&self.pass.read_lines());
        if self.pass.has(PASS) {
            s.push_str(askpass_lines());
        }
        if let Some(c) = &self.comment {
            let n = if self.pass.has(PASS) { "" } else { " -P ''" };
            s.push_str(&format!("ssh-keygen -q{n} -c -C {} -f {p} </dev/null >/dev/null\n", quote(c)));
        }
        let n = if self.pass.has(PASS) { "" } else { " -P ''" };
        s.push_str(&format!(
            "k=$(ssh-keygen{n} -y -f {p} </dev/null)\nt=$(mktemp -- {pubp}.XXXXXXXX)\n\
             if [ -f {pubp} ]; then chmod --reference={pubp} -- \"$t\"; else chmod 0644 -- \"$t\"; fi\n\
             printf '%s\\n' \"$k\" > \"$t\"\nmv -f -- \"$t\" {pubp}\n"
        ));
        s.push_str(&Self::report_lines("new", &p, &pubp));
        ApplyScript { script: s, stdin: self.pass.stdin() }
    }
}

impl Action for KeypairAction {
    fn probe(&self) -> Option<String> {
        let p = quote(&self.path);
        let pub_path = self.pub_path();
        let pubp = quote(&pub_path);
        let mut s = String::from(super::SH_LIB);
        s.push_str(&self.pass.read_lines());
        if self.pass.has(PASS) {
            s.push_str(askpass_lines());
        }
        s.push_str(&super::file_state_section("fs", &self.path));
        s.push_str(&super::file_state_section("fspub", &self.pub_path()));
        s.push_str(&Self::report_lines("", &p, &pubp));
        let n = if self.pass.has(PASS) { "" } else { " -P ''" };
        s.push_str(&format!(
            "if [ -f {p} ]; then\n  if k=$(ssh-keygen{n} -y -f {p} </dev/null 2>/dev/null); then \
             printf '%s\\n' \"$k\" | blk derived; else kv unreadable yes; fi\nfi\n"
        ));
        Some(s)
    }

    fn probe_stdin(&self) -> Vec<u8> {
        self.pass.stdin()
    }

    fn paths(&self) -> Option<Vec<String>> {
        Some(vec![self.path.clone(), self.pub_path()])
    }

    fn compare(&mut self, probe: Option<&ExecOutput>) -> Result<Plan, ModuleError> {
        let out = probe.ok_or_else(|| ModuleError::Probe("no probe output".into()))?;
        let sec = Sections::parse(&out.stdout)?;
        let st: FileState = sec.file_state("fs")?;
        let st_pub: FileState = sec.file_state("fspub")?;
        if st.exists && st.kind == FileKind::Dir {
            return Err(ModuleError::failed(format!("{} is a directory. Please specify a path to a file.", self.path)));
        }
        let listed = sec.text("list").and_then(|t| parse_listed(t.trim()));
        let before = match &listed {
            Some(l) => {
                vec![("type", l.kind.clone()), ("size", l.size.to_string()), ("fingerprint", l.fingerprint.clone())]
            }
            None if st.exists => vec![("state", "present (not a key ssh-keygen can read)".to_owned())],
            None => vec![("state", "absent".to_owned())],
        };
        let mut result = self.result();
        if !self.present {
            let mut plan = if st.exists || st_pub.exists {
                Plan::change(ApplyScript {
                    script: super::remove_script(&[&self.path, &self.pub_path()]),
                    stdin: Vec::new(),
                })
                .with_diff(Some(Diff::state(&self.path, &before, &[("state", "absent".to_owned())])))
            } else {
                Plan::ok()
            };
            plan.result = result;
            return Ok(plan);
        }
        if !st.parent_dir {
            let dir = crate::modules::file_state::parent_of(&self.path);
            return Err(ModuleError::failed(format!(
                "The directory {dir} does not exist or the file is not a directory"
            )));
        }
        let readable = sec.text("derived").is_some();
        if st.exists
            && ["never", "fail", "partial_idempotence"].contains(&self.regenerate.as_str())
            && (listed.is_none() || !readable)
        {
            return Err(ModuleError::failed(
                "Unable to read the key. The key is protected with a passphrase or broken. Will not proceed. \
                 To force regeneration, call the module with `generate` set to `full_idempotence` or `always`, \
                 or with `force=true`.",
            ));
        }
        let valid = listed.as_ref().is_some_and(|l| l.size == self.size && l.kind == self.kind);
        let generate = match self.regenerate.as_str() {
            _ if listed.is_none() => true,
            "never" => false,
            "fail" if !valid => {
                return Err(ModuleError::failed(
                    "Key has wrong type and/or size. Will not proceed. To force regeneration, call the module \
                     with `generate` set to `partial_idempotence`, `full_idempotence` or `always`, or with \
                     `force=true`.",
                ))
            }
            "fail" => false,
            "partial_idempotence" | "full_idempotence" => !valid,
            _ => true,
        };
        if generate {
            let mut after = vec![
                ("type", self.kind.clone()),
                ("size", self.size.to_string()),
                ("fingerprint", "(new key)".to_owned()),
            ];
            if let Some(c) = &self.comment {
                after.push(("comment", c.clone()));
            }
            let mut plan = Plan::change(self.generate()).with_diff(Some(Diff::state(&self.path, &before, &after)));
            plan.result = result;
            return Ok(plan);
        }
        self.fill(&mut result, &sec, "");
        // The public key must be the private key's, with the comment asked for.
        let derived = sec.text("derived").map(|t| split_public(&t).0);
        let (have_pub, have_comment) = sec.text("pub").map(|t| split_public(&t)).unwrap_or_default();
        let pub_ok = st_pub.exists
            && derived.as_deref() == Some(have_pub.as_str())
            && self.comment.as_ref().is_none_or(|c| *c == have_comment);
        let attrs = super::attrs_with_default(&self.attrs, Some(0o600));
        let mut scripts = String::new();
        let mut stdin = Vec::new();
        let mut b = Vec::new();
        let mut a = Vec::new();
        if !pub_ok {
            let apply = self.restore_public();
            scripts.push_str(&apply.as_step());
            stdin = apply.stdin;
            b.push(("public_key", format!("{have_pub} {have_comment}").trim().to_owned()));
            a.push((
                "public_key",
                format!("{} {}", derived.unwrap_or_default(), self.comment.clone().unwrap_or(have_comment))
                    .trim()
                    .to_owned(),
            ));
        }
        let pub_path = self.pub_path();
        for (path, fst) in [(&self.path, &st), (&pub_path, &st_pub)] {
            let fake;
            let fst = if !pub_ok && path.ends_with(".pub") && !fst.exists {
                fake = FileState { exists: true, kind: FileKind::File, mode: 0o644, ..FileState::default() };
                &fake
            } else {
                fst
            };
            let want = if path.ends_with(".pub") { &self.attrs } else { &attrs };
            if let Some(fix) = super::fix_attrs_script(path, want, fst) {
                let (bb, aa) = want.changes(fst).pairs();
                b.extend(bb);
                a.extend(aa);
                scripts.push_str(&format!("(\n{fix}\n) >/dev/null || exit 1\n"));
            }
        }
        let mut plan = if scripts.is_empty() {
            Plan::ok()
        } else {
            let p = quote(&self.path);
            let pub_path = self.pub_path();
            let pubp = quote(&pub_path);
            scripts.push_str(super::SH_LIB);
            scripts.push_str(&Self::report_lines("new", &p, &pubp));
            Plan::change(ApplyScript { script: scripts, stdin }).with_diff(Some(Diff::state(&self.path, &b, &a)))
        };
        plan.result = result;
        Ok(plan)
    }

    fn finish(&mut self, mut plan: Plan, out: &ExecOutput) -> Result<Plan, ModuleError> {
        if out.status != 0 {
            return Err(super::failed(out, plan.result));
        }
        let sec = Sections::parse(&out.stdout)?;
        self.fill(&mut plan.result, &sec, "new");
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::{run, FakeCtx, HOSTILE};

    fn cycle(args: &serde_json::Value) -> (bool, ResultMap) {
        let map = args.as_object().unwrap().clone();
        let mut a = OpensshKeypair.prepare(&Args::new(&SPEC, map), &FakeCtx::default()).unwrap();
        let probe = a.probe().unwrap();
        assert!(!probe.contains("s3cr3t"));
        let out = run(&probe, &a.probe_stdin());
        assert_eq!(out.status, 0, "{}", out.stderr_text());
        let plan = a.compare(Some(&out)).unwrap();
        let changed = plan.changed;
        let plan = match plan.apply.clone() {
            Some(apply) => {
                assert!(!apply.script.contains("s3cr3t"));
                let done = run(&apply.script, &apply.stdin);
                assert_eq!(done.status, 0, "{}\n{}", done.stderr_text(), apply.script);
                a.finish(plan, &done).unwrap()
            }
            None => plan,
        };
        (changed, plan.result)
    }

    #[test]
    fn listed_keys_parse() {
        let l = parse_listed("256 SHA256:t5Uh c m (ED25519)").unwrap();
        assert_eq!((l.size, l.kind.as_str(), l.fingerprint.as_str()), (256, "ed25519", "SHA256:t5Uh"));
        assert_eq!(split_public("ssh-ed25519 AAAA c m\n"), ("ssh-ed25519 AAAA".into(), "c m".into()));
    }

    #[test]
    fn a_pair_with_a_passphrase_is_made_kept_and_its_comment_changed() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join(HOSTILE);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("id 'x'");
        let p = path.to_str().unwrap();
        let args = serde_json::json!({"path": p, "type": "ed25519", "comment": "one", "passphrase": "s3cr3t 'q'"});
        let (changed, r) = cycle(&args);
        assert!(changed);
        assert!(r["fingerprint"].as_str().unwrap().starts_with("SHA256:"), "{r:?}");
        assert_eq!(r["comment"], "one");
        assert!(r["public_key"].as_str().unwrap().starts_with("ssh-ed25519 "));
        let (changed, r2) = cycle(&args);
        assert!(!changed);
        assert_eq!(r2["fingerprint"], r["fingerprint"]);
        let mut other = args.clone();
        other["comment"] = "two".into();
        let (changed, r3) = cycle(&other);
        assert!(changed);
        assert_eq!(r3["comment"], "two");
        assert_eq!(r3["fingerprint"], r["fingerprint"], "the same key");
        assert!(!cycle(&other).0);
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2, "temporary files left behind");
        assert!(!std::path::Path::new("pwned").exists());
    }
}
