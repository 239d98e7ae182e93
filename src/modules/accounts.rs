//! What the account modules (`user`, `group`, `authorized_key`) share: the
//! entries of the passwd and group databases as `getent` prints them, and
//! the shell fragments that read them on the host.
//!
//! Accounts are read through NSS (`getent`), as Ansible reads them through
//! Python's `pwd` and `grp`, so an account from LDAP counts as existing.
//! `getent passwd 1000` looks a number up as a uid: every lookup here checks
//! that the entry it got back carries the name it asked for.
//!
//! Nothing here builds a shell string from a value by hand: every value goes
//! through [`quote`].

use crate::transport::quote::quote;

/// One line of `getent passwd`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Passwd {
    /// Login name.
    pub name: String,
    /// The password field (`x` when the hash is in the shadow database).
    pub password: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// GECOS field (Ansible's `comment`).
    pub comment: String,
    /// Home directory.
    pub home: String,
    /// Login shell.
    pub shell: String,
}

impl Passwd {
    /// Parses `name:x:uid:gid:gecos:home:shell`.
    pub fn parse(line: &str) -> Option<Passwd> {
        let f: Vec<&str> = line.trim_end_matches(['\n', '\r']).split(':').collect();
        if f.len() != 7 {
            return None;
        }
        Some(Passwd {
            name: f[0].to_owned(),
            password: f[1].to_owned(),
            uid: f[2].parse().ok()?,
            gid: f[3].parse().ok()?,
            comment: f[4].to_owned(),
            home: f[5].to_owned(),
            shell: f[6].to_owned(),
        })
    }
}

/// One line of `getent group`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Group {
    /// Group name.
    pub name: String,
    /// Group id.
    pub gid: u32,
    /// Listed members (not the users whose primary group it is).
    pub members: Vec<String>,
}

impl Group {
    /// Parses `name:x:gid:member,member`.
    pub fn parse(line: &str) -> Option<Group> {
        let f: Vec<&str> = line.trim_end_matches(['\n', '\r']).split(':').collect();
        if f.len() != 4 {
            return None;
        }
        Some(Group {
            name: f[0].to_owned(),
            gid: f[2].parse().ok()?,
            members: f[3].split(',').filter(|m| !m.is_empty()).map(str::to_owned).collect(),
        })
    }
}

/// Shell lines that print `TAG <getent passwd line>` for the user `name`
/// (only when the entry found has that name), or nothing.
pub fn passwd_lookup(tag: &str, name: &str) -> String {
    lookup("passwd", tag, name)
}

/// Shell lines that print `TAG <getent group line>` for the group `key`
/// (a name, or a gid as Ansible's `grp.getgrgid(int(key))` tries first).
pub fn group_lookup(tag: &str, key: &str) -> String {
    format!(
        "e=$(getent group -- {k} 2>/dev/null | head -n 1) || e=\n\
         case ${{e%%:*}}:$e in {k}:?*) printf '%s %s\\n' {tag} \"$e\" ;; \
         *) case $e in *:*:{k}:*) printf '%s %s\\n' {tag} \"$e\" ;; esac ;; esac\n",
        k = quote(key),
        tag = quote(tag),
    )
}

fn lookup(db: &str, tag: &str, name: &str) -> String {
    format!(
        "e=$(getent {db} -- {n} 2>/dev/null | head -n 1) || e=\n\
         case ${{e%%:*}} in {n}) printf '%s %s\\n' {tag} \"$e\" ;; esac\n",
        n = quote(name),
        tag = quote(tag),
    )
}

/// The first line of `out` that starts with `TAG `, without the tag.
pub fn tagged<'a>(out: &'a str, tag: &str) -> Option<&'a str> {
    out.lines().find_map(|l| l.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')))
}

/// Every line of `out` that starts with `TAG `, without the tag.
pub fn all_tagged<'a>(out: &'a str, tag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    out.lines().filter_map(move |l| l.strip_prefix(tag).and_then(|r| r.strip_prefix(' ')))
}

/// A shell line that stops the script (exit 127) with Ansible's message
/// when `tool` is not installed.
pub fn require_tool(tool: &str) -> String {
    format!(
        "command -v {t} >/dev/null 2>&1 || {{ printf '%s\\n' 'Failed to find required executable \"{t}\" in paths' >&2; exit 127; }}\n",
        t = quote(tool)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modules::file_write::testing::run;

    #[test]
    fn entries_parse() {
        let p = Passwd::parse("svc:x:998:997:Service, the:/var/lib/svc:/usr/sbin/nologin\n").unwrap();
        assert_eq!(
            (p.uid, p.gid, p.comment.as_str(), p.shell.as_str()),
            (998, 997, "Service, the", "/usr/sbin/nologin")
        );
        assert!(Passwd::parse("broken:x:1").is_none());
        let g = Group::parse("adm:x:4:syslog,alice").unwrap();
        assert_eq!(g.members, ["syslog", "alice"]);
        assert!(Group::parse("empty:x:5:").unwrap().members.is_empty());
    }

    #[test]
    fn lookups_run_and_check_the_name() {
        let out =
            run(&format!("{}{}{}", passwd_lookup("P", "root"), group_lookup("G", "0"), group_lookup("H", "root")), b"");
        let text = out.stdout_text();
        assert_eq!(Passwd::parse(tagged(&text, "P").unwrap()).unwrap().uid, 0);
        assert_eq!(Group::parse(tagged(&text, "G").unwrap()).unwrap().name, "root");
        assert_eq!(Group::parse(tagged(&text, "H").unwrap()).unwrap().gid, 0);
        // A numeric name is looked up as a uid by getent; it must not match.
        let out = run(&passwd_lookup("P", "0"), b"");
        assert_eq!(out.stdout_text(), "");
        let out = run(&passwd_lookup("P", "no such 'user' $(x)"), b"");
        assert_eq!((out.status, out.stdout_text()), (0, String::new()));
    }
}
