//! Which events a destination takes. A filter is read from JSON once, when a destination is
//! added or changed, with every problem named by JSON pointer; afterwards [`Filter::admits`] is a
//! few string comparisons per event. An event a filter leaves out counts as handled, not as
//! backlog: the destination's checkpoint moves past it.
//!
//! ```json
//! {"include": {"actions": ["user.*", "document.deleted"], "outcomes": ["failure"]},
//!  "exclude": {"actions": ["user.viewed"]}}
//! ```
//!
//! An event is taken when it matches `include` (an empty or absent list matches everything) and
//! does not match `exclude`. An action pattern is an exact action (`user.login`) or a prefix
//! ending in `.*` (`user.*` takes `user.login` and `user.mfa.enabled`, not `username.set`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::event::{Event, Outcome};
use crate::validate::{FieldError, MAX_ACTION_CHARS};

/// The most patterns a list holds: a filter is a short policy, not a data set.
pub const MAX_PATTERNS: usize = 50;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    #[serde(default, skip_serializing_if = "Side::is_empty")]
    pub include: Side,
    #[serde(default, skip_serializing_if = "Side::is_empty")]
    pub exclude: Side,
}

/// One side of a filter: actions and outcomes.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Side {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub actions: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<Outcome>,
}

impl Side {
    fn is_empty(&self) -> bool {
        self.actions.is_empty() && self.outcomes.is_empty()
    }

    fn matches_action(&self, action: &str) -> bool {
        self.actions.iter().any(|p| pattern_matches(p, action))
    }
}

fn pattern_matches(pattern: &str, action: &str) -> bool {
    match pattern.strip_suffix('*') {
        // `user.*`: the prefix keeps its dot, so `user.*` never takes `username.set`.
        Some(prefix) => action.len() > prefix.len() && action.starts_with(prefix),
        None => pattern == action,
    }
}

impl Filter {
    /// Whether the destination takes `event`.
    pub fn admits(&self, event: &Event) -> bool {
        self.admits_action(&event.action, event.outcome)
    }

    /// Whether the destination takes a stored event, given as its stored JSON (the exporter's
    /// rows), reading only its action and outcome. A row that does not read as an event is
    /// taken: a filter never hides what it cannot read (the verifier then names it).
    pub fn admits_stored(&self, stored_json: &str) -> bool {
        #[derive(Deserialize)]
        struct Classified<'a> {
            #[serde(borrow)]
            action: std::borrow::Cow<'a, str>,
            outcome: Outcome,
        }
        match serde_json::from_str::<Classified<'_>>(stored_json) {
            Ok(event) => self.admits_action(&event.action, event.outcome),
            Err(_) => true,
        }
    }

    /// Whether the destination takes an event with this action and outcome.
    pub fn admits_action(&self, action: &str, outcome: Outcome) -> bool {
        let included = (self.include.actions.is_empty() || self.include.matches_action(action))
            && (self.include.outcomes.is_empty() || self.include.outcomes.contains(&outcome));
        let excluded =
            self.exclude.matches_action(action) || self.exclude.outcomes.contains(&outcome);
        included && !excluded
    }

    /// Reads a filter from the JSON at `pointer` of a request, naming every problem.
    pub fn from_json(value: &Value, pointer: &str) -> Result<Filter, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut filter = Filter::default();
        let Some(object) = value.as_object() else {
            return Err(vec![error(
                pointer,
                "must be an object with `include` and/or `exclude`",
            )]);
        };
        for (name, side_value) in object {
            let at = format!("{pointer}/{name}");
            let side = match name.as_str() {
                "include" => &mut filter.include,
                "exclude" => &mut filter.exclude,
                _ => {
                    errors.push(error(
                        &at,
                        "is not a filter field: use `include` or `exclude`",
                    ));
                    continue;
                }
            };
            *side = read_side(side_value, &at, &mut errors);
        }
        if errors.is_empty() {
            Ok(filter)
        } else {
            Err(errors)
        }
    }
}

fn error(pointer: &str, message: impl Into<String>) -> FieldError {
    FieldError {
        pointer: pointer.to_string(),
        message: message.into(),
    }
}

fn read_side(value: &Value, pointer: &str, errors: &mut Vec<FieldError>) -> Side {
    let mut side = Side::default();
    let Some(object) = value.as_object() else {
        errors.push(error(
            pointer,
            "must be an object with `actions` and/or `outcomes`",
        ));
        return side;
    };
    for (name, list) in object {
        let at = format!("{pointer}/{name}");
        if !matches!(name.as_str(), "actions" | "outcomes") {
            errors.push(error(
                &at,
                "is not a filter field: use `actions` or `outcomes`",
            ));
            continue;
        }
        let Some(items) = list.as_array() else {
            errors.push(error(&at, "must be an array"));
            continue;
        };
        if items.len() > MAX_PATTERNS {
            errors.push(error(
                &at,
                format!("holds {} entries; at most {MAX_PATTERNS}", items.len()),
            ));
            continue;
        }
        for (i, item) in items.iter().enumerate() {
            let item_at = format!("{at}/{i}");
            match (name.as_str(), item.as_str()) {
                ("actions", Some(text)) => match check_pattern(text) {
                    Ok(()) => side.actions.push(text.to_string()),
                    Err(why) => errors.push(error(&item_at, why)),
                },
                ("outcomes", Some(text)) => match Outcome::parse(text) {
                    Some(outcome) => side.outcomes.push(outcome),
                    None => {
                        errors.push(error(&item_at, "must be `success`, `failure` or `unknown`"))
                    }
                },
                _ => errors.push(error(&item_at, "must be a string")),
            }
        }
    }
    side
}

/// An exact action (two or more segments) or a prefix of one or more segments and `.*`. The
/// service's own `auditlog.` actions may be named: a destination may take or leave them.
fn check_pattern(text: &str) -> Result<(), String> {
    let explain = "must be an action such as `user.login`, or a prefix such as `user.*`: segments of a-z, 0-9, `_` or `-` joined by dots, starting with a letter";
    if text.chars().count() > MAX_ACTION_CHARS {
        return Err(format!("is longer than {MAX_ACTION_CHARS} characters"));
    }
    if text == "*" {
        return Err("`*` matches every event: leave the list out instead".into());
    }
    let (name, prefix) = match text.strip_suffix(".*") {
        Some(name) => (name, true),
        None => (text, false),
    };
    let segments: Vec<&str> = name.split('.').collect();
    let well_formed = segments.iter().all(|s| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
    }) && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase());
    if !well_formed || (!prefix && segments.len() < 2) {
        let shown: String = text.chars().take(64).collect();
        return Err(format!("`{shown}` {explain}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
