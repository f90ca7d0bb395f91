//! Reading events: a page of a query (one `Query` per shard on the `by_time` index, merged in
//! order), one event by id (`GetItem`), and purging, which DynamoDB's TTL does itself.

use std::collections::HashMap;

use async_trait::async_trait;
use auditlog_core::Timestamp;
use auditlog_core::cursor::Position;
use auditlog_core::query::{ActionFilter, Order};
use auditlog_core::store::{
    GetEvent, PageRequest, PurgeExpired, QueryEvents, StoreError, StoredEvent,
};
use aws_sdk_dynamodb::types::AttributeValue;

use crate::layout::{self, Bounds, ShardPage, event_key, merge_pages, shard_key};
use crate::{DynamoStore, limits, n, number_attr, s, sdk_message, text_attr};

impl DynamoStore {
    async fn query_shard(
        &self,
        request: &PageRequest<'_>,
        shard: u16,
        bounds: &Bounds,
        want: usize,
    ) -> Result<ShardPage, StoreError> {
        let q = request.query;
        let Expression {
            filter,
            names,
            values,
        } = expression(request, shard, bounds);
        let mut page = ShardPage::default();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let out = self
                .client
                .query()
                .table_name(&self.config.events_table)
                .index_name(layout::TIME_INDEX)
                .key_condition_expression("tpk = :p AND tsk BETWEEN :lo AND :hi")
                .filter_expression(&filter)
                .set_expression_attribute_names(Some(names.clone()))
                .set_expression_attribute_values(Some(values.clone()))
                .scan_index_forward(q.order == Order::Asc)
                .limit(i32::try_from(want).map_or(limits::MAX_QUERY_LIMIT, |w| {
                    w.clamp(1, limits::MAX_QUERY_LIMIT)
                }))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| StoreError::Unavailable(sdk_message(&e)))?;
            for item in out.items() {
                let tsk = text_attr(item, "tsk")?;
                // BETWEEN is inclusive; the cursor's own event was on the previous page.
                if bounds.exclude.as_deref() == Some(tsk.as_str()) {
                    continue;
                }
                page.items.push(stored_event(item)?);
            }
            match out.last_evaluated_key() {
                Some(key) if page.items.len() < want => start = Some(key.clone()),
                _ => return Ok(page),
            }
        }
    }
}

/// A shard's `Query` beyond its key condition: the filter expression and its names and values.
struct Expression {
    filter: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

/// The expression of `request` on `shard` between `bounds`, built without I/O: unexpired
/// events, and each filter the query sets.
fn expression(request: &PageRequest<'_>, shard: u16, bounds: &Bounds) -> Expression {
    let q = request.query;
    let mut filters = vec!["#exp > :now".to_string()];
    let mut names = HashMap::from([("#exp".to_string(), "exp_ms".to_string())]);
    let mut values = HashMap::from([
        (":p".to_string(), s(shard_key(request.tenant, shard))),
        (":lo".to_string(), s(bounds.low.clone())),
        (":hi".to_string(), s(bounds.high.clone())),
        (":now".to_string(), n(request.now.0)),
    ]);
    let mut add = |filter: &str, name: &str, attr: &str, value: AttributeValue| {
        filters.push(filter.to_string());
        names.insert(name.to_string(), attr.to_string());
        values.insert(format!(":{}", &name[1..]), value);
    };
    match &q.action {
        Some(ActionFilter::Exact(a)) => add("#action = :action", "#action", "action", s(a.clone())),
        Some(ActionFilter::Prefix(p)) => add(
            "begins_with(#action, :action)",
            "#action",
            "action",
            s(p.clone()),
        ),
        None => {}
    }
    if let Some(v) = &q.actor_id {
        add(
            "#actor_id = :actor_id",
            "#actor_id",
            "actor_id",
            s(v.clone()),
        );
    }
    if let Some(v) = &q.actor_email {
        add(
            "#actor_email = :actor_email",
            "#actor_email",
            "actor_email",
            s(v.clone()),
        );
    }
    if let Some(v) = &q.source_service {
        add(
            "#source_service = :source_service",
            "#source_service",
            "source_service",
            s(v.clone()),
        );
    }
    if let Some(o) = q.outcome {
        add("#outcome = :outcome", "#outcome", "outcome", s(o.as_str()));
    }
    if let Some(t) = &q.target_id {
        add(
            "contains(#target_ids, :target_ids)",
            "#target_ids",
            "target_ids",
            s(t.clone()),
        );
    }
    Expression {
        filter: filters.join(" AND "),
        names,
        values,
    }
}

/// One item of the `by_time` index as a stored event.
fn stored_event(item: &HashMap<String, AttributeValue>) -> Result<StoredEvent, StoreError> {
    Ok(StoredEvent {
        position: Position {
            received_at: Timestamp(number_attr(item, "received_at")?),
            id: text_attr(item, "id")?,
        },
        json: text_attr(item, "body")?,
        receipt: item
            .get(layout::RECEIPT_ATTRIBUTE)
            .and_then(|v| v.as_s().ok())
            .cloned(),
    })
}

#[async_trait]
impl QueryEvents for DynamoStore {
    async fn query_events(&self, request: PageRequest<'_>) -> Result<Vec<StoredEvent>, StoreError> {
        let bounds = Bounds::new(request.query, request.after);
        let want = request.query.limit + 1;
        let shards =
            (0..self.config.shards).map(|shard| self.query_shard(&request, shard, &bounds, want));
        let pages: Vec<Result<ShardPage, StoreError>> = futures::future::join_all(shards).await;
        let pages: Vec<ShardPage> = pages.into_iter().collect::<Result<_, _>>()?;
        Ok(merge_pages(pages, request.query.order, want))
    }
}

#[async_trait]
impl GetEvent for DynamoStore {
    async fn get_event(
        &self,
        tenant: &str,
        id: &str,
        now: Timestamp,
    ) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.config.events_table)
            .key("pk", s(event_key(tenant, id)))
            .key("sk", s(layout::EVENT_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| StoreError::Unavailable(sdk_message(&e)))?;
        match out.item() {
            // TTL deletion lags expiry by up to days: an expired item is treated as gone.
            Some(item) if number_attr(item, "exp_ms")? > now.0 => {
                Ok(Some(text_attr(item, "body")?))
            }
            _ => Ok(None),
        }
    }
}

#[async_trait]
impl PurgeExpired for DynamoStore {
    /// DynamoDB's TTL deletes expired items itself (within days of expiry), and every read
    /// already ignores them, so there is nothing to do on demand.
    async fn purge_expired(&self, _now: Timestamp) -> Result<u64, StoreError> {
        Ok(0)
    }
}
