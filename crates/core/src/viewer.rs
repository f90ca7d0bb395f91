//! Viewer sessions: how a person who holds no API key reads one tenant's log in the console.
//!
//! A tenant admin (through `POST /v1/viewer-sessions`) or the operator (`auditlog console`)
//! issues a session: a record in the store and a one-time link token, `vsl_<id>_<secret>`.
//! Opening the link exchanges the token, once, for a session cookie, `vsc_<id>_<secret>`, whose
//! secret is made at that moment. Only the SHA-256 of each token is stored (hashed and compared
//! in constant time by the API keys' own functions: 256 random bits need no slow hash).
//!
//! A session may carry a fixed filter (`actor_id = u_42`, `action = billing.*`): every query of
//! the session is narrowed by it ([`narrow`]), and a query that asks for more is refused, never
//! silently widened. This module is pure: randomness and time come from the caller.

use serde::{Deserialize, Serialize};

use crate::event::Outcome;
use crate::keys::{bearer_token as token, hash_key as hash, key_matches as matches, token_id_of};
use crate::query::{ActionFilter, EventQuery, ParamError, parse_query};
use crate::time::Timestamp;

pub const LINK_PREFIX: &str = "vsl_";
pub const COOKIE_PREFIX: &str = "vsc_";
/// A session lasts an hour unless asked otherwise, and never more than 12 hours.
pub const DEFAULT_LIFETIME_MS: i64 = 60 * 60 * 1000;
pub const MAX_LIFETIME_MS: i64 = 12 * 60 * 60 * 1000;
pub const MAX_DISPLAY_NAME_CHARS: usize = 128;

/// The filter a session is held to, as query parameters (`action` may be a `prefix.*`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct FixedFilter {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_service: Option<String>,
}

impl FixedFilter {
    /// The filter as a query, checked by the same parser as `GET /v1/events`.
    pub fn to_query(&self) -> Result<EventQuery, Vec<ParamError>> {
        let outcome = self.outcome.map(|o| o.as_str().to_string());
        let pairs: Vec<(String, String)> = [
            ("action", &self.action),
            ("actor_id", &self.actor_id),
            ("actor_email", &self.actor_email),
            ("target_id", &self.target_id),
            ("outcome", &outcome),
            ("source_service", &self.source_service),
        ]
        .into_iter()
        .filter_map(|(name, value)| value.as_ref().map(|v| (name.to_string(), v.clone())))
        .collect();
        parse_query(&pairs).map(|parsed| parsed.query)
    }

    pub fn is_empty(&self) -> bool {
        self == &FixedFilter::default()
    }
}

/// What the store keeps for a session. No token is ever kept, only hashes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewerSession {
    /// 16 hex digits; not secret.
    pub id: String,
    pub tenant: String,
    pub link_hash: String,
    /// Set when the link is opened, with `opened_at`.
    pub cookie_hash: Option<String>,
    pub filter: FixedFilter,
    pub display_name: Option<String>,
    /// Whether the session may also see the tenant's destinations.
    pub admin: bool,
    /// `key:<key id>` or `operator:<user>@<host>`.
    pub issued_by: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
    pub opened_at: Option<Timestamp>,
}

/// Why a link or a cookie does not open the console. The messages are for the refusal page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("this link is not one of ours, or it was altered")]
    Malformed,
    #[error("no such viewer session; ask for a new link")]
    Unknown,
    #[error("this link was already used; links open the console once; ask for a new one")]
    Used,
    #[error("this viewer session has expired; ask for a new link")]
    Expired,
    #[error("this link or session is not valid")]
    Forged,
}

/// What issuing a session asks for.
#[derive(Debug, Clone)]
pub struct SessionRequest {
    pub tenant: String,
    pub filter: FixedFilter,
    pub display_name: Option<String>,
    pub admin: bool,
    pub issued_by: String,
    pub lifetime_ms: i64,
}

/// A new session and the link token that opens it (shown once, never stored).
pub struct Issued {
    pub session: ViewerSession,
    pub link_token: String,
}

impl std::fmt::Debug for Issued {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issued")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The session id of a token shaped like ours (`prefix`, 16 hex, `_`, 43 base64url).
pub fn session_id_of<'a>(prefix: &str, presented: &'a str) -> Option<&'a str> {
    token_id_of(prefix, presented)
}

/// Checks a request for a session; every problem is named by JSON pointer.
pub fn check_request(request: &SessionRequest) -> Vec<ParamError> {
    let mut problems = Vec::new();
    if !(60_000..=MAX_LIFETIME_MS).contains(&request.lifetime_ms) {
        problems.push(ParamError {
            parameter: "/expires_in".into(),
            message: format!("must be from 60 to {} seconds", MAX_LIFETIME_MS / 1000),
        });
    }
    if let Some(name) = &request.display_name
        && (name.trim().is_empty()
            || name.chars().count() > MAX_DISPLAY_NAME_CHARS
            || name.chars().any(char::is_control))
    {
        problems.push(ParamError {
            parameter: "/display_name".into(),
            message: format!("1 to {MAX_DISPLAY_NAME_CHARS} characters, no control characters"),
        });
    }
    if let Err(errors) = request.filter.to_query() {
        problems.extend(errors.into_iter().map(|e| ParamError {
            parameter: format!("/filter/{}", e.parameter),
            message: e.message,
        }));
    }
    problems
}

/// Makes a session from caller-supplied randomness.
pub fn issue(request: SessionRequest, id: [u8; 8], secret: [u8; 32], now: Timestamp) -> Issued {
    let id = hex::encode(id);
    let link_token = token(LINK_PREFIX, &id, secret);
    let session = ViewerSession {
        link_hash: hash(&link_token),
        cookie_hash: None,
        id,
        tenant: request.tenant,
        filter: request.filter,
        display_name: request.display_name,
        admin: request.admin,
        issued_by: request.issued_by,
        created_at: now,
        expires_at: Timestamp(now.0.saturating_add(request.lifetime_ms)),
        opened_at: None,
    };
    Issued {
        session,
        link_token,
    }
}

/// Whether `link` opens `session` now. The store then records the opening, once
/// ([`opened`]); a second opening is `Used` even when two race.
pub fn check_link(session: &ViewerSession, link: &str, now: Timestamp) -> Result<(), Refusal> {
    if !matches(link, &session.link_hash) {
        return Err(Refusal::Forged);
    }
    if session.opened_at.is_some() {
        return Err(Refusal::Used);
    }
    if now >= session.expires_at {
        return Err(Refusal::Expired);
    }
    Ok(())
}

/// The session as opened now, and its cookie value (shown once to the browser).
pub fn opened(
    session: &ViewerSession,
    secret: [u8; 32],
    now: Timestamp,
) -> (ViewerSession, String) {
    let cookie = token(COOKIE_PREFIX, &session.id, secret);
    let mut next = session.clone();
    next.cookie_hash = Some(hash(&cookie));
    next.opened_at = Some(now);
    (next, cookie)
}

/// Whether `cookie` is this session's, and the session still lasts.
pub fn check_cookie(session: &ViewerSession, cookie: &str, now: Timestamp) -> Result<(), Refusal> {
    match &session.cookie_hash {
        Some(stored) if matches(cookie, stored) => {}
        _ => return Err(Refusal::Forged),
    }
    if now >= session.expires_at {
        return Err(Refusal::Expired);
    }
    Ok(())
}

/// Narrows what a viewer asked for by the session's fixed filter. A field the filter fixes may
/// be left out (it is filled in) or asked for as fixed or narrower (an exact action under a
/// fixed prefix, a longer prefix); anything else is refused, naming the field.
pub fn narrow(fixed: &EventQuery, asked: &mut EventQuery) -> Result<(), Vec<ParamError>> {
    let mut errors = Vec::new();
    let mut exact = |name: &str, fixed: &Option<String>, asked: &mut Option<String>| {
        if let Some(f) = fixed {
            match asked {
                None => *asked = Some(f.clone()),
                Some(a) if a == f => {}
                Some(_) => errors.push(ParamError {
                    parameter: name.into(),
                    message: format!("this view is limited to {name} = {f}"),
                }),
            }
        }
    };
    exact("actor_id", &fixed.actor_id, &mut asked.actor_id);
    exact("actor_email", &fixed.actor_email, &mut asked.actor_email);
    exact("target_id", &fixed.target_id, &mut asked.target_id);
    exact(
        "source_service",
        &fixed.source_service,
        &mut asked.source_service,
    );
    if let Some(f) = fixed.outcome {
        match asked.outcome {
            None => asked.outcome = Some(f),
            Some(a) if a == f => {}
            Some(_) => errors.push(ParamError {
                parameter: "outcome".into(),
                message: format!("this view is limited to outcome = {}", f.as_str()),
            }),
        }
    }
    if let Some(f) = &fixed.action {
        let within = match (f, &asked.action) {
            (_, None) => {
                asked.action = Some(f.clone());
                true
            }
            (ActionFilter::Exact(f), Some(ActionFilter::Exact(a))) => a == f,
            (ActionFilter::Prefix(p), Some(ActionFilter::Exact(a) | ActionFilter::Prefix(a))) => {
                a.starts_with(p.as_str())
            }
            (ActionFilter::Exact(_), Some(ActionFilter::Prefix(_))) => false,
        };
        if !within {
            let shown = match f {
                ActionFilter::Exact(a) => a.clone(),
                ActionFilter::Prefix(p) => format!("{p}*"),
            };
            errors.push(ParamError {
                parameter: "action".into(),
                message: format!("this view is limited to action {shown}"),
            });
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests;
