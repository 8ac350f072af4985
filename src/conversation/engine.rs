//! The conversation engine: (a person's state, one input) -> (new state,
//! replies, events). Pure: no I/O, no clock, no Discord, no database. Every
//! edge (terminal, Discord, tests) drives the same function.

use std::collections::BTreeMap;

use crate::edge::Edge;
use crate::flows::{
    Action, Choice, MENU, Next, Piece, QUOTE_CHARS, Script, Situation, Step, Target, Tool, WELCOME,
    pick, pieces,
};
use crate::referrals::{ChoiceButton, Reply};
use crate::safety::{Action as Screened, Category, CrisisReplies, Hit, Screen};
use jiff::{SignedDuration, Timestamp};

/// The longest written answer mend keeps. Discord itself stops at 4,000.
pub const MAX_ANSWER_CHARS: usize = 4000;

/// How many carry-on steps one turn may say before it stops; validation
/// already refuses circles, so this is only a guard.
const MAX_STEPS_PER_TURN: usize = 32;

/// Whether a person has agreed to mend keeping what they tell it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Consent {
    #[default]
    Unasked,
    Given,
    Declined,
}

impl Consent {
    pub fn as_str(self) -> &'static str {
        match self {
            Consent::Unasked => "unasked",
            Consent::Given => "given",
            Consent::Declined => "declined",
        }
    }

    pub fn parse(text: &str) -> Option<Consent> {
        [Consent::Unasked, Consent::Given, Consent::Declined]
            .into_iter()
            .find(|c| c.as_str() == text)
    }
}

/// Where a person is: a step of a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    pub flow: String,
    pub step: String,
}

/// Everything the engine knows about one person.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct State {
    pub consent: Consent,
    pub situation: Option<Situation>,
    pub place: Option<Place>,
    pub paused: bool,
    /// Written answers, by (flow, name). Only ever filled after consent.
    pub answers: BTreeMap<(String, String), String>,
    /// What the person chose and wrote that is theirs, not one flow's (the
    /// small action they chose, the boundary they named), by name, for
    /// every flow to quote and test. Only ever filled after consent.
    pub facts: BTreeMap<String, String>,
    /// Words they typed where buttons were offered, which mend offered to
    /// keep as a note in their journal; held only until their next turn,
    /// and only with consent.
    pub offered_note: Option<String>,
    /// A number fixed for this person, so the wording they see varies from
    /// day to day but the same person on the same day reads the same.
    pub seed: u64,
    /// When this person last had the full crisis reply, for the cooldown.
    pub crisis_replied_at: Option<Timestamp>,
    /// When mend last asked whether they were safe, so it does not ask on
    /// every line.
    pub asked_at: Option<Timestamp>,
    /// What a worrying but unclear message showed, while mend waits for the
    /// answer to its question.
    pub pending_ask: Option<Hit>,
}

/// One thing a person did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A session begins (the terminal opens, or a person runs `/start`):
    /// greet a newcomer, or pick up where a returning person left off.
    Start,
    /// Words they typed.
    Text(String),
    /// A button they pressed, by its id.
    Choice(String),
    /// Open a flow from its start (a slash command, or the daily check-in).
    Begin(String),
}

/// Something that happened, for the event log: ids and kinds only, never
/// anything the person wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    FlowStarted {
        flow: String,
    },
    FlowFinished {
        flow: String,
    },
    AnswerSaved {
        flow: String,
        name: String,
    },
    AnswerNotKept {
        flow: String,
    },
    /// A fact of the person's was kept or changed.
    FactKept {
        name: String,
    },
    /// A fact of the person's was forgotten, as a flow asked.
    FactCleared {
        name: String,
    },
    /// Words typed where buttons were offered were answered as words.
    Heard {
        flow: String,
        step: String,
    },
    /// They kept those words as a note in their journal.
    NoteKept,
    ConsentGiven,
    ConsentDeclined,
    SituationChosen,
    Paused,
    Resumed,
    Reasked {
        flow: String,
        step: String,
    },
    StaleChoice,
    PlaceLost,
    CrisisReplied,
    CrisisReminded,
    /// mend asked whether the person was safe.
    Asked,
    /// They answered "No, I'm safe".
    AskedSafe,
}

impl Event {
    pub fn kind(&self) -> &'static str {
        match self {
            Event::FlowStarted { .. } => "flow_started",
            Event::FlowFinished { .. } => "flow_finished",
            Event::AnswerSaved { .. } => "answer_saved",
            Event::AnswerNotKept { .. } => "answer_not_kept",
            Event::FactKept { .. } => "fact_kept",
            Event::FactCleared { .. } => "fact_cleared",
            Event::Heard { .. } => "heard",
            Event::NoteKept => "note_kept",
            Event::ConsentGiven => "consent_given",
            Event::ConsentDeclined => "consent_declined",
            Event::SituationChosen => "situation_chosen",
            Event::Paused => "paused",
            Event::Resumed => "resumed",
            Event::Reasked { .. } => "reasked",
            Event::StaleChoice => "stale_choice",
            Event::PlaceLost => "place_lost",
            Event::CrisisReplied => "crisis_replied",
            Event::CrisisReminded => "crisis_reminded",
            Event::Asked => "asked",
            Event::AskedSafe => "asked_safe",
        }
    }

    pub fn flow(&self) -> Option<&str> {
        match self {
            Event::FlowStarted { flow }
            | Event::FlowFinished { flow }
            | Event::AnswerSaved { flow, .. }
            | Event::AnswerNotKept { flow }
            | Event::Heard { flow, .. }
            | Event::Reasked { flow, .. } => Some(flow),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub state: State,
    pub replies: Vec<Reply>,
    pub events: Vec<Event>,
    /// A crisis signal the screen found, for the moderators' queue.
    pub flag: Option<Hit>,
    /// The flag was raised because the person answered mend's question
    /// "yes" or "not sure", which the moderators are told.
    pub flag_asked: bool,
    /// What the edge is asked to do once the turn is kept; the words each
    /// task returns go before `replies`.
    pub tasks: Vec<Task>,
}

/// A flow's [`Tool`] as the edge receives it, with what the person wrote
/// when the tool needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Task {
    Progress,
    CheckinShow,
    CheckinOff,
    CheckinPause {
        days: i64,
    },
    /// The time and zone as written, for example `20:30 Europe/London`.
    CheckinOn {
        when: String,
    },
    /// Something for pairing to do (see [`crate::pairing`]).
    Pair(crate::pairing::Act),
}

/// Everything a turn needs: the flows, the crisis screen and its words, and
/// how long the full crisis reply waits before it is sent again to the same
/// person (a shorter reminder goes in between). Built once at start.
#[derive(Debug, Clone)]
pub struct Companion {
    pub script: Script,
    pub screen: Screen,
    pub crisis: CrisisReplies,
    pub cooldown: SignedDuration,
}

impl Companion {
    /// One turn with screening first: see [`respond`].
    pub fn respond(&self, state: &State, input: &Input, now: Timestamp) -> Outcome {
        respond(self, state, input, now)
    }

    /// What the screen finds in an input: only typed words are screened.
    /// The edges call this before they touch the store, so the crisis reply
    /// never waits for the database.
    pub fn screen(&self, input: &Input) -> Option<Hit> {
        match input {
            Input::Text(text) => self.screen.screen(text),
            _ => None,
        }
    }

    /// One turn whose input was already screened (see [`Companion::screen`]).
    pub fn respond_screened(
        &self,
        state: &State,
        input: &Input,
        hit: Option<Hit>,
        now: Timestamp,
    ) -> Outcome {
        respond_screened(self, Edge::Discord, state, input, hit, now)
    }

    /// [`Companion::respond_screened`] for a person talking through `edge`,
    /// whose words name only what works there.
    pub fn respond_through(
        &self,
        edge: Edge,
        state: &State,
        input: &Input,
        hit: Option<Hit>,
        now: Timestamp,
    ) -> Outcome {
        respond_screened(self, edge, state, input, hit, now)
    }

    /// The answer to words meant for a partner that the screen found
    /// something in (from `/pair send`): never delivered, and answered as
    /// the same words typed in a turn would be (the crisis reply and a
    /// flag, or mend's question), except that they are never taken as an
    /// answer to where the person is.
    pub fn respond_withheld(&self, edge: Edge, state: &State, hit: Hit, now: Timestamp) -> Outcome {
        let mut turn = Turn::new(&self.script, state, day_of(now));
        turn.edge = edge;
        let recent =
            |at: Option<Timestamp>| at.is_some_and(|at| now.duration_since(at) < self.cooldown);
        match hit.action {
            Screened::Ask if recent(state.crisis_replied_at) => {
                turn.crisis(self, &hit, now);
                turn.outcome(None)
            }
            Screened::Ask if !recent(state.asked_at) => {
                turn.events.push(Event::Asked);
                turn.state.asked_at = Some(now);
                turn.state.pending_ask = Some(hit.clone());
                turn.replies.push(Reply::new(
                    self.crisis.ask(hit.category),
                    ask_buttons(hit.category),
                ));
                turn.outcome(None)
            }
            Screened::Ask => {
                let withheld = crate::pairing::told(&crate::pairing::Done::Withheld, edge);
                turn.replies.push(withheld);
                turn.carry_on();
                turn.outcome(None)
            }
            _ => {
                turn.crisis(self, &hit, now);
                turn.outcome(Some(hit))
            }
        }
    }

    /// What a press of "Yes" or "I'm not sure" under mend's question stands
    /// for, read from the button alone: for an edge whose store is failing,
    /// so the answer still gets the crisis reply and a flag. The person's
    /// words stay where the question kept them; this hit has none.
    pub fn unsafe_answer(&self, input: &Input) -> Option<Hit> {
        let Input::Choice(id) = input else {
            return None;
        };
        match pressed_answer(id)? {
            (Answer::Yes | Answer::Unsure, category) => Some(Hit {
                category,
                severity: crate::safety::Severity::High,
                action: Screened::Crisis,
                matched: "answered mend's question yes or not sure".to_owned(),
                excerpt: String::new(),
            }),
            (Answer::Safe, _) => None,
        }
    }

    /// The crisis reply on its own, for when a person's state cannot be
    /// read (the store is failing): the full reply, with no buttons that
    /// would need a place to go back to.
    pub fn crisis_alone(&self, hit: &Hit) -> Reply {
        Reply::new(self.crisis.full(hit.category), Vec::new())
    }
}

/// One turn with screening first: every written message is screened before
/// the flows see it, whatever the step and whether or not the person has
/// consented. A clear hit interrupts the flow: the crisis reply comes at
/// once, the person's place is kept, and the written text goes no further.
/// An unclear one is met with a direct, kind question whose answer decides.
pub fn respond(companion: &Companion, state: &State, input: &Input, now: Timestamp) -> Outcome {
    let hit = companion.screen(input);
    respond_screened(companion, Edge::Discord, state, input, hit, now)
}

fn respond_screened(
    companion: &Companion,
    edge: Edge,
    state: &State,
    input: &Input,
    hit: Option<Hit>,
    now: Timestamp,
) -> Outcome {
    let script = &companion.script;
    let mut turn = Turn::new(script, state, day_of(now));
    turn.edge = edge;
    if let Some(asked) = state.pending_ask.clone() {
        turn.state.pending_ask = None;
        match (&hit, answer(input)) {
            (Some(h), _) if h.action == Screened::Crisis => {}
            (_, Some(Answer::Yes | Answer::Unsure)) => {
                turn.crisis(companion, &asked, now);
                let mut outcome = turn.outcome(Some(asked));
                outcome.flag_asked = true;
                return outcome;
            }
            (_, Some(Answer::Safe)) => {
                turn.events.push(Event::AskedSafe);
                turn.say(companion.crisis.ask_safe());
                turn.carry_on();
                return turn.outcome(None);
            }
            // Typed words that answer nothing, or another unclear worry:
            // asked again, gently, about the latest.
            (h, None)
                if matches!(input, Input::Text(t) if word(t).is_none())
                    && h.as_ref().is_none_or(|h| h.action == Screened::Ask) =>
            {
                let asked = h.clone().unwrap_or(asked);
                turn.state.pending_ask = Some(asked.clone());
                turn.replies.push(Reply::new(
                    format!(
                        "{} You can press a button, or type yes, not sure or no.",
                        companion.crisis.ask(asked.category)
                    ),
                    ask_buttons(asked.category),
                ));
                return turn.outcome(None);
            }
            // Anything else (a menu word, a button from before): they have
            // moved on, and the turn goes on as usual.
            _ => {}
        }
    }
    let Some(hit) = hit else {
        if matches!(input, Input::Choice(id) if id.starts_with(ASK_PREFIX)) {
            // An answer to a question already answered or gone.
            turn.apply(&Input::Start);
            return turn.outcome(None);
        }
        turn.apply(input);
        return turn.outcome(None);
    };
    if hit.action == Screened::Ask {
        let recent = |at: Option<Timestamp>| {
            at.is_some_and(|at| now.duration_since(at) < companion.cooldown)
        };
        if recent(state.crisis_replied_at) {
            // They have the contacts from moments ago: the short reminder,
            // with that category's own line.
            turn.crisis(companion, &hit, now);
            return turn.outcome(None);
        }
        if !recent(state.asked_at) {
            turn.events.push(Event::Asked);
            turn.state.asked_at = Some(now);
            turn.replies.push(Reply::new(
                companion.crisis.ask(hit.category),
                ask_buttons(hit.category),
            ));
            turn.state.pending_ask = Some(hit);
            turn.hold_back_from_partner();
            return turn.outcome(None);
        }
        // Asked a moment ago and told they were safe: not asked again on
        // every line; the words go on to the conversation, but never on
        // to a partner: anything the screen found is not delivered.
        turn.apply(input);
        turn.withhold();
        return turn.outcome(None);
    }
    turn.crisis(companion, &hit, now);
    turn.hold_back_from_partner();
    turn.outcome(Some(hit))
}

/// The question's buttons, and what typed answers they stand for.
/// Each button names the kind of worry too (`ask:yes:abuse`), so an edge
/// whose store is failing can still answer a "yes" with the right contacts.
const ASK_PREFIX: &str = crate::buttons::ASK;
const ASK_YES: &str = "yes";
const ASK_UNSURE: &str = "unsure";
const ASK_SAFE: &str = "safe";

fn ask_buttons(category: Category) -> Vec<ChoiceButton> {
    [
        (ASK_YES, "Yes"),
        (ASK_UNSURE, "I'm not sure"),
        (ASK_SAFE, "No, I'm safe"),
    ]
    .into_iter()
    .map(|(answer, label)| ChoiceButton {
        id: format!("{ASK_PREFIX}{answer}:{category}"),
        label: label.to_owned(),
    })
    .collect()
}

/// The answer and the kind of worry a press of one of the question's
/// buttons carries.
fn pressed_answer(id: &str) -> Option<(Answer, Category)> {
    let (answer, category) = id.strip_prefix(ASK_PREFIX)?.split_once(':')?;
    let answer = match answer {
        ASK_YES => Answer::Yes,
        ASK_UNSURE => Answer::Unsure,
        ASK_SAFE => Answer::Safe,
        _ => return None,
    };
    Some((answer, Category::parse(category)?))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Yes,
    Unsure,
    Safe,
}

/// The answer a press or typed words give to mend's question, if any.
fn answer(input: &Input) -> Option<Answer> {
    match input {
        Input::Choice(id) => pressed_answer(id).map(|(answer, _)| answer),
        Input::Text(text) => {
            let words = loose(text);
            match words.as_str() {
                "1" | "yes" | "y" | "yeah" | "yep" | "yup" | "ya" | "yh" | "i am" | "yes i am"
                | "sort of" | "kind of" | "kinda" | "a bit" | "maybe yes" | "i think so"
                | "yes i think so" | "sometimes" | "i do" | "yes i do" | "yes they are"
                | "yes he is" | "yes she is" => Some(Answer::Yes),
                "2"
                | "not sure"
                | "im not sure"
                | "i m not sure"
                | "unsure"
                | "maybe"
                | "idk"
                | "i dont know"
                | "i don t know"
                | "dunno"
                | "dont know"
                | "don t know"
                | "i m not sure really"
                | "no idea"
                | "possibly"
                | "perhaps" => Some(Answer::Unsure),
                "3" | "no" | "n" | "nope" | "nah" | "no i m safe" | "no im safe" | "i m safe"
                | "im safe" | "i am safe" | "safe" | "no i am safe" | "i m ok" | "im ok"
                | "i m okay" | "im okay" | "i m fine" | "im fine" | "no i m fine"
                | "no im fine" | "no i m ok" | "no im ok" | "no not at all" | "not at all"
                | "no thanks" | "no i m not" | "no im not" | "i m not" | "im not" => {
                    Some(Answer::Safe)
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Applies one input to one person's state.
pub fn handle(script: &Script, state: &State, input: &Input) -> Outcome {
    let mut turn = Turn::new(script, state, 0);
    turn.apply(input);
    turn.outcome(None)
}

/// The words that work anywhere.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Word {
    Menu,
    Help,
    Resources,
    Pause,
    Restart,
}

fn word(text: &str) -> Option<Word> {
    let text = text
        .trim()
        .trim_start_matches('/')
        .trim_end_matches(['.', '!'])
        .to_lowercase();
    match text.as_str() {
        "menu" => Some(Word::Menu),
        "help" => Some(Word::Help),
        "resources" => Some(Word::Resources),
        "pause" | "stop" => Some(Word::Pause),
        "restart" => Some(Word::Restart),
        _ => None,
    }
}

/// The special buttons the engine adds itself, after `flow:step:`.
const MENU_BUTTON: &str = "menu";
const RESUME_BUTTON: &str = "resume";
const PAUSE_BUTTON: &str = "pause";
const RESOURCES_BUTTON: &str = "resources";
const KEEP_NOTE_BUTTON: &str = "keep-note";
const SKIP_NOTE_BUTTON: &str = "skip-note";

/// Everyday words that are not a choice and need no more than a kind word
/// back before the choices again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SmallTalk {
    Greeting,
    Thanks,
    Okay,
}

fn small_talk(text: &str) -> Option<SmallTalk> {
    match loose(text).as_str() {
        "hello" | "hi" | "hey" | "hiya" | "hi there" | "hello there" | "hey there"
        | "hello mend" | "hi mend" | "hey mend" | "good morning" | "good afternoon"
        | "good evening" | "morning" | "evening" | "howdy" => Some(SmallTalk::Greeting),
        "thanks" | "thank you" | "thank you so much" | "thanks so much" | "thanks a lot"
        | "many thanks" | "cheers" | "ty" | "thx" | "thank u" => Some(SmallTalk::Thanks),
        "ok" | "okay" | "k" | "kk" | "alright" | "all right" | "sure" | "fine" | "right"
        | "got it" | "ok thanks" | "okay thanks" | "ok thank you" | "okay thank you" | "mm"
        | "hmm" | "mhm" => Some(SmallTalk::Okay),
        _ => None,
    }
}

/// What typed words that are none of the choices are met with, in several
/// wordings (picked like a step's), before the offer to keep them.
const HEARD: [&str; 3] = [
    "Thank you for telling me that. I can only answer in the ways below, but I have read it, \
     and it matters.",
    "I hear you. I can't reply in my own words, but what you wrote is not lost on me.",
    "Thank you for putting that into words. I can only offer the choices below, but I have \
     read every word.",
];

/// The answer to a question mend cannot answer in its own words.
const HEARD_QUESTION: &str = "That's a fair question, and I can't answer it in my own words. \
The nearest choices are below; **help** says what I can do and what I keep.";

const OFFER: &str = "Would you like me to keep it as a note in your journal? Only you will \
see it, with your check-ins. Press a button, or write **keep it** or **no need**.";

/// Typed answers to the offer to keep words as a note.
fn offer_answer(text: &str) -> Option<bool> {
    match loose(text).as_str() {
        "keep it"
        | "keep"
        | "yes keep it"
        | "keep it please"
        | "please keep it"
        | "keep it in my journal"
        | "yes please keep it" => Some(true),
        "no need" | "no thanks" | "dont keep it" | "don t keep it" | "no don t keep it"
        | "no dont keep it" | "no thank you" => Some(false),
        _ => None,
    }
}

fn button_id(flow: &str, step: &str, what: &str) -> String {
    crate::buttons::choice(flow, step, what)
}

/// Removes what no one means to send (NUL and other control characters) and
/// the space around the words.
fn clean(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect::<String>()
        .trim()
        .to_owned()
}

/// Lower-case words with punctuation dropped, for matching typed labels.
fn loose(text: &str) -> String {
    text.to_lowercase()
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect::<String>()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

const HELP: &str = "Here is how to talk with me. Press a button, or type its number or its words. \
These words work at any time:\n\
• **menu**: everything we can talk about\n\
• **resources**: people who can help\n\
• **pause** (or **stop**): I'll go quiet and keep your place\n\
• **restart**: start this conversation again from the top\n\
• **help**: this message\n\
The menu also has your daily check-in settings and how your check-ins have gone.\n\
What I keep is yours: on Discord, **/export** sends you a copy of all of it and **/forget** erases it.\n\
I'm not a therapist or an emergency service. If you or someone else is in danger right now, call 999.";

/// Said when someone who had agreed says no: what went at once, and how
/// to take a copy of the rest or erase it.
const WITHDRAWN: &str = "Done: from now on I won't keep anything you write, and I've already \
cleared the answers and the situation I had. A few things are still here: your check-in \
settings and answers, and any safety flags. On Discord, /export sends you a copy of all of \
it, and /forget erases everything (it offers the copy first).";

const RESOURCES: &str = "People who can help, whenever you're ready:\n\
• **Relate** offers relationship counselling, for couples and for one person on their own.\n\
• **COSRT** lists therapists who specialise in sex and relationships.\n\
• **BACP** has a directory of registered counsellors and psychotherapists.\n\
• Your **GP** can refer you to NHS talking therapies.\n\
Their links are on every message I send. If you're in danger right now, call 999; \
Samaritans are there day and night on 116 123.";

/// The resources message on its own, for places outside a conversation (a
/// slash command in a server).
pub fn resources_reply() -> Reply {
    Reply::new(RESOURCES, Vec::new())
}

/// The day a moment falls on, counted from 1970 (UTC), for varying words.
fn day_of(now: Timestamp) -> i64 {
    now.as_second().div_euclid(86_400)
}

struct Turn<'a> {
    script: &'a Script,
    /// Where the words will be read, so they name only what works there.
    edge: Edge,
    state: State,
    replies: Vec<Reply>,
    events: Vec<Event>,
    tasks: Vec<Task>,
    day: i64,
    /// A journal note was offered this turn; any other turn withdraws it.
    offering: bool,
}

impl<'a> Turn<'a> {
    fn new(script: &'a Script, state: &State, day: i64) -> Turn<'a> {
        Turn {
            script,
            edge: Edge::Discord,
            state: state.clone(),
            replies: Vec::new(),
            events: Vec::new(),
            tasks: Vec::new(),
            day,
            offering: false,
        }
    }

    fn outcome(mut self, flag: Option<Hit>) -> Outcome {
        // Without consent, what was written served this turn's words only.
        if self.state.consent != Consent::Given {
            self.state.answers.clear();
            self.state.facts.clear();
        }
        if !self.offering {
            self.state.offered_note = None;
        }
        Outcome {
            state: self.state,
            replies: self.replies,
            events: self.events,
            flag,
            flag_asked: false,
            tasks: self.tasks,
        }
    }

    /// Back to where the person was, after a question answered "safe":
    /// their step again, or the welcome for someone new.
    fn carry_on(&mut self) {
        let place = self
            .state
            .place
            .clone()
            .and_then(|p| self.script.step(&p.flow, &p.step).map(|step| (p, step)));
        match place {
            Some((place, step)) => self.present(&place.flow, step),
            None if self.state.place.is_none() => self.begin(WELCOME),
            None => self.place_lost(),
        }
    }

    fn apply(&mut self, input: &Input) {
        let Some(place) = self.state.place.clone() else {
            // Someone new: whatever they sent, they meet the welcome first.
            self.begin(WELCOME);
            return;
        };
        let Some(step) = self.script.step(&place.flow, &place.step) else {
            self.place_lost();
            return;
        };
        match input {
            Input::Start => {
                self.resume_if_paused();
                self.say("Welcome back. Here's where we left off.");
                self.present(&place.flow, step);
            }
            Input::Choice(id) => self.pressed(&place.flow, step, id),
            Input::Begin(flow) if self.script.flow(flow).is_some() => {
                self.resume_if_paused();
                self.begin(flow);
            }
            Input::Begin(_) => self.place_lost(),
            Input::Text(text) => self.typed(&place.flow, step, &clean(text)),
        }
    }

    /// Words the screen stopped, written where they would have gone to a
    /// partner: they were never applied, so nothing goes; the person hears
    /// so first.
    fn hold_back_from_partner(&mut self) {
        let for_partner = self
            .state
            .place
            .as_ref()
            .and_then(|p| self.script.step(&p.flow, &p.step))
            .is_some_and(|step| matches!(step.tool, Some(Tool::PairWrite(_) | Tool::PairPropose)));
        if for_partner {
            let withheld = crate::pairing::told(&crate::pairing::Done::Withheld, self.edge);
            self.replies.insert(0, withheld);
        }
    }

    /// Drops what this turn would have sent to a partner, and says so.
    fn withhold(&mut self) {
        let before = self.tasks.len();
        self.tasks
            .retain(|task| !matches!(task, Task::Pair(act) if act.is_written()));
        if self.tasks.len() < before {
            let withheld = crate::pairing::told(&crate::pairing::Done::Withheld, self.edge);
            self.replies.insert(0, withheld);
        }
    }

    fn resume_if_paused(&mut self) {
        if self.state.paused {
            self.state.paused = false;
            self.events.push(Event::Resumed);
        }
    }

    fn say(&mut self, text: &str) {
        self.replies.push(Reply::new(text, Vec::new()));
    }

    fn place_lost(&mut self) {
        self.events.push(Event::PlaceLost);
        self.say(
            "This conversation has changed since we last spoke, so I can't pick up exactly \
             where we were. Nothing you told me is lost. Let's carry on from the menu.",
        );
        self.state.paused = false;
        self.begin(MENU);
    }

    fn begin(&mut self, flow_id: &str) {
        // Validation guarantees `welcome`, `menu` and every linked flow exist.
        let Some(flow) = self.script.flow(flow_id) else {
            return;
        };
        let Some(start) = flow.step(&flow.start) else {
            return;
        };
        self.events.push(Event::FlowStarted {
            flow: flow.id.clone(),
        });
        self.present(&flow.id, start);
    }

    /// Says a step (and any carry-on steps after it) and rests at the first
    /// step that waits for the person.
    fn present(&mut self, flow_id: &str, first: &'a Step) {
        let mut step = first;
        for _ in 0..MAX_STEPS_PER_TURN {
            if step.speaks() {
                let text = self.render(flow_id, step);
                let choices = self.buttons(flow_id, step);
                self.replies.push(Reply::new(text, choices));
            }
            self.state.place = Some(Place {
                flow: flow_id.to_owned(),
                step: step.id.clone(),
            });
            self.clear(&step.clear);
            match &step.action {
                Action::Continue(next) => match self.script.step(flow_id, self.next(flow_id, next))
                {
                    Some(following) => step = following,
                    None => return,
                },
                Action::End => {
                    self.events.push(Event::FlowFinished {
                        flow: flow_id.to_owned(),
                    });
                    return;
                }
                Action::Choices(_) | Action::Ask { .. } => return,
            }
        }
    }

    fn buttons(&self, flow_id: &str, step: &Step) -> Vec<ChoiceButton> {
        if matches!(step.action, Action::End) {
            return vec![ChoiceButton {
                id: button_id(flow_id, &step.id, MENU_BUTTON),
                label: "Back to the menu".into(),
            }];
        }
        step.choices()
            .iter()
            .enumerate()
            .map(|(i, choice)| ChoiceButton {
                id: button_id(flow_id, &step.id, &(i + 1).to_string()),
                label: choice.label.clone(),
            })
            .collect()
    }

    /// What is kept under a name for a step of `flow_id`: the flow's own
    /// answer, else the person's fact.
    fn known(&self, flow_id: &str, name: &str) -> Option<&str> {
        self.state
            .answers
            .get(&(flow_id.to_owned(), name.to_owned()))
            .or_else(|| self.state.facts.get(name))
            .map(String::as_str)
    }

    /// Where a `next` leads this person, with what is known of them.
    fn next<'n>(&self, flow_id: &str, next: &'n Next) -> &'n str {
        next.for_person(self.state.situation, |name| self.known(flow_id, name))
    }

    fn render(&self, flow_id: &str, step: &Step) -> String {
        let mut out = String::new();
        let pick = pick(self.state.seed, self.day, flow_id, &step.id);
        for piece in pieces(step.text_for(self.state.situation, pick)) {
            match piece {
                Piece::Text(text) => out.push_str(text),
                Piece::Quote { name, fallback } => match (self.known(flow_id, name), fallback) {
                    (Some(value), _) => out.push_str(&shorten(value, QUOTE_CHARS)),
                    (None, Some(fallback)) => out.push_str(fallback),
                    // Validation asks for a fallback wherever this can
                    // happen; a flow edited under a waiting person is the rest.
                    (None, None) => out.push_str("what you wrote"),
                },
            }
        }
        out
    }

    /// Forgets facts, as a step or a choice asks.
    fn clear(&mut self, names: &[String]) {
        for name in names {
            if self.state.facts.remove(name).is_some() {
                self.events.push(Event::FactCleared { name: name.clone() });
            }
        }
    }

    fn pressed(&mut self, flow_id: &str, step: &'a Step, id: &str) {
        self.resume_if_paused();
        let (pressed_flow, pressed_step, what) =
            crate::buttons::parse_choice(id).unwrap_or_default();
        if pressed_flow != flow_id || pressed_step != step.id {
            self.events.push(Event::StaleChoice);
            self.say(
                "That button is from an earlier message, so I've left it alone. \
                 Here's where we are now.",
            );
            self.present(flow_id, step);
            return;
        }
        match what {
            MENU_BUTTON if matches!(step.action, Action::End) => self.begin(MENU),
            RESUME_BUTTON => self.present(flow_id, step),
            PAUSE_BUTTON => self.word(flow_id, step, Word::Pause),
            KEEP_NOTE_BUTTON | SKIP_NOTE_BUTTON => {
                let offered = self.state.offered_note.take();
                match (what, offered) {
                    (KEEP_NOTE_BUTTON, Some(_)) => {
                        self.events.push(Event::NoteKept);
                        self.say(
                            "Kept in your journal. You'll find it with your check-ins, in how \
                             things have gone.",
                        );
                    }
                    (SKIP_NOTE_BUTTON, Some(_)) => self.say("Alright, I haven't kept it."),
                    _ => self.say(
                        "That note is no longer waiting, so I haven't kept anything. You can \
                         always write it again.",
                    ),
                }
                self.present(flow_id, step);
            }
            RESOURCES_BUTTON => self.word(flow_id, step, Word::Resources),
            number => match number
                .parse::<usize>()
                .ok()
                .and_then(|n| step.choices().get(n.checked_sub(1)?))
            {
                Some(choice) => self.choose(flow_id, step, choice),
                None => self.reask(flow_id, step),
            },
        }
    }

    fn typed(&mut self, flow_id: &str, step: &'a Step, text: &str) {
        if let Some(word) = word(text) {
            self.resume_if_paused();
            return self.word(flow_id, step, word);
        }
        if self.state.offered_note.is_some()
            && let Some(keep) = offer_answer(text)
        {
            let what = if keep {
                KEEP_NOTE_BUTTON
            } else {
                SKIP_NOTE_BUTTON
            };
            return self.pressed(flow_id, step, &button_id(flow_id, &step.id, what));
        }
        if self.state.paused {
            self.resume_if_paused();
            if let Some(choice) = self.match_choice(step, text) {
                return self.choose(flow_id, step, choice);
            }
            self.say(match small_talk(text) {
                Some(SmallTalk::Greeting) => {
                    "Hello again. Here's where we were, whenever you're ready."
                }
                _ => "Thank you. Here's where we were, whenever you're ready.",
            });
            return self.present(flow_id, step);
        }
        match &step.action {
            Action::Ask { name, next, .. } => {
                if let Some(choice) = self.match_choice(step, text) {
                    return self.choose(flow_id, step, choice);
                }
                if !step.choices().is_empty() && is_number(text) {
                    // Meant as a button that is not there, not as an answer.
                    return self.reask(flow_id, step);
                }
                let length = text.chars().count();
                if length == 0 {
                    self.say("Take your time. Whenever you're ready, write a few words, or press a button if there is one.");
                    return self.present(flow_id, step);
                }
                if length > MAX_ANSWER_CHARS {
                    self.say(&format!(
                        "Thank you for writing so much. I can keep up to {MAX_ANSWER_CHARS} characters \
                         in one answer and this is {length}. Could you say it more briefly? \
                         Nothing has been lost: we're still at the same question."
                    ));
                    return self.present(flow_id, step);
                }
                if step.tool == Some(Tool::CheckinOn) {
                    // A setting, not an answer: the edge keeps it where
                    // check-in settings live.
                    self.tasks.push(Task::CheckinOn {
                        when: text.to_owned(),
                    });
                } else if let Some(act) = step.tool.and_then(|tool| tool.pairing(text)) {
                    // Words for pairing, never kept as an answer.
                    self.tasks.push(Task::Pair(act));
                } else {
                    self.keep_answer(flow_id, name, text);
                    if let Some(fact) = &step.fact {
                        self.keep_fact(fact, text);
                    }
                }
                match self.script.step(flow_id, self.next(flow_id, next)) {
                    Some(following) => self.present(flow_id, following),
                    None => self.place_lost(),
                }
            }
            Action::Choices(_) | Action::End | Action::Continue(_) => {
                match self.match_choice(step, text) {
                    Some(choice) => self.choose(flow_id, step, choice),
                    None if matches!(step.action, Action::End) && text == "1" => self.begin(MENU),
                    None => self.heard(flow_id, step, text),
                }
            }
        }
    }

    fn word(&mut self, flow_id: &str, step: &'a Step, word: Word) {
        match word {
            Word::Menu => self.begin(MENU),
            Word::Help => {
                self.say(match self.edge {
                    Edge::Discord => HELP,
                    Edge::Terminal => crate::edge::TERMINAL_HELP,
                });
                self.present(flow_id, step);
            }
            Word::Resources => {
                self.say(RESOURCES);
                self.present(flow_id, step);
            }
            Word::Pause => {
                self.state.paused = true;
                self.events.push(Event::Paused);
                self.replies.push(Reply::new(
                    "Paused. I'll stay quiet and keep your place. Write anything, or press \
                     the button, whenever you want to carry on. Be gentle with yourself.",
                    vec![ChoiceButton {
                        id: button_id(flow_id, &step.id, RESUME_BUTTON),
                        label: "Carry on".into(),
                    }],
                ));
            }
            Word::Restart => self.begin(flow_id),
        }
    }

    /// A choice by number, or by its words typed loosely.
    fn match_choice(&self, step: &'a Step, text: &str) -> Option<&'a Choice> {
        let choices = step.choices();
        if let Ok(n) = text.trim().trim_end_matches('.').parse::<usize>() {
            return choices.get(n.checked_sub(1)?);
        }
        let typed = loose(text);
        if typed.is_empty() {
            return None;
        }
        if let Some(choice) = choices.iter().find(|c| loose(&c.label) == typed) {
            return Some(choice);
        }
        if matches!(step.action, Action::Ask { .. }) {
            return None;
        }
        // A label's first word or words, whole ("no" for "No, please don't
        // keep anything"), or a label with more after it ("yes he did" for
        // "Yes"), when only one label fits.
        let only = |found: Vec<&'a Choice>| match found.as_slice() {
            [one] => Some(*one),
            _ => None,
        };
        let leading = only(
            choices
                .iter()
                .filter(|c| loose(&c.label).starts_with(&format!("{typed} ")))
                .collect(),
        );
        if typed.chars().count() >= 2 && leading.is_some() {
            return leading;
        }
        let extended = only(
            choices
                .iter()
                .filter(|c| typed.starts_with(&format!("{} ", loose(&c.label))))
                .collect(),
        );
        if extended.is_some() {
            return extended;
        }
        // A few distinctive words from one label ("hurt" for "I was hurt")
        // are enough, but only when no other label has them too.
        if typed.chars().count() < 3 {
            return None;
        }
        let padded = format!(" {typed} ");
        let mut found = choices
            .iter()
            .filter(|c| format!(" {} ", loose(&c.label)).contains(&padded));
        match (found.next(), found.next()) {
            (Some(only), None) => Some(only),
            _ => None,
        }
    }

    fn choose(&mut self, flow_id: &str, step: &Step, choice: &Choice) {
        match choice.consent {
            Some(true) => {
                self.state.consent = Consent::Given;
                self.events.push(Event::ConsentGiven);
            }
            Some(false) => {
                let withdrawing = self.state.consent == Consent::Given;
                self.state.consent = Consent::Declined;
                self.state.situation = None;
                self.state.answers.clear();
                self.state.facts.clear();
                self.events.push(Event::ConsentDeclined);
                if withdrawing {
                    self.say(match self.edge {
                        Edge::Discord => WITHDRAWN,
                        Edge::Terminal => crate::edge::TERMINAL_WITHDRAWN,
                    });
                }
            }
            None => {}
        }
        if let Some(situation) = choice.situation
            && self.state.consent == Consent::Given
        {
            self.state.situation = Some(situation);
            self.events.push(Event::SituationChosen);
        }
        if let (Some(name), Some(value)) = (&step.save, &choice.value) {
            self.keep_answer(flow_id, name, value);
            if let Some(fact) = &step.fact {
                self.keep_fact(fact, value);
            }
        }
        self.clear(&choice.clear);
        let task = match choice.tool {
            Some(Tool::Progress) => Some(Task::Progress),
            Some(Tool::CheckinShow) => Some(Task::CheckinShow),
            Some(Tool::CheckinOff) => Some(Task::CheckinOff),
            Some(Tool::CheckinPause { days }) => Some(Task::CheckinPause { days }),
            // Tools that need written words are kept on ask steps by
            // validation, so only pairing's chosen ones are left here.
            Some(tool) => tool
                .pairing("")
                .filter(|act| !act.is_written())
                .map(Task::Pair),
            None => None,
        };
        self.tasks.extend(task);
        match &choice.target {
            Target::Flow(id) => self.begin(id),
            Target::Step(id) => match self.script.step(flow_id, id) {
                Some(step) => self.present(flow_id, step),
                None => self.place_lost(),
            },
        }
    }

    fn crisis(&mut self, companion: &Companion, hit: &Hit, now: Timestamp) {
        let recent = self
            .state
            .crisis_replied_at
            .is_some_and(|at| now.duration_since(at) < companion.cooldown);
        let text = if recent {
            self.events.push(Event::CrisisReminded);
            companion.crisis.reminder(hit.category)
        } else {
            self.events.push(Event::CrisisReplied);
            self.state.crisis_replied_at = Some(now);
            companion.crisis.full(hit.category)
        };
        let place = self
            .state
            .place
            .clone()
            .filter(|p| self.script.step(&p.flow, &p.step).is_some());
        match place {
            Some(place) => {
                // Words written next are about what they just told mend, not
                // an answer to the question from before: held like a pause,
                // so the question is asked again rather than answered by them.
                if self
                    .script
                    .step(&place.flow, &place.step)
                    .is_some_and(|step| matches!(step.action, Action::Ask { .. }))
                {
                    self.state.paused = true;
                }
                let button = |what: &str, label: &str| ChoiceButton {
                    id: button_id(&place.flow, &place.step, what),
                    label: label.into(),
                };
                self.replies.push(Reply::new(
                    text,
                    vec![
                        button(RESUME_BUTTON, "Carry on where we were"),
                        button(PAUSE_BUTTON, "Pause for now"),
                        button(RESOURCES_BUTTON, "More places to get help"),
                    ],
                ));
            }
            None => {
                // Someone new, or whose place is gone: the crisis reply first,
                // then a way on, so nobody is left at a dead end.
                self.replies.push(Reply::new(text, Vec::new()));
                if self.state.place.is_none() {
                    self.begin(WELCOME);
                } else {
                    self.place_lost();
                }
            }
        }
    }

    /// Keeps an answer: for good with consent, else for this turn's words
    /// only (see [`Turn::outcome`]); either way the log says which.
    fn keep_answer(&mut self, flow_id: &str, name: &str, value: &str) {
        self.state
            .answers
            .insert((flow_id.to_owned(), name.to_owned()), value.to_owned());
        if self.state.consent == Consent::Given {
            self.events.push(Event::AnswerSaved {
                flow: flow_id.to_owned(),
                name: name.to_owned(),
            });
        } else {
            self.events.push(Event::AnswerNotKept {
                flow: flow_id.to_owned(),
            });
        }
    }

    /// Keeps a fact of the person's, on the same terms as an answer.
    fn keep_fact(&mut self, name: &str, value: &str) {
        self.state.facts.insert(name.to_owned(), value.to_owned());
        if self.state.consent == Consent::Given {
            self.events.push(Event::FactKept {
                name: name.to_owned(),
            });
        }
    }

    /// Words typed where buttons were offered, that are none of them: a
    /// kind word back, the offer to keep them (with consent), and the
    /// choices again. A number or a stray character is taken as a choice
    /// missed, and re-asked.
    fn heard(&mut self, flow_id: &str, step: &'a Step, text: &str) {
        let reply = match small_talk(text) {
            Some(SmallTalk::Greeting) => "Hello. It's good to hear from you.",
            Some(SmallTalk::Thanks) => "You're very welcome.",
            Some(SmallTalk::Okay) => "Okay. Take whatever time you need.",
            None if is_number(text) || text.chars().count() <= 2 => {
                return self.reask(flow_id, step);
            }
            None => {
                self.events.push(Event::Heard {
                    flow: flow_id.to_owned(),
                    step: step.id.clone(),
                });
                let heard = if text.trim_end().ends_with('?') {
                    HEARD_QUESTION
                } else {
                    let pick = pick(self.state.seed, self.day, flow_id, &step.id);
                    HEARD[usize::try_from(pick % HEARD.len() as u64).unwrap_or(0)]
                };
                if self.state.consent == Consent::Given && text.chars().count() <= MAX_ANSWER_CHARS
                {
                    self.state.offered_note = Some(text.to_owned());
                    self.offering = true;
                    let button = |what: &str, label: &str| ChoiceButton {
                        id: button_id(flow_id, &step.id, what),
                        label: label.into(),
                    };
                    self.replies.push(Reply::new(
                        format!("{heard} {OFFER}"),
                        vec![
                            button(KEEP_NOTE_BUTTON, "Keep it in my journal"),
                            button(SKIP_NOTE_BUTTON, "No need"),
                        ],
                    ));
                    return self.present(flow_id, step);
                }
                heard
            }
        };
        self.say(reply);
        self.present(flow_id, step);
    }

    fn reask(&mut self, flow_id: &str, step: &'a Step) {
        self.events.push(Event::Reasked {
            flow: flow_id.to_owned(),
            step: step.id.clone(),
        });
        self.say(
            "I'm not sure which one you meant. You can press a button, or type its number \
             or its words. Type **menu** to see everything, or **help** if you're stuck.",
        );
        self.present(flow_id, step);
    }
}

/// Whether typed words are only a number, as when pressing a button by
/// number.
fn is_number(text: &str) -> bool {
    let text = text.trim().trim_end_matches('.');
    !text.is_empty() && text.chars().all(|c| c.is_ascii_digit())
}

/// At most `max` characters, ending in an ellipsis when cut.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_work_loosely() {
        assert_eq!(word(" MENU "), Some(Word::Menu));
        assert_eq!(word("/help"), Some(Word::Help));
        assert_eq!(word("stop."), Some(Word::Pause));
        assert_eq!(word("menus"), None);
    }

    #[test]
    fn clean_drops_control_characters() {
        assert_eq!(clean("  a\u{0}b\u{7}\n "), "ab");
        assert_eq!(clean("a\nb"), "a\nb");
    }

    #[test]
    fn loose_ignores_case_and_punctuation() {
        assert_eq!(loose("  I was HURT!! "), "i was hurt");
        assert_eq!(loose("I’m not sure…"), "i m not sure");
    }

    #[test]
    fn shorten_cuts_on_characters_not_bytes() {
        assert_eq!(shorten("héllo", 10), "héllo");
        assert_eq!(shorten("ééééé", 3), "éé…");
    }
}
