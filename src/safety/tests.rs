use super::*;
use std::path::Path;

fn screen() -> Screen {
    Screen::embedded()
}

fn hit(text: &str) -> Option<Hit> {
    screen().screen(text)
}

fn file() -> &'static Path {
    Path::new("prompts/test.toml")
}

/// A minimal valid file with `extra` spliced into the abuse category.
fn minimal(extra_abuse: &str) -> String {
    format!(
        r#"[slots]
he = ["he", "she"]

[self_harm]
severity = "critical"
phrases = ["kill myself"]

[harm_others]
severity = "high"
phrases = ["kill him"]

[abuse]
severity = "high"
phrases = [
  "{{he}} hit me",
  {extra_abuse}
]

[sexual_violence]
severity = "high"
phrases = ["raped me"]

[idioms]
phrases = ["hit me up", "{{he}} hit me up"]
"#
    )
}

fn invalid(source: &str) -> (usize, String, String, String) {
    match Screen::from_toml(source, file()) {
        Ok(_) => panic!("expected an error for:\n{source}"),
        Err(e @ SafetyError::Invalid { .. }) => {
            let shown = e.to_string();
            let SafetyError::Invalid {
                line, key, problem, ..
            } = e
            else {
                unreachable!()
            };
            (line, key, problem, shown)
        }
        Err(other) => panic!("unexpected error {other}"),
    }
}

#[test]
fn embedded_loads_and_summarises() {
    let s = screen();
    let summary = s.summary();
    assert_eq!(summary.categories.len(), 4);
    for c in &summary.categories {
        assert!(
            c.phrases >= 50,
            "{}: only {} phrases",
            c.category,
            c.phrases
        );
        assert!(c.expanded >= c.phrases);
    }
    assert!(summary.idioms >= 20);
    let shown = summary.to_string();
    assert!(shown.contains("self_harm") && shown.contains("harmless idioms"));
}

#[test]
fn normalise_basics() {
    assert_eq!(normalise("  Hello,   WORLD!!  "), "hello world");
    assert_eq!(normalise(""), "");
    assert_eq!(normalise("!!! ... ???"), "");
    assert_eq!(normalise("self-harm"), "self harm");
    assert_eq!(normalise("line\nbreak\ttab"), "line break tab");
}

#[test]
fn normalise_apostrophes_and_quotes() {
    assert_eq!(normalise("can't"), "cant");
    assert_eq!(normalise("can\u{2019}t"), "cant");
    assert_eq!(normalise("can\u{02BC}t"), "cant");
    assert_eq!(normalise("cannot"), "cant");
    assert_eq!(normalise("can not"), "cant");
    assert_eq!(normalise("\u{201C}stop\u{201D}"), "stop");
    assert_eq!(normalise("don't want to"), normalise("do not want to"));
    assert_eq!(normalise("I'm"), normalise("i am"));
}

#[test]
fn normalise_unicode_folding() {
    // fullwidth
    assert_eq!(normalise("\u{FF4B}\u{FF49}\u{FF4C}\u{FF4C}"), "kill");
    // mathematical bold
    assert_eq!(normalise("\u{1D424}\u{1D422}\u{1D425}\u{1D425}"), "kill");
    // accents stripped
    assert_eq!(normalise("Kíll mÿsëlf"), "kill myself");
    // case folding beyond ASCII
    assert_eq!(normalise("STRAẞE"), "strasse");
    // Cyrillic look-alikes
    assert_eq!(normalise("k\u{0456}ll"), "kill");
    // circled and squared letters, plain and filled (found by fuzzing: the
    // filled ones have no compatibility form and were left upper-case)
    assert_eq!(normalise("\u{24DA}\u{24D8}\u{24DB}\u{24DB}"), "kill");
    assert_eq!(normalise("\u{1F13A}\u{1F138}\u{1F13B}\u{1F13B}"), "kill");
    assert_eq!(normalise("\u{1F15A}\u{1F158}\u{1F15B}\u{1F15B}"), "kill");
    assert_eq!(normalise("\u{1F17A}\u{1F178}\u{1F17B}\u{1F17B}"), "kill");
    assert_eq!(normalise("I)\u{1F186}h"), "i wh");
    // regional indicators, as in flags
    assert_eq!(normalise("\u{1F1F0}\u{1F1EE}\u{1F1F1}\u{1F1F1}"), "kill");
}

#[test]
fn normalise_invisible_characters() {
    for ch in [
        '\u{200B}', '\u{200C}', '\u{200D}', '\u{2060}', '\u{FEFF}', '\u{202A}', '\u{202E}',
        '\u{2066}', '\u{2069}', '\u{00AD}',
    ] {
        let text = format!("k{ch}i{ch}ll my{ch}self");
        assert_eq!(normalise(&text), "kill myself", "U+{:04X}", ch as u32);
    }
}

#[test]
fn normalise_leetspeak() {
    assert_eq!(normalise("k1ll"), "kill");
    assert_eq!(normalise("d13"), "die");
    assert_eq!(normalise("h4te"), "hate");
    assert_eq!(normalise("m0ney"), "money");
    assert_eq!(normalise("my5elf"), "myself");
    assert_eq!(normalise("s7op"), "stop");
    assert_eq!(normalise("r@ped"), "raped");
    assert_eq!(normalise("$uicide"), "suicide");
    assert_eq!(normalise("d!e"), "die");
    // numbers on their own stay numbers, and `!` at the end is punctuation
    assert_eq!(normalise("5 years, 10 months"), "5 years 10 months");
    assert_eq!(normalise("help me!"), "help me");
    assert_eq!(normalise("$50"), "50");
}

#[test]
fn normalise_spaced_letters() {
    assert_eq!(normalise("k i l l m y s e l f"), "killmyself");
    assert_eq!(normalise("k.i.l.l"), "kill");
    assert_eq!(normalise("d-i-e"), "die");
    assert_eq!(normalise("i am a mess"), "im a mess");
    // two single letters are left alone; words are not glued
    assert_eq!(normalise("plan a or b"), "plan a or b");
    assert_eq!(normalise("a b, c"), "a b c");
}

#[test]
fn obfuscations_are_caught() {
    let cases = [
        "I want to k i l l m y s e l f",
        "i w a n t t o d i e",
        "I want to k1ll myself",
        "ki11 myself",
        "I want to k!ll my5elf",
        "I don\u{2019}t want to be here anymore",
        "\u{FF49} \u{FF57}\u{FF41}\u{FF4E}\u{FF54} \u{FF54}\u{FF4F} \u{FF44}\u{FF49}\u{FF45}",
        "kill\u{200B}myself",
        "su1c1dal",
        "K.I.L.L M.Y.S.E.L.F",
        "he r@ped me",
        "he h1t me",
    ];
    for text in cases {
        assert!(hit(text).is_some(), "missed {text:?}");
    }
}

#[test]
fn indirect_phrasing_is_caught() {
    let cases = [
        (
            "everyone would be better off without me",
            Category::SelfHarm,
        ),
        ("there's no reason to live", Category::SelfHarm),
        (
            "I want to go to sleep and never wake up",
            Category::SelfHarm,
        ),
        ("I don't want to be here anymore", Category::SelfHarm),
        ("I just want to end it all", Category::SelfHarm),
        ("he checks my phone and takes my money", Category::Abuse),
        ("she won't let me see my friends", Category::Abuse),
        ("he won't take no for an answer", Category::SexualViolence),
        (
            "he made me do things I didn't want to",
            Category::SexualViolence,
        ),
        ("I'm scared of what he'll do", Category::Abuse),
        ("I want to hurt him", Category::HarmOthers),
        ("I'm killing myself", Category::SelfHarm),
        ("kms", Category::SelfHarm),
    ];
    for (text, category) in cases {
        let h = hit(text).unwrap_or_else(|| panic!("missed {text:?}"));
        assert_eq!(h.category, category, "{text:?} -> {h:?}");
    }
}

#[test]
fn idioms_do_not_trigger() {
    for text in [
        "my boss is killing me",
        "I could murder a cup of tea",
        "dying to know what happens",
        "she's killing it at work",
        "the suspense is killing me",
        "cut him some slack",
        "hit me up later",
        "he hit me up last night",
        "that joke killed",
        "I nearly killed myself laughing",
        "I cut myself while cooking",
        "she kicked me out after she found out",
        "I don't want to hurt her again",
        "I'm scared of him leaving",
    ] {
        assert_eq!(hit(text), None, "{text:?}");
    }
}

#[test]
fn idiom_only_covers_its_own_span() {
    // The idiom is ignored, the other phrase still counts.
    let h = hit("my boss is killing me and honestly I want to kill myself").expect("hit");
    assert_eq!(h.category, Category::SelfHarm);
    let h = hit("he hit me up to say sorry, then he hit me again").expect("hit");
    assert_eq!(h.category, Category::Abuse);
}

#[test]
fn word_boundaries() {
    for text in [
        "that takes real skill",
        "skilled at listening",
        "we are on a diet",
        "the soldier died in the film",
        "I love grapes",
        "therapist appointment",
        "a kmsq typo",
        "overkill",
    ] {
        assert_eq!(hit(text), None, "{text:?}");
    }
    assert!(hit("I was raped").is_some());
}

#[test]
fn most_severe_hit_wins() {
    let h = hit("he checks my phone and I want to kill myself").expect("hit");
    assert_eq!(h.severity, Severity::Critical);
    assert_eq!(h.category, Category::SelfHarm);
    assert_eq!(h.matched, "kill myself");
    assert!(Severity::Critical > Severity::High && Severity::High > Severity::Concern);
}

#[test]
fn matched_is_the_listed_phrase() {
    let h = hit("my husband hit me").expect("hit");
    assert_eq!(h.matched, "{he} hit me");
}

#[test]
fn excerpt_is_short_and_around_the_match() {
    let filler = "we talked about the garden and the weekend plans ".repeat(40);
    let text = format!("{filler} and then he hit me again {filler}");
    let h = hit(&text).expect("hit");
    assert!(h.excerpt.len() <= EXCERPT_MAX, "{}", h.excerpt.len());
    assert!(h.excerpt.contains("he hit me"), "{}", h.excerpt);
    let short = hit("He hit me.").expect("hit");
    assert_eq!(short.excerpt, "he hit me");
}

#[test]
fn odd_input_never_panics() {
    let s = screen();
    let big = "a".repeat(100_000);
    let big_words = "kill ".repeat(20_000);
    let spaced = "k ".repeat(50_000);
    let odd = [
        "",
        " ",
        "\u{0}",
        "\u{FFFD}\u{FFFF}",
        "\u{10FFFF}",
        "\u{0301}\u{0301}\u{0301}",
        "\u{200B}\u{200B}",
        "🔪🔪🔪",
        "ß\u{1E9E}İı",
        "ﷺ",
        "\u{FDFD}\u{FB01}",
        "1111111",
        "!@$!@$",
        "'''''",
        big.as_str(),
        big_words.as_str(),
        spaced.as_str(),
    ];
    for text in odd {
        let _ = s.screen(text);
        let _ = normalise(text);
    }
    let long_hit = format!("{big} I want to die {big}");
    let h = s.screen(&long_hit).expect("hit in a long message");
    assert!(h.excerpt.len() <= EXCERPT_MAX);
}

#[test]
fn json_line() {
    assert_eq!(
        screen_json_line(None),
        r#"{"category":null,"flagged":false,"matched":null,"severity":null}"#
    );
    let h = hit("I want to kill myself").expect("hit");
    let line = screen_json_line(Some(&h));
    let v: serde_json::Value = serde_json::from_str(&line).expect("json");
    assert_eq!(v["flagged"], true);
    assert_eq!(v["category"], "self_harm");
    assert_eq!(v["severity"], "critical");
    assert_eq!(v["matched"], "kill myself");
    assert!(!line.contains('\n'));
}

#[test]
fn serde_names_are_snake_case() {
    assert_eq!(
        serde_json::to_string(&Category::SexualViolence).expect("json"),
        "\"sexual_violence\""
    );
    assert_eq!(
        serde_json::to_string(&Category::HarmOthers).expect("json"),
        "\"harm_others\""
    );
    assert_eq!(
        serde_json::to_string(&Severity::Critical).expect("json"),
        "\"critical\""
    );
}

#[test]
fn minimal_file_loads() {
    let s = Screen::from_toml(&minimal(""), file()).expect("valid");
    assert!(s.screen("she hit me").is_some());
    assert!(s.screen("she hit me up").is_none());
    assert_eq!(s.summary().categories[2].expanded, 2);
}

#[test]
fn error_unknown_key() {
    let src = minimal("").replace(
        "severity = \"high\"\nphrases = [\"kill him\"]",
        "severity = \"high\"\nphrase = [\"kill him\"]",
    );
    let (line, key, problem, shown) = invalid(&src);
    assert_eq!(line, 10, "{shown}");
    assert_eq!(key, "harm_others.phrase");
    assert!(
        problem.contains("unknown key") && problem.contains("expected"),
        "{problem}"
    );
    assert!(
        shown.starts_with("prompts/test.toml line 10, key `harm_others.phrase`:"),
        "{shown}"
    );
}

#[test]
fn error_unknown_category() {
    let src = minimal("") + "\n[self_harrm]\nseverity = \"high\"\nphrases = [\"x y\"]\n";
    let (line, key, problem, _) = invalid(&src);
    assert_eq!(key, "self_harrm");
    let header_line = src
        .lines()
        .position(|l| l == "[self_harrm]")
        .expect("header")
        + 1;
    assert_eq!(line, header_line);
    assert!(problem.contains("self_harm, harm_others"), "{problem}");
}

#[test]
fn error_missing_category() {
    let src = minimal("").replace(
        "[sexual_violence]\nseverity = \"high\"\nphrases = [\"raped me\"]\n",
        "",
    );
    let (_, key, problem, _) = invalid(&src);
    assert_eq!(key, "sexual_violence");
    assert!(problem.contains("missing"), "{problem}");
}

#[test]
fn error_unknown_severity() {
    let src = minimal("").replace("severity = \"critical\"", "severity = \"severe\"");
    let (line, key, problem, _) = invalid(&src);
    assert_eq!((line, key.as_str()), (5, "self_harm.severity"));
    assert!(
        problem.contains("critical") && problem.contains("concern"),
        "{problem}"
    );
    let src = minimal(r#"{ phrase = "x hurts me", severity = "urgent" },"#);
    let (line, _, problem, _) = invalid(&src);
    assert_eq!(line, 16);
    assert!(
        problem.contains("urgent") && problem.contains("expected"),
        "{problem}"
    );
}

#[test]
fn error_empty_phrase() {
    let (line, key, problem, shown) = invalid(&minimal(r#""   ","#));
    assert_eq!(line, 16);
    assert_eq!(key, "abuse.phrases");
    assert!(
        problem.contains("empty phrase") && problem.contains("expected"),
        "{problem}"
    );
    assert!(
        shown.contains("prompts/test.toml line 16, key `abuse.phrases`"),
        "{shown}"
    );
}

#[test]
fn error_phrase_normalises_to_nothing() {
    let (line, _, problem, _) = invalid(&minimal(r#""?!...","#));
    assert_eq!(line, 16);
    assert!(problem.contains("no letters or numbers"), "{problem}");
}

#[test]
fn error_duplicate_phrase() {
    let (line, key, problem, _) = invalid(&minimal(r#""He  HIT me!","#));
    assert_eq!((line, key.as_str()), (16, "abuse.phrases"));
    assert!(
        problem.contains("already covered by \"{he} hit me\" on line 15")
            && problem.contains("expected each phrase once"),
        "{problem}"
    );
    // across categories too
    let (_, key, problem, _) = invalid(&minimal(r#""kill myself","#));
    assert_eq!(key, "abuse.phrases");
    assert!(problem.contains("line 6"), "{problem}");
}

#[test]
fn error_unknown_slot() {
    let (line, _, problem, _) = invalid(&minimal(r#""{hee} hurts me","#));
    assert_eq!(line, 16);
    assert!(
        problem.contains("{hee}") && problem.contains("expected one of {he}"),
        "{problem}"
    );
    let (_, _, problem, _) = invalid(&minimal(r#""{he hurts me","#));
    assert!(problem.contains("never closed"), "{problem}");
}

#[test]
fn error_wrong_type_and_syntax() {
    let (line, key, problem, _) = invalid(&minimal("42,"));
    assert_eq!((line, key.as_str()), (16, "abuse.phrases"));
    assert!(problem.contains("expected"), "{problem}");
    let (line, _, _, shown) = invalid("[self_harm\nseverity = 1\n");
    assert_eq!(line, 1, "{shown}");
}

#[test]
fn error_idiom_duplicate_of_phrase() {
    let src = minimal("").replace(
        r#"phrases = ["hit me up","#,
        r#"phrases = ["kill myself", "hit me up","#,
    );
    let (_, key, problem, _) = invalid(&src);
    assert_eq!(key, "idioms.phrases");
    assert!(problem.contains("already covered"), "{problem}");
}

#[test]
fn load_reports_missing_file() {
    let err = Screen::load(Path::new("/nonexistent/safety.toml")).expect_err("missing");
    assert!(
        err.to_string().contains("/nonexistent/safety.toml"),
        "{err}"
    );
}

mod prop {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn screen_never_panics(text in any::<String>()) {
            let s = Screen::embedded();
            if let Some(h) = s.screen(&text) {
                prop_assert!(h.excerpt.len() <= EXCERPT_MAX);
            }
            let n = normalise(&text);
            prop_assert!(!n.starts_with(' ') && !n.ends_with(' ') && !n.contains("  "));
        }

        #[test]
        fn normalise_is_idempotent_on_plain_words(words in proptest::collection::vec("[a-z]{2,8}", 0..12)) {
            let text = words.join(" ");
            let once = normalise(&text);
            prop_assert_eq!(normalise(&once), once);
        }

        #[test]
        fn phrase_found_inside_any_padding(pre in "[a-z ]{0,40}", post in "[a-z ]{0,40}") {
            let text = format!("{pre} i want to kill myself {post}");
            prop_assert!(Screen::embedded().screen(&text).is_some());
        }
    }
}

/// Found by `fuzz/run` (target `normalise`): a hit from the first reading of
/// the 1s (as i) had its excerpt cut from the second reading's text (1s as
/// l), which is shorter here, and slicing it panicked.
#[test]
fn a_hit_from_the_first_reading_keeps_its_own_text() {
    let bytes = b"?h 1m4\x92l4 1Mh 1m4\x92l\x00h 1m4\x92l\x00`\x00 1Mm4 1Mm4\x92\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0441444444444444444PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffPPPPQPPPPPPPPPPPPPPPPPPPPPPPPPPP44\xff\xff\xff\x9b\xdf\xce\x8c\xfa\x00\x00\x00\x7fh\xef\x9b\xce\x8c\xf5\x8b\x0an\xf5I 4444441444444444444444PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffsu1c1dal again in cutt\xff";
    let text = String::from_utf8_lossy(bytes);
    let hit = hit(&text).expect("\"su1c1dal\" reads as suicidal");
    assert!(hit.excerpt.len() <= EXCERPT_MAX);
    assert!(hit.excerpt.contains("suicidal"), "{:?}", hit.excerpt);
}
