//! `auditlog-edge`: a WASI command. Reads one envelope (JSON) on stdin, writes the answer (JSON)
//! on stdout, and always exits 0: every problem, unreadable input included, is an answer, never
//! a trap. The work itself is `auditlog_core::edge::handle`, the same code the tests run
//! natively.
//!
//! `--repeat N` handles the same envelope N times and prints throughput on stderr; the benchmark
//! script (`functions/edge/bench.sh`) uses it under Node and natively.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Instant;

use auditlog_core::edge::{EdgeResponse, handle, max_envelope_bytes};
use auditlog_core::redact::Redactor;
use auditlog_core::validate::Limits;

/// The same limits the regional API runs with, from the same variables.
fn limits_from_env() -> Result<Limits, String> {
    let mut limits = Limits::default();
    for (name, slot) in [
        ("AUDITLOG_MAX_EVENT_BYTES", &mut limits.max_event_bytes),
        (
            "AUDITLOG_MAX_BATCH_EVENTS",
            &mut limits.max_events_per_request,
        ),
        ("AUDITLOG_MAX_REQUEST_BYTES", &mut limits.max_request_bytes),
        (
            "AUDITLOG_MAX_FREE_JSON_BYTES",
            &mut limits.max_free_json_bytes,
        ),
    ] {
        if let Ok(text) = std::env::var(name) {
            *slot = text
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or(format!("{name}=`{text}` is not a positive whole number"))?;
        }
    }
    if let Ok(text) = std::env::var("AUDITLOG_MAX_CLOCK_SKEW") {
        let skew = humantime::parse_duration(&text).map_err(|e| {
            format!("AUDITLOG_MAX_CLOCK_SKEW=`{text}` is not a duration such as 5m: {e}")
        })?;
        limits.max_future_skew_ms = i64::try_from(skew.as_millis())
            .map_err(|_| format!("AUDITLOG_MAX_CLOCK_SKEW=`{text}` is too large"))?;
    }
    Ok(limits)
}

fn clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn system_random() -> u128 {
    let high = getrandom::u64().unwrap_or_else(|_| clock_ms() as u64);
    let low = getrandom::u64().unwrap_or(0x9E37_79B9_7F4A_7C15);
    (u128::from(high) << 64) | u128::from(low)
}

fn repeat_count() -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--repeat")
        .and_then(|i| args.get(i + 1))
        .and_then(|n| n.parse().ok())
        .unwrap_or(1)
}

fn answer(limits: &Limits, redactor: &Redactor, input: &[u8]) -> EdgeResponse {
    handle(input, limits, redactor, clock_ms(), &mut system_random)
}

/// A request-level failure written by hand: used only when the core cannot be reached at all.
fn failure(status: u16, code: &str, message: &str) -> String {
    let message = serde_json::Value::String(message.to_string());
    format!(
        "{{\"status\":{status},\"items\":[],\"error\":{{\"code\":\"{code}\",\"message\":{message}}}}}"
    )
}

fn main() -> ExitCode {
    let redactor = Redactor::with_extra_patterns(
        std::env::var("AUDITLOG_REDACT_KEYS")
            .unwrap_or_default()
            .split(','),
    );
    let output = match limits_from_env() {
        Err(message) => failure(500, "edge_misconfigured", &message),
        Ok(limits) => {
            let mut input = Vec::new();
            // One byte past the limit is enough for `handle` to answer 413.
            let cap = max_envelope_bytes(&limits) as u64 + 1;
            match std::io::stdin().take(cap).read_to_end(&mut input) {
                Err(e) => failure(400, "unreadable_input", &e.to_string()),
                Ok(_) => {
                    let repeat = repeat_count().max(1);
                    let started = Instant::now();
                    let mut response = answer(&limits, &redactor, &input);
                    for _ in 1..repeat {
                        response = answer(&limits, &redactor, &input);
                    }
                    if repeat > 1 {
                        let seconds = started.elapsed().as_secs_f64();
                        let events = response.items.len() * repeat;
                        eprintln!(
                            "{{\"runs\":{repeat},\"events\":{events},\"seconds\":{seconds:.4},\"events_per_second\":{:.0}}}",
                            events as f64 / seconds.max(1e-9)
                        );
                    }
                    response.to_json()
                }
            }
        }
    };
    let mut stdout = std::io::stdout().lock();
    // If stdout is gone there is nobody left to tell; exit normally either way.
    let _ = stdout.write_all(output.as_bytes());
    let _ = stdout.flush();
    ExitCode::SUCCESS
}
