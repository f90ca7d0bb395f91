//! Viewer sessions in the exports table: one item each, `pk = viewer-session#{id}`,
//! `sk = session`, the record as JSON in `body`, and `opened` (BOOL) that the one-time opening
//! sets with a `Put` conditioned on it being false, so two racing openings cannot both win.
//! Issuing and opening are written with their self-audit record in one transaction.
//! Each session has its own partition: sessions are read by id only.

use async_trait::async_trait;
use auditlog_core::store::{NewEvent, StoreError, ViewerSessionStore};
use auditlog_core::viewer::ViewerSession;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};

use crate::{DynamoStore, s, sdk_message, text_attr};

const SESSION_SK: &str = "session";

fn session_pk(id: &str) -> String {
    format!("viewer-session#{id}")
}

fn body(session: &ViewerSession) -> Result<String, StoreError> {
    serde_json::to_string(session).map_err(|e| StoreError::Corrupt(e.to_string()))
}

#[async_trait]
impl ViewerSessionStore for DynamoStore {
    async fn create_viewer_session(
        &self,
        session: &ViewerSession,
        audit: &NewEvent,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .table_name(&self.config.exports_table)
            .item("pk", s(session_pk(&session.id)))
            .item("sk", s(SESSION_SK))
            .item("opened", AttributeValue::Bool(session.opened_at.is_some()))
            .item("body", s(body(session)?))
            .condition_expression("attribute_not_exists(pk)")
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.audited_create(TransactWriteItem::builder().put(put).build(), audit, || {
            format!("viewer session {}", session.id)
        })
        .await
    }

    async fn find_viewer_session(&self, id: &str) -> Result<Option<ViewerSession>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.exports_table)
            .key("pk", s(session_pk(id)))
            .key("sk", s(SESSION_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(sdk_message(&e)))?;
        out.item()
            .map(|item| {
                serde_json::from_str(&text_attr(item, "body")?)
                    .map_err(|e| StoreError::Corrupt(format!("viewer session item: {e}")))
            })
            .transpose()
    }

    async fn open_viewer_session(
        &self,
        opened: &ViewerSession,
        audit: &NewEvent,
    ) -> Result<bool, StoreError> {
        let put = Put::builder()
            .table_name(&self.config.exports_table)
            .item("pk", s(session_pk(&opened.id)))
            .item("sk", s(SESSION_SK))
            .item("opened", AttributeValue::Bool(true))
            .item("body", s(body(opened)?))
            .condition_expression("attribute_exists(pk) AND opened = :not_yet")
            .expression_attribute_values(":not_yet", AttributeValue::Bool(false))
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))?;
        self.audited(TransactWriteItem::builder().put(put).build(), audit)
            .await
    }
}
