//! Destinations added by flag (Azure, checked as Azure would) and declared in the
//! configuration (registered once, never repointed).

use std::time::Duration;

use serde_json::Value;

use crate::common::{auditlog, auditlog_with, create_key, send, start_server_with};
use crate::export::exported_ids;

/// An Azure destination at the CLI: every bad field named by its flag, and the credential kept
/// as the reference it was given, never its value.
#[test]
fn azure_destinations_are_checked_by_flag_and_keep_references() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let (ok, _, stderr) = auditlog(
        &data,
        &[
            "destinations",
            "add",
            "--tenant",
            "acme",
            "--azure-account",
            "Bad_Name",
            "--azure-container=-x",
            "--azure-endpoint",
            "http://collector.example",
            "--azure-sas-env",
            "lower",
        ],
    );
    assert!(!ok, "{stderr}");
    for flag in [
        "--azure-account:",
        "--azure-container:",
        "--azure-endpoint:",
        "--azure-sas-env/--azure-sas-file:",
    ] {
        assert!(stderr.contains(flag), "{flag} in {stderr}");
    }
    let (ok, _, stderr) = auditlog(
        &data,
        &[
            "destinations",
            "add",
            "--tenant",
            "acme",
            "--azure-account",
            "acmeaudit",
            "--azure-container",
            "audit",
        ],
    );
    assert!(
        !ok && stderr.contains("azure"),
        "a credential is required: {stderr}"
    );
    let (ok, stdout, stderr) = auditlog_with(
        &data,
        &[
            "destinations",
            "add",
            "--tenant",
            "acme",
            "--azure-account",
            "acmeaudit",
            "--azure-container",
            "audit-log",
            "--azure-key-env",
            "ACME_AZURE_KEY",
        ],
        &[("ACME_AZURE_KEY", "c2VjcmV0LWtleS12YWx1ZQ==")],
    );
    assert!(ok, "{stderr}");
    let added: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        added["azure"]["credential"],
        serde_json::json!({"kind": "shared_key", "key": {"env": "ACME_AZURE_KEY"}})
    );
    assert!(!stdout.contains("c2VjcmV0LWtleS12YWx1ZQ=="), "{stdout}");
}

/// On-prem: a destination declared in the environment (or a file) is registered at the first
/// start, exported to on the declared cron schedule, kept at every start after, and never
/// silently replaced; a bad declaration stops the start, naming the variable and the field.
#[test]
fn a_declared_destination_is_registered_once_and_never_repointed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = dir.path().join("export");
    let serve =
        |env: &[(&str, &str)]| auditlog_with(&data, &["serve", "--listen", "127.0.0.1:0"], env);

    let (ok, _, stderr) = serve(&[(
        "AUDITLOG_DESTINATION",
        r#"{"tenant": "On Prem", "target": {"kind": "directory", "path": "relative", "prefix": "../up"}}"#,
    )]);
    assert!(!ok, "{stderr}");
    for named in [
        "AUDITLOG_DESTINATION:",
        "/tenant:",
        "/target/path:",
        "/target/prefix:",
    ] {
        assert!(stderr.contains(named), "{named} in {stderr}");
    }
    let (ok, _, stderr) = serve(&[("AUDITLOG_DESTINATION", "{not json")]);
    assert!(
        !ok && stderr.contains("AUDITLOG_DESTINATION: not a destination declaration"),
        "{stderr}"
    );
    let (ok, _, stderr) = serve(&[("AUDITLOG_EXPORT_SCHEDULE", "every hour")]);
    assert!(
        !ok && stderr.contains("AUDITLOG_EXPORT_SCHEDULE"),
        "{stderr}"
    );

    let declaration = dir.path().join("destination.json");
    let declare = |prefix: &str| {
        std::fs::write(
            &declaration,
            format!(
                r#"{{"id": "dst_onprem", "tenant": "onprem", "target": {{"kind": "directory", "path": "{}", "prefix": "{prefix}"}}}}"#,
                out.display()
            ),
        )
        .expect("write declaration");
    };
    declare("user-events-audit/");
    let file = declaration.to_str().expect("utf8").to_string();
    let env = [
        ("AUDITLOG_DESTINATION_FILE", file.as_str()),
        // Every second, with a seconds field, as on-prem schedules are written.
        ("AUDITLOG_EXPORT_SCHEDULE", "*/1 * * * * *"),
        ("AUDITLOG_EXPORT_WINDOW", "1s"),
        ("AUDITLOG_EXPORT_GRACE", "1s"),
    ];
    let key = create_key(&data, "onprem");
    let mut server = start_server_with(&data, &env);
    send(
        &data,
        &server,
        &key,
        &["--id", "onprem-1", "--action", "doc.read"],
        &[],
    );
    let mut ids = exported_ids(&out);
    for _ in 0..100 {
        if ids.contains_key("onprem-1") {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
        ids = exported_ids(&out);
    }
    assert_eq!(
        ids.get("onprem-1"),
        Some(&1),
        "exported on the declared schedule: {ids:?}"
    );
    assert_eq!(
        ids.get("auditlog.destination.added"),
        Some(&1),
        "its registration was recorded in the tenant's log: {ids:?}"
    );
    let _ = server.child.kill();
    let _ = server.child.wait();

    // The same declaration again: kept, not added twice.
    let mut again = start_server_with(&data, &env);
    let _ = again.child.kill();
    let _ = again.child.wait();
    let (ok, stdout, _) = auditlog(&data, &["destinations", "list"]);
    assert!(ok);
    let listed: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        listed["destinations"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );

    // Another target under the same id is refused, and the stored one stays.
    declare("elsewhere/");
    let (ok, _, stderr) = serve(&env);
    assert!(
        !ok && stderr.contains("AUDITLOG_DESTINATION_FILE: destination dst_onprem is stored with another tenant or target"),
        "{stderr}"
    );
}
