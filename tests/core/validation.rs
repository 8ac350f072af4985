//! Each validation rule, from a small broken prompt file, with its message.

use crate::helpers::{mend, prompts_with, run_mend};
use mend::flows::{self, LoadError};

/// Loads WELCOME + MENU + one extra file and returns the error text.
fn problems(name: &str, text: &str) -> String {
    let dir = prompts_with(&[(name, text)]);
    match flows::load_dir(dir.path()) {
        Ok(_) => panic!("{name} should have been refused"),
        Err(err @ LoadError::Invalid(_)) => err.to_string(),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

fn flow(steps: &str) -> String {
    format!(
        "id = \"broken\"\ntitle = \"Broken\"\nsummary = \"A broken flow.\"\nstart = \"a\"\n\n{steps}"
    )
}

fn assert_names(message: &str, expected: &[&str]) {
    for part in expected {
        assert!(
            message.contains(part),
            "expected {part:?} in the error:\n{message}"
        );
    }
}

#[test]
fn unknown_step_target_names_file_flow_and_step() {
    let message = problems(
        "broken.toml",
        &flow("[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nnext = \"nowhere\"\n"),
    );
    assert_names(
        &message,
        &[
            "broken.toml:7",
            "flow `broken`",
            "step `a`",
            "`next` leads to the step `nowhere`, which is not in this flow",
        ],
    );
}

#[test]
fn unknown_flow_target_is_refused() {
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nchoices = [{ label = \"Go\", flow = \"ghost\" }]\n",
        ),
    );
    assert_names(
        &message,
        &["step `a`", "leads to flow `ghost`, which does not exist"],
    );
}

#[test]
fn unknown_choice_step_is_refused() {
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nchoices = [{ label = \"Go\", next = \"b\" }]\n",
        ),
    );
    assert_names(
        &message,
        &["the choice \"Go\" leads to the step `b`, which is not in this flow"],
    );
}

#[test]
fn unreachable_step_is_refused() {
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nend = true\n\n[[steps]]\nid = \"lonely\"\nsay = \"No one comes here.\"\nend = true\n",
        ),
    );
    assert_names(
        &message,
        &[
            "step `lonely`",
            "nobody can reach this step from the start (`a`)",
        ],
    );
}

#[test]
fn dead_end_is_refused() {
    let message = problems(
        "broken.toml",
        &flow("[[steps]]\nid = \"a\"\nsay = \"And then nothing.\"\n"),
    );
    assert_names(&message, &["step `a`", "has no way forward"]);
}

#[test]
fn end_with_a_way_forward_is_refused() {
    let message = problems(
        "broken.toml",
        &flow("[[steps]]\nid = \"a\"\nsay = \"Bye.\"\nend = true\nnext = \"a\"\n"),
    );
    assert_names(&message, &["`end = true` but also has a way forward"]);
}

#[test]
fn duplicate_flow_ids_are_refused() {
    let copy = crate::helpers::MENU;
    let message = problems("menu-again.toml", copy);
    assert_names(
        &message,
        &["menu-again.toml", "the flow id `menu` is already used in"],
    );
}

#[test]
fn duplicate_step_ids_are_refused() {
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"One.\"\nend = true\n\n[[steps]]\nid = \"a\"\nsay = \"Two.\"\nend = true\n",
        ),
    );
    assert_names(
        &message,
        &[
            "broken.toml:12",
            "another step in this flow already has the id `a`",
        ],
    );
}

#[test]
fn empty_text_is_refused() {
    let message = problems(
        "broken.toml",
        &flow("[[steps]]\nid = \"a\"\nsay = \"   \"\nend = true\n"),
    );
    assert_names(&message, &["step `a`", "`say` is empty"]);

    let message = problems(
        "broken.toml",
        "id = \"broken\"\ntitle = \"\"\nsummary = \"x\"\nstart = \"a\"\n[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nend = true\n",
    );
    assert_names(&message, &["flow `broken`", "the title is empty"]);

    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nchoices = [{ label = \" \", next = \"a\" }]\n",
        ),
    );
    assert_names(&message, &["a choice has an empty label"]);
}

#[test]
fn long_label_is_refused() {
    let label = "x".repeat(81);
    let message = problems(
        "broken.toml",
        &flow(&format!(
            "[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nchoices = [{{ label = \"{label}\", next = \"a\" }}]\n"
        )),
    );
    assert_names(
        &message,
        &["is 81 characters; a Discord button label holds at most 80"],
    );
}

#[test]
fn too_many_choices_are_refused() {
    let choices: Vec<String> = (1..=21)
        .map(|i| format!("{{ label = \"Option {i}\", next = \"a\" }}"))
        .collect();
    let message = problems(
        "broken.toml",
        &flow(&format!(
            "[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nchoices = [{}]\n",
            choices.join(", ")
        )),
    );
    assert_names(
        &message,
        &["the step offers 21 choices; Discord can show at most 20"],
    );
}

#[test]
fn long_message_is_refused_and_quotes_count_as_their_longest() {
    let say = "x".repeat(2001);
    let message = problems(
        "broken.toml",
        &flow(&format!(
            "[[steps]]\nid = \"a\"\nsay = \"{say}\"\nend = true\n"
        )),
    );
    assert_names(
        &message,
        &[
            "`say` is 2001 characters long",
            "Discord shows at most 2000",
        ],
    );

    // 1,750 characters of text plus one quote (300) is over the limit.
    let say = format!("{} {{what}}", "x".repeat(1750));
    let message = problems(
        "broken.toml",
        &flow(&format!(
            "[[steps]]\nid = \"a\"\nsay = \"Tell me.\"\nask = \"what\"\nnext = \"b\"\n\n[[steps]]\nid = \"b\"\nsay = \"{say}\"\nend = true\n"
        )),
    );
    assert_names(&message, &["step `b`", "`say` is 2051 characters long"]);
}

#[test]
fn unknown_key_is_refused_with_its_line() {
    let message = problems(
        "broken.toml",
        &flow("[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nchioces = []\nend = true\n"),
    );
    assert_names(&message, &["broken.toml:9", "unknown field `chioces`"]);
}

#[test]
fn bad_toml_is_refused_with_its_line() {
    let message = problems("broken.toml", "id = \"broken\"\ntitle = \"unterminated\n");
    assert_names(&message, &["broken.toml:2"]);
}

#[test]
fn unknown_quote_and_situation_are_refused() {
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"You said {nothing}.\"\nsay_for.lost = \"Hm.\"\nend = true\n",
        ),
    );
    assert_names(
        &message,
        &[
            "quotes `{nothing}`, but no step in this flow asks for or saves `nothing`",
            "`say_for.lost` names an unknown situation",
        ],
    );
}

#[test]
fn circle_of_carry_on_steps_is_refused() {
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"One.\"\nnext = \"b\"\n\n[[steps]]\nid = \"b\"\nsay = \"Two.\"\nnext = \"a\"\n",
        ),
    );
    assert_names(
        &message,
        &["carry on to each other in a circle", "a -> b -> a"],
    );
}

#[test]
fn missing_welcome_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("flows")).unwrap();
    std::fs::write(dir.path().join("flows/menu.toml"), crate::helpers::MENU).unwrap();
    let message = flows::load_dir(dir.path()).unwrap_err().to_string();
    assert_names(&message, &["there is no `welcome` flow"]);
}

#[test]
fn every_problem_is_reported_at_once() {
    let dir = prompts_with(&[
        (
            "one.toml",
            &flow("[[steps]]\nid = \"a\"\nsay = \"\"\nend = true\n").replace("broken", "one"),
        ),
        (
            "two.toml",
            &flow("[[steps]]\nid = \"a\"\nsay = \"Hi.\"\n").replace("broken", "two"),
        ),
    ]);
    let message = flows::load_dir(dir.path()).unwrap_err().to_string();
    assert_names(&message, &["2 problems", "one.toml", "two.toml"]);
}

#[test]
fn check_command_fails_on_a_broken_folder_and_summarises_a_good_one() {
    let broken = prompts_with(&[(
        "broken.toml",
        &flow("[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nnext = \"nowhere\"\n"),
    )]);
    let mut command = mend(broken.path());
    command.args(["check", "--prompts", "."]);
    let (status, _, stderr) = run_mend(command, "");
    assert!(!status.success());
    assert!(stderr.contains("flow `broken`, step `a`"), "{stderr}");

    let good = prompts_with(&[]);
    let mut command = mend(good.path());
    command.args(["check", "--prompts", "."]);
    let (status, stdout, stderr) = run_mend(command, "");
    assert!(status.success(), "{stderr}");
    assert!(stdout.contains("2 flows, 2 steps, 0 endings"), "{stdout}");
}

#[test]
fn check_command_reports_a_broken_safety_list_with_its_line() {
    let dir = prompts_with(&[]);
    std::fs::write(
        dir.path().join("safety.toml"),
        "[self_harm]\nseverity = \"urgent\"\nphrases = []\n",
    )
    .unwrap();
    let mut command = mend(dir.path());
    command.args(["check", "--prompts", "."]);
    let (status, _, stderr) = run_mend(command, "");
    assert!(!status.success());
    assert!(stderr.contains("safety.toml"), "{stderr}");
    assert!(stderr.contains("line"), "{stderr}");
}

#[test]
fn screen_command_prints_one_json_line_per_message_and_no_excerpt() {
    let dir = tempfile::tempdir().unwrap();
    let mut command = mend(dir.path());
    command.arg("screen");
    let input = "I could murder a cup of tea\nI want to end my life tonight\n\nhe won't let me see my friends\n";
    let (status, stdout, stderr) = run_mend(command, input);
    assert!(status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    assert_eq!(lines[0]["flagged"], false);
    assert_eq!(lines[0]["category"], serde_json::Value::Null);
    assert_eq!(lines[0]["action"], "none");
    assert_eq!(lines[1]["flagged"], true);
    assert_eq!(lines[1]["action"], "crisis");
    assert_eq!(lines[1]["category"], "suicide");
    assert_eq!(lines[2]["flagged"], false);
    assert_eq!(lines[3]["category"], "abuse");
    for line in &lines {
        // `flagged` is true exactly when there is something to do.
        assert_eq!(line["flagged"] == true, line["action"] != "none", "{line}");
    }
    assert!(!stdout.contains("tonight"), "no excerpt of the message");
}

#[test]
fn recorded_choices_need_a_name_and_values() {
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"How is it?\"\nchoices = [{ label = \"Good\", next = \"a\", value = \"5\" }]\n",
        ),
    );
    assert_names(&message, &["the step has no `save = \"name\"`"]);
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"How is it?\"\nsave = \"scale\"\nchoices = [{ label = \"Good\", next = \"a\" }]\n",
        ),
    );
    assert_names(
        &message,
        &["saves `scale` but none of its choices has a `value`"],
    );
}

#[test]
fn tools_are_checked_by_name_place_and_days() {
    let choice = |extra: &str| {
        flow(&format!(
            "[[steps]]\nid = \"a\"\nsay = \"Which?\"\nchoices = [{{ label = \"Go\", next = \"a\"{extra} }}]\n"
        ))
    };
    let cases = [
        (
            choice(", tool = \"teleport\""),
            "uses the unknown tool `teleport`; expected one of: progress, checkin-show, checkin-off, checkin-pause",
        ),
        (
            choice(", tool = \"checkin-pause\""),
            "pauses check-ins but says not for how long; add `days = 7` (1 to 60)",
        ),
        (
            choice(", tool = \"checkin-pause\", days = 90"),
            "pauses check-ins for 90 days; expected 1 to 60",
        ),
        (
            choice(", days = 3"),
            "has `days`, which only `tool = \"checkin-pause\"` uses",
        ),
        (
            choice(", tool = \"checkin-on\""),
            "uses `checkin-on`, which needs a written time and zone; put it on an `ask` step instead",
        ),
        (
            flow("[[steps]]\nid = \"a\"\nsay = \"Bye.\"\ntool = \"checkin-on\"\nend = true\n"),
            "`tool = \"checkin-on\"` takes the person's written answer, so the step needs an `ask`",
        ),
        (
            flow(
                "[[steps]]\nid = \"a\"\nsay = \"When?\"\nask = \"when\"\ntool = \"progress\"\nnext = \"b\"\n\n[[steps]]\nid = \"b\"\nsay = \"Bye.\"\nend = true\n",
            ),
            "a step's `tool` can only be `checkin-on`, not `progress`",
        ),
    ];
    for (text, expected) in cases {
        let message = problems("broken.toml", &text);
        assert_names(
            &message,
            &["broken.toml", "flow `broken`", "step `a`", expected],
        );
    }
}

/// A flow named like a kind of button mend makes (`flag`, `privacy`,
/// `ask`, `c`) would make its old-style button ids begin like those, and a
/// press could reach the moderators' or the erasure's handling.
#[test]
fn a_flow_named_after_a_kind_of_button_is_refused() {
    for id in ["flag", "privacy", "ask", "c"] {
        let text = format!(
            "id = \"{id}\"\ntitle = \"Named badly\"\nsummary = \"A flow.\"\nstart = \"a\"\n\n\
             [[steps]]\nid = \"a\"\nsay = \"Hi.\"\nend = true\n"
        );
        let file = format!("{id}.toml");
        let message = problems(&file, &text);
        assert_names(
            &message,
            &[
                &format!("{file}:1"),
                &format!("flow `{id}`"),
                &format!("the flow id `{id}` is kept for mend's own buttons"),
                "choose another",
            ],
        );
    }
    // Only the words themselves: a flow may begin with one.
    let dir = prompts_with(&[(
        "flags.toml",
        "id = \"flags\"\ntitle = \"Fine\"\nsummary = \"A flow.\"\nstart = \"a\"\n\n\
         [[steps]]\nid = \"a\"\nsay = \"Hi.\"\nend = true\n",
    )]);
    assert!(flows::load_dir(dir.path()).is_ok());

    // `mend check` says the same, naming the file and the flow.
    let broken = prompts_with(&[(
        "privacy.toml",
        "id = \"privacy\"\ntitle = \"Named badly\"\nsummary = \"A flow.\"\nstart = \"a\"\n\n\
         [[steps]]\nid = \"a\"\nsay = \"Hi.\"\nend = true\n",
    )]);
    let mut command = mend(broken.path());
    command.args(["check", "--prompts", "."]);
    let (status, _, stderr) = run_mend(command, "");
    assert!(!status.success());
    assert!(stderr.contains("privacy.toml:1"), "{stderr}");
    assert!(stderr.contains("flow `privacy`"), "{stderr}");
    assert!(stderr.contains("kept for mend's own buttons"), "{stderr}");
}

/// A flow that keeps the fact `small_action`, for others to quote and test.
const KEEPS: &str = "id = \"keeps\"\ntitle = \"Keeps\"\nsummary = \"Keeps a fact.\"\nstart = \"a\"\n\n\
[[steps]]\nid = \"a\"\nsay = \"What will you do?\"\nask = \"action\"\nfact = \"small_action\"\nnext = \"b\"\n\n\
[[steps]]\nid = \"b\"\nsay = \"Kept.\"\nend = true\n";

fn problems_with_keeps(text: &str) -> String {
    let dir = prompts_with(&[("keeps.toml", KEEPS), ("broken.toml", text)]);
    match flows::load_dir(dir.path()) {
        Ok(_) => panic!("broken.toml should have been refused"),
        Err(err) => err.to_string(),
    }
}

#[test]
fn a_fact_quoted_from_another_flow_needs_words_for_when_it_is_missing() {
    let message = problems_with_keeps(&flow(
        "[[steps]]\nid = \"a\"\nsay = \"You planned {small_action}.\"\nend = true\n",
    ));
    assert_names(
        &message,
        &[
            "broken.toml:7",
            "flow `broken`",
            "step `a`",
            "quotes `{small_action}` with nothing to say when `small_action` is not kept",
            "`{small_action|words for when it is missing}`",
        ],
    );
    // With a fallback, or behind a test that it is known, it is fine.
    for fine in [
        "[[steps]]\nid = \"a\"\nsay = \"You planned {small_action|nothing yet}.\"\nend = true\n",
        "[[steps]]\nid = \"a\"\nwhen = [{ known = \"small_action\", next = \"b\" }]\nnext = \"c\"\n\n\
         [[steps]]\nid = \"b\"\nsay = \"You planned {small_action}.\"\nend = true\n\n\
         [[steps]]\nid = \"c\"\nsay = \"Nothing planned.\"\nend = true\n",
    ] {
        let dir = prompts_with(&[("keeps.toml", KEEPS), ("fine.toml", &flow(fine))]);
        flows::load_dir(dir.path()).unwrap_or_else(|e| panic!("{fine}\nwas refused: {e}"));
    }
}

#[test]
fn an_answer_quoted_after_the_turn_it_was_written_in_needs_a_fallback() {
    // Before consent an answer lives only for the turn it was written in,
    // so a quote past a button press could have nothing to show.
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"Write.\"\nask = \"x\"\nnext = \"b\"\n\n\
             [[steps]]\nid = \"b\"\nsay = \"Ready?\"\nchoices = [{ label = \"Yes\", next = \"c\" }]\n\n\
             [[steps]]\nid = \"c\"\nsay = \"You wrote {x}.\"\nend = true\n",
        ),
    );
    assert_names(&message, &["step `c`", "quotes `{x}` with nothing to say"]);
}

#[test]
fn tests_and_clears_name_something_kept() {
    let message = problems_with_keeps(&flow(
        "[[steps]]\nid = \"a\"\nsay = \"Hi.\"\nwhen = [{ known = \"smal_action\", next = \"b\" }, { fact = \"small_action\", next = \"b\" }, { known = \"small_action\", next = \"nowhere\" }]\nnext = \"b\"\n\n\
         [[steps]]\nid = \"b\"\nsay = \"Bye.\"\nchoices = [{ label = \"Forget\", next = \"c\", clear = [\"boundary\"] }]\n\n\
         [[steps]]\nid = \"c\"\nsay = \"Done.\"\nclear = [\"small_actions\"]\nend = true\n",
    ));
    assert_names(
        &message,
        &[
            "`when` 1 tests `smal_action`, but no step in this flow asks for or saves `smal_action`, and no flow keeps a fact `smal_action`",
            "`when` 2 names `fact = \"small_action\"` but no value to test",
            "`when` 3 leads to the step `nowhere`, which is not in this flow",
            "the choice \"Forget\" clears `boundary`, but no flow keeps a fact `boundary`",
            "the step clears `small_actions`, but no flow keeps a fact `small_actions`",
        ],
    );
}

#[test]
fn a_tested_value_must_be_one_a_choice_keeps() {
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nsay = \"How was it?\"\nsave = \"how\"\nchoices = [{ label = \"Good\", next = \"b\", value = \"good\" }]\n\n\
             [[steps]]\nid = \"b\"\nwhen = [{ fact = \"how\", is = [\"good\", \"grand\"], next = \"c\" }]\nnext = \"c\"\n\n\
             [[steps]]\nid = \"c\"\nsay = \"Thanks.\"\nend = true\n",
        ),
    );
    assert_names(
        &message,
        &[
            "`when` 1 tests whether `how` is \"grand\", but no choice keeps that value; expected one of: good",
        ],
    );
}

#[test]
fn a_step_without_words_only_chooses_the_way_on() {
    let message = problems(
        "broken.toml",
        &flow(
            "[[steps]]\nid = \"a\"\nnext = \"b\"\n\n\
             [[steps]]\nid = \"b\"\nsay = []\nfact = \"x\"\nend = true\n",
        ),
    );
    assert_names(
        &message,
        &[
            "step `a`: the step has no `say`",
            "step `b`: `say` is an empty list",
            "the step keeps the fact `x` but neither asks (`ask`) nor saves a choice",
        ],
    );
}

#[test]
fn a_wording_of_the_wrong_type_names_what_was_expected() {
    let message = problems(
        "broken.toml",
        &flow("[[steps]]\nid = \"a\"\nsay = 3\nend = true\n"),
    );
    assert_names(
        &message,
        &["broken.toml", "words in quotes, or a list of them in [ ]"],
    );
}

#[test]
fn the_daily_check_in_keeps_what_the_progress_view_counts() {
    let daily = "id = \"daily\"\ntitle = \"Daily\"\nsummary = \"Check in.\"\nstart = \"a\"\n\n\
        [[steps]]\nid = \"a\"\nsay = \"How close, 1 to 5?\"\nsave = \"scale\"\nchoices = [\
        { label = \"Low\", next = \"b\", value = \"low\" }, { label = \"High\", next = \"b\", value = \"5\" }]\n\n\
        [[steps]]\nid = \"b\"\nsay = \"A note?\"\nsave = \"note\"\nchoices = [{ label = \"Fine\", next = \"c\", value = \"fine\" }]\n\n\
        [[steps]]\nid = \"c\"\nsay = \"Thanks.\"\nend = true\n";
    let message = problems("daily.toml", daily);
    assert_names(
        &message,
        &[
            "daily.toml",
            "flow `daily`",
            "step `a`: `scale` is kept for the progress view, which counts only the values 1, 2, 3, 4, 5; this step saves \"low\"",
            "the daily check-in has no step with `save = \"action\"`",
            "step `b`: `note` is the check-in's written line",
        ],
    );
}
