//! API keys in the keys table (`AUDITLOG_KEYS_TABLE`): one item per key, keyed by its id, with
//! the `by_tenant` index (`tenant`, `key_id`) for listing one tenant's keys. Creating and
//! revoking are written with their self-audit record in one transaction (`audited`).

use std::collections::HashMap;

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::keys::{KeyRecord, format_scopes, parse_scopes};
use auditlog_core::store::{ApiKeyStore, NewEvent, StoreError};
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem, Update};

use crate::{DynamoStore, layout, n, number_attr, s, sdk_message, text_attr};

fn key_item(r: &KeyRecord) -> HashMap<String, AttributeValue> {
    let mut item = HashMap::from([
        ("key_id".to_string(), s(r.key_id.clone())),
        ("tenant".to_string(), s(r.tenant.clone())),
        ("scopes".to_string(), s(format_scopes(&r.scopes))),
        ("hash".to_string(), s(r.hash.clone())),
        ("created_at".to_string(), n(r.created_at.0)),
    ]);
    if let Some(label) = &r.label {
        item.insert("label".into(), s(label.clone()));
    }
    if let Some(at) = r.revoked_at {
        item.insert("revoked_at".into(), n(at.0));
    }
    item
}

fn key_record(item: &HashMap<String, AttributeValue>) -> Result<KeyRecord, StoreError> {
    Ok(KeyRecord {
        key_id: text_attr(item, "key_id")?,
        tenant: text_attr(item, "tenant")?,
        scopes: parse_scopes(&text_attr(item, "scopes")?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))?,
        hash: text_attr(item, "hash")?,
        label: text_attr(item, "label").ok(),
        created_at: Timestamp(number_attr(item, "created_at")?),
        revoked_at: number_attr(item, "revoked_at").ok().map(Timestamp),
    })
}

#[async_trait]
impl ApiKeyStore for DynamoStore {
    async fn create_key(&self, record: &KeyRecord, audit: &NewEvent) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.config.keys_table)
            .set_item(Some(key_item(record)))
            .condition_expression("attribute_not_exists(key_id)")
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let change = TransactWriteItem::builder().put(put).build();
        self.audited_create(change, audit, || format!("key id {}", record.key_id))
            .await
    }

    async fn find_key(&self, key_id: &str) -> Result<Option<KeyRecord>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.keys_table)
            .key("key_id", s(key_id))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(sdk_message(&e)))?;
        out.item().map(key_record).transpose()
    }

    async fn list_keys(&self, tenant: Option<&str>) -> Result<Vec<KeyRecord>, StoreError> {
        // One tenant's keys come from the tenant index (a Query; the API lists them per
        // request). Every tenant's (the operator's `keys list`) from a Scan of the small keys
        // table; the events table is never scanned.
        let mut keys = Vec::new();
        let mut start = None;
        loop {
            let (items, last) = match tenant {
                Some(t) => {
                    let out = self
                        .client
                        .query()
                        .table_name(&self.config.keys_table)
                        .index_name(layout::TENANT_INDEX)
                        .key_condition_expression("tenant = :t")
                        .expression_attribute_values(":t", s(t))
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(|e| StoreError::Unavailable(sdk_message(&e)))?;
                    (out.items, out.last_evaluated_key)
                }
                None => {
                    let out = self
                        .client
                        .scan()
                        .table_name(&self.config.keys_table)
                        .consistent_read(true)
                        .set_exclusive_start_key(start.take())
                        .send()
                        .await
                        .map_err(|e| StoreError::Unavailable(sdk_message(&e)))?;
                    (out.items, out.last_evaluated_key)
                }
            };
            for item in items.unwrap_or_default() {
                keys.push(key_record(&item)?);
            }
            match last {
                Some(key) => start = Some(key),
                None => break,
            }
        }
        keys.sort_by(|a, b| {
            (&a.tenant, a.created_at, &a.key_id).cmp(&(&b.tenant, b.created_at, &b.key_id))
        });
        Ok(keys)
    }

    async fn revoke_key(
        &self,
        key_id: &str,
        at: Timestamp,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        let update = Update::builder()
            .table_name(&self.config.keys_table)
            .key("key_id", s(key_id))
            .update_expression("SET revoked_at = if_not_exists(revoked_at, :at)")
            .condition_expression("attribute_exists(key_id)")
            .expression_attribute_values(":at", n(at.0))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.audited(TransactWriteItem::builder().update(update).build(), audit)
            .await
    }
}
