//! The exactly-once export behaviours on Azure Blob Storage (the Azurite emulator, shared key),
//! on the SQLite store; then what is particular to Azure: SAS tokens, and every refusal with a
//! precise message and hint.

auditlog_tests::export_tests!(auditlog_tests::azure_rig::AzuriteOnSqlite);
