//! The ingest path against a bare `serde_json::Value` parse of the same 500-event body, measured
//! in alternating short rounds. On a shared machine the speed of the core drifts by a quarter
//! within a minute, so two figures taken one after the other (as `cargo bench --bench ingest`
//! does) can disagree by more than the difference being measured; here both are measured in
//! every round, close in time, and the figure is the median of the per-round ratios.
//!
//! Run: `cargo bench -p auditlog-core --bench ingest_vs_parse` (prints; no thresholds).

#![allow(clippy::expect_used)]

mod support;

use std::hint::black_box;
use std::time::{Duration, Instant};

use auditlog_core::Timestamp;
use auditlog_core::ingest::{PreparedItem, parse_body, prepare_request};
use auditlog_core::redact::Redactor;
use auditlog_core::validate::{IngestContext, Limits};
use support::{batch_body, encode_valid, fixture_events};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const EVENTS: usize = 500;
const ROUNDS: usize = 41;
/// Each side of a round runs about this long.
const SLICE: Duration = Duration::from_millis(100);

/// Runs `f` for about `slice` and gives events per second.
fn rate(slice: Duration, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut iterations = 0u64;
    while start.elapsed() < slice {
        f();
        iterations += 1;
    }
    (iterations * EVENTS as u64) as f64 / start.elapsed().as_secs_f64()
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --all-targets` runs this too, in a debug
    // build, where three short rounds show that it works and say nothing about speed.
    let measuring = std::env::args().any(|a| a == "--bench");
    let (rounds, slice) = if measuring {
        (ROUNDS, SLICE)
    } else {
        (3, Duration::from_millis(5))
    };
    let body = batch_body(&fixture_events(), EVENTS);
    let limits = Limits::default();
    let redactor = Redactor::default();
    let ctx = IngestContext {
        tenant: "bench",
        received_at: Timestamp(1_795_305_600_000),
        limits: &limits,
        redactor: &redactor,
    };
    let mut ingest = || {
        let prepared =
            prepare_request(&body, &ctx, &mut || String::from("unused")).expect("valid body");
        assert!(prepared.iter().all(|p| matches!(p, PreparedItem::Valid(_))));
        black_box(encode_valid(&prepared, body.len()));
    };
    let mut parse = || {
        black_box(parse_body(&body, &limits).expect("valid body").1.len());
    };
    // `AUDITLOG_BENCH_ONLY=ingest` (or `parse`) runs one side alone for ten seconds, for a
    // profiler (`perf record`) to see that side only; with `AUDITLOG_BENCH_ITERATIONS=N`, N
    // batches exactly, for `valgrind --tool=callgrind`, whose instruction counts do not drift
    // with the machine as times do.
    let only: Option<&mut dyn FnMut()> = match std::env::var("AUDITLOG_BENCH_ONLY").as_deref() {
        Ok("ingest") => Some(&mut ingest),
        Ok("parse") => Some(&mut parse),
        _ => None,
    };
    if let Some(side) = only {
        match std::env::var("AUDITLOG_BENCH_ITERATIONS").map(|n| n.parse::<u64>()) {
            Ok(Ok(n)) => (0..n).for_each(|_| side()),
            _ => println!("{:.0} events/s", rate(10 * SLICE * 10, side)),
        }
        return;
    }
    // Warm up both (allocator pages, caches, branch predictors).
    rate(slice, &mut ingest);
    rate(slice, &mut parse);
    let (mut ingest_rates, mut parse_rates, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        // Alternate which goes first, so a drift within a round favours neither.
        let (i, p) = if round % 2 == 0 {
            let i = rate(slice, &mut ingest);
            (i, rate(slice, &mut parse))
        } else {
            let p = rate(slice, &mut parse);
            (rate(slice, &mut ingest), p)
        };
        ingest_rates.push(i);
        parse_rates.push(p);
        ratios.push(i / p);
    }
    let mut sorted = ratios.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "ingest_vs_parse/{EVENTS}x{}B, {rounds} alternating rounds of 2 x {} ms, one core",
        body.len() / EVENTS,
        slice.as_millis()
    );
    println!(
        "  ingest (parse+validate+redact+encode+receipt): median {:>7.1}k events/s",
        median(&mut ingest_rates) / 1e3
    );
    println!(
        "  bare serde_json::Value parse:                   median {:>7.1}k events/s",
        median(&mut parse_rates) / 1e3
    );
    println!(
        "  ingest / parse per round: median {:.3} (quartiles {:.3} .. {:.3}, range {:.3} .. {:.3})",
        median(&mut ratios),
        sorted[rounds / 4],
        sorted[rounds * 3 / 4],
        sorted[0],
        sorted[rounds - 1]
    );
}
