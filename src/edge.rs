//! Which edge a person talks to mend through, so that what mend says names
//! only what works there: slash commands on Discord, the command line's own
//! words in `mend chat`. Pure.

/// Where a turn's words will be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Edge {
    /// Direct messages on Discord, with slash commands and buttons.
    #[default]
    Discord,
    /// `mend chat`: typed lines and numbered choices, no slash commands.
    Terminal,
}

/// The engine's help in the terminal: the words that work anywhere, and
/// how to take a copy of everything or erase it from the command line.
pub const TERMINAL_HELP: &str = "Here is how to talk with me. Type the number of a choice, \
or its words. These words work at any time:\n\
• **menu**: everything we can talk about\n\
• **resources**: people who can help\n\
• **pause** (or **stop**): I'll go quiet and keep your place\n\
• **restart**: start this conversation again from the top\n\
• **help**: this message\n\
• **quit**: end the chat; your place is saved\n\
The menu also has your daily check-in settings and how your check-ins have gone.\n\
What I keep is yours. For a copy of all of it, type quit and then run \
**mend export --user terminal:NAME**; to erase it, **mend forget --user terminal:NAME**. \
NAME is the name you chat as (you, unless you started with --as); add the same --db if you \
gave one.\n\
I'm not a therapist or an emergency service. If you or someone else is in danger right now, \
call 999.";

/// Said in the terminal when someone who had agreed says no: what went at
/// once, and how to take a copy of the rest or erase it.
pub const TERMINAL_WITHDRAWN: &str = "Done: from now on I won't keep anything you write, and \
I've already cleared the answers and the situation I had. A few things are still here: your \
check-in settings and answers, and any safety flags. For a copy of them, type quit and then run \
mend export --user terminal:NAME; to erase everything, mend forget --user terminal:NAME \
(NAME is the name you chat as: you, unless you started with --as).";
