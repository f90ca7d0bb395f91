//! Signed digests end to end, on every export rig (re-exported by `export_suite`, whose macro
//! runs it): three periods exported with a key rotation between them, the digests checked by
//! the pure verifier and by `auditlog verify`, then each tampering done to the destination
//! itself, named by the verifier, and undone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use auditlog_core::Timestamp;
use auditlog_core::digest::{
    DigestBody, DigestOptions, check_digests, parse_digest, signed_digest,
};
use auditlog_core::integrity::StreamStart;
use auditlog_core::signing::{PublicKeys, SigningKeyRecord};
use auditlog_core::store::ExportStore;
use auditlog_export::engine::export_destination;
use auditlog_export::signing_keys::{rotate, signing_keys};
use serde_json::Value;

use crate::export_suite::{
    Delivered, ExportRig, GRACE, PERIOD, WINDOW, compress_like, config, ids, ingest,
};

/// One signed digest per period, chained, also for a period without objects, each signed by
/// the key in force at its period's end (the key rotates mid-stream): `auditlog verify` passes
/// the stream as delivered, and names each tampering done to the destination itself.
pub async fn digests_are_signed_chained_and_name_every_tampering(rig: &ExportRig) {
    let digested = export_three_periods(rig).await;
    check_the_digests(rig.t0, &digested);
    let verifier = Verifier::new(rig, &digested);
    let (code, out) = verifier.run(&verifier.all_keys);
    assert_eq!(code, Some(0), "{out}");
    let complete = format!(
        "3 digests, 3 signatures checked, complete through {}",
        Timestamp(rig.t0 + 3 * PERIOD).to_rfc3339()
    );
    assert!(out.contains(&complete), "{out}");
    let (code, out) = verifier.run(&verifier.old_keys);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains(&format!(
            "signed by key {}, which is not among the public keys",
            digested.rotated.key_id
        )),
        "{out}"
    );
    for tampering in tamperings(rig, &digested) {
        tamper_and_undo(rig, &verifier, tampering);
    }
}

/// The stream once three periods are exported.
struct Digested {
    now: Timestamp,
    delivered: Delivered,
    bodies: Vec<DigestBody>,
    /// The first signing key, alone.
    first_keys: Vec<SigningKeyRecord>,
    /// The key rotated in between period 0's end and period 1's.
    rotated: SigningKeyRecord,
    /// Every signing key the store holds.
    keys: Vec<SigningKeyRecord>,
}

/// Period 0 (windows 0-4): events in windows 0 and 1. Period 1: none. Period 2: window 11.
/// Exported twice: before any digest is due, then after the key's rotation and period 2.
async fn export_three_periods(rig: &ExportRig) -> Digested {
    let t0 = rig.t0;
    let store: &dyn ExportStore = rig.store.as_ref();
    let sink = rig.sinks.sink_for(&rig.destination).await.unwrap();
    let mut receipts = BTreeMap::new();
    for (batch, n, w) in [("d0", 6, 0), ("d1", 4, 1), ("d11", 3, 11)] {
        let at = t0 + w * WINDOW + 1_000;
        receipts.extend(ingest(rig.store.as_ref(), "acme", &ids(batch, n), at, None).await);
    }
    let export = async |now: Timestamp| {
        let report =
            export_destination(store, sink.as_ref(), &rig.destination, &config("a"), now).await;
        assert_eq!(report.error, None);
        report
    };
    let first = export(Timestamp(t0 + 2 * WINDOW + GRACE)).await;
    assert_eq!((first.windows, first.digests_written), (2, 0));
    assert_eq!(
        store.signing_keys().await.unwrap(),
        vec![],
        "made when first needed"
    );
    // The first key (as `auditlog signing-keys public` makes it), then a rotation between
    // period 0's end and period 1's.
    let first_keys = signing_keys(store, Timestamp(t0)).await.unwrap();
    assert_eq!(first_keys.len(), 1);
    let rotated = rotate(store, Timestamp(t0 + 7 * WINDOW)).await.unwrap();
    let now = Timestamp(t0 + 16 * WINDOW + GRACE);
    let second = export(now).await;
    assert_eq!((second.windows, second.digests_written), (1, 3));
    assert_eq!(export(now).await.digests_written, 0, "each digest once");
    let keys = store.signing_keys().await.unwrap();
    let delivered = (rig.reader)();
    let bodies = delivered
        .digests
        .iter()
        .map(|d| parse_digest(&d.bytes).unwrap().body)
        .collect();
    Digested {
        now,
        delivered,
        bodies,
        first_keys,
        rotated,
        keys,
    }
}

/// What the digests say (periods, sequence numbers, keys, objects), and the pure checks'
/// verdict on them.
fn check_the_digests(t0: i64, d: &Digested) {
    let spans: Vec<_> = d
        .bodies
        .iter()
        .map(|b| {
            (
                b.period_start.0 - t0,
                b.period_end.0 - t0,
                b.seq_before,
                b.last_seq,
            )
        })
        .collect();
    assert_eq!(
        spans,
        [
            (0, PERIOD, 0, 10),
            (PERIOD, 2 * PERIOD, 10, 10),
            (2 * PERIOD, 3 * PERIOD, 10, 13)
        ]
    );
    assert!(
        d.bodies[1].objects.is_empty(),
        "the empty period has a digest"
    );
    assert_eq!(
        d.bodies
            .iter()
            .map(|b| b.key_id.as_str())
            .collect::<Vec<_>>(),
        [
            d.first_keys[0].key_id.as_str(),
            &d.rotated.key_id,
            &d.rotated.key_id
        ]
    );
    let listed: Vec<&str> = d
        .bodies
        .iter()
        .flat_map(|b| b.objects.iter().map(|o| o.key.as_str()))
        .collect();
    let all: Vec<&str> = d.delivered.objects.iter().map(|o| o.key.as_str()).collect();
    assert_eq!(listed, all, "every object listed once, in order");

    let keyring = PublicKeys::of(&d.keys).keyring().unwrap();
    let options = DigestOptions {
        keys: Some(&keyring),
        start: StreamStart::Beginning,
        as_of: d.now,
        max_age_ms: Some(3 * WINDOW),
    };
    let stream = "user-events-audit/tenant=acme";
    let delivered = &d.delivered;
    let check = check_digests(stream, &delivered.digests, &delivered.objects, &options);
    assert_eq!(check.problems, vec![]);
    assert_eq!(check.signatures_checked, 3);
    assert_eq!(check.covered_through, Some(Timestamp(t0 + 3 * PERIOD)));
}

/// `auditlog verify` on the destination itself, as of the last export, with every public key
/// or with the first one only.
struct Verifier {
    _scratch: tempfile::TempDir,
    all_keys: PathBuf,
    old_keys: PathBuf,
    location: Vec<String>,
    as_of: String,
}

impl Verifier {
    fn new(rig: &ExportRig, d: &Digested) -> Verifier {
        let scratch = tempfile::tempdir().unwrap();
        let all_keys = scratch.path().join("keys.json");
        std::fs::write(
            &all_keys,
            serde_json::to_vec(&PublicKeys::of(&d.keys)).unwrap(),
        )
        .unwrap();
        let old_keys = scratch.path().join("old-keys.json");
        let old_only = PublicKeys::of(&d.first_keys);
        std::fs::write(&old_keys, serde_json::to_vec(&old_only).unwrap()).unwrap();
        Verifier {
            _scratch: scratch,
            all_keys,
            old_keys,
            location: rig.location.clone(),
            as_of: d.now.to_rfc3339(),
        }
    }

    /// The exit code and everything printed.
    fn run(&self, keys: &Path) -> (Option<i32>, String) {
        let mut args: Vec<&str> = vec!["verify"];
        args.extend(self.location.iter().map(String::as_str));
        args.extend([
            "--public-keys",
            keys.to_str().unwrap(),
            "--as-of",
            &self.as_of,
            "--max-age",
            "3m",
        ]);
        let out = crate::run_auditlog(&args, &[]);
        (out.code, format!("{}{}", out.stdout, out.stderr))
    }
}

enum Damage {
    Delete,
    Write(Vec<u8>),
    /// A new file (undone by deleting it).
    Create(Vec<u8>),
}

/// One tampering: what is done to which keys, and what the verifier must say.
struct Tampering {
    what: &'static str,
    damages: Vec<(String, Damage)>,
    expected: Vec<String>,
}

impl Tampering {
    fn new(what: &'static str, damages: Vec<(String, Damage)>, expected: Vec<String>) -> Self {
        Tampering {
            what,
            damages,
            expected,
        }
    }
}

/// Every tampering the verifier must name, with the damaged bytes made here.
fn tamperings(rig: &ExportRig, d: &Digested) -> Vec<Tampering> {
    let (delivered, bodies) = (&d.delivered, &d.bodies);
    let digest_keys: Vec<String> = delivered.digests.iter().map(|d| d.key.clone()).collect();
    let forger = SigningKeyRecord::from_seed([7; 32], d.now);
    let forged = {
        let mut body = bodies[1].clone();
        body.key_id = forger.key_id.clone();
        body.last_seq = 9;
        signed_digest(&body, &forger).unwrap()
    };
    let edited = {
        let mut value: Value = serde_json::from_slice(&delivered.digests[0].bytes).unwrap();
        value["objects"].as_array_mut().unwrap().pop();
        serde_json::to_vec_pretty(&value).unwrap()
    };
    let object0 = delivered.objects[0].key.clone();
    let object1 = delivered.objects[1].key.clone();
    let modified_line = {
        let text = delivered.objects[0].text.clone().unwrap();
        compress_like(&object0, &text.replacen("doc.update", "doc.delete", 1))
    };
    let mut newest_gone: Vec<(String, Damage)> = bodies[2]
        .objects
        .iter()
        .map(|o| (o.key.clone(), Damage::Delete))
        .collect();
    newest_gone.push((digest_keys[2].clone(), Damage::Delete));
    let bytes = |key: &str| rig.files.read(key);
    // A well-formed object (a copy of the first) under a new part number of the first window.
    let forged_key = object0.replace("_0000.ndjson.", "_0099.ndjson.");
    assert_ne!(forged_key, object0);
    let truncated = {
        let whole = bytes(&object0);
        whole[..whole.len() / 2].to_vec()
    };
    let not_listed_bytes = format!(
        "PROBLEM {object0}: its bytes are not those digest {}",
        digest_keys[0]
    );
    vec![
        Tampering::new(
            "reorder two objects",
            vec![
                (object0.clone(), Damage::Write(bytes(&object1))),
                (object1.clone(), Damage::Write(bytes(&object0))),
            ],
            vec![
                format!("PROBLEM {object1}: line 1 has seq 1, expected"),
                "(reordered, duplicated or inserted)".to_string(),
                not_listed_bytes.clone(),
            ],
        ),
        Tampering::new(
            "insert a forged object",
            vec![(forged_key.clone(), Damage::Create(bytes(&object0)))],
            vec![format!("PROBLEM {forged_key}: no digest lists it")],
        ),
        Tampering::new(
            "truncate a file",
            vec![(object0.clone(), Damage::Write(truncated))],
            vec![
                format!("PROBLEM {object0}: cannot be read"),
                not_listed_bytes,
            ],
        ),
        Tampering::new(
            "delete the newest objects and their digest",
            newest_gone,
            vec![format!(
                "PROBLEM {}: is the newest digest, but its period ended at {}",
                digest_keys[1],
                Timestamp(rig.t0 + 2 * PERIOD).to_rfc3339()
            )],
        ),
        Tampering::new(
            "delete an object a digest lists",
            vec![(object0.clone(), Damage::Delete)],
            vec![format!(
                "PROBLEM {object0}: missing (deleted?): digest {}",
                digest_keys[0]
            )],
        ),
        Tampering::new(
            "modify a line",
            vec![(object0.clone(), Damage::Write(modified_line))],
            vec![format!(
                "PROBLEM {object0}: its bytes are not those digest {} lists",
                digest_keys[0]
            )],
        ),
        Tampering::new(
            "replace a digest with one signed by another key",
            vec![(digest_keys[1].clone(), Damage::Write(forged))],
            vec![
                format!(
                    "PROBLEM {}: signed by key {}, which is not among the public keys",
                    digest_keys[1], forger.key_id
                ),
                format!(
                    "PROBLEM {}: does not follow {}",
                    digest_keys[2], digest_keys[1]
                ),
            ],
        ),
        Tampering::new(
            "edit a digest",
            vec![(digest_keys[0].clone(), Damage::Write(edited))],
            vec![format!(
                "PROBLEM {}: the signature does not verify under key {}",
                digest_keys[0], d.first_keys[0].key_id
            )],
        ),
        Tampering::new(
            "delete a digest in the middle",
            vec![(digest_keys[1].clone(), Damage::Delete)],
            vec![
                format!("PROBLEM {}: digests missing for", digest_keys[2]),
                format!(
                    "PROBLEM {}: does not follow {}",
                    digest_keys[2], digest_keys[0]
                ),
            ],
        ),
    ]
}

/// Damages the destination, checks the verifier names it, restores it and checks the verifier
/// passes it again.
fn tamper_and_undo(rig: &ExportRig, verifier: &Verifier, t: Tampering) {
    let saved: Vec<(String, Option<Vec<u8>>)> = t
        .damages
        .iter()
        .map(|(key, damage)| {
            let before = (!matches!(damage, Damage::Create(_))).then(|| rig.files.read(key));
            (key.clone(), before)
        })
        .collect();
    for (key, damage) in &t.damages {
        match damage {
            Damage::Delete => rig.files.delete(key),
            Damage::Write(bytes) | Damage::Create(bytes) => rig.files.write(key, bytes),
        }
    }
    let what = t.what;
    let (code, out) = verifier.run(&verifier.all_keys);
    assert_eq!(code, Some(1), "{what}: {out}");
    for message in &t.expected {
        assert!(
            out.contains(message),
            "{what}: wanted `{message}` in\n{out}"
        );
    }
    for (key, before) in &saved {
        match before {
            Some(bytes) => rig.files.write(key, bytes),
            None => rig.files.delete(key),
        }
    }
    let (code, out) = verifier.run(&verifier.all_keys);
    assert_eq!(code, Some(0), "after undoing {what}: {out}");
}
