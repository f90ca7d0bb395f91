//! DynamoDB request units per event, measured rather than estimated: every request the store
//! sends asks for `ReturnConsumedCapacity=INDEXES` (an SDK interceptor sets it, so the store's
//! own code runs unchanged) and the units DynamoDB answers are summed per operation, for the
//! table and for each index. `scripts/bench-cost.sh` runs this against DynamoDB Local, which
//! computes units by DynamoDB's published rules (1 KB per write unit, 4 KB per read unit).
//!
//! For each event size (0.5, 1 and 4 KiB of stored JSON):
//! - ingest: `POST /v1/events` through the real router on the DynamoDB store, in batches of 1,
//!   25 and 100 events (the key lookup each request makes is counted);
//! - export: one export pass of those events to a directory, as the export function runs it
//!   (queries of the time index, export state, destinations).
//!
//! Prints one line per figure (`units/event`), which docs/cost.md quotes.
//! Arguments: `[events per batch size]`, default 300.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a benchmark harness: a panic is a failure

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use auditlog_core::Timestamp;
use auditlog_core::export::{Destination, ExportConfig, Target};
use auditlog_export::engine::{SinkFactory as _, export_destination};
use auditlog_tests::TestService;
use aws_sdk_dynamodb::config::interceptors::{
    AfterDeserializationInterceptorContextRef, BeforeSerializationInterceptorContextMut,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::error::BoxError;
use aws_sdk_dynamodb::operation;
use aws_sdk_dynamodb::types::{ConsumedCapacity, ReturnConsumedCapacity};
use serde_json::json;

/// Units per (operation, table or `table/index`), and requests per operation.
#[derive(Debug, Default)]
struct Tally {
    units: BTreeMap<(String, String), f64>,
    requests: BTreeMap<String, u64>,
}

#[derive(Debug, Clone, Default)]
struct Meter(Arc<Mutex<Tally>>);

impl Meter {
    fn take(&self) -> Tally {
        std::mem::take(&mut *self.0.lock().unwrap())
    }

    fn record(&self, operation: &str, consumed: &[ConsumedCapacity]) {
        let mut tally = self.0.lock().unwrap();
        *tally.requests.entry(operation.to_string()).or_default() += 1;
        for c in consumed {
            let table = c.table_name().unwrap_or("?").to_string();
            if let Some(units) = c.table().and_then(|t| t.capacity_units()) {
                *tally
                    .units
                    .entry((operation.to_string(), table.clone()))
                    .or_default() += units;
            }
            for (index, capacity) in c.global_secondary_indexes().into_iter().flatten() {
                *tally
                    .units
                    .entry((operation.to_string(), format!("{table}/{index}")))
                    .or_default() += capacity.capacity_units().unwrap_or(0.0);
            }
        }
    }
}

/// Sets `ReturnConsumedCapacity` on every operation the store uses.
macro_rules! ask_for_capacity {
    ($input:expr, $($module:ident :: $ty:ident),+) => {
        $(
            if let Some(i) = $input.downcast_mut::<operation::$module::$ty>() {
                i.return_consumed_capacity = Some(ReturnConsumedCapacity::Indexes);
            }
        )+
    };
}

/// Reads the consumed capacity of each operation's output.
macro_rules! read_capacity {
    ($meter:expr, $output:expr, $($module:ident :: $ty:ident => $name:literal, $many:tt),+) => {
        $(
            if let Some(o) = $output.downcast_ref::<operation::$module::$ty>() {
                read_capacity!(@one $meter, o, $name, $many);
            }
        )+
    };
    (@one $meter:expr, $o:expr, $name:literal, false) => {
        $meter.record($name, $o.consumed_capacity.as_slice())
    };
    (@one $meter:expr, $o:expr, $name:literal, true) => {
        $meter.record($name, $o.consumed_capacity.as_deref().unwrap_or_default())
    };
}

impl Intercept for Meter {
    fn name(&self) -> &'static str {
        "capacity-meter"
    }

    fn modify_before_serialization(
        &self,
        context: &mut BeforeSerializationInterceptorContextMut<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let input = context.input_mut();
        ask_for_capacity!(
            input,
            put_item::PutItemInput,
            get_item::GetItemInput,
            query::QueryInput,
            scan::ScanInput,
            update_item::UpdateItemInput,
            delete_item::DeleteItemInput,
            transact_write_items::TransactWriteItemsInput
        );
        Ok(())
    }

    fn read_after_deserialization(
        &self,
        context: &AfterDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Ok(output) = context.output_or_error() else {
            return Ok(());
        };
        read_capacity!(self, output,
            put_item::PutItemOutput => "PutItem", false,
            get_item::GetItemOutput => "GetItem", false,
            query::QueryOutput => "Query", false,
            scan::ScanOutput => "Scan", false,
            update_item::UpdateItemOutput => "UpdateItem", false,
            delete_item::DeleteItemOutput => "DeleteItem", false,
            transact_write_items::TransactWriteItemsOutput => "TransactWriteItems", true
        );
        Ok(())
    }
}

async fn metered_store(meter: &Meter) -> auditlog_aws::DynamoStore {
    let shared = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .load()
        .await;
    let config = aws_sdk_dynamodb::config::Builder::from(&shared)
        .interceptor(meter.clone())
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let store = auditlog_aws::DynamoStore::new(client, auditlog_tests::DynamoBackend::config());
    auditlog_aws::tables::create_tables(store.client(), store.config())
        .await
        .expect("create tables");
    store
}

/// An event whose stored JSON is about `size` bytes.
fn event(id: &str, size: usize) -> serde_json::Value {
    let mut e = json!({"id": id, "action": "document.update",
        "actor": {"id": "user-42", "email": "ada@example.com"},
        "targets": [{"type": "document", "id": "doc-7"}],
        "context": {"ip_address": "203.0.113.24", "user_agent": "bench/1.0"},
        "metadata": {"pad": ""}});
    // The stored form adds tenant, schema_version and the two times (about 110 bytes). The pad
    // is hex from a hash of the id: it compresses about as well as real identifiers do, where a
    // run of one letter would flatter the gzip figure.
    let base = e.to_string().len() + 110;
    let mut pad = String::new();
    let mut h: u64 = id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    while pad.len() < size.saturating_sub(base) {
        h = h
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        pad.push_str(&format!("{:016x}", h));
    }
    pad.truncate(size.saturating_sub(base));
    e["metadata"]["pad"] = json!(pad);
    e
}

/// Published us-east-1 prices (checked 2026-12): DynamoDB on-demand, Lambda on arm64, HTTP API,
/// S3 Standard PUT.
const WRITE_UNIT: f64 = 0.625 / 1e6;
const READ_UNIT: f64 = 0.125 / 1e6;
const LAMBDA_GB_SECOND: f64 = 0.000_013_333_4;
const LAMBDA_REQUEST: f64 = 0.20 / 1e6;
const HTTP_API_REQUEST: f64 = 1.00 / 1e6;
const S3_PUT: f64 = 0.005 / 1e3;
/// S3 PUTs per million events: one object per 5-minute window (the template's) and one digest
/// per hour, for a tenant sending a million events a day. Fewer events a day cost more PUTs per
/// event; the export writes one object per window that has events, whatever their number.
const S3_PUTS_PER_MILLION: f64 = 288.0 + 24.0;
/// The functions' memory in template.yaml, GB.
const INGEST_GB: f64 = 0.25;
const EXPORT_GB: f64 = 0.5;

fn is_write(operation: &str) -> bool {
    !matches!(operation, "GetItem" | "Query" | "Scan")
}

/// Write and read units per event.
fn units(tally: &Tally, events: usize) -> (f64, f64) {
    let (mut write, mut read) = (0.0, 0.0);
    for ((op, _), units) in &tally.units {
        if is_write(op) {
            write += units;
        } else {
            read += units;
        }
    }
    (write / events as f64, read / events as f64)
}

fn detail(what: &str, events: usize, tally: &Tally) {
    println!("{what}:");
    for ((op, table), units) in &tally.units {
        let table = table.split_once('-').map_or(table.as_str(), |(_, t)| t);
        println!(
            "  {op} on {table}: {:.3} units/event ({} requests)",
            units / events as f64,
            tally.requests.get(op).unwrap_or(&0)
        );
    }
}

struct Ingested {
    write_units: f64,
    read_units: f64,
    /// Wall time per request through the router on DynamoDB Local, seconds.
    seconds_per_request: f64,
}

async fn ingest(
    meter: &Meter,
    service: &TestService,
    key: &str,
    size: usize,
    batch: usize,
    n: usize,
) -> Ingested {
    meter.take();
    let requests = n.div_ceil(batch);
    let mut elapsed = 0.0;
    for b in 0..requests {
        let events: Vec<_> = (0..batch)
            .map(|i| event(&format!("s{size}-b{batch}-{b}-{i}"), size))
            .collect();
        let body = json!({ "events": events });
        let start = std::time::Instant::now();
        let (status, answer) = service.post_events(key, &body).await;
        elapsed += start.elapsed().as_secs_f64();
        assert_eq!(status, 201, "{answer}");
    }
    let tally = meter.take();
    let events = requests * batch;
    detail(
        &format!("ingest, {size} B events, {batch} per request"),
        events,
        &tally,
    );
    let (write_units, read_units) = units(&tally, events);
    Ingested {
        write_units,
        read_units,
        seconds_per_request: elapsed / requests as f64,
    }
}

/// The design change docs/cost.md weighs, measured: one stored event item written again (under
/// a new key, so it is a fresh write) as it is, and with its `body` gzip-compressed into a binary
/// attribute; the write units DynamoDB charges each, table and time index together.
async fn compressed_body_units(
    store: &auditlog_aws::DynamoStore,
    tenant: &str,
    id: &str,
) -> (f64, f64) {
    use aws_sdk_dynamodb::primitives::Blob;
    use aws_sdk_dynamodb::types::AttributeValue;
    let table = &store.config().events_table;
    let key = auditlog_aws::layout::event_key(tenant, id);
    let found = store
        .client()
        .get_item()
        .table_name(table)
        .key("pk", AttributeValue::S(key.clone()))
        .key(
            "sk",
            AttributeValue::S(auditlog_aws::layout::EVENT_SK.into()),
        )
        .send()
        .await
        .unwrap();
    let item = found.item().expect("the stored event").clone();
    let units = |mut item: std::collections::HashMap<String, AttributeValue>, suffix: &str| {
        item.insert("pk".into(), AttributeValue::S(format!("{key}#{suffix}")));
        let client = store.client().clone();
        let table = table.clone();
        async move {
            let out = client
                .put_item()
                .table_name(table)
                .set_item(Some(item))
                .return_consumed_capacity(ReturnConsumedCapacity::Total)
                .send()
                .await
                .unwrap();
            out.consumed_capacity()
                .and_then(|c| c.capacity_units())
                .unwrap_or(0.0)
        }
    };
    let as_stored = units(item.clone(), "copy").await;
    let body = item["body"].as_s().unwrap().clone();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, body.as_bytes()).unwrap();
    let mut compressed = item;
    compressed.insert(
        "body".into(),
        AttributeValue::B(Blob::new(gz.finish().unwrap())),
    );
    (as_stored, units(compressed, "gzip").await)
}

struct Exported {
    write_units: f64,
    read_units: f64,
    seconds_per_event: f64,
    /// Stored JSON and its gzip size, bytes per event (what a compressed body would store).
    json_bytes: f64,
    gzip_bytes: f64,
}

async fn export(
    meter: &Meter,
    store: &auditlog_aws::DynamoStore,
    size: usize,
    events: usize,
) -> Exported {
    let out = tempfile::tempdir().unwrap();
    let destination = Destination::new(
        format!("dst_cost_{size}"),
        format!("cost{size}"),
        Target::Directory {
            path: out.path().display().to_string(),
            prefix: "audit/".into(),
        },
        Timestamp(auditlog_tests::now_ms()),
    );
    auditlog_tests::add_destination(store, &destination).await;
    let sinks = auditlog_export::Sinks::without_aws();
    let sink = sinks.sink_for(&destination).await.unwrap();
    // The template's settings, but a 1-minute window with no grace so the run needs no wait.
    let config = ExportConfig {
        window_ms: 60_000,
        grace_ms: 0,
        max_object_bytes: 64 << 20,
        lease_ms: 600_000,
        owner: "cost".into(),
        concurrency: 1,
        max_windows_per_pass: 1000,
        digest_period_ms: 3_600_000,
    };
    meter.take();
    // Every window up to a minute from now is closed.
    let now = Timestamp(auditlog_tests::now_ms() + 120_000);
    let start = std::time::Instant::now();
    let report = export_destination(store, sink.as_ref(), &destination, &config, now).await;
    let seconds = start.elapsed().as_secs_f64();
    assert_eq!(report.error, None);
    let tally = meter.take();
    detail(&format!("export, {size} B events"), events, &tally);
    let (write_units, read_units) = units(&tally, events);
    let sample = event("sample-id-0000", size).to_string();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, sample.as_bytes()).unwrap();
    Exported {
        write_units,
        read_units,
        seconds_per_event: seconds / events as f64,
        json_bytes: sample.len() as f64 + 110.0,
        gzip_bytes: gz.finish().unwrap().len() as f64,
    }
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(300);
    let meter = Meter::default();
    let store = Arc::new(metered_store(&meter).await);
    let service = TestService::start_with_store(store.clone()).await;
    let mut rows = Vec::new();
    for size in [512, 1024, 4096] {
        let tenant = format!("cost{size}");
        let key = service.key(&tenant, "write").await;
        let mut stored = 0;
        let mut ingested = Vec::new();
        for batch in [1, 25, 100] {
            ingested.push((batch, ingest(&meter, &service, &key, size, batch, n).await));
            stored += n.div_ceil(batch) * batch;
        }
        let exported = export(&meter, &store, size, stored).await;
        let compressed = compressed_body_units(&store, &tenant, &format!("s{size}-b1-0-0")).await;
        rows.push((size, ingested, exported, compressed));
    }
    println!();
    println!(
        "per million events (us-east-1 prices in the source; Lambda durations measured here, on DynamoDB Local):"
    );
    println!(
        "| event | per request | DynamoDB write units | DynamoDB read units | DynamoDB $ | Lambda $ | HTTP API $ | S3 $ | total $ |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for (size, ingested, exported, _) in &rows {
        for (batch, i) in ingested {
            let write = (i.write_units + exported.write_units) * 1e6;
            let read = (i.read_units + exported.read_units) * 1e6;
            let dynamodb = write * WRITE_UNIT + read * READ_UNIT;
            let requests = 1e6 / *batch as f64;
            let lambda = requests
                * (i.seconds_per_request * INGEST_GB * LAMBDA_GB_SECOND + LAMBDA_REQUEST)
                + 1e6 * exported.seconds_per_event * EXPORT_GB * LAMBDA_GB_SECOND;
            let api = requests * HTTP_API_REQUEST;
            let s3 = S3_PUTS_PER_MILLION * S3_PUT;
            println!(
                "| {size} B | {batch} | {write:.0} | {read:.0} | {dynamodb:.3} | {lambda:.3} | {api:.3} | {s3:.4} | {:.3} |",
                dynamodb + lambda + api + s3
            );
        }
    }
    println!();
    for (size, ingested, exported, (as_stored, compressed)) in &rows {
        println!(
            "{size} B: one event item rewritten: {as_stored} write units as stored, {compressed} with its body gzip-compressed (table and time index)"
        );
        println!(
            "{size} B: ingest {:.1} ms per request of 1, {:.1} ms of 25, {:.1} ms of 100; export {:.3} ms per event; stored JSON {:.0} B, gzip {:.0} B",
            ingested[0].1.seconds_per_request * 1e3,
            ingested[1].1.seconds_per_request * 1e3,
            ingested[2].1.seconds_per_request * 1e3,
            exported.seconds_per_event * 1e3,
            exported.json_bytes,
            exported.gzip_bytes
        );
    }
}
