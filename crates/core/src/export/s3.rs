//! An S3 destination (AWS, or an S3-compatible store) and the checks of its fields, each
//! problem named by its JSON pointer, as AWS would refuse it.

use serde::{Deserialize, Serialize};

use super::{SecretRef, azure, normalize_prefix};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct S3Target {
    pub bucket: String,
    pub region: Option<String>,
    pub prefix: String,
    /// Assumed through STS, with `external_id`, when set; else the exporter's own role writes.
    pub role_arn: Option<String>,
    pub external_id: Option<String>,
    /// SSE-KMS with this key when set; else the bucket's default encryption applies.
    pub kms_key_id: Option<String>,
    /// Sent as the expected bucket owner, so a bucket re-created by someone else is refused.
    pub expected_bucket_owner: Option<String>,
    /// An S3-compatible store (MinIO, Ceph, an on-prem appliance) instead of AWS.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compatible: Option<S3Compatible>,
}

/// Where an S3-compatible store is and how the exporter signs in to it: its own endpoint,
/// path-style addressing or not, and a static access key whose secret is held by reference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct S3Compatible {
    /// `https://minio.example:9000`.
    pub endpoint: String,
    /// `https://endpoint/bucket/key` rather than `https://bucket.endpoint/key`: what most
    /// S3-compatible stores expect.
    #[serde(default = "yes")]
    pub path_style: bool,
    /// Not secret: it names the key.
    pub access_key_id: String,
    /// Where the secret access key lives on the exporter's host.
    pub secret_access_key: SecretRef,
}

fn yes() -> bool {
    true
}

/// Checks an S3-compatible store's fields; pointers under `/compatible`.
fn check_compatible(target: &S3Target, compatible: &S3Compatible) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let endpoint = &compatible.endpoint;
    let rest = endpoint
        .strip_prefix("https://")
        .or_else(|| endpoint.strip_prefix("http://"));
    if rest.is_none_or(|r| r.is_empty() || r.contains(['?', '#', '@', ' '])) || endpoint.len() > 512
    {
        problems.push((
            "/compatible/endpoint".to_string(),
            "an endpoint is an http:// or https:// URL without query, fragment or credentials"
                .to_string(),
        ));
    }
    let id = &compatible.access_key_id;
    if id.is_empty() || id.len() > 128 || !id.bytes().all(|b| b.is_ascii_graphic()) {
        problems.push((
            "/compatible/access_key_id".to_string(),
            "an access key id is 1 to 128 printable ASCII characters".to_string(),
        ));
    }
    if let Err(message) = azure::check_reference(&compatible.secret_access_key) {
        problems.push(("/compatible/secret_access_key".to_string(), message));
    }
    if target.role_arn.is_some() {
        problems.push((
            "/role_arn".to_string(),
            "an S3-compatible store has no STS to assume a role through: use its access key"
                .to_string(),
        ));
    }
    if target.kms_key_id.is_some() {
        problems.push((
            "/kms_key_id".to_string(),
            "AWS KMS keys are for AWS S3; an S3-compatible store encrypts by its own settings"
                .to_string(),
        ));
    }
    problems
}

/// Checks an S3 destination's fields as AWS would accept them; each problem is named by its
/// JSON pointer (`/bucket`, `/role_arn`, ...) with the reason.
pub fn check_s3_target(target: &S3Target) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut problem = |pointer: &str, reason: &str| {
        problems.push((pointer.to_string(), reason.to_string()));
    };
    let b = &target.bucket;
    let bucket_ok = (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.starts_with(|c: char| c.is_ascii_alphanumeric())
        && b.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !b.contains("..");
    if !bucket_ok {
        problem(
            "/bucket",
            "not a valid S3 bucket name (3-63 characters: lowercase letters, digits, dots, hyphens)",
        );
    }
    if let Some(region) = &target.region
        && (region.is_empty()
            || region.len() > 32
            || !region
                .bytes()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-'))
    {
        problem("/region", "not an AWS region name such as eu-west-1");
    }
    if let Err(reason) = normalize_prefix(&target.prefix) {
        problem("/prefix", &reason.to_string());
    }
    match (&target.role_arn, &target.external_id) {
        (Some(arn), external_id) => {
            let parts: Vec<&str> = arn.splitn(6, ':').collect();
            let role_ok = parts.len() == 6
                && parts[0] == "arn"
                && parts[2] == "iam"
                && parts[4].len() == 12
                && parts[4].bytes().all(|c| c.is_ascii_digit())
                && parts[5].starts_with("role/")
                && parts[5].len() > 5;
            if !role_ok {
                problem(
                    "/role_arn",
                    "not an IAM role ARN (arn:aws:iam::123456789012:role/name)",
                );
            }
            // Without an external id, anyone who learns the role ARN could have us write into
            // that bucket (the confused-deputy problem).
            match external_id {
                None => problem(
                    "/external_id",
                    "required with a role ARN: the role's trust policy must demand it",
                ),
                Some(x)
                    if x.len() < 2
                        || x.len() > 1224
                        || !x
                            .bytes()
                            .all(|c| c.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&c)) =>
                {
                    problem(
                        "/external_id",
                        "2-1224 characters of letters, digits and +=,.@:/-_",
                    )
                }
                Some(_) => {}
            }
        }
        (None, Some(_)) => problem("/external_id", "only meaningful with a role ARN"),
        (None, None) => {}
    }
    if let Some(key) = &target.kms_key_id
        && (key.is_empty() || key.len() > 2048 || key.chars().any(char::is_whitespace))
    {
        problem("/kms_key_id", "not a KMS key id, alias or ARN");
    }
    if let Some(owner) = &target.expected_bucket_owner
        && (owner.len() != 12 || !owner.bytes().all(|c| c.is_ascii_digit()))
    {
        problem("/expected_bucket_owner", "not a 12-digit AWS account id");
    }
    if let Some(compatible) = &target.compatible {
        problems.extend(check_compatible(target, compatible));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_targets_are_checked_field_by_field() {
        let good = S3Target {
            bucket: "acme-audit.logs".into(),
            region: Some("eu-west-1".into()),
            prefix: "user-events-audit/".into(),
            role_arn: Some("arn:aws:iam::111122223333:role/audit-writer".into()),
            external_id: Some("ext-123".into()),
            kms_key_id: Some("arn:aws:kms:eu-west-1:111122223333:key/abc".into()),
            expected_bucket_owner: Some("111122223333".into()),
            compatible: None,
        };
        assert!(check_s3_target(&good).is_empty());
        let bad = S3Target {
            bucket: "Acme_Audit".into(),
            region: Some("EU West".into()),
            prefix: "../x".into(),
            role_arn: Some("arn:aws:iam::1:user/x".into()),
            external_id: None,
            kms_key_id: Some("".into()),
            expected_bucket_owner: Some("12ab".into()),
            compatible: None,
        };
        let pointers: Vec<String> = check_s3_target(&bad).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            pointers,
            [
                "/bucket",
                "/region",
                "/prefix",
                "/role_arn",
                "/external_id",
                "/kms_key_id",
                "/expected_bucket_owner"
            ]
        );
        let orphan = S3Target {
            role_arn: None,
            ..good.clone()
        };
        assert_eq!(check_s3_target(&orphan)[0].0, "/external_id");
    }

    #[test]
    fn s3_compatible_stores_are_checked_field_by_field() {
        let compatible = S3Target {
            bucket: "audit".into(),
            region: None,
            prefix: "user-events-audit/".into(),
            role_arn: None,
            external_id: None,
            kms_key_id: None,
            expected_bucket_owner: None,
            compatible: Some(S3Compatible {
                endpoint: "https://minio.internal:9000".into(),
                path_style: true,
                access_key_id: "AKIAMINIO".into(),
                secret_access_key: SecretRef::File("/run/secrets/minio".into()),
            }),
        };
        assert!(check_s3_target(&compatible).is_empty());
        let bad = S3Target {
            role_arn: Some("arn:aws:iam::111122223333:role/w".into()),
            external_id: Some("ext-1".into()),
            kms_key_id: Some("alias/k".into()),
            compatible: Some(S3Compatible {
                endpoint: "ftp://minio?x=1".into(),
                path_style: false,
                access_key_id: String::new(),
                secret_access_key: SecretRef::Env("lower".into()),
            }),
            ..compatible.clone()
        };
        let pointers: Vec<String> = check_s3_target(&bad).into_iter().map(|(p, _)| p).collect();
        assert_eq!(
            pointers,
            [
                "/compatible/endpoint",
                "/compatible/access_key_id",
                "/compatible/secret_access_key",
                "/role_arn",
                "/kms_key_id"
            ]
        );
        // Stored before S3-compatible stores existed: no `compatible` member.
        let old: S3Target = serde_json::from_str(
            r#"{"bucket":"b","region":null,"prefix":"","role_arn":null,"external_id":null,"kms_key_id":null,"expected_bucket_owner":null}"#,
        )
        .unwrap();
        assert_eq!(old.compatible, None);
    }
}
