//! The example config parses, documents every key, and bad config is named.

use std::collections::BTreeSet;
use std::path::Path;

use mend::config::Config;

use crate::helpers::{mend, run_mend};

fn example() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("config.example.toml"))
        .unwrap()
}

/// Dotted keys of a JSON object, leaves only.
fn keys(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    match value.as_object() {
        Some(map) => {
            for (key, inner) in map {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                keys(inner, &path, out);
            }
        }
        None => {
            out.insert(prefix.to_owned());
        }
    }
}

/// Keys written in the example, set or commented out (`# key = value`).
fn documented(text: &str) -> BTreeSet<String> {
    let mut section = String::new();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
            continue;
        }
        let line = line.trim_start_matches('#').trim();
        if let Some((key, _)) = line.split_once(" = ")
            && key.chars().all(|c| c.is_ascii_lowercase() || c == '_')
        {
            out.insert(format!("{section}.{key}"));
        }
    }
    out
}

#[test]
fn the_example_parses_to_the_defaults() {
    let parsed = Config::parse(&example(), Path::new("config.example.toml")).unwrap();
    assert_eq!(parsed, Config::default());
}

#[test]
fn the_example_documents_every_key() {
    let mut expected = BTreeSet::new();
    keys(
        &serde_json::to_value(Config::default()).unwrap(),
        "",
        &mut expected,
    );
    assert_eq!(documented(&example()), expected);
}

#[test]
fn a_bad_value_names_the_file_line_and_key() {
    let text = "[database]\npath = \"x.sqlite\"\nbusy_timeout_ms = \"soon\"\n";
    let err = Config::parse(text, Path::new("my.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("my.toml:3:"), "{err}");
    assert!(err.contains("busy_timeout_ms"), "{err}");
    assert!(err.contains("expected a whole number"), "{err}");

    let err = Config::parse("[databse]\n", Path::new("my.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("my.toml:1") && err.contains("databse"),
        "{err}"
    );

    let err = Config::parse("[database]\nbusy_timeout_ms = 0\n", Path::new("my.toml"))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("`database.busy_timeout_ms` must be more than 0"),
        "{err}"
    );

    let err = Config::parse(
        "[discord]\nrequest_timeout_secs = 0\n",
        Path::new("my.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`discord.request_timeout_secs` must be more than 0"),
        "{err}"
    );

    // Past Discord's limits (and, far past, a zero pause between sends).
    let err = Config::parse(
        "[checkins]\nper_second = 4294967295\n",
        Path::new("my.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("my.toml"), "{err}");
    assert!(
        err.contains("`checkins.per_second` is 4294967295; expected at most 40"),
        "{err}"
    );
    Config::parse("[checkins]\nper_second = 40\n", Path::new("my.toml")).unwrap();
}

#[test]
fn the_binary_refuses_a_bad_config_before_doing_anything() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("config.toml"),
        "[database]\nmax_connections = -1\n",
    )
    .unwrap();
    let mut command = mend(dir.path());
    command.arg("chat");
    let (status, stdout, stderr) = run_mend(command, "");
    assert!(!status.success());
    assert!(stdout.is_empty());
    assert!(stderr.contains("config.toml:2"), "{stderr}");
    assert!(!dir.path().join("mend.sqlite").exists());

    let mut command = mend(dir.path());
    command.args(["--config", "missing.toml", "chat"]);
    let (status, _, stderr) = run_mend(command, "");
    assert!(!status.success());
    assert!(stderr.contains("missing.toml"), "{stderr}");
}
