//! Azure Blob Storage in the Azurite emulator, for the export suite: a fresh container per rig,
//! made (and read back, and tampered with) through Microsoft's own SDK
//! (`tests/support/azure/admin.mjs`), never through our code.

use std::path::PathBuf;
use std::sync::Arc;

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::export::{
    AzureCredential, AzureTarget, Compression, Destination, SecretRef, Target,
};
use auditlog_export::Sinks;
use base64::Engine as _;
use serde_json::Value;

use crate::export_suite::{
    Delivered, ExportRig, ExportTarget, RigFiles, delivered_of, expected_content_type,
    first_window_boundary, unique,
};

/// Azurite's well-known development account and key (public; the emulator's own).
pub const ACCOUNT: &str = "devstoreaccount1";
pub const ACCOUNT_KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

/// Runs the SDK helper; its JSON answer.
pub fn admin(args: &[&str]) -> Value {
    let tools = std::env::var("AUDITLOG_TEST_AZURE_TOOLS")
        .expect("AUDITLOG_TEST_AZURE_TOOLS names Azurite's tools (scripts/azurite.sh sets it)");
    let out = std::process::Command::new("node")
        .arg(PathBuf::from(tools).join("admin.mjs"))
        .args(args)
        .output()
        .expect("run node");
    assert!(
        out.status.success(),
        "admin.mjs {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

/// The account's blob endpoint in the emulator.
pub fn endpoint() -> String {
    let base = std::env::var("AUDITLOG_TEST_AZURITE_URL")
        .expect("AUDITLOG_TEST_AZURITE_URL names Azurite (scripts/azurite.sh starts it)");
    format!("{base}/{ACCOUNT}")
}

/// A fresh container, and a directory for the credential files that destinations reference.
pub struct Container {
    pub name: String,
    pub secrets: tempfile::TempDir,
}

impl Container {
    pub fn create() -> Container {
        let name = unique("audit").to_lowercase();
        admin(&["container", &name]);
        Container {
            name,
            secrets: tempfile::tempdir().expect("tempdir"),
        }
    }

    /// A file holding `secret`, as a reference (the destination never holds the secret).
    pub fn secret_file(&self, file: &str, secret: &str) -> SecretRef {
        let path = self.secrets.path().join(file);
        std::fs::write(&path, secret).expect("write secret");
        SecretRef::File(path.display().to_string())
    }

    /// A SAS for this container with `permissions` (`crl`, ...), expiring in `seconds`.
    pub fn sas(&self, permissions: &str, seconds: i64) -> String {
        admin(&["sas", &self.name, permissions, &seconds.to_string()])["sas"]
            .as_str()
            .expect("sas")
            .to_string()
    }

    pub fn target(&self, credential: AzureCredential) -> AzureTarget {
        AzureTarget {
            account: ACCOUNT.into(),
            container: self.name.clone(),
            prefix: "user-events-audit/".into(),
            endpoint: Some(endpoint()),
            credential,
        }
    }

    /// The account key, through a file reference.
    pub fn shared_key(&self) -> AzureCredential {
        AzureCredential::SharedKey {
            key: self.secret_file("account-key", ACCOUNT_KEY),
        }
    }

    pub fn delivered(&self) -> Delivered {
        let dump = admin(&["dump", &self.name]);
        let mut found = Vec::new();
        for (key, data) in dump["blobs"].as_object().expect("blobs") {
            assert_eq!(
                dump["content_types"][key],
                expected_content_type(key),
                "{key}"
            );
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.as_str().expect("base64"))
                .expect("base64");
            found.push((key.clone(), bytes));
        }
        delivered_of(found)
    }
}

struct ContainerFiles(String);

impl RigFiles for ContainerFiles {
    fn read(&self, key: &str) -> Vec<u8> {
        let got = admin(&["get", &self.0, key]);
        base64::engine::general_purpose::STANDARD
            .decode(got["base64"].as_str().expect("base64"))
            .expect("base64")
    }
    fn write(&self, key: &str, bytes: &[u8]) {
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        admin(&["put", &self.0, key, &data]);
    }
    fn delete(&self, key: &str) {
        admin(&["delete", &self.0, key]);
    }
}

/// Azure (Azurite, shared key) on the SQLite store.
pub struct AzuriteOnSqlite;

/// The same, the destination compressing with zstd.
pub struct ZstdAzuriteOnSqlite;

#[async_trait]
impl ExportTarget for AzuriteOnSqlite {
    async fn rig(&self) -> ExportRig {
        azure_rig(Compression::Gzip).await
    }
}

#[async_trait]
impl ExportTarget for ZstdAzuriteOnSqlite {
    async fn rig(&self) -> ExportRig {
        azure_rig(Compression::Zstd).await
    }
}

async fn azure_rig(compression: Compression) -> ExportRig {
    let data = tempfile::tempdir().expect("tempdir");
    let store = auditlog_local::SqliteStore::open(data.path()).expect("open");
    let container = Container::create();
    let destination = Destination {
        compression,
        ..Destination::new(
            unique("dst_azure"),
            "acme".into(),
            Target::Azure(container.target(container.shared_key())),
            Timestamp(crate::now_ms()),
        )
    };
    crate::add_destination(&store, &destination).await;
    let key_file = container.secrets.path().join("account-key");
    let location = vec![
        format!("azure://{ACCOUNT}/{}/user-events-audit/", container.name),
        "--azure-endpoint".into(),
        endpoint(),
        "--azure-key-file".into(),
        key_file.display().to_string(),
    ];
    let files = Arc::new(ContainerFiles(container.name.clone()));
    ExportRig {
        store: Arc::new(store),
        destination,
        sinks: Arc::new(Sinks::without_aws()),
        reader: Box::new(move || container.delivered()),
        requests: Arc::default(),
        t0: first_window_boundary(),
        location,
        files,
        _guard: Box::new(data),
    }
}
