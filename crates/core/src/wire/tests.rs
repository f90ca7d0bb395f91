use super::*;
use crate::redact::Redactor;
use crate::time::Timestamp;
use crate::validate::Limits;

/// Without this, a fast path that always gave up would pass every agreement test.
#[test]
fn the_fast_path_takes_the_valid_fixtures() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let limits = Limits::default();
    let redactor = Redactor::default();
    let ctx = IngestContext {
        tenant: "acme",
        received_at: Timestamp(1_795_305_600_000),
        limits: &limits,
        redactor: &redactor,
    };
    let mut taken = 0;
    for name in [
        "valid/minimal.json",
        "valid/full.json",
        "valid/set-password.json",
        "valid/epoch-millis.json",
        "mapped/logger-record.json",
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        assert!(
            prepare_fast(&text, "", &ctx, &mut || "GEN".into()).is_some(),
            "{name}"
        );
        taken += 1;
    }
    for name in [
        "mapped/graphql-request-log.ndjson",
        "mapped/idp-events.ndjson",
        "mapped/app-platform-events.ndjson",
    ] {
        for line in std::fs::read_to_string(dir.join(name)).unwrap().lines() {
            assert!(
                prepare_fast(line, "", &ctx, &mut || "GEN".into()).is_some(),
                "{name}: {line}"
            );
            taken += 1;
        }
    }
    assert_eq!(taken, 15);
    // And it gives up on what the walker must explain.
    assert!(
        prepare_fast(
            r#"{"action": "Bad", "actor": {"id": "x"}}"#,
            "",
            &ctx,
            &mut || "GEN".into()
        )
        .is_none()
    );
    assert!(
        prepare_fast(
            r#"{"action": "a.b", "actor": {"id": "x"}, "tenant": "t"}"#,
            "",
            &ctx,
            &mut || "GEN".into()
        )
        .is_none()
    );
}
