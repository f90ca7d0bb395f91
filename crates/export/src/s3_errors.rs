//! What an S3 failure means for the operator: a precise message and a hint on what to fix.
//! Pure: it reads the error code, message and status the SDK returned, so every case is
//! unit-tested, including the ones no emulator reproduces (KMS denied, wrong bucket owner).

use auditlog_core::export::S3Target;

use crate::sink::SinkError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    Write,
    /// Reading an object back after `412`, to compare it with ours.
    Read,
}

/// The parts of an SDK error that matter here.
#[derive(Debug, Clone, Default)]
pub struct S3Failure {
    pub code: Option<String>,
    pub message: Option<String>,
    pub status: Option<u16>,
    /// The whole error chain as text (credential failures arrive only here).
    pub detail: String,
}

pub fn classify(
    operation: Operation,
    target: &S3Target,
    key: &str,
    failure: &S3Failure,
) -> SinkError {
    let bucket = &target.bucket;
    let object = format!("s3://{bucket}/{key}");
    let code = failure.code.as_deref().unwrap_or("");
    let text = failure.message.as_deref().unwrap_or("");
    let detail = &failure.detail;
    let (message, hint): (String, String) = if failure.code.is_none()
        && (detail.contains("AssumeRole") || detail.contains("credentials"))
    {
        no_credentials(target, detail)
    } else if code == "NoSuchBucket" {
        (
            format!("no such bucket: {bucket}"),
            "check the bucket name and region of the destination".into(),
        )
    } else if code.starts_with("KMS.")
        || (code == "AccessDenied" && text.to_ascii_lowercase().contains("kms"))
    {
        (
            format!("KMS denied writing {object}: {code}: {text}"),
            format!(
                "the key policy of {} must let the writer use kms:GenerateDataKey and kms:Decrypt",
                target.kms_key_id.as_deref().unwrap_or("the bucket's key")
            ),
        )
    } else if code == "AccessDenied" || failure.status == Some(403) {
        access_denied(operation, target, &object, &format!("{code} {text}"))
    } else if matches!(
        code,
        "PermanentRedirect" | "AuthorizationHeaderMalformed" | "IllegalLocationConstraintException"
    ) {
        (
            format!("wrong region for bucket {bucket}: {code}: {text}"),
            "set the destination's region to the bucket's region".into(),
        )
    } else if code == "InvalidRequest" && text.contains("ACL") {
        (
            format!("the bucket refused an ACL on {object}: {text}"),
            "auditlog sends no ACLs; a proxy in between is adding one".into(),
        )
    } else {
        let what = if failure.code.is_some() {
            format!("{code}: {text}")
        } else {
            short(detail)
        };
        (
            format!("writing {object} failed: {what}"),
            "transient failures are retried on the next pass".into(),
        )
    };
    SinkError::Failed {
        message,
        hint: Some(hint),
    }
}

/// The request never left: the credentials for it could not be had.
fn no_credentials(target: &S3Target, detail: &str) -> (String, String) {
    match &target.role_arn {
        Some(role) => (
            format!("AssumeRole denied for {role}: {}", short(detail)),
            format!(
                "the role's trust policy must allow the exporter's role to call sts:AssumeRole with the external id {}",
                target.external_id.as_deref().unwrap_or("(none set)")
            ),
        ),
        None => (
            format!("no credentials for the exporter: {}", short(detail)),
            "the exporter writes with its own role here; check its environment".into(),
        ),
    }
}

/// A 403 that is not KMS's: the writer lacks the permission, or the bucket is someone else's.
fn access_denied(
    operation: Operation,
    target: &S3Target,
    object: &str,
    answer: &str,
) -> (String, String) {
    let what = match operation {
        Operation::Write => "PutObject",
        Operation::Read => "GetObject",
    };
    let writer = target
        .role_arn
        .as_deref()
        .map(|r| format!("the role {r}"))
        .unwrap_or_else(|| "the exporter's role (through the bucket policy)".into());
    let mut hint = format!(
        "{writer} needs s3:{what} on arn:aws:s3:::{}/{}*",
        target.bucket, target.prefix
    );
    if let Some(owner) = &target.expected_bucket_owner {
        hint.push_str(&format!(
            "; or the bucket is not owned by account {owner} (wrong bucket owner: S3 answers the same 403)"
        ));
    }
    (format!("{what} denied on {object}: {answer}"), hint)
}

fn short(text: &str) -> String {
    text.chars().take(400).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(role: Option<&str>, owner: Option<&str>, kms: Option<&str>) -> S3Target {
        S3Target {
            bucket: "acme-audit".into(),
            region: Some("eu-west-1".into()),
            prefix: "user-events-audit/".into(),
            role_arn: role.map(str::to_string),
            external_id: role.map(|_| "ext-123".into()),
            kms_key_id: kms.map(str::to_string),
            expected_bucket_owner: owner.map(str::to_string),
            compatible: None,
        }
    }

    fn service(code: &str, message: &str, status: u16) -> S3Failure {
        S3Failure {
            code: Some(code.into()),
            message: Some(message.into()),
            status: Some(status),
            detail: format!("service error: {code}: {message}"),
        }
    }

    fn text(e: SinkError) -> String {
        e.to_string()
    }

    #[test]
    fn assume_role_failures_name_the_role_and_external_id() {
        let failure = S3Failure {
            detail: "dispatch failure: failed to load credentials: AssumeRole: AccessDenied".into(),
            ..S3Failure::default()
        };
        let role = "arn:aws:iam::111122223333:role/audit-writer";
        let e = text(classify(
            Operation::Write,
            &target(Some(role), None, None),
            "k",
            &failure,
        ));
        assert!(
            e.starts_with(&format!("AssumeRole denied for {role}")),
            "{e}"
        );
        assert!(e.contains("external id ext-123"), "{e}");
    }

    #[test]
    fn denied_writes_name_the_action_resource_and_the_owner_possibility() {
        let e = text(classify(
            Operation::Write,
            &target(None, Some("111122223333"), None),
            "user-events-audit/x.gz",
            &service("AccessDenied", "Access Denied", 403),
        ));
        assert!(e.starts_with("PutObject denied on s3://acme-audit/user-events-audit/x.gz"));
        assert!(e.contains("s3:PutObject on arn:aws:s3:::acme-audit/user-events-audit/*"));
        assert!(e.contains("wrong bucket owner"), "{e}");
        let without_owner = text(classify(
            Operation::Read,
            &target(None, None, None),
            "k",
            &service("AccessDenied", "Access Denied", 403),
        ));
        assert!(without_owner.contains("s3:GetObject"));
        assert!(!without_owner.contains("owner"));
    }

    #[test]
    fn kms_bucket_and_region_failures_are_told_apart() {
        let t = target(None, None, Some("arn:aws:kms:eu-west-1:1:key/k"));
        let kms = text(classify(
            Operation::Write,
            &t,
            "k",
            &service(
                "AccessDenied",
                "User is not authorized to perform: kms:GenerateDataKey",
                403,
            ),
        ));
        assert!(kms.starts_with("KMS denied"), "{kms}");
        assert!(kms.contains("arn:aws:kms:eu-west-1:1:key/k"));
        let disabled = text(classify(
            Operation::Write,
            &t,
            "k",
            &service("KMS.DisabledException", "key disabled", 400),
        ));
        assert!(disabled.starts_with("KMS denied"));
        let missing = text(classify(
            Operation::Write,
            &t,
            "k",
            &service("NoSuchBucket", "The specified bucket does not exist", 404),
        ));
        assert!(missing.starts_with("no such bucket: acme-audit"));
        let region = text(classify(
            Operation::Write,
            &t,
            "k",
            &service("PermanentRedirect", "use the eu-central-1 endpoint", 301),
        ));
        assert!(region.starts_with("wrong region"));
    }

    #[test]
    fn anything_else_keeps_the_code_and_says_it_is_retried() {
        let e = text(classify(
            Operation::Write,
            &target(None, None, None),
            "k",
            &service("SlowDown", "reduce your request rate", 503),
        ));
        assert!(e.contains("SlowDown: reduce your request rate"));
        assert!(e.contains("retried on the next pass"));
    }
}
