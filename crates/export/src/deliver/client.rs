//! The one HTTP client streams send through, built once per process. Where it may connect is
//! decided by `auditlog_core::stream::address`:
//!
//! - every address a host name resolves to is checked by [`GuardedResolver`] as the client
//!   connects, so a name that resolves to a refused address later (DNS rebinding) gets no
//!   connection;
//! - the client never resolves an address literal (`https://10.0.0.1/`), so [`StreamClient::post`]
//!   checks the whole URL again before every request;
//! - redirects are not followed (a redirect to an address literal would pass the resolver by),
//!   and no proxy is used (the resolver would check the proxy's address, not the receiver's).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use auditlog_core::stream::address::{AddressPolicy, check_ip, check_url};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// The most of a receiver's answer that is read: enough for `_bulk`'s per-item results of a
/// full batch; a longer answer is cut (and then read as unreadable, which retries).
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// Resolves with the system's resolver, then keeps only the addresses the policy allows; a name
/// with none left fails to connect, with the reason.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    policy: AddressPolicy,
}

#[derive(Debug, thiserror::Error)]
#[error("{name} resolves only to refused addresses: {reason}")]
struct Refused {
    name: String,
    reason: String,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let host = name.as_str().to_string();
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut reason = format!("{host} has no address");
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match check_ip(addr.ip(), policy) {
                    Ok(()) => true,
                    Err(why) => {
                        reason = format!("{}: {why}", addr.ip());
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                return Err(Box::new(Refused { name: host, reason }) as _);
            }
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

/// A receiver's answer, as far as a verdict needs it.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: Vec<u8>,
}

/// Why no answer came.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The URL may not be sent to under the policy: a person must change it.
    #[error("the destination URL is refused: {0}")]
    Refused(String),
    /// No answer (connection refused or dropped, timeout, TLS): worth sending again.
    #[error("no answer from the receiver: {0}")]
    NoAnswer(String),
}

/// One request: where, which headers, which body.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

#[derive(Debug, Clone)]
pub struct StreamClient {
    client: reqwest::Client,
    policy: AddressPolicy,
}

impl StreamClient {
    /// `timeout` bounds each request, from connecting to the last byte of the answer.
    pub fn new(policy: AddressPolicy, timeout: Duration) -> Result<StreamClient, SendError> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver { policy }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("auditlog/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SendError::NoAnswer(format!("cannot build the HTTP client: {e}")))?;
        Ok(StreamClient { client, policy })
    }

    pub fn policy(&self) -> AddressPolicy {
        self.policy
    }

    /// Posts `request` and reads the answer (bounded). The URL is checked first, every time.
    pub async fn post(&self, request: Outgoing) -> Result<Answer, SendError> {
        check_url(&request.url, self.policy).map_err(|e| SendError::Refused(e.to_string()))?;
        let mut builder = self.client.post(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let mut response = builder
            .body(request.body)
            .send()
            .await
            .map_err(|e| SendError::NoAnswer(describe(&e)))?;
        let status = response.status().as_u16();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| SendError::NoAnswer(describe(&e)))?
        {
            let room = MAX_ANSWER_BYTES.saturating_sub(body.len());
            body.extend_from_slice(&chunk[..chunk.len().min(room)]);
            if room <= chunk.len() {
                break;
            }
        }
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }
}

/// The error with its causes (reqwest's own message is often only "error sending request"),
/// without the URL: a receiver's URL may carry a token in its query.
fn describe(error: &reqwest::Error) -> String {
    let mut text = if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        "cannot connect".to_string()
    } else {
        "the request failed".to_string()
    };
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::str::FromStr as _;

    use super::*;

    const STRICT: AddressPolicy = AddressPolicy {
        allow_http: false,
        allow_private: false,
    };

    /// A name is checked on what it resolves to: `localhost` (or any name pointing at a
    /// refused address) gets no connection, unless the operator allows private addresses.
    #[tokio::test]
    async fn the_resolver_refuses_names_of_refused_addresses() {
        let name = || Name::from_str("localhost").unwrap_or_else(|_| panic!("a name"));
        let refused = GuardedResolver { policy: STRICT }.resolve(name()).await;
        let error = refused.err().map(|e| e.to_string()).unwrap_or_default();
        assert!(error.contains("refused addresses"), "{error}");
        let open = AddressPolicy {
            allow_http: true,
            allow_private: true,
        };
        let allowed = GuardedResolver { policy: open }.resolve(name()).await;
        assert!(allowed.is_ok_and(|mut addrs| addrs.next().is_some()));
    }

    /// An address literal never reaches the resolver: the client checks the URL itself before
    /// sending, and a redirect is never followed.
    #[tokio::test]
    async fn address_literals_and_plain_http_are_refused_before_sending() {
        let client = StreamClient::new(STRICT, Duration::from_secs(1))
            .unwrap_or_else(|e| panic!("client: {e}"));
        for url in [
            "https://127.0.0.1/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "http://example.com/hook",
        ] {
            let sent = client
                .post(Outgoing {
                    url: url.into(),
                    headers: Vec::new(),
                    body: Vec::new(),
                })
                .await;
            assert!(
                matches!(sent, Err(SendError::Refused(_))),
                "{url}: {sent:?}"
            );
        }
    }
}
