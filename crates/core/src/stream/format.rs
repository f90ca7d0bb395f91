//! How a destination writes each event: our own schema v1 (the default: the stored event, byte
//! for byte, receipts still verify), OCSF or ECS. Every format carries the event id (`id`,
//! OCSF `metadata.uid`, ECS `event.id`), so a receiver can drop a repeat of an at-least-once
//! delivery.

use serde::{Deserialize, Serialize};

use super::ecs::to_ecs;
use super::ocsf::{OcsfMapping, to_ocsf};
use crate::event::Event;

#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    #[default]
    V1,
    Ocsf,
    Ecs,
}

impl Format {
    pub const ALL: [(&'static str, Format); 3] = [
        ("v1", Format::V1),
        ("ocsf", Format::Ocsf),
        ("ecs", Format::Ecs),
    ];

    /// The name a destination gives (`v1`, `ocsf`, `ecs`).
    pub fn name(self) -> &'static str {
        match self {
            Format::V1 => "v1",
            Format::Ocsf => "ocsf",
            Format::Ecs => "ecs",
        }
    }

    pub fn is_v1(&self) -> bool {
        *self == Format::V1
    }

    pub fn parse(text: &str) -> Option<Format> {
        Format::ALL
            .iter()
            .find(|(name, _)| *name == text)
            .map(|(_, f)| *f)
    }
}

/// One event as its destination wants it: `stored_json` is the event as stored (v1 sends it as
/// is), `event` the same, parsed.
pub fn render(event: &Event, stored_json: &str, format: Format, ocsf: &OcsfMapping) -> String {
    match format {
        Format::V1 => stored_json.to_string(),
        // A map of strings, numbers and the event's own JSON values always serializes.
        Format::Ocsf => serde_json::to_string(&to_ocsf(event, ocsf)).unwrap_or_default(),
        Format::Ecs => serde_json::to_string(&to_ecs(event)).unwrap_or_default(),
    }
}
