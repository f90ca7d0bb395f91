//! The `wasi:http/incoming-handler` export: reads the request, asks `auditlog_core::edge` what
//! to do, forwards to the origin when told to ([`crate::origin`]), and writes the answer.
//!
//! Everything here is synchronous on WASI 0.2 streams and pollables: one request at a time per
//! instance, which is how `wasi:http` hosts call a handler. Nothing here panics on input or on
//! the network: every failure is an answer.

use std::sync::OnceLock;

use auditlog_core::edge::{self, Answer, Decision, Headers, Route};
use wasip2::http::types::{
    Fields, IncomingRequest, Method, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

use crate::config::{Config, ConfigError};
use crate::origin::{self, OriginAnswer};
use crate::streams::{ReadError, read_bounded};

wasip2::http::proxy::export!(Edge);

struct Edge;

impl wasip2::exports::http::incoming_handler::Guest for Edge {
    fn handle(request: IncomingRequest, out: ResponseOutparam) {
        let reply = serve(&request);
        reply.send(out);
    }
}

/// The settings, read once per instance: the environment does not change under it.
fn config() -> &'static Result<Config, ConfigError> {
    static CONFIG: OnceLock<Result<Config, ConfigError>> = OnceLock::new();
    CONFIG.get_or_init(|| Config::from_lookup(|name| std::env::var(name).ok()))
}

fn now_ms() -> i64 {
    let now = wasip2::clocks::wall_clock::now();
    i64::try_from(now.seconds)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
        .saturating_add(i64::from(now.nanoseconds / 1_000_000))
}

fn random() -> u128 {
    let high = wasip2::random::random::get_random_u64();
    let low = wasip2::random::random::get_random_u64();
    (u128::from(high) << 64) | u128::from(low)
}

/// The first value of a header, as bytes.
fn header(fields: &Fields, name: &str) -> Option<Vec<u8>> {
    fields.get(name).into_iter().next()
}

fn text(value: &Option<Vec<u8>>) -> Option<&str> {
    value.as_deref().and_then(|v| std::str::from_utf8(v).ok())
}

fn serve(request: &IncomingRequest) -> Reply {
    let now = now_ms();
    let fields = request.headers();
    let given_id = header(&fields, "x-request-id");
    let request_id = edge::request_id(text(&given_id), now, random());
    let config = match config() {
        Ok(config) => config,
        Err(message) => {
            return Reply::answer(Answer::error(
                500,
                "edge_misconfigured",
                message.to_string(),
                &request_id,
            ));
        }
    };
    let method = match request.method() {
        Method::Post => "POST",
        _ => "OTHER",
    };
    let path_and_query = request.path_with_query().unwrap_or_default();
    let path = path_and_query.split('?').next().unwrap_or_default();
    let route = edge::route(method, path);
    if let Some(refusal) = edge::refuse_route(route, &request_id) {
        drain(request, config.limits.max_request_bytes);
        let allow = route == Route::MethodNotAllowed;
        return Reply::answer(refusal).with_header_if(allow, "allow", b"POST");
    }
    let authorization = header(&fields, "authorization");
    let content_type = header(&fields, "content-type");
    let content_length = header(&fields, "content-length");
    let headers = Headers {
        authorization: authorization.as_deref(),
        content_type: text(&content_type),
        content_length: text(&content_length),
    };
    if let Some(refusal) = edge::check_headers(headers, &config.limits, &request_id) {
        drain(request, config.limits.max_request_bytes);
        return Reply::answer(refusal);
    }
    let body = match read_request_body(request, config.limits.max_request_bytes) {
        Ok(body) => body,
        Err(ReadError::TooLarge) => {
            return Reply::answer(edge::body_too_large(&config.limits, &request_id));
        }
        Err(_) => return Reply::answer(edge::unreadable_body(&request_id)),
    };
    match edge::decide(&body, &config.limits, &config.redactor, now, &request_id) {
        Decision::Answer(answer) => Reply::answer(answer),
        Decision::Forward { body, pending } => {
            let user_agent = header(&fields, "user-agent");
            let call = origin::Call {
                authorization: authorization.as_deref().unwrap_or_default(),
                user_agent: user_agent.as_deref(),
                request_id: &request_id,
                body: body.as_bytes(),
            };
            match origin::send(&config.origin, config.timeout, &call) {
                Err(answer) => Reply::answer(answer),
                Ok(answered) => match edge::relay(pending, answered.status, &answered.body) {
                    Some(answer) => Reply::answer(answer),
                    None => Reply::relayed(answered),
                },
            }
        }
    }
}

/// The request body, at most `max` bytes; past that, a bounded amount more is read and dropped
/// so that a client still sending sees the 413 rather than a reset connection (as the API).
fn read_request_body(request: &IncomingRequest, max: usize) -> Result<Vec<u8>, ReadError> {
    let body = request.consume().map_err(|()| ReadError::Failed)?;
    let stream = body.stream().map_err(|()| ReadError::Failed)?;
    let read = read_bounded(&stream, max, None);
    drop(stream);
    drop(body);
    read
}

/// Reads and drops a refused request's body (a bounded amount, as the API does), so that a
/// client still sending sees the answer rather than a connection the host closed under it.
fn drain(request: &IncomingRequest, max: usize) {
    let _ = read_request_body(request, max);
}

/// What the component answers.
struct Reply {
    status: u16,
    headers: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
}

/// The origin's headers a relayed answer keeps: what a client of the API reads.
const RELAYED_HEADERS: &[&str] = &[
    "content-type",
    "x-request-id",
    "www-authenticate",
    "retry-after",
    "cache-control",
];

impl Reply {
    fn answer(answer: Answer) -> Reply {
        let mut headers = vec![
            ("content-type".to_string(), b"application/json".to_vec()),
            (
                "x-request-id".to_string(),
                answer.request_id.as_bytes().to_vec(),
            ),
        ];
        if answer.is_unauthorized() {
            headers.push(("www-authenticate".to_string(), b"Bearer".to_vec()));
        }
        Reply {
            status: answer.status,
            headers,
            body: answer.body.into_bytes(),
        }
    }

    fn relayed(answered: OriginAnswer) -> Reply {
        let headers = answered
            .headers
            .into_iter()
            .filter(|(name, _)| RELAYED_HEADERS.contains(&name.to_ascii_lowercase().as_str()))
            .collect();
        Reply {
            status: answered.status,
            headers,
            body: answered.body,
        }
    }

    fn with_header_if(mut self, condition: bool, name: &str, value: &[u8]) -> Reply {
        if condition {
            self.headers.push((name.to_string(), value.to_vec()));
        }
        self
    }

    /// Writes the answer. A client gone before the end is not an error anyone can be told of.
    fn send(self, out: ResponseOutparam) {
        let fields = Fields::from_list(&self.headers).unwrap_or_else(|_| Fields::new());
        let response = OutgoingResponse::new(fields);
        if response.set_status_code(self.status).is_err() {
            let _ = response.set_status_code(502);
        }
        let Ok(body) = response.body() else {
            return;
        };
        ResponseOutparam::set(out, Ok(response));
        if let Ok(stream) = body.write() {
            let _ = crate::streams::write_all(&stream, &self.body, None);
            drop(stream);
        }
        let _ = OutgoingBody::finish(body, None);
    }
}
