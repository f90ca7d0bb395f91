//! `template.yaml` against the code: every function names a binary the workspace builds, every
//! `AUDITLOG_*` variable a function reads is set for it (and nothing stale is set), the TTL
//! attribute is the one the store writes, and the backlog alarm watches the metric the export
//! function publishes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use serde_yaml::Value;

fn template() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../template.yaml");
    serde_yaml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The binaries of the workspace's packages, from `cargo metadata`.
fn workspace_binaries() -> BTreeSet<String> {
    let out = std::process::Command::new(env!("CARGO"))
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|p| p["targets"].as_array().unwrap().iter())
        .filter(|t| t["kind"].as_array().unwrap().iter().any(|k| k == "bin"))
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect()
}

fn variables(section: &Value) -> BTreeSet<String> {
    section["Environment"]["Variables"]
        .as_mapping()
        .map(|m| m.keys().map(|k| k.as_str().unwrap().to_string()).collect())
        .unwrap_or_default()
}

/// Function logical id → (binary, the variables the template sets for it).
fn functions(template: &Value) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let globals = variables(&template["Globals"]["Function"]);
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::Serverless::Function")
        .map(|(id, r)| {
            assert_eq!(r["Metadata"]["BuildMethod"], "rust-cargolambda", "{id:?}");
            let binary = r["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .expect("BuildProperties.Binary names the binary")
                .to_string();
            let mut set = globals.clone();
            set.extend(variables(&r["Properties"]));
            (id.as_str().unwrap().to_string(), (binary, set))
        })
        .collect()
}

#[test]
fn every_function_is_a_workspace_binary_with_every_variable_it_reads() {
    let template = template();
    let functions = functions(&template);
    let binaries = workspace_binaries();
    let reads: BTreeMap<&str, Vec<String>> = BTreeMap::from([
        ("auditlog-ingest", auditlog_ingest::env_names()),
        ("auditlog-export", auditlog_export_fn::env_names()),
    ]);
    assert_eq!(
        functions
            .values()
            .map(|(b, _)| b.as_str())
            .collect::<BTreeSet<_>>(),
        reads.keys().copied().collect::<BTreeSet<_>>(),
        "the template deploys exactly the two functions"
    );
    for (id, (binary, set)) in &functions {
        assert!(
            binaries.contains(binary),
            "{id}: no binary {binary} in {binaries:?}"
        );
        let needed = &reads[binary.as_str()];
        let missing: Vec<_> = needed.iter().filter(|n| !set.contains(*n)).collect();
        assert!(
            missing.is_empty(),
            "{id} ({binary}) reads {missing:?}, which the template does not set"
        );
        let stale: Vec<_> = set
            .iter()
            .filter(|n| n.starts_with("AUDITLOG_") && !needed.contains(n))
            .collect();
        // Globals apply to both; an export-only setting on the ingest function would be stale.
        assert!(
            stale.is_empty(),
            "{id} ({binary}) is given {stale:?}, which it never reads"
        );
    }
    // The functions are arm64 on provided.al2023, with the bootstrap handler.
    let global = &template["Globals"]["Function"];
    assert_eq!(global["Runtime"], "provided.al2023");
    assert_eq!(global["Handler"], "bootstrap");
    assert_eq!(global["Architectures"][0], "arm64");
}

#[test]
fn tables_match_what_the_store_writes() {
    let template = template();
    let events = &template["Resources"]["EventsTable"]["Properties"];
    assert_eq!(
        events["TimeToLiveSpecification"]["AttributeName"],
        auditlog_aws::layout::TTL_ATTRIBUTE
    );
    assert_eq!(events["TimeToLiveSpecification"]["Enabled"], true);
    assert_eq!(
        events["GlobalSecondaryIndexes"][0]["IndexName"],
        auditlog_aws::layout::TIME_INDEX
    );
    for table in ["EventsTable", "KeysTable", "ExportsTable"] {
        let resource = &template["Resources"][table];
        assert_eq!(resource["DeletionPolicy"], "Retain", "{table}");
        assert_eq!(
            resource["Properties"]["BillingMode"], "PAY_PER_REQUEST",
            "{table}"
        );
        assert_eq!(
            resource["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
            true,
            "{table}"
        );
    }
}

#[test]
fn the_backlog_alarm_watches_the_metric_the_export_function_publishes() {
    let template = template();
    let alarm = &template["Resources"]["ExportBacklogAgeAlarm"]["Properties"];
    let (namespace, name) = auditlog_export_fn::BACKLOG_METRIC;
    assert_eq!(alarm["Namespace"], namespace);
    assert_eq!(alarm["MetricName"], name);
    let alarm = &template["Resources"]["StreamBacklogAgeAlarm"]["Properties"];
    let (namespace, name) = auditlog_export_fn::STREAM_BACKLOG_METRIC;
    assert_eq!(alarm["Namespace"], namespace);
    assert_eq!(alarm["MetricName"], name);
}
