//! The S3 destination: writes into a customer's bucket, through a role in their account (STS
//! `AssumeRole` with their external id) or with the exporter's own credentials (for buckets
//! whose policy grants our role, the way AWS DataSync is granted access).
//!
//! Every `PutObject` is shaped for a bucket with ACLs disabled ("bucket owner enforced"): no ACL
//! header of any kind, the expected bucket owner when known, a SHA-256 checksum that S3 checks
//! against the bytes it received, SSE-KMS when the destination names a key, and
//! `If-None-Match: *` so that an object is created at most once. On `412 Precondition Failed`
//! the existing object's SHA-256 is compared with ours: equal means a retry of a write that
//! already landed (fine), different is a conflict that is never overwritten.

use std::sync::Arc;

use async_trait::async_trait;
use auditlog_core::export::S3Target;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, ServerSideEncryption};
use base64::Engine as _;
use sha2::{Digest, Sha256};

use crate::s3_errors::{Operation, S3Failure, classify};
use crate::sink::{Creation, ObjectSink, SinkError};

/// The session name our assumed-role sessions carry, so the customer's CloudTrail says who
/// wrote.
pub const SESSION_NAME: &str = "auditlog-export";

/// Attempts for a write that met `409 ConditionalRequestConflict` (another conditional write
/// of the same key was in flight).
const CONFLICT_ATTEMPTS: u32 = 4;

pub struct S3Sink {
    client: Client,
    target: S3Target,
}

impl S3Sink {
    /// `client` already carries the destination's region and credentials (see
    /// [`crate::sinks::Sinks`]).
    pub fn new(client: Client, target: S3Target) -> Self {
        S3Sink { client, target }
    }

    fn fail<E>(&self, operation: Operation, key: &str, e: &SdkError<E, HttpResponse>) -> SinkError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let failure = S3Failure {
            code: e.code().map(str::to_string),
            message: e.message().map(str::to_string),
            status: e.raw_response().map(|r| r.status().as_u16()),
            detail: DisplayErrorContext(e).to_string(),
        };
        classify(operation, &self.target, key, &failure)
    }

    async fn put(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: [u8; 32],
        if_absent: bool,
    ) -> Result<(), SdkError<aws_sdk_s3::operation::put_object::PutObjectError>> {
        let mut put = self
            .client
            .put_object()
            .bucket(&self.target.bucket)
            .key(key)
            .content_type(crate::sink::content_type(key))
            .set_expected_bucket_owner(self.target.expected_bucket_owner.clone())
            .body(ByteStream::from(body));
        // AWS checks the SHA-256 of what it stored against ours; S3-compatible stores do not
        // all know these headers, and some refuse them.
        if self.target.compatible.is_none() {
            put = put
                .checksum_algorithm(ChecksumAlgorithm::Sha256)
                .checksum_sha256(base64::engine::general_purpose::STANDARD.encode(sha256));
        }
        if if_absent {
            put = put.if_none_match("*");
        }
        if let Some(kms_key) = &self.target.kms_key_id {
            put = put
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .ssekms_key_id(kms_key);
        }
        put.send().await.map(|_| ())
    }

    /// The SHA-256 of the object at `key`: from the checksum S3 stored when we wrote it, else
    /// by reading the bytes.
    async fn get(&self, key: &str) -> Result<Vec<u8>, SinkError> {
        let object = self
            .client
            .get_object()
            .bucket(&self.target.bucket)
            .key(key)
            .set_expected_bucket_owner(self.target.expected_bucket_owner.clone())
            .send()
            .await
            .map_err(|e| self.fail(Operation::Read, key, &e))?;
        Ok(object
            .body
            .collect()
            .await
            .map_err(|e| SinkError::failed(format!("read s3://{}/{key}: {e}", self.target.bucket)))?
            .into_bytes()
            .to_vec())
    }
}

#[async_trait]
impl ObjectSink for S3Sink {
    async fn create(
        &self,
        key: &str,
        body: Vec<u8>,
        sha256: [u8; 32],
    ) -> Result<Creation, SinkError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.put(key, body.clone(), sha256, true).await {
                Ok(()) => return Ok(Creation::Created),
                Err(e) if e.code() == Some("PreconditionFailed") => return Ok(Creation::Exists),
                // A concurrent conditional write of the same key is in flight: S3 asks for a
                // retry, whose answer says who won.
                Err(e)
                    if e.code() == Some("ConditionalRequestConflict")
                        && attempt < CONFLICT_ATTEMPTS =>
                {
                    tokio::time::sleep(std::time::Duration::from_millis(50 * u64::from(attempt)))
                        .await;
                }
                Err(e) => return Err(self.fail(Operation::Write, key, &e)),
            }
        }
    }

    async fn read(&self, key: &str) -> Result<Vec<u8>, SinkError> {
        self.get(key).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, SinkError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.target.bucket)
            .prefix(prefix)
            .set_expected_bucket_owner(self.target.expected_bucket_owner.clone())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.fail(Operation::Read, prefix, &e))?;
            keys.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        Ok(keys)
    }

    /// S3 keeps the SHA-256 it checked on arrival: a `HEAD` answers without reading the object
    /// (objects written before checksums, or in parts, are read back).
    async fn stored_sha256(&self, key: &str) -> Result<[u8; 32], SinkError> {
        let head = self
            .client
            .head_object()
            .bucket(&self.target.bucket)
            .key(key)
            .checksum_mode(ChecksumMode::Enabled)
            .set_expected_bucket_owner(self.target.expected_bucket_owner.clone())
            .send()
            .await
            .map_err(|e| self.fail(Operation::Read, key, &e))?;
        if let Some(stored) = head.checksum_sha256().filter(|c| !c.contains('-'))
            && let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(stored)
            && let Ok(sha) = <[u8; 32]>::try_from(bytes.as_slice())
        {
            return Ok(sha);
        }
        Ok(Sha256::digest(self.get(key).await?).into())
    }

    async fn put_verification(&self, key: &str, body: Vec<u8>) -> Result<(), SinkError> {
        let sha256: [u8; 32] = Sha256::digest(&body).into();
        self.put(key, body, sha256, false)
            .await
            .map_err(|e| self.fail(Operation::Write, key, &e))
    }

    fn describe(&self) -> String {
        format!("s3://{}/{}", self.target.bucket, self.target.prefix)
    }

    fn locate(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.target.bucket)
    }
}

pub type S3ConfigCustomizer =
    Arc<dyn Fn(aws_sdk_s3::config::Builder) -> aws_sdk_s3::config::Builder + Send + Sync>;
