//! The migration folder (SPEC §5): discovering `<digits>_<name>.sql` files and their
//! `<stem>.down.sql` rollbacks, normalising and checksumming their contents, reading the
//! `-- sentry:no-transaction` directive, and creating the next numbered file for `new NAME`.
//!
//! Pure file-system code: nothing here talks to the database. Every problem in the folder is
//! collected (not just the first) and returned as one [`Error::MigrationSet`], each problem
//! naming its file.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result, SetProblem};

/// The UTF-8 byte order mark, stripped before checksumming (SPEC §5).
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Zero-padding of the numeric prefix that `new` uses in an empty folder.
pub const DEFAULT_PREFIX_WIDTH: usize = 4;

const NAMING_HINT: &str = "migrations are named <digits>_<name>.sql (e.g. 0001_create_users.sql), \
     the name using only letters, digits, '_' and '-'; its rollback is the same file name ending \
     in .down.sql (0001_create_users.down.sql)";

/// One migration file on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// The file stem, e.g. `0001_initial_schema`; what the tracking table records.
    pub version: String,
    /// The value of the numeric prefix; migrations are ordered by it.
    pub number: u64,
    /// The number of digits of the prefix as written (for `new`'s zero-padding).
    pub prefix_width: usize,
    /// The part of the stem after the first `_`.
    pub name: String,
    /// The file's path (the migrations folder joined with the file name).
    pub path: PathBuf,
    /// SHA-256, lowercase hex, of the normalised content (SPEC §5).
    pub checksum: String,
    /// `<version>.down.sql`, if that file exists.
    pub down_path: Option<PathBuf>,
    /// `-- sentry:no-transaction` appears among the leading comment lines.
    pub no_transaction: bool,
    /// The lint rules accepted by `-- sentry:allow RULE[, RULE]` in the leading comment lines
    /// (validated: each is a squawk rule name or `syntax-error`).
    pub allow: Vec<String>,
}

/// A migration's SQL, read when it is needed: discovery keeps only what planning uses (the
/// checksum, the directive), so that ten thousand applied migrations do not all sit in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    /// The file's content after stripping a UTF-8 BOM and turning CRLF into LF.
    pub sql: String,
    /// The normalised content of `<version>.down.sql`, if that file exists.
    pub down_sql: Option<String>,
}

impl Migration {
    /// Reads the migration's SQL (and its rollback) again, and checks that the file is still
    /// the one whose checksum was planned with.
    pub fn source(&self) -> Result<Source> {
        let sql = read_normalized(&self.path).map_err(Error::set)?;
        if checksum(sql.as_bytes()) != self.checksum {
            return Err(Error::set(
                SetProblem::file(
                    &self.path,
                    "the file changed while migration-sentry was running",
                )
                .with_hint("run again once the checkout is stable"),
            ));
        }
        let down_sql = match &self.down_path {
            Some(p) => Some(read_normalized(p).map_err(Error::set)?),
            None => None,
        };
        Ok(Source { sql, down_sql })
    }
}

/// Reads the migrations folder: every `<digits>_<name>.sql` file, sorted by number.
///
/// Fails with [`Error::MigrationSet`] listing every problem found: a missing or unreadable
/// folder, a badly named `*.sql` file (the extension is matched case-insensitively, so a
/// `0001_x.SQL` typo is reported instead of silently skipped), two files with the same number,
/// a `.down.sql` without its migration, an unreadable or non-UTF-8 file, an unknown
/// `-- sentry:` directive, a `*.sql` entry that is not a regular file (never opened). Other
/// files (README.md), hidden files (`.name`, which a shell's `*.sql` does not match either) and
/// subdirectories not named `*.sql` are ignored. An empty folder is valid.
pub fn discover(dir: &Path) -> Result<Vec<Migration>> {
    let entries = fs::read_dir(dir).map_err(|e| Error::set(folder_problem(dir, &e)))?;

    let mut problems = Vec::new();
    let mut migrations = Vec::new();
    // stem -> path of a readable rollback; pairing by hash keeps discovery O(n log n).
    let mut downs: HashMap<String, Option<PathBuf>> = HashMap::new();
    // Migrations already reported (bad name, unreadable): their rollback is not an orphan too.
    let mut failed_stems: HashSet<String> = HashSet::new();
    let mut to_read: Vec<ToRead> = Vec::new();

    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                problems.push(SetProblem::file(
                    dir,
                    format!("cannot list the migrations folder: {e}"),
                ));
                continue;
            }
        };
        let file_name = entry.file_name();
        // A name that is not UTF-8 gets U+FFFD here, which no valid name contains, so it is
        // reported as a bad name rather than skipped.
        let name = file_name.to_string_lossy();
        if name.starts_with('.') {
            continue;
        }
        let Some(kind) = classify(&name) else {
            continue;
        };
        let path = entry.path();
        // A `*.sql` entry that is not a regular file (a directory, a FIFO, a socket) would be
        // a migration silently skipped, or a read that never returns: refuse it unopened.
        if let Some(problem) = not_a_regular_file(&entry, &path) {
            problems.push(problem);
            if let FileKind::Up(stem) | FileKind::Down(stem) = kind {
                failed_stems.insert(stem.to_owned());
            }
            continue;
        }
        match kind {
            FileKind::WrongCase { expected } => problems.push(
                SetProblem::file(
                    &path,
                    format!("the extension must be lowercase: rename the file to {expected}"),
                )
                .with_hint(NAMING_HINT),
            ),
            FileKind::Down(stem) => to_read.push((path, stem.to_owned(), None)),
            FileKind::Up(stem) => match parse_stem(stem) {
                Ok((number, prefix_width, mig_name)) => to_read.push((
                    path,
                    stem.to_owned(),
                    Some((number, prefix_width, mig_name.to_owned())),
                )),
                Err(reason) => {
                    problems.push(
                        SetProblem::file(&path, format!("not a valid migration name: {reason}"))
                            .with_hint(NAMING_HINT),
                    );
                    failed_stems.insert(stem.to_owned());
                }
            },
        }
    }

    // Reading and hashing the files is most of discovery's time with a long history (10,000
    // files: mostly the kernel's opens and reads), and it parallelises.
    // Reading a small file costs a few microseconds: threads pay off from a few hundred.
    let read = par_map(&to_read, 256, |(path, _, _)| {
        read_normalized(path).map(|sql| {
            let mut found = Vec::new();
            let directives = directives(&sql, path, &mut found);
            (checksum(sql.as_bytes()), directives, found)
        })
    });
    for ((path, stem, up), read) in to_read.into_iter().zip(read) {
        let (sum, directives, found) = match read {
            Ok(parts) => parts,
            Err(p) => {
                problems.push(p);
                if up.is_none() {
                    downs.insert(stem.clone(), None);
                }
                failed_stems.insert(stem);
                continue;
            }
        };
        match up {
            // A rollback: checked now (readable, UTF-8), read again when its migration is
            // applied.
            None => {
                downs.insert(stem, Some(path));
            }
            Some((number, prefix_width, name)) => {
                problems.extend(found);
                migrations.push(Migration {
                    version: stem,
                    number,
                    prefix_width,
                    name,
                    checksum: sum,
                    path,
                    down_path: None,
                    no_transaction: directives.no_transaction,
                    allow: directives.allow,
                });
            }
        }
    }

    for m in &mut migrations {
        if let Some(path) = downs.remove(&m.version) {
            m.down_path = path;
        }
    }
    for (stem, path) in downs {
        let Some(path) = path.filter(|_| !failed_stems.contains(&stem)) else {
            continue;
        };
        problems.push(
            SetProblem::file(
                &path,
                format!("rollback file without a migration: there is no {stem}.sql beside it"),
            )
            .with_hint(
                "a rollback has its migration's file name with .down.sql instead of .sql \
                 (0001_create_users.down.sql beside 0001_create_users.sql), or delete it",
            ),
        );
    }

    migrations.sort_by(|a, b| (a.number, &a.version).cmp(&(b.number, &b.version)));
    // After sorting, files sharing a number are adjacent: no quadratic search needed.
    let mut first_of_number = 0;
    for i in 1..migrations.len() {
        if migrations[i].number != migrations[first_of_number].number {
            first_of_number = i;
            continue;
        }
        let (first, dup) = (&migrations[first_of_number], &migrations[i]);
        problems.push(
            SetProblem::file(
                &dup.path,
                format!(
                    "duplicate version number {}: {} and {} have the same numeric prefix",
                    dup.number,
                    first.path.display(),
                    dup.path.display()
                ),
            )
            .with_hint("give one of them the next free number (`migration-sentry new NAME`)"),
        );
    }

    if problems.is_empty() {
        Ok(migrations)
    } else {
        // read_dir order is arbitrary; a stable report is easier to read and to test.
        problems.sort_by(|a, b| a.file.cmp(&b.file).then(a.line.cmp(&b.line)));
        Err(Error::MigrationSet(problems))
    }
}

/// A file discovery reads: its path, its stem, and for a migration (not a rollback) its
/// number, prefix width and name.
type ToRead = (PathBuf, String, Option<(u64, usize, String)>);

/// `f` over `items`, results in order, on up to four threads when there are at least
/// `min_items` (below that, starting threads costs more than it saves).
pub(crate) fn par_map<T: Sync, R: Send>(
    items: &[T],
    min_items: usize,
    f: impl Fn(&T) -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
    if threads < 2 || items.len() < min_items.max(2) {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// SHA-256 of already-normalised bytes, as 64 lowercase hex digits.
pub fn checksum(normalized: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(normalized);
    // A nibble table rather than `write!("{:02x}")`: this runs for every file on every deploy.
    let mut hex = String::with_capacity(64);
    for b in digest.iter() {
        hex.push(char::from(HEX[usize::from(b >> 4)]));
        hex.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    hex
}

/// Strips a leading UTF-8 BOM and turns every CRLF into LF, so that a Windows checkout has
/// the same checksum as a Unix one. Borrows when there is nothing to change.
pub fn normalize(bytes: &[u8]) -> Cow<'_, [u8]> {
    let bytes = bytes.strip_prefix(BOM).unwrap_or(bytes);
    if !bytes.contains(&b'\r') {
        return Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut rest = bytes;
    while let Some(i) = rest.iter().position(|&b| b == b'\r') {
        out.extend_from_slice(&rest[..i]);
        if rest.get(i + 1) != Some(&b'\n') {
            // A lone CR is content, not a line ending.
            out.push(b'\r');
        }
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    Cow::Owned(out)
}

/// [`normalize`] on a buffer we own: in place, so discovery never copies a file twice.
fn normalize_owned(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.starts_with(BOM) {
        bytes.drain(..BOM.len());
    }
    if bytes.contains(&b'\r') {
        let mut w = 0;
        for r in 0..bytes.len() {
            if bytes[r] == b'\r' && bytes.get(r + 1) == Some(&b'\n') {
                continue;
            }
            bytes[w] = bytes[r];
            w += 1;
        }
        bytes.truncate(w);
    }
    bytes
}

/// The name `new` gives a migration, as sqlx does: every run of characters other than ASCII
/// letters, digits, `_` and `-` becomes one `_`, and none is left at either end
/// (`"add visitor session"` → `add_visitor_session`). Case is kept.
pub fn slugify(text: &str) -> String {
    let mut slug = String::with_capacity(text.len());
    let mut gap = false;
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            if gap && !slug.is_empty() {
                slug.push('_');
            }
            gap = false;
            slug.push(c);
        } else {
            gap = true;
        }
    }
    slug
}

/// `new NAME`: creates the next numbered, empty migration in `dir` and returns its path.
///
/// `NAME` is slugified ([`slugify`]). The number is the highest existing one plus one,
/// zero-padded to the widest existing prefix (4 digits in an empty folder; a missing folder is
/// created). An invalid folder fails as [`discover`] does. A name with nothing left to slugify,
/// or already used by another migration, is [`Error::Usage`]: the argument is wrong, not the
/// migration set, which stays valid (exit 6 would tell CI the folder is broken). An existing
/// file is never overwritten.
pub fn create_new(dir: &Path, name: &str) -> Result<PathBuf> {
    let name = slugify(name);
    if !is_valid_name(&name) {
        return Err(Error::Usage(
            "the migration name has no letters or digits: describe the change, e.g. \
             `migration-sentry new \"add users email\"`"
                .into(),
        ));
    }
    let existing = match fs::metadata(dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(dir).map_err(|e| {
                Error::env(format!(
                    "cannot create the migrations folder {}: {e}",
                    dir.display()
                ))
            })?;
            Vec::new()
        }
        _ => discover(dir)?,
    };
    // Two migrations with one name make `status`, logs and reviews ambiguous (which
    // add_users?); case is ignored, as on a case-insensitive checkout.
    if let Some(taken) = existing.iter().find(|m| m.name.eq_ignore_ascii_case(&name)) {
        return Err(Error::Usage(format!(
            "a migration named {} already exists: {}; pick a name that says what this one \
             changes",
            taken.name,
            taken.path.display()
        )));
    }
    let (number, width) = match existing.iter().map(|m| m.number).max() {
        None => (1, DEFAULT_PREFIX_WIDTH),
        Some(max) => {
            let next = max.checked_add(1).ok_or_else(|| {
                Error::set(SetProblem::general(format!(
                    "the highest migration number {max} has no successor"
                )))
            })?;
            let width = existing.iter().map(|m| m.prefix_width).max();
            (next, width.unwrap_or(DEFAULT_PREFIX_WIDTH))
        }
    };
    let version = format!("{number:0width$}_{name}");
    let path = dir.join(format!("{version}.sql"));
    let mut file = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            if e.kind() == io::ErrorKind::AlreadyExists {
                Error::set(SetProblem::file(
                    &path,
                    "already exists; refusing to overwrite it",
                ))
            } else {
                Error::env(format!("cannot create {}: {e}", path.display()))
            }
        })?;
    file.write_all(new_template(&version).as_bytes())
        .map_err(|e| Error::env(format!("cannot write {}: {e}", path.display())))?;
    Ok(path)
}

/// What `new` writes into a new migration: comments only, so that it cannot be applied
/// before its SQL is written (SPEC §5.2).
pub fn new_template(version: &str) -> String {
    format!("-- {version}: write the migration here; make it idempotent (IF NOT EXISTS).\n")
}

/// Whether `recorded` is the checksum of a migration that held no SQL when it was recorded:
/// an empty file, or the file `new` created, untouched. (Recorded by an older sentry, or
/// stamped.) Its SQL, written later, never ran.
pub fn recorded_while_empty(version: &str, recorded: &str) -> bool {
    recorded.eq_ignore_ascii_case(&checksum(b""))
        || recorded.eq_ignore_ascii_case(&checksum(new_template(version).as_bytes()))
}

/// What a `*.sql` file name is.
enum FileKind<'n> {
    /// A migration, with its stem (not yet validated).
    Up(&'n str),
    /// A `<stem>.down.sql` rollback, with the stem.
    Down(&'n str),
    /// `.SQL`, `.Down.sql`, …: a typo that must not silently skip a migration.
    WrongCase { expected: String },
}

/// Classifies a file name; `None` for anything that does not end in `.sql` (any case).
fn classify(name: &str) -> Option<FileKind<'_>> {
    let ends_ci = |suffix: &str| {
        name.len() >= suffix.len()
            && name.as_bytes()[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    if !ends_ci(".sql") {
        return None;
    }
    // Suffixes are ASCII, so these byte offsets are char boundaries.
    if ends_ci(".down.sql") {
        let stem = &name[..name.len() - ".down.sql".len()];
        if name.ends_with(".down.sql") {
            return Some(FileKind::Down(stem));
        }
        return Some(FileKind::WrongCase {
            expected: format!("{stem}.down.sql"),
        });
    }
    let stem = &name[..name.len() - ".sql".len()];
    if name.ends_with(".sql") {
        Some(FileKind::Up(stem))
    } else {
        Some(FileKind::WrongCase {
            expected: format!("{stem}.sql"),
        })
    }
}

/// What is wrong with `version` as the version (file stem) of a migration, if anything: a
/// tracking row whose version no migration file could have had was not written from one.
pub fn version_problem(version: &str) -> Option<String> {
    parse_stem(version).err()
}

/// Splits `<digits>_<name>` into (number, digit count, name), or says what is wrong.
fn parse_stem(stem: &str) -> std::result::Result<(u64, usize, &str), String> {
    let width = stem.bytes().take_while(u8::is_ascii_digit).count();
    if width == 0 {
        return Err("it does not start with a version number".into());
    }
    let Some(name) = stem[width..].strip_prefix('_') else {
        return Err("the version number must be followed by '_' and a name".into());
    };
    if !is_valid_name(name) {
        return Err(format!(
            "the name {name:?} may only contain letters, digits, '_' and '-'"
        ));
    }
    let number = stem[..width]
        .parse()
        .map_err(|_| format!("the version number {} is too large", &stem[..width]))?;
    Ok((number, width, name))
}

/// `[A-Za-z0-9_-]+`.
fn is_valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// What kind of thing a non-regular `*.sql` entry is, for the message.
fn file_type_name(t: fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else {
        "not a regular file"
    }
}

/// The problem of a `*.sql` entry that is not a regular file (through a symlink too), found
/// with `stat` alone: such an entry is never opened. A broken symlink is left to the read,
/// which reports it as unreadable. The directory listing's own type spares the `stat` of a
/// plain file (10,000 of them in a long history).
fn not_a_regular_file(entry: &fs::DirEntry, path: &Path) -> Option<SetProblem> {
    if entry.file_type().is_ok_and(|t| t.is_file()) {
        return None;
    }
    let meta = fs::metadata(path).ok()?;
    if meta.is_file() {
        return None;
    }
    Some(
        SetProblem::file(
            path,
            format!(
                "is {}, not a migration file: never read",
                file_type_name(meta.file_type())
            ),
        )
        .with_hint(
            "every *.sql entry of the migrations folder must be a regular file; rename or \
             remove this one",
        ),
    )
}

/// Reads a regular file, never blocking on a FIFO swapped in after discovery: the open does
/// not wait for a writer (`O_NONBLOCK`), and the opened handle must be a regular file.
fn read_regular(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other(format!(
            "it is {}",
            file_type_name(meta.file_type())
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    // Through `Take`, not `File::read_to_end`, which would `stat` and `lseek` the file again
    // for a size this function already has.
    (&mut file).take(u64::MAX).read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// Reads a file once and returns its normalised content, or the problem naming it.
fn read_normalized(path: &Path) -> std::result::Result<String, SetProblem> {
    let bytes = read_regular(path).map_err(|e| {
        SetProblem::file(path, format!("cannot read the file: {e}"))
            .with_hint("check the file's permissions")
    })?;
    String::from_utf8(normalize_owned(bytes)).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        // CRLF→LF and the BOM strip keep line numbers, so this is the line in the editor.
        let line = 1 + bytes[..valid].iter().filter(|&&b| b == b'\n').count();
        SetProblem::file(
            path,
            format!(
                "not valid UTF-8: byte 0x{:02x} on line {line}",
                bytes[valid]
            ),
        )
        .at_line(line)
        .with_hint("save the file as UTF-8")
    })
}

/// The `-- sentry:` directives of a migration.
#[derive(Debug, Default)]
struct Directives {
    no_transaction: bool,
    allow: Vec<String>,
}

/// Reads the `-- sentry:…` directives in the leading block of blank and `--` comment lines
/// (before the first statement). Returns whether `no-transaction` is among them; an unknown
/// directive or lint rule name is a problem (see [`directives`]). `rollback` reads a stored
/// rollback's directives with it too (`path` is then the name reports give that SQL).
pub fn leading_directives(sql: &str, path: &Path, problems: &mut Vec<SetProblem>) -> bool {
    directives(sql, path, problems).no_transaction
}

/// The `-- sentry:…` directives of the leading block: `no-transaction`, and `allow RULE[,
/// RULE]` (SPEC §5.5). An unknown directive or rule name is a problem, so a typo cannot
/// silently run `CREATE INDEX CONCURRENTLY` inside a transaction or accept nothing. Directives
/// later in the file are plain comments.
fn directives(sql: &str, path: &Path, problems: &mut Vec<SetProblem>) -> Directives {
    let mut found = Directives::default();
    for (i, line) in sql.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let Some(comment) = line.strip_prefix("--") else {
            break;
        };
        let Some(directive) = directive_of(comment) else {
            continue;
        };
        let word = directive.split_whitespace().next().unwrap_or("");
        if word.eq_ignore_ascii_case("no-transaction") {
            found.no_transaction = true;
        } else if word.eq_ignore_ascii_case("allow") {
            let names: Vec<&str> = directive[word.len()..]
                .split(|c: char| c == ',' || c.is_whitespace())
                .filter(|n| !n.is_empty())
                .collect();
            if names.is_empty() {
                problems.push(
                    SetProblem::file(path, "`sentry:allow` names no rule")
                        .at_line(i + 1)
                        .with_hint(ALLOW_HINT),
                );
            }
            for name in names {
                if crate::lint::rules::is_known(name) {
                    found.allow.push(name.to_string());
                } else {
                    problems.push(
                        SetProblem::file(
                            path,
                            format!("unknown lint rule `{name}` in `sentry:allow`"),
                        )
                        .at_line(i + 1)
                        .with_hint(ALLOW_HINT),
                    );
                }
            }
        } else {
            problems.push(
                SetProblem::file(path, format!("unknown directive `sentry:{word}`"))
                    .at_line(i + 1)
                    .with_hint(
                        "the directives are `-- sentry:no-transaction` and \
                         `-- sentry:allow RULE[, RULE]`",
                    ),
            );
        }
    }
    found
}

const ALLOW_HINT: &str = "write `-- sentry:allow RULE[, RULE]` with squawk's rule names \
     (e.g. changing-column-type) or syntax-error; docs/operations.md lists them";

/// `" sentry : no-transaction"` → `Some("no-transaction")`: the text of a comment after
/// `sentry` (any case) and a colon, spaces allowed around both.
fn directive_of(comment: &str) -> Option<&str> {
    let body = comment.trim_start();
    let keyword = body.get(..6)?;
    if !keyword.eq_ignore_ascii_case("sentry") {
        return None;
    }
    let rest = body[6..].trim_start().strip_prefix(':')?;
    Some(rest.trim_start())
}

/// The single problem for a migrations folder that cannot be listed.
fn folder_problem(dir: &Path, e: &io::Error) -> SetProblem {
    let hint = "pass --migrations-dir DIR or set SENTRY_MIGRATIONS_DIR (default: sql/migrations)";
    // A relative default resolves against the working directory, which differs between a
    // laptop and a deploy: say where we looked.
    let looked_in = if dir.is_relative() {
        std::env::current_dir()
            .map(|cwd| format!(" (looked in {})", cwd.join(dir).display()))
            .unwrap_or_default()
    } else {
        String::new()
    };
    let message = match e.kind() {
        io::ErrorKind::NotFound => {
            format!("migrations folder {} not found{looked_in}", dir.display())
        }
        io::ErrorKind::NotADirectory => {
            format!("migrations folder {} is not a directory", dir.display())
        }
        _ => format!("cannot read the migrations folder {}: {e}", dir.display()),
    };
    SetProblem {
        file: Some(dir.to_path_buf()),
        line: None,
        column: None,
        message,
        hint: Some(hint.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, content: &[u8]) {
        fs::write(dir.join(name), content).unwrap();
    }

    fn problems(err: Error) -> Vec<SetProblem> {
        match err {
            Error::MigrationSet(p) => p,
            other => panic!("expected a migration-set error, got {other:?}"),
        }
    }

    fn problems_of(dir: &Path) -> Vec<SetProblem> {
        problems(discover(dir).unwrap_err())
    }

    #[test]
    fn checksum_of_known_input() {
        assert_eq!(
            checksum(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(
            checksum(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn bom_and_crlf_do_not_change_the_checksum() {
        let lf = b"CREATE TABLE a (id int);\nSELECT 1;\n";
        let windows = b"\xEF\xBB\xBFCREATE TABLE a (id int);\r\nSELECT 1;\r\n";
        assert!(matches!(normalize(lf), Cow::Borrowed(_)));
        assert_eq!(normalize(windows).as_ref(), lf);
        assert_eq!(normalize_owned(windows.to_vec()), lf);
        assert_eq!(checksum(&normalize(windows)), checksum(lf));
        // A lone CR is content.
        assert_eq!(normalize(b"a\rb\r\n").as_ref(), b"a\rb\n");
        assert_eq!(normalize_owned(b"a\rb\r\n".to_vec()), b"a\rb\n");

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "0001_lf.sql", lf);
        write(dir.path(), "0002_windows.sql", windows);
        let ms = discover(dir.path()).unwrap();
        assert_eq!(ms[0].checksum, ms[1].checksum);
        assert_eq!(ms[1].source().unwrap().sql.as_bytes(), lf);
    }

    #[test]
    fn good_names_are_discovered_in_numeric_order() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "10_ten.sql", b"SELECT 10;");
        write(dir.path(), "0002_add-users_Email.sql", b"SELECT 2;");
        write(dir.path(), "9_nine.sql", b"SELECT 9;");
        write(dir.path(), "20240101120000_stamp.sql", b"SELECT 3;");
        let ms = discover(dir.path()).unwrap();
        let versions: Vec<_> = ms.iter().map(|m| m.version.as_str()).collect();
        assert_eq!(
            versions,
            [
                "0002_add-users_Email",
                "9_nine",
                "10_ten",
                "20240101120000_stamp"
            ]
        );
        let m = &ms[0];
        assert_eq!(m.number, 2);
        assert_eq!(m.prefix_width, 4);
        assert_eq!(m.name, "add-users_Email");
        assert_eq!(m.path, dir.path().join("0002_add-users_Email.sql"));
        assert_eq!(m.source().unwrap().sql, "SELECT 2;");
        assert_eq!(m.checksum, checksum(b"SELECT 2;"));
        assert_eq!(m.down_path, None);
        assert!(!m.no_transaction);
        assert_eq!(ms[3].number, 20240101120000);
    }

    #[test]
    fn bad_names_are_each_reported_with_their_file() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "1_bad name.sql",
            "abc.sql",
            "0001.sql",
            "0001_.sql",
            "0001-x.sql",
            "0001_a.b.sql",
            "99999999999999999999999_huge.sql",
        ] {
            write(dir.path(), name, b"SELECT 1;");
        }
        write(dir.path(), "0002_ok.sql", b"SELECT 1;");
        // Its migration is already reported: the rollback is not an orphan on top.
        write(dir.path(), "1_bad name.down.sql", b"SELECT 1;");
        let ps = problems_of(dir.path());
        assert_eq!(ps.len(), 7, "{ps:#?}");
        for p in &ps {
            let file = p.file.as_ref().unwrap();
            assert_eq!(file.parent(), Some(dir.path()));
            assert!(p.message.starts_with("not a valid migration name"), "{p}");
            assert!(p.hint.as_ref().unwrap().contains("<digits>_<name>.sql"));
        }
        assert!(
            ps.iter()
                .any(|p| p.message.contains("too large") && p.to_string().contains("_huge.sql"))
        );
    }

    #[test]
    fn uppercase_extension_is_caught_not_skipped() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "0001_x.SQL", b"SELECT 1;");
        write(dir.path(), "0002_y.sql", b"SELECT 1;");
        write(dir.path(), "0002_y.Down.sql", b"SELECT 1;");
        let ps = problems_of(dir.path());
        assert_eq!(ps.len(), 2, "{ps:#?}");
        assert_eq!(ps[0].file.as_deref(), Some(&*dir.path().join("0001_x.SQL")));
        assert!(ps[0].message.contains("rename the file to 0001_x.sql"));
        assert!(ps[1].message.contains("0002_y.down.sql"));
    }

    #[test]
    fn same_number_is_a_duplicate_naming_both_files() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "0005_a.sql", b"SELECT 1;");
        write(dir.path(), "005_b.sql", b"SELECT 1;");
        write(dir.path(), "0006_c.sql", b"SELECT 1;");
        let ps = problems_of(dir.path());
        assert_eq!(ps.len(), 1, "{ps:#?}");
        let text = ps[0].to_string();
        assert!(text.contains("duplicate version number 5"), "{text}");
        assert!(
            text.contains("0005_a.sql") && text.contains("005_b.sql"),
            "{text}"
        );
    }

    #[test]
    fn down_files_pair_with_their_migration() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "0001_a.sql", b"CREATE TABLE a ();");
        write(dir.path(), "0001_a.down.sql", b"DROP TABLE a;\r\n");
        write(dir.path(), "0002_b.sql", b"SELECT 1;");
        let ms = discover(dir.path()).unwrap();
        assert_eq!(ms.len(), 2);
        assert_eq!(
            ms[0].source().unwrap().down_sql.as_deref(),
            Some("DROP TABLE a;\n")
        );
        assert_eq!(ms[1].down_path, None);
    }

    #[test]
    fn orphan_down_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "0001_a.sql", b"SELECT 1;");
        write(dir.path(), "0001_b.down.sql", b"SELECT 1;");
        let ps = problems_of(dir.path());
        assert_eq!(ps.len(), 1);
        assert_eq!(
            ps[0].file.as_deref(),
            Some(&*dir.path().join("0001_b.down.sql"))
        );
        assert!(ps[0].message.contains("no 0001_b.sql"));
    }

    #[test]
    fn other_files_hidden_files_and_subdirectories_are_ignored() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "README.md", b"\xff not utf-8 either");
        write(dir.path(), "notes.txt", b"x");
        write(dir.path(), ".0001_hidden.sql", b"x");
        write(dir.path(), "._0001_a.sql", b"\xff");
        fs::create_dir(dir.path().join("old")).unwrap();
        write(&dir.path().join("old"), "bad name.sql", b"x");
        write(dir.path(), "0001_a.sql", b"SELECT 1;");
        let ms = discover(dir.path()).unwrap();
        assert_eq!(ms.len(), 1);
        assert_eq!(ms[0].version, "0001_a");
    }

    #[test]
    fn non_utf8_reports_the_line_of_the_first_bad_byte() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "0001_a.sql",
            b"\xEF\xBB\xBF-- ok\r\nSELECT 1;\r\nSELECT '\xe9t\xe9';\n",
        );
        write(dir.path(), "0001_a.down.sql", b"\xff");
        write(dir.path(), "0002_b.sql", b"SELECT 2;");
        let ps = problems_of(dir.path());
        assert_eq!(ps.len(), 2, "{ps:#?}");
        assert_eq!(
            ps[0].file.as_deref(),
            Some(&*dir.path().join("0001_a.down.sql"))
        );
        assert_eq!(ps[0].line, Some(1));
        assert_eq!(ps[1].file.as_deref(), Some(&*dir.path().join("0001_a.sql")));
        assert_eq!(ps[1].line, Some(3));
        assert!(ps[1].to_string().contains("0001_a.sql:3: not valid UTF-8"));
    }

    #[cfg(unix)]
    #[test]
    fn unreadable_file_is_reported() {
        use std::os::unix::fs::symlink;
        let dir = tempfile::tempdir().unwrap();
        symlink(dir.path().join("nowhere"), dir.path().join("0001_a.sql")).unwrap();
        let ps = problems_of(dir.path());
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].file.as_deref(), Some(&*dir.path().join("0001_a.sql")));
        assert!(ps[0].message.starts_with("cannot read the file"));
    }

    #[test]
    fn sql_entries_that_are_not_regular_files_are_refused_unopened() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("0005_x.sql")).unwrap();
        fs::create_dir(dir.path().join("archive.sql")).unwrap();
        let fifo = dir.path().join("0006_y.sql");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(made.success());
        std::os::unix::fs::symlink(dir.path().join("0005_x.sql"), dir.path().join("0007_z.sql"))
            .unwrap();
        write(dir.path(), "0001_a.sql", b"SELECT 1;");
        // Returns at once: a FIFO opened for reading would wait for a writer forever.
        let ps = problems_of(dir.path());
        assert_eq!(ps.len(), 4, "{ps:#?}");
        let text: Vec<String> = ps.iter().map(|p| p.to_string()).collect();
        assert!(text[0].contains("0005_x.sql: is a directory"), "{text:?}");
        assert!(text[1].contains("0006_y.sql: is a FIFO"), "{text:?}");
        assert!(text[2].contains("0007_z.sql: is a directory"), "{text:?}");
        assert!(text[3].contains("archive.sql: is a directory"), "{text:?}");
        assert!(ps[0].hint.as_ref().unwrap().contains("regular file"));
        // The same for a FIFO read directly (as a swap after discovery would be).
        let err = read_normalized(&fifo).unwrap_err();
        assert!(err.message.contains("FIFO"), "{err}");
    }

    #[test]
    fn empty_folder_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        assert!(discover(dir.path()).unwrap().is_empty());
    }

    #[test]
    fn missing_folder_is_one_clear_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("sql/migrations");
        let ps = problems_of(&missing);
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].file.as_deref(), Some(&*missing));
        assert!(ps[0].message.contains("not found"));
        let hint = ps[0].hint.as_ref().unwrap();
        assert!(hint.contains("--migrations-dir") && hint.contains("SENTRY_MIGRATIONS_DIR"));

        let file = dir.path().join("file");
        write(dir.path(), "file", b"");
        let ps = problems_of(&file);
        assert_eq!(ps.len(), 1);
        assert!(ps[0].message.contains("not a directory"), "{}", ps[0]);
    }

    #[test]
    fn every_problem_is_listed_not_just_the_first() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "abc.sql", b"");
        write(dir.path(), "0001_a.SQL", b"");
        write(dir.path(), "0002_b.sql", b"\xff");
        write(dir.path(), "0003_c.down.sql", b"");
        assert_eq!(problems_of(dir.path()).len(), 4);
    }

    #[test]
    fn source_is_read_again_and_must_still_match_the_checksum() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "0001_a.sql",
            b"\xEF\xBB\xBFCREATE TABLE a ();\r\n",
        );
        write(dir.path(), "0001_a.down.sql", b"DROP TABLE a;");
        let ms = discover(dir.path()).unwrap();
        let src = ms[0].source().unwrap();
        assert_eq!(src.sql, "CREATE TABLE a ();\n");
        assert_eq!(src.down_sql.as_deref(), Some("DROP TABLE a;"));
        write(dir.path(), "0001_a.sql", b"CREATE TABLE b ();");
        let err = ms[0].source().unwrap_err();
        assert!(
            err.to_string()
                .contains("changed while migration-sentry was running"),
            "{err}"
        );
    }

    #[test]
    fn no_transaction_directive_in_the_leading_comments() {
        let cases: &[(&str, bool)] = &[
            (
                "-- sentry:no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);",
                true,
            ),
            (
                "\n-- add an index\n\n  --SENTRY:No-Transaction\nCREATE INDEX;",
                true,
            ),
            (
                "-- sentry : no-transaction   (concurrent index)\nSELECT 1;",
                true,
            ),
            ("-- sentry: no-transaction\r\nSELECT 1;", true),
            ("SELECT 1;\n-- sentry:no-transaction\n", false),
            ("-- header\nSELECT 1;\n-- sentry:no-transaction\n", false),
            ("-- sentry is watching\nSELECT 1;", false),
            ("-- sentry:no-transactions\n", false),
            ("", false),
        ];
        for (i, (sql, expected)) in cases.iter().enumerate() {
            let dir = tempfile::tempdir().unwrap();
            write(dir.path(), "0001_a.sql", sql.as_bytes());
            match discover(dir.path()) {
                Ok(ms) => assert_eq!(ms[0].no_transaction, *expected, "case {i}: {sql:?}"),
                Err(e) => assert!(!expected, "case {i}: {e}"),
            }
        }
    }

    #[test]
    fn directive_only_counts_in_the_migration_not_the_rollback() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "0001_a.sql", b"SELECT 1;");
        write(
            dir.path(),
            "0001_a.down.sql",
            b"-- sentry:no-transaction\nSELECT 1;",
        );
        assert!(!discover(dir.path()).unwrap()[0].no_transaction);
    }

    #[test]
    fn unknown_directive_is_a_problem_with_its_line() {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "0001_a.sql",
            b"-- hello\n-- sentry:no_transaction\nSELECT 1;",
        );
        let ps = problems_of(dir.path());
        assert_eq!(ps.len(), 1);
        assert_eq!(ps[0].line, Some(2));
        assert!(ps[0].message.contains("sentry:no_transaction"));
    }

    #[test]
    fn create_new_in_an_empty_or_missing_folder_uses_four_digits() {
        let dir = tempfile::tempdir().unwrap();
        let path = create_new(dir.path(), "initial").unwrap();
        assert_eq!(path, dir.path().join("0001_initial.sql"));
        let content = fs::read_to_string(&path).unwrap();
        assert_eq!(
            content,
            "-- 0001_initial: write the migration here; make it idempotent (IF NOT EXISTS).\n"
        );
        // The created file is itself a valid migration.
        assert_eq!(discover(dir.path()).unwrap()[0].version, "0001_initial");

        let missing = dir.path().join("db/migrations");
        let path = create_new(&missing, "x").unwrap();
        assert_eq!(path, missing.join("0001_x.sql"));
    }

    #[test]
    fn create_new_keeps_the_existing_padding() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "001_a.sql", b"");
        assert_eq!(
            create_new(dir.path(), "x").unwrap(),
            dir.path().join("002_x.sql")
        );

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "20240101120000_a.sql", b"");
        assert_eq!(
            create_new(dir.path(), "x").unwrap(),
            dir.path().join("20240101120001_x.sql")
        );

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "9_a.sql", b"");
        write(dir.path(), "0003_b.sql", b"");
        assert_eq!(
            create_new(dir.path(), "x").unwrap(),
            dir.path().join("0010_x.sql")
        );

        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "999_a.sql", b"");
        assert_eq!(
            create_new(dir.path(), "x").unwrap(),
            dir.path().join("1000_x.sql")
        );
    }

    #[test]
    fn slugify_joins_words_with_underscores() {
        assert_eq!(slugify("add visitor session"), "add_visitor_session");
        assert_eq!(slugify("  Add  users' e-mail!  "), "Add_users_e-mail");
        assert_eq!(slugify("a.b/c"), "a_b_c");
        assert_eq!(slugify("add_users"), "add_users");
        assert_eq!(slugify("café au lait"), "caf_au_lait");
        assert_eq!(slugify("!?"), "");
    }

    #[test]
    fn create_new_slugifies_and_refuses_a_used_or_empty_name() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(
            create_new(dir.path(), "add visitor session").unwrap(),
            dir.path().join("0001_add_visitor_session.sql")
        );
        for taken in [
            "add visitor session",
            "add_visitor_session",
            "Add Visitor Session",
        ] {
            let err = create_new(dir.path(), taken).unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{taken:?}: {err:?}");
            assert!(
                err.to_string()
                    .contains("a migration named add_visitor_session already exists"),
                "{err}"
            );
        }
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
        // Another name, and a name that merely contains the used one, are fine.
        assert_eq!(
            create_new(dir.path(), "add visitor session index").unwrap(),
            dir.path().join("0002_add_visitor_session_index.sql")
        );
    }

    #[test]
    fn create_new_rejects_empty_names_and_invalid_folders() {
        let dir = tempfile::tempdir().unwrap();
        for bad in ["", "  ", "!?", "é"] {
            let err = create_new(dir.path(), bad).unwrap_err();
            assert!(matches!(err, Error::Usage(_)), "{bad:?}: {err:?}");
        }
        assert!(fs::read_dir(dir.path()).unwrap().next().is_none());

        write(dir.path(), "abc.sql", b"");
        let err = create_new(dir.path(), "x").unwrap_err();
        assert!(matches!(err, Error::MigrationSet(_)));
    }
}
