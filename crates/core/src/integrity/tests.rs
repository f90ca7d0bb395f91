#![allow(clippy::unwrap_used)]
use std::collections::BTreeMap;

use super::*;

fn event(n: u64) -> String {
    format!(
        "{{\"id\":\"ev-{n}\",\"tenant\":\"acme\",\"action\":\"user.login\",\"actor\":{{\"id\":\"u{n}\",\"type\":\"user\"}},\"metadata\":{{\"z\":1.5,\"a\":\"é\\u0001\"}}}}"
    )
}

/// A stream of `sizes.len()` objects holding that many events each, as the exporter writes
/// it (the object's "stored bytes" here are its text; the checks only compare hashes).
fn stream(sizes: &[u64]) -> Vec<ObjectContent> {
    let mut seq = 0;
    let mut previous: Option<String> = None;
    let mut objects = Vec::new();
    for (i, size) in sizes.iter().enumerate() {
        let first = seq + 1;
        let mut text = String::new();
        for k in 0..*size {
            seq += 1;
            let stored = event(seq);
            let object = (k + 1 == *size).then(|| ObjectSummary {
                first_seq: first,
                last_seq: seq,
                count: *size,
                previous_object_sha256: previous.clone(),
                filter: None,
            });
            let integrity = LineIntegrity {
                seq,
                sha256: receipt(&stored).unwrap(),
                event: None,
                object,
            };
            text.push_str(&export_line(&stored, &integrity).unwrap());
            text.push('\n');
        }
        let sha256 = sha256_hex(text.as_bytes());
        previous = Some(sha256.clone());
        objects.push(ObjectContent {
            key: format!("p/tenant=acme/acme_{i:04}.ndjson.gz"),
            sha256,
            text: Ok(text),
        });
    }
    objects
}

/// Recomputes an object's hash after its text changed (as a forger would).
fn rehash(object: &mut ObjectContent) {
    object.sha256 = sha256_hex(object.text.as_ref().unwrap().as_bytes());
}

fn messages(check: &StreamCheck) -> Vec<String> {
    check
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.at, p.message))
        .collect()
}

fn check(objects: &[ObjectContent]) -> StreamCheck {
    check_stream(objects, StreamStart::Beginning, &BTreeMap::new())
}

#[test]
fn the_receipt_is_the_sha256_of_the_jcs_form() {
    let stored = "{\"b\": 1, \"a\": \"x\\u00e9\", \"n\": 1.0e2}";
    assert_eq!(
        receipt(stored).unwrap(),
        sha256_hex("{\"a\":\"xé\",\"b\":1,\"n\":100}".as_bytes())
    );
    assert_eq!(receipt("[1]"), Err(IntegrityError::NotAnObject));
    assert_eq!(
        receipt("{\"integrity\":1}"),
        Err(IntegrityError::ReservedMember)
    );
}

#[test]
fn an_export_line_keeps_the_stored_bytes_and_parses_back() {
    let stored = event(7);
    let integrity = LineIntegrity {
        seq: 7,
        sha256: receipt(&stored).unwrap(),
        event: None,
        object: None,
    };
    let line = export_line(&stored, &integrity).unwrap();
    assert!(line.starts_with(&stored[..stored.len() - 1]), "{line}");
    let parsed = parse_line(&line).unwrap();
    assert_eq!(parsed.integrity, integrity);
    assert_eq!(parsed.actual_sha256, integrity.sha256);
    assert_eq!(parsed.id.as_deref(), Some("ev-7"));
    // An empty object gets no stray comma.
    assert_eq!(
        export_line("{}", &integrity).unwrap(),
        format!(
            "{{\"integrity\":{}}}",
            serde_json::to_string(&integrity).unwrap()
        )
    );
}

#[test]
fn an_untouched_stream_passes_and_says_where_it_ends() {
    let objects = stream(&[3, 1, 4]);
    let result = check(&objects);
    assert_eq!(messages(&result), Vec::<String>::new());
    assert_eq!(result.events, 8);
    assert_eq!(result.last_seq, Some(8));
    assert_eq!(
        result.last_object_sha256.as_deref(),
        Some(objects[2].sha256.as_str())
    );
}

#[test]
fn a_modified_line_is_named() {
    let mut objects = stream(&[2, 2]);
    let text = objects[1].text.as_mut().unwrap();
    *text = text.replacen("user.login", "user.logout", 1);
    rehash(&mut objects[1]);
    assert_eq!(
        messages(&check(&objects)),
        [
            "p/tenant=acme/acme_0001.ndjson.gz: line 1 (seq 3): the event does not hash to its sha256 (modified)"
        ]
    );
}

#[test]
fn a_deleted_object_shows_as_missing_sequence_numbers_and_a_broken_link() {
    let mut objects = stream(&[2, 3, 1]);
    objects.remove(1);
    assert_eq!(
        messages(&check(&objects)),
        [
            "p/tenant=acme/acme_0002.ndjson.gz: sequence numbers 3..5 missing before line 1 (seq 6)",
            "p/tenant=acme/acme_0002.ndjson.gz: does not follow p/tenant=acme/acme_0000.ndjson.gz: its previous-object hash differs (an object between them is missing, or one of them was replaced)",
        ]
    );
}

#[test]
fn a_truncated_object_has_no_summary() {
    let mut objects = stream(&[3, 1]);
    let text = objects[0].text.as_mut().unwrap();
    let cut: String = text.lines().take(2).map(|l| format!("{l}\n")).collect();
    *text = cut;
    rehash(&mut objects[0]);
    let found = messages(&check(&objects));
    assert!(
        found.contains(&"p/tenant=acme/acme_0000.ndjson.gz: the last line carries no object summary (truncated, or lines removed at the end)".to_string()),
        "{found:?}"
    );
    // The next object no longer links to the truncated one.
    assert!(
        found
            .iter()
            .any(|m| m.contains("acme_0001") && m.contains("does not follow")),
        "{found:?}"
    );
    // Unreadable bytes (a cut gzip stream) are named too.
    objects[0].text = Err("unexpected end of file".into());
    assert!(messages(&check(&objects))[0].contains("cannot be read: unexpected end of file"));
}

#[test]
fn reordered_objects_and_a_forged_insert_are_caught() {
    let mut objects = stream(&[2, 2, 2]);
    objects.swap(0, 1);
    let found = messages(&check(&objects));
    assert!(
        found
            .iter()
            .any(|m| m.contains("sequence numbers 1..2 missing")),
        "{found:?}"
    );
    assert!(
        found.iter().any(|m| m.contains("expected 5 (reordered")),
        "{found:?}"
    );

    // A forged object, internally consistent, slipped in between two real ones.
    let mut objects = stream(&[2, 2]);
    let mut forged = stream(&[2]).remove(0);
    forged.key = "p/tenant=acme/acme_0000a.ndjson.gz".into();
    objects.insert(1, forged);
    let found = messages(&check(&objects));
    assert!(
        found
            .iter()
            .any(|m| m
                .starts_with("p/tenant=acme/acme_0000a.ndjson.gz: line 1 has seq 1, expected 3")),
        "{found:?}"
    );
    assert!(
        found
            .iter()
            .any(|m| m.starts_with("p/tenant=acme/acme_0000a.ndjson.gz: does not follow")),
        "{found:?}"
    );
}

#[test]
fn a_pruned_start_is_accepted_only_when_asked() {
    let mut objects = stream(&[2, 2, 2]);
    objects.remove(0);
    assert!(!check(&objects).problems.is_empty());
    let pruned = check_stream(&objects, StreamStart::FirstPresent, &BTreeMap::new());
    assert_eq!(messages(&pruned), Vec::<String>::new());
    assert_eq!(pruned.last_seq, Some(6));
}

#[test]
fn receipts_must_be_delivered_unchanged() {
    let objects = stream(&[2]);
    let mut receipts = BTreeMap::new();
    receipts.insert("ev-1".to_string(), receipt(&event(1)).unwrap());
    receipts.insert("ev-2".to_string(), sha256_hex(b"something else"));
    receipts.insert("ev-9".to_string(), receipt(&event(9)).unwrap());
    let found = messages(&check_stream(&objects, StreamStart::Beginning, &receipts));
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with("receipt ev-2: delivered with different content"));
    assert_eq!(found[1], "receipt ev-9: the event is not in the stream");
}

mod canonical {
    use proptest::prelude::*;

    use super::*;

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(Value::from),
            (-1_000_000i64..1_000_000, 0u32..6)
                .prop_map(|(m, e)| Value::from(m as f64 / 10f64.powi(e as i32))),
            any::<String>().prop_map(Value::String),
            "[\\x00-\\x7f\u{e000}-\u{e0ff}\u{10000}-\u{10100}]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 40, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec(
                    (
                        prop_oneof![
                            any::<String>(),
                            "[a-z\u{e000}-\u{e0ff}\u{10000}-\u{10100}]{0,3}"
                        ],
                        inner
                    ),
                    0..6
                )
                .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Our walk writes exactly what `serde_jcs` writes, for any JSON.
        #[test]
        fn the_canonical_form_is_serde_jcs_s(value in json()) {
            let mut ours = Vec::new();
            write_canonical(&value, &mut ours).unwrap();
            prop_assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(serde_jcs::to_vec(&value).unwrap()).unwrap()
            );
        }
    }
}

mod tampering {
    use proptest::prelude::*;

    use super::*;

    /// One way to tamper with a stream of at least two objects. Deleting the newest object
    /// is not here: only the signed digests reveal it.
    #[derive(Debug, Clone)]
    enum Tamper {
        /// Change one character of one line's event (and rehash the object, as a forger
        /// would, so only the line hash can tell).
        ModifyLine {
            object: usize,
            line: usize,
            at: usize,
        },
        DeleteObject {
            object: usize,
        },
        SwapObjects {
            a: usize,
            b: usize,
        },
        DuplicateObject {
            object: usize,
        },
        DropLastLines {
            object: usize,
            keep: usize,
        },
        DropLine {
            object: usize,
            line: usize,
        },
        SwapLines {
            object: usize,
        },
        InsertForged {
            at: usize,
        },
    }

    fn tamper() -> impl Strategy<Value = Tamper> {
        prop_oneof![
            (any::<usize>(), any::<usize>(), any::<usize>())
                .prop_map(|(object, line, at)| Tamper::ModifyLine { object, line, at }),
            any::<usize>().prop_map(|object| Tamper::DeleteObject { object }),
            (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Tamper::SwapObjects { a, b }),
            any::<usize>().prop_map(|object| Tamper::DuplicateObject { object }),
            (any::<usize>(), any::<usize>())
                .prop_map(|(object, keep)| Tamper::DropLastLines { object, keep }),
            (any::<usize>(), any::<usize>())
                .prop_map(|(object, line)| Tamper::DropLine { object, line }),
            any::<usize>().prop_map(|object| Tamper::SwapLines { object }),
            any::<usize>().prop_map(|at| Tamper::InsertForged { at }),
        ]
    }

    fn lines_of(object: &ObjectContent) -> Vec<String> {
        object
            .text
            .as_ref()
            .unwrap()
            .lines()
            .map(|l| format!("{l}\n"))
            .collect()
    }

    fn set_lines(object: &mut ObjectContent, lines: &[String]) {
        object.text = Ok(lines.concat());
        rehash(object);
    }

    /// Applies `t`; `false` when it changes nothing (a no-op is not a tampering).
    fn apply(objects: &mut Vec<ObjectContent>, t: &Tamper) -> bool {
        let n = objects.len();
        match *t {
            Tamper::ModifyLine { object, line, at } => {
                let o = &mut objects[object % n];
                let mut lines = lines_of(o);
                let l = line % lines.len();
                // Change a character of the event's own part (before `"integrity"`).
                let event_end = lines[l].find(",\"integrity\"").unwrap();
                let candidates: Vec<usize> = lines[l][..event_end]
                    .char_indices()
                    .filter(|(_, c)| c.is_ascii_alphanumeric())
                    .map(|(i, _)| i)
                    .collect();
                let i = candidates[at % candidates.len()];
                let old = lines[l].as_bytes()[i];
                let new = if old == b'x' { "y" } else { "x" };
                lines[l].replace_range(i..i + 1, new);
                set_lines(o, &lines);
            }
            Tamper::DeleteObject { object } => {
                // Any but the newest.
                objects.remove(object % (n - 1));
            }
            Tamper::SwapObjects { a, b } => {
                let (a, b) = (a % n, b % n);
                if a == b {
                    return false;
                }
                let key_a = objects[a].key.clone();
                let key_b = objects[b].key.clone();
                objects.swap(a, b);
                objects[a].key = key_a;
                objects[b].key = key_b;
            }
            Tamper::DuplicateObject { object } => {
                let mut copy = objects[object % n].clone();
                copy.key.push_str(".copy");
                objects.insert(object % n + 1, copy);
            }
            Tamper::DropLastLines { object, keep } => {
                let o = &mut objects[object % n];
                let lines = lines_of(o);
                set_lines(o, &lines[..keep % lines.len()]);
            }
            Tamper::DropLine { object, line } => {
                let o = &mut objects[object % n];
                let mut lines = lines_of(o);
                if lines.len() < 2 {
                    return false;
                }
                lines.remove(line % (lines.len() - 1));
                set_lines(o, &lines);
            }
            Tamper::SwapLines { object } => {
                let o = &mut objects[object % n];
                let mut lines = lines_of(o);
                if lines.len() < 2 {
                    return false;
                }
                lines.swap(0, 1);
                set_lines(o, &lines);
            }
            Tamper::InsertForged { at } => {
                // A well-formed object from another stream of the same shape.
                let mut forged = stream(&[2]).remove(0);
                forged.key = format!("p/tenant=acme/forged_{at}.ndjson.gz");
                objects.insert(at % (n + 1), forged);
            }
        }
        true
    }

    proptest! {
        #[test]
        fn no_tampering_passes(
            sizes in proptest::collection::vec(1u64..5, 2..6),
            tampering in tamper(),
        ) {
            let mut objects = stream(&sizes);
            prop_assert!(check(&objects).problems.is_empty());
            prop_assume!(apply(&mut objects, &tampering));
            let found = check(&objects);
            prop_assert!(!found.problems.is_empty(), "{:?} passed", tampering);
        }
    }
}
