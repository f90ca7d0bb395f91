use super::*;

fn field(pointer: &str) -> FieldError {
    FieldError {
        pointer: pointer.into(),
        message: "is wrong".into(),
    }
}

/// The edge's items for a batch of four: 0 and 2 valid (2 with one masked value), 1 and 3 not.
fn edge_items() -> IngestSummary {
    let mut summary = IngestSummary::new("edge-id".into(), 4);
    summary.push(ItemResult::accepted(0, "a".into(), None, 0));
    summary.push(ItemResult::rejected(
        1,
        None,
        vec![field("/events/1/action")],
    ));
    summary.push(ItemResult::accepted(2, "c".into(), None, 1));
    summary.push(ItemResult::rejected(
        3,
        Some("d".into()),
        vec![field("/events/3")],
    ));
    summary
}

fn origin(items: Vec<ItemResult>) -> IngestSummary {
    let mut summary = IngestSummary::new("origin-id".into(), items.len());
    for item in items {
        summary.push(item);
    }
    summary
}

#[test]
fn the_merged_answer_is_the_one_the_api_gives_for_the_whole_request() {
    let answered = origin(vec![
        ItemResult::accepted(0, "a".into(), Some("r0".into()), 0),
        ItemResult::accepted(1, "c".into(), Some("r2".into()), 0),
    ]);
    let merged = edge_items().merge_forwarded(answered, false).unwrap();
    // The API, storing the same request: the same items, counts and status.
    let mut api = IngestSummary::new("origin-id".into(), 4);
    api.push(ItemResult::accepted(0, "a".into(), Some("r0".into()), 0));
    api.push(ItemResult::rejected(
        1,
        None,
        vec![field("/events/1/action")],
    ));
    api.push(ItemResult::accepted(2, "c".into(), Some("r2".into()), 1));
    api.push(ItemResult::rejected(
        3,
        Some("d".into()),
        vec![field("/events/3")],
    ));
    api.record(0, AppendStatus::Stored);
    api.record(2, AppendStatus::Stored);
    assert_eq!(merged, api);
    assert_eq!(merged.status(), 207);
    assert_eq!(
        (merged.accepted, merged.rejected, merged.redacted),
        (2, 2, 1)
    );
}

#[test]
fn duplicates_and_failures_count_as_the_api_counts_them() {
    let answered = origin(vec![
        {
            let mut dup = ItemResult::accepted(0, "a".into(), None, 0);
            dup.status = ItemStatus::Duplicate;
            dup
        },
        {
            let mut failed = ItemResult::accepted(1, "c".into(), None, 0);
            failed.status = ItemStatus::Failed;
            failed.message = Some("not stored".into());
            failed
        },
    ]);
    let merged = edge_items().merge_forwarded(answered, false).unwrap();
    assert_eq!(
        (merged.duplicate, merged.failed, merged.redacted),
        (1, 1, 0)
    );
    assert_eq!(merged.items[2].message.as_deref(), Some("not stored"));
    assert_eq!(
        merged.items[2].redacted, 0,
        "a failed item masked nothing stored"
    );
    // Stored: one duplicate; not: one failed, two rejected.
    assert_eq!(merged.status(), 207);
}

#[test]
fn an_item_the_origin_rejects_is_named_where_the_client_sent_it() {
    let mut rejected = ItemResult::rejected(1, Some("c".into()), vec![field("/events/1/actor/id")]);
    rejected.errors.push(field("/events/10"));
    let answered = origin(vec![
        ItemResult::accepted(0, "a".into(), Some("r0".into()), 0),
        rejected,
    ]);
    let merged = edge_items().merge_forwarded(answered, false).unwrap();
    let pointers: Vec<&str> = merged.items[2]
        .errors
        .iter()
        .map(|e| e.pointer.as_str())
        .collect();
    // `/events/10` is another item's prefix, not this one's: left alone.
    assert_eq!(pointers, ["/events/2/actor/id", "/events/10"]);
    assert_eq!((merged.accepted, merged.rejected), (1, 3));

    // A bare event forwarded as a batch of one: back to the root.
    let mut single = IngestSummary::new("e".into(), 1);
    single.push(ItemResult::accepted(0, "x".into(), None, 0));
    let answered = origin(vec![ItemResult::rejected(
        0,
        Some("x".into()),
        vec![field("/events/0/action"), field("/events/0")],
    )]);
    let merged = single.merge_forwarded(answered, true).unwrap();
    let pointers: Vec<&str> = merged.items[0]
        .errors
        .iter()
        .map(|e| e.pointer.as_str())
        .collect();
    assert_eq!(pointers, ["/action", ""]);
    assert_eq!(merged.status(), 422);
}

#[test]
fn an_answer_that_does_not_fit_the_request_is_not_merged() {
    let too_few = origin(vec![ItemResult::accepted(0, "a".into(), None, 0)]);
    assert!(edge_items().merge_forwarded(too_few, false).is_none());
    let other_ids = origin(vec![
        ItemResult::accepted(0, "a".into(), None, 0),
        ItemResult::accepted(1, "zzz".into(), None, 0),
    ]);
    assert!(edge_items().merge_forwarded(other_ids, false).is_none());
    let other_order = origin(vec![
        ItemResult::accepted(1, "a".into(), None, 0),
        ItemResult::accepted(0, "c".into(), None, 0),
    ]);
    assert!(edge_items().merge_forwarded(other_order, false).is_none());
}

#[test]
fn the_answer_reads_back_as_it_was_written() {
    let summary = edge_items();
    let text = serde_json::to_string(&summary).unwrap_or_default();
    let back: IngestSummary =
        serde_json::from_str(&text).unwrap_or_else(|_| IngestSummary::new(String::new(), 0));
    assert_eq!(back, summary);
    assert_eq!(serde_json::to_string(&back).unwrap_or_default(), text);
}
