//! The console's pages, as maud templates: compiled with the binary, and every interpolated
//! value HTML-escaped by maud itself (event fields are attacker-controlled). No inline script
//! or style anywhere, so the Content-Security-Policy can forbid both.

use auditlog_core::Timestamp;
use auditlog_core::event::Event;
use auditlog_core::viewer::ViewerSession;
use maud::{DOCTYPE, Markup, html};

/// The page frame: title, stylesheet, the session's header.
pub fn layout(title: &str, session: Option<&ViewerSession>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · audit log" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                header {
                    strong { "Audit log" }
                    @if let Some(s) = session {
                        span.tenant { "tenant " code { (s.tenant) } }
                        @if let Some(name) = &s.display_name { span.who { (name) } }
                        span.expires { "session until " (iso(s.expires_at)) }
                        nav {
                            a href="/console/events" { "Events" }
                            @if s.admin { a href="/console/destinations" { "Destinations" } }
                        }
                    }
                }
                main { (body) }
            }
        }
    }
}

pub fn refusal(message: &str) -> Markup {
    layout(
        "Not allowed",
        None,
        html! {
            h1 { "The console cannot be opened" }
            p.refusal { (message) }
            p { "Viewer links open the console once and expire. Ask whoever gave you the link for a new one." }
        },
    )
}

/// After the link is exchanged: a page of our own that moves on to the events.
pub fn opened(session: &ViewerSession) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta http-equiv="refresh" content="0; url=/console/events";
                title { "Opening the audit log" }
                link rel="stylesheet" href="/console/assets/console.css";
            }
            body {
                main {
                    p { "Opening the audit log of " code { (session.tenant) } "…" }
                    p { a href="/console/events" { "Continue to the events" } }
                }
            }
        }
    }
}

/// `2026-12-01T14:00:00.000Z`.
pub fn iso(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// "3 min ago", "in 2 h": coarse, for a person scanning a list.
pub fn relative(now: Timestamp, t: Timestamp) -> String {
    let seconds = (now.0 - t.0) / 1000;
    let (amount, future) = (seconds.unsigned_abs(), seconds < 0);
    let text = match amount {
        0..=59 => return "just now".into(),
        60..=3599 => format!("{} min", amount / 60),
        3600..=86_399 => format!("{} h", amount / 3600),
        _ => format!("{} d", amount / 86_400),
    };
    if future {
        format!("in {text}")
    } else {
        format!("{text} ago")
    }
}

/// A time cell: ISO 8601 in UTC with the relative time beside it.
pub fn when(now: Timestamp, t: Timestamp) -> Markup {
    html! {
        time datetime=(iso(t)) { (iso(t)) } " " span.relative { "(" (relative(now, t)) ")" }
    }
}

/// The actor as one short line: name or id, and e-mail.
pub fn actor(event: &Event) -> Markup {
    html! {
        (event.actor.name.as_deref().unwrap_or(&event.actor.id))
        @if let Some(email) = &event.actor.email { " " span.email { "<" (email) ">" } }
    }
}
