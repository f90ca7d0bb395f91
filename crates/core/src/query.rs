//! `GET /v1/events` filters: parsing from the query string, and the pure predicate a store may
//! use to check an event against them.

use sha2::{Digest, Sha256};

use crate::event::{Event, Outcome};
use crate::time::{Timestamp, parse_query_time};

pub const DEFAULT_PAGE_LIMIT: usize = 100;
pub const MAX_PAGE_LIMIT: usize = 1000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionFilter {
    Exact(String),
    /// `user.*` is stored as the prefix `user.`; `*` alone is refused (omit the filter instead).
    Prefix(String),
}

impl ActionFilter {
    pub fn matches(&self, action: &str) -> bool {
        match self {
            ActionFilter::Exact(a) => a == action,
            ActionFilter::Prefix(p) => action.starts_with(p.as_str()),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// Oldest first (the default). A paging session is pinned to its first page (see
    /// `crate::cursor`): events arriving meanwhile are for the next query.
    #[default]
    Asc,
    Desc,
}

impl Order {
    pub fn as_str(self) -> &'static str {
        match self {
            Order::Asc => "asc",
            Order::Desc => "desc",
        }
    }
}

/// Filters on a tenant's events. The time range is over `received_at`: `from` inclusive, `to`
/// exclusive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub action: Option<ActionFilter>,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub target_id: Option<String>,
    pub outcome: Option<Outcome>,
    pub source_service: Option<String>,
    pub limit: usize,
    pub order: Order,
}

impl Default for EventQuery {
    fn default() -> Self {
        EventQuery {
            from: None,
            to: None,
            action: None,
            actor_id: None,
            actor_email: None,
            target_id: None,
            outcome: None,
            source_service: None,
            limit: DEFAULT_PAGE_LIMIT,
            order: Order::Asc,
        }
    }
}

/// A rejected query parameter.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ParamError {
    pub parameter: String,
    pub message: String,
}

pub const PARAMETERS: [&str; 11] = [
    "from",
    "to",
    "action",
    "actor_id",
    "actor_email",
    "target_id",
    "outcome",
    "source_service",
    "limit",
    "order",
    "cursor",
];

/// A parsed query string: the filters, and the cursor text if one was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuery {
    pub query: EventQuery,
    pub cursor: Option<String>,
}

/// Parses decoded `key=value` pairs. Unknown and repeated parameters are errors, so a typo
/// never silently widens a query.
pub fn parse_query(pairs: &[(String, String)]) -> Result<ParsedQuery, Vec<ParamError>> {
    let mut parsed = ParsedQuery {
        query: EventQuery::default(),
        cursor: None,
    };
    let mut errors = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    let mut fail = |p: &str, message: String| {
        errors.push(ParamError {
            parameter: p.to_string(),
            message,
        })
    };
    for (key, value) in pairs {
        let key = key.as_str();
        let problem = if !PARAMETERS.contains(&key) {
            Err(format!(
                "unknown parameter; known: {}",
                PARAMETERS.join(", ")
            ))
        } else if seen.contains(&key) {
            Err("given more than once".into())
        } else if value.is_empty() {
            seen.push(key);
            Err("must not be empty".into())
        } else {
            seen.push(key);
            apply(&mut parsed, key, value)
        };
        if let Err(message) = problem {
            fail(key, message);
        }
    }
    if let (Some(from), Some(to)) = (parsed.query.from, parsed.query.to)
        && from >= to
    {
        fail("to", "must be later than `from`".into());
    }
    if errors.is_empty() {
        Ok(parsed)
    } else {
        Err(errors)
    }
}

/// Sets what one known, non-empty parameter asks for; the reason when its value is refused.
fn apply(parsed: &mut ParsedQuery, key: &str, value: &str) -> Result<(), String> {
    let q = &mut parsed.query;
    let text = value.to_string();
    match key {
        "from" | "to" => {
            let t = parse_query_time(value).map_err(|e| e.to_string())?;
            if key == "from" {
                q.from = Some(t);
            } else {
                q.to = Some(t);
            }
        }
        "action" => match value.strip_suffix('*') {
            Some(prefix) if prefix.is_empty() || !prefix.ends_with('.') => {
                return Err("a prefix filter looks like `user.*`".into());
            }
            Some(prefix) => q.action = Some(ActionFilter::Prefix(prefix.to_string())),
            None => q.action = Some(ActionFilter::Exact(text)),
        },
        "actor_id" => q.actor_id = Some(text),
        "actor_email" => q.actor_email = Some(text),
        "target_id" => q.target_id = Some(text),
        "source_service" => q.source_service = Some(text),
        "outcome" => {
            q.outcome = Some(
                Outcome::parse(value)
                    .ok_or_else(|| "must be success, failure or unknown".to_string())?,
            );
        }
        "limit" => match value.parse::<usize>() {
            Ok(n @ 1..=MAX_PAGE_LIMIT) => q.limit = n,
            _ => return Err(format!("must be a whole number from 1 to {MAX_PAGE_LIMIT}")),
        },
        "order" => match value {
            "asc" | "oldest" => q.order = Order::Asc,
            "desc" | "newest" => q.order = Order::Desc,
            _ => return Err("must be asc (oldest first) or desc (newest first)".into()),
        },
        _ => parsed.cursor = Some(text),
    }
    Ok(())
}

impl EventQuery {
    /// The query as parameters that [`parse_query`] reads back to the same query (times as
    /// epoch milliseconds): the console's links carry a view this way.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = Vec::new();
        if let Some(from) = self.from {
            pairs.push(("from", from.0.to_string()));
        }
        if let Some(to) = self.to {
            pairs.push(("to", to.0.to_string()));
        }
        match &self.action {
            Some(ActionFilter::Exact(a)) => pairs.push(("action", a.clone())),
            Some(ActionFilter::Prefix(p)) => pairs.push(("action", format!("{p}*"))),
            None => {}
        }
        let texts = [
            ("actor_id", &self.actor_id),
            ("actor_email", &self.actor_email),
            ("target_id", &self.target_id),
            ("source_service", &self.source_service),
        ];
        for (name, value) in texts {
            if let Some(v) = value {
                pairs.push((name, v.clone()));
            }
        }
        if let Some(outcome) = self.outcome {
            pairs.push(("outcome", outcome.as_str().to_string()));
        }
        pairs.push(("limit", self.limit.to_string()));
        let order = match self.order {
            Order::Asc => "asc",
            Order::Desc => "desc",
        };
        pairs.push(("order", order.to_string()));
        pairs
    }

    /// Whether `event` passes every filter (not the page limit or cursor).
    pub fn matches(&self, event: &Event) -> bool {
        self.from.is_none_or(|f| event.received_at >= f)
            && self.to.is_none_or(|t| event.received_at < t)
            && self
                .action
                .as_ref()
                .is_none_or(|a| a.matches(&event.action))
            && self.actor_id.as_ref().is_none_or(|a| *a == event.actor.id)
            && self
                .actor_email
                .as_ref()
                .is_none_or(|e| event.actor.email.as_deref() == Some(e.as_str()))
            && self
                .target_id
                .as_ref()
                .is_none_or(|t| event.targets.iter().any(|x| x.id == *t))
            && self.outcome.is_none_or(|o| o == event.outcome)
            && self.source_service.as_ref().is_none_or(|s| {
                event.source.as_ref().and_then(|x| x.service.as_deref()) == Some(s.as_str())
            })
    }

    /// A digest of everything that decides *which* events a query returns and in what order
    /// (not the page size). A cursor carries it so it cannot be replayed under other filters.
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |name: &str, value: Option<String>| {
            h.update(name.as_bytes());
            h.update([0]);
            if let Some(v) = value {
                h.update([1]);
                h.update(v.as_bytes());
            }
            h.update([0]);
        };
        field("from", self.from.map(|t| t.0.to_string()));
        field("to", self.to.map(|t| t.0.to_string()));
        field(
            "action",
            self.action.as_ref().map(|a| match a {
                ActionFilter::Exact(x) => format!("={x}"),
                ActionFilter::Prefix(x) => format!("^{x}"),
            }),
        );
        field("actor_id", self.actor_id.clone());
        field("actor_email", self.actor_email.clone());
        field("target_id", self.target_id.clone());
        field("outcome", self.outcome.map(|o| o.as_str().to_string()));
        field("source_service", self.source_service.clone());
        field("order", Some(format!("{:?}", self.order)));
        hex::encode(&h.finalize()[..8])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// `to_pairs` is the inverse of `parse_query`.
        #[test]
        fn pairs_parse_back_to_the_same_query(
            from in proptest::option::of(0i64..253_402_300_799_999),
            action in proptest::option::of("[a-z]{1,3}\\.[a-z]{1,3}(\\.\\*)?"),
            actor in proptest::option::of("[ -~]{1,8}"),
            limit in 1usize..=MAX_PAGE_LIMIT,
            desc in proptest::bool::ANY,
        ) {
            let mut text = vec![("limit".to_string(), limit.to_string())];
            if let Some(f) = from { text.push(("from".into(), f.to_string())); }
            if let Some(a) = action { text.push(("action".into(), a)); }
            if let Some(a) = actor { text.push(("actor_id".into(), a)); }
            if desc { text.push(("order".into(), "desc".into())); }
            let query = parse_query(&text).unwrap().query;
            let back: Vec<(String, String)> =
                query.to_pairs().into_iter().map(|(k, v)| (k.to_string(), v)).collect();
            proptest::prop_assert_eq!(parse_query(&back).unwrap().query, query);
        }
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn parses_every_filter() {
        let parsed = parse_query(&pairs(&[
            ("from", "2026-01-01T00:00:00Z"),
            ("to", "1798761600000"),
            ("action", "user.*"),
            ("actor_id", "u1"),
            ("actor_email", "a@b.c"),
            ("target_id", "t1"),
            ("outcome", "failure"),
            ("source_service", "billing"),
            ("limit", "1000"),
            ("order", "desc"),
            ("cursor", "abc"),
        ]))
        .unwrap();
        let q = parsed.query;
        assert_eq!(q.action, Some(ActionFilter::Prefix("user.".into())));
        assert_eq!(q.limit, 1000);
        assert_eq!(q.order, Order::Desc);
        assert_eq!(q.outcome, Some(Outcome::Failure));
        assert_eq!(q.to, Some(Timestamp(1_798_761_600_000)));
        assert_eq!(parsed.cursor.as_deref(), Some("abc"));
    }

    #[test]
    fn names_each_bad_parameter() {
        let errors = parse_query(&pairs(&[
            ("limit", "1001"),
            ("actor", "x"),
            ("outcome", "ok"),
            ("from", "soon"),
            ("action", "*"),
            ("order", "up"),
            ("limit", "5"),
        ]))
        .unwrap_err();
        let names: Vec<&str> = errors.iter().map(|e| e.parameter.as_str()).collect();
        assert_eq!(
            names,
            [
                "limit", "actor", "outcome", "from", "action", "order", "limit"
            ]
        );
        assert!(errors[6].message.contains("more than once"));
    }

    #[test]
    fn empty_range_is_refused() {
        let errors = parse_query(&pairs(&[("from", "2000"), ("to", "1000")])).unwrap_err();
        assert_eq!(errors[0].parameter, "to");
    }

    #[test]
    fn fingerprint_ignores_limit_but_not_filters() {
        let a = EventQuery::default();
        let b = EventQuery {
            limit: 7,
            ..EventQuery::default()
        };
        let c = EventQuery {
            actor_id: Some("x".into()),
            ..EventQuery::default()
        };
        let d = EventQuery {
            order: Order::Desc,
            ..EventQuery::default()
        };
        assert_eq!(a.fingerprint(), b.fingerprint());
        assert_ne!(a.fingerprint(), c.fingerprint());
        assert_ne!(a.fingerprint(), d.fingerprint());
    }
}
