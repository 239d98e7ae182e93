//! Where reports go: `--report FORMAT=PATH` parsed into a [`ReportSpec`],
//! checked before any host is contacted ([`ReportSpec::check`]), and
//! written at the end ([`write_file`], [`write_atomic`]).
//!
//! A report that cannot be written is found out up front when it can be
//! (missing directory, a directory named as the file, no permission), so a
//! CI job learns it with exit 1 and no host touched, not after the run.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// A report format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// The JSON report of CONTRACT §6.
    Json,
    /// JUnit XML for CI systems.
    Junit,
    /// One JSON line per event, written as it happens.
    Jsonl,
    /// Prometheus textfile metrics (node_exporter's textfile collector).
    Prometheus,
}

impl Format {
    /// Every format, in the order help text lists them.
    pub const ALL: [Format; 4] = [Format::Json, Format::Junit, Format::Jsonl, Format::Prometheus];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Json => "json",
            Format::Junit => "junit",
            Format::Jsonl => "jsonl",
            Format::Prometheus => "prometheus",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Where one report goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// Standard output (`-`): replaces the terminal output.
    Stdout,
    /// A file.
    File(PathBuf),
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Destination::Stdout => f.write_str("stdout"),
            Destination::File(p) => write!(f, "{}", p.display()),
        }
    }
}

/// One `--report FORMAT=PATH`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportSpec {
    /// The format.
    pub format: Format,
    /// The destination.
    pub dest: Destination,
}

/// Why a report could not be set up or written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Not `FORMAT=PATH`.
    #[error("--report takes FORMAT=PATH (e.g. json=report.json), got `{0}`")]
    Syntax(String),
    /// A format stead does not write.
    #[error("--report format `{0}` is not supported (json, junit, jsonl, prometheus)")]
    UnknownFormat(String),
    /// Two reports asked for stdout.
    #[error("only one report can go to stdout (`-`): {0} and {1} both ask for it")]
    TwoOnStdout(Format, Format),
    /// The same file named twice.
    #[error("two reports name the same file {}", .0.display())]
    SamePath(PathBuf),
    /// The file cannot be written.
    #[error("cannot write the {format} report {}: {source}", .path.display())]
    Io {
        /// Format.
        format: Format,
        /// Path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
}

impl FromStr for ReportSpec {
    type Err = ReportError;

    fn from_str(spec: &str) -> Result<Self, ReportError> {
        let (format, path) = spec.split_once('=').ok_or_else(|| ReportError::Syntax(spec.to_owned()))?;
        let format = Format::ALL
            .into_iter()
            .find(|f| f.name() == format)
            .ok_or_else(|| ReportError::UnknownFormat(format.to_owned()))?;
        if path.is_empty() {
            return Err(ReportError::Syntax(spec.to_owned()));
        }
        let dest = if path == "-" { Destination::Stdout } else { Destination::File(PathBuf::from(path)) };
        Ok(ReportSpec { format, dest })
    }
}

impl ReportSpec {
    /// Parses every `--report` and checks that they do not collide.
    pub fn parse_all<S: AsRef<str>>(specs: &[S]) -> Result<Vec<ReportSpec>, ReportError> {
        let mut out: Vec<ReportSpec> = Vec::new();
        for s in specs {
            let spec: ReportSpec = s.as_ref().parse()?;
            for seen in &out {
                match (&seen.dest, &spec.dest) {
                    (Destination::Stdout, Destination::Stdout) => {
                        return Err(ReportError::TwoOnStdout(seen.format, spec.format))
                    }
                    (Destination::File(a), Destination::File(b)) if a == b => {
                        return Err(ReportError::SamePath(a.clone()))
                    }
                    _ => {}
                }
            }
            out.push(spec);
        }
        Ok(out)
    }

    /// Checks, without changing any existing file, that the report can be
    /// written: its directory exists and takes a new file, and the path is
    /// not a directory.
    pub fn check(&self) -> Result<(), ReportError> {
        let Destination::File(path) = &self.dest else { return Ok(()) };
        let io = |source| ReportError::Io { format: self.format, path: path.clone(), source };
        if path.is_dir() {
            return Err(io(std::io::Error::new(std::io::ErrorKind::IsADirectory, "it is a directory")));
        }
        // A temporary file in the same directory proves the directory takes
        // new files (the atomic writes need that) and is removed at once.
        tempfile::Builder::new().prefix(".stead-check-").tempfile_in(parent_dir(path)).map_err(io)?;
        if path.exists() {
            std::fs::OpenOptions::new().append(true).open(path).map_err(io)?;
        }
        Ok(())
    }
}

/// The directory a file path lives in (`.` for a bare name).
fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

/// Writes a whole report to its destination.
pub fn write_file(spec: &ReportSpec, text: &str) -> Result<(), ReportError> {
    match &spec.dest {
        Destination::Stdout => {
            // A closed pipe is the reader's choice, not a failed report.
            let _ = std::io::stdout().lock().write_all(text.as_bytes());
            Ok(())
        }
        Destination::File(path) => std::fs::write(path, text).map_err(|source| ReportError::Io {
            format: spec.format,
            path: path.clone(),
            source,
        }),
    }
}

/// Writes a report atomically: a temporary file in the same directory,
/// flushed to disk, mode 0644, renamed over the destination. A reader (such
/// as node_exporter) sees the old file or the new one, never half of one.
pub fn write_atomic(spec: &ReportSpec, text: &str) -> Result<(), ReportError> {
    let Destination::File(path) = &spec.dest else { return write_file(spec, text) };
    let io = |source| ReportError::Io { format: spec.format, path: path.clone(), source };
    // The temporary name starts with a dot and ends in `.tmp`, so the
    // textfile collector (which reads `*.prom`) never picks it up.
    let mut tmp =
        tempfile::Builder::new().prefix(".stead-").suffix(".tmp").tempfile_in(parent_dir(path)).map_err(io)?;
    tmp.write_all(text.as_bytes()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    {
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file().set_permissions(std::fs::Permissions::from_mode(0o644)).map_err(io)?;
    }
    tmp.persist(path).map_err(|e| io(e.error))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_collisions_are_refused() {
        let s: ReportSpec = "junit=out/j.xml".parse().unwrap();
        assert_eq!(s, ReportSpec { format: Format::Junit, dest: Destination::File("out/j.xml".into()) });
        assert_eq!("jsonl=-".parse::<ReportSpec>().unwrap().dest, Destination::Stdout);
        assert!(matches!("yaml=x".parse::<ReportSpec>(), Err(ReportError::UnknownFormat(f)) if f == "yaml"));
        assert!(matches!("json".parse::<ReportSpec>(), Err(ReportError::Syntax(_))));
        assert!(matches!("json=".parse::<ReportSpec>(), Err(ReportError::Syntax(_))));
        assert!(matches!(ReportSpec::parse_all(&["json=-", "jsonl=-"]), Err(ReportError::TwoOnStdout(..))));
        assert!(matches!(ReportSpec::parse_all(&["json=a", "junit=a"]), Err(ReportError::SamePath(_))));
        assert_eq!(ReportSpec::parse_all(&["json=a", "junit=b", "jsonl=-"]).unwrap().len(), 3);
    }

    #[test]
    fn check_finds_unwritable_paths_and_leaves_files_alone() {
        let dir = tempfile::tempdir().unwrap();
        let missing: ReportSpec = format!("json={}/nope/r.json", dir.path().display()).parse().unwrap();
        assert!(matches!(missing.check(), Err(ReportError::Io { .. })));
        let is_dir: ReportSpec = format!("junit={}", dir.path().display()).parse().unwrap();
        assert!(matches!(is_dir.check(), Err(ReportError::Io { .. })));
        let existing = dir.path().join("r.json");
        std::fs::write(&existing, "old").unwrap();
        let ok: ReportSpec = format!("json={}", existing.display()).parse().unwrap();
        ok.check().unwrap();
        assert_eq!(std::fs::read_to_string(&existing).unwrap(), "old");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1, "no temporary file left");
    }

    #[test]
    fn atomic_write_replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stead.prom");
        std::fs::write(&path, "old\n").unwrap();
        let spec: ReportSpec = format!("prometheus={}", path.display()).parse().unwrap();
        write_atomic(&spec, "new\n").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "new\n");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o644);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
