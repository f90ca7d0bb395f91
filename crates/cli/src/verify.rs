//! `auditlog verify DIR | s3://BUCKET/PREFIX`: checks exported streams, from a local copy (an
//! export directory, or `aws s3 sync` of the bucket) or straight from S3 with the caller's own
//! credentials: every line's hash, sequence continuity, each object's summary and its link to
//! the object before it; every digest's signature, the digest chain, the objects each lists and
//! how recent the newest is; and optionally the receipts a sender kept. Prints each problem with
//! the key it concerns; exits 1 when there is any.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use auditlog_core::Timestamp;
use auditlog_core::digest::{DigestFile, DigestOptions, check_digests};
use auditlog_core::export::{
    AzureCredential, AzureTarget, S3Target, SecretRef, check_azure_target,
};
use auditlog_core::integrity::{ObjectContent, StreamStart, check_stream};
use auditlog_core::signing::{Keyring, PublicKeys};
use auditlog_export::Sinks;
use auditlog_export::azure::{AzureSink, Use};
use auditlog_export::directory::DirectorySink;
use auditlog_export::s3::S3Sink;
use auditlog_export::streams::{Streams, read_streams};
use clap::Args;
use serde_json::Value;

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A local copy (an export directory, or `aws s3 sync s3://B/ DIR`), `s3://BUCKET/PREFIX`
    /// to read the bucket itself with your AWS credentials, or
    /// `azure://ACCOUNT/CONTAINER/PREFIX` to read a container (credentials: the --azure-*
    /// flags, else AZURE_STORAGE_KEY or AZURE_STORAGE_SAS_TOKEN, else Entra ID; a SAS needs r
    /// and l).
    pub path: String,
    /// The bucket's region, for `s3://` (default: your AWS configuration's).
    #[arg(long)]
    pub region: Option<String>,
    /// The blob endpoint, for `azure://` in a sovereign cloud or the emulator.
    #[arg(long)]
    pub azure_endpoint: Option<String>,
    /// A file holding the account's shared key, for `azure://`.
    #[arg(long, conflicts_with = "azure_sas_file")]
    pub azure_key_file: Option<String>,
    /// A file holding a SAS token (permissions r and l), for `azure://`.
    #[arg(long)]
    pub azure_sas_file: Option<String>,
    /// Receipts to check: ingest responses (one JSON document per line, or one document), or
    /// a JSON object of event id → SHA-256. Each must be delivered with that hash.
    #[arg(long)]
    pub receipts: Option<PathBuf>,
    /// The stream the receipts belong to, when the copy holds several (`{prefix}tenant={t}`,
    /// or just the tenant).
    #[arg(long)]
    pub stream: Option<String>,
    /// Older objects were pruned by retention: start at the first object present instead of
    /// requiring sequence number 1, and at the first digest present.
    #[arg(long)]
    pub pruned: bool,
    /// The service's public keys (`auditlog signing-keys public`, or `GET
    /// /v1/integrity/keys`): every digest's signature is checked against them. Without it,
    /// signatures are not checked, and the summary says so.
    #[arg(long)]
    pub public_keys: Option<PathBuf>,
    /// Judge how recent the newest digest is as of this time (RFC 3339), for a copy taken
    /// earlier; default: now.
    #[arg(long)]
    pub as_of: Option<String>,
    /// How far before `--as-of` the newest digest may end (default: one digest period and
    /// 15 minutes, the time a digest takes to appear).
    #[arg(long, value_parser = auditlog_settings::parse_duration)]
    pub max_age: Option<std::time::Duration>,
}

/// The public keys of a key file, by id, each checked.
pub fn parse_public_keys(text: &str) -> anyhow::Result<Keyring> {
    let file: PublicKeys = serde_json::from_str(text).context(
        "not a public key file ({\"keys\": [{\"key_id\", \"algorithm\", \"public_key\", \"activated_at\"}]})",
    )?;
    Ok(file.keyring()?)
}

/// Receipts from a file of ingest responses or an id → SHA-256 object.
pub fn parse_receipts(text: &str) -> anyhow::Result<BTreeMap<String, String>> {
    let documents: Vec<Value> = match serde_json::from_str::<Value>(text) {
        Ok(one) => vec![one],
        Err(_) => text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(n, l)| {
                serde_json::from_str(l).with_context(|| format!("receipts line {}", n + 1))
            })
            .collect::<anyhow::Result<_>>()?,
    };
    let mut receipts = BTreeMap::new();
    for document in documents {
        if let Some(items) = document.get("items").and_then(Value::as_array) {
            for item in items {
                if let (Some(id), Some(sha)) = (
                    item.get("id").and_then(Value::as_str),
                    item.get("sha256").and_then(Value::as_str),
                ) {
                    receipts.insert(id.to_string(), sha.to_string());
                }
            }
        } else if let Some(map) = document.as_object() {
            for (id, sha) in map {
                let sha = sha
                    .as_str()
                    .with_context(|| format!("receipt of {id} is not a string"))?;
                receipts.insert(id.clone(), sha.to_string());
            }
        } else {
            bail!("receipts must be ingest responses or an object of id → sha256");
        }
    }
    Ok(receipts)
}

/// `azure://ACCOUNT/CONTAINER/PREFIX` as a target to read, with the reader's credential.
fn azure_target(args: &VerifyArgs, location: &str) -> anyhow::Result<AzureTarget> {
    let mut parts = location.splitn(3, '/');
    let (account, container) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let prefix = parts.next().unwrap_or("");
    let credential = match (&args.azure_key_file, &args.azure_sas_file) {
        (Some(path), _) => AzureCredential::SharedKey {
            key: SecretRef::File(path.clone()),
        },
        (_, Some(path)) => AzureCredential::Sas {
            token: SecretRef::File(path.clone()),
        },
        _ if std::env::var_os("AZURE_STORAGE_KEY").is_some() => AzureCredential::SharedKey {
            key: SecretRef::Env("AZURE_STORAGE_KEY".into()),
        },
        _ if std::env::var_os("AZURE_STORAGE_SAS_TOKEN").is_some() => AzureCredential::Sas {
            token: SecretRef::Env("AZURE_STORAGE_SAS_TOKEN".into()),
        },
        _ => AzureCredential::EntraId,
    };
    let target = AzureTarget {
        account: account.to_string(),
        container: container.to_string(),
        prefix: prefix.to_string(),
        endpoint: args.azure_endpoint.clone(),
        credential,
    };
    let problems = check_azure_target(&target);
    if let Some((pointer, message)) = problems.first() {
        bail!(
            "{}: {pointer}: {message} (azure://ACCOUNT/CONTAINER/PREFIX)",
            args.path
        );
    }
    Ok(target)
}

async fn read(args: &VerifyArgs) -> anyhow::Result<Streams> {
    if let Some(location) = args.path.strip_prefix("azure://") {
        let target = azure_target(args, location)?;
        let container = AzureSink::open(&target, Use::Verify)?;
        return Ok(read_streams(&container, &target.prefix).await?);
    }
    if let Some(location) = args.path.strip_prefix("s3://") {
        let (bucket, prefix) = location.split_once('/').unwrap_or((location, ""));
        if bucket.is_empty() {
            bail!("{} names no bucket: s3://BUCKET/PREFIX", args.path);
        }
        let client = Sinks::from_env()
            .await
            .own_client(args.region.clone())
            .await;
        let bucket = S3Sink::new(
            client,
            S3Target {
                bucket: bucket.to_string(),
                region: args.region.clone(),
                prefix: prefix.to_string(),
                role_arn: None,
                external_id: None,
                kms_key_id: None,
                expected_bucket_owner: None,
                compatible: None,
            },
        );
        return Ok(read_streams(&bucket, prefix).await?);
    }
    let path = PathBuf::from(&args.path);
    if !path.is_dir() {
        bail!(
            "{} is not a directory (or s3://BUCKET/PREFIX)",
            path.display()
        );
    }
    read_streams(&DirectorySink::new(&path), "")
        .await
        .with_context(|| format!("reading {}", path.display()))
}

/// Returns whether every stream checked out.
pub async fn run(args: VerifyArgs) -> anyhow::Result<bool> {
    let public_keys = match &args.public_keys {
        Some(file) => Some(parse_public_keys(
            &std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?,
        )?),
        None => None,
    };
    let as_of = match &args.as_of {
        Some(text) => auditlog_core::time::parse_rfc3339(text)
            .map_err(|e| anyhow::anyhow!("--as-of {text}: {e}"))?,
        None => Timestamp(chrono::Utc::now().timestamp_millis()),
    };
    let max_age_ms = args
        .max_age
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let found = read(&args).await?;
    if found.names().is_empty() {
        bail!(
            "no exported objects or digests (*.ndjson.gz, *.ndjson.zst, *_digest.json under tenant=...) in {}",
            args.path
        );
    }
    let receipts = match &args.receipts {
        Some(file) => parse_receipts(
            &std::fs::read_to_string(file)
                .with_context(|| format!("reading {}", file.display()))?,
        )?,
        None => BTreeMap::new(),
    };
    let names = found.names();
    let receipts_stream = receipts_stream(&args, &names, &receipts)?;
    let start = if args.pruned {
        StreamStart::FirstPresent
    } else {
        StreamStart::Beginning
    };
    let options = DigestOptions {
        keys: public_keys.as_ref(),
        start,
        as_of,
        max_age_ms,
    };
    let mut clean = true;
    for key in &found.strays {
        println!("PROBLEM {key}: not under a tenant= partition, so in no stream");
        clean = false;
    }
    let none = BTreeMap::new();
    let no_objects = Vec::new();
    let no_digests = Vec::new();
    for stream in names {
        let objects = found.streams.get(stream).unwrap_or(&no_objects);
        let digests = found.digests.get(stream).unwrap_or(&no_digests);
        let for_this = if receipts_stream.as_deref() == Some(stream.as_str()) {
            &receipts
        } else {
            &none
        };
        clean &= report_stream(stream, objects, digests, for_this, &options);
    }
    Ok(clean)
}

/// The stream the receipts belong to: the one `--stream` names, or the only one there is.
fn receipts_stream(
    args: &VerifyArgs,
    names: &BTreeSet<&String>,
    receipts: &BTreeMap<String, String>,
) -> anyhow::Result<Option<String>> {
    Ok(match (&args.stream, names.len()) {
        (Some(wanted), _) => {
            let name = names
                .iter()
                .find(|s| **s == wanted || s.ends_with(&format!("tenant={wanted}")))
                .with_context(|| format!("no stream {wanted} in {}", args.path))?;
            Some((*name).clone())
        }
        (None, 1) => names.iter().next().map(|s| (*s).clone()),
        (None, _) if !receipts.is_empty() => {
            bail!("several streams: say which one the receipts belong to with --stream")
        }
        (None, _) => None,
    })
}

/// Checks one stream's objects and digests, prints each problem and the stream's summary;
/// whether it is clean.
fn report_stream(
    stream: &str,
    objects: &[ObjectContent],
    digests: &[DigestFile],
    receipts: &BTreeMap<String, String>,
    options: &DigestOptions<'_>,
) -> bool {
    let check = check_stream(objects, options.start, receipts);
    let digest_check = check_digests(stream, digests, objects, options);
    let problems: Vec<_> = check
        .problems
        .iter()
        .chain(&digest_check.problems)
        .collect();
    for problem in &problems {
        println!("PROBLEM {}: {}", problem.at, problem.message);
    }
    let verdict = if problems.is_empty() {
        "ok".to_string()
    } else {
        format!("{} problems", problems.len())
    };
    let signatures = if options.keys.is_some() {
        format!("{} signatures checked", digest_check.signatures_checked)
    } else {
        "signatures NOT checked (no --public-keys)".to_string()
    };
    let covered = digest_check
        .covered_through
        .map_or("nothing yet".to_string(), |t| t.to_rfc3339());
    println!(
        "stream {stream}: {} objects, {} events, last seq {}, {} receipts checked; {} digests, {signatures}, complete through {covered} ({} newer objects await their digest): {verdict}",
        check.objects,
        check.events,
        check.last_seq.unwrap_or_default(),
        receipts.len(),
        digest_check.digests,
        digest_check.objects_after,
    );
    if let Some(filter) = &check.filter {
        println!(
            "stream {stream}: filtered ({}): {} receipts name events it does not hold, left out by the filter or lost; only an unfiltered destination can tell",
            serde_json::to_string(filter).unwrap_or_default(),
            check.receipts_not_in_filtered_stream,
        );
    }
    problems.is_empty()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn receipts_come_from_ingest_responses_or_a_map() {
        let responses = "{\"items\":[{\"index\":0,\"id\":\"a\",\"status\":\"accepted\",\"sha256\":\"01\"},{\"index\":1,\"id\":\"b\",\"status\":\"rejected\"}]}\n{\"items\":[{\"id\":\"c\",\"status\":\"accepted\",\"sha256\":\"02\"}]}\n";
        let got = parse_receipts(responses).unwrap();
        assert_eq!(got.len(), 2);
        assert_eq!(got["c"], "02");
        let got = parse_receipts("{\"x\":\"03\"}").unwrap();
        assert_eq!(got["x"], "03");
        assert!(parse_receipts("{\"x\":3}").is_err());
        assert!(parse_receipts("[1]").is_err());
    }
}
