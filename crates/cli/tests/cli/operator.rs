//! The operator's commands (keys here and in DynamoDB, policies, signing keys, purge, settings)
//! and their records in the tenant's log.

use std::process::Command;

use serde_json::Value;

use crate::common::{BIN, auditlog, auditlog_with, start_server};

/// Every change an operator makes at the CLI is recorded in the tenant's log with the OS user
/// and host as the actor, and a read through the API with the key that asked.
#[test]
fn operator_changes_are_recorded_in_the_tenants_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let out = dir.path().join("export");
    let env = [("USER", "ops-test")];
    let run = |args: &[&str]| {
        let (ok, stdout, stderr) = auditlog_with(&data, args, &env);
        assert!(ok, "{args:?}: {stderr}");
        stdout
    };
    let made = |stdout: String| -> (String, String) {
        let made: Value = serde_json::from_str(&stdout).expect("json");
        (
            made["key"].as_str().expect("key").to_string(),
            made["key_id"].as_str().expect("key id").to_string(),
        )
    };
    let (reader, reader_id) = made(run(&[
        "keys", "create", "--tenant", "acme", "--scopes", "read", "--label", "siem", "--json",
    ]));
    let (_, writer_id) = made(run(&["keys", "create", "--tenant", "acme", "--json"]));
    let added: Value = serde_json::from_str(&run(&[
        "destinations",
        "add",
        "--tenant",
        "acme",
        "--dir",
        out.to_str().expect("utf8"),
    ]))
    .expect("json");
    let destination = added["id"].as_str().expect("id").to_string();
    run(&["destinations", "verify", &destination]);
    run(&["destinations", "remove", &destination]);
    let link = run(&["console", "--tenant", "acme", "--display-name", "Grace"]);
    assert!(link.contains("/console/open?token=vsl_"), "{link}");
    run(&["keys", "revoke", &writer_id]);
    let (ok, _, stderr) = auditlog_with(&data, &["keys", "revoke", "0000000000000000"], &env);
    assert!(!ok && stderr.contains("no key"), "{stderr}");
    let (ok, _, stderr) = auditlog_with(
        &data,
        &[
            "keys",
            "create",
            "--tenant",
            "acme",
            "--label",
            "two\nlines",
        ],
        &env,
    );
    assert!(!ok && stderr.contains("--label:"), "{stderr}");

    let mut server = start_server(&data);
    let listed = run(&[
        "query",
        "--url",
        &server.url,
        "--key",
        &reader,
        "--action",
        "auditlog.*",
        "--all",
        "--format",
        "json",
    ]);
    let records: Vec<Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().expect("action"))
        .collect();
    assert_eq!(
        actions,
        [
            "auditlog.key.created",
            "auditlog.key.created",
            "auditlog.destination.added",
            "auditlog.destination.verified",
            "auditlog.destination.removed",
            "auditlog.viewer_session.issued",
            "auditlog.key.revoked",
        ],
        "one record per change, in order; the failed revoke changed nothing"
    );
    for record in &records {
        assert_eq!(record["tenant"], "acme");
        assert!(
            record["actor"]["id"]
                .as_str()
                .is_some_and(|id| id.starts_with("ops-test@")),
            "{record}"
        );
        assert_eq!(record["actor"]["type"], "user");
        assert_eq!(record["metadata"]["via"], "cli");
        assert!(!record.to_string().contains(&reader), "no key in a record");
    }
    assert_eq!(
        records[0]["targets"],
        serde_json::json!([{"id": reader_id, "type": "api_key", "name": "siem"}])
    );
    assert_eq!(
        records[0]["metadata"]["scopes"],
        serde_json::json!(["read"])
    );
    assert_eq!(records[2]["targets"][0]["id"], destination.as_str());
    assert_eq!(records[2]["metadata"]["destination_kind"], "directory");
    assert_eq!(records[3]["outcome"], "success");
    assert!(records[3]["metadata"]["wrote"].as_str().is_some());
    assert_eq!(records[5]["targets"][0]["name"], "Grace");
    assert_eq!(records[6]["targets"][0]["id"], writer_id.as_str());

    // The query above was itself recorded, with the reader's key as its actor.
    let again = run(&[
        "query",
        "--url",
        &server.url,
        "--key",
        &reader,
        "--action",
        "auditlog.events.listed",
        "--format",
        "json",
    ]);
    let read: Value = serde_json::from_str(again.lines().next().expect("a record")).expect("json");
    assert_eq!(read["actor"]["id"], reader_id.as_str());
    assert_eq!(read["metadata"]["filters"]["action"], "auditlog.*");
    assert_eq!(read["metadata"]["returned"], 7);
    let _ = server.child.kill();
    let _ = server.child.wait();
}

#[test]
fn bad_settings_are_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, _, stderr) = auditlog(dir.path(), &["serve", "--purge-schedule", "every day"]);
    assert!(
        !ok && stderr.contains("AUDITLOG_PURGE_SCHEDULE"),
        "{stderr}"
    );
    let (ok, _, stderr) = auditlog(dir.path(), &["serve", "--retention", "forever"]);
    assert!(!ok && stderr.contains("forever"), "{stderr}");
    let (ok, _, stderr) = auditlog(dir.path(), &["keys", "create", "--tenant", "Not Valid"]);
    assert!(!ok && stderr.contains("tenant"), "{stderr}");
    let (ok, _, stderr) = auditlog(
        dir.path(),
        &["keys", "create", "--tenant", "ok", "--scopes", "root"],
    );
    assert!(!ok && stderr.contains("unknown scope"), "{stderr}");
}

#[test]
fn purge_command_runs_one_pass() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (ok, stdout, stderr) = auditlog(dir.path(), &["purge"]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("purged 0 expired events"), "{stdout}");
}

#[test]
fn policy_commands_print_valid_iam_json() {
    let dir = tempfile::tempdir().expect("tempdir");
    let role = "arn:aws:iam::123456789012:role/auditlog-export";
    let (ok, stdout, stderr) = auditlog(
        dir.path(),
        &[
            "policy",
            "bucket",
            "--bucket",
            "acme-audit",
            "--principal",
            role,
            "--datasync",
        ],
    );
    assert!(ok, "{stderr}");
    let policy: Value = serde_json::from_str(&stdout).expect("bucket policy is JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    assert_eq!(policy["Statement"].as_array().map(Vec::len), Some(3));

    let (ok, stdout, stderr) = auditlog(
        dir.path(),
        &[
            "policy",
            "trust",
            "--vendor-role",
            role,
            "--external-id",
            "tenant-42",
        ],
    );
    assert!(ok, "{stderr}");
    let trust: Value = serde_json::from_str(&stdout).expect("trust policy is JSON");
    assert_eq!(
        trust["Statement"][0]["Condition"]["StringEquals"]["sts:ExternalId"],
        "tenant-42"
    );

    let (ok, _, stderr) = auditlog(
        dir.path(),
        &[
            "policy",
            "bucket",
            "--bucket",
            "Bad_Bucket",
            "--principal",
            role,
        ],
    );
    assert!(!ok && stderr.contains("bucket name"), "{stderr}");
}

/// `AUDITLOG_STORE=dynamodb` makes the same CLI manage keys in the deployed tables (here
/// DynamoDB Local, which scripts/test starts), named by the variables the functions read.
#[test]
fn keys_are_managed_in_dynamodb_when_selected() {
    assert!(
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_ok(),
        "set AWS_ENDPOINT_URL_DYNAMODB to a DynamoDB Local (scripts/test starts one)"
    );
    let run = format!("cli{}", std::process::id());
    let config = auditlog_aws::DynamoConfig {
        events_table: format!("{run}-events"),
        keys_table: format!("{run}-keys"),
        exports_table: format!("{run}-exports"),
        shards: 2,
    };
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let store = runtime.block_on(async {
        let store = auditlog_aws::DynamoStore::connect(config.clone()).await;
        auditlog_aws::tables::create_tables(store.client(), store.config())
            .await
            .expect("create tables");
        store
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let with_tables = |args: &[&str]| {
        let out = Command::new(BIN)
            .args(args)
            .env("AUDITLOG_STORE", "dynamodb")
            .env("AUDITLOG_EVENTS_TABLE", &config.events_table)
            .env("AUDITLOG_KEYS_TABLE", &config.keys_table)
            .env("AUDITLOG_DATA_DIR", dir.path())
            .output()
            .expect("run auditlog");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (ok, stdout, stderr) = with_tables(&[
        "keys", "create", "--tenant", "acme", "--scopes", "write", "--json",
    ]);
    assert!(ok, "{stderr}");
    let created: Value = serde_json::from_str(&stdout).expect("json");
    let key_id = created["key_id"].as_str().expect("key id").to_string();

    use auditlog_core::store::ApiKeyStore;
    let record = runtime
        .block_on(store.find_key(&key_id))
        .expect("lookup")
        .expect("the key is in the DynamoDB keys table");
    assert_eq!(record.tenant, "acme");
    assert!(auditlog_core::keys::key_matches(
        created["key"].as_str().expect("key"),
        &record.hash
    ));
    assert!(
        !dir.path().join("auditlog.sqlite3").exists(),
        "nothing was written to SQLite"
    );

    let (ok, stdout, _) = with_tables(&["keys", "list", "--json"]);
    assert!(ok && stdout.contains(&key_id), "{stdout}");
    let (ok, _, _) = with_tables(&["keys", "revoke", &key_id]);
    assert!(ok);
    let record = runtime
        .block_on(store.find_key(&key_id))
        .expect("lookup")
        .expect("still there");
    assert!(record.revoked_at.is_some());
}

/// `auditlog signing-keys`: none until needed; `public` makes the first; `rotate` adds one that
/// `list` marks current; `public` prints both, in the form `verify --public-keys` reads.
#[test]
fn signing_keys_are_listed_rotated_and_published() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path();
    let (ok, stdout, stderr) = auditlog(data, &["signing-keys", "list"]);
    assert!(
        ok && stdout.contains("no signing keys yet"),
        "{stdout}{stderr}"
    );
    let (ok, stdout, stderr) = auditlog(data, &["signing-keys", "public"]);
    assert!(ok, "{stderr}");
    let first: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(first["keys"].as_array().map(Vec::len), Some(1), "{first}");
    assert_eq!(first["keys"][0]["algorithm"], "Ed25519");
    let (ok, stdout, stderr) = auditlog(data, &["signing-keys", "rotate"]);
    assert!(
        ok && stdout.contains("new signing key ed25519-"),
        "{stdout}{stderr}"
    );
    let (ok, stdout, _) = auditlog(data, &["signing-keys", "list"]);
    assert!(ok);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    let first_id = first["keys"][0]["key_id"].as_str().expect("id");
    assert!(
        lines[0].starts_with(first_id) && !lines[0].contains("(current)"),
        "{stdout}"
    );
    assert!(lines[1].ends_with("(current)"), "{stdout}");
    let (ok, stdout, _) = auditlog(data, &["signing-keys", "public"]);
    assert!(ok);
    let both: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(both["keys"].as_array().map(Vec::len), Some(2), "{both}");
    assert!(!stdout.contains("seed"), "{stdout}");
    // What it prints is what the verifier takes.
    let keys_file = dir.path().join("keys.json");
    std::fs::write(&keys_file, &stdout).expect("write");
    let empty = tempfile::tempdir().expect("tempdir");
    let verify_empty = || {
        auditlog(
            data,
            &[
                "verify",
                empty.path().to_str().expect("utf8"),
                "--public-keys",
                keys_file.to_str().expect("utf8"),
            ],
        )
    };
    let (ok, _, stderr) = verify_empty();
    assert!(
        !ok && stderr.contains("no exported objects or digests"),
        "{stderr}"
    );
    std::fs::write(
        &keys_file,
        stdout.replace(first_id, "ed25519-0000000000000000"),
    )
    .expect("write");
    let (ok, _, stderr) = verify_empty();
    assert!(
        !ok && stderr.contains("not this key's fingerprint"),
        "{stderr}"
    );
}
