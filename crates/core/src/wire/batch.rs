//! A batch envelope read and prepared in one pass: each event is validated, masked and
//! written as soon as serde has read it, while its text is still in cache, and no list of
//! parsed events is built (moving a few hundred of them while the list grew cost more than
//! their validation rules).
//!
//! Only `{"events": [...]}` with exactly that one member is read here, as an object (serde's
//! derived structs also take an array, which the API refuses). Whatever stops the pass (an item
//! that does not read as an event, a second member, too many items, trailing text) leaves the
//! items prepared so far in [`Streamed::items`] and `complete` false; the caller reads the raw
//! envelope and prepares the rest, so the walker names every problem.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

use super::{WireEvent, prepare_wire};
use crate::ingest::{PreparedItem, Shape, item_base};
use crate::validate::{FieldError, IngestContext};

/// What one pass over a batch gave.
pub(crate) struct Streamed {
    /// The items read, in order: the events the typed path took, and a placeholder for each
    /// it gave up on.
    pub items: Vec<PreparedItem>,
    /// The indexes of those placeholders: the walker must look at these items.
    pub gave_up: Vec<usize>,
    /// Whether the whole body was read: every item is in `items`.
    pub complete: bool,
}

/// Reads `text` as a batch envelope, preparing each event as it is read.
pub(crate) fn prepare_batch(
    text: &str,
    ctx: &IngestContext<'_>,
    fresh_id: &mut dyn FnMut() -> String,
) -> Streamed {
    // The smallest event is over 32 bytes, so this bounds the count from above; without it
    // the list of prepared items (a few hundred bytes each) would be copied as it grows.
    let expected = (text.len() / 32 + 1).min(ctx.limits.max_events_per_request);
    let mut items = Vec::with_capacity(expected);
    let mut gave_up = Vec::new();
    let mut de = serde_json::Deserializer::from_str(text);
    let read = Envelope(Out {
        ctx,
        fresh_id,
        items: &mut items,
        gave_up: &mut gave_up,
    })
    .deserialize(&mut de)
    .and_then(|()| de.end());
    Streamed {
        complete: read.is_ok() && !items.is_empty(),
        items,
        gave_up,
    }
}

/// What preparing items needs, and where they go: each level of the envelope (the object, the
/// array, an item) reads with its own reborrow of it.
struct Out<'a, 'c> {
    ctx: &'a IngestContext<'c>,
    fresh_id: &'a mut dyn FnMut() -> String,
    items: &'a mut Vec<PreparedItem>,
    gave_up: &'a mut Vec<usize>,
}

impl<'c> Out<'_, 'c> {
    fn reborrow(&mut self) -> Out<'_, 'c> {
        Out {
            ctx: self.ctx,
            fresh_id: &mut *self.fresh_id,
            items: &mut *self.items,
            gave_up: &mut *self.gave_up,
        }
    }
}

/// The body: `{"events": [...]}`.
struct Envelope<'a, 'c>(Out<'a, 'c>);

impl<'de> DeserializeSeed<'de> for Envelope<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Envelope<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(r#"{"events": [...]}"#)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let Envelope(mut out) = self;
        let mut seen = false;
        while let Some(is_events) = map.next_key_seed(IsEvents)? {
            if !is_events || seen {
                return Err(de::Error::custom("not a plain batch envelope"));
            }
            seen = true;
            map.next_value_seed(Items(out.reborrow()))?;
        }
        if seen {
            Ok(())
        } else {
            Err(de::Error::missing_field("events"))
        }
    }
}

/// A member name: whether it is `events`.
struct IsEvents;

impl<'de> DeserializeSeed<'de> for IsEvents {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<bool, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for IsEvents {
    type Value = bool;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(v == "events")
    }
}

/// The `events` array: each item read as an event object and prepared at once.
struct Items<'a, 'c>(Out<'a, 'c>);

impl<'de> DeserializeSeed<'de> for Items<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Items<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an array of event objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let Items(mut out) = self;
        while let Some(()) = seq.next_element_seed(Item(out.reborrow()))? {}
        Ok(())
    }
}

/// One item of `events`: read as an event object, prepared, and put in the list, all in this
/// frame. Returning the event read (600 bytes) or the one prepared (500) through serde's
/// `Option`s would copy it each time.
struct Item<'a, 'c>(Out<'a, 'c>);

impl<'de> DeserializeSeed<'de> for Item<'_, '_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        // An object only, as `ObjectOnly` reads one: serde's derive would take an array too.
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Item<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let Item(out) = self;
        let wire = WireEvent::deserialize(de::value::MapAccessDeserializer::new(map))?;
        if out.items.len() == out.ctx.limits.max_events_per_request {
            return Err(de::Error::custom("too many events"));
        }
        match prepare_wire(wire, "", out.ctx, out.fresh_id) {
            Some(prepared) => out.items.push(PreparedItem::Valid(prepared)),
            None => {
                // Replaced by the caller; stays only if the item cannot be found again.
                let index = out.items.len();
                out.gave_up.push(index);
                out.items.push(PreparedItem::Rejected {
                    id: None,
                    errors: vec![FieldError {
                        pointer: item_base(Shape::Batch, index),
                        message: "internal error: item lost between passes".into(),
                    }],
                });
            }
        }
        Ok(())
    }
}
