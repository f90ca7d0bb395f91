//! `auditlog policy bucket|trust`: the IAM documents a customer applies so that our export role
//! can write into their bucket. Pure functions from validated inputs to JSON, so they are tested
//! without AWS; `infra/customer-bucket.yaml` grants the same action sets.

use clap::Subcommand;
use serde_json::{Value, json};

/// What the exporter needs on objects under its prefix: write the object, and read it back to
/// confirm an existing object is the same content after a conditional-write conflict.
pub const MINIMAL_OBJECT_ACTIONS: [&str; 2] = ["s3:GetObject", "s3:PutObject"];

/// The set AWS DataSync asks for, for customers who grant one policy to both.
pub const DATASYNC_BUCKET_ACTIONS: [&str; 3] = [
    "s3:GetBucketLocation",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
];
pub const DATASYNC_OBJECT_ACTIONS: [&str; 7] = [
    "s3:AbortMultipartUpload",
    "s3:DeleteObject",
    "s3:GetObject",
    "s3:GetObjectTagging",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
    "s3:PutObjectTagging",
];

pub const DEFAULT_PREFIX: &str = "user-events-audit/";

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Print the bucket policy that lets our export role write under the prefix (TLS only).
    Bucket {
        #[arg(long)]
        bucket: String,
        /// The export role's ARN (the stack output `ExportRoleArn`).
        #[arg(long)]
        principal: String,
        #[arg(long, default_value = DEFAULT_PREFIX)]
        prefix: String,
        /// Grant the DataSync-compatible action set instead of the minimal one.
        #[arg(long)]
        datasync: bool,
    },
    /// Print the trust policy for a role in the customer's account that our role may assume.
    Trust {
        #[arg(long)]
        vendor_role: String,
        #[arg(long)]
        external_id: String,
    },
    /// Print the Azure role definition and assignment that let the vendor's identity create and
    /// read blobs in one container (never delete), as an ARM template: the same resources as
    /// infra/azure/customer-storage.json.
    Azure {
        #[arg(long)]
        storage_account: String,
        #[arg(long, default_value = "audit-log")]
        container: String,
        /// The object id of the vendor's service principal or managed identity.
        #[arg(long)]
        principal_id: String,
    },
}

pub fn run(command: PolicyCommand) -> anyhow::Result<()> {
    let document = match command {
        PolicyCommand::Bucket {
            bucket,
            principal,
            prefix,
            datasync,
        } => bucket_policy(&bucket, &principal, &prefix, datasync),
        PolicyCommand::Trust {
            vendor_role,
            external_id,
        } => trust_policy(&vendor_role, &external_id),
        PolicyCommand::Azure {
            storage_account,
            container,
            principal_id,
        } => crate::policy_azure::azure_role(&storage_account, &container, &principal_id),
    }
    .map_err(anyhow::Error::msg)?;
    println!("{}", serde_json::to_string_pretty(&document)?);
    Ok(())
}

/// S3 bucket naming rules (general purpose buckets).
pub fn check_bucket(name: &str) -> Result<(), String> {
    let ok = (3..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && name
            .bytes()
            .next()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && name
            .bytes()
            .last()
            .is_some_and(|b| b.is_ascii_alphanumeric())
        && !name.contains("..");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` is not a valid bucket name: 3-63 of a-z, 0-9, `-`, `.`, starting and ending with a letter or digit"
        ))
    }
}

/// An IAM role ARN (any partition): `arn:aws:iam::123456789012:role/path/name`.
pub fn check_role_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "iam"
        && parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && parts[5].strip_prefix("role/").is_some_and(|name| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+=,.@_-/".contains(&b))
        });
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{arn}` is not an IAM role ARN such as arn:aws:iam::123456789012:role/auditlog-export"
        ))
    }
}

/// A key prefix: empty (the whole bucket) or ending in `/`, no leading `/`, no wildcards.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    let ok = prefix.is_empty()
        || (prefix.ends_with('/')
            && !prefix.starts_with('/')
            && prefix.len() <= 512
            && !prefix.contains(['*', '?'])
            && !prefix.starts_with(auditlog_core::digest::DIGEST_ROOT)
            && !prefix.chars().any(char::is_control));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "prefix `{prefix}` must end with `/`, not start with `/` or auditlog-digest/, and hold no `*` or `?`"
        ))
    }
}

/// External ids: 2-1224 characters of `A-Z a-z 0-9 + = , . @ : / -` and `_` (IAM's rule).
pub fn check_external_id(id: &str) -> Result<(), String> {
    let ok = (2..=1224).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+=,.@:/-_".contains(&b));
    if ok {
        Ok(())
    } else {
        Err("the external id must be 2-1224 of A-Z a-z 0-9 + = , . @ : / - _".into())
    }
}

fn partition_of(role_arn: &str) -> &str {
    role_arn.split(':').nth(1).unwrap_or("aws")
}

pub fn bucket_policy(
    bucket: &str,
    principal: &str,
    prefix: &str,
    datasync: bool,
) -> Result<Value, String> {
    check_bucket(bucket)?;
    check_role_arn(principal)?;
    check_prefix(prefix)?;
    let bucket_arn = format!("arn:{}:s3:::{bucket}", partition_of(principal));
    // The objects, and their digests beside them (docs/integrity.md).
    let objects_arn = json!([
        format!("{bucket_arn}/{prefix}*"),
        format!(
            "{bucket_arn}/{}*",
            auditlog_core::digest::digest_prefix(prefix)
        ),
    ]);
    let mut statements = vec![json!({
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, format!("{bucket_arn}/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}
    })];
    if datasync {
        statements.push(json!({
            "Sid": "AuditlogExportBucket",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": DATASYNC_BUCKET_ACTIONS,
            "Resource": bucket_arn,
        }));
        statements.push(json!({
            "Sid": "AuditlogExportObjects",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": DATASYNC_OBJECT_ACTIONS,
            "Resource": objects_arn,
        }));
    } else {
        statements.push(json!({
            "Sid": "AuditlogExportObjects",
            "Effect": "Allow",
            "Principal": {"AWS": principal},
            "Action": MINIMAL_OBJECT_ACTIONS,
            "Resource": objects_arn,
        }));
    }
    Ok(json!({"Version": "2012-10-17", "Statement": statements}))
}

pub fn trust_policy(vendor_role: &str, external_id: &str) -> Result<Value, String> {
    check_role_arn(vendor_role)?;
    check_external_id(external_id)?;
    Ok(json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "AuditlogExportAssumeRole",
            "Effect": "Allow",
            "Principal": {"AWS": vendor_role},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"sts:ExternalId": external_id}}
        }]
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ROLE: &str = "arn:aws:iam::123456789012:role/auditlog-export";

    fn allow_statements(policy: &Value) -> Vec<&Value> {
        policy["Statement"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["Effect"] == "Allow")
            .collect()
    }

    fn actions(statement: &Value) -> Vec<String> {
        match &statement["Action"] {
            Value::String(a) => vec![a.clone()],
            Value::Array(list) => list
                .iter()
                .map(|a| a.as_str().unwrap().to_string())
                .collect(),
            other => panic!("{other}"),
        }
    }

    #[test]
    fn minimal_bucket_policy_grants_two_actions_under_the_prefix_only() {
        let policy = bucket_policy("acme-audit", ROLE, DEFAULT_PREFIX, false).unwrap();
        // Round trip through text: what is printed parses back to the same document.
        let text = serde_json::to_string_pretty(&policy).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&text).unwrap(), policy);
        assert_eq!(policy["Version"], "2012-10-17");
        let allows = allow_statements(&policy);
        assert_eq!(allows.len(), 1);
        assert_eq!(actions(allows[0]), ["s3:GetObject", "s3:PutObject"]);
        assert_eq!(
            allows[0]["Resource"],
            json!([
                "arn:aws:s3:::acme-audit/user-events-audit/*",
                "arn:aws:s3:::acme-audit/auditlog-digest/user-events-audit/*"
            ])
        );
        assert_eq!(allows[0]["Principal"]["AWS"], ROLE);
        let deny = &policy["Statement"][0];
        assert_eq!(deny["Effect"], "Deny");
        assert_eq!(deny["Condition"]["Bool"]["aws:SecureTransport"], "false");
    }

    #[test]
    fn datasync_set_is_exactly_the_documented_one() {
        let policy = bucket_policy("acme-audit", ROLE, "logs/", true).unwrap();
        let mut all: Vec<String> = allow_statements(&policy)
            .into_iter()
            .flat_map(actions)
            .collect();
        all.sort();
        let mut want: Vec<String> = DATASYNC_BUCKET_ACTIONS
            .iter()
            .chain(DATASYNC_OBJECT_ACTIONS.iter())
            .map(|a| a.to_string())
            .collect();
        want.sort();
        assert_eq!(all, want);
        assert_eq!(all.len(), 10);
        let allows = allow_statements(&policy);
        assert_eq!(allows[0]["Resource"], "arn:aws:s3:::acme-audit");
        assert_eq!(
            allows[1]["Resource"],
            json!([
                "arn:aws:s3:::acme-audit/logs/*",
                "arn:aws:s3:::acme-audit/auditlog-digest/logs/*"
            ])
        );
    }

    #[test]
    fn no_allow_statement_uses_a_wildcard_action() {
        for datasync in [false, true] {
            let policy = bucket_policy("b-1", ROLE, "", datasync).unwrap();
            for statement in allow_statements(&policy) {
                assert!(
                    actions(statement).iter().all(|a| !a.contains('*')),
                    "{statement}"
                );
            }
        }
    }

    #[test]
    fn trust_policy_requires_the_external_id() {
        let policy = trust_policy(ROLE, "tenant-42-7f3a").unwrap();
        let statement = &policy["Statement"][0];
        assert_eq!(statement["Action"], "sts:AssumeRole");
        assert_eq!(statement["Principal"]["AWS"], ROLE);
        assert_eq!(
            statement["Condition"]["StringEquals"]["sts:ExternalId"],
            "tenant-42-7f3a"
        );
    }

    #[test]
    fn other_partitions_keep_their_arns() {
        let role = "arn:aws-us-gov:iam::123456789012:role/export";
        let policy = bucket_policy("gov-bucket", role, "", false).unwrap();
        assert_eq!(
            allow_statements(&policy)[0]["Resource"][0],
            "arn:aws-us-gov:s3:::gov-bucket/*"
        );
    }

    #[test]
    fn bad_inputs_are_refused_with_the_reason() {
        assert!(
            bucket_policy("Acme", ROLE, "", false)
                .unwrap_err()
                .contains("bucket name")
        );
        assert!(bucket_policy("ab", ROLE, "", false).is_err());
        assert!(bucket_policy("a..b", ROLE, "", false).is_err());
        assert!(
            bucket_policy("acme", "arn:aws:iam::123:role/x", "", false)
                .unwrap_err()
                .contains("role ARN")
        );
        assert!(bucket_policy("acme", "arn:aws:iam::123456789012:user/x", "", false).is_err());
        assert!(
            bucket_policy("acme", ROLE, "no-slash", false)
                .unwrap_err()
                .contains("prefix")
        );
        assert!(bucket_policy("acme", ROLE, "/lead/", false).is_err());
        assert!(bucket_policy("acme", ROLE, "a*/", false).is_err());
        assert!(trust_policy(ROLE, "x").is_err());
        assert!(trust_policy(ROLE, "has space").is_err());
    }
}
