//! `auditlog-edge`: a `wasi:http/incoming-handler` component that takes `POST /v1/events` next
//! to the sender, answers bad input itself with the API's own answers, masks secrets, forwards
//! the valid events to the regional API (`AUDITLOG_ORIGIN_URL`) and relays its answer
//! (docs/edge.md).
//!
//! # Layout
//!
//! - [`config`]: settings from the environment (pure, tested natively).
//! - `component`: the exported handler: read, decide (`auditlog_core::edge`), answer.
//! - `origin`: the outgoing call to the regional API, under one deadline.
//! - `streams`: bounded reads and writes of WASI streams, with a deadline.
//!
//! Only `config` builds natively; the rest is for `--target wasm32-wasip2`.

pub mod config;

#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
mod component;
#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
mod origin;
#[cfg(all(target_arch = "wasm32", target_env = "p2"))]
mod streams;
