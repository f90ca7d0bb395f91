//! The stream delivery suite on DynamoDB (DynamoDB Local, at `AWS_ENDPOINT_URL_DYNAMODB`).

#![allow(clippy::unwrap_used, clippy::expect_used)] // test code: a panic is a failed test

auditlog_tests::stream_tests!(auditlog_tests::DynamoBackend);
