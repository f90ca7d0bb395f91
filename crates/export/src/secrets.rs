//! Secrets held by reference: a destination names where its credential lives on the exporter's
//! host (an environment variable or a file), and the exporter reads it when it builds a client.
//! Errors name the reference, never the value.

use auditlog_core::export::SecretRef;

use crate::sink::SinkError;

/// The value a reference names, read now. The error names the reference, not the value.
pub fn resolve(reference: &SecretRef) -> Result<String, SinkError> {
    let (value, named) = match reference {
        SecretRef::Env(name) => (
            std::env::var(name).ok(),
            format!("environment variable {name}"),
        ),
        SecretRef::File(path) => (std::fs::read_to_string(path).ok(), format!("file {path}")),
    };
    value
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SinkError::Failed {
            message: format!("the credential's {named} is not set or cannot be read on the exporter"),
            hint: Some("set it where the exporter runs (and only there): the destination names it, it never holds it".into()),
        })
}
