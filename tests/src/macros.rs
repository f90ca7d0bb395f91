//! The macros that run each suite on a backend: one `#[tokio::test]` per behaviour, so a new
//! behaviour runs on every store at once. Exported at the crate's root (`#[macro_export]`).

/// Generates one `#[tokio::test]` per suite behaviour for a backend expression. With only a
/// backend it runs every behaviour in [`crate::suite`], so a new behaviour runs on every store
/// at once.
#[macro_export]
macro_rules! suite_tests {
    ($backend:expr) => {
        $crate::suite_tests!($backend;
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
            pages_stop_at_the_response_byte_budget,
            admin_keys_manage_destinations_and_read_their_status,
            the_digest_public_keys_are_published_with_every_rotation,
            azure_destinations_over_http_name_only_the_tenants_own_secrets,
            object_stores_choose_their_compression_filter_and_format_once,
        );
        $crate::console_suite_tests!($backend;
            viewer_sessions_open_once_and_refuse_every_other_way_in,
            the_console_shows_only_the_sessions_view_escaped,
            console_pages_forward_and_back_through_every_event_once,
            downloads_hold_exactly_the_filtered_events,
            admin_sessions_show_each_destinations_health,
        );
        $crate::self_audit_suite_tests!($backend;
            reads_are_recorded_once_per_request,
            destination_changes_are_recorded_without_secrets,
            refused_keys_of_the_tenant_are_recorded,
            viewer_sessions_and_console_reads_are_recorded,
            forged_service_records_are_rejected,
            a_change_is_never_stored_without_its_record,
            keys_are_managed_over_the_api_and_recorded,
            paging_ends_although_each_page_is_recorded,
        );
        $crate::stream_api_suite_tests!($backend;
            streams_are_managed_over_the_api_and_recorded,
        );
    };
    ($backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let service = $crate::TestService::start(&$backend).await;
                $crate::suite::$name(&service).await;
            }
        )*
    };
}

/// The self-audit behaviours ([`crate::self_audit_suite`]), run per store like the API suite.
#[macro_export]
macro_rules! self_audit_suite_tests {
    ($backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let service = $crate::TestService::start(&$backend).await;
                $crate::self_audit_suite::$name(&service).await;
            }
        )*
    };
}

/// The stream routes ([`crate::stream_api_suite`]), run per store like the API suite.
#[macro_export]
macro_rules! stream_api_suite_tests {
    ($backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let service = $crate::TestService::start(&$backend).await;
                $crate::stream_api_suite::$name(&service).await;
            }
        )*
    };
}

/// The console behaviours ([`crate::console_suite`]), run per store like the API suite.
#[macro_export]
macro_rules! console_suite_tests {
    ($backend:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let service = $crate::TestService::start(&$backend).await;
                $crate::console_suite::$name(&service).await;
            }
        )*
    };
}
