//! The libpq password file (`passfile=`, `PGPASSFILE`, or `~/.pgpass`): whether it may be
//! used, and which line supplies the password, by libpq's rules.
//!
//! Each line is `hostname:port:database:username:password`; any of the first four may be `*`;
//! `\:` and `\\` escape a colon and a backslash; lines starting with `#` are comments; the
//! first matching line wins. A file that is not a plain file, or that its group or others can
//! read or write, is ignored with a warning, as libpq does.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The socket directories libpq treats as its default, which a password-file line names as
/// `localhost`.
const DEFAULT_SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/run/postgresql", "/tmp"];

/// What looking in the password file found.
#[derive(Debug, PartialEq, Eq)]
pub enum Lookup {
    /// A line matched: its password and 1-based line number.
    Found { password: String, line: usize },
    /// The file was read, and no line matches this connection.
    NoMatch,
    /// There is no such file.
    Missing,
    /// The file exists but was not used: the reason, for a warning.
    Ignored(String),
}

/// Looks up the password for a connection in the file at `path`.
pub fn lookup(path: &Path, host: &str, port: u16, dbname: &str, user: &str) -> Lookup {
    let meta = match fs::metadata(path) {
        Ok(m) => m,
        Err(_) => return Lookup::Missing,
    };
    if !meta.is_file() {
        return Lookup::Ignored(format!(
            "password file {} is not a plain file",
            path.display()
        ));
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Lookup::Ignored(format!(
            "password file {} has group or world access, so it is ignored; permissions should \
             be u=rw (0600) or less: chmod 0600 {}",
            path.display(),
            path.display()
        ));
    }
    match fs::read(path) {
        Ok(bytes) => match find(&String::from_utf8_lossy(&bytes), host, port, dbname, user) {
            Some((password, line)) => Lookup::Found { password, line },
            None => Lookup::NoMatch,
        },
        Err(e) => Lookup::Ignored(format!(
            "password file {} cannot be read: {}",
            path.display(),
            e.kind()
        )),
    }
}

/// The file libpq would read: `passfile=`, else `PGPASSFILE`, else `~/.pgpass`.
pub fn location(
    param: Option<&str>,
    pgpassfile: Option<&str>,
    home: Option<&Path>,
) -> Option<PathBuf> {
    param
        .filter(|p| !p.is_empty())
        .or(pgpassfile.filter(|p| !p.is_empty()))
        .map(PathBuf::from)
        .or_else(|| home.map(|h| h.join(".pgpass")))
}

/// The first line of `text` matching the connection: its password and line number.
pub fn find(
    text: &str,
    host: &str,
    port: u16,
    dbname: &str,
    user: &str,
) -> Option<(String, usize)> {
    let host = if host.starts_with('/') && DEFAULT_SOCKET_DIRS.contains(&host.trim_end_matches('/'))
    {
        "localhost"
    } else {
        host
    };
    let port = port.to_string();
    for (n, raw) in text.lines().enumerate() {
        let line = raw.trim_end_matches('\r');
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields = split_fields(line);
        if fields.len() < 5 {
            continue;
        }
        let matches =
            |i: usize, want: &str| fields[i].0 == "*" && !fields[i].1 || fields[i].0 == want;
        if matches(0, host) && matches(1, &port) && matches(2, dbname) && matches(3, user) {
            return Some((fields[4].0.clone(), n + 1));
        }
    }
    None
}

/// Splits a line at unescaped colons, removing the escapes. Each field comes with whether it
/// contained an escape (an escaped `\*` is a literal star, not a wildcard).
fn split_fields(line: &str) -> Vec<(String, bool)> {
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut escaped_any = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    field.push(n);
                    escaped_any = true;
                }
            }
            // The password is the rest of the line up to the next unescaped colon.
            ':' if fields.len() < 4 => {
                fields.push((std::mem::take(&mut field), escaped_any));
                escaped_any = false;
            }
            ':' => break,
            c => field.push(c),
        }
    }
    fields.push((field, escaped_any));
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = "# comment\n\
                        \n\
                        db.internal:5432:app:deployer:first\\:pw\n\
                        *:*:app:deployer:second\n\
                        localhost:*:*:*:socket\\\\pw\n\
                        *:*:*:*:catchall:ignored-extra\n";

    #[test]
    fn the_first_matching_line_wins() {
        assert_eq!(
            find(FILE, "db.internal", 5432, "app", "deployer"),
            Some(("first:pw".into(), 3))
        );
        assert_eq!(
            find(FILE, "db.internal", 6543, "app", "deployer"),
            Some(("second".into(), 4))
        );
        assert_eq!(
            find(FILE, "other", 5432, "x", "y"),
            Some(("catchall".into(), 6))
        );
    }

    #[test]
    fn the_default_socket_directory_is_localhost() {
        assert_eq!(
            find(FILE, "/var/run/postgresql", 5432, "x", "y"),
            Some(("socket\\pw".into(), 5))
        );
        assert_eq!(
            find("/srv/sock:*:*:*:p\n", "/srv/sock", 5432, "x", "y"),
            Some(("p".into(), 1))
        );
    }

    #[test]
    fn no_line_no_password() {
        assert_eq!(find("h:1:d:u:p\nshort:line\n", "h", 2, "d", "u"), None);
        assert_eq!(find("\\*:*:*:*:p\n", "h", 1, "d", "u"), None);
    }

    #[test]
    fn location_follows_libpq() {
        let home = Path::new("/home/x");
        assert_eq!(
            location(Some("/a"), Some("/b"), Some(home)),
            Some(PathBuf::from("/a"))
        );
        assert_eq!(
            location(None, Some("/b"), Some(home)),
            Some(PathBuf::from("/b"))
        );
        assert_eq!(
            location(None, Some(""), Some(home)),
            Some(PathBuf::from("/home/x/.pgpass"))
        );
        assert_eq!(location(None, None, None), None);
    }

    #[test]
    fn a_readable_by_others_file_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pgpass");
        fs::write(&path, "*:*:*:*:pw\n").unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(matches!(
            lookup(&path, "h", 1, "d", "u"),
            Lookup::Ignored(why) if why.contains("group or world access")
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        assert_eq!(
            lookup(&path, "h", 1, "d", "u"),
            Lookup::Found {
                password: "pw".into(),
                line: 1
            }
        );
        assert_eq!(
            lookup(&dir.path().join("none"), "h", 1, "d", "u"),
            Lookup::Missing
        );
        assert!(matches!(
            lookup(dir.path(), "h", 1, "d", "u"),
            Lookup::Ignored(why) if why.contains("not a plain file")
        ));
    }
}
