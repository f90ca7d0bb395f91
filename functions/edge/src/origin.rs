//! The call to the origin's `POST /v1/events` through outgoing `wasi:http`, all of it (connect,
//! send, answer, answer body) under one deadline. A failure is the answer the caller gets: `504
//! origin_timeout` or `502 origin_unreachable`, in the API's error shape.

use std::time::Duration;

use auditlog_core::edge::{Answer, INGEST_PATH};
use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, Method, OutgoingBody, OutgoingRequest, Scheme};
use wasip2::io::poll::{Pollable, poll};

use crate::config::{MAX_ORIGIN_ANSWER_BYTES, Origin};
use crate::streams::{ReadError, read_bounded, write_all};

/// What the edge sends on.
pub struct Call<'a> {
    /// The client's `Authorization`, unchanged: the origin authenticates.
    pub authorization: &'a [u8],
    pub user_agent: Option<&'a [u8]>,
    /// The same id the edge answers with, so both ends log one id.
    pub request_id: &'a str,
    /// `{"events": [...]}`: the valid items, masked.
    pub body: &'a [u8],
}

/// The origin's answer.
pub struct OriginAnswer {
    pub status: u16,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
}

enum Failure {
    TimedOut,
    Unreachable(String),
}

pub fn send(origin: &Origin, timeout: Duration, call: &Call<'_>) -> Result<OriginAnswer, Answer> {
    let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
    let deadline = wasip2::clocks::monotonic_clock::subscribe_duration(nanos);
    let retry = auditlog_core::edge::retry_advice(call.request_id);
    exchange(origin, call, &deadline).map_err(|failure| match failure {
        Failure::TimedOut => Answer::error(
            504,
            "origin_timeout",
            format!(
                "the regional API did not answer within {}; {retry}",
                humantime::format_duration(timeout)
            ),
            call.request_id,
        ),
        Failure::Unreachable(why) => Answer::error(
            502,
            "origin_unreachable",
            format!("the regional API could not be reached ({why}); {retry}"),
            call.request_id,
        ),
    })
}

fn request(origin: &Origin, call: &Call<'_>) -> Result<OutgoingRequest, Failure> {
    let mut headers = vec![
        ("content-type".to_string(), b"application/json".to_vec()),
        (
            "content-length".to_string(),
            call.body.len().to_string().into_bytes(),
        ),
        ("authorization".to_string(), call.authorization.to_vec()),
        (
            "x-request-id".to_string(),
            call.request_id.as_bytes().to_vec(),
        ),
    ];
    if let Some(agent) = call.user_agent {
        headers.push(("user-agent".to_string(), agent.to_vec()));
    }
    let invalid =
        |what: &str| Failure::Unreachable(format!("the host refused the request's {what}"));
    let fields = Fields::from_list(&headers).map_err(|_| invalid("headers"))?;
    let request = OutgoingRequest::new(fields);
    let scheme = if origin.https {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let path = format!("{}{INGEST_PATH}", origin.base_path);
    request
        .set_method(&Method::Post)
        .map_err(|()| invalid("method"))?;
    request
        .set_scheme(Some(&scheme))
        .map_err(|()| invalid("scheme"))?;
    request
        .set_authority(Some(&origin.authority))
        .map_err(|()| invalid("authority"))?;
    request
        .set_path_with_query(Some(&path))
        .map_err(|()| invalid("path"))?;
    Ok(request)
}

fn exchange(
    origin: &Origin,
    call: &Call<'_>,
    deadline: &Pollable,
) -> Result<OriginAnswer, Failure> {
    let request = request(origin, call)?;
    let body = request
        .body()
        .map_err(|()| Failure::Unreachable("no request body".into()))?;
    let pending = outgoing_handler::handle(request, None).map_err(unreachable)?;
    {
        let stream = body
            .write()
            .map_err(|()| Failure::Unreachable("no request body".into()))?;
        write_all(&stream, call.body, Some(deadline)).map_err(stream_failure)?;
    }
    OutgoingBody::finish(body, None).map_err(unreachable)?;
    let ready = pending.subscribe();
    let woken = poll(&[&ready, deadline]);
    if !woken.contains(&0) && deadline.ready() {
        return Err(Failure::TimedOut);
    }
    let response = match pending.get() {
        Some(Ok(Ok(response))) => response,
        Some(Ok(Err(code))) => return Err(unreachable(code)),
        Some(Err(())) | None => return Err(Failure::Unreachable("no answer".into())),
    };
    let status = response.status();
    let headers = response.headers().entries();
    let incoming = response
        .consume()
        .map_err(|()| Failure::Unreachable("no answer body".into()))?;
    let stream = incoming
        .stream()
        .map_err(|()| Failure::Unreachable("no answer body".into()))?;
    let body =
        read_bounded(&stream, MAX_ORIGIN_ANSWER_BYTES, Some(deadline)).map_err(stream_failure)?;
    Ok(OriginAnswer {
        status,
        headers,
        body,
    })
}

fn stream_failure(e: ReadError) -> Failure {
    match e {
        ReadError::TimedOut => Failure::TimedOut,
        ReadError::TooLarge => Failure::Unreachable("its answer is too large".into()),
        ReadError::Failed => Failure::Unreachable("the connection failed".into()),
    }
}

/// A short reason for the caller; the variant names are wasi:http's error codes.
fn unreachable(code: ErrorCode) -> Failure {
    if matches!(
        code,
        ErrorCode::ConnectionTimeout | ErrorCode::ConnectionReadTimeout
    ) {
        return Failure::TimedOut;
    }
    let why = match code {
        ErrorCode::DnsTimeout | ErrorCode::DnsError(_) => "its name did not resolve".to_string(),
        ErrorCode::ConnectionRefused => "connection refused".to_string(),
        ErrorCode::ConnectionTerminated => "the connection was closed".to_string(),
        ErrorCode::TlsProtocolError
        | ErrorCode::TlsCertificateError
        | ErrorCode::TlsAlertReceived(_) => "TLS failed".to_string(),
        other => {
            let mut text = format!("{other:?}");
            text.truncate(120);
            text
        }
    };
    Failure::Unreachable(why)
}
