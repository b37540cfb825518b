//! The foundation, end to end through the real binary: environment validation (`check-env`),
//! `ping`, every connection failure class (exit 4), every sslmode against a TLS cluster,
//! `--wait` against a server that starts late, and secrets that never reach the output.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::thread;
use std::time::Duration;

use common::{Cluster, ClusterOptions, cluster, encode, free_port, run, sentry};

/// Runs the binary with `DATABASE_URL` set (no other configuration), in a temp dir.
fn with_url(url: &str, args: &[&str]) -> common::Outcome {
    let dir = tempfile::tempdir().unwrap();
    run(sentry()
        .current_dir(dir.path())
        .env("DATABASE_URL", url)
        .args(args))
}

#[test]
fn check_env_lists_every_malformed_url_problem_with_exit_3() {
    // (DATABASE_URL value, a fragment the message must contain)
    let cases: &[(&str, &str)] = &[
        ("", "empty"),
        ("   ", "whitespace"),
        (" postgres://app:Secr3tPw@db/x", "whitespace"),
        ("postgres://app:Secr3tPw@db/x\n", "whitespace"),
        ("\"postgres://app:Secr3tPw@db/x\"", "quotes"),
        ("'postgres://app:Secr3tPw@db/x'", "quotes"),
        ("mysql://app:Secr3tPw@db/x", "scheme"),
        ("https://app:Secr3tPw@db/x", "scheme"),
        (
            "postgres://app:Secr3tPw@db:port/x",
            "port \"port\" is not a number",
        ),
        (
            "postgres://app:Secr3tPw@db:70000/x",
            "port \"70000\" is not a number",
        ),
        ("postgres://app:Secr3tPw@/x", "no host"),
        ("postgres://app:Secr3tPw@db", "no database"),
        ("postgres://app:Secr3tPw@db/", "no database"),
        (
            "postgres://app:Secr3tPw@db/x?sslmode=sometimes",
            "unknown sslmode",
        ),
        (
            "postgres://app:Secr3tPw@db/x?sslmod=require",
            "unknown connection parameter",
        ),
        ("postgres://app:Secr#3tPw@db/x", "percent-encode"),
        (
            "postgres://app:Secr3tPw@db/x?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
            "sslrootcert",
        ),
        ("just some words", "neither"),
        (
            "host=db user=app password='Secr3tPw dbname=x",
            "unterminated",
        ),
        ("host=db user=app password=Secr3tPw", "no database"),
        (
            "host=db user=app password=Secr3tPw dbname=x port=abc",
            "port",
        ),
        (
            "host=db user=app password=Secr3tPw dbname=x sslmode=on",
            "unknown sslmode",
        ),
    ];
    for (url, expect) in cases {
        let out = with_url(url, &["check-env"]);
        assert_eq!(out.code, 3, "{url:?}:\n{}", out.all());
        assert!(
            out.stderr.contains(expect),
            "{url:?}: expected {expect:?} in\n{}",
            out.stderr
        );
        assert!(
            !out.all().contains("Secr3tPw"),
            "{url:?} leaked the password:\n{}",
            out.all()
        );
        assert!(
            !out.all().contains("Secr%233tPw"),
            "{url:?} leaked the password"
        );
        assert!(
            out.stderr
                .trim_end()
                .ends_with("=== MIGRATION SENTRY: FAILED (exit 3: environment invalid) ==="),
            "{}",
            out.stderr
        );
    }
}

#[test]
fn check_env_reports_all_problems_at_once_and_needs_no_network() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(sentry()
        .current_dir(dir.path())
        .env("DATABASE_URL", "postgres://app:pw9999@/?sslmode=maybe")
        .env("SENTRY_REQUIRE_ENV", "FLASK_APP,SECRET_KEY")
        .env("SECRET_KEY", "")
        .arg("check-env"));
    out.assert_code(3);
    for fragment in [
        "no host",
        "no database",
        "unknown sslmode",
        "FLASK_APP is not set",
        "SECRET_KEY is empty",
    ] {
        assert!(
            out.stderr.contains(fragment),
            "missing {fragment:?}:\n{}",
            out.stderr
        );
    }
    // A URL to a port where nothing listens is fine for check-env: it never connects.
    let url = format!("postgres://app:pw9999@127.0.0.1:{}/db", free_port());
    let out = with_url(&url, &["check-env"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("[sentry] env OK: DATABASE_URL"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("postgres://app:****@127.0.0.1"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("pw9999"));
}

#[test]
fn missing_database_url_is_exit_3_and_usage_errors_are_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(sentry().current_dir(dir.path()).arg("ping"));
    out.assert_code(3);
    assert!(out.stderr.contains("DATABASE_URL is not set"));
    let out = run(sentry().args(["ping", "--wait", "soon"]));
    out.assert_code(2);
    assert!(
        out.stderr.contains("FAILED (exit 2: usage error)"),
        "{}",
        out.stderr
    );
    run(sentry().arg("no-such-command")).assert_code(2);
    run(sentry().args(["status", "--dry-run"])).assert_code(2);
}

#[test]
fn help_lists_exit_codes_and_never_shows_environment_values() {
    let out = run(sentry()
        .env("DATABASE_URL", "postgres://app:HelpSecret77@db/x")
        .env("SENTRY_TABLE", "visible_table_value")
        .arg("--help"));
    out.assert_code(0);
    assert!(out.stdout.contains("[env: DATABASE_URL]"), "{}", out.stdout);
    assert!(!out.all().contains("HelpSecret77"));
    assert!(!out.all().contains("visible_table_value"));
    for line in [
        "3  environment invalid",
        "4  database unreachable",
        "9  migrations are pending",
    ] {
        assert!(out.stdout.contains(line), "{line:?} not in --help");
    }
}

#[test]
fn ping_prints_the_markers_and_server_facts() {
    let db = cluster().create_db();
    let out = with_url(&db.url(), &["ping"]);
    out.assert_code(0);
    assert!(
        out.stderr
            .starts_with("=== MIGRATION SENTRY 0.1.0: starting ==="),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("[sentry] env OK: DATABASE_URL"));
    assert!(out.stderr.contains(&format!(
        "[sentry] DB (redacted): postgresql://app:****@127.0.0.1:{}/{}",
        db.port, db.name
    )));
    assert!(
        out.stderr
            .contains(&format!("[sentry] DB OK: {}, PostgreSQL ", db.name)),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("no TLS"));
    assert!(
        out.stderr
            .trim_end()
            .ends_with("=== MIGRATION SENTRY: success ===")
    );
    assert!(out.stdout.contains(&format!("database: {}", db.name)));
    assert!(out.stdout.contains("latency:"));
    assert!(!out.all().contains(&db.cluster.password("app")));

    let out = with_url(&db.url(), &["ping", "--format", "json"]);
    out.assert_code(0);
    let v: serde_json::Value = serde_json::from_str(out.stdout.trim()).unwrap();
    assert_eq!(v["database"], db.name.as_str());
    assert_eq!(v["tls"], false);
    assert!(v["latency_ms"].is_u64());
}

#[test]
fn unknown_host_is_exit_4() {
    let out = with_url(
        "postgres://app:pw4321@no-such-host.invalid:5432/db",
        &["ping"],
    );
    out.assert_code(4);
    assert!(
        out.stderr.contains("unknown host \"no-such-host.invalid\""),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("target: postgres://app:****@no-such-host.invalid:5432/db")
    );
    assert!(
        out.stderr
            .trim_end()
            .ends_with("FAILED (exit 4: database unreachable) ===")
    );
}

#[test]
fn connection_refused_is_exit_4() {
    let out = with_url(
        &format!("postgres://app:pw4321@127.0.0.1:{}/db", free_port()),
        &["ping"],
    );
    out.assert_code(4);
    assert!(out.stderr.contains("connection refused"), "{}", out.stderr);
    assert!(
        out.stderr.contains("--wait"),
        "the hint should mention --wait:\n{}",
        out.stderr
    );
}

#[test]
fn a_server_that_accepts_but_never_answers_is_a_connect_timeout() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    // Accept and hold connections without ever answering.
    thread::spawn(move || {
        let mut held = Vec::new();
        for mut s in listener.incoming().flatten() {
            let mut buf = [0u8; 64];
            let _ = s.set_read_timeout(Some(Duration::from_millis(10)));
            let _ = s.read(&mut buf);
            held.push(s);
        }
    });
    let out = with_url(
        &format!("postgres://app:pw4321@127.0.0.1:{port}/db?sslmode=disable"),
        &["ping", "--connect-timeout", "1s"],
    );
    out.assert_code(4);
    assert!(out.stderr.contains("connect timeout"), "{}", out.stderr);
}

#[test]
fn wrong_password_is_exit_4_and_not_retried() {
    let db = cluster().create_db();
    let url = db.url_with(
        "app",
        Some("wrong-Passw0rd!"),
        "127.0.0.1",
        "sslmode=disable",
    );
    let out = with_url(&url, &["ping", "--wait", "30s"]);
    out.assert_code(4);
    assert!(
        out.stderr
            .contains("authentication failed for user \"app\""),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("retrying"),
        "a wrong password must not be retried:\n{}",
        out.stderr
    );
    assert!(!out.all().contains("wrong-Passw0rd!"));
    assert!(!out.all().contains(&encode("wrong-Passw0rd!")));
}

#[test]
fn missing_database_is_exit_4() {
    let db = cluster().create_db();
    let mut url = db.url();
    url = url.replace(&format!("/{}?", db.name), "/no_such_database?");
    let out = with_url(&url, &["ping"]);
    out.assert_code(4);
    assert!(
        out.stderr
            .contains("database \"no_such_database\" does not exist"),
        "{}",
        out.stderr
    );
}

#[test]
fn every_sslmode_against_the_tls_cluster() {
    let db = cluster().create_db();
    // require: encrypted, not verified.
    let url = db.url_with(
        "app",
        Some(&db.cluster.password("app")),
        "127.0.0.1",
        "sslmode=require",
    );
    let out = with_url(&url, &["ping", "--format", "json"]);
    out.assert_code(0);
    assert!(out.stdout.contains("\"tls\":true"), "{}", out.stdout);
    // prefer (the default) uses TLS when the server offers it.
    let url = db.url_with("app", Some(&db.cluster.password("app")), "127.0.0.1", "");
    let out = with_url(&url, &["ping"]);
    out.assert_code(0);
    assert!(out.stderr.contains(", TLS, "), "{}", out.stderr);
    // disable: plaintext.
    let out = with_url(&db.url(), &["ping"]);
    out.assert_code(0);
    assert!(out.stderr.contains("no TLS"));
    // verify-full with the test CA and the certificate's host name.
    with_url(&db.url_tls("localhost", "verify-full"), &["ping"]).assert_code(0);
    // verify-ca checks the chain only: the IP address is fine.
    with_url(&db.url_tls("127.0.0.1", "verify-ca"), &["ping"]).assert_code(0);
    // verify-full with a host name the certificate does not carry.
    let out = with_url(&db.url_tls("127.0.0.1", "verify-full"), &["ping", "-v"]);
    out.assert_code(4);
    assert!(
        out.stderr.contains("does not match the host name"),
        "{}",
        out.stderr
    );
    // verify-ca against a CA that did not sign the server certificate.
    let other = db.cluster.other_ca_cert_path();
    let url = db.url_with(
        "app",
        Some(&db.cluster.password("app")),
        "localhost",
        &format!(
            "sslmode=verify-ca&sslrootcert={}",
            encode(&other.to_string_lossy())
        ),
    );
    let out = with_url(&url, &["ping"]);
    out.assert_code(4);
    assert!(out.stderr.contains("not trusted"), "{}", out.stderr);
    // verify-full without sslrootcert: the system store does not know the test CA.
    let url = db.url_with(
        "app",
        Some(&db.cluster.password("app")),
        "localhost",
        "sslmode=verify-full",
    );
    let out = with_url(&url, &["ping"]);
    out.assert_code(4);
    assert!(out.stderr.contains("TLS failure"), "{}", out.stderr);
    // require with sslrootcert behaves as verify-ca (libpq), so the other CA fails.
    let url = db.url_with(
        "app",
        Some(&db.cluster.password("app")),
        "localhost",
        &format!(
            "sslmode=require&sslrootcert={}",
            encode(&other.to_string_lossy())
        ),
    );
    with_url(&url, &["ping"]).assert_code(4);
}

#[test]
fn plaintext_refused_by_pg_hba_names_sslmode() {
    let db = cluster().create_db();
    let url = db.url_with(
        "tlsonly",
        Some(common::TLSONLY_PASSWORD),
        "127.0.0.1",
        "sslmode=disable",
    );
    let out = with_url(&url, &["ping"]);
    out.assert_code(4);
    assert!(
        out.stderr.contains("rejected the connection"),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("sslmode=require"), "{}", out.stderr);
    let url = db.url_with(
        "tlsonly",
        Some(common::TLSONLY_PASSWORD),
        "127.0.0.1",
        "sslmode=require",
    );
    with_url(&url, &["ping"]).assert_code(0);
}

#[test]
fn require_against_a_server_without_tls_is_exit_4() {
    let plain = Cluster::new(ClusterOptions {
        tls: false,
        start: true,
    });
    let db = plain.create_db();
    let url = db.url_with(
        "app",
        Some(&plain.password("app")),
        "127.0.0.1",
        "sslmode=require",
    );
    let out = with_url(&url, &["ping"]);
    out.assert_code(4);
    assert!(
        out.stderr.contains("does not support TLS"),
        "{}",
        out.stderr
    );
    // prefer falls back to plaintext.
    let url = db.url_with(
        "app",
        Some(&plain.password("app")),
        "127.0.0.1",
        "sslmode=prefer",
    );
    let out = with_url(&url, &["ping"]);
    out.assert_code(0);
    assert!(out.stderr.contains("no TLS"));
}

#[test]
fn wait_retries_until_a_late_server_listens() {
    let late = Cluster::new(ClusterOptions {
        tls: false,
        start: false,
    });
    let port = late.port();
    let url = format!("postgresql://postgres@127.0.0.1:{port}/postgres?sslmode=disable");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let child = common::spawn_group(
        sentry()
            .current_dir(dir.path())
            .env("DATABASE_URL", &url)
            .args(["ping", "--wait", "60s"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::fs::File::create(&log).unwrap()),
    );
    // The server starts once the sentry has found it down and said it retries.
    let retrying = common::wait_until(Duration::from_secs(30), || {
        std::fs::read_to_string(&log).unwrap().contains("retrying")
    });
    late.start();
    let out = child.wait_with_output();
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(retrying, "{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("database not ready"), "{stderr}");
    assert!(stderr.contains("retrying"), "{stderr}");
    assert!(stderr.contains("DB OK: postgres"), "{stderr}");
}

#[test]
fn without_wait_a_down_server_fails_at_once() {
    let url = format!("postgresql://postgres@127.0.0.1:{}/postgres", free_port());
    let out = with_url(&url, &["ping"]);
    out.assert_code(4);
    assert!(!out.stderr.contains("retrying"));
}

/// A small deterministic generator (xorshift64*); the seed is printed so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn random_password(rng: &mut Rng) -> String {
    const SPECIAL: &[char] = &['@', ':', '/', '?', '#', '%', '\'', '"', '\\', ' ', '&', '='];
    const PLAIN: &[u8] = b"abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let len = 10 + rng.below(14);
    let mut pw = String::new();
    for i in 0..len {
        // At least every third character is special, and the first two are plain letters so
        // that the password never starts with whitespace.
        if i >= 2 && (i % 3 == 0 || rng.below(3) == 0) {
            pw.push(SPECIAL[rng.below(SPECIAL.len())]);
        } else {
            pw.push(PLAIN[rng.below(PLAIN.len())] as char);
        }
    }
    pw.push('Z');
    pw
}

/// libpq key=value quoting.
fn kv_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[test]
fn random_passwords_never_reach_any_output() {
    let seed = std::env::var("SENTRY_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    println!("seed {seed} (set SENTRY_TEST_SEED to replay)");
    let mut rng = Rng(seed);
    let c = cluster();
    let role = c.create_role("initial-pw-000");
    let db = c.create_db();
    db.execute(&format!("GRANT CONNECT ON DATABASE {} TO {role}", db.name));
    let dir = tempfile::tempdir().unwrap();
    for i in 0..200 {
        let pw = random_password(&mut rng);
        let enc = encode(&pw);
        let forms = [
            pw.clone(),
            enc.clone(),
            enc.to_lowercase(),
            url::form_urlencoded::byte_serialize(pw.as_bytes()).collect::<String>(),
            kv_quote(&pw),
        ];
        // Half the time the role really has this password (success and late failures);
        // otherwise it is a wrong password (authentication failure).
        let real = i % 2 == 0;
        if real {
            c.set_password(&role, &pw);
        }
        let url = db.url_with(&role, Some(&pw), "127.0.0.1", "sslmode=disable");
        let args: &[&str] = match rng.below(7) {
            6 => &["ping", "-vv"],
            0 => &["ping"],
            1 => &["ping", "--format", "json"],
            2 => &["check-env", "-vv"],
            3 => &["status", "--migrations-dir", "no-such-folder"],
            4 => &["ping", "-vv", "--table", "bad name!"],
            _ => &["verify", "--require", "t.c"],
        };
        let mut urls = vec![url.clone()];
        // Broken variants: bad port, missing database, key=value form, raw unencoded password.
        match rng.below(4) {
            0 => urls.push(url.replace(&format!(":{}/", db.port), ":notaport/")),
            1 => urls.push(url.replace(&format!("/{}?", db.name), "/missing_db?")),
            2 => urls.push(format!(
                "host=127.0.0.1 port={} user={role} password={} dbname={} sslmode=disable",
                db.port,
                kv_quote(&pw),
                db.name
            )),
            _ => urls.push(format!(
                "postgres://{role}:{pw}@127.0.0.1:{}/{}",
                db.port, db.name
            )),
        }
        for u in &urls {
            let out = run(sentry()
                .current_dir(dir.path())
                .env("DATABASE_URL", u)
                .args(args));
            let all = out.all();
            for form in &forms {
                assert!(
                    !all.contains(form.as_str()),
                    "seed {seed}, iteration {i}: output of {args:?} contains the password \
                     (as {form:?}); exit {}\n{all}",
                    out.code
                );
            }
            // check-env never connects, so only the other commands prove authentication.
            if args[0] != "check-env" {
                assert!(
                    out.code != 0 || real,
                    "seed {seed}: a wrong password connected\n{all}"
                );
            }
        }
    }
}

/// Output with the run-to-run noise taken out: durations (`12 ms`, `"duration_ms":12`).
/// Nothing else is touched, so a password leaking anywhere still shows.
fn without_timings(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut digits = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        if !digits.is_empty() {
            let rest: String = std::iter::once(c).chain(chars.clone().take(2)).collect();
            let json_ms = out.ends_with("_ms\":");
            if rest == " ms" || json_ms {
                out.push('N');
            } else {
                out.push_str(&digits);
            }
            digits.clear();
        }
        out.push(c);
    }
    if !digits.is_empty() {
        out.push_str(if out.ends_with("_ms\":") {
            "N"
        } else {
            &digits
        });
    }
    out
}

/// Writes `files` (name, SQL) into `dir/name` and returns the folder.
fn folder(dir: &std::path::Path, name: &str, files: &[(&str, &str)]) -> String {
    let path = dir.join(name);
    std::fs::create_dir_all(&path).unwrap();
    for (file, sql) in files {
        std::fs::write(path.join(file), sql).unwrap();
    }
    path.to_string_lossy().into_owned()
}

/// Passwords drawn from the words the sentry prints itself — markers, JSON literals, the
/// scheme, the user and database names, port digits, a one-character password — give the
/// same output, byte for byte (timings aside), as a random password does, in every format and
/// on success and failure paths: nothing is rewritten, and since the random password never
/// appears, neither does the word (its every appearance is one the random run has too).
#[test]
fn a_password_that_is_a_word_of_the_output_changes_nothing() {
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    println!("seed {seed}");
    let mut rng = Rng(seed);
    let c = cluster();
    let role = c.create_role("initial-pw-111");
    let db = c.create_db();
    // The role owns the database, so it owns schema public (PostgreSQL 15) and can migrate.
    db.execute(&format!("ALTER DATABASE {} OWNER TO {role}", db.name));
    let dir = tempfile::tempdir().unwrap();
    let init = [
        (
            "0001_init.sql",
            "CREATE TABLE t1 (id int PRIMARY KEY, flag boolean NOT NULL, note text);\n",
        ),
        (
            "0002_seed.sql",
            "INSERT INTO t1 VALUES (1, true, 'app'), (2, false, NULL);\n",
        ),
    ];
    let good = folder(
        dir.path(),
        "good",
        &[
            init[0],
            init[1],
            ("0003_next.sql", "CREATE TABLE t2 (id int);\n"),
        ],
    );
    let bad = folder(
        dir.path(),
        "bad",
        &[init[0], init[1], ("0003_boom.sql", "SELECT 1/0;\n")],
    );
    let applied = folder(dir.path(), "applied", &init);
    std::fs::create_dir_all(dir.path().join("sql")).unwrap();
    std::fs::write(
        dir.path().join("sql/required_schema.txt"),
        "table public.t1\ncolumn public.t1.flag boolean not null\n",
    )
    .unwrap();
    let url = |pw: &str| db.url_with(&role, Some(pw), "127.0.0.1", "sslmode=disable");
    let run_with = |pw_in_url: &str, args: &[&str]| {
        run(sentry()
            .current_dir(dir.path())
            .env("DATABASE_URL", url(pw_in_url))
            .args(args))
    };
    // Two migrations applied, with a random password.
    let baseline_pw = random_password(&mut rng);
    c.set_password(&role, &baseline_pw);
    run_with(&baseline_pw, &["upgrade", "--migrations-dir", &applied]).assert_code(0);

    // (arguments, expected exit code, whether stdout is JSON, whether the URL's password is
    // the role's)
    let scenarios: Vec<(Vec<&str>, i32, bool, bool)> = vec![
        (vec!["check-env"], 0, false, true),
        (vec!["ping", "--format", "json"], 0, true, true),
        (vec!["status", "--migrations-dir", &good], 9, false, true),
        (
            vec!["status", "--migrations-dir", &good, "--format", "json"],
            9,
            true,
            true,
        ),
        (
            vec!["run", "--dry-run", "--migrations-dir", &good],
            0,
            false,
            true,
        ),
        (
            vec!["verify", "--require", "public.t1.missing_col"],
            8,
            false,
            true,
        ),
        (
            vec!["run", "--format", "json", "--migrations-dir", &bad],
            7,
            true,
            true,
        ),
        (vec!["ping"], 4, false, false),
    ];
    let outputs = |pw: &str| -> Vec<(String, String)> {
        scenarios
            .iter()
            .map(|(args, code, json, right)| {
                let in_url = if *right {
                    pw.to_string()
                } else {
                    format!("{pw}-not-it")
                };
                let out = run_with(&in_url, args);
                assert_eq!(out.code, *code, "password {pw:?}, {args:?}:\n{}", out.all());
                if *json {
                    let parsed = serde_json::from_str::<serde_json::Value>(out.stdout.trim());
                    assert!(
                        parsed.is_ok(),
                        "password {pw:?}, {args:?}: stdout is not JSON:\n{}",
                        out.stdout
                    );
                }
                (without_timings(&out.stdout), without_timings(&out.stderr))
            })
            .collect()
    };
    let baseline = outputs(&baseline_pw);
    for (stdout, stderr) in &baseline {
        let all = format!("{stdout}{stderr}");
        for form in [
            baseline_pw.clone(),
            encode(&baseline_pw),
            encode(&baseline_pw).to_lowercase(),
            url::form_urlencoded::byte_serialize(baseline_pw.as_bytes()).collect::<String>(),
            kv_quote(&baseline_pw),
        ] {
            assert!(!all.contains(&form), "seed {seed}: {form:?} in\n{all}");
        }
    }
    let port = db.port.to_string();
    let words: Vec<String> = [
        "MIGRATION",
        "SENTRY",
        "MIGRATION SENTRY",
        "===",
        "starting",
        "upgrade",
        "verbose",
        "verifying",
        "required",
        "schema",
        "success",
        "FAILED",
        "exit",
        "migration failed",
        "sentry",
        "[sentry]",
        "OK",
        "DB",
        "redacted",
        "env",
        "ERROR",
        "true",
        "false",
        "null",
        "public",
        "postgresql",
        "postgres",
        "app",
        "applied",
        "pending",
        "ms",
        "127.0.0.1",
        "sslmode",
        "disable",
        "database",
        "version",
        "0001_init",
        "1",
        ":",
        "@",
        "/",
        "****",
    ]
    .iter()
    .map(|w| w.to_string())
    .chain([
        role.clone(),
        db.name.clone(),
        port.clone(),
        port[..1].to_string(),
        port[port.len() - 2..].to_string(),
    ])
    .collect();
    for word in &words {
        c.set_password(&role, word);
        let got = outputs(word);
        for (i, ((out, err), (want_out, want_err))) in got.iter().zip(&baseline).enumerate() {
            assert_eq!(
                (out, err),
                (want_out, want_err),
                "seed {seed}: password {word:?} changed the output of {:?}",
                scenarios[i].0
            );
        }
    }
}

/// The binary with `DATABASE_URL` and the libpq variables given, and `HOME` an empty temp dir
/// (so no real `~/.pgpass` is read) unless `home` is given.
fn with_libpq_env(
    url: &str,
    vars: &[(&str, &str)],
    home: Option<&std::path::Path>,
    args: &[&str],
) -> common::Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = sentry();
    cmd.current_dir(dir.path())
        .env("DATABASE_URL", url)
        .env("HOME", home.unwrap_or(dir.path()))
        .args(args);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    run(&mut cmd)
}

/// Writes a password file with `mode` and returns its path.
fn password_file(dir: &std::path::Path, name: &str, text: &str, mode: u32) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

#[test]
fn pgpassword_supplies_a_missing_password() {
    let db = cluster().create_db();
    let pw = db.cluster.password("app");
    let url = db.url_with("app", None, "127.0.0.1", "sslmode=disable");
    let out = with_libpq_env(&url, &[("PGPASSWORD", &pw)], None, &["ping"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains("[sentry] password from PGPASSWORD"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(&pw));
    // A password in the URL wins, and then no source is named.
    let out = with_libpq_env(&db.url(), &[("PGPASSWORD", "wrong")], None, &["ping"]);
    out.assert_code(0);
    assert!(!out.stderr.contains("PGPASSWORD"), "{}", out.stderr);
}

#[test]
fn pgpassfile_supplies_a_missing_password() {
    let db = cluster().create_db();
    let pw = db.cluster.password("app");
    let files = tempfile::tempdir().unwrap();
    let file = password_file(
        files.path(),
        "passwords",
        &format!(
            "# deploy credentials\nother-host:*:*:*:nope\n127.0.0.1:{}:{}:app:{pw}\n",
            db.port, db.name
        ),
        0o600,
    );
    let url = db.url_with("app", None, "127.0.0.1", "sslmode=disable");
    let out = with_libpq_env(
        &url,
        &[("PGPASSFILE", &file.to_string_lossy())],
        None,
        &["ping"],
    );
    out.assert_code(0);
    assert!(
        out.stderr.contains(&format!(
            "[sentry] password from the password file {} (line 3)",
            file.display()
        )),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(&pw));
}

#[test]
fn home_pgpass_supplies_a_missing_password_and_is_ignored_when_others_can_read_it() {
    let db = cluster().create_db();
    let pw = db.cluster.password("app");
    let home = tempfile::tempdir().unwrap();
    let line = format!("*:{}:*:app:{pw}\n", db.port);
    let file = password_file(home.path(), ".pgpass", &line, 0o600);
    let url = db.url_with("app", None, "127.0.0.1", "sslmode=disable");
    let out = with_libpq_env(&url, &[], Some(home.path()), &["ping"]);
    out.assert_code(0);
    assert!(
        out.stderr.contains(&format!(
            "password from the password file {} (line 1)",
            file.display()
        )),
        "{}",
        out.stderr
    );
    // Group-readable: libpq ignores it with a warning, and so does the sentry; the server
    // then asks for a password that nothing supplied, and the error says why.
    password_file(home.path(), ".pgpass", &line, 0o640);
    let out = with_libpq_env(&url, &[], Some(home.path()), &["ping"]);
    out.assert_code(4);
    assert!(
        out.stderr.contains("WARNING: password file")
            && out.stderr.contains("group or world access"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains("PGPASSWORD is not set, and the password file"),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains(&pw));
}

#[test]
fn pguser_then_the_os_user_supply_a_missing_user_name() {
    let db = cluster().create_db();
    let pw = db.cluster.password("app");
    let url = format!(
        "postgresql://127.0.0.1:{}/{}?sslmode=disable",
        db.port, db.name
    );
    let out = with_libpq_env(
        &url,
        &[("PGUSER", "app"), ("PGPASSWORD", &pw)],
        None,
        &["ping"],
    );
    out.assert_code(0);
    assert!(
        out.stderr
            .contains("[sentry] user app from PGUSER; password from PGPASSWORD"),
        "{}",
        out.stderr
    );
    // No PGUSER: the operating system's user name, as libpq does (no such role here).
    let os_user = String::from_utf8(
        std::process::Command::new("id")
            .arg("-un")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let os_user = os_user.trim();
    let out = with_libpq_env(&url, &[("PGPASSWORD", "Os-User-Pw-2")], None, &["ping"]);
    out.assert_code(4);
    assert!(
        out.stderr.contains(&format!(
            "[sentry] user {os_user} from the operating system"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .contains(&format!("authentication failed for user \"{os_user}\"")),
        "{}",
        out.stderr
    );
    assert!(!out.all().contains("Os-User-Pw-2"));
}

/// A NUL byte can never reach PostgreSQL (the connection's values travel as NUL-terminated
/// strings): `%00` in the user name used to give exit 4 ("check host, port and network
/// access"), in the password exit 4 ("password authentication failed"). In any part of the URL
/// it is exit 3 naming the part, never its value, before any network use: a listener where the
/// URL points sees no connection, and against the real server it is still exit 3. (A key=value
/// string has no escape for a NUL, and the environment cannot carry a raw one: the parser's
/// unit tests cover its parameters; a password file can, below.)
#[test]
fn a_nul_byte_in_any_part_of_the_url_is_exit_3_naming_the_part_before_any_connection() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let pw = "Nul-Pw-5b9e";
    // (URL, the part named, a value fragment the problem line must not show)
    let cases = [
        (
            format!("postgres://ad%00min:{pw}@127.0.0.1:{port}/db"),
            "DATABASE_URL user name contains a NUL byte",
            "ad",
        ),
        (
            format!("postgres://app:{pw}%00x@127.0.0.1:{port}/db"),
            "DATABASE_URL password contains a NUL byte",
            "Nul-Pw",
        ),
        (
            format!("postgres://app:{pw}@127.0.0.1%00evil:{port}/db"),
            "DATABASE_URL host contains a NUL byte",
            "evil",
        ),
        (
            format!("postgres://app:{pw}@127.0.0.1:{port}/d%00bname"),
            "DATABASE_URL database name contains a NUL byte",
            "bname",
        ),
        (
            format!("postgres://app:{pw}@127.0.0.1:{port}/db?application_name=web%00worker"),
            "the value of the parameter application_name contains a NUL byte",
            "worker",
        ),
        (
            format!(
                "postgres://app:{pw}@127.0.0.1:{port}/db?sslmode=disable&options=-c%20x%3D%00y"
            ),
            "the value of the parameter options contains a NUL byte",
            "-c x",
        ),
    ];
    for (url, part, fragment) in &cases {
        for command in ["ping", "run", "check-env"] {
            let out = with_url(url, &[command]);
            assert_eq!(out.code, 3, "{url} {command}:\n{}", out.all());
            let problem = out
                .stderr
                .lines()
                .find(|l| l.contains("NUL byte"))
                .unwrap_or_else(|| panic!("{url} {command}: no NUL problem in\n{}", out.stderr));
            assert!(problem.contains(part), "{url}: {problem}");
            assert!(
                !problem.contains(fragment),
                "{url} shows {fragment:?}: {problem}"
            );
            assert!(!problem.contains("%00"), "{problem}");
            assert!(
                !out.all().contains(pw) && !out.all().contains(&encode(pw)),
                "{url} leaked the password:\n{}",
                out.all()
            );
            assert!(
                out.stderr
                    .trim_end()
                    .ends_with("=== MIGRATION SENTRY: FAILED (exit 3: environment invalid) ==="),
                "{}",
                out.stderr
            );
        }
    }
    assert!(
        matches!(listener.accept(), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "the sentry connected although the URL was invalid"
    );
    // Against the real server: refused as the URL's problem, not the server's.
    let db = cluster().create_db();
    let real_pw = db.cluster.password("app");
    for (user, password, part) in [
        ("app%00", encode(&real_pw), "user name"),
        ("app", format!("{}%00", encode(&real_pw)), "password"),
    ] {
        let url = format!(
            "postgresql://{user}:{password}@127.0.0.1:{}/{}?sslmode=disable",
            db.port, db.name
        );
        let out = with_url(&url, &["ping"]);
        out.assert_code(3);
        assert!(
            out.stderr
                .contains(&format!("DATABASE_URL {part} contains a NUL byte")),
            "{}",
            out.stderr
        );
        assert!(!out.all().contains(&real_pw), "{}", out.all());
    }
}

/// A password file can hold a NUL byte, which no environment variable can: refused as that
/// file's line (exit 3), the password never shown, before any connection.
#[test]
fn a_nul_byte_in_the_password_files_password_is_exit_3_naming_the_line() {
    let db = cluster().create_db();
    let files = tempfile::tempdir().unwrap();
    let file = password_file(
        files.path(),
        "passwords",
        &format!("127.0.0.1:{}:{}:app:Half\0Pw-77e1\n", db.port, db.name),
        0o600,
    );
    let url = db.url_with("app", None, "127.0.0.1", "sslmode=disable");
    let out = with_libpq_env(
        &url,
        &[("PGPASSFILE", &file.to_string_lossy())],
        None,
        &["ping"],
    );
    out.assert_code(3);
    assert!(
        out.stderr.contains(&format!(
            "the password the password file {} gives at line 1 contains a NUL byte",
            file.display()
        )),
        "{}",
        out.stderr
    );
    assert!(
        !out.all().contains("Half") && !out.all().contains("Pw-77e1"),
        "{}",
        out.all()
    );
}
