//! Stream receivers that run in the test process, on 127.0.0.1, speaking HTTP/1.1 over raw TCP
//! so that every fault is real (a connection closed mid-body, an answer never sent). Each
//! enforces its protocol's published contract and refuses what the real service refuses:
//!
//! - webhook (Standard Webhooks): `POST`, JSON, `webhook-id`, `webhook-timestamp` within five
//!   minutes, a `v1` signature by the receiver's secret; a JSON array of at most 500 records and
//!   1 MB;
//! - Splunk HEC: `POST /services/collector/event`, `Authorization: Splunk <token>` (else 401
//!   with HEC code 4 or 2), concatenated envelopes each with `event` and a numeric `time`, at
//!   most 1,000 and 1 MB; answers HEC's `{"text": "Success", "code": 0}`;
//! - Datadog Logs: `POST /api/v2/logs`, `DD-API-KEY` (else 403), gzip, a JSON array of at most
//!   1,000 entries, 5 MB uncompressed, 1 MB each, each with a string `message`; answers 202;
//! - `_bulk`: `POST /_bulk`, `application/x-ndjson`, `Authorization: ApiKey`, `create` actions
//!   whose `_id` is the document's id; an id already indexed answers 409 for that item, as
//!   Elasticsearch does.
//!
//! What arrived is kept in order, with the event id of each record (`id`, OCSF `metadata.uid`
//! or ECS `event.id`), and each fault is taken from a queue, one per request.

use std::collections::{BTreeMap, VecDeque};
use std::io::Read as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use auditlog_core::stream::webhook::{WebhookSecret, verify};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

#[derive(Debug, Clone)]
pub enum Protocol {
    /// Verifies with this secret only (a receiver that has one of a rotation's two).
    Webhook {
        secret: String,
    },
    Splunk {
        token: String,
    },
    Datadog {
        api_key: String,
    },
    Bulk {
        api_key: String,
    },
}

/// What the next request meets instead of a normal answer.
#[derive(Debug, Clone)]
pub enum Fault {
    /// This status (and `Retry-After`), nothing taken.
    Status(u16, Option<&'static str>),
    /// Takes the records, then answers after this long (past the sender's timeout, the answer
    /// is lost).
    Slow(Duration),
    /// Reads part of the body and closes the connection: nothing taken, no answer.
    DropMidBody,
    /// Takes the records and closes the connection without answering.
    LoseAnswer,
    /// `_bulk` only: these item positions answer 429 (not taken); the rest as usual.
    BulkBusy(Vec<usize>),
}

#[derive(Debug, Default)]
pub struct Received {
    /// Every record taken, in arrival order: (event id, record).
    pub records: Vec<(String, Value)>,
    pub requests: u64,
    /// Requests refused for breaking the protocol, with the reason (a test expects none).
    pub violations: Vec<String>,
    /// The headers of the last request taken, lowercase names.
    pub last_headers: BTreeMap<String, String>,
}

impl Received {
    /// How many times each id arrived.
    pub fn counts(&self) -> BTreeMap<String, usize> {
        let mut counts = BTreeMap::new();
        for (id, _) in &self.records {
            *counts.entry(id.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Ids in order of first arrival (receiver-side dedupe), of the suite's events only (the
    /// tenant's own `auditlog.*` records, which streams carry too, have ULIDs).
    pub fn first_arrivals(&self) -> Vec<String> {
        let mut seen = std::collections::BTreeSet::new();
        self.records
            .iter()
            .filter(|(id, _)| id.contains('-') && seen.insert(id.clone()))
            .map(|(id, _)| id.clone())
            .collect()
    }
}

#[derive(Clone)]
pub struct Receiver {
    pub url: String,
    pub received: Arc<Mutex<Received>>,
    faults: Arc<Mutex<VecDeque<Fault>>>,
    protocol: Arc<Mutex<Protocol>>,
}

impl Receiver {
    pub async fn start(protocol: Protocol) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let receiver = Receiver {
            url,
            received: Arc::default(),
            faults: Arc::default(),
            protocol: Arc::new(Mutex::new(protocol)),
        };
        let serving = receiver.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let r = serving.clone();
                tokio::spawn(async move { r.connection(socket).await });
            }
        });
        receiver
    }

    pub fn fault(&self, fault: Fault) {
        self.faults.lock().expect("lock").push_back(fault);
    }

    /// A receiver that now verifies with another secret (or token).
    pub fn set_protocol(&self, protocol: Protocol) {
        *self.protocol.lock().expect("lock") = protocol;
    }

    pub fn snapshot<T>(&self, f: impl FnOnce(&Received) -> T) -> T {
        f(&self.received.lock().expect("lock"))
    }

    async fn connection(&self, mut socket: TcpStream) {
        let mut buffer = Vec::new();
        loop {
            let Some((head, body_start)) = read_head(&mut socket, &mut buffer).await else {
                return;
            };
            let length = head
                .headers
                .get("content-length")
                .and_then(|v| v.parse::<usize>().ok())
                .unwrap_or(0);
            let fault = self.faults.lock().expect("lock").pop_front();
            if matches!(fault, Some(Fault::DropMidBody)) {
                // Part of the body, then the connection goes.
                let _ = read_exact_body(&mut socket, &mut buffer, body_start, length / 2).await;
                return;
            }
            let Some(body) = read_exact_body(&mut socket, &mut buffer, body_start, length).await
            else {
                return;
            };
            buffer.drain(..body_start + length);
            let answer = match fault {
                Some(Fault::Status(status, retry_after)) => {
                    self.received.lock().expect("lock").requests += 1;
                    Answer::status(status, retry_after)
                }
                other => {
                    let answer = self.take(&head, &body, other.as_ref());
                    match other {
                        Some(Fault::LoseAnswer) => return,
                        Some(Fault::Slow(wait)) => tokio::time::sleep(wait).await,
                        _ => {}
                    }
                    answer
                }
            };
            if socket.write_all(&answer.bytes()).await.is_err() {
                return;
            }
        }
    }

    /// Checks a request against the protocol; takes its records when it holds.
    fn take(&self, head: &Head, body: &[u8], fault: Option<&Fault>) -> Answer {
        let protocol = self.protocol.lock().expect("lock").clone();
        let mut received = self.received.lock().expect("lock");
        received.requests += 1;
        let result = match &protocol {
            Protocol::Webhook { secret } => webhook(head, body, secret),
            Protocol::Splunk { token } => splunk(head, body, token),
            Protocol::Datadog { api_key } => datadog(head, body, api_key),
            Protocol::Bulk { api_key } => {
                let busy = match fault {
                    Some(Fault::BulkBusy(items)) => items.clone(),
                    _ => Vec::new(),
                };
                bulk(head, body, api_key, &busy, &received)
            }
        };
        match result {
            Ok((records, answer)) => {
                received.records.extend(records);
                received.last_headers = head.headers.clone();
                answer
            }
            Err((answer, why)) => {
                if answer.status != 401 && answer.status != 403 {
                    received.violations.push(why);
                }
                answer
            }
        }
    }
}

struct Head {
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
}

async fn read_head(socket: &mut TcpStream, buffer: &mut Vec<u8>) -> Option<(Head, usize)> {
    loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            let text = String::from_utf8_lossy(&buffer[..end]).to_string();
            let mut lines = text.split("\r\n");
            let mut first = lines.next()?.split(' ');
            let method = first.next()?.to_string();
            let path = first.next()?.to_string();
            let headers = lines
                .filter_map(|line| line.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            return Some((
                Head {
                    method,
                    path,
                    headers,
                },
                end + 4,
            ));
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

async fn read_exact_body(
    socket: &mut TcpStream,
    buffer: &mut Vec<u8>,
    start: usize,
    length: usize,
) -> Option<Vec<u8>> {
    while buffer.len() < start + length {
        let mut chunk = [0u8; 64 * 1024];
        let n = socket.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    Some(buffer[start..start + length].to_vec())
}

struct Answer {
    status: u16,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

impl Answer {
    fn json(status: u16, body: Value) -> Answer {
        Answer {
            status,
            headers: vec![("content-type", "application/json".into())],
            body: body.to_string().into_bytes(),
        }
    }

    fn status(status: u16, retry_after: Option<&str>) -> Answer {
        let mut answer = Answer::json(status, json!({"error": "injected"}));
        if let Some(after) = retry_after {
            answer.headers.push(("retry-after", after.to_string()));
        }
        answer
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} X\r\ncontent-length: {}\r\n",
            self.status,
            self.body.len()
        );
        for (name, value) in &self.headers {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
        out.push_str("\r\n");
        let mut bytes = out.into_bytes();
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

type Taken = Result<(Vec<(String, Value)>, Answer), (Answer, String)>;

fn refuse(status: u16, why: impl Into<String>) -> (Answer, String) {
    let why = why.into();
    (Answer::json(status, json!({"error": why})), why)
}

/// The event id a record carries in any of the three formats.
pub fn record_id(record: &Value) -> Option<String> {
    record
        .get("id")
        .or_else(|| record.pointer("/metadata/uid"))
        .or_else(|| record.pointer("/event/id"))
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn ids_of(records: Vec<Value>) -> Result<Vec<(String, Value)>, (Answer, String)> {
    records
        .into_iter()
        .map(|r| match record_id(&r) {
            Some(id) => Ok((id, r)),
            None => Err(refuse(400, format!("a record without an event id: {r}"))),
        })
        .collect()
}

fn expect_post(head: &Head, path: &str) -> Result<(), (Answer, String)> {
    if head.method != "POST" || head.path != path {
        return Err(refuse(
            404,
            format!("{} {} is not {path}", head.method, head.path),
        ));
    }
    Ok(())
}

fn header<'a>(head: &'a Head, name: &str) -> &'a str {
    head.headers.get(name).map(String::as_str).unwrap_or("")
}

fn webhook(head: &Head, body: &[u8], secret: &str) -> Taken {
    expect_post(head, "/hook")?;
    if !header(head, "content-type").starts_with("application/json") {
        return Err(refuse(415, "not application/json"));
    }
    let secret = WebhookSecret::parse(secret).map_err(|_| refuse(500, "bad receiver secret"))?;
    let now = crate::now_ms() / 1000;
    verify(
        &secret,
        header(head, "webhook-id"),
        header(head, "webhook-timestamp"),
        header(head, "webhook-signature"),
        body,
        now,
    )
    .map_err(|e| {
        (
            Answer::json(401, json!({"error": e.to_string()})),
            e.to_string(),
        )
    })?;
    if body.len() > 1_000_000 {
        return Err(refuse(413, "over 1 MB"));
    }
    let records: Vec<Value> =
        serde_json::from_slice(body).map_err(|e| refuse(400, format!("not a JSON array: {e}")))?;
    if records.is_empty() || records.len() > 500 {
        return Err(refuse(400, format!("{} records", records.len())));
    }
    Ok((ids_of(records)?, Answer::json(200, json!({"ok": true}))))
}

fn splunk(head: &Head, body: &[u8], token: &str) -> Taken {
    expect_post(head, "/services/collector/event")?;
    match header(head, "authorization").strip_prefix("Splunk ") {
        None => {
            return Err((
                Answer::json(401, json!({"text": "Token is required", "code": 2})),
                "no token".into(),
            ));
        }
        Some(t) if t != token => {
            return Err((
                Answer::json(403, json!({"text": "Invalid token", "code": 4})),
                "bad token".into(),
            ));
        }
        Some(_) => {}
    }
    if body.len() > 1_000_000 {
        return Err(refuse(413, "over 1 MB"));
    }
    let mut records = Vec::new();
    for envelope in serde_json::Deserializer::from_slice(body).into_iter::<Value>() {
        let envelope = envelope.map_err(|e| {
            (
                Answer::json(400, json!({"text": "Invalid data format", "code": 6})),
                e.to_string(),
            )
        })?;
        let (Some(event), Some(_)) = (
            envelope.get("event"),
            envelope.get("time").and_then(Value::as_f64),
        ) else {
            return Err((
                Answer::json(400, json!({"text": "Event field is required", "code": 12})),
                format!("envelope {envelope}"),
            ));
        };
        records.push(event.clone());
    }
    if records.is_empty() || records.len() > 1000 {
        return Err(refuse(400, format!("{} envelopes", records.len())));
    }
    Ok((
        ids_of(records)?,
        Answer::json(200, json!({"text": "Success", "code": 0})),
    ))
}

fn datadog(head: &Head, body: &[u8], api_key: &str) -> Taken {
    expect_post(head, "/api/v2/logs")?;
    if header(head, "dd-api-key") != api_key {
        return Err((
            Answer::json(403, json!({"errors": ["Forbidden"]})),
            "bad key".into(),
        ));
    }
    if header(head, "content-encoding") != "gzip" {
        return Err(refuse(400, "not gzip"));
    }
    let mut plain = Vec::new();
    flate2::read::GzDecoder::new(body)
        .take(6_000_000)
        .read_to_end(&mut plain)
        .map_err(|e| refuse(400, format!("bad gzip: {e}")))?;
    if plain.len() > 5_000_000 {
        return Err(refuse(413, "over 5 MB uncompressed"));
    }
    let entries: Vec<Value> =
        serde_json::from_slice(&plain).map_err(|e| refuse(400, format!("not an array: {e}")))?;
    if entries.is_empty() || entries.len() > 1000 {
        return Err(refuse(400, format!("{} entries", entries.len())));
    }
    let mut records = Vec::new();
    for entry in &entries {
        let message = entry.get("message").and_then(Value::as_str).unwrap_or("");
        if message.len() > 1_000_000 || entry.get("ddsource") != Some(&json!("auditlog")) {
            return Err(refuse(400, format!("entry {entry}")));
        }
        let record: Value = serde_json::from_str(message)
            .map_err(|e| refuse(400, format!("message not JSON: {e}")))?;
        records.push(record);
    }
    Ok((ids_of(records)?, Answer::json(202, json!({}))))
}

fn bulk(head: &Head, body: &[u8], api_key: &str, busy: &[usize], received: &Received) -> Taken {
    expect_post(head, "/_bulk")?;
    if header(head, "authorization") != format!("ApiKey {api_key}") {
        return Err((
            Answer::json(
                401,
                json!({"error": {"type": "security_exception"}, "status": 401}),
            ),
            "bad key".into(),
        ));
    }
    if !header(head, "content-type").starts_with("application/x-ndjson") {
        return Err(refuse(400, "not application/x-ndjson"));
    }
    let text = std::str::from_utf8(body).map_err(|_| refuse(400, "not UTF-8"))?;
    if !text.ends_with('\n') {
        return Err(refuse(
            400,
            "the bulk request must be terminated by a newline",
        ));
    }
    let lines: Vec<&str> = text.lines().collect();
    if !lines.len().is_multiple_of(2) {
        return Err(refuse(400, "an action without its document"));
    }
    let indexed: std::collections::BTreeSet<&String> =
        received.records.iter().map(|(id, _)| id).collect();
    let mut records = Vec::new();
    let mut items = Vec::new();
    let mut errors = false;
    for (i, pair) in lines.chunks(2).enumerate() {
        let action: Value =
            serde_json::from_str(pair[0]).map_err(|e| refuse(400, e.to_string()))?;
        let document: Value =
            serde_json::from_str(pair[1]).map_err(|e| refuse(400, e.to_string()))?;
        let Some(create) = action.get("create") else {
            return Err(refuse(400, format!("not a create action: {action}")));
        };
        let id = create
            .get("_id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if create.get("_index").and_then(Value::as_str).is_none()
            || record_id(&document).as_deref() != Some(&id)
        {
            return Err(refuse(
                400,
                format!("`_id` {id} is not the document's event id"),
            ));
        }
        let status = if busy.contains(&i) {
            errors = true;
            429
        } else if indexed.contains(&id) || records.iter().any(|(r, _)| *r == id) {
            errors = true;
            409
        } else {
            records.push((id.clone(), document));
            201
        };
        let mut result = json!({"_index": create["_index"], "_id": id, "status": status});
        if status == 409 {
            result["error"] = json!({"type": "version_conflict_engine_exception", "reason": "document already exists"});
        } else if status == 429 {
            result["error"] =
                json!({"type": "es_rejected_execution_exception", "reason": "queue full"});
        }
        items.push(json!({"create": result}));
    }
    Ok((
        records,
        Answer::json(200, json!({"took": 1, "errors": errors, "items": items})),
    ))
}
