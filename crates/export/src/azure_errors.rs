//! An Azure failure as a precise message and a hint for `status` and `verify`: which
//! permission is missing, which credential was refused, which container does not exist, which
//! endpoint cannot be reached. Azure's error code (`AuthorizationPermissionMismatch`, ...) is
//! read from the answer `object_store` carries; any SAS signature in it is removed first.

use auditlog_core::export::{AzureCredential, AzureTarget};

use crate::azure::scrub;
use crate::sink::SinkError;

/// The permissions a SAS needs, and why each.
pub const SAS_PERMISSIONS: &str = "c (create objects), r (read one back to compare it after a retry) and l (list, for verify); w and d are not needed";

/// What went wrong, as far as the error tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cause {
    ContainerMissing,
    BlobMissing,
    /// The request's time is too far from Azure's (the exporter's clock is off).
    ClockSkew,
    /// The credential was refused: a wrong key, an expired or altered SAS, a refused token.
    NotAuthenticated,
    /// The credential is fine but lacks a permission.
    NotAllowed,
    Unreachable,
    Other,
}

fn cause(e: &object_store::Error, text: &str) -> Cause {
    let has = |code: &str| text.contains(code);
    if has("ContainerNotFound") {
        return Cause::ContainerMissing;
    }
    if has("date header too old") || has("RequestTimeTooSkewed") || has("too skewed") {
        return Cause::ClockSkew;
    }
    // Azure says `AuthenticationFailed`; the Azurite emulator says `AuthorizationFailure` with
    // the same "failed to authenticate" message.
    if has("AuthenticationFailed")
        || has("failed to authenticate")
        || has("InvalidAuthenticationInfo")
        || has("NoAuthenticationInformation")
    {
        return Cause::NotAuthenticated;
    }
    if has("AuthorizationPermissionMismatch")
        || has("AuthorizationFailure")
        || has("AuthorizationResourceTypeMismatch")
    {
        return Cause::NotAllowed;
    }
    match e {
        object_store::Error::NotFound { .. } => Cause::BlobMissing,
        object_store::Error::Unauthenticated { .. } => Cause::NotAuthenticated,
        object_store::Error::PermissionDenied { .. } => Cause::NotAllowed,
        _ if has("error sending request")
            || has("Connection refused")
            || has("dns error")
            || has("timed out") =>
        {
            Cause::Unreachable
        }
        _ => Cause::Other,
    }
}

/// `operation` (`create`, `read`, `list`) of `key` failed with `e`.
pub fn classify(
    operation: &str,
    target: &AzureTarget,
    key: &str,
    e: &object_store::Error,
) -> SinkError {
    let text = scrub(&e.to_string());
    let place = format!("{} of {}{key}", operation, container_url(target));
    let (message, hint) = match cause(e, &text) {
        Cause::ContainerMissing => (
            format!("{place}: the container `{}` does not exist in storage account `{}`", target.container, target.account),
            "create it (infra/azure/customer-storage.json makes it) or correct the destination's container".to_string(),
        ),
        Cause::ClockSkew => (
            format!("{place}: Azure refused the request's time: the exporter's clock is more than 15 minutes off"),
            "synchronise the exporter's clock (NTP); Azure refuses requests dated too far from its own time".to_string(),
        ),
        Cause::BlobMissing => (
            format!("{place}: no such object"),
            "it was deleted or never written; `auditlog verify` tells which objects are missing".to_string(),
        ),
        Cause::NotAuthenticated => (
            format!("{place}: Azure refused the credential ({})", refused_what(&target.credential, &text)),
            credential_hint(&target.credential),
        ),
        Cause::NotAllowed => (
            format!("{place}: the credential is valid but not allowed to {operation} here"),
            permission_hint(&target.credential),
        ),
        Cause::Unreachable => (
            format!("{place}: cannot reach the storage endpoint"),
            "check the account name or the endpoint, DNS, and that the exporter's network (firewall, private endpoint) allows it".to_string(),
        ),
        Cause::Other => (format!("{place}: {}", clip(&text)), String::new()),
    };
    SinkError::Failed {
        message,
        hint: (!hint.is_empty()).then_some(hint),
    }
}

fn container_url(target: &AzureTarget) -> String {
    let location = target.location();
    location
        .strip_suffix(&target.prefix)
        .unwrap_or(&location)
        .to_string()
}

fn refused_what(credential: &AzureCredential, text: &str) -> &'static str {
    match credential {
        AzureCredential::Sas { .. } if text.contains("time frame") || text.contains("expired") => {
            "the SAS token has expired or is not valid yet"
        }
        AzureCredential::Sas { .. } => {
            "the SAS token is not valid for this account and container, or was altered"
        }
        AzureCredential::SharedKey { .. } => {
            "the shared key does not match the account's: the request signature is wrong"
        }
        AzureCredential::EntraId => "the Entra ID token was refused",
    }
}

/// How to make a SAS the exporter can use.
pub fn sas_hint() -> String {
    format!(
        "issue a new SAS for the container with permissions {SAS_PERMISSIONS}, and an expiry with room to spare; put it where the destination's reference points"
    )
}

fn credential_hint(credential: &AzureCredential) -> String {
    match credential {
        AzureCredential::Sas { .. } => sas_hint(),
        AzureCredential::SharedKey { .. } => "put the account's current key (key1 or key2; rotated keys stop working) where the destination's reference points".into(),
        AzureCredential::EntraId => "check AZURE_TENANT_ID and AZURE_CLIENT_ID, and the federated credential or client secret of that identity".into(),
    }
}

fn permission_hint(credential: &AzureCredential) -> String {
    match credential {
        AzureCredential::Sas { .. } => format!(
            "the SAS needs {SAS_PERMISSIONS}. A SAS with c alone is refused (403, not 409) when the object exists already, which is what a retry after a crash finds"
        ),
        AzureCredential::SharedKey { .. } => "the account may refuse shared-key access (allowSharedKeyAccess false): use Entra ID or a SAS".into(),
        AzureCredential::EntraId => "give the exporter's identity the Storage Blob Data Contributor role on the container (infra/azure/customer-storage.json does), and allow a few minutes for it to apply".into(),
    }
}

fn clip(text: &str) -> String {
    text.chars().take(400).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use auditlog_core::export::SecretRef;

    fn target(credential: AzureCredential) -> AzureTarget {
        AzureTarget {
            account: "acmeaudit".into(),
            container: "audit".into(),
            prefix: "p/".into(),
            endpoint: None,
            credential,
        }
    }

    fn forbidden(body: &str) -> object_store::Error {
        object_store::Error::PermissionDenied {
            path: "p/x".into(),
            source: body.to_string().into(),
        }
    }

    #[test]
    fn refusals_say_what_to_fix() {
        let sas = target(AzureCredential::Sas {
            token: SecretRef::Env("T".into()),
        });
        let e = classify(
            "create",
            &sas,
            "p/x",
            &forbidden(
                "PUT https://acmeaudit.blob.core.windows.net/audit/p/x?sv=2024&sp=c&sig=SECRETSIG%3D&se=1 403 <Code>AuthorizationPermissionMismatch</Code>",
            ),
        );
        let text = e.to_string();
        assert!(text.contains("not allowed to create"), "{text}");
        assert!(text.contains("c (create objects), r (read"), "{text}");
        assert!(!text.contains("SECRETSIG"), "{text}");

        let e = classify(
            "read",
            &sas,
            "p/x",
            &forbidden(
                "<Code>AuthenticationFailed</Code> Signature not valid in the specified time frame",
            ),
        );
        assert!(e.to_string().contains("expired or is not valid yet"), "{e}");

        let key = target(AzureCredential::SharedKey {
            key: SecretRef::Env("K".into()),
        });
        let e = classify(
            "create",
            &key,
            "p/x",
            &forbidden("<Code>AuthenticationFailed</Code>"),
        );
        assert!(e.to_string().contains("shared key does not match"), "{e}");

        let missing = object_store::Error::NotFound {
            path: "p/x".into(),
            source: "<Code>ContainerNotFound</Code>".into(),
        };
        let e = classify("create", &key, "p/x", &missing);
        assert!(
            e.to_string()
                .contains("container `audit` does not exist in storage account `acmeaudit`"),
            "{e}"
        );
    }

    #[test]
    fn a_clock_off_by_too_much_is_named() {
        let key = target(AzureCredential::SharedKey {
            key: SecretRef::Env("K".into()),
        });
        let skewed = forbidden(
            "<Code>AuthenticationFailed</Code><AuthenticationErrorDetail>Request date header too old: 'Tue, 01 Dec 2026 10:00:00 GMT'</AuthenticationErrorDetail>",
        );
        let e = classify("create", &key, "p/x", &skewed).to_string();
        assert!(
            e.contains("clock is more than 15 minutes off") && e.contains("NTP"),
            "{e}"
        );
    }

    #[test]
    fn signatures_are_scrubbed_wherever_they_appear() {
        assert_eq!(
            scrub("GET http://h/c/b?sv=1&sig=abc%2Fdef&se=2 failed"),
            "GET http://h/c/b?sv=1&sig=[REDACTED]&se=2 failed"
        );
        assert_eq!(scrub("sig=tail"), "sig=[REDACTED]");
    }
}
