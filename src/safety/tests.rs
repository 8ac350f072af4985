//! The screen's rules (`prompts/safety.toml`) and its reading of messages.
//! Most tests here read the rules alone; the last ones read the rules with
//! the learned layer beside them, as mend does.

use std::path::Path;

use super::*;

/// The rules alone, without the learned layer.
fn screen() -> Screen {
    Screen::embedded().without_learned()
}

fn hit(text: &str) -> Option<Hit> {
    screen().screen(text)
}

/// What the screen does with `text`: the action and category, or None.
fn read(text: &str) -> Option<(Action, Category)> {
    hit(text).map(|h| (h.action, h.category))
}

fn crisis(category: Category) -> Option<(Action, Category)> {
    Some((Action::Crisis, category))
}

fn ask(category: Category) -> Option<(Action, Category)> {
    Some((Action::Ask, category))
}

#[test]
fn a_means_in_the_frame_does_not_raise_it_but_a_word_outside_does() {
    use Category::HarmOthers;
    // The hammer is the frame's own word: asked about, not the full reply.
    assert_eq!(
        read("found a hammer in the cutlery drawer"),
        ask(HarmOthers)
    );
    // A time or a place said beside it raises it.
    assert_eq!(
        read("found a hammer in the cutlery drawer and I'm doing it tonight"),
        crisis(HarmOthers)
    );
    // Words that say "this minute" raise even when they are the frame's own.
    assert_eq!(
        read("omw to the bridge"),
        crisis(Category::Suicide),
        "{:?}",
        hit("omw to the bridge")
    );
}

#[test]
fn everyday_words_are_not_an_overdose() {
    // "odd" is a word, not "OD'd".
    assert_eq!(
        read("he bought me a knife as a present, bit odd but sweet"),
        None
    );
    assert_eq!(read("i odd last night"), None);
    assert_eq!(read("i oded last night"), crisis(Category::Suicide));
    // "Every night" is a routine, not a quantity.
    assert_ne!(
        read("he takes his tablets with his tea every night").map(|r| r.0),
        Some(Action::Crisis)
    );
}

#[test]
fn a_future_not_seen_is_asked_about_and_a_drive_into_town_is_not() {
    assert_eq!(
        read("honestly i dont see myself making it to christmas"),
        ask(Category::Suicide)
    );
    assert_eq!(read("i cant see myself doing that job forever"), None);
    assert_eq!(read("thinking about driving into town later"), None);
    assert_eq!(
        read("keep thinking about driving off the bridge"),
        crisis(Category::Suicide)
    );
}

#[test]
fn guilt_and_a_figure_of_speech_are_not_given_the_full_reply() {
    assert_eq!(
        read("she isnt speaking to me. i deserve it tbh but its lonely"),
        ask(Category::SelfHarm)
    );
    assert_eq!(
        read("i want to strangle him sometimes. metaphorically"),
        ask(Category::HarmOthers)
    );
    assert_eq!(
        read("i deserve to suffer for what i did"),
        crisis(Category::SelfHarm)
    );
}

#[test]
fn embedded_loads_and_summarises() {
    let summary = screen().summary();
    assert_eq!(summary.categories.len(), 5);
    assert!(
        summary.categories.iter().all(|c| c.frames >= 20),
        "{summary}"
    );
    assert!(summary.concepts >= 20 && summary.scope >= 50, "{summary}");
    let shown = summary.to_string();
    assert!(
        shown.contains("suicide") && shown.contains("scope"),
        "{shown}"
    );
}

#[test]
fn word_forms_meet_through_stemming() {
    // Frames list one form; the others meet it.
    assert_eq!(
        read("she pressured me into sex"),
        crisis(Category::SexualViolence)
    );
    assert_eq!(
        read("she keeps pressuring me into having sex"),
        crisis(Category::SexualViolence)
    );
    assert_eq!(read("he strangled me"), crisis(Category::Abuse));
    assert_eq!(read("he's strangling me"), crisis(Category::Abuse));
    // Dropped g's and run-together words.
    assert!(read("been thinkin about endin it all").is_some());
    assert_eq!(read("i wanna killmyself"), crisis(Category::Suicide));
    // ... but a long ordinary word is never split into alarming pieces.
    assert_eq!(read("my therapist is lovely"), None);
}

#[test]
fn suicide_and_self_harm_are_told_apart() {
    assert_eq!(read("I want to end my life"), crisis(Category::Suicide));
    assert_eq!(
        read("i cut my arms again last night"),
        crisis(Category::SelfHarm)
    );
    assert_eq!(
        read("took a handful of my tablets to numb out, not to die"),
        crisis(Category::SelfHarm)
    );
    let overdose = hit("i've taken all my pills an hour ago").expect("an overdose taken");
    assert_eq!(
        (overdose.action, overdose.severity),
        (Action::Crisis, Severity::Critical)
    );
}

#[test]
fn a_negation_right_before_cancels_but_a_frame_can_own_one() {
    assert_eq!(read("I would never kill myself"), None);
    assert_eq!(read("I'm not going to hurt myself, don't worry"), None);
    assert_eq!(
        read("I don't want to live anymore"),
        crisis(Category::Suicide)
    );
    // A negation further back belongs to something else.
    assert_eq!(
        read("I don't know why, I want to die"),
        crisis(Category::Suicide)
    );
}

#[test]
fn someone_else_or_a_story_does_not_count_unless_it_names_the_writer() {
    assert_eq!(
        read("my friend told me she is suicidal, how do I help"),
        None
    );
    assert_eq!(read("we watched a documentary about suicide"), None);
    assert_eq!(read("I'm suicidal"), crisis(Category::Suicide));
    // The story is in another clause: the writer's own words still count.
    assert_eq!(
        read("We watched a film last night. I want to kill myself."),
        crisis(Category::Suicide)
    );
}

#[test]
fn the_past_told_as_over_does_not_count_unless_it_is_back() {
    assert_eq!(
        read("years ago I used to cut myself, but I'm in a much better place now"),
        None
    );
    assert_eq!(
        read("I used to cut myself years ago and I've started again"),
        crisis(Category::SelfHarm)
    );
    assert_eq!(
        read("I was assaulted at uni. It was a long time ago and I had support."),
        None
    );
}

#[test]
fn jokes_and_idioms_of_anger_do_not_count_without_a_plan() {
    assert_eq!(read("I'll kill him if he eats my chips again lol"), None);
    assert_eq!(read("this week is killing me"), None);
    assert_eq!(read("I could murder a cup of tea"), None);
    assert_eq!(
        read("I'm going to kill him tonight, I've got the knife ready"),
        crisis(Category::HarmOthers)
    );
    // Idioms are matched word for word: "killing me" never covers "kill me".
    assert_eq!(read("he threatened to kill me"), crisis(Category::Abuse));
}

#[test]
fn unclear_messages_are_asked_about_and_a_plan_raises_them() {
    assert_eq!(
        read("what's the point of anything anymore"),
        ask(Category::Suicide)
    );
    assert_eq!(read("I don't feel safe"), ask(Category::Abuse));
    assert_eq!(
        read("what's the point of anything anymore, it ends tonight"),
        crisis(Category::Suicide)
    );
}

#[test]
fn one_dangerous_clause_in_a_long_ordinary_message_counts() {
    let ordinary = "We had counselling on Tuesday and it went well, the kids are fine, \
                    and we're planning a weekend away in the spring. ";
    let text = format!(
        "{}I have the rope in the garage. {}",
        ordinary.repeat(10),
        ordinary.repeat(10)
    );
    assert!(text.chars().count() > 2000);
    assert_eq!(read(&text), crisis(Category::Suicide));
    assert_eq!(read(&ordinary.repeat(16)), None);
}

#[test]
fn text_speak_without_punctuation_is_read() {
    assert_eq!(read("kms"), crisis(Category::Suicide));
    assert_eq!(read("he hit me agen last nite"), crisis(Category::Abuse));
    assert_eq!(read("im on the bridge rn"), crisis(Category::Suicide));
}

#[test]
fn json_line_names_the_action() {
    let none: serde_json::Value = serde_json::from_str(&screen_json_line(None)).unwrap();
    assert_eq!(none["flagged"], false);
    assert_eq!(none["action"], "none");
    let h = hit("what's the point of anything anymore").unwrap();
    let asked: serde_json::Value = serde_json::from_str(&screen_json_line(Some(&h))).unwrap();
    assert_eq!(asked["flagged"], true);
    assert_eq!(asked["action"], "ask");
    assert_eq!(asked["category"], "suicide");
    assert!(asked.get("excerpt").is_none(), "never the person's words");
}

/// A small valid file, with `frame` added to the abuse frames.
fn minimal(frame: &str) -> String {
    format!(
        r#"[concepts]
i = ["i", "im"]
he = ["he", "she"]

[suicide]
severity = "high"
frames = ["{{i}} .. want to die"]

[self_harm]
severity = "high"
frames = ["{{i}} .. cut myself"]

[harm_others]
severity = "high"
frames = ["{{i}} .. going to stab him"]

[abuse]
severity = "high"
frames = ["{{he}} hit me", {frame}]

[sexual_violence]
severity = "high"
frames = ["{{he}} raped me"]

[scope]
first_person = ["i", "me", "my"]
negation = ["never"]
not_me = ["my friend"]
in_care = ["my daughter"]
accident = ["by accident"]
past = ["years ago"]
present = ["again"]
joke = ["lol"]
raise = ["tonight"]
idioms = ["hit me up"]
"#
    )
}

/// The problem a broken file is refused with: (line, key, problem).
fn refused(source: &str) -> (usize, String, String) {
    match Screen::from_toml(source, Path::new("safety.toml")) {
        Err(SafetyError::Invalid {
            line, key, problem, ..
        }) => (line, key, problem),
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("accepted a broken file"),
    }
}

#[test]
fn a_minimal_file_loads_and_screens() {
    let s = Screen::from_toml(
        &minimal(r#""{he} .. locked me in""#),
        Path::new("safety.toml"),
    )
    .expect("valid")
    .without_learned();
    assert_eq!(
        s.screen("she has locked me in").map(|h| h.category),
        Some(Category::Abuse)
    );
    assert_eq!(s.screen("she would never hit me"), None, "negation");
    assert_eq!(s.screen("hit me up later"), None, "idiom");
}

/// Someone the writer looks after is passed by as someone else is, except
/// when they are the one being hurt.
#[test]
fn harm_to_someone_in_the_writers_care_still_counts() {
    let source =
        minimal(r#""{he} .. touches her""#).replace(r#""{i} .. want to die""#, r#""wants to die""#);
    let s = Screen::from_toml(&source, Path::new("safety.toml"))
        .expect("valid")
        .without_learned();
    let category = |text: &str| s.screen(text).map(|h| h.category);
    assert_eq!(
        category("my daughter says he touches her"),
        Some(Category::Abuse)
    );
    assert_eq!(category("my friend says he touches her"), None);
    // Her own danger, as a friend's, is passed by: she is not the writer.
    assert_eq!(
        category("she says she wants to die"),
        Some(Category::Suicide)
    );
    assert_eq!(category("my daughter says she wants to die"), None);
}

#[test]
fn an_unknown_concept_names_the_line_and_the_nearest_name() {
    let (line, key, problem) = refused(&minimal(r#""{hee} .. locked me in""#));
    assert_eq!((line, key.as_str()), (19, "abuse.frames"));
    assert!(
        problem.contains("{hee}") && problem.contains("did you mean `{he}`"),
        "{problem}"
    );
}

#[test]
fn gaps_are_checked() {
    let (line, key, problem) = refused(&minimal(r#"".. locked me in""#));
    assert_eq!((line, key.as_str()), (19, "abuse.frames"));
    assert!(problem.contains("between two words"), "{problem}");
    let (_, _, problem) = refused(&minimal(r#""{he} ..9 locked me in""#));
    assert!(problem.contains("from 1 to 8"), "{problem}");
    let (_, _, problem) = refused(&minimal(r#""{he} .. ..2 locked me in""#));
    assert!(problem.contains("twice in a row"), "{problem}");
}

#[test]
fn other_mistakes_in_frames_are_named() {
    let (_, _, problem) = refused(&minimal(r#""{he} hit me""#));
    assert!(
        problem.contains("listed twice") && problem.contains("line 19"),
        "{problem}"
    );
    let (_, _, problem) = refused(&minimal(r#""really?""#));
    assert!(problem.contains("optional"), "{problem}");
    let (_, _, problem) = refused(&minimal(r#""{he} .. a||b""#));
    assert!(problem.contains("empty choice"), "{problem}");
    let (_, _, problem) = refused(&minimal(r#""{he .. hit""#));
    assert!(problem.contains("brace"), "{problem}");
    let (_, _, problem) = refused(&minimal(r#""{he} !!!?""#));
    assert!(problem.contains("no words left"), "{problem}");
}

#[test]
fn concepts_are_checked() {
    let looped = minimal("\"{he} hit\"").replace(
        "he = [\"he\", \"she\"]",
        "he = [\"he\", \"{she}\"]\nshe = [\"{he}\"]",
    );
    let (_, key, problem) = refused(&looped);
    assert!(key.starts_with("concepts."), "{key}");
    assert!(problem.contains("loop"), "{problem}");
    let piped = minimal("\"{he} hit\"").replace("he = [\"he\", \"she\"]", "he = [\"he|she\"]");
    let (line, key, problem) = refused(&piped);
    assert_eq!((line, key.as_str()), (3, "concepts.he"));
    assert!(problem.contains("belong in frames"), "{problem}");
    let idiom = minimal("\"{he} hit\"")
        .replace("idioms = [\"hit me up\"]", "idioms = [\"{he} hit me up\"]");
    let (_, key, problem) = refused(&idiom);
    assert_eq!(key, "scope.idioms");
    assert!(problem.contains("word for word"), "{problem}");
}

#[test]
fn toml_mistakes_name_the_key() {
    let (_, _, problem) = refused(&minimal("\"x\"").replace("[abuse]", "[abuze]"));
    assert!(
        problem.contains("abuze") || problem.contains("abuse"),
        "{problem}"
    );
    let (line, _, problem) = refused(&minimal("\"x\"").replace(
        "severity = \"high\"\nframes = [\"{he} raped me\"]",
        "severity = \"urgent\"\nframes = [\"{he} raped me\"]",
    ));
    assert!(line > 1 && problem.contains("urgent"), "{line} {problem}");
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
fn excerpt_is_short_and_around_the_match() {
    let filler = "we talked about the garden and the weekend plans ".repeat(40);
    let text = format!("{filler} and then he hit me again {filler}");
    let h = hit(&text).expect("hit");
    assert!(h.excerpt.len() <= EXCERPT_MAX, "{}", h.excerpt.len());
    assert!(h.excerpt.contains("he hit me"), "{}", h.excerpt);
    let short = hit("He hit me.").expect("hit");
    assert_eq!(short.excerpt, "He hit me.");
}

#[test]
fn the_excerpt_is_the_persons_own_words_on_one_line() {
    let filler = "We talked about the garden, and the weekend's plans. ".repeat(10);
    let text = format!("{filler}Honestly?\n\nI  DON'T want to be here anymore, sorry. {filler}");
    let h = hit(&text).expect("hit");
    assert!(
        h.excerpt.contains("I DON'T want to be here anymore"),
        "{:?}",
        h.excerpt
    );
    assert!(h.excerpt.len() <= EXCERPT_MAX, "{}", h.excerpt.len());
    let leet = hit("feeling su1c1dal again tonight").expect("hit");
    assert_eq!(leet.excerpt, "feeling su1c1dal again tonight");
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
fn load_reports_missing_file() {
    let err = Screen::load(Path::new("/nonexistent/safety.toml")).expect_err("missing");
    assert!(
        err.to_string().contains("/nonexistent/safety.toml"),
        "{err}"
    );
}

#[test]
fn a_hit_from_the_first_reading_keeps_its_own_text() {
    let bytes = b"?h 1m4\x92l4 1Mh 1m4\x92l\x00h 1m4\x92l\x00`\x00 1Mm4 1Mm4\x92\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0\xf0441444444444444444PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffPPPPQPPPPPPPPPPPPPPPPPPPPPPPPPPP44\xff\xff\xff\x9b\xdf\xce\x8c\xfa\x00\x00\x00\x7fh\xef\x9b\xce\x8c\xf5\x8b\x0an\xf5I 4444441444444444444444PPPPPPPPPPPPPPPPPPPPPPPPPPPPPPPP\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xffsu1c1dal again in cutt\xff";
    let text = String::from_utf8_lossy(bytes);
    let hit = hit(&text).expect("\"su1c1dal\" reads as suicidal");
    assert!(hit.excerpt.len() <= EXCERPT_MAX);
    assert!(hit.excerpt.contains("su1c1dal"), "{:?}", hit.excerpt);
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

/// The rules with the learned layer beside them, as mend screens.
fn read_both(text: &str) -> Option<(Action, Category)> {
    Screen::embedded()
        .screen(text)
        .map(|h| (h.action, h.category))
}

#[test]
fn the_learned_layer_asks_where_the_rules_find_nothing() {
    let text = "every time i try to stop halfway he says i cant leave him like that and carries on";
    assert_eq!(read(text), None, "the rules alone miss this");
    assert_eq!(read_both(text), ask(Category::SexualViolence));
    let hit = Screen::embedded().screen(text).unwrap();
    assert!(hit.matched.starts_with("learned layer"), "{}", hit.matched);
}

#[test]
fn the_learned_layer_answers_at_once_when_the_danger_reads_as_now() {
    let text = "platform 2, next train's not stopping here. sorry for being so much work";
    assert_eq!(read(text), None, "the rules alone miss this");
    assert_eq!(read_both(text), crisis(Category::Suicide));
    // A rule's question raised to the full reply.
    let text = "stood on the platform waiting for the fast one to come through, it wont be long";
    assert_eq!(read(text), ask(Category::Suicide));
    let hit = Screen::embedded().screen(text).unwrap();
    assert_eq!(
        (hit.action, hit.category),
        (Action::Crisis, Category::Suicide)
    );
    assert!(
        hit.matched.ends_with("(raised by the learned layer)"),
        "{}",
        hit.matched
    );
}

#[test]
fn a_denial_the_rules_read_still_stands_beside_the_learned_layer() {
    assert_eq!(read_both("I would never kill myself"), None);
    assert_eq!(read_both("I'm not going to hurt myself, don't worry"), None);
    // A "no" in what happened is not a denial of it.
    assert!(read_both("i said no three times and he still didnt stop").is_some());
}

#[test]
fn everyday_words_stay_clear_beside_the_learned_layer() {
    for text in [
        "hi",
        "thanks",
        "ok",
        "goodnight x",
        "I could murder a cup of tea",
        "this week is killing me",
        "he cheated on me and I found out today",
        "we walked the dog along the canal and talked about trust",
        "I'm done with this argument, going to bed",
    ] {
        assert_eq!(read_both(text), None, "{text}");
    }
}

#[test]
fn a_learned_hit_shows_the_sentence_that_worried_it() {
    let ordinary = "We had counselling on Tuesday and it went well, and the kids are fine. ";
    let text = format!(
        "{}Platform 2, next train's not stopping here. {}",
        ordinary.repeat(3),
        ordinary.repeat(3)
    );
    let hit = Screen::embedded()
        .screen(&text)
        .expect("the one sentence is read");
    assert_eq!(hit.excerpt, "Platform 2, next train's not stopping here.");
}

#[test]
fn where_rule_and_model_disagree_on_the_category_a_sure_model_stands() {
    let text = "I'm going to end it tonight once the kids are asleep";
    assert_eq!(read(text).map(|(_, c)| c), Some(Category::HarmOthers));
    let hit = Screen::embedded().screen(text).unwrap();
    assert_eq!(hit.category, Category::Suicide);
    assert!(
        hit.matched
            .contains("read as suicide by the learned layer, not harm_others"),
        "{}",
        hit.matched
    );
    let text = "i want him DEAD. and i want to be the one who does it";
    assert_eq!(read(text).map(|(_, c)| c), Some(Category::Suicide));
    assert_eq!(read_both(text).map(|(_, c)| c), Some(Category::HarmOthers));
}

#[test]
fn everyday_kitchen_words_are_not_poisoning_but_a_harmful_thing_is() {
    for ordinary in [
        "i put some milk in his tea",
        "i made her a cup of tea and put a note in her lunch",
        "i added some sugar to his coffee",
        "i slipped a note into her lunch",
    ] {
        assert_eq!(read(ordinary), None, "{ordinary}");
    }
    for spiking in [
        "put bleach in her shampoo when i was round at theirs",
        "i slipped something in his drink",
        "i crushed up my sleeping tablets into his tea",
    ] {
        assert_eq!(read(spiking), crisis(Category::HarmOthers), "{spiking}");
    }
}

#[test]
fn medicine_kept_at_home_is_asked_about_and_hidden_or_counted_is_not() {
    assert_eq!(read("i keep my meds by the bed"), ask(Category::Suicide));
    assert_eq!(
        read("ive hidden my tablets in the drawer"),
        crisis(Category::Suicide)
    );
    assert_eq!(
        read("ive got a whole box of paracetamol in my drawer"),
        crisis(Category::Suicide)
    );
}

#[test]
fn words_that_say_now_raise_the_learned_layers_question() {
    // The rules find nothing here; the model asks; "about to do it" says now.
    let calm = "the lighter is calling to me again, my arm still stings from last week";
    let now = format!("{calm}, about to do it");
    assert_eq!(read(calm), None, "the rules alone find nothing");
    assert_eq!(read(&now), None, "the rules alone find nothing");
    assert_eq!(read_both(calm), ask(Category::SelfHarm));
    let hit = Screen::embedded().screen(&now).unwrap();
    assert_eq!(
        (hit.action, hit.category),
        (Action::Crisis, Category::SelfHarm)
    );
    assert!(
        hit.matched.contains("says it is happening now"),
        "{}",
        hit.matched
    );
}

#[test]
fn a_rule_s_full_reply_is_asked_instead_where_the_model_reads_it_as_clear() {
    // The rules read a goodbye; the model reads a weekend away.
    let text = "night! wont be around tomorrow, were off to center parcs for the weekend";
    assert_eq!(read(text).map(|(a, _)| a), Some(Action::Crisis));
    let hit = Screen::embedded().screen(text).expect("still asked about");
    assert_eq!(hit.action, Action::Ask, "{}", hit.matched);
    assert!(hit.matched.contains("the learned layer reads it as clear"));
    // Never a life in danger right now.
    let critical = "took all of them with vodka";
    assert_eq!(hit_severity(critical), Some(Severity::Critical));
    assert_eq!(read_both(critical).map(|(a, _)| a), Some(Action::Crisis));
}

fn hit_severity(text: &str) -> Option<Severity> {
    hit(text).map(|h| h.severity)
}

#[test]
fn danger_said_to_be_happening_this_minute_is_never_lowered() {
    // "omw" says now: the rules' reading is a life in danger right now,
    // which the learned layer may not turn into a question.
    let text = "omw to the bridge. cant do this no more";
    assert_eq!(hit_severity(text), Some(Severity::Critical));
    assert_eq!(
        read_both(text),
        crisis(Category::Suicide),
        "{:?}",
        Screen::embedded().screen(text)
    );
    // A countdown from someone on their way.
    let text = "my ex is on his way here. just texted youve got 10 minutes";
    assert_eq!(read(text), crisis(Category::Abuse));
    // Someone's own ten minutes to tidy up is not one.
    assert_eq!(read("she said ive got 10 minutes to tidy up lol"), None);
}

#[test]
fn a_place_on_a_day_out_is_not_asked_about_but_danger_there_still_is() {
    let s = Screen::embedded().without_learned();
    let action = |text: &str| s.screen(text).map(|h| h.action);
    assert_eq!(action("stood on the platform at crewe"), Some(Action::Ask));
    assert_eq!(
        action("stood on the platform at crewe waiting for the delayed train home"),
        None
    );
    assert_eq!(
        action("took the dog up to the cliff top, stunning views"),
        None
    );
    // The outing told in the sentence either side of the place.
    assert_eq!(
        action("we did the coast path on sunday. stood at the cliff edge for ages"),
        None
    );
    assert_eq!(
        action("stood at the cliff edge for ages. held hands and talked properly"),
        None
    );
    // Two sentences away, the outing no longer speaks for the place.
    assert_eq!(
        action(
            "we did the coast path on sunday. he barely spoke. stood at the cliff edge for ages"
        ),
        Some(Action::Ask)
    );
    // A frame that speaks of the act itself still gives the full reply.
    assert_eq!(
        action("on a walk by the cliffs and i want to jump off the edge"),
        Some(Action::Crisis)
    );
    // So does the place said to be this minute.
    assert_eq!(
        action("up here on the bridge with the views, sunny, long way down"),
        Some(Action::Crisis)
    );
    // Even where the place is the only frame that matched.
    assert_eq!(
        action("stood on the platform waiting for the train home as we speak"),
        Some(Action::Crisis)
    );
}

#[test]
fn outing_without_a_places_concept_names_the_key() {
    let source =
        minimal(r#""{he} .. locked me in""#).replace("[scope]", "[scope]\nouting = [\"day out\"]");
    let (_, key, problem) = refused(&source);
    assert_eq!(key, "scope.outing");
    assert!(problem.contains("`height`"), "{problem}");
}

#[test]
fn a_danger_said_in_its_own_words_outranks_one_raised_by_the_words_around_it() {
    let s = Screen::embedded().without_learned();
    // "talk me out of it" is only a question by itself; here the message
    // says it is this minute, but the danger it names is to someone else.
    let hit = s
        .screen("going round now to smash his face in, dont try and talk me out of it")
        .expect("a danger to someone else");
    assert_eq!(hit.category, Category::HarmOthers);
    assert_eq!(hit.action, Action::Crisis);
    // Alone, it is still answered at once: the words say this minute.
    let alone = s
        .screen("please talk me out of it")
        .expect("asked at least");
    assert_eq!(alone.action, Action::Crisis);
}

#[test]
fn words_said_to_be_about_something_else_are_not_asked_about() {
    let s = Screen::embedded().without_learned();
    let action = |text: &str| s.screen(text).map(|h| h.action);
    assert_eq!(action("i cant do this anymore"), Some(Action::Ask));
    assert_eq!(
        action("I can't do this anymore. Not the marriage, the school run with three kids"),
        None
    );
    assert_eq!(
        action("i cant go on like this with the commute, 2 hours each way"),
        None
    );
    // Only a clarification counts, not any "i mean".
    assert_eq!(
        action("i cant do this anymore. i mean the pain is too much"),
        Some(Action::Ask)
    );
    // "Not the relationship, me" says the words were about the writer.
    assert!(
        s.screen("i just want it all to stop, not the relationship, me, i want me to stop")
            .is_some()
    );
    // A plan or a time still says it is about the writer's life.
    assert_eq!(
        action("i cant do this anymore. not the marriage. tonight is the night"),
        Some(Action::Crisis)
    );
}

#[test]
fn danger_this_minute_is_read_as_the_kind_its_own_words_say() {
    let s = Screen::embedded().without_learned();
    // Bleeding that will not stop says "now"; the punch says what it is.
    let hit = s
        .screen(
            "he just punched me in the face and went to get more beer. my nose wont stop bleeding",
        )
        .expect("abuse, now");
    assert_eq!(hit.category, Category::Abuse);
    assert_eq!(hit.action, Action::Crisis);
    assert_eq!(hit.severity, Severity::Critical);
}

#[test]
fn asking_whether_to_wash_after_it_happened_gets_the_full_reply() {
    let s = Screen::embedded().without_learned();
    let hit = s
        .screen("it just happened, hes left, im in the shower, should i not be showering")
        .expect("sexual violence, just now");
    assert_eq!(hit.category, Category::SexualViolence);
    assert_eq!(hit.action, Action::Crisis);
    // The washing-up after a row is not it.
    assert_eq!(
        s.screen("what he did was leave the washing up again")
            .map(|h| h.category),
        None
    );
}
