//! The slash commands: what Discord is told about them, and what each one
//! means to the engine. Every command and option has a description, since
//! Discord refuses the whole registration if one is missing.

use serenity::all::{CreateCommand, InstallationContext, InteractionContext};

use crate::conversation::engine::Input;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Start,
    Menu,
    Resources,
    Pause,
    Help,
}

impl Command {
    pub const ALL: [Command; 5] = [
        Command::Start,
        Command::Menu,
        Command::Resources,
        Command::Pause,
        Command::Help,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Command::Start => "start",
            Command::Menu => "menu",
            Command::Resources => "resources",
            Command::Pause => "pause",
            Command::Help => "help",
        }
    }

    fn description(self) -> &'static str {
        match self {
            Command::Start => "Begin with mend, or pick up where you left off",
            Command::Menu => "See everything mend can talk with you about",
            Command::Resources => "People and services who can help",
            Command::Pause => "Pause the conversation; your place is kept",
            Command::Help => "How to talk with mend",
        }
    }

    pub fn parse(name: &str) -> Option<Command> {
        Command::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The same input as typing the word, so commands and words never differ.
    pub fn input(self) -> Input {
        match self {
            Command::Start => Input::Start,
            other => Input::Text(other.name().to_owned()),
        }
    }

    pub fn definition(self) -> CreateCommand {
        CreateCommand::new(self.name())
            .description(self.description())
            .integration_types(vec![InstallationContext::Guild])
            .contexts(vec![InteractionContext::Guild, InteractionContext::BotDm])
    }
}

pub fn definitions() -> Vec<CreateCommand> {
    Command::ALL.into_iter().map(Command::definition).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_command_has_a_short_description_and_parses_back() {
        for command in Command::ALL {
            let json = serde_json::to_value(command.definition()).unwrap();
            let description = json["description"].as_str().unwrap();
            assert!(!description.is_empty() && description.len() <= 100);
            assert_eq!(json["contexts"], serde_json::json!([0, 1]));
            assert_eq!(Command::parse(command.name()), Some(command));
        }
        assert_eq!(Command::parse("forget-me"), None);
    }
}
