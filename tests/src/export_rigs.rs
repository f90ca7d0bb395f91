//! The rigs `export_suite` runs on: a directory on SQLite (gzip and zstd), S3 on moto through an
//! assumed role on DynamoDB Local (gzip and zstd), and an S3-compatible store on SQLite; with the
//! independent readers of what each holds (files, boto3) and the recorder of S3 requests.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::digest::DigestFile;
use auditlog_core::export::{Compression, Destination, S3Target, Target};
use auditlog_core::integrity::{ObjectContent, sha256_hex};
use auditlog_export::Sinks;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use serde_json::Value;

use crate::export_suite::{Delivered, ExportRig, ExportTarget, RigFiles, first_window_boundary};

/// A local directory on the SQLite store (local mode).
pub struct DirectoryOnSqlite;

/// The same, the destination compressing with zstd.
pub struct ZstdDirectoryOnSqlite;

pub fn read_directory(root: &Path) -> Delivered {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            let key = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            found.push((key, std::fs::read(&path).unwrap()));
        }
    }
    delivered_of(found)
}

/// Whether a key names an export object, in either compression.
pub fn is_export_object(key: &str) -> bool {
    key.ends_with(".ndjson.gz") || key.ends_with(".ndjson.zst")
}

/// The `Content-Type` every store must report for `key` (written out here, not taken from our
/// code).
pub fn expected_content_type(key: &str) -> &'static str {
    if key.ends_with(".ndjson.gz") {
        "application/gzip"
    } else if key.ends_with(".ndjson.zst") {
        "application/zstd"
    } else {
        "application/json"
    }
}

/// An export object's text, decompressed by its suffix with the formats' own libraries (flate2,
/// the zstd reference library), not with our code.
pub fn decompress_independently(key: &str, bytes: &[u8]) -> String {
    if key.ends_with(".ndjson.zst") {
        String::from_utf8(zstd::stream::decode_all(bytes).unwrap()).unwrap()
    } else {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .unwrap();
        text
    }
}

/// `text` compressed as the object `key` is (a forger's re-compression).
pub fn compress_like(key: &str, text: &str) -> Vec<u8> {
    if key.ends_with(".ndjson.zst") {
        zstd::stream::encode_all(text.as_bytes(), 3).unwrap()
    } else {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }
}

/// What a destination holds, from every object's key and bytes (read without our code).
pub fn delivered_of(found: Vec<(String, Vec<u8>)>) -> Delivered {
    let mut delivered = Delivered::default();
    for (key, bytes) in found {
        assert!(
            is_export_object(&key)
                || key.contains("_verify/")
                || (key.starts_with("auditlog-digest/") && key.ends_with("_digest.json")),
            "unexpected object left behind: {key}"
        );
        if key.ends_with("_digest.json") {
            delivered.digests.push(DigestFile { key, bytes });
            continue;
        }
        if is_export_object(&key) {
            let text = decompress_independently(&key, &bytes);
            delivered.objects.push(ObjectContent {
                key: key.clone(),
                sha256: sha256_hex(&bytes),
                text: Ok(text.clone()),
            });
            for line in text.lines() {
                let v: Value = serde_json::from_str(line).unwrap();
                // A v1 line is the event; an OCSF or ECS record names its event in `integrity`.
                let id = v["id"]
                    .as_str()
                    .or_else(|| v["integrity"]["event"]["id"].as_str())
                    .unwrap();
                *delivered.ids.entry(id.to_string()).or_insert(0) += 1;
            }
        }
        delivered.keys.push(key);
    }
    delivered.keys.sort();
    delivered.objects.sort_by(|a, b| a.key.cmp(&b.key));
    delivered.digests.sort_by(|a, b| a.key.cmp(&b.key));
    delivered
}

struct DirectoryFiles(PathBuf);

impl RigFiles for DirectoryFiles {
    fn read(&self, key: &str) -> Vec<u8> {
        std::fs::read(self.0.join(key)).unwrap()
    }
    fn write(&self, key: &str, bytes: &[u8]) {
        std::fs::write(self.0.join(key), bytes).unwrap()
    }
    fn delete(&self, key: &str) {
        std::fs::remove_file(self.0.join(key)).unwrap()
    }
}

struct BucketFiles(String);

impl RigFiles for BucketFiles {
    fn read(&self, key: &str) -> Vec<u8> {
        use base64::Engine as _;
        let got = aws_check(&["get-base64", &self.0, key]);
        base64::engine::general_purpose::STANDARD
            .decode(got["base64"].as_str().unwrap())
            .unwrap()
    }
    fn write(&self, key: &str, bytes: &[u8]) {
        use base64::Engine as _;
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        aws_check(&["put-base64", &self.0, key, &data]);
    }
    fn delete(&self, key: &str) {
        aws_check(&["tamper", &self.0, key, "delete"]);
    }
}

#[async_trait]
impl ExportTarget for DirectoryOnSqlite {
    async fn rig(&self) -> ExportRig {
        directory_rig(Compression::Gzip).await
    }
}

#[async_trait]
impl ExportTarget for ZstdDirectoryOnSqlite {
    async fn rig(&self) -> ExportRig {
        directory_rig(Compression::Zstd).await
    }
}

async fn directory_rig(compression: Compression) -> ExportRig {
    let data = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let store = auditlog_local::SqliteStore::open(data.path()).unwrap();
    let root: PathBuf = out.path().to_path_buf();
    let destination = Destination {
        compression,
        ..Destination::new(
            "dst_dir".into(),
            "acme".into(),
            Target::Directory {
                path: root.display().to_string(),
                prefix: "user-events-audit/".into(),
            },
            Timestamp(crate::now_ms()),
        )
    };
    crate::add_destination(&store, &destination).await;
    let sinks = Sinks::without_aws();
    let location = vec![root.display().to_string()];
    let files = Arc::new(DirectoryFiles(root.clone()));
    ExportRig {
        store: Arc::new(store),
        destination,
        sinks: Arc::new(sinks),
        reader: Box::new(move || read_directory(&root)),
        requests: Arc::default(),
        t0: first_window_boundary(),
        location,
        files,
        _guard: Box::new((data, out)),
    }
}

/// One request as it went on the wire.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    pub method: String,
    pub uri: String,
    pub headers: Vec<(String, String)>,
}

/// An SDK interceptor that records every request just before it is sent: what the tests
/// inspect for ACL headers, since moto accepts ACLs that a bucket-owner-enforced bucket on AWS
/// refuses.
#[derive(Debug, Clone, Default)]
pub struct RecordRequests(pub Arc<Mutex<Vec<RecordedRequest>>>);

impl Intercept for RecordRequests {
    fn name(&self) -> &'static str {
        "RecordRequests"
    }

    fn read_before_transmit(
        &self,
        context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_s3::error::BoxError> {
        let request = context.request();
        let recorded = RecordedRequest {
            method: request.method().to_string(),
            uri: request.uri().to_string(),
            headers: request
                .headers()
                .iter()
                .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
                .collect(),
        };
        if let Ok(mut requests) = self.0.lock() {
            requests.push(recorded);
        }
        Ok(())
    }
}

/// No request the rig's S3 clients sent carried an ACL.
pub fn assert_no_acl_was_sent(rig: &ExportRig) {
    assert_no_acl(&rig.requests.lock().unwrap());
}

/// No request carried an ACL (`x-amz-acl`, `x-amz-grant-*`) or asked for the `?acl` resource.
pub fn assert_no_acl(requests: &[RecordedRequest]) {
    for request in requests {
        assert!(
            !request.uri.contains("?acl") && !request.uri.contains("&acl"),
            "ACL request: {request:?}"
        );
        for (name, _) in &request.headers {
            assert!(
                name != "x-amz-acl" && !name.starts_with("x-amz-grant-"),
                "ACL header {name} sent: {request:?}"
            );
        }
    }
}

/// Runs `tests/support/aws_check.py` (boto3) and parses its JSON answer.
pub fn aws_check(args: &[&str]) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("support/aws_check.py");
    // The Python moto runs on (scripts/moto.sh names it), which has boto3.
    let python = std::env::var("AUDITLOG_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let out = std::process::Command::new(python)
        .arg(script)
        .args(args)
        .output()
        .expect("run python3");
    assert!(
        out.status.success(),
        "aws_check.py {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}", rand::random::<u32>())
}

/// A customer's bucket (ACLs disabled, public access blocked) in moto, written through a role
/// the exporter assumes with an external id.
pub struct S3Bucket {
    pub role_arn: String,
    pub bucket: String,
    pub external_id: String,
}

impl S3Bucket {
    /// A fresh bucket and role. `writable: false` makes a role with no S3 permission.
    pub fn create(writable: bool) -> S3Bucket {
        assert!(
            std::env::var("AWS_ENDPOINT_URL_S3").is_ok(),
            "set AWS_ENDPOINT_URL_S3 to a moto_server (scripts/test starts one)"
        );
        let bucket = unique("acme-audit");
        let made = aws_check(&["bucket", &bucket]);
        assert_eq!(made["ownership"], "BucketOwnerEnforced");
        assert_eq!(made["public_access_block"]["BlockPublicAcls"], true);
        let external_id = unique("ext");
        let role_name = unique("audit-writer");
        let mut args = vec![
            "role",
            &role_name,
            &bucket,
            "user-events-audit/",
            &external_id,
        ];
        if !writable {
            args.push("--no-write");
        }
        let role_arn = aws_check(&args)["arn"].as_str().unwrap().to_string();
        S3Bucket {
            role_arn,
            bucket,
            external_id,
        }
    }

    pub fn target(&self) -> S3Target {
        S3Target {
            bucket: self.bucket.clone(),
            region: Some("us-east-1".into()),
            prefix: "user-events-audit/".into(),
            role_arn: Some(self.role_arn.clone()),
            external_id: Some(self.external_id.clone()),
            kms_key_id: None,
            expected_bucket_owner: None,
            compatible: None,
        }
    }

    pub fn delivered(&self) -> Delivered {
        let got = aws_check(&["delivered", &self.bucket, ""]);
        let mut delivered = Delivered::default();
        for (id, n) in got["ids"].as_object().unwrap() {
            delivered
                .ids
                .insert(id.clone(), n.as_u64().unwrap() as usize);
        }
        delivered.keys = got["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k.as_str().unwrap().to_string())
            .collect();
        for (key, content_type) in got["content_types"].as_object().unwrap() {
            assert_eq!(content_type, expected_content_type(key), "{key}");
        }
        delivered.objects = got["objects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| ObjectContent {
                key: o["key"].as_str().unwrap().to_string(),
                sha256: o["sha256"].as_str().unwrap().to_string(),
                text: Ok(o["text"].as_str().unwrap().to_string()),
            })
            .collect();
        delivered.objects.sort_by(|a, b| a.key.cmp(&b.key));
        for digest in got["digests"].as_array().unwrap() {
            assert_eq!(digest["content_type"], "application/json", "{digest}");
            delivered.digests.push(DigestFile {
                key: digest["key"].as_str().unwrap().to_string(),
                bytes: digest["text"].as_str().unwrap().as_bytes().to_vec(),
            });
        }
        delivered.digests.sort_by(|a, b| a.key.cmp(&b.key));
        delivered
    }
}

/// S3 in moto through an assumed role, on DynamoDB Local (as the export function runs).
pub struct S3OnDynamo;

/// The exporter's sinks, with every S3 request recorded.
pub async fn recorded_sinks() -> (Sinks, Arc<Mutex<Vec<RecordedRequest>>>) {
    let recorder = RecordRequests::default();
    let requests = recorder.0.clone();
    let sinks = Sinks::from_env()
        .await
        .with_s3_customizer(Arc::new(move |b| b.interceptor(recorder.clone())));
    (sinks, requests)
}

#[async_trait]
impl ExportTarget for S3OnDynamo {
    async fn rig(&self) -> ExportRig {
        s3_rig(Compression::Gzip).await
    }
}

/// The same, the destination compressing with zstd.
pub struct ZstdS3OnDynamo;

#[async_trait]
impl ExportTarget for ZstdS3OnDynamo {
    async fn rig(&self) -> ExportRig {
        s3_rig(Compression::Zstd).await
    }
}

async fn s3_rig(compression: Compression) -> ExportRig {
    let store = crate::DynamoBackend::fresh().await;
    let bucket = S3Bucket::create(true);
    let destination = Destination {
        compression,
        ..Destination::new(
            unique("dst_s3"),
            "acme".into(),
            Target::S3(bucket.target()),
            Timestamp(crate::now_ms()),
        )
    };
    crate::add_destination(&store, &destination).await;
    let (sinks, requests) = recorded_sinks().await;
    let location = vec![format!("s3://{}/user-events-audit/", bucket.bucket)];
    let files = Arc::new(BucketFiles(bucket.bucket.clone()));
    ExportRig {
        store: Arc::new(store),
        destination,
        sinks: Arc::new(sinks),
        reader: Box::new(move || bucket.delivered()),
        requests,
        t0: first_window_boundary(),
        location,
        files,
        _guard: Box::new(()),
    }
}

/// An S3-compatible store: moto reached as a custom endpoint (path-style) with an IAM user's
/// static access key, whose secret the destination names as a file; on SQLite.
pub struct S3CompatibleOnSqlite;

/// A bucket and an IAM user with a static key for it, and the destination naming them.
pub fn compatible_target(bucket: &str, secrets: &Path) -> S3Target {
    let user = aws_check(&["user", &unique("minio-user"), bucket, "user-events-audit/"]);
    let secret_file = secrets.join("secret-access-key");
    std::fs::write(&secret_file, user["secret_access_key"].as_str().unwrap()).unwrap();
    S3Target {
        bucket: bucket.to_string(),
        region: Some("us-east-1".into()),
        prefix: "user-events-audit/".into(),
        role_arn: None,
        external_id: None,
        kms_key_id: None,
        expected_bucket_owner: None,
        compatible: Some(auditlog_core::export::S3Compatible {
            endpoint: std::env::var("AWS_ENDPOINT_URL_S3")
                .expect("AWS_ENDPOINT_URL_S3 names moto (scripts/test starts it)"),
            path_style: true,
            access_key_id: user["access_key_id"].as_str().unwrap().to_string(),
            secret_access_key: auditlog_core::export::SecretRef::File(
                secret_file.display().to_string(),
            ),
        }),
    }
}

#[async_trait]
impl ExportTarget for S3CompatibleOnSqlite {
    async fn rig(&self) -> ExportRig {
        let data = tempfile::tempdir().unwrap();
        let store = auditlog_local::SqliteStore::open(data.path()).unwrap();
        let bucket = unique("minio-audit");
        aws_check(&["bucket", &bucket]);
        let target = compatible_target(&bucket, data.path());
        let destination = Destination::new(
            unique("dst_compat"),
            "acme".into(),
            Target::S3(target),
            Timestamp(crate::now_ms()),
        );
        crate::add_destination(&store, &destination).await;
        let (sinks, requests) = recorded_sinks().await;
        let location = vec![format!("s3://{bucket}/user-events-audit/")];
        let files = Arc::new(BucketFiles(bucket.clone()));
        let reader_bucket = S3Bucket {
            role_arn: String::new(),
            bucket,
            external_id: String::new(),
        };
        ExportRig {
            store: Arc::new(store),
            destination,
            sinks: Arc::new(sinks),
            reader: Box::new(move || reader_bucket.delivered()),
            requests,
            t0: first_window_boundary(),
            location,
            files,
            _guard: Box::new(data),
        }
    }
}
