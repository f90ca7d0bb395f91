//! The customer's Azure template (`infra/azure/customer-storage.json`, ARM JSON): scanned by
//! checkov (`AUDITLOG_CHECKOV`, set by scripts/checkov.sh), and read for what docs/export.md
//! promises of it.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

use std::path::PathBuf;

use serde_json::Value;

fn template_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../infra/azure/customer-storage.json")
}

fn template() -> Value {
    serde_json::from_str(&std::fs::read_to_string(template_path()).unwrap()).unwrap()
}

fn resource<'a>(template: &'a Value, kind: &str) -> &'a Value {
    template["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

/// Checks the template does not pass, each with why it does not apply here.
const SKIPPED: [(&str, &str); 2] = [
    (
        "CKV_AZURE_43",
        "the account name is a parameter: its length rules are declared, and Azure checks the rest",
    ),
    (
        "CKV_AZURE_59",
        "public network access stays enabled so the vendor can reach the account; the firewall denies every network but the vendor's addresses",
    ),
];

#[test]
fn checkov_finds_nothing_wrong_with_the_customer_template() {
    let checkov = std::env::var("AUDITLOG_CHECKOV").unwrap_or_else(|_| "checkov".into());
    let skips: Vec<&str> = SKIPPED.iter().map(|(id, _)| *id).collect();
    let out = std::process::Command::new(&checkov)
        .args(["--framework", "arm", "--output", "json", "--skip-check"])
        .arg(skips.join(","))
        .arg("-f")
        .arg(template_path())
        .output()
        .unwrap_or_else(|e| panic!("run {checkov} (source scripts/checkov.sh): {e}"));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "checkov printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let failed = &report["results"]["failed_checks"];
    assert_eq!(failed.as_array().map(Vec::len), Some(0), "{failed:#}");
    let passed: Vec<&str> = report["results"]["passed_checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check_id"].as_str().unwrap())
        .collect();
    // What a security team asks of an audit-log account, each seen by checkov itself.
    for id in [
        "CKV_AZURE_3",   // HTTPS only
        "CKV_AZURE_44",  // TLS 1.2 at least
        "CKV_AZURE_34",  // no public access to the container
        "CKV_AZURE_35",  // the network firewall denies by default
        "CKV_AZURE_206", // replicated
    ] {
        assert!(passed.contains(&id), "{id} not among {passed:?}");
    }
}

#[test]
fn the_template_keeps_the_promises_of_the_docs() {
    let t = template();
    let account = &resource(&t, "Microsoft.Storage/storageAccounts")["properties"];
    assert_eq!(account["allowBlobPublicAccess"], false);
    assert_eq!(account["supportsHttpsTrafficOnly"], true);
    assert_eq!(account["minimumTlsVersion"], "TLS1_2");
    assert_eq!(account["allowSharedKeyAccess"], "[not(variables('entra'))]");
    assert_eq!(account["networkAcls"]["defaultAction"], "Deny");
    let blobs = &resource(&t, "Microsoft.Storage/storageAccounts/blobServices")["properties"];
    assert_eq!(blobs["isVersioningEnabled"], true);
    let container = resource(
        &t,
        "Microsoft.Storage/storageAccounts/blobServices/containers",
    )["properties"]
        .clone();
    assert_eq!(container["publicAccess"], "None");
    let lock = resource(
        &t,
        "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies",
    );
    assert_eq!(
        lock["condition"],
        "[greater(parameters('immutabilityDays'), 0)]"
    );
    // The vendor may create and read blobs, never delete them.
    let role = resource(&t, "Microsoft.Authorization/roleDefinitions");
    let data_actions: Vec<&str> = role["properties"]["permissions"][0]["dataActions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(
        data_actions.iter().all(|a| !a.contains("delete")),
        "{data_actions:?}"
    );
    assert!(data_actions.iter().any(|a| a.ends_with("/blobs/write")));
    let assignment = resource(&t, "Microsoft.Authorization/roleAssignments");
    assert_eq!(
        assignment["properties"]["principalId"],
        "[parameters('vendorPrincipalId')]"
    );
    assert!(
        assignment["scope"]
            .as_str()
            .unwrap()
            .contains("/containers/"),
        "the role is scoped to the container only"
    );
}
