//! Turns a TOML parse error into a line number and a message that names the
//! key and says what was expected, in words a non-programmer can act on.

/// The 1-based line of the error and a message naming the key, if any.
pub fn describe(text: &str, err: &toml::de::Error) -> (Option<usize>, String) {
    let mut message = plain(err.message().trim());
    let Some(span) = err.span() else {
        return (None, message);
    };
    let start = span.start.min(text.len());
    let line = text[..start].matches('\n').count() + 1;
    if let Some(key) = key_at(text, start)
        && !message.contains(&format!("`{key}`"))
    {
        message = format!("`{key}`: {message}");
    }
    (Some(line), message)
}

/// The dotted key whose value sits at `offset`: the `[section]` above the
/// line, and the bare key before its `=`.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let line_start = text[..offset].rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or_default();
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    if key.is_empty() || key.starts_with('#') || key.starts_with('{') {
        return None;
    }
    let section = text[..line_start].lines().rev().find_map(|l| {
        let l = l.trim();
        l.strip_prefix('[')
            .and_then(|l| l.strip_suffix(']'))
            .map(|name| name.trim_matches(['[', ']']).to_owned())
    });
    Some(match section {
        Some(section) => format!("{section}.{key}"),
        None => key.to_owned(),
    })
}

/// serde's type names, in plain words.
fn plain(message: &str) -> String {
    let mut out = message.to_owned();
    for (from, to) in [
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected a boolean", "expected true or false"),
        ("expected a string", "expected text in quotes"),
    ] {
        out = out.replace(from, to);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_section_and_key() {
        let text = "[database]\npath = \"x\"\nbusy_timeout_ms = \"soon\"\n";
        let err = toml::from_str::<toml::Table>(text).err();
        assert!(err.is_none(), "a table accepts anything");
        assert_eq!(
            key_at(text, text.find("\"soon\"").unwrap()),
            Some("database.busy_timeout_ms".into())
        );
        assert_eq!(key_at("a = 1", 4), Some("a".into()));
        assert_eq!(key_at("[x]\n# a = 1", 8), None);
    }
}
