//! `auditlog policy azure`: the role definition and assignment that let the vendor's identity
//! write (create and read blobs, never delete) in one container, as a small ARM template to
//! deploy on its own. They are taken from `infra/azure/customer-storage.json` itself (embedded
//! at build time), so the two can never say different things.

use serde_json::{Map, Value, json};

const TEMPLATE: &str = include_str!("../../../infra/azure/customer-storage.json");

const ROLE_TYPES: [&str; 2] = [
    "Microsoft.Authorization/roleDefinitions",
    "Microsoft.Authorization/roleAssignments",
];

fn is_guid(text: &str) -> bool {
    let parts: Vec<&str> = text.split('-').collect();
    parts.iter().map(|p| p.len()).eq([8, 4, 4, 4, 12])
        && parts
            .iter()
            .all(|p| p.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The deployable template of the vendor's role on `container` of `account`.
pub fn azure_role(account: &str, container: &str, principal_id: &str) -> Result<Value, String> {
    let probe = auditlog_core::export::AzureTarget {
        account: account.to_string(),
        container: container.to_string(),
        prefix: String::new(),
        endpoint: None,
        credential: auditlog_core::export::AzureCredential::EntraId,
    };
    let mut problems: Vec<String> = auditlog_core::export::check_azure_target(&probe)
        .into_iter()
        .map(|(pointer, message)| {
            let flag = if pointer == "/account" {
                "--storage-account"
            } else {
                "--container"
            };
            format!("{flag}: {message}")
        })
        .collect();
    if !is_guid(principal_id) {
        problems.push(
            "--principal-id: the object id of the vendor's service principal or managed identity (a GUID)".into(),
        );
    }
    if !problems.is_empty() {
        return Err(problems.join("\n"));
    }
    let template: Value =
        serde_json::from_str(TEMPLATE).map_err(|e| format!("the embedded template: {e}"))?;
    let resources: Vec<Value> = template["resources"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter(|r| ROLE_TYPES.iter().any(|t| r["type"] == *t))
                .cloned()
                .map(|mut r| {
                    // Deployed on its own, the role is wanted: no condition.
                    if let Some(map) = r.as_object_mut() {
                        map.remove("condition");
                    }
                    r
                })
                .collect()
        })
        .unwrap_or_default();
    let pick = |section: &str, names: &[&str]| -> Map<String, Value> {
        names
            .iter()
            .filter_map(|n| Some((n.to_string(), template[section].get(*n)?.clone())))
            .collect()
    };
    let mut parameters = pick(
        "parameters",
        &["storageAccountName", "containerName", "vendorPrincipalId"],
    );
    for (name, value) in [
        ("storageAccountName", account),
        ("containerName", container),
        ("vendorPrincipalId", principal_id),
    ] {
        if let Some(p) = parameters.get_mut(name) {
            p["defaultValue"] = json!(value);
        }
    }
    Ok(json!({
        "$schema": template["$schema"],
        "contentVersion": template["contentVersion"],
        "metadata": {"description": "The auditlog vendor's role on one container: create and read blobs, never delete. The same resources as infra/azure/customer-storage.json. Deploy with: az deployment group create --resource-group RG --template-file FILE"},
        "parameters": parameters,
        "variables": pick("variables", &["roleName", "containerScope"]),
        "resources": resources,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_role_is_the_templates_own_and_bad_input_is_named() {
        let role = azure_role(
            "acmeaudit",
            "audit-log",
            "0b8d1c7e-4a7f-4f8e-9c1a-2d3e4f5a6b7c",
        )
        .unwrap_or_default();
        let template: Value = serde_json::from_str(TEMPLATE).unwrap_or_default();
        for kind in ROLE_TYPES {
            let ours = role["resources"]
                .as_array()
                .and_then(|r| r.iter().find(|x| x["type"] == kind))
                .cloned()
                .unwrap_or_default();
            let mut theirs = template["resources"]
                .as_array()
                .and_then(|r| r.iter().find(|x| x["type"] == kind))
                .cloned()
                .unwrap_or_default();
            if let Some(map) = theirs.as_object_mut() {
                map.remove("condition");
            }
            assert_eq!(ours, theirs, "{kind}");
        }
        assert_eq!(
            role["parameters"]["vendorPrincipalId"]["defaultValue"],
            "0b8d1c7e-4a7f-4f8e-9c1a-2d3e4f5a6b7c"
        );
        let e = azure_role("Bad_Name", "-x", "nope").unwrap_err();
        assert!(
            e.contains("--storage-account:")
                && e.contains("--container:")
                && e.contains("--principal-id:"),
            "{e}"
        );
    }
}
