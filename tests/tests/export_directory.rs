//! The exactly-once export behaviours on a local directory, on the SQLite store (local mode).

auditlog_tests::export_tests!(auditlog_tests::export_suite::DirectoryOnSqlite);
