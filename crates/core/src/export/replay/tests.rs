use super::*;
use crate::export::{Compression, normalize_prefix, object_key};
use crate::object_keys::stream_of;

const MINUTE: i64 = 60_000;

fn config() -> ExportConfig {
    ExportConfig {
        window_ms: 5 * MINUTE,
        grace_ms: 2 * MINUTE,
        max_object_bytes: 1 << 20,
        lease_ms: MINUTE,
        owner: "test".into(),
        concurrency: 1,
        max_windows_per_pass: 10,
        digest_period_ms: 60 * MINUTE,
    }
}

fn original() -> Destination {
    Destination {
        compression: Compression::Zstd,
        ..Destination::new(
            "dst_orig".into(),
            "acme".into(),
            Target::Directory {
                path: "/srv/audit".into(),
                prefix: "user-events-audit/".into(),
            },
            Timestamp(0),
        )
    }
}

fn delivered_through(t: i64) -> ExportState {
    ExportState {
        destination_id: "dst_orig".into(),
        exported_through: Some(Timestamp(t)),
        ..ExportState::default()
    }
}

#[test]
fn a_replay_set_writes_under_its_own_prefix_from_the_window_of_from_to_a_period_end() {
    let hour = 60 * MINUTE;
    let state = delivered_through(10 * hour + 25 * MINUTE);
    let from = Timestamp(8 * hour + 7 * MINUTE);
    let set = replay_destination(
        &original(),
        &state,
        from,
        "dst_rpl".into(),
        Timestamp(11 * hour),
    )
    .unwrap();
    assert_eq!(set.target.prefix(), "user-events-audit/_replay/dst_rpl/");
    assert_eq!(set.compression, Compression::Zstd, "the original's options");
    let replay = set.replay.clone().unwrap();
    assert_eq!(replay.of, "dst_orig");
    assert_eq!(replay.until, Timestamp(10 * hour + 25 * MINUTE));
    assert_eq!(
        replay.through(&config()),
        Timestamp(11 * hour),
        "rounded up to the period's end"
    );
    // Its objects are a stream of their own, which no original key can equal.
    let window = window_containing(from, config().window_ms);
    let original_key = object_key("user-events-audit/", "acme", window, 0, Compression::Zstd);
    let replay_key = object_key(set.target.prefix(), "acme", window, 0, Compression::Zstd);
    assert_ne!(stream_of(&original_key), stream_of(&replay_key));
    assert!(
        replay_key.starts_with("user-events-audit/_replay/dst_rpl/tenant=acme/"),
        "{replay_key}"
    );
    // No destination can be added under a replay segment.
    assert!(normalize_prefix("user-events-audit/_replay/dst_rpl/").is_err());
    assert!(normalize_prefix("_replay").is_err());
    assert!(normalize_prefix("user-events-audit/_replays/").is_ok());
    // The horizon keeps every window past `through` closed to it.
    assert_eq!(
        replay.horizon(Timestamp(20 * hour), &config()),
        Timestamp(11 * hour + 2 * MINUTE)
    );
    assert_eq!(
        replay.horizon(Timestamp(10 * hour), &config()),
        Timestamp(10 * hour)
    );
}

#[test]
fn a_checkpoint_on_a_period_boundary_is_the_end_and_completion_needs_every_digest() {
    let hour = 60 * MINUTE;
    let state = delivered_through(10 * hour);
    let set = replay_destination(
        &original(),
        &state,
        Timestamp(9 * hour),
        "dst_rpl".into(),
        Timestamp(11 * hour),
    )
    .unwrap();
    let replay = set.replay.unwrap();
    assert_eq!(replay.through(&config()), Timestamp(10 * hour));
    let mut progress = ExportState {
        exported_through: Some(Timestamp(10 * hour)),
        ..ExportState::default()
    };
    assert!(
        !replay.is_complete(&progress, &config()),
        "its last digest is not written"
    );
    progress.digest.period_start = Some(Timestamp(10 * hour));
    assert!(replay.is_complete(&progress, &config()));
}

#[test]
fn what_cannot_be_replayed_says_why() {
    let now = Timestamp(0);
    let nothing = ExportState::default();
    let at = Timestamp(60 * MINUTE);
    assert_eq!(
        replay_destination(&original(), &nothing, at, "d".into(), now),
        Err(ReplayError::NothingDelivered)
    );
    let state = delivered_through(60 * MINUTE);
    assert!(matches!(
        replay_destination(&original(), &state, at, "d".into(), now),
        Err(ReplayError::FromTooLate { .. })
    ));
    let set = replay_destination(&original(), &state, Timestamp(0), "d".into(), now).unwrap();
    assert_eq!(
        replay_destination(&set, &state, Timestamp(0), "e".into(), now),
        Err(ReplayError::OfReplay)
    );
}
