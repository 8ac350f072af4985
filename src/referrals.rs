//! The three UK services every message carries, and the one type every
//! outgoing message is built from. [`Reply`] has private fields and a single
//! constructor, so no flow, command or error path can make a message without
//! the links: the invariant holds by construction, not by each caller
//! remembering it.

use serde::Serialize;
use serde::ser::{SerializeStruct, Serializer};

/// A service a person can be handed on to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Link {
    pub label: &'static str,
    pub url: &'static str,
}

/// Relate, COSRT and BACP, in that order.
pub const LINKS: [Link; 3] = [
    Link {
        label: "Relate",
        url: "https://www.relate.org.uk",
    },
    Link {
        label: "COSRT",
        url: "https://www.cosrt.org.uk",
    },
    Link {
        label: "BACP",
        url: "https://www.bacp.co.uk",
    },
];

/// A button a person can press, or answer by typing its number or words.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChoiceButton {
    /// Names what it answers (`flow:step:n`), so a press on an old message is
    /// recognised as old rather than applied to the wrong step.
    pub id: String,
    pub label: String,
}

/// One message from mend to a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    text: String,
    choices: Vec<ChoiceButton>,
}

impl Reply {
    pub fn new(text: impl Into<String>, choices: Vec<ChoiceButton>) -> Reply {
        Reply {
            text: text.into(),
            choices,
        }
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    pub fn choices(&self) -> &[ChoiceButton] {
        &self.choices
    }

    /// Always the three services; there is no way to build a reply without them.
    pub fn links(&self) -> &'static [Link; 3] {
        &LINKS
    }
}

impl Serialize for Reply {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut out = serializer.serialize_struct("Reply", 3)?;
        out.serialize_field("text", &self.text)?;
        out.serialize_field("choices", &self.choices)?;
        out.serialize_field("links", self.links())?;
        out.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reply_serialises_with_the_three_links() {
        let reply = Reply::new("hello", vec![]);
        let json = serde_json::to_value(&reply).unwrap();
        let labels: Vec<&str> = json["links"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["label"].as_str().unwrap())
            .collect();
        assert_eq!(labels, ["Relate", "COSRT", "BACP"]);
        assert_eq!(json["links"][0]["url"], "https://www.relate.org.uk");
        assert_eq!(json["links"][1]["url"], "https://www.cosrt.org.uk");
        assert_eq!(json["links"][2]["url"], "https://www.bacp.co.uk");
    }
}
