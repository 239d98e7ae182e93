//! `stead vault ...`, and the vault passwords of every other command.
//!
//! The passwords are gathered as Ansible gathers them: `--vault-id` values
//! in order, then each `--vault-password-file` and the default one
//! (`ANSIBLE_VAULT_PASSWORD_FILE`, `vault_password_file` in ansible.cfg)
//! under the label `default`, then the terminal prompt of
//! `--ask-vault-pass`. A source that fails is a warning when another one
//! gave a password, and the error otherwise. Prompts read the terminal
//! without echo and are refused when stdin is not a terminal.
//!
//! This is the only place a plaintext is written to disk: `edit` puts it in
//! a 0600 file inside a private 0700 directory, and removes both on every
//! path (editor failure, a signal while the editor runs, a bad save).

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use stead::config::Settings;
use stead::transport::BecomePassword;
use stead::vault::{self, Keyring, Secret, Source, DEFAULT_ID};

use super::args::{
    VaultAction, VaultArgs, VaultCommand, VaultDecryptArgs, VaultEncryptArgs, VaultEncryptStringArgs, VaultFilesArgs,
    VaultRekeyArgs,
};
use stead::exit;

/// Whether a command reads vaults or writes new ones (a new password is
/// asked twice).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Read,
    Create,
}

fn prompt(text: &str) -> Result<Secret<Vec<u8>>> {
    if !std::io::stdin().is_terminal() {
        bail!("cannot ask for a vault password: stdin is not a terminal (use --vault-password-file or --vault-id LABEL@FILE)");
    }
    let typed = rpassword::prompt_password(text).context("reading the vault password from the terminal")?;
    Ok(Secret::new(typed.into_bytes()))
}

fn prompt_source(label: &str, ask_style: bool, purpose: Purpose) -> Result<Secret<Vec<u8>>> {
    let (first, confirm) = match (purpose, ask_style) {
        (Purpose::Read, true) => ("Vault password: ".to_owned(), None),
        (Purpose::Read, false) => (format!("Vault password ({label}): "), None),
        (Purpose::Create, true) => ("New Vault password: ".to_owned(), Some("Confirm New Vault password: ".to_owned())),
        (Purpose::Create, false) => {
            (format!("New vault password ({label}): "), Some(format!("Confirm new vault password ({label}): ")))
        }
    };
    let pw = prompt(&first)?;
    if let Some(c) = confirm {
        if prompt(&c)?.expose() != pw.expose() {
            bail!("the vault passwords do not match");
        }
    }
    if pw.expose().is_empty() {
        bail!("the vault password is empty");
    }
    Ok(pw)
}

/// The settings of ansible.cfg and the environment, for the vault
/// commands (a run reads them once, in `super::settings`).
fn settings() -> Result<Settings> {
    let env = |k: &str| std::env::var(k).ok();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    Ok(stead::config::load(&env, &cwd)?)
}

/// `--encrypt-vault-id`, else the configured default.
fn encrypt_id(flag: &Option<String>) -> Result<Option<String>> {
    Ok(match flag {
        Some(id) => Some(id.clone()),
        None => settings()?.vault_encrypt_identity.value,
    })
}

/// `~/...` as the home folder, as Ansible expands a password file's path
/// (the shell does not, after `label@`).
fn expand_home(path: PathBuf) -> PathBuf {
    match (path.strip_prefix("~"), std::env::var_os("HOME")) {
        (Ok(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => path,
    }
}

/// The keyring of `args`. `auto_prompt`: with no source at all, ask on the
/// terminal (the vault commands do; a playbook run does not).
/// `defaults`: the settings whose ids and password file are added, as
/// Ansible adds them (none for rekey's new password).
fn gather(args: &VaultArgs, purpose: Purpose, auto_prompt: bool, defaults: Option<&Settings>) -> Result<Keyring> {
    // The configured ids come first, as in Ansible.
    let mut specs: Vec<String> = defaults.map(|s| s.vault_identity_list.value.clone()).unwrap_or_default();
    specs.extend(args.vault_id.iter().cloned());
    let mut slugs: Vec<(String, Source, bool)> = specs
        .iter()
        .map(|spec| {
            let (label, source) = vault::parse_vault_id(spec);
            (label, source, false)
        })
        .collect();
    let mut files = args.vault_password_file.clone();
    if let Some(s) = defaults {
        files.extend(s.vault_password_file.value.clone());
    }
    slugs.extend(files.into_iter().map(|f| (DEFAULT_ID.to_owned(), Source::File(f), false)));
    if args.ask_vault_pass || (slugs.is_empty() && auto_prompt) {
        slugs.push((DEFAULT_ID.to_owned(), Source::Prompt, true));
    }
    let mut keyring = Keyring::new();
    let mut failures = Vec::new();
    for (label, source, ask_style) in slugs {
        let password = match source {
            Source::Prompt => prompt_source(&label, ask_style, purpose)?,
            Source::File(path) => match vault::read_password_file(&expand_home(path), &label) {
                Ok(p) => p,
                Err(e) => {
                    failures.push(e);
                    continue;
                }
            },
        };
        keyring.add(&label, password)?;
    }
    if keyring.is_empty() {
        if let Some(e) = failures.pop() {
            return Err(e.into());
        }
    } else {
        for e in failures {
            eprintln!("warning: {e}");
        }
    }
    Ok(keyring)
}

/// Gathers the passwords of a playbook, inventory or ad-hoc run and installs
/// them for the loaders.
pub fn install(args: &VaultArgs, settings: &Settings) -> Result<()> {
    vault::install(gather(args, Purpose::Read, false, Some(settings))?);
    Ok(())
}

/// The run's become password: asked once on the terminal (`-K`, or
/// `become_ask_pass`), else read from the become password file
/// (`--become-password-file`, `ANSIBLE_BECOME_PASSWORD_FILE`,
/// `become_password_file`), as the settings resolved them. A file is read
/// as a vault password file is (an executable is run and prints it). A
/// host's `ansible_become_password` beats both; the executor decides that.
pub fn become_password(ask: bool, file: Option<&Path>) -> Result<Option<BecomePassword>> {
    if ask {
        if !std::io::stdin().is_terminal() {
            bail!(
                "cannot ask for the become password (-K, become_ask_pass): stdin is not a terminal (use --become-password-file, or \
                 ansible_become_password in the inventory)"
            );
        }
        let typed = rpassword::prompt_password("BECOME password: ").context("reading the become password")?;
        let typed = Secret::new(typed);
        // Just Enter: no password, as in Ansible (sudo then runs with -n).
        if typed.expose().is_empty() {
            return Ok(None);
        }
        return Ok(Some(BecomePassword::new(typed.expose().clone())));
    }
    let Some(path) = file else {
        return Ok(None);
    };
    let path = expand_home(path.to_path_buf());
    let secret = vault::read_password_file(&path, DEFAULT_ID).map_err(|e| match e {
        vault::VaultError::PasswordFile { path, reason } => anyhow!("become password file {path}: {reason}"),
        other => anyhow!("become password file {}: {other}", path.display()),
    })?;
    let text = String::from_utf8(secret.expose().clone())
        .map_err(|_| anyhow!("become password file {}: the password is not UTF-8 text", path.display()))?;
    // Ansible reads the whole file, stripped; sudo takes one line.
    if text.contains(['\n', '\r', '\0']) {
        bail!("become password file {}: it holds more than one line; keep the password alone in it", path.display());
    }
    Ok(Some(BecomePassword::new(text)))
}

/// `stead vault ...`.
pub fn command(cmd: VaultCommand) -> Result<i32> {
    match cmd.action {
        VaultAction::Encrypt(a) => encrypt(a),
        VaultAction::Decrypt(a) => decrypt(a),
        VaultAction::View(a) => view(a),
        VaultAction::Edit(a) => edit(a),
        VaultAction::Rekey(a) => rekey(a),
        VaultAction::EncryptString(a) => encrypt_string(a),
    }?;
    Ok(exit::OK)
}

fn read_keyring(args: &VaultArgs) -> Result<Keyring> {
    let k = gather(args, Purpose::Read, true, Some(&settings()?))?;
    if k.is_empty() {
        bail!("a vault password is required (--vault-password-file, --vault-id or --ask-vault-pass)");
    }
    Ok(k)
}

fn write_keyring(args: &VaultArgs) -> Result<Keyring> {
    let k = gather(args, Purpose::Create, true, Some(&settings()?))?;
    if k.is_empty() {
        bail!("a vault password is required (--vault-password-file, --vault-id or --ask-vault-pass)");
    }
    Ok(k)
}

fn is_stdio(p: &Path) -> bool {
    p.as_os_str() == "-"
}

fn read_input(path: &Path) -> Result<Vec<u8>> {
    if is_stdio(path) {
        let mut buf = Vec::new();
        std::io::stdin().read_to_end(&mut buf).context("reading stdin")?;
        return Ok(buf);
    }
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// Writes `data` to `dest` (`-`: stdout) through a temporary file in the
/// same folder and a rename, keeping the mode of the file it replaces
/// (0600 for a new one).
fn write_output(dest: &Path, data: &[u8]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if is_stdio(dest) {
        let mut out = std::io::stdout().lock();
        out.write_all(data).and_then(|_| out.flush()).context("writing stdout")?;
        return Ok(());
    }
    // Through a symlink to its target, as ansible-vault writes, so the link stays.
    let resolved = if dest.is_symlink() { std::fs::canonicalize(dest).ok() } else { None };
    let dest = resolved.as_deref().unwrap_or(dest);
    let dir = match dest.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mode = std::fs::metadata(dest).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0o600);
    let mut tmp = tempfile::Builder::new()
        .prefix(".stead-vault-")
        .tempfile_in(dir)
        .with_context(|| format!("writing {}", dest.display()))?;
    tmp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    tmp.write_all(data)?;
    tmp.as_file().sync_all()?;
    tmp.persist(dest).map_err(|e| anyhow!("writing {}: {}", dest.display(), e.error))?;
    Ok(())
}

fn one_output<'a>(files: &'a [PathBuf], output: &'a Option<PathBuf>) -> Result<Vec<(PathBuf, PathBuf)>> {
    let stdin = [PathBuf::from("-")];
    let inputs: &[PathBuf] = if files.is_empty() { &stdin } else { files };
    if output.is_some() && inputs.len() > 1 {
        bail!("--output takes one input file, not {}", inputs.len());
    }
    Ok(inputs.iter().map(|f| (f.clone(), output.clone().unwrap_or_else(|| f.clone()))).collect())
}

fn say(msg: &str) {
    if std::io::stdout().is_terminal() {
        eprintln!("{msg}");
    }
}

fn encrypt(a: VaultEncryptArgs) -> Result<()> {
    let keyring = write_keyring(&a.vault)?;
    for (input, output) in one_output(&a.files, &a.output)? {
        let data = read_input(&input)?;
        if vault::is_encrypted(&data) {
            bail!("{} is already vault-encrypted", input.display());
        }
        let text = keyring.encrypt(&data, encrypt_id(&a.encrypt_vault_id)?.as_deref())?;
        write_output(&output, text.as_bytes())?;
    }
    say("Encryption successful");
    Ok(())
}

fn open(keyring: &Keyring, path: &Path, data: &[u8]) -> Result<Secret<Vec<u8>>> {
    if !vault::is_encrypted(data) {
        bail!("{} is not vault-encrypted", path.display());
    }
    let (plain, _) = keyring.decrypt(data).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    Ok(plain)
}

fn decrypt(a: VaultDecryptArgs) -> Result<()> {
    let keyring = read_keyring(&a.vault)?;
    for (input, output) in one_output(&a.files, &a.output)? {
        let data = read_input(&input)?;
        let plain = open(&keyring, &input, &data)?;
        write_output(&output, plain.expose())?;
    }
    say("Decryption successful");
    Ok(())
}

fn view(a: VaultFilesArgs) -> Result<()> {
    let keyring = read_keyring(&a.vault)?;
    for f in &a.files {
        let data = read_input(f)?;
        let plain = open(&keyring, f, &data)?;
        write_output(Path::new("-"), plain.expose())?;
    }
    Ok(())
}

fn rekey(a: VaultRekeyArgs) -> Result<()> {
    let keyring = read_keyring(&a.vault)?;
    let new_args = match (&a.new_vault_password_file, &a.new_vault_id) {
        (Some(f), _) => VaultArgs { vault_password_file: vec![f.clone()], ..VaultArgs::default() },
        (None, Some(id)) => VaultArgs { vault_id: vec![id.clone()], ..VaultArgs::default() },
        (None, None) => VaultArgs { ask_vault_pass: true, ..VaultArgs::default() },
    };
    let new = gather(&new_args, Purpose::Create, false, None)?;
    // Everything is decrypted before anything is written: one bad file
    // leaves them all as they were.
    let mut opened = Vec::new();
    for f in &a.files {
        let data = read_input(f)?;
        opened.push((f, open(&keyring, f, &data)?));
    }
    for (f, plain) in opened {
        write_output(f, new.encrypt(plain.expose(), None)?.as_bytes())?;
    }
    eprintln!("Rekey successful");
    Ok(())
}

/// The YAML block Ansible prints for an encrypted string.
fn yaml_block(name: Option<&str>, vault_text: &str) -> String {
    let mut out = match name {
        Some(n) => format!("{n}: !vault |"),
        None => "!vault |".to_owned(),
    };
    for line in vault_text.lines() {
        out.push_str("\n          ");
        out.push_str(line);
    }
    out
}

/// A string to encrypt: its text, its variable name, where it came from.
type Plain = (Secret<Vec<u8>>, Option<String>, &'static str);

fn encrypt_string(a: VaultEncryptStringArgs) -> Result<()> {
    let keyring = write_keyring(&a.vault)?;
    // (plaintext, variable name, where it came from)
    let mut inputs: Vec<Plain> = Vec::new();
    let from_stdin =
        a.strings.iter().any(|s| s == "-") || a.stdin_name.is_some() || (a.strings.is_empty() && !a.prompt);
    if a.prompt {
        let text = prompt("String to encrypt (hidden): ")?;
        if text.expose().is_empty() {
            bail!("the string to encrypt is empty, not encrypting");
        }
        inputs.push((text, a.names.first().cloned(), "the prompt"));
    }
    if from_stdin {
        if std::io::stdin().is_terminal() {
            eprintln!("Reading plaintext input from stdin. (ctrl-d to end input, twice if your content does not already have a newline)");
        }
        let text = Secret::new(read_input(Path::new("-"))?);
        if text.expose().is_empty() {
            bail!("stdin was empty, not encrypting");
        }
        // `--name` with no STRING names the text from stdin (Ansible would
        // drop the name; `--stdin-name` is its spelling).
        let args = a.strings.iter().filter(|s| *s != "-").count();
        let name = a.stdin_name.clone().or_else(|| (args == 0 && a.names.len() == 1).then(|| a.names[0].clone()));
        inputs.push((text, name, "stdin"));
    }
    let args: Vec<&String> = a.strings.iter().filter(|s| *s != "-").collect();
    let stdin_took_name = from_stdin && a.stdin_name.is_none() && args.is_empty() && a.names.len() == 1;
    if !a.prompt && !stdin_took_name && a.names.len() > args.len() {
        bail!("more --name options ({}) than strings ({})", a.names.len(), args.len());
    }
    for (i, s) in args.into_iter().enumerate() {
        if s.is_empty() {
            bail!("the plaintext given on the command line is empty, not encrypting");
        }
        let name = if a.prompt { None } else { a.names.get(i).cloned() };
        inputs.push((Secret::new(s.clone().into_bytes()), name, "the command line"));
    }
    let several = inputs.len() > 1;
    let label = encrypt_id(&a.encrypt_vault_id)?;
    let mut blocks = Vec::new();
    for (i, (plain, name, src)) in inputs.iter().enumerate() {
        if several {
            match name {
                Some(n) => {
                    eprintln!("# The encrypted version of variable (\"{n}\", the string #{} from {src}).", i + 1)
                }
                None => eprintln!("# The encrypted version of the string #{} from {src}.", i + 1),
            }
        }
        let text = keyring.encrypt(plain.expose(), label.as_deref())?;
        blocks.push(yaml_block(name.as_deref(), &text));
    }
    let mut out = blocks.join("\n");
    out.push('\n');
    write_output(a.output.as_deref().unwrap_or(Path::new("-")), out.as_bytes())?;
    say("Encryption successful");
    Ok(())
}

fn edit(a: VaultFilesArgs) -> Result<()> {
    let keyring = read_keyring(&a.vault)?;
    for f in &a.files {
        edit_one(&keyring, f)?;
    }
    Ok(())
}

/// Holds SIGINT, SIGTERM and SIGHUP while the editor runs, so that stead
/// outlives them and removes the plaintext; remembers which one came.
struct SignalGuard {
    runtime: tokio::runtime::Runtime,
    seen: std::sync::Arc<std::sync::atomic::AtomicI32>,
}

impl SignalGuard {
    fn new() -> Result<SignalGuard> {
        use tokio::signal::unix::{signal, SignalKind};
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
        let seen = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(0));
        for (kind, code) in [
            (SignalKind::interrupt(), exit::INTERRUPTED),
            (SignalKind::terminate(), exit::TERMINATED),
            (SignalKind::hangup(), 129),
        ] {
            // Registering replaces the default action (exit) at once.
            let mut stream = runtime.block_on(async { signal(kind) })?;
            let seen = seen.clone();
            runtime.spawn(async move {
                while stream.recv().await.is_some() {
                    seen.store(code, std::sync::atomic::Ordering::SeqCst);
                }
            });
        }
        Ok(SignalGuard { runtime, seen })
    }

    fn received(&self) -> Option<i32> {
        // Drive the runtime briefly: its driver turns a pending signal into
        // a wake-up of the task that records it.
        self.runtime.block_on(async { tokio::time::sleep(std::time::Duration::from_millis(20)).await });
        match self.seen.load(std::sync::atomic::Ordering::SeqCst) {
            0 => None,
            code => Some(code),
        }
    }
}

/// Overwrites a file's bytes before it is removed (best effort: a
/// journaling or copy-on-write file system may keep old blocks).
fn scrub(path: &Path) {
    if let Ok(meta) = std::fs::metadata(path) {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
            let zeros = vec![0u8; meta.len().min(64 << 20) as usize];
            let _ = f.write_all(&zeros).and_then(|_| f.sync_all());
        }
    }
}

fn edit_one(keyring: &Keyring, path: &Path) -> Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let data = read_input(path)?;
    if !vault::is_encrypted(&data) {
        bail!("{} is not vault-encrypted", path.display());
    }
    // The password that opened it encrypts it again (not merely one with
    // the same label: two password files are both `default`).
    let (plain, used) = keyring.decrypt(&data).map_err(|e| anyhow!("{}: {e}", path.display()))?;
    // Keep the file's own label (and so its format version), as Ansible does.
    let label = vault::Envelope::parse(&data)?.label.unwrap_or_else(|| DEFAULT_ID.to_owned());
    let dir = tempfile::Builder::new().prefix("stead-vault-edit-").tempdir()?;
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    let name = path.file_name().map(|n| n.to_owned()).unwrap_or_else(|| "vault".into());
    let tmp = dir.path().join(name);
    let result = (|| -> Result<Option<Vec<u8>>> {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
        f.write_all(plain.expose())?;
        f.sync_all()?;
        drop(f);
        let guard = SignalGuard::new()?;
        let editor = std::env::var("EDITOR").ok().filter(|e| !e.trim().is_empty()).unwrap_or_else(|| "vi".to_owned());
        let mut words = shell_words::split(&editor).map_err(|e| anyhow!("$EDITOR `{editor}`: {e}"))?;
        if words.is_empty() {
            words.push("vi".to_owned());
        }
        let status = std::process::Command::new(&words[0])
            .args(&words[1..])
            .arg(&tmp)
            .status()
            .with_context(|| format!("running the editor `{}`", words[0]))?;
        if let Some(code) = guard.received() {
            bail!("interrupted (signal); {} is unchanged (exit {code})", path.display());
        }
        if !status.success() {
            bail!("the editor exited with {status}; {} is unchanged", path.display());
        }
        let edited = std::fs::read(&tmp)?;
        Ok(if edited == *plain.expose() { None } else { Some(edited) })
    })();
    scrub(&tmp);
    let _ = std::fs::remove_file(&tmp);
    drop(dir);
    match result? {
        None => Ok(()),
        Some(edited) => {
            let edited = Secret::new(edited);
            let text = vault::cipher::encrypt(edited.expose(), used.password(), Some(&label))?;
            write_output(path, text.as_bytes())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_block_is_indented_as_ansible_prints_it() {
        let b = yaml_block(Some("k"), "$ANSIBLE_VAULT;1.1;AES256\n3031\n");
        assert_eq!(b, "k: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n          3031");
    }
}
