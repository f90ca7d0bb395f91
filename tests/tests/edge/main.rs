//! The edge component, served by real `wasi:http` hosts (`jco serve` and `wasmtime serve`,
//! each test under both), in front of a real `auditlog serve`:
//!
//! - for every request the edge answers itself (request-level errors, a batch with nothing
//!   valid), its answer is the API's for the same request, byte for byte, and the origin never
//!   saw the request (its request log says so);
//! - for the rest, the answer is the API's but for the ids the edge assigned and the receipts
//!   (which cover the tenant and the time received), and what is stored is what the edge
//!   forwarded: masked, read back through the API;
//! - a slow, unreachable or vanishing origin gets a `504` or `502` in the API's error shape.
//!
//! The test builds the component (`wasm32-wasip2`, release, as deployed) and needs both hosts:
//! scripts/jco.sh (npm) and scripts/wasmtime.sh (crates.io) install them and set
//! `AUDITLOG_TEST_JCO` and `AUDITLOG_TEST_WASMTIME`.
//!
//! Here: the harness (the component's build, the cases, sending them) and the run under each
//! host; the behaviours in `answers` (what the edge answers, forwards and stores) and
//! `connections` (connections kept, routes refused, origins failing, settings).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use auditlog_tests::processes::{Host, Served};
use auditlog_tests::{fixture_json, fixtures, valid_fixture_events};
use serde_json::Value;

mod answers;
mod connections;

use answers::*;
use connections::*;

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Builds the component once per test run and returns its path.
fn component() -> &'static PathBuf {
    static COMPONENT: OnceLock<PathBuf> = OnceLock::new();
    COMPONENT.get_or_init(|| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .current_dir(workspace())
            .args([
                "build",
                "-p",
                "auditlog-edge",
                "--target",
                "wasm32-wasip2",
                "--release",
            ])
            .status()
            .expect("run cargo");
        assert!(
            status.success(),
            "building the edge component failed (is the wasm32-wasip2 target installed?)"
        );
        let target_dir = std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| workspace().join("target"));
        let path = target_dir.join("wasm32-wasip2/release/auditlog_edge.wasm");
        assert!(path.exists(), "{} missing", path.display());
        path
    })
}

/// One request, as a client sends it.
struct Case {
    name: String,
    method: String,
    path: String,
    content_type: Option<&'static str>,
    /// `None`: no `Authorization` header; `Some("")`: the test's key.
    authorization: Option<String>,
    body: Vec<u8>,
}

impl Case {
    fn post(name: impl Into<String>, body: impl Into<Vec<u8>>) -> Case {
        Case {
            name: name.into(),
            method: "POST".into(),
            path: "/v1/events".into(),
            content_type: Some("application/json"),
            authorization: Some(String::new()),
            body: body.into(),
        }
    }
}

struct Answer {
    status: u16,
    headers: reqwest::header::HeaderMap,
    body: String,
}

async fn send(client: &reqwest::Client, base: &str, key: &str, case: &Case, rid: &str) -> Answer {
    let method = reqwest::Method::from_bytes(case.method.as_bytes()).unwrap();
    let mut request = client
        .request(method, format!("{base}{}", case.path))
        .header("x-request-id", rid)
        .body(case.body.clone());
    if let Some(ct) = case.content_type {
        request = request.header("content-type", ct);
    }
    match case.authorization.as_deref() {
        Some("") => request = request.header("authorization", format!("Bearer {key}")),
        Some(other) => request = request.header("authorization", other),
        None => {}
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("{} ({rid}) to {base}: {e:?}", case.name));
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    Answer {
        status,
        headers,
        body: response.text().await.unwrap(),
    }
}

/// An event read back through the API.
async fn read_event(client: &reqwest::Client, origin: &Served, key: &str, id: &str) -> Value {
    client
        .get(format!("{}/v1/events/{id}", origin.url))
        .bearer_auth(key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn valid_events() -> Vec<Value> {
    valid_fixture_events()
}

fn invalid_events() -> Vec<Value> {
    fixture_json("invalid-events.json")
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["event"].clone())
        .collect()
}

#[test]
fn the_spin_manifest_serves_every_route_from_the_built_component() {
    let text = std::fs::read_to_string(workspace().join("functions/edge/spin.toml")).unwrap();
    let manifest: toml::Table = toml::from_str(&text).unwrap();
    assert_eq!(manifest["spin_manifest_version"].as_integer(), Some(2));
    let trigger = &manifest["trigger"]["http"][0];
    assert_eq!(
        trigger["route"].as_str(),
        Some("/..."),
        "the component answers every route"
    );
    let name = trigger["component"].as_str().unwrap();
    let component = &manifest["component"][name];
    // The source is where the build command puts the component.
    let source = workspace()
        .join("functions/edge")
        .join(component["source"].as_str().unwrap());
    let built = component["build"]["command"].as_str().unwrap();
    assert!(built.contains("--target wasm32-wasip2") && built.contains("--release"));
    assert!(
        source.ends_with("target/wasm32-wasip2/release/auditlog_edge.wasm"),
        "{}",
        source.display()
    );
    // The component may reach the origin's host and nothing else.
    let origin = component["environment"]["AUDITLOG_ORIGIN_URL"]
        .as_str()
        .unwrap();
    let allowed: Vec<&str> = component["allowed_outbound_hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h.as_str().unwrap())
        .collect();
    assert_eq!(allowed, vec![origin]);
}

/// Every behaviour above, under each host.
macro_rules! under_each_host {
    ($($name:ident),* $(,)?) => {
        mod jco {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Host::Jco).await
                }
            )*
        }
        mod wasmtime {
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(Host::Wasmtime).await
                }
            )*
        }
    };
}

under_each_host!(
    the_edge_answers_as_the_api_and_forwards_only_valid_events,
    what_the_edge_forwards_is_stored_masked_and_read_back_through_the_api,
    a_retried_request_stores_each_event_once_and_keys_are_the_origins_to_check,
    full_batches_cross_intact_request_after_request,
    a_refused_request_leaves_the_connection_usable,
    other_routes_are_refused_in_the_apis_shape,
    a_slow_unreachable_or_vanishing_origin_gets_a_gateway_error_not_a_trap,
    limits_and_settings_come_from_the_same_variables_as_the_api,
);
