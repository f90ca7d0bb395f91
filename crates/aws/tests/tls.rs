//! The SDK clients' HTTPS client (`sdk_config::https_client`) over real TLS: a DynamoDB call to a
//! TLS server in this process answers when the client trusts the server's certificate, and is
//! refused at the handshake, before any request is sent, when it does not (the platform's roots
//! do not hold a certificate made here). The emulators of the other tests speak plain HTTP, so
//! this is the test of the TLS stack the functions use.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use auditlog_aws::sdk_config::{https_client, https_client_with};
use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
use aws_smithy_http_client::tls::{TlsContext, TrustStore};
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// Reads one HTTP request (headers, then the body its `Content-Length` announces).
async fn read_request(tls: &mut (impl AsyncReadExt + Unpin)) -> Option<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        let n = tls.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        request.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&request);
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    if name.eq_ignore_ascii_case("content-length") {
                        value.trim().parse::<usize>().ok()
                    } else {
                        None
                    }
                })
                .unwrap_or(0);
            if body.len() >= length {
                return Some(());
            }
        }
    }
}

/// A TLS server on 127.0.0.1 for `localhost` that answers every request with a `ListTables`
/// reply; gives its port, its certificate (PEM) and the count of requests it answered.
async fn server() -> (u16, String, Arc<AtomicUsize>) {
    let certified = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let pem = certified.cert.pem();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(certified.signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![certified.cert.der().clone()], key)
    .unwrap();
    let acceptor = TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let answered = Arc::new(AtomicUsize::new(0));
    let count = answered.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            let count = count.clone();
            tokio::spawn(async move {
                // A refused handshake ends here: the client did not trust us.
                let Ok(mut tls) = acceptor.accept(socket).await else {
                    return;
                };
                if read_request(&mut tls).await.is_none() {
                    return;
                }
                let body = r#"{"TableNames":["over-tls"]}"#;
                let answer = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/x-amz-json-1.0\r\n\
                     Content-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                if tls.write_all(answer.as_bytes()).await.is_ok() {
                    count.fetch_add(1, Ordering::SeqCst);
                }
                let _ = tls.shutdown().await;
            });
        }
    });
    (port, pem, answered)
}

fn client(port: u16, http: SharedHttpClient) -> aws_sdk_dynamodb::Client {
    let config = aws_sdk_dynamodb::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::for_tests())
        .endpoint_url(format!("https://localhost:{port}"))
        .http_client(http)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

#[tokio::test]
async fn the_sdk_client_speaks_tls_and_refuses_an_unknown_certificate() {
    let (port, pem, answered) = server().await;

    // Trusting the server's certificate: the call goes through TLS and gets the answer.
    let trusting = TlsContext::builder()
        .with_trust_store(TrustStore::empty().with_pem_certificate(pem.as_bytes()))
        .build()
        .unwrap();
    let tables = client(port, https_client_with(trusting))
        .list_tables()
        .send()
        .await
        .unwrap();
    assert_eq!(tables.table_names(), ["over-tls"]);
    assert_eq!(answered.load(Ordering::SeqCst), 1);

    // The service's own client (the platform's roots): refused at the handshake.
    let error = client(port, https_client())
        .list_tables()
        .send()
        .await
        .expect_err("an unknown certificate must be refused");
    let text = format!("{error:?}");
    assert!(
        text.contains("UnknownIssuer") || text.contains("invalid peer certificate"),
        "{text}"
    );
    assert_eq!(
        answered.load(Ordering::SeqCst),
        1,
        "nothing more was answered"
    );
}
