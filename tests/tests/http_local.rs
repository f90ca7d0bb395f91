//! The HTTP behaviour suite against the embedded SQLite store (local mode).

auditlog_tests::suite_tests!(auditlog_tests::LocalBackend);
