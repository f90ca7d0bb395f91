//! The sink of each destination: a directory, or S3 with the right credentials and region.
//!
//! S3 clients are built once per (region, role, external id) and kept: each client's identity
//! cache holds the assumed role's temporary credentials and refreshes them before they expire,
//! so a warm Lambda or a long-running `auditlog serve` does not call STS for every pass.
//!
//! The AWS configuration is loaded when the first S3 destination needs it ([`Sinks::lazy`]):
//! loading it looks the region up, which asks the instance metadata service where no region is
//! set, and an on-prem `auditlog serve` exporting to a directory or Azure has no such service
//! (two warnings at every start, and the lookup's timeouts on a network that drops the packets).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use async_trait::async_trait;
use auditlog_core::export::{Destination, S3Compatible, S3Target, Target};
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_s3::config::{RequestChecksumCalculation, ResponseChecksumValidation};

use crate::directory::DirectorySink;
use crate::engine::SinkFactory;
use crate::s3::{S3ConfigCustomizer, S3Sink, SESSION_NAME};
use crate::sink::{ObjectSink, SinkError};

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ClientKey {
    region: Option<String>,
    role_arn: Option<String>,
    external_id: Option<String>,
}

pub struct Sinks {
    base: OnceCell<SdkConfig>,
    path_style: bool,
    customizer: Option<S3ConfigCustomizer>,
    clients: Mutex<HashMap<ClientKey, aws_sdk_s3::Client>>,
}

impl Sinks {
    /// `base` is the exporter's own AWS configuration. Path-style addressing is used when an
    /// S3 endpoint override is set (`AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`: an emulator
    /// or an S3-compatible store on-prem); AWS itself gets virtual-hosted addressing.
    pub fn new(base: SdkConfig) -> Self {
        Sinks::with_base(OnceCell::new_with(Some(base)))
    }

    fn with_base(base: OnceCell<SdkConfig>) -> Self {
        let path_style = std::env::var_os("AWS_ENDPOINT_URL_S3").is_some()
            || std::env::var_os("AWS_ENDPOINT_URL").is_some();
        Sinks {
            base,
            path_style,
            customizer: None,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Sinks for destinations that are not S3 (directories, Azure), without loading the AWS
    /// configuration.
    pub fn without_aws() -> Self {
        Sinks::new(SdkConfig::builder().build())
    }

    /// The exporter's configuration from the standard AWS chain.
    pub async fn from_env() -> Self {
        Sinks::new(auditlog_aws::sdk_config::load().await)
    }

    /// The same, loaded when an S3 destination first needs it, not before.
    pub fn lazy() -> Self {
        Sinks::with_base(OnceCell::new())
    }

    /// The AWS configuration, loaded now if it was not.
    async fn base(&self) -> &SdkConfig {
        self.base.get_or_init(auditlog_aws::sdk_config::load).await
    }

    /// Applied to every S3 client's configuration (tests add a request-recording interceptor).
    pub fn with_s3_customizer(mut self, customizer: S3ConfigCustomizer) -> Self {
        self.customizer = Some(customizer);
        self
    }

    /// A client with the caller's own credentials (no role), for reading a bucket back
    /// (`auditlog verify s3://...`).
    pub async fn own_client(&self, region: Option<String>) -> aws_sdk_s3::Client {
        self.s3_client(&S3Target {
            bucket: String::new(),
            region,
            prefix: String::new(),
            role_arn: None,
            external_id: None,
            kms_key_id: None,
            expected_bucket_owner: None,
            compatible: None,
        })
        .await
    }

    /// A client for an S3-compatible store: its endpoint, its addressing, its static key (read
    /// now from where the destination says it lives), and checksums only where the operation
    /// requires one (newer SDKs otherwise add checksum trailers that such stores refuse). Not
    /// cached: a rotated secret is picked up by the next pass.
    async fn compatible_client(
        &self,
        target: &S3Target,
        compatible: &S3Compatible,
    ) -> Result<aws_sdk_s3::Client, SinkError> {
        let secret = crate::secrets::resolve(&compatible.secret_access_key)?;
        let credentials = aws_sdk_s3::config::Credentials::new(
            compatible.access_key_id.clone(),
            secret,
            None,
            None,
            "auditlog-destination",
        );
        let region = target.region.clone().unwrap_or_else(|| "us-east-1".into());
        let mut builder = aws_sdk_s3::config::Builder::from(self.base().await)
            .endpoint_url(compatible.endpoint.trim_end_matches('/'))
            .force_path_style(compatible.path_style)
            .region(aws_config::Region::new(region))
            .credentials_provider(credentials)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired);
        if let Some(customize) = &self.customizer {
            builder = customize(builder);
        }
        Ok(aws_sdk_s3::Client::from_conf(builder.build()))
    }

    async fn s3_client(&self, target: &S3Target) -> aws_sdk_s3::Client {
        let key = ClientKey {
            region: target.region.clone(),
            role_arn: target.role_arn.clone(),
            external_id: target.external_id.clone(),
        };
        if let Ok(clients) = self.clients.lock()
            && let Some(client) = clients.get(&key)
        {
            return client.clone();
        }
        let base = self.base().await;
        let mut builder = aws_sdk_s3::config::Builder::from(base).force_path_style(self.path_style);
        if let Some(region) = &target.region {
            builder = builder.region(aws_config::Region::new(region.clone()));
        }
        if let Some(role_arn) = &target.role_arn {
            let mut provider = AssumeRoleProvider::builder(role_arn)
                .session_name(SESSION_NAME)
                .configure(base);
            if let Some(external_id) = &target.external_id {
                provider = provider.external_id(external_id);
            }
            builder = builder.credentials_provider(provider.build().await);
        }
        if let Some(customize) = &self.customizer {
            builder = customize(builder);
        }
        let client = aws_sdk_s3::Client::from_conf(builder.build());
        if let Ok(mut clients) = self.clients.lock() {
            clients.insert(key, client.clone());
        }
        client
    }
}

#[async_trait]
impl SinkFactory for Sinks {
    async fn sink_for(&self, destination: &Destination) -> Result<Arc<dyn ObjectSink>, SinkError> {
        Ok(match &destination.target {
            Target::Directory { path, .. } => Arc::new(DirectorySink::new(path)),
            Target::S3(target) => match &target.compatible {
                Some(compatible) => Arc::new(S3Sink::new(
                    self.compatible_client(target, compatible).await?,
                    target.clone(),
                )),
                None => Arc::new(S3Sink::new(self.s3_client(target).await, target.clone())),
            },
            Target::Stream(_) => {
                return Err(SinkError::failed(
                    "a stream destination is delivered record by record, not as objects",
                ));
            }
            #[cfg(feature = "azure")]
            Target::Azure(target) => Arc::new(crate::azure::AzureSink::new(target)?),
            #[cfg(not(feature = "azure"))]
            Target::Azure(_) => {
                return Err(SinkError::failed(
                    "this build has no Azure support (the `azure` feature)",
                ));
            }
        })
    }
}
