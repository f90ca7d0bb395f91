//! The edge's whole decision for one request body, natively: what `jco serve` runs as
//! WebAssembly, without the host. `scripts/bench-edge.sh` prints its figure beside the served
//! ones.
//!
//!     cargo run --release -p auditlog-edge --example decide -- BODY.json [RUNS]

use std::time::Instant;

use auditlog_core::edge::{Decision, decide};
use auditlog_core::redact::Redactor;
use auditlog_core::validate::Limits;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args.next().ok_or("usage: decide BODY.json [RUNS]")?;
    let runs: usize = args.next().map(|n| n.parse()).transpose()?.unwrap_or(200);
    let body = std::fs::read(path)?;
    let (limits, redactor) = (Limits::default(), Redactor::default());
    let started = Instant::now();
    let mut events = 0usize;
    for run in 0..runs {
        let now = 1_795_305_600_000 + i64::try_from(run)?;
        match decide(&body, &limits, &redactor, now, &format!("bench-{run}")) {
            Decision::Forward { pending, .. } => events += pending.items().len(),
            Decision::Answer(answer) => {
                return Err(format!("not forwarded: {}", answer.body).into());
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{{\"runs\":{runs},\"events\":{events},\"seconds\":{seconds:.3},\"events_per_second\":{:.0}}}",
        events as f64 / seconds.max(1e-9)
    );
    Ok(())
}
