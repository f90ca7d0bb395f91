//! The AWS configuration every SDK client of the service is built from (DynamoDB here, S3 and
//! STS in `auditlog-export`), with one HTTPS client: hyper and rustls, over ring (feature
//! `tls-ring`, the ingest function's) or aws-lc (`tls-aws-lc`).
//!
//! Why the ingest function takes ring rather than the SDK's default, aws-lc: aws-lc is a C
//! library that nothing else in that binary uses, and its part of the function is what kept the
//! zip over 4 MB (README, Performance); ring does the same TLS 1.2 and
//! 1.3 with the same certificate checks. What it gives up: rustls offers the post-quantum hybrid
//! key exchange (X25519MLKEM768) only with aws-lc, so the ingest function's connections to
//! DynamoDB use X25519. The export function and the CLI link aws-lc anyway (their Azure and
//! stream clients), so they take `tls-aws-lc` and carry one crypto library, not two.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::Builder;
use aws_smithy_http_client::tls::rustls_provider::CryptoMode;
use aws_smithy_http_client::tls::{Provider, TlsContext};
use aws_smithy_runtime_api::client::http::SharedHttpClient;

/// The HTTPS client of every SDK client: rustls with the crypto the features choose, and the
/// platform's root certificates.
pub fn https_client() -> SharedHttpClient {
    https_client_with(TlsContext::default())
}

/// The same client with another TLS context: the tests' own certificate authority.
pub fn https_client_with(context: TlsContext) -> SharedHttpClient {
    #[cfg(feature = "tls-aws-lc")]
    let crypto = CryptoMode::AwsLc;
    #[cfg(all(feature = "tls-ring", not(feature = "tls-aws-lc")))]
    let crypto = CryptoMode::Ring;
    Builder::new()
        .tls_provider(Provider::Rustls(crypto))
        .tls_context(context)
        .build_https()
}

#[cfg(not(any(feature = "tls-ring", feature = "tls-aws-lc")))]
compile_error!("auditlog-aws needs a TLS crypto feature: `tls-ring` or `tls-aws-lc`");

/// The standard configuration chain (region, credentials, `AWS_ENDPOINT_URL_*` overrides) with
/// [`https_client`].
pub async fn load() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .http_client(https_client())
        .load()
        .await
}
