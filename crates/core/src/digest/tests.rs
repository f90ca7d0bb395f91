#![allow(clippy::unwrap_used)]
use super::*;
use crate::export::window_containing;
use std::collections::BTreeMap;

use crate::integrity::{ObjectContent, Problem, StreamStart, sha256_hex};
use crate::object_keys::Window;
use crate::signing::{Keyring, signature_holds};

#[test]
fn digests_sit_beside_the_objects_prefix() {
    assert_eq!(
        digest_prefix("user-events-audit/"),
        "auditlog-digest/user-events-audit/"
    );
    assert_eq!(digest_prefix(""), "auditlog-digest/");
    // A digest-named file outside the digest root belongs to no digest stream.
    assert_eq!(
        stream_of_digest("user-events-audit/tenant=acme/acme_x_digest.json"),
        None
    );
    // 2026-11-21T10:00:00Z, hourly.
    let period = window_containing(Timestamp(1_795_255_200_000), 3_600_000);
    let key = digest_key("user-events-audit/", "acme", period);
    assert_eq!(
        key,
        "auditlog-digest/user-events-audit/tenant=acme/year=2026/month=11/day=21/acme_20261121T100000Z_20261121T110000Z_digest.json"
    );
    assert_eq!(
        stream_of_digest(&key).unwrap(),
        "user-events-audit/tenant=acme"
    );
    assert_eq!(
        stream_of_digest(&digest_key("", "acme", period)).unwrap(),
        "tenant=acme"
    );
}

#[test]
fn a_signed_digest_parses_back_and_its_signature_covers_every_member() {
    let key = SigningKeyRecord::from_seed([3; 32], Timestamp(0));
    let body = DigestBody {
        format: DIGEST_FORMAT.into(),
        destination_id: "dst_1".into(),
        tenant: "acme".into(),
        prefix: "p/".into(),
        period_start: Timestamp(0),
        period_end: Timestamp(3_600_000),
        seq_before: 0,
        last_seq: 0,
        last_object_sha256: None,
        objects: vec![],
        previous_digest: None,
        key_id: key.key_id.clone(),
    };
    let bytes = signed_digest(&body, &key).unwrap();
    assert_eq!(bytes, signed_digest(&body, &key).unwrap(), "deterministic");
    let parsed = parse_digest(&bytes).unwrap();
    assert_eq!(parsed.body, body);
    let public = key.public().verifying_key().unwrap();
    assert!(signature_holds(&public, &parsed.signed, &parsed.signature));
    // Any edit, even to a member this version does not know, breaks it.
    let mut value: Value = serde_json::from_slice(&bytes).unwrap();
    value["extra"] = Value::Bool(true);
    let edited = parse_digest(&serde_json::to_vec(&value).unwrap()).unwrap();
    assert!(!signature_holds(&public, &edited.signed, &edited.signature));
    value["extra"] = Value::Null;
    value.as_object_mut().unwrap().remove("extra");
    value["last_seq"] = 1.into();
    let edited = parse_digest(&serde_json::to_vec(&value).unwrap()).unwrap();
    assert!(!signature_holds(&public, &edited.signed, &edited.signature));
}

#[test]
fn durations_read_as_people_write_them() {
    assert_eq!(human_duration(7_200_000), "2h");
    assert_eq!(human_duration(5_400_000), "90m");
    assert_eq!(human_duration(45_000), "45s");
}

mod tampering {
    use proptest::prelude::*;

    use super::*;
    use crate::export::object_key;
    use crate::integrity::{LineIntegrity, ObjectSummary, check_stream, export_line, receipt};
    use crate::signing::PublicKeys;

    const T0: i64 = 1_795_255_200_000; // 2026-11-21T10:00:00Z
    const PERIOD: i64 = 3_600_000;
    const WINDOW: i64 = 300_000;

    struct Delivered {
        objects: Vec<ObjectContent>,
        digests: Vec<DigestFile>,
        keyring: Keyring,
        as_of: Timestamp,
    }

    /// A stream as the exporter delivers it: `periods[p]` holds the sizes of the objects
    /// of period `p` (one per window; none is an empty period), a digest per period,
    /// signed by a first key and, from period `rotate_at` on, by a second.
    fn delivered(periods: &[Vec<u64>], rotate_at: usize) -> Delivered {
        let first = SigningKeyRecord::from_seed([1; 32], Timestamp(0));
        let second =
            SigningKeyRecord::from_seed([2; 32], Timestamp(T0 + PERIOD * rotate_at as i64));
        let (mut objects, mut digests) = (Vec::new(), Vec::new());
        let (mut seq, mut previous_object, mut previous_digest) = (0u64, None, None);
        for (p, sizes) in periods.iter().enumerate() {
            let period = Window {
                start: Timestamp(T0 + PERIOD * p as i64),
                end: Timestamp(T0 + PERIOD * (p as i64 + 1)),
            };
            let seq_before = seq;
            let mut listed = Vec::new();
            for (w, size) in sizes.iter().enumerate() {
                let first_seq = seq + 1;
                let mut text = String::new();
                for k in 0..*size {
                    seq += 1;
                    let stored = format!("{{\"id\":\"e{seq}\",\"action\":\"doc.read\"}}");
                    let integrity = LineIntegrity {
                        seq,
                        sha256: receipt(&stored).unwrap(),
                        event: None,
                        object: (k + 1 == *size).then(|| ObjectSummary {
                            first_seq,
                            last_seq: seq,
                            count: *size,
                            previous_object_sha256: previous_object.clone(),
                            filter: None,
                        }),
                    };
                    text.push_str(&export_line(&stored, &integrity).unwrap());
                    text.push('\n');
                }
                let start = Timestamp(period.start.0 + WINDOW * w as i64);
                let window = Window {
                    start,
                    end: Timestamp(start.0 + WINDOW),
                };
                let key = object_key("p/", "acme", window, 0, crate::export::Compression::Gzip);
                // The "stored bytes" stand in for gzip: the checks only hash them.
                let sha256 = sha256_hex(text.as_bytes());
                listed.push(DigestObject {
                    key: key.clone(),
                    first_seq,
                    last_seq: seq,
                    count: *size,
                    sha256: sha256.clone(),
                    ndjson_sha256: sha256_hex(text.as_bytes()),
                });
                previous_object = Some(sha256.clone());
                objects.push(ObjectContent {
                    key,
                    sha256,
                    text: Ok(text),
                });
            }
            let key = if p < rotate_at { &first } else { &second };
            let body = DigestBody {
                format: DIGEST_FORMAT.into(),
                destination_id: "dst_1".into(),
                tenant: "acme".into(),
                prefix: "p/".into(),
                period_start: period.start,
                period_end: period.end,
                seq_before,
                last_seq: seq,
                last_object_sha256: previous_object.clone(),
                objects: listed,
                previous_digest: previous_digest.clone(),
                key_id: key.key_id.clone(),
            };
            let bytes = signed_digest(&body, key).unwrap();
            let digest_key = digest_key("p/", "acme", period);
            previous_digest = Some(DigestLink {
                key: digest_key.clone(),
                sha256: sha256_hex(&bytes),
            });
            digests.push(DigestFile {
                key: digest_key,
                bytes,
            });
        }
        let end = T0 + PERIOD * periods.len() as i64;
        Delivered {
            objects,
            digests,
            keyring: PublicKeys::of(&[first, second]).keyring().unwrap(),
            // A verifier looking 20 minutes after the newest digest was due.
            as_of: Timestamp(end + 20 * 60_000),
        }
    }

    fn problems(d: &Delivered) -> Vec<Problem> {
        let options = DigestOptions {
            keys: Some(&d.keyring),
            start: StreamStart::Beginning,
            as_of: d.as_of,
            max_age_ms: None,
        };
        let mut found = check_stream(&d.objects, StreamStart::Beginning, &BTreeMap::new()).problems;
        found.extend(check_digests("p/tenant=acme", &d.digests, &d.objects, &options).problems);
        found
    }

    /// Tamperings only the digests reveal, and digest tamperings.
    #[derive(Debug, Clone)]
    enum Tamper {
        /// The newest objects and their digest (the attack digests exist for).
        DeleteNewestDigestAndObjects,
        DeleteDigest {
            digest: usize,
        },
        DeleteObject {
            object: usize,
        },
        /// Change a member, not re-signed.
        EditDigest {
            digest: usize,
            last_seq: u64,
        },
        /// Change a member and re-sign with a key that is not published.
        ForgeDigest {
            digest: usize,
        },
        SwapDigests {
            a: usize,
            b: usize,
        },
        /// A consistent object (lines, hashes, summary) put in place of a listed one.
        ReplaceObject {
            object: usize,
        },
    }

    fn tamper() -> impl Strategy<Value = Tamper> {
        prop_oneof![
            Just(Tamper::DeleteNewestDigestAndObjects),
            any::<usize>().prop_map(|digest| Tamper::DeleteDigest { digest }),
            any::<usize>().prop_map(|object| Tamper::DeleteObject { object }),
            (any::<usize>(), any::<u64>())
                .prop_map(|(digest, last_seq)| Tamper::EditDigest { digest, last_seq }),
            any::<usize>().prop_map(|digest| Tamper::ForgeDigest { digest }),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::SwapDigests { a, b }),
            any::<usize>().prop_map(|object| Tamper::ReplaceObject { object }),
        ]
    }

    fn rewrite(
        file: &mut DigestFile,
        change: impl FnOnce(&mut DigestBody),
        key: Option<&SigningKeyRecord>,
    ) {
        let parsed = parse_digest(&file.bytes).unwrap();
        let mut value: Value = serde_json::from_slice(&file.bytes).unwrap();
        let mut body = parsed.body;
        change(&mut body);
        file.bytes = match key {
            Some(key) => {
                body.key_id = key.key_id.clone();
                signed_digest(&body, key).unwrap()
            }
            None => {
                let signature = value["signature"].take();
                let mut edited = serde_json::to_value(&body).unwrap();
                edited["signature"] = signature;
                serde_json::to_vec(&edited).unwrap()
            }
        };
    }

    /// Applies `t`; `false` when it changes nothing.
    fn apply(d: &mut Delivered, t: &Tamper) -> bool {
        let (n_digests, n_objects) = (d.digests.len(), d.objects.len());
        match *t {
            Tamper::DeleteNewestDigestAndObjects => {
                let newest = d.digests.pop().unwrap();
                let body = parse_digest(&newest.bytes).unwrap().body;
                d.objects
                    .retain(|o| !body.objects.iter().any(|l| l.key == o.key));
            }
            Tamper::DeleteDigest { digest } => {
                d.digests.remove(digest % n_digests);
            }
            Tamper::DeleteObject { object } => {
                if n_objects == 0 {
                    return false;
                }
                d.objects.remove(object % n_objects);
            }
            Tamper::EditDigest { digest, last_seq } => {
                let file = &mut d.digests[digest % n_digests];
                let before = parse_digest(&file.bytes).unwrap().body.last_seq;
                if before == last_seq {
                    return false;
                }
                rewrite(file, |b| b.last_seq = last_seq, None);
            }
            Tamper::ForgeDigest { digest } => {
                let forger = SigningKeyRecord::from_seed([9; 32], Timestamp(0));
                rewrite(
                    &mut d.digests[digest % n_digests],
                    |b| b.objects.clear(),
                    Some(&forger),
                );
            }
            Tamper::SwapDigests { a, b } => {
                let (a, b) = (a % n_digests, b % n_digests);
                if a == b {
                    return false;
                }
                let bytes_a = d.digests[a].bytes.clone();
                d.digests[a].bytes = d.digests[b].bytes.clone();
                d.digests[b].bytes = bytes_a;
            }
            Tamper::ReplaceObject { object } => {
                if n_objects == 0 {
                    return false;
                }
                let o = &mut d.objects[object % n_objects];
                let text = o.text.clone().unwrap().replace("doc.read", "doc.wipe");
                // Re-hash every line and the object, as a careful forger would.
                let mut rebuilt = String::new();
                for line in text.lines() {
                    let mut value: Value = serde_json::from_str(line).unwrap();
                    let mut integrity = value["integrity"].take();
                    value.as_object_mut().unwrap().remove("integrity");
                    let stored = value.to_string();
                    integrity["sha256"] = Value::String(receipt(&stored).unwrap());
                    let integrity: LineIntegrity = serde_json::from_value(integrity).unwrap();
                    rebuilt.push_str(&export_line(&stored, &integrity).unwrap());
                    rebuilt.push('\n');
                }
                o.sha256 = sha256_hex(rebuilt.as_bytes());
                o.text = Ok(rebuilt);
            }
        }
        true
    }

    /// Retention removes the oldest objects (and, a little later, their digests): with
    /// `--pruned` the stream starts at what is present; without, the gap is reported.
    #[test]
    fn pruned_streams_pass_only_when_pruning_is_declared() {
        let mut d = delivered(&[vec![2, 1], vec![], vec![3]], 1);
        let removed = parse_digest(&d.digests[0].bytes).unwrap().body;
        d.objects
            .retain(|o| !removed.objects.iter().any(|l| l.key == o.key));
        let pruned = |d: &Delivered| {
            let options = DigestOptions {
                keys: Some(&d.keyring),
                start: StreamStart::FirstPresent,
                as_of: d.as_of,
                max_age_ms: None,
            };
            let mut found =
                check_stream(&d.objects, StreamStart::FirstPresent, &BTreeMap::new()).problems;
            found.extend(check_digests("p/tenant=acme", &d.digests, &d.objects, &options).problems);
            found
        };
        // The objects went first; their digest is still there.
        assert_eq!(pruned(&d), vec![]);
        assert!(!problems(&d).is_empty());
        // Then the digest.
        d.digests.remove(0);
        assert_eq!(pruned(&d), vec![]);
        let messages: Vec<String> = problems(&d).into_iter().map(|p| p.message).collect();
        assert!(
            messages
                .iter()
                .any(|m| m.contains("earlier digests are missing")),
            "{messages:?}"
        );
    }

    proptest! {
        #[test]
        fn no_digest_tampering_passes(
            periods in proptest::collection::vec(proptest::collection::vec(1u64..4, 0..3), 1..5),
            rotate_at in 0usize..5,
            tampering in tamper(),
        ) {
            let mut d = delivered(&periods, rotate_at);
            prop_assert_eq!(problems(&d), vec![]);
            prop_assume!(apply(&mut d, &tampering));
            // Deleting every file of a stream leaves nothing to check: `auditlog verify`
            // then stops with "no exported objects or digests" (docs/integrity.md).
            prop_assume!(!d.digests.is_empty() || !d.objects.is_empty());
            prop_assert!(!problems(&d).is_empty(), "{:?} passed", tampering);
        }
    }
}
