//! An object store's compression and filter from the command line and from a declaration:
//! chosen when the destination is added, applied by `auditlog export` (`.ndjson.zst` objects,
//! only the admitted events), read back by `auditlog verify`, and never changed by a later
//! declaration.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

mod common;

use common::{auditlog, auditlog_with, create_key, start_server_with};

/// Every export object under `root`, by relative path, with its bytes.
fn objects(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut found = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.to_string_lossy().to_string();
            if path.is_dir() {
                stack.push(path);
            } else if name.ends_with(".ndjson.gz") || name.ends_with(".ndjson.zst") {
                found.push((name, std::fs::read(&path).unwrap()));
            }
        }
    }
    found.sort();
    found
}

/// `auditlog destinations add --tenant demo --dir OUT` with `flags`.
fn add_directory(data: &Path, out: &Path, flags: &[&str]) -> (bool, String, String) {
    let mut args = vec![
        "destinations",
        "add",
        "--tenant",
        "demo",
        "--dir",
        out.to_str().unwrap(),
    ];
    args.extend(flags);
    auditlog(data, &args)
}

/// One `auditlog export` pass with 1 s windows and grace.
fn export_pass(data: &Path) -> (bool, String, String) {
    let window = [
        ("AUDITLOG_EXPORT_WINDOW", "1s"),
        ("AUDITLOG_EXPORT_GRACE", "1s"),
    ];
    auditlog_with(data, &["export"], &window)
}

/// The action of every line of `objects`, each read with its format's own library (flate2, the
/// zstd library), as `gunzip` or `zstd -d` would.
fn actions<'a>(objects: impl IntoIterator<Item = &'a (String, Vec<u8>)>) -> Vec<String> {
    let mut actions = Vec::new();
    for (name, bytes) in objects {
        let text = if name.ends_with(".zst") {
            String::from_utf8(zstd::stream::decode_all(bytes.as_slice()).unwrap()).unwrap()
        } else {
            let mut text = String::new();
            let mut gunzip = flate2::read::GzDecoder::new(bytes.as_slice());
            std::io::Read::read_to_string(&mut gunzip, &mut text).unwrap();
            text
        };
        for line in text.lines() {
            let event: Value = serde_json::from_str(line).unwrap();
            actions.push(event["action"].as_str().unwrap().to_string());
        }
    }
    actions.sort();
    actions
}

#[test]
fn a_zstd_directory_destination_exports_zstd_objects_that_verify() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("export");
    create_key(&data, "demo");
    let add = |compression: &str| add_directory(&data, &out, &["--compression", compression]);
    let (ok, _, stderr) = add("lz4");
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("--compression: `gzip` (the default) or `zstd`"),
        "{stderr}"
    );
    let (ok, stdout, stderr) = add("zstd");
    assert!(ok, "{stderr}");
    let added: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(added["compression"], "zstd", "{added}");

    // The key's and the destination's own records are the events: once their 1 s window and
    // its grace have passed, one export pass writes them.
    std::thread::sleep(Duration::from_millis(2_100));
    let (ok, stdout, stderr) = export_pass(&data);
    assert!(ok, "{stderr}");
    let summary: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(summary["failed"], 0, "{summary}");

    let written = objects(&out);
    assert!(!written.is_empty(), "nothing exported: {summary}");
    for (name, _) in &written {
        assert!(name.ends_with(".ndjson.zst"), "{name}");
    }
    assert_eq!(
        actions(&written),
        ["auditlog.destination.added", "auditlog.key.created"]
    );

    let (ok, stdout, stderr) = auditlog(&data, &["verify", out.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("2 events"), "{stdout}");

    // A damaged object is named, not skipped: the verifier reads zstd, it does not ignore it.
    let (first, bytes) = &written[0];
    std::fs::write(first, &bytes[..bytes.len() - 3]).unwrap();
    let (ok, stdout, stderr) = auditlog(&data, &["verify", out.to_str().unwrap()]);
    assert!(!ok, "{stdout}{stderr}");
    assert!(stdout.contains("cannot be read"), "{stdout}");
}

/// A declared object store may choose zstd; a stream may not (it sends what its protocol
/// takes); and a declaration that changes the compression of a registered destination stops the
/// start rather than silently switching its objects' names.
#[test]
fn a_declared_compression_is_registered_and_never_switched() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("export");
    let declare = |compression: &str| {
        format!(
            r#"{{"id": "dst_z", "tenant": "onprem", "target": {{"kind": "directory", "path": "{}", "prefix": ""}}{compression}}}"#,
            out.display()
        )
    };
    let serve = |declaration: &str| {
        auditlog_with(
            &data,
            &["serve", "--listen", "127.0.0.1:0"],
            &[("AUDITLOG_DESTINATION", declaration)],
        )
    };

    let (ok, _, stderr) = serve(&declare(r#", "compression": "brotli""#));
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("AUDITLOG_DESTINATION"), "{stderr}");
    // Named by its pointer, as every other problem of a declaration.
    assert!(
        stderr.contains("  /compression: `gzip` (the default) or `zstd`"),
        "{stderr}"
    );

    let stream = r#"{"tenant": "onprem", "compression": "zstd",
        "stream": {"webhook": {"url": "https://siem.example/hook", "secret_env": "HOOK_SECRET"}}}"#;
    let (ok, _, stderr) = serve(stream);
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains("/compression: only an object store's objects are compressed"),
        "{stderr}"
    );

    let zstd = declare(r#", "compression": "zstd""#);
    let mut server = start_server_with(&data, &[("AUDITLOG_DESTINATION", zstd.as_str())]);
    let _ = server.child.kill();
    let _ = server.child.wait();
    let (ok, stdout, _) = auditlog(&data, &["destinations", "list"]);
    assert!(ok);
    let listed: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(listed["destinations"][0]["id"], "dst_z", "{listed}");
    assert_eq!(listed["destinations"][0]["compression"], "zstd", "{listed}");

    // The same target, gzip by default now: refused, the stored destination unchanged.
    let (ok, _, stderr) = serve(&declare(""));
    assert!(!ok, "{stderr}");
    assert!(
        stderr.contains(
            "destination dst_z is stored with another tenant or target (or compression, filter or format)"
        ),
        "{stderr}"
    );
}

#[test]
fn a_filtered_directory_destination_exports_only_what_it_admits() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("export");
    create_key(&data, "demo");
    let add = |filter: &str| add_directory(&data, &out, &["--filter", filter]);
    let (ok, _, stderr) = add(r#"{"include": {"actions": ["*"], "outcomes": ["maybe"]}}"#);
    assert!(!ok, "{stderr}");
    assert!(stderr.contains("--filter /include/actions/0"), "{stderr}");
    assert!(stderr.contains("--filter /include/outcomes/0"), "{stderr}");
    let (ok, _, stderr) = add("user.*");
    assert!(!ok && stderr.contains("--filter: not JSON"), "{stderr}");
    let filter = r#"{"include": {"actions": ["auditlog.key.*"]}}"#;
    let (ok, stdout, stderr) = add(filter);
    assert!(ok, "{stderr}");
    let added: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(
        added["filter"],
        serde_json::from_str::<Value>(filter).unwrap()
    );

    std::thread::sleep(Duration::from_millis(2_100));
    let (ok, stdout, stderr) = export_pass(&data);
    assert!(ok, "{stderr}");
    // The key's record, not the destination's: the filter left that one out.
    assert_eq!(
        actions(&objects(&out)),
        ["auditlog.key.created"],
        "{stdout}"
    );
    let (ok, stdout, stderr) = auditlog(&data, &["verify", out.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(stdout.contains("filtered ("), "{stdout}");
}

/// `auditlog destinations replay ID --from T` on a directory destination: a replay set that the
/// next export pass writes under `{prefix}_replay/{set}/`, read by `auditlog verify` as a stream
/// of its own; the original files are left as they were.
#[test]
fn a_replay_set_from_the_command_line_writes_again_what_was_delivered() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = dir.path().join("export");
    let started = chrono::Utc::now().to_rfc3339();
    create_key(&data, "demo");
    let (ok, stdout, stderr) = add_directory(&data, &out, &[]);
    assert!(ok, "{stderr}");
    let id = serde_json::from_str::<Value>(&stdout).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let replay = |from: &str| auditlog(&data, &["destinations", "replay", &id, "--from", from]);
    let (ok, _, stderr) = replay(&started);
    assert!(
        !ok && stderr.contains("nothing has been delivered"),
        "{stderr}"
    );

    std::thread::sleep(Duration::from_millis(2_100));
    let (ok, _, stderr) = export_pass(&data);
    assert!(ok, "{stderr}");
    let originals = objects(&out);
    assert!(!originals.is_empty());

    let (ok, _, stderr) = replay("yesterday");
    assert!(!ok && stderr.contains("--from"), "{stderr}");
    let (ok, stdout, stderr) = replay(&started);
    assert!(ok, "{stderr}");
    let set: Value = serde_json::from_str(&stdout).unwrap();
    let set_id = set["id"].as_str().unwrap();
    assert_eq!(set["replay"]["of"], id.as_str(), "{set}");
    assert_eq!(
        set["directory"]["prefix"],
        format!("user-events-audit/_replay/{set_id}/"),
        "{set}"
    );
    let (ok, _, stderr) = auditlog(
        &data,
        &["destinations", "replay", set_id, "--from", &started],
    );
    assert!(!ok && stderr.contains("itself a replay set"), "{stderr}");

    let (ok, _, stderr) = export_pass(&data);
    assert!(ok, "{stderr}");
    let after = objects(&out);
    for (name, bytes) in &originals {
        assert!(
            after.contains(&(name.clone(), bytes.clone())),
            "{name} changed"
        );
    }
    let replayed = after
        .iter()
        .filter(|(name, _)| name.contains(&format!("/_replay/{set_id}/tenant=demo/")));
    let mut actions = actions(replayed);
    // The set runs to the end of the digest period holding what was delivered (an hour by
    // default), so the record of the replay itself joins it once its window closes.
    actions.retain(|a| a != "auditlog.destination.replayed");
    assert_eq!(
        actions,
        ["auditlog.destination.added", "auditlog.key.created"],
        "the events delivered before the replay, again"
    );
    let (ok, stdout, stderr) = auditlog(&data, &["verify", out.to_str().unwrap()]);
    assert!(ok, "{stdout}{stderr}");
    assert!(
        stdout.contains(&format!(
            "stream user-events-audit/_replay/{set_id}/tenant=demo: "
        )),
        "{stdout}"
    );
}
