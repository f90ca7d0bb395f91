//! The HTTP behaviour suite against the embedded SQLite store (local mode).

auditlog_tests::suite_tests!(auditlog_tests::LocalBackend;
    health_needs_no_key,
    single_event_is_stored_and_read_back,
    generated_ids_are_returned_and_usable,
    set_password_is_stored_masked,
    mixed_batch_stores_the_valid_items_and_names_every_rejected_field,
    batch_with_nothing_valid_is_422,
    resent_ids_never_make_a_second_event,
    concurrent_requests_with_the_same_ids_store_each_event_once,
    tenants_never_see_or_touch_each_other,
    keys_need_the_right_scope_and_must_be_live,
    bad_requests_get_json_errors_with_stable_codes,
    tampered_or_mismatched_cursors_are_refused,
    filters_select_exactly_the_matching_events,
    pagination_over_ten_thousand_events_while_writes_continue,
    expired_events_are_never_returned_and_are_purged,
    responses_carry_a_request_id,
);
