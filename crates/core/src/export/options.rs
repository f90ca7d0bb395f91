//! What an object store is added with besides its target: how its objects are compressed,
//! which events it writes (a filter), its line format and OCSF class rules. All are fixed for
//! the destination's life (docs/export.md).
//!
//! They arrive three ways: members of the API's JSON body, members of a declaration
//! (`AUDITLOG_DESTINATION`), and command-line flags. One reader serves all three, so each way
//! refuses the same values with the same words, every problem named by its JSON pointer (the
//! command line maps the pointer's first segment to its flag).

use serde_json::{Map, Value};

use super::{Compression, Destination};
use crate::stream::filter::Filter;
use crate::stream::format::Format;
use crate::stream::ocsf::OcsfMapping;
use crate::validate::FieldError;

/// An object store's options; the default is gzip, no filter, v1 lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ObjectOptions {
    pub compression: Compression,
    pub filter: Option<Filter>,
    pub format: Format,
    pub ocsf_classes: OcsfMapping,
}

/// The JSON value given for each option; absent or `null` means the default.
#[derive(Debug, Clone, Copy, Default)]
pub struct GivenOptions<'a> {
    pub compression: Option<&'a Value>,
    pub filter: Option<&'a Value>,
    pub format: Option<&'a Value>,
    pub ocsf_classes: Option<&'a Value>,
}

impl<'a> GivenOptions<'a> {
    /// The members of `object` with the options' names.
    pub fn of(object: &'a Map<String, Value>) -> GivenOptions<'a> {
        GivenOptions {
            compression: object.get("compression"),
            filter: object.get("filter"),
            format: object.get("format"),
            ocsf_classes: object.get("ocsf_classes"),
        }
    }
}

/// Some value other than `null`.
fn given(value: Option<&Value>) -> Option<&Value> {
    value.filter(|v| !v.is_null())
}

fn problem(pointer: String, message: &str) -> FieldError {
    FieldError {
        pointer,
        message: message.to_string(),
    }
}

/// A string naming one of a few values, read by `parse`; a problem at `pointer` otherwise.
fn one_of<T>(
    value: Option<&Value>,
    parse: fn(&str) -> Option<T>,
    pointer: &str,
    allowed: &str,
    problems: &mut Vec<FieldError>,
) -> Option<T> {
    let value = given(value)?;
    let parsed = value.as_str().and_then(parse);
    if parsed.is_none() {
        problems.push(problem(pointer.to_string(), allowed));
    }
    parsed
}

impl ObjectOptions {
    /// Reads the options at `base` (`""` for a body, `/destinations/0` in a list), naming every
    /// problem: `{}` is no filter, OCSF class rules only with `format: ocsf`.
    pub fn read(
        given_options: GivenOptions<'_>,
        base: &str,
    ) -> Result<ObjectOptions, Vec<FieldError>> {
        let mut options = ObjectOptions::default();
        let mut problems = Vec::new();
        if let Some(compression) = one_of(
            given_options.compression,
            Compression::parse,
            &format!("{base}/compression"),
            "`gzip` (the default) or `zstd`",
            &mut problems,
        ) {
            options.compression = compression;
        }
        if let Some(format) = one_of(
            given_options.format,
            Format::parse,
            &format!("{base}/format"),
            "`v1` (the default), `ocsf` or `ecs`",
            &mut problems,
        ) {
            options.format = format;
        }
        if let Some(value) = given(given_options.filter) {
            match Filter::from_json(value, &format!("{base}/filter")) {
                Ok(filter) => options.filter = (filter != Filter::default()).then_some(filter),
                Err(errors) => problems.extend(errors),
            }
        }
        if let Some(value) = given(given_options.ocsf_classes) {
            if options.format != Format::Ocsf {
                problems.push(problem(
                    format!("{base}/ocsf_classes"),
                    "OCSF class rules need `format: ocsf`",
                ));
            } else {
                match OcsfMapping::from_json(value, &format!("{base}/ocsf_classes")) {
                    Ok(mapping) => options.ocsf_classes = mapping,
                    Err(errors) => problems.extend(errors),
                }
            }
        }
        if problems.is_empty() {
            Ok(options)
        } else {
            Err(problems)
        }
    }
}

impl Destination {
    /// This destination with `options` in place of its own.
    pub fn with_options(self, options: ObjectOptions) -> Destination {
        let ObjectOptions {
            compression,
            filter,
            format,
            ocsf_classes,
        } = options;
        Destination {
            compression,
            filter,
            format,
            ocsf_classes,
            ..self
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn read(body: Value) -> Result<ObjectOptions, Vec<FieldError>> {
        let Value::Object(map) = body else {
            unreachable!()
        };
        ObjectOptions::read(GivenOptions::of(&map), "")
    }

    #[test]
    fn absent_null_and_empty_are_the_defaults() {
        assert_eq!(read(json!({})).unwrap(), ObjectOptions::default());
        let nulls =
            json!({"compression": null, "filter": null, "format": null, "ocsf_classes": null});
        assert_eq!(read(nulls).unwrap(), ObjectOptions::default());
        assert_eq!(read(json!({"filter": {}})).unwrap().filter, None);
    }

    #[test]
    fn every_problem_is_named_by_its_pointer() {
        let errors = read(json!({
            "compression": "lz4",
            "format": 3,
            "filter": {"include": {"actions": ["*"]}},
            "ocsf_classes": [],
        }))
        .unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(
            pointers,
            [
                "/compression",
                "/format",
                "/filter/include/actions/0",
                "/ocsf_classes"
            ]
        );
        let errors = ObjectOptions::read(
            GivenOptions {
                ocsf_classes: Some(&json!([{"prefix": "", "class": "nope"}])),
                format: Some(&json!("ocsf")),
                ..GivenOptions::default()
            },
            "/destinations/2",
        )
        .unwrap_err();
        assert!(
            errors
                .iter()
                .all(|e| e.pointer.starts_with("/destinations/2/ocsf_classes/0")),
            "{errors:?}"
        );
    }

    #[test]
    fn good_values_are_read() {
        let options = read(json!({
            "compression": "zstd",
            "format": "ocsf",
            "filter": {"include": {"outcomes": ["failure"]}},
            "ocsf_classes": [{"prefix": "billing.", "class": "api_activity"}],
        }))
        .unwrap();
        assert_eq!(options.compression, Compression::Zstd);
        assert_eq!(options.format, Format::Ocsf);
        assert!(options.filter.is_some());
        assert_ne!(options.ocsf_classes, OcsfMapping::default());
    }
}
