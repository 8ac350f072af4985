//! Crisis flags as moderators handle them: a flag's statuses, the actions
//! that move it, and which moves are allowed. Pure, in one folder with
//! what keeps flags (`queries`, and `pending` for flags raised while the
//! database was failing) and the Discord adapter that shows them to
//! moderators (`discord`).

pub mod discord;
pub mod pending;
pub mod queries;

use jiff::Timestamp;

/// A flag's place in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Open,
    Claimed,
    Resolved,
    Escalated,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::Claimed => "claimed",
            Status::Resolved => "resolved",
            Status::Escalated => "escalated",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        [
            Status::Open,
            Status::Claimed,
            Status::Resolved,
            Status::Escalated,
        ]
        .into_iter()
        .find(|s| s.as_str() == text)
    }
}

/// What a moderator can do to a flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Claim,
    Resolve,
    Escalate,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Claim => "claim",
            Action::Resolve => "resolve",
            Action::Escalate => "escalate",
        }
    }

    pub fn parse(text: &str) -> Option<Action> {
        [Action::Claim, Action::Resolve, Action::Escalate]
            .into_iter()
            .find(|a| a.as_str() == text)
    }

    /// The status after this action, if it is allowed from `from`.
    pub fn apply(self, from: Status) -> Option<Status> {
        match (self, from) {
            (Action::Claim, Status::Open) => Some(Status::Claimed),
            (Action::Resolve, Status::Open | Status::Claimed) => Some(Status::Resolved),
            (Action::Escalate, Status::Open | Status::Claimed) => Some(Status::Escalated),
            _ => None,
        }
    }
}

/// A flag raised or updated by a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raised {
    pub id: i64,
    /// True for a new flag (post a notice); false when an active one was updated.
    pub new: bool,
}

/// Why a moderator's action did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NoSuchFlag,
    NotAllowed { status: Status },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flag {
    pub id: i64,
    /// Who raised it: "discord:<user id>" or "terminal:<name>".
    pub person: String,
    pub category: String,
    pub severity: String,
    pub excerpt: Option<String>,
    pub hits: i64,
    pub status: Status,
    pub handled_by: Option<String>,
    pub note: Option<String>,
    pub notice_channel: Option<String>,
    pub notice_message: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Raised because the person answered mend's question "yes" or "not sure".
    pub asked: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flag_moves_forward_only_and_closed_flags_stay_closed() {
        use Action::*;
        use Status::*;
        assert_eq!(Claim.apply(Open), Some(Claimed));
        assert_eq!(Claim.apply(Claimed), None, "claimed once");
        for from in [Open, Claimed] {
            assert_eq!(Resolve.apply(from), Some(Resolved));
            assert_eq!(Escalate.apply(from), Some(Escalated));
        }
        for closed in [Resolved, Escalated] {
            for action in [Claim, Resolve, Escalate] {
                assert_eq!(action.apply(closed), None, "{action:?} on {closed:?}");
            }
        }
        for status in [Open, Claimed, Resolved, Escalated] {
            assert_eq!(Status::parse(status.as_str()), Some(status));
        }
        for action in [Claim, Resolve, Escalate] {
            assert_eq!(Action::parse(action.as_str()), Some(action));
        }
        assert_eq!(Status::parse("closed"), None);
    }
}
