//! The stream delivery suite on the embedded SQLite store.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

auditlog_tests::stream_tests!(auditlog_tests::LocalBackend);
