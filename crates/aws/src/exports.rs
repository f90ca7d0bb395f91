//! Destinations and export state in the exports table (`AUDITLOG_EXPORTS_TABLE`).
//!
//! | item | `pk` | `sk` | other attributes |
//! | --- | --- | --- | --- |
//! | a destination | `destination` | its id | `tenant`, `body` (the destination as JSON) |
//! | its export state | `state#{id}` | `state` | `version` (N), `body` (the state as JSON) |
//! | a stream's delivery state | `stream#{id}` | `state` | `version` (N), `body` (the state as JSON) |
//! | a digest signing key | `signing-key` | its id | `body` (the key, private seed included) |
//! | a console viewer session | `viewer-session#{id}` | `session` | `opened` (BOOL), `body` (hashes only; see `viewer.rs`) |
//!
//! All destinations share one partition so that listing them is one strongly consistent
//! `Query` (no Scan); they are few and change rarely. Each state lives in its own item and is
//! changed only by a `PutItem` conditioned on its `version`: that condition is what lets two
//! exporters race without both advancing a checkpoint.

use std::collections::HashMap;

use async_trait::async_trait;
use auditlog_core::export::{Destination, ExportState};
use auditlog_core::signing::SigningKeyRecord;
use auditlog_core::store::{
    DestinationStore, ExportStateStore, NewEvent, SigningKeyStore, StoreError, StreamStateStore,
};
use auditlog_core::stream::delivery::StreamState;
use aws_sdk_dynamodb::types::{AttributeValue, Delete, Put, TransactWriteItem};

use crate::{DynamoStore, created, n, number_attr, s, sdk_message, text_attr, won};

const DESTINATION_PK: &str = "destination";
const STATE_SK: &str = "state";
const SIGNING_KEY_PK: &str = "signing-key";

fn state_pk(destination_id: &str) -> String {
    format!("state#{destination_id}")
}

fn stream_pk(destination_id: &str) -> String {
    format!("stream#{destination_id}")
}

fn unavailable<E: std::fmt::Display>(e: E) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

fn from_body<T: serde::de::DeserializeOwned>(
    item: &HashMap<String, AttributeValue>,
) -> Result<T, StoreError> {
    serde_json::from_str(&text_attr(item, "body")?)
        .map_err(|e| StoreError::Corrupt(format!("exports table item: {e}")))
}

impl DynamoStore {
    /// The `body` of every item in partition `pk` of the exports table (a strongly consistent
    /// `Query`, all pages).
    async fn partition_bodies<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
    ) -> Result<Vec<T>, StoreError> {
        let mut bodies = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.config.exports_table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(pk))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::Unavailable(sdk_message(&e)))?;
            for item in out.items() {
                bodies.push(from_body(item)?);
            }
            match out.last_evaluated_key() {
                Some(key) => start = Some(key.clone()),
                None => break,
            }
        }
        Ok(bodies)
    }
}

#[async_trait]
impl DestinationStore for DynamoStore {
    async fn add_destination(
        &self,
        destination: &Destination,
        audit: &NewEvent,
    ) -> Result<(), StoreError> {
        let body = serde_json::to_string(destination).map_err(unavailable)?;
        let put = Put::builder()
            .table_name(&self.config.exports_table)
            .item("pk", s(DESTINATION_PK))
            .item("sk", s(destination.id.clone()))
            .item("tenant", s(destination.tenant.clone()))
            .item("body", s(body))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(unavailable)?;
        self.audited_create(TransactWriteItem::builder().put(put).build(), audit, || {
            format!("destination {}", destination.id)
        })
        .await
    }

    async fn list_destinations(
        &self,
        tenant: Option<&str>,
    ) -> Result<Vec<Destination>, StoreError> {
        let mut destinations: Vec<Destination> = self.partition_bodies(DESTINATION_PK).await?;
        destinations.retain(|d| tenant.is_none_or(|t| t == d.tenant));
        // The same order as the SQLite store.
        destinations.sort_by(|a, b| {
            (&a.tenant, a.created_at, &a.id).cmp(&(&b.tenant, b.created_at, &b.id))
        });
        Ok(destinations)
    }

    async fn remove_destination(&self, id: &str, audit: &NewEvent) -> Result<bool, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.config.exports_table)
            .key("pk", s(DESTINATION_PK))
            .key("sk", s(id))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(unavailable)?;
        self.audited(TransactWriteItem::builder().delete(delete).build(), audit)
            .await
    }
}

#[async_trait]
impl ExportStateStore for DynamoStore {
    async fn export_state(&self, destination_id: &str) -> Result<ExportState, StoreError> {
        match self
            .state_item::<ExportState>(&state_pk(destination_id))
            .await?
        {
            Some((version, mut state)) => {
                state.version = version;
                Ok(state)
            }
            None => Ok(ExportState::new(destination_id)),
        }
    }

    async fn save_export_state(
        &self,
        next: &ExportState,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        auditlog_core::store::check_next_version(next.version, expected_version)?;
        let body = serde_json::to_string(next).map_err(unavailable)?;
        self.save_state_item(&state_pk(&next.destination_id), next.version, body)
            .await
    }

    async fn change_export_state(
        &self,
        next: &ExportState,
        expected_version: u64,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        auditlog_core::store::check_next_version(next.version, expected_version)?;
        let body = serde_json::to_string(next).map_err(unavailable)?;
        let put = self.state_put(&state_pk(&next.destination_id), next.version, body)?;
        self.audited(TransactWriteItem::builder().put(put).build(), audit)
            .await
    }
}

#[async_trait]
impl StreamStateStore for DynamoStore {
    async fn stream_state(&self, destination_id: &str) -> Result<StreamState, StoreError> {
        match self
            .state_item::<StreamState>(&stream_pk(destination_id))
            .await?
        {
            Some((version, mut state)) => {
                state.version = version;
                Ok(state)
            }
            None => Ok(StreamState {
                destination_id: destination_id.to_string(),
                ..StreamState::default()
            }),
        }
    }

    async fn save_stream_state(
        &self,
        next: &StreamState,
        expected_version: u64,
    ) -> Result<bool, StoreError> {
        auditlog_core::store::check_next_version(next.version, expected_version)?;
        let body = serde_json::to_string(next).map_err(unavailable)?;
        self.save_state_item(&stream_pk(&next.destination_id), next.version, body)
            .await
    }

    async fn change_stream_state(
        &self,
        next: &StreamState,
        expected_version: u64,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        auditlog_core::store::check_next_version(next.version, expected_version)?;
        let body = serde_json::to_string(next).map_err(unavailable)?;
        let put = self.state_put(&stream_pk(&next.destination_id), next.version, body)?;
        self.audited(TransactWriteItem::builder().put(put).build(), audit)
            .await
    }
}

impl DynamoStore {
    /// A versioned state item (`pk`, sk `state`): its version, from the attribute the condition
    /// checks (the authority on it), and its body.
    async fn state_item<T: serde::de::DeserializeOwned>(
        &self,
        pk: &str,
    ) -> Result<Option<(u64, T)>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.exports_table)
            .key("pk", s(pk))
            .key("sk", s(STATE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(sdk_message(&e)))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let version = u64::try_from(number_attr(item, "version")?)
            .map_err(|_| StoreError::Corrupt("negative state version".into()))?;
        Ok(Some((version, from_body(item)?)))
    }

    /// The write of a state `version`, on condition that the stored one is `version - 1` (none
    /// stored for 1).
    fn state_put(&self, pk: &str, version: u64, body: String) -> Result<Put, StoreError> {
        let expected = i64::try_from(version.saturating_sub(1)).map_err(unavailable)?;
        let put = Put::builder()
            .table_name(&self.config.exports_table)
            .item("pk", s(pk))
            .item("sk", s(STATE_SK))
            .item("version", n(i64::try_from(version).map_err(unavailable)?))
            .item("body", s(body));
        let put = if expected == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(expected))
        };
        put.build().map_err(unavailable)
    }

    /// Stores a state `version` if the stored one is `version - 1` (none stored for 1).
    async fn save_state_item(
        &self,
        pk: &str,
        version: u64,
        body: String,
    ) -> Result<bool, StoreError> {
        let put = self.state_put(pk, version, body)?;
        let result = self
            .client
            .put_item()
            .table_name(put.table_name())
            .set_item(Some(put.item().clone()))
            .set_condition_expression(put.condition_expression().map(str::to_string))
            .set_expression_attribute_values(put.expression_attribute_values().cloned())
            .send()
            .await;
        won(result)
    }
}

#[async_trait]
impl SigningKeyStore for DynamoStore {
    async fn add_signing_key(&self, key: &SigningKeyRecord) -> Result<(), StoreError> {
        let body = serde_json::to_string(key).map_err(unavailable)?;
        let result = self
            .client
            .put_item()
            .table_name(&self.config.exports_table)
            .item("pk", s(SIGNING_KEY_PK))
            .item("sk", s(key.key_id.clone()))
            .item("body", s(body))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        created(result, || format!("signing key {}", key.key_id))
    }

    async fn signing_keys(&self) -> Result<Vec<SigningKeyRecord>, StoreError> {
        let mut keys: Vec<SigningKeyRecord> = self.partition_bodies(SIGNING_KEY_PK).await?;
        keys.sort_by(|a, b| (a.activated_at, &a.key_id).cmp(&(b.activated_at, &b.key_id)));
        Ok(keys)
    }
}
