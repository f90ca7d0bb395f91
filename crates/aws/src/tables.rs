//! Creating the tables: for local runs against DynamoDB Local and for tests. Deployed stacks get
//! the same tables from `template.yaml`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{BuildError, DisplayErrorContext};
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, CreateGlobalSecondaryIndexAction, GlobalSecondaryIndex,
    GlobalSecondaryIndexUpdate, KeySchemaElement, KeyType, Projection, ProjectionType,
    ScalarAttributeType, TimeToLiveSpecification, TimeToLiveStatus,
};

use crate::DynamoConfig;
use crate::layout::{TENANT_INDEX, TIME_INDEX, TTL_ATTRIBUTE};

/// Why the tables could not be made ready: a request that could not be built, or a call
/// DynamoDB refused (with the SDK's whole error chain).
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    #[error("building a request: {0}")]
    Build(#[from] BuildError),
    #[error("{action}: {detail}")]
    Call { action: String, detail: String },
}

/// Maps a failed call to a [`TableError`] that says what was being done.
fn failed<E: std::error::Error>(action: String) -> impl FnOnce(E) -> TableError {
    move |e| TableError::Call {
        action,
        detail: DisplayErrorContext(&e).to_string(),
    }
}

fn attribute(name: &str) -> Result<AttributeDefinition, TableError> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(TableError::from)
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, TableError> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(TableError::from)
}

/// Whether a table exists (any status).
async fn table_exists(client: &Client, table: &str) -> Result<bool, TableError> {
    match client.describe_table().table_name(table).send().await {
        Ok(_) => Ok(true),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) =>
        {
            Ok(false)
        }
        Err(e) => Err(failed(format!("describe {table}"))(e)),
    }
}

/// Creates the events table (with the `by_time` index and TTL on), the keys table and the
/// exports table. Tables
/// that exist already are left as they are, and TTL is switched on if it is off, so running it
/// twice is harmless.
pub async fn create_tables(client: &Client, config: &DynamoConfig) -> Result<(), TableError> {
    if !table_exists(client, &config.events_table).await? {
        create_events_table(client, config).await?;
    }
    let ttl = client
        .describe_time_to_live()
        .table_name(&config.events_table)
        .send()
        .await
        .map_err(failed(format!("describe TTL of {}", config.events_table)))?;
    let ttl_on = ttl
        .time_to_live_description()
        .and_then(|d| d.time_to_live_status())
        .is_some_and(|s| matches!(s, TimeToLiveStatus::Enabled | TimeToLiveStatus::Enabling));
    if !ttl_on {
        enable_ttl(client, config).await?;
    }
    if table_exists(client, &config.keys_table).await? {
        ensure_tenant_index(client, config).await?;
    } else {
        create_keys_table(client, config).await?;
    }
    if !table_exists(client, &config.exports_table).await? {
        create_exports_table(client, config).await?;
    }
    Ok(())
}

async fn create_events_table(client: &Client, config: &DynamoConfig) -> Result<(), TableError> {
    let index = GlobalSecondaryIndex::builder()
        .index_name(TIME_INDEX)
        .key_schema(key("tpk", KeyType::Hash)?)
        .key_schema(key("tsk", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()?;
    client
        .create_table()
        .table_name(&config.events_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .attribute_definitions(attribute("tpk")?)
        .attribute_definitions(attribute("tsk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(index)
        .send()
        .await
        .map_err(failed(format!("create {}", config.events_table)))?;
    Ok(())
}

async fn enable_ttl(client: &Client, config: &DynamoConfig) -> Result<(), TableError> {
    client
        .update_time_to_live()
        .table_name(&config.events_table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()?,
        )
        .send()
        .await
        .map_err(failed(format!("enable TTL on {}", config.events_table)))?;
    Ok(())
}

/// The keys table's index of a tenant's keys (`tenant`, `key_id`, every attribute), for
/// listing them: its key schema and projection, shared by a new table and an added index.
fn tenant_index_parts() -> Result<(Vec<KeySchemaElement>, Projection), TableError> {
    Ok((
        vec![
            key("tenant", KeyType::Hash)?,
            key("key_id", KeyType::Range)?,
        ],
        Projection::builder()
            .projection_type(ProjectionType::All)
            .build(),
    ))
}

fn tenant_index() -> Result<GlobalSecondaryIndex, TableError> {
    let (keys, projection) = tenant_index_parts()?;
    GlobalSecondaryIndex::builder()
        .index_name(TENANT_INDEX)
        .set_key_schema(Some(keys))
        .projection(projection)
        .build()
        .map_err(TableError::from)
}

async fn create_keys_table(client: &Client, config: &DynamoConfig) -> Result<(), TableError> {
    client
        .create_table()
        .table_name(&config.keys_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("key_id")?)
        .attribute_definitions(attribute("tenant")?)
        .key_schema(key("key_id", KeyType::Hash)?)
        .global_secondary_indexes(tenant_index()?)
        .send()
        .await
        .map_err(failed(format!("create {}", config.keys_table)))?;
    Ok(())
}

/// Adds the tenant index to a keys table made before it existed.
async fn ensure_tenant_index(client: &Client, config: &DynamoConfig) -> Result<(), TableError> {
    let table = client
        .describe_table()
        .table_name(&config.keys_table)
        .send()
        .await
        .map_err(failed(format!("describe {}", config.keys_table)))?;
    let has_index = table
        .table()
        .map(|t| t.global_secondary_indexes())
        .unwrap_or_default()
        .iter()
        .any(|i| i.index_name() == Some(TENANT_INDEX));
    if has_index {
        return Ok(());
    }
    let (keys, projection) = tenant_index_parts()?;
    let create = CreateGlobalSecondaryIndexAction::builder()
        .index_name(TENANT_INDEX)
        .set_key_schema(Some(keys))
        .projection(projection)
        .build()?;
    client
        .update_table()
        .table_name(&config.keys_table)
        .attribute_definitions(attribute("key_id")?)
        .attribute_definitions(attribute("tenant")?)
        .global_secondary_index_updates(
            GlobalSecondaryIndexUpdate::builder().create(create).build(),
        )
        .send()
        .await
        .map_err(failed(format!(
            "add index {TENANT_INDEX} to {}",
            config.keys_table
        )))?;
    Ok(())
}

async fn create_exports_table(client: &Client, config: &DynamoConfig) -> Result<(), TableError> {
    client
        .create_table()
        .table_name(&config.exports_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .send()
        .await
        .map_err(failed(format!("create {}", config.exports_table)))?;
    Ok(())
}
