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

/// The 1-based line where the dotted `key` (such as "safety.cooldown_minutes")
/// is given a value in `text`, however it is written: under a `[section]`,
/// as a dotted key, or in an inline table. None if `text` does not set it.
pub fn line_of(text: &str, key: &str) -> Option<usize> {
    let document = toml::de::DeTable::parse(text).ok()?;
    let mut table = document.get_ref();
    let mut parts = key.split('.').peekable();
    while let Some(part) = parts.next() {
        let value = table.get(part)?;
        if parts.peek().is_none() {
            let start = value.span().start.min(text.len());
            return Some(text[..start].matches('\n').count() + 1);
        }
        match value.get_ref() {
            toml::de::DeValue::Table(inner) => table = inner,
            _ => return None,
        }
    }
    None
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

    #[test]
    fn finds_the_line_a_key_is_set_on_however_it_is_written() {
        let text = "# top\n[database]\npath = \"x\"\n\nbusy_timeout_ms = 5\n";
        assert_eq!(line_of(text, "database.busy_timeout_ms"), Some(5));
        assert_eq!(line_of(text, "database.path"), Some(3));
        assert_eq!(line_of(text, "database.max_connections"), None);
        assert_eq!(line_of(text, "safety.cooldown_minutes"), None);
        let text = "log.level = \"warn\"\nsafety = { cooldown_minutes = 1 }\n";
        assert_eq!(line_of(text, "log.level"), Some(1));
        assert_eq!(line_of(text, "safety.cooldown_minutes"), Some(2));
        assert_eq!(line_of("not toml [", "a"), None);
    }
}
