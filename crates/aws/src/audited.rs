//! A change and its self-audit record in one `TransactWriteItems`: DynamoDB applies both or
//! neither, so a crash (of the caller or the service) cannot keep a change without its record.
//!
//! The change comes first in the transaction and carries the condition that decides whether it
//! applies (the key exists, the session is not opened yet, ...); the record is a `Put` of a
//! fresh event item conditioned on its absence. A failed condition on the change cancels the
//! whole transaction and is answered as "did not apply", exactly like the single conditional
//! writes the stores used before.

use std::collections::HashMap;

use auditlog_core::store::{NewEvent, StoreError};
use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use crate::{DynamoStore, backoff, limits, sdk_message};

/// Attempts when DynamoDB cancels for a conflicting concurrent transaction on the same items.
const CONFLICT_ATTEMPTS: u32 = 4;

/// What a canceled transaction means for the caller.
#[derive(Debug, PartialEq, Eq)]
enum Canceled {
    /// The change's own condition failed: it does not apply.
    ChangeRefused,
    /// Another transaction touched the same items: trying again is safe.
    Conflict,
    /// Anything else, said as DynamoDB said it.
    Other(String),
}

/// Reads the cancellation reasons (one per item, in order; `None` for items that were fine).
fn canceled(codes: &[Option<&str>]) -> Canceled {
    match codes {
        [Some("ConditionalCheckFailed"), ..] => Canceled::ChangeRefused,
        _ if codes.contains(&Some("TransactionConflict")) => Canceled::Conflict,
        _ => Canceled::Other(
            codes
                .iter()
                .enumerate()
                .filter_map(|(i, c)| c.filter(|c| *c != "None").map(|c| format!("item {i}: {c}")))
                .collect::<Vec<_>>()
                .join(", "),
        ),
    }
}

impl DynamoStore {
    /// The record's item as a conditional `Put` into the events table.
    fn record_write(&self, audit: &NewEvent) -> Result<TransactWriteItem, StoreError> {
        let item: HashMap<String, AttributeValue> = self.event_item(&audit.event.tenant, audit);
        limits::check_item_size(&item).map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let put = Put::builder()
            .table_name(&self.config.events_table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// [`DynamoStore::audited`] for a change that creates an item: when its condition fails
    /// (the item exists), the `Conflict` the store traits promise, naming `what()`.
    pub(crate) async fn audited_create(
        &self,
        change: TransactWriteItem,
        audit: &NewEvent,
        what: impl FnOnce() -> String,
    ) -> Result<(), StoreError> {
        if self.audited(change, audit).await? {
            Ok(())
        } else {
            Err(StoreError::Conflict(what()))
        }
    }

    /// Writes `change` and the record `audit` in one transaction; `false` when the change's
    /// condition failed (nothing was written).
    pub(crate) async fn audited(
        &self,
        change: TransactWriteItem,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        let record = self.record_write(audit)?;
        let mut attempt = 0;
        loop {
            let result = self
                .client
                .transact_write_items()
                .transact_items(change.clone())
                .transact_items(record.clone())
                .send()
                .await;
            let error = match result {
                Ok(_) => return Ok(true),
                Err(e) => e,
            };
            let outcome = match &error {
                SdkError::ServiceError(service) => match service.err() {
                    TransactWriteItemsError::TransactionCanceledException(c) => {
                        let codes: Vec<Option<&str>> =
                            c.cancellation_reasons().iter().map(|r| r.code()).collect();
                        canceled(&codes)
                    }
                    _ => Canceled::Other(sdk_message(&error)),
                },
                _ => Canceled::Other(sdk_message(&error)),
            };
            match outcome {
                Canceled::ChangeRefused => return Ok(false),
                Canceled::Conflict if attempt + 1 < CONFLICT_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(backoff(attempt)).await;
                }
                Canceled::Conflict => {
                    return Err(StoreError::Unavailable(
                        "a concurrent change to the same item; retry".into(),
                    ));
                }
                Canceled::Other(message) => return Err(StoreError::Unavailable(message)),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancellation_reasons_say_what_happened() {
        assert_eq!(
            canceled(&[Some("ConditionalCheckFailed"), Some("None")]),
            Canceled::ChangeRefused
        );
        assert_eq!(
            canceled(&[Some("None"), Some("TransactionConflict")]),
            Canceled::Conflict
        );
        assert_eq!(
            canceled(&[Some("None"), Some("ConditionalCheckFailed")]),
            Canceled::Other("item 1: ConditionalCheckFailed".into())
        );
        assert_eq!(
            canceled(&[Some("ValidationError"), None]),
            Canceled::Other("item 0: ValidationError".into())
        );
    }
}
