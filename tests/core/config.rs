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
        err.starts_with("my.toml:2: `database.busy_timeout_ms` is 0; expected 1 to 600000"),
        "{err}"
    );

    let err = Config::parse(
        "[discord]\nrequest_timeout_secs = 0\n",
        Path::new("my.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.starts_with("my.toml:2: `discord.request_timeout_secs` is 0; expected 1 to 300"),
        "{err}"
    );

    // Past Discord's limits (and, far past, a zero pause between sends).
    let err = Config::parse(
        "[checkins]\nper_second = 4294967295\n",
        Path::new("my.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.starts_with("my.toml:2:"), "{err}");
    assert!(
        err.contains("`checkins.per_second` is 4294967295; expected 1 to 40"),
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

/// Runs `mend <args>` in a fresh folder with `config` as its config.toml and
/// returns (status, stderr), after checking nothing panicked and no
/// database was made: a bad config stops mend before it does anything.
fn refused(config: &str, args: &[&str]) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.toml"), config).unwrap();
    let mut command = mend(dir.path());
    command
        .args(args)
        .env("MEND_DATA_KEY", "5a".repeat(32))
        .env("MEND_DISCORD_TOKEN", "a.test.token");
    let (status, stdout, stderr) = run_mend(command, "quit\n");
    assert!(!stderr.contains("panicked"), "{config}\n{stderr}");
    assert!(stdout.is_empty(), "{config}\n{stdout}");
    assert!(!dir.path().join("mend.sqlite").exists(), "{config}");
    (status, stderr)
}

#[test]
fn every_number_out_of_its_range_is_refused_with_the_file_line_key_and_range() {
    let huge = "9223372036854775807";
    // (section, key, a value out of range, what the error says is allowed)
    let cases = [
        ("database", "busy_timeout_ms", huge, "expected 1 to 600000"),
        ("database", "busy_timeout_ms", "0", "expected 1 to 600000"),
        (
            "database",
            "max_connections",
            "4294967295",
            "expected 1 to 100",
        ),
        ("discord", "order_window_ms", huge, "expected 0 to 2000"),
        ("discord", "request_timeout_secs", huge, "expected 1 to 300"),
        ("discord", "request_timeout_secs", "0", "expected 1 to 300"),
        ("safety", "cooldown_minutes", huge, "expected 0 to 1440"),
        (
            "safety",
            "excerpt_retention_days",
            huge,
            "expected 0 to 3650",
        ),
        ("checkins", "grace_hours", huge, "expected 0 to 168"),
        ("checkins", "max_unanswered", "0", "expected 1 to 100"),
        (
            "checkins",
            "max_unanswered",
            "4294967295",
            "expected 1 to 100",
        ),
        ("checkins", "per_second", "41", "expected 1 to 40"),
        ("checkins", "every_seconds", huge, "expected 1 to 3600"),
        ("checkins", "every_seconds", "0", "expected 1 to 3600"),
        ("privacy", "inactive_days", huge, "expected 0 to 3650"),
    ];
    for (section, key, value, range) in cases {
        let config = format!("# mend\n[{section}]\n\n{key} = {value}\n");
        let (status, stderr) = refused(&config, &["chat"]);
        assert!(!status.success(), "{config}");
        assert!(
            stderr.contains(&format!(
                "config.toml:4: `{section}.{key}` is {value}; {range}"
            )),
            "{config}\n{stderr}"
        );
    }
    // The line is found however the key is written.
    let (_, stderr) = refused("safety = { cooldown_minutes = 99999999 }\n", &["chat"]);
    assert!(
        stderr.contains("config.toml:1: `safety.cooldown_minutes` is 99999999; expected 0 to 1440"),
        "{stderr}"
    );
    let (_, stderr) = refused("# mend\nsafety.cooldown_minutes = 99999999\n", &["chat"]);
    assert!(
        stderr.contains("config.toml:2: `safety.cooldown_minutes` is 99999999; expected 0 to 1440"),
        "{stderr}"
    );
}

#[test]
fn a_discord_id_of_zero_is_refused_before_anything_connects() {
    for key in ["guild_id", "channel_id", "role_id"] {
        let mut config =
            String::from("[discord]\napi_base = \"http://127.0.0.1:9\"\n\n[moderation]\n");
        for other in ["guild_id", "channel_id", "role_id"] {
            let value: u64 = if other == key { 0 } else { 123456789012345678 };
            config.push_str(&format!("{other} = {value}\n"));
        }
        let line = 5 + ["guild_id", "channel_id", "role_id"]
            .iter()
            .position(|k| *k == key)
            .unwrap();
        let (status, stderr) = refused(&config, &["serve"]);
        assert!(!status.success(), "{config}");
        assert!(
            stderr.contains(&format!(
                "config.toml:{line}: `moderation.{key}` is 0; expected a Discord id"
            )),
            "{config}\n{stderr}"
        );
    }
}

#[tokio::test]
async fn serve_checks_a_config_built_in_code_before_it_opens_or_connects() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config::default();
    config.database.path = dir.path().join("mend.sqlite");
    config.discord.api_base = Some("http://127.0.0.1:9".into());
    config.moderation.guild_id = Some(0);
    config.moderation.channel_id = Some(1);
    config.moderation.role_id = Some(2);
    let err = mend::app::serve(
        &config,
        Some(mend::secret::Secret::new("a.test.token")),
        Some(crate::helpers::test_key()),
        std::future::pending(),
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("`moderation.guild_id` is 0; expected a Discord id"),
        "{err}"
    );
    assert!(!config.database.path.exists());
}
