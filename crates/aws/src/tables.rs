//! Creating the tables: for local runs against DynamoDB Local and for tests. Deployed stacks get
//! the same tables from `template.yaml`.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, TimeToLiveSpecification,
};

use crate::DynamoConfig;
use crate::layout::{TIME_INDEX, TTL_ATTRIBUTE};

fn attribute(name: &str) -> Result<AttributeDefinition, String> {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .map_err(|e| e.to_string())
}

fn key(name: &str, kind: KeyType) -> Result<KeySchemaElement, String> {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(kind)
        .build()
        .map_err(|e| e.to_string())
}

/// Creates the events table (with the `by_time` index and TTL on) and the keys table.
pub async fn create_tables(client: &Client, config: &DynamoConfig) -> Result<(), String> {
    let index = GlobalSecondaryIndex::builder()
        .index_name(TIME_INDEX)
        .key_schema(key("tpk", KeyType::Hash)?)
        .key_schema(key("tsk", KeyType::Range)?)
        .projection(
            Projection::builder()
                .projection_type(ProjectionType::All)
                .build(),
        )
        .build()
        .map_err(|e| e.to_string())?;
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
        .map_err(|e| format!("create {}: {e:?}", config.events_table))?;
    client
        .update_time_to_live()
        .table_name(&config.events_table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| format!("enable TTL on {}: {e:?}", config.events_table))?;
    client
        .create_table()
        .table_name(&config.keys_table)
        .billing_mode(BillingMode::PayPerRequest)
        .attribute_definitions(attribute("key_id")?)
        .key_schema(key("key_id", KeyType::Hash)?)
        .send()
        .await
        .map_err(|e| format!("create {}: {e:?}", config.keys_table))?;
    Ok(())
}
