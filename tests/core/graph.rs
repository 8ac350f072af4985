//! `mend check --graph` and `--transcripts`, through the real binary: the
//! picture and the transcripts of the shipped flows, exact transcripts of a
//! small flow, what is marked, and the failures a counsellor could meet.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use crate::helpers::{mend, prompts_dir, prompts_with, run_mend, shipped};
use mend::flows::{Action, Choice, Flow, Next, Step, Target, graph};

/// Escapes as the page does, to look for a prompt file's words in it.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The classes of a step's box in the page.
fn box_class<'a>(page: &'a str, flow: &str, step: &str) -> &'a str {
    let id = format!("\" id=\"step-{flow}-{step}\"");
    let at = page
        .find(&id)
        .unwrap_or_else(|| panic!("no box for {flow}/{step}"));
    let open = page[..at].rfind("<g class=\"").expect("a box is a group") + "<g class=\"".len();
    &page[open..at]
}

fn check(prompts: &Path, args: &[&str]) -> (std::process::ExitStatus, String, String) {
    let cwd = tempfile::tempdir().unwrap();
    let mut command = mend(cwd.path());
    command
        .arg("check")
        .arg("--prompts")
        .arg(prompts)
        .args(args);
    run_mend(command, "")
}

#[test]
fn the_picture_of_the_shipped_flows_shows_every_flow_step_and_choice() {
    let out = tempfile::tempdir().unwrap();
    // A folder that does not exist yet, two levels down.
    let dir = out.path().join("review").join("flows");
    let (status, stdout, stderr) = check(&prompts_dir(), &["--graph", dir.to_str().unwrap()]);
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("is ready"), "{stdout}");
    let written = dir.join("index.html");
    assert!(stdout.contains(&format!(
        "Wrote the picture of the flows to {}.",
        written.display()
    )));
    let page = std::fs::read_to_string(&written).unwrap();

    let lower = page.to_lowercase();
    assert!(!lower.contains("<script"), "the page runs no scripts");
    for fetch in ["<link", " src=", "@import", "url(http"] {
        assert!(!lower.contains(fetch), "the page fetches nothing: {fetch}");
    }

    let script = shipped();
    for flow in script.flows() {
        assert!(page.contains(&format!("<section id=\"flow-{}\">", flow.id)));
        assert!(
            page.contains(&format!("href=\"#flow-{}\"", flow.id)),
            "contents"
        );
        assert!(page.contains(&esc(&flow.title)));
        assert!(page.contains(&esc(&flow.summary)));
        for step in &flow.steps {
            let class = box_class(&page, &flow.id, &step.id);
            assert!(class.starts_with("step"), "{class}");
            assert!(!class.contains("unreached"), "{}/{}", flow.id, step.id);
            let ends = matches!(step.action, Action::End);
            assert_eq!(
                class.split(' ').any(|c| c == "end"),
                ends,
                "{}/{}",
                flow.id,
                step.id
            );
            for choice in step.choices() {
                assert!(
                    page.contains(&esc(&choice.label)),
                    "{}/{}: {}",
                    flow.id,
                    step.id,
                    choice.label
                );
                if let Target::Flow(to) = &choice.target {
                    assert!(page.contains(&format!("→ {to}</text>")));
                }
            }
        }
    }
    assert!(
        !page.contains("class=\"warn\""),
        "no shipped flow has a dead step"
    );
}

#[test]
fn a_flow_with_an_ending_shows_the_end_marker() {
    let dir = prompts_with(&[("tiny.toml", TINY)]);
    let out = tempfile::tempdir().unwrap();
    let (status, _, stderr) = check(
        dir.path(),
        &["--graph", out.path().to_str().unwrap(), "--flow", "tiny"],
    );
    assert!(status.success(), "{stderr}");
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert_eq!(box_class(&page, "tiny", "thanks"), "step end");
    assert_eq!(box_class(&page, "tiny", "hello"), "step start");
    assert_eq!(box_class(&page, "tiny", "again"), "step");
    let thanks = &page[page.find("id=\"step-tiny-thanks\"").unwrap()..];
    let thanks = &thanks[..thanks.find("</g>\n").unwrap()];
    assert!(thanks.contains("<g class=\"badge end\">"));
    assert!(thanks.contains(">end</text>"));
    // The ask step says what it writes, the quoting step what it quotes,
    // and the arrows carry their labels, the situation and "answer".
    assert!(page.contains("writes: {word}"));
    assert!(page.contains("quotes: {word}"));
    assert!(page.contains("You wrote «word»."));
    assert!(page.contains(">answer, if caused<"));
    assert!(page.contains(">answer, everyone else<"));
    assert!(page.contains(">Show my progress<"));
    assert!(page.contains("shows the progress view"));
    // Only the flow asked for.
    assert!(!page.contains("id=\"flow-welcome\""));
    assert!(
        page.contains("href=\"#flow-menu\""),
        "a link box leads to its flow"
    );
}

#[test]
fn a_step_nobody_reaches_is_marked_never_reached() {
    // Validation refuses such a step, so the flow is built by hand, as an
    // editor's half-finished draft would look.
    let step = |id: &str, action: Action| Step {
        id: id.into(),
        say: vec![format!("This is {id}.")],
        say_for: BTreeMap::new(),
        action,
        save: None,
        fact: None,
        clear: Vec::new(),
        tool: None,
    };
    let choice = |label: &str, to: &str| Choice {
        label: label.into(),
        target: Target::Step(to.into()),
        consent: None,
        situation: None,
        value: None,
        tool: None,
        clear: Vec::new(),
    };
    let flow = Flow {
        id: "draft".into(),
        title: "A draft".into(),
        summary: "Half written.".into(),
        start: "a".into(),
        steps: vec![
            step("a", Action::Choices(vec![choice("On", "b")])),
            step("b", Action::End),
            step(
                "lost",
                Action::Continue(Next {
                    default: "b".into(),
                    for_situation: BTreeMap::new(),
                    when: Vec::new(),
                }),
            ),
        ],
    };
    let page = graph::page(&[&flow]);
    assert_eq!(box_class(&page, "draft", "lost"), "step unreached");
    assert_eq!(box_class(&page, "draft", "a"), "step start");
    assert_eq!(box_class(&page, "draft", "b"), "step end");
    assert!(page.contains(">never reached</text>"));
    assert!(page.contains("Never reached from the start: <code>lost</code>."));
    assert!(page.contains("<span class=\"warn\">1 never reached</span>"));
}

/// A small flow with a situation's own words, a situation's own way, a
/// written answer quoted later, a tool, a way back and a link out.
const TINY: &str = r#"
id = "tiny"
title = "Tiny"
summary = "A tiny flow."
start = "hello"

[[steps]]
id = "hello"
say = "Hello."
say_for.hurt = "Hello, gently."
choices = [
  { label = "Write", next = "write" },
  { label = "Show my progress", tool = "progress", next = "hello" },
  { label = "Menu", flow = "menu" },
]

[[steps]]
id = "write"
say = "Write a word."
ask = "word"
next = "thanks"
next_for.caused = "again"

[[steps]]
id = "thanks"
say = "You wrote {word}.\nThank you."
end = true

[[steps]]
id = "again"
say = "Once more?"
choices = [{ label = "Yes", next = "hello" }]
"#;

const TINY_TRANSCRIPTS: &str = "\
=== tiny: Tiny ===
A tiny flow.

--- no situation chosen: 3 paths ---

path 1:
mend: Hello.
person: [Write]
mend: Write a word.
person: (writes an answer: word)
mend: You wrote «word».
      Thank you.
(the end of this flow; mend offers a button back to the menu)

path 2:
mend: Hello.
person: [Show my progress]
mend: (shows the progress view)
→ back to step hello, shown above

path 3:
mend: Hello.
person: [Menu]
→ continues in flow menu

--- situation hurt: 3 paths ---

path 1:
mend: Hello, gently.
person: [Write]
mend: Write a word.
person: (writes an answer: word)
mend: You wrote «word».
      Thank you.
(the end of this flow; mend offers a button back to the menu)

path 2:
mend: Hello, gently.
person: [Show my progress]
mend: (shows the progress view)
→ back to step hello, shown above

path 3:
mend: Hello, gently.
person: [Menu]
→ continues in flow menu

--- situation caused: 3 paths ---

path 1:
mend: Hello.
person: [Write]
mend: Write a word.
person: (writes an answer: word)
mend: Once more?
person: [Yes]
→ back to step hello, shown above

path 2:
mend: Hello.
person: [Show my progress]
mend: (shows the progress view)
→ back to step hello, shown above

path 3:
mend: Hello.
person: [Menu]
→ continues in flow menu

--- situation together: the same paths and words as no situation chosen ---

--- situation earlier: the same paths and words as no situation chosen ---
";

#[test]
fn transcripts_of_a_small_flow_read_exactly() {
    let dir = prompts_with(&[("tiny.toml", TINY)]);
    let (status, stdout, stderr) = check(dir.path(), &["--transcripts", "--flow", "tiny"]);
    assert!(status.success(), "{stderr}");
    assert_eq!(stdout, TINY_TRANSCRIPTS);
    // The summary still comes, out of the transcripts' way.
    assert!(stderr.contains("is ready: 3 flows"), "{stderr}");
}

#[test]
fn transcripts_follow_a_situation_chosen_on_the_way() {
    // As in the engine: a situation chosen after consent changes the words
    // from then on; without consent it is not kept.
    let flow = r#"
id = "pick"
title = "Pick"
summary = "Choose."
start = "consent"

[[steps]]
id = "consent"
say = "May I keep things?"
choices = [
  { label = "Yes", consent = true, next = "who" },
  { label = "No", consent = false, next = "who" },
]

[[steps]]
id = "who"
say = "Which fits?"
choices = [{ label = "I was hurt", situation = "hurt", next = "after" }]

[[steps]]
id = "after"
say = "Thank you."
say_for.hurt = "Thank you; that was hard."
end = true
"#;
    let dir = prompts_with(&[("pick.toml", flow)]);
    let (status, stdout, stderr) = check(dir.path(), &["--transcripts", "--flow", "pick"]);
    assert!(status.success(), "{stderr}");
    let none = stdout
        .split("--- situation hurt")
        .next()
        .expect("a section for no situation");
    let paths: Vec<&str> = none.split("\npath ").skip(1).collect();
    assert_eq!(paths.len(), 2, "{none}");
    assert!(paths[0].contains("person: [Yes]") && paths[0].contains("Thank you; that was hard."));
    assert!(paths[1].contains("person: [No]") && paths[1].contains("mend: Thank you.\n"));
    // Someone who had consented and says no hears that their things are gone.
    let hurt = stdout.split("--- situation hurt").nth(1).unwrap();
    assert!(hurt.contains("person: [No]\nmend: (says it has cleared everything it kept)"));
}

#[test]
fn transcripts_cover_every_step_of_every_shipped_flow() {
    let (status, stdout, stderr) = check(&prompts_dir(), &["--transcripts"]);
    assert!(status.success(), "{stderr}");
    assert!(
        !stdout.contains("stopped after"),
        "no shipped flow needs the cap"
    );
    let script = shipped();
    for flow in script.flows() {
        let header = format!("=== {}: {} ===\n", flow.id, flow.title);
        let start = stdout.find(&header).unwrap_or_else(|| panic!("{header}"));
        let rest = &stdout[start + header.len()..];
        let section = &rest[..rest.find("\n=== ").unwrap_or(rest.len())];
        for step in &flow.steps {
            if !step.speaks() {
                // It says nothing; it only chooses the way on.
                continue;
            }
            // Some situation sees each step, in one of its wordings or the
            // plain ones.
            let seen = step
                .say
                .iter()
                .chain(step.say_for.values().flatten())
                .any(|words| {
                    let first = words.lines().next().unwrap_or_default();
                    let first = first
                        .replace('{', "«")
                        .replace('}', "»")
                        .replace('|', ", or: ");
                    section.contains(&format!("mend: {first}"))
                });
            assert!(seen, "{}/{} is in no transcript", flow.id, step.id);
        }
    }
}

#[test]
fn words_for_a_situation_that_never_reaches_their_step_are_marked() {
    let flow = r#"
id = "unheard"
title = "Unheard"
summary = "Words nobody hears."
start = "a"

[[steps]]
id = "a"
say = "Hello."
next = "plain"
next_for.caused = "own"

[[steps]]
id = "plain"
say = "For most."
end = true

[[steps]]
id = "own"
say = "For you."
say_for.hurt = "Never said."
say_for.caused = "Said to you."
end = true
"#;
    let dir = prompts_with(&[("unheard.toml", flow)]);
    let out = tempfile::tempdir().unwrap();
    let (status, transcripts, stderr) = check(
        dir.path(),
        &[
            "--graph",
            out.path().to_str().unwrap(),
            "--transcripts",
            "--flow",
            "unheard",
        ],
    );
    assert!(status.success(), "{stderr}");
    assert!(transcripts.contains("mend: Said to you."));
    assert!(!transcripts.contains("Never said."));
    assert!(transcripts.ends_with(
        "\n(never heard: step own has words for hurt, but no path brings someone in that \
         situation there)\n"
    ));
    assert_eq!(transcripts.matches("(never heard").count(), 1);
    let page = std::fs::read_to_string(out.path().join("index.html")).unwrap();
    assert!(page.contains(">never heard: its words for hurt</text>"));
    assert!(page.contains("Step <code>own</code>: never heard: its words for hurt;"));
    assert!(page.contains("1 step with words never heard"));
}

#[test]
fn a_broken_prompt_set_is_refused_before_anything_is_drawn() {
    let dir = prompts_with(&[(
        "broken.toml",
        "id = \"broken\"\ntitle = \"B\"\nsummary = \"B.\"\nstart = \"a\"\n\n\
         [[steps]]\nid = \"a\"\nsay = \"Hi.\"\nnext = \"nowhere\"\n",
    )]);
    let out = tempfile::tempdir().unwrap();
    let pic = out.path().join("pic");
    let (status, stdout, stderr) = check(
        dir.path(),
        &["--graph", pic.to_str().unwrap(), "--transcripts"],
    );
    assert!(!status.success());
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        stderr.contains("flow `broken`, step `a`: `next` leads to the step `nowhere`"),
        "{stderr}"
    );
    assert!(!pic.exists(), "nothing is written for a broken set");
}

#[test]
fn a_picture_that_cannot_be_written_names_the_path() {
    let out = tempfile::tempdir().unwrap();
    // A file where the folder should go: no folder can be made under it.
    let blocker = out.path().join("blocker");
    std::fs::write(&blocker, "").unwrap();
    let pic = blocker.join("pic");
    let (status, stdout, stderr) = check(&prompts_dir(), &["--graph", pic.to_str().unwrap()]);
    assert!(!status.success());
    assert!(!stdout.contains("Wrote"), "{stdout}");
    assert!(
        stderr.contains(&format!("mend: cannot write {}: ", pic.display())),
        "{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_unknown_flow_is_named_with_the_ones_there_are() {
    let (status, stdout, stderr) = check(&prompts_dir(), &["--transcripts", "--flow", "nope"]);
    assert!(!status.success());
    assert!(stdout.is_empty());
    assert!(stderr.contains("there is no flow `nope` in "), "{stderr}");
    assert!(stderr.contains("acknowledge, both-engage,"), "{stderr}");
    // --flow alone would do nothing, so it is refused.
    let (status, _, stderr) = check(&prompts_dir(), &["--flow", "menu"]);
    assert!(!status.success());
    assert!(
        stderr.contains("--graph") || stderr.contains("--transcripts"),
        "{stderr}"
    );
}

#[test]
fn a_reader_that_stops_early_is_not_a_failure() {
    let cwd = tempfile::tempdir().unwrap();
    let mut command = mend(cwd.path());
    command
        .arg("check")
        .arg("--prompts")
        .arg(prompts_dir())
        .arg("--transcripts");
    let mut child = command.spawn().unwrap();
    drop(child.stdin.take());
    let mut stdout = child.stdout.take().unwrap();
    // Far less than the transcripts, which are more than a pipe holds.
    let mut first = [0; 64];
    stdout.read_exact(&mut first).unwrap();
    assert!(first.starts_with(b"=== "));
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
