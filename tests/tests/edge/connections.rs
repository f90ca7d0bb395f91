//! The edge as a server: a refused request leaves the connection usable, other routes are
//! refused, a failing origin gets a gateway error, and its settings are the API's.

use std::time::Duration;

use auditlog_tests::processes::{EdgeHost, Host, Served};
use serde_json::{Value, json};

use crate::*;

/// Whether `answer` holds a whole HTTP/1.1 answer: its head, then as many bytes as its
/// `content-length` says, or a chunked body up to its last chunk.
fn answer_complete(answer: &[u8]) -> bool {
    let text = String::from_utf8_lossy(answer);
    let Some((head, body)) = text.split_once("\r\n\r\n") else {
        return false;
    };
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    });
    match length {
        Some(length) => body.len() >= length,
        None => body.ends_with("0\r\n\r\n"),
    }
}

/// One request on an open connection, as a keep-alive client writes it; the answer's status
/// line, read up to the end of its body. Empty when the host closed the connection.
fn exchange(stream: &mut std::net::TcpStream, key: &str, body: &[u8]) -> String {
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n\
         authorization: Bearer {key}\r\ncontent-length: {}\r\n\r\n",
        body.len()
    );
    // The host may answer and close before the body is all written: what is read says so.
    let _ = stream
        .write_all(head.as_bytes())
        .and_then(|()| stream.write_all(body));
    let mut answer = Vec::new();
    let mut buf = [0u8; 4096];
    while !answer_complete(&answer) {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => answer.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&answer)
        .lines()
        .next()
        .unwrap_or_default()
        .to_string()
}

pub(crate) async fn a_refused_request_leaves_the_connection_usable(host: Host) {
    // The edge refuses an oversized body before reading it. Unless it then reads (and drops)
    // the rest, a host closes the connection under a client that keeps it for its next
    // request: Wasmtime did, most of the time. The API, which the edge mirrors, did too.
    let origin = Served::start();
    let key = origin.key("keepalive", "write,read");
    let closed = format!(
        "http://127.0.0.1:{}",
        auditlog_tests::processes::free_port()
    );
    let edge = EdgeHost::start(
        host,
        component(),
        &[("AUDITLOG_ORIGIN_URL", closed.as_str())],
    );
    for url in [&edge.url, &origin.url] {
        let address = url.trim_start_matches("http://").to_string();
        for round in 0..10 {
            let mut stream = std::net::TcpStream::connect(&address).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let big = vec![b' '; 1024 * 1024 + 1];
            let first = exchange(&mut stream, &key, &big);
            assert!(
                first.starts_with("HTTP/1.1 413"),
                "{url} round {round}: `{first}`"
            );
            let next = exchange(&mut stream, &key, br#"{"action": "BAD"}"#);
            assert!(
                next.starts_with("HTTP/1.1 422"),
                "{url} round {round}: the next request on the connection got `{next}`"
            );
        }
    }
}

pub(crate) async fn other_routes_are_refused_in_the_apis_shape(host: Host) {
    let origin = Served::start();
    let edge = EdgeHost::start(host, component(), &[("AUDITLOG_ORIGIN_URL", &origin.url)]);
    let client = reqwest::Client::new();
    for (method, path, status, code) in [
        ("GET", "/v1/events", 405, "method_not_allowed"),
        ("DELETE", "/v1/events", 405, "method_not_allowed"),
        ("GET", "/v1/keys", 404, "not_found"),
        ("POST", "/v1/destinations", 404, "not_found"),
        ("GET", "/console", 404, "not_found"),
    ] {
        let case = Case {
            method: method.into(),
            path: path.into(),
            ..Case::post(format!("{method} {path}"), "")
        };
        let answer = send(&client, &edge.url, "k", &case, "route").await;
        assert_eq!(answer.status, status, "{method} {path}");
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error"]["code"], code, "{method} {path}");
        if status == 405 {
            assert_eq!(answer.headers["allow"], "POST");
        }
    }
    assert!(
        origin.requests().iter().all(|e| e["request_id"] != "route"),
        "a refused route reached the origin"
    );
}

/// An origin that misbehaves as the request id asks: `hang` (never answers) or `drop` (reads
/// the request, then closes the connection without a word).
fn faulty_origin() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                let mut buf = [0u8; 4096];
                while !String::from_utf8_lossy(&seen).contains("\r\n\r\n") {
                    match stream.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => seen.extend_from_slice(&buf[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&seen).to_ascii_lowercase();
                if head.contains("x-request-id: hang") {
                    std::thread::sleep(Duration::from_secs(30));
                } else {
                    let _ = stream.flush();
                }
                drop(stream);
            });
        }
    });
    url
}

pub(crate) async fn a_slow_unreachable_or_vanishing_origin_gets_a_gateway_error_not_a_trap(
    host: Host,
) {
    let faulty = faulty_origin();
    let closed = format!(
        "http://127.0.0.1:{}",
        auditlog_tests::processes::free_port()
    );
    let settings = [("AUDITLOG_ORIGIN_TIMEOUT", "1s")];
    let flaky = EdgeHost::start(
        host,
        component(),
        &[settings[0], ("AUDITLOG_ORIGIN_URL", faulty.as_str())],
    );
    let down = EdgeHost::start(
        host,
        component(),
        &[settings[0], ("AUDITLOG_ORIGIN_URL", closed.as_str())],
    );
    let client = reqwest::Client::new();
    let key = format!("alk_0123456789abcdef_{}", "A".repeat(43));
    let event = Case::post("one", r#"{"action": "user.login", "actor": {"id": "u1"}}"#);
    for (edge, rid, status, code) in [
        (&flaky, "hang-1", 504, "origin_timeout"),
        (&flaky, "drop-1", 502, "origin_unreachable"),
        (&down, "down-1", 502, "origin_unreachable"),
        // The host is still fine after each: the same instance answers again.
        (&flaky, "hang-2", 504, "origin_timeout"),
    ] {
        let started = std::time::Instant::now();
        let answer = send(&client, &edge.url, &key, &event, rid).await;
        assert_eq!(answer.status, status, "{rid}: {}", answer.body);
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error"]["code"], code, "{rid}");
        assert_eq!(body["error"]["request_id"], rid);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("x-request-id"),
            "{rid}: the answer says how to retry safely: {body}"
        );
        assert!(!answer.body.contains(&key), "{rid}: the key was answered");
        // Bounded by the timeout, not by the origin.
        assert!(started.elapsed() < Duration::from_secs(20), "{rid}");
    }
    // The component wrote nothing of the request to the host's output.
    for line in flaky.printed().iter().chain(down.printed().iter()) {
        assert!(!line.contains(&key), "{line}");
    }
}

pub(crate) async fn limits_and_settings_come_from_the_same_variables_as_the_api(host: Host) {
    let origin = Served::start();
    let key = origin.key("limits", "write,read");
    let client = reqwest::Client::new();
    let small = EdgeHost::start(
        host,
        component(),
        &[
            ("AUDITLOG_ORIGIN_URL", origin.url.as_str()),
            ("AUDITLOG_MAX_EVENT_BYTES", "300"),
            ("AUDITLOG_REDACT_KEYS", "pin"),
        ],
    );
    let big = Case::post(
        "big",
        json!({"id": "big", "action": "a.b", "actor": {"id": "x"}, "metadata": {"note": "x".repeat(400)}})
            .to_string(),
    );
    let answer = send(&client, &small.url, &key, &big, "limit-1").await;
    assert_eq!(answer.status, 422, "{}", answer.body);
    assert!(
        answer.body.contains("limit is 300 bytes"),
        "{}",
        answer.body
    );
    let pin = Case::post(
        "pin",
        json!({"id": "pin", "action": "a.b", "actor": {"id": "x"}, "metadata": {"pin": "1234"}})
            .to_string(),
    );
    let answer = send(&client, &small.url, &key, &pin, "limit-2").await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let stored = read_event(&client, &origin, &key, "pin").await;
    assert_eq!(stored["metadata"]["pin"], "[REDACTED]", "{stored}");

    for (name, value) in [
        ("AUDITLOG_MAX_CLOCK_SKEW", "soon"),
        ("AUDITLOG_MAX_BATCH_EVENTS", "0"),
        ("AUDITLOG_ORIGIN_URL", "ftp://nowhere"),
    ] {
        let mut env = vec![("AUDITLOG_ORIGIN_URL", origin.url.as_str())];
        env.retain(|(n, _)| *n != name);
        env.push((name, value));
        let broken = EdgeHost::start(host, component(), &env);
        let answer = send(&client, &broken.url, &key, &pin, "broken").await;
        assert_eq!(answer.status, 500, "{name}");
        let body: Value = serde_json::from_str(&answer.body).unwrap();
        assert_eq!(body["error"]["code"], "edge_misconfigured");
        assert!(
            body["error"]["message"].as_str().unwrap().starts_with(name),
            "{body}"
        );
    }
}
