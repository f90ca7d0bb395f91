//! `--compression`, `--filter`, `--format` and `--ocsf-classes` of `auditlog destinations add`,
//! read by the same reader as the API's body and a declaration
//! ([`auditlog_core::export::ObjectOptions::read`]); a problem's pointer is shown after its
//! flag (`--filter /include/actions/0: ...`).

use anyhow::anyhow;
use auditlog_core::export::{GivenOptions, ObjectOptions};
use serde_json::Value;

/// The flags as given (`None`: not given).
pub struct OptionFlags<'a> {
    pub compression: Option<&'a str>,
    pub filter: Option<&'a str>,
    pub format: Option<&'a str>,
    pub ocsf_classes: Option<&'a str>,
}

/// The flag an option's pointer starts with, and the rest of the pointer.
fn flag_of(pointer: &str) -> (&'static str, &str) {
    for (name, flag) in [
        ("/compression", "--compression"),
        ("/filter", "--filter"),
        ("/format", "--format"),
        ("/ocsf_classes", "--ocsf-classes"),
    ] {
        if let Some(rest) = pointer.strip_prefix(name) {
            return (flag, rest);
        }
    }
    ("", pointer)
}

/// A JSON flag's value, or why it is not JSON.
fn json(flag: &str, text: Option<&str>) -> anyhow::Result<Option<Value>> {
    text.map(|t| serde_json::from_str(t).map_err(|e| anyhow!("{flag}: not JSON: {e}")))
        .transpose()
}

/// Reads the flags; every problem is named by its flag.
pub fn object_options(flags: &OptionFlags<'_>) -> anyhow::Result<ObjectOptions> {
    let filter = json("--filter", flags.filter)?;
    let ocsf_classes = json("--ocsf-classes", flags.ocsf_classes)?;
    let compression = flags.compression.map(|c| Value::String(c.to_string()));
    let format = flags.format.map(|f| Value::String(f.to_string()));
    let given = GivenOptions {
        compression: compression.as_ref(),
        filter: filter.as_ref(),
        format: format.as_ref(),
        ocsf_classes: ocsf_classes.as_ref(),
    };
    ObjectOptions::read(given, "").map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| match flag_of(&e.pointer) {
                (flag, "") => format!("  {flag}: {}", e.message),
                (flag, rest) => format!("  {flag} {rest}: {}", e.message),
            })
            .collect();
        anyhow!(
            "the destination's options are not valid:\n{}",
            lines.join("\n")
        )
    })
}
