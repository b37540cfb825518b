//! render.yaml is a Blueprint that gates every service on the sentry: a database, a web service
//! and a worker; each service's preDeployCommand is a single shell-free command the binary's own
//! parser accepts; DATABASE_URL is the database's direct connection string; every SENTRY_* value
//! is accepted by the real binary (`check-env`); the build puts the binary in `bin/`.

mod common;

use std::fs;

use clap::Parser;
use migration_sentry::cli::Cli;
use migration_sentry::config::Command;
use yaml_rust2::{Yaml, YamlLoader};

use common::{repo_root, run, sentry};

fn blueprint() -> Yaml {
    let text = fs::read_to_string(repo_root().join("render.yaml")).unwrap();
    let mut docs = YamlLoader::load_from_str(&text).expect("render.yaml is valid YAML");
    assert_eq!(docs.len(), 1, "one YAML document");
    docs.remove(0)
}

fn all_services(doc: &Yaml) -> &Vec<Yaml> {
    doc["services"].as_vec().expect("services is a list")
}

/// The services a deploy of the app gates: those with a preDeployCommand (the cron job of the
/// fleet example is checked on its own).
fn services(doc: &Yaml) -> Vec<&Yaml> {
    all_services(doc)
        .iter()
        .filter(|s| str_field(s, "type") != "cron")
        .collect()
}

fn name(service: &Yaml) -> &str {
    service["name"].as_str().expect("every service has a name")
}

fn str_field<'a>(service: &'a Yaml, key: &str) -> &'a str {
    service[key]
        .as_str()
        .unwrap_or_else(|| panic!("{}: {key} must be a string", name(service)))
}

fn env_vars(service: &Yaml) -> &Vec<Yaml> {
    service["envVars"]
        .as_vec()
        .unwrap_or_else(|| panic!("{}: envVars must be a list", name(service)))
}

/// The envVars entry for `key`.
fn env_var<'a>(service: &'a Yaml, key: &str) -> &'a Yaml {
    env_vars(service)
        .iter()
        .find(|e| e["key"].as_str() == Some(key))
        .unwrap_or_else(|| panic!("{}: no envVars entry for {key}", name(service)))
}

#[test]
fn there_is_a_database_a_web_service_and_a_worker() {
    let doc = blueprint();
    let databases = doc["databases"].as_vec().expect("databases is a list");
    let db_name = databases[0]["name"].as_str().unwrap();
    assert_eq!(db_name, "docconv-db", "the app's own database comes first");
    let types: Vec<&str> = services(&doc)
        .iter()
        .map(|s| str_field(s, "type"))
        .collect();
    assert!(types.contains(&"web"), "{types:?}");
    assert!(types.contains(&"worker"), "{types:?}");
    for service in services(&doc) {
        let from = &env_var(service, "DATABASE_URL")["fromDatabase"];
        assert_eq!(from["name"].as_str(), Some(db_name), "{}", name(service));
    }
}

#[test]
fn every_pre_deploy_command_is_one_shell_free_command_the_parser_accepts() {
    let doc = blueprint();
    for service in services(&doc) {
        let cmd = str_field(service, "preDeployCommand");
        for op in ["&&", "||", ";", "|", ">", "<", "$", "`", "\"", "'", "\n"] {
            assert!(
                !cmd.contains(op),
                "{}: preDeployCommand {cmd:?} contains {op:?}, but Render may run it without a shell",
                name(service)
            );
        }
        let words: Vec<&str> = cmd.split_whitespace().collect();
        assert!(
            words[0].ends_with("migration-sentry"),
            "{}: {cmd:?}",
            name(service)
        );
        let argv = std::iter::once("migration-sentry").chain(words[1..].iter().copied());
        let cli = Cli::try_parse_from(argv)
            .unwrap_or_else(|e| panic!("{}: {cmd:?} does not parse:\n{e}", name(service)));
        let (command, config) = cli
            .into_config()
            .unwrap_or_else(|e| panic!("{}: {cmd:?}: {e}", name(service)));
        assert_eq!(
            command,
            Command::Run,
            "{}: the gate is `run`",
            name(service)
        );
        assert!(
            !config.dry_run,
            "{}: a dry run gates nothing",
            name(service)
        );
    }
}

#[test]
fn database_url_is_the_direct_connection_string() {
    let doc = blueprint();
    for service in services(&doc) {
        let entry = env_var(service, "DATABASE_URL");
        assert!(
            entry["value"].is_badvalue(),
            "{}: DATABASE_URL must not be committed as a value",
            name(service)
        );
        assert_eq!(
            entry["fromDatabase"]["property"].as_str(),
            Some("connectionString"),
            "{}: a pooled URL (connectionPoolString) makes the session advisory lock meaningless",
            name(service)
        );
    }
}

#[test]
fn every_sentry_setting_is_accepted_by_check_env() {
    let doc = blueprint();
    let root = repo_root();
    for service in services(&doc) {
        let mut cmd = sentry();
        cmd.current_dir(&root).arg("check-env").env(
            "DATABASE_URL",
            "postgresql://docconv:dummy-pw@dpg-example-a:5432/docconv",
        );
        let mut sentry_keys = Vec::new();
        for entry in env_vars(service) {
            let key = entry["key"]
                .as_str()
                .expect("every envVars entry has a key");
            if let Some(value) = entry["value"].as_str() {
                cmd.env(key, value);
            } else if entry["sync"].as_bool() == Some(false) {
                // Set in the dashboard; a dummy stands in for it.
                cmd.env(key, "dummy");
            } else {
                assert!(
                    !entry["fromDatabase"].is_badvalue(),
                    "{}: {key}: value must be a string (quote numbers and booleans)",
                    name(service)
                );
            }
            if key.starts_with("SENTRY_") {
                assert!(
                    entry["value"].as_str().is_some(),
                    "{}: {key} must have a string value",
                    name(service)
                );
                sentry_keys.push(key);
            }
        }
        assert!(
            sentry_keys.contains(&"SENTRY_REQUIRE_ENV"),
            "{}",
            name(service)
        );
        let required = env_var(service, "SENTRY_REQUIRE_ENV")["value"]
            .as_str()
            .unwrap();
        for var in required.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            // Each one must be provided by the blueprint itself (value or dashboard secret),
            // or every deploy fails with exit 3.
            env_var(service, var);
        }
        let out = run(&mut cmd);
        out.assert_code(0);
        assert!(
            out.stderr.contains("[sentry] env OK: DATABASE_URL"),
            "{}: {}",
            name(service),
            out.stderr
        );
        assert!(
            !out.all().contains("dummy-pw"),
            "{}: password leaked",
            name(service)
        );

        // And the same settings with the required variables missing are refused (exit 3), so
        // the check above is not vacuous.
        for var in required.split(',').map(str::trim).filter(|v| !v.is_empty()) {
            cmd.env_remove(var);
        }
        let out = run(&mut cmd);
        out.assert_code(3);
    }
}

#[test]
fn the_build_puts_the_release_binary_in_bin() {
    let doc = blueprint();
    for service in services(&doc) {
        let build = str_field(service, "buildCommand");
        assert!(
            build.contains("cargo build --release"),
            "{}: {build}",
            name(service)
        );
        assert!(
            build.contains("--locked"),
            "{}: build exactly Cargo.lock: {build}",
            name(service)
        );
        assert!(
            build.contains("target/release/migration-sentry bin/"),
            "{}: {build}",
            name(service)
        );
        let pre = str_field(service, "preDeployCommand");
        assert!(
            pre.starts_with("./bin/migration-sentry"),
            "{}: {pre}",
            name(service)
        );
        assert!(
            str_field(service, "plan") != "free",
            "{}: pre-deploy commands need a paid instance type",
            name(service)
        );
    }
}

#[test]
fn every_service_sets_a_deadline_below_renders_pre_deploy_limit() {
    // Render ends a pre-deploy command after 30 minutes; the sentry must end first, cleanly
    // (exit 10), with time left for the longest lock and connection waits it is given.
    let limit = std::time::Duration::from_secs(30 * 60);
    let doc = blueprint();
    for service in services(&doc) {
        let get = |key: &str| {
            let text = env_var(service, key)["value"].as_str().unwrap().to_string();
            migration_sentry::cli::parse_duration(&text)
                .unwrap_or_else(|e| panic!("{}: {key}={text:?}: {e}", name(service)))
        };
        let timeout = get("SENTRY_TIMEOUT");
        assert!(
            !timeout.is_zero() && timeout < limit,
            "{}: SENTRY_TIMEOUT {timeout:?} must be set and below {limit:?}",
            name(service)
        );
        assert!(
            timeout > get("SENTRY_WAIT") + get("SENTRY_WAIT_FOR_LOCK"),
            "{}: SENTRY_TIMEOUT must leave room for SENTRY_WAIT and SENTRY_WAIT_FOR_LOCK",
            name(service)
        );
    }
}

/// The fleet example: a cron job runs `run --targets sql/tenants.txt`; the file names only
/// variables the job's envVars provide, each a tenant database's direct connection string, and
/// the real binary accepts the whole configuration (`check-env --targets`).
#[test]
fn the_tenant_cron_job_gates_every_database_of_its_targets_file() {
    let doc = blueprint();
    let cron = all_services(&doc)
        .iter()
        .find(|s| s["type"].as_str() == Some("cron"))
        .expect("a cron job for the fleet example");
    assert!(
        cron["schedule"].as_str().is_some(),
        "{}: schedule",
        name(cron)
    );
    let cmd = str_field(cron, "startCommand");
    let words: Vec<&str> = cmd.split_whitespace().collect();
    assert_eq!(words[0], "./bin/migration-sentry", "{cmd}");
    let cli =
        Cli::try_parse_from(std::iter::once("migration-sentry").chain(words[1..].iter().copied()))
            .unwrap_or_else(|e| panic!("{cmd:?} does not parse:\n{e}"));
    let (command, config) = cli.into_config().unwrap();
    assert_eq!(command, Command::Run, "{cmd}");
    let file = config.targets.expect("the job runs a fleet");
    let text = fs::read_to_string(repo_root().join(&file)).unwrap();
    let targets = migration_sentry::fleet::parse_targets(&text, &file).unwrap();
    assert!(targets.len() >= 2, "{targets:?}");
    let databases: Vec<&str> = doc["databases"]
        .as_vec()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    let mut check = sentry();
    check
        .current_dir(repo_root())
        .args(["check-env", "--targets"])
        .arg(&file);
    for t in &targets {
        let from = &env_var(cron, &t.env_var)["fromDatabase"];
        assert_eq!(
            from["property"].as_str(),
            Some("connectionString"),
            "{}",
            t.env_var
        );
        assert!(
            databases.contains(&from["name"].as_str().unwrap()),
            "{}",
            t.env_var
        );
        check.env(
            &t.env_var,
            format!(
                "postgresql://docconv:dummy-pw@dpg-{}-a:5432/docconv",
                t.name
            ),
        );
    }
    for entry in env_vars(cron) {
        if let (Some(key), Some(value)) = (entry["key"].as_str(), entry["value"].as_str()) {
            check.env(key, value);
        }
    }
    let out = run(&mut check);
    out.assert_code(0);
    assert!(!out.all().contains("dummy-pw"), "{}", out.all());
    // Not vacuous: without the canary's URL the same check is exit 3, naming it.
    check.env_remove(&targets[0].env_var);
    let out = run(&mut check);
    out.assert_code(3);
    assert!(out.all().contains(&targets[0].env_var), "{}", out.all());
}
