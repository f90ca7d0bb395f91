//! The verifier's checks of one stream's digests against its objects: signatures, locations,
//! the chain of digests, the objects each lists, and how recent the newest is. The reader
//! brings the bytes (`auditlog verify`).

use std::collections::{BTreeMap, BTreeSet};

use super::{
    DEFAULT_DIGEST_SLACK_MS, DIGEST_FORMAT, DigestBody, DigestLink, ParsedDigest, digest_key,
    parse_digest,
};
use crate::Timestamp;
use crate::integrity::{
    ObjectContent, Problem, StreamStart, parse_line, range as seq_range, sha256_hex,
};
use crate::object_keys::{Window, object_window, window_containing};
use crate::signing::{Keyring, signature_holds};

/// A digest file as the verifier read it.
#[derive(Debug, Clone)]
pub struct DigestFile {
    pub key: String,
    pub bytes: Vec<u8>,
}

/// How the digests of a stream are judged.
#[derive(Debug, Clone)]
pub struct DigestOptions<'a> {
    /// Public keys by id; `None`: signatures are not checked (the summary says so).
    pub keys: Option<&'a Keyring>,
    pub start: StreamStart,
    /// The time the copy is judged at (now, or when it was taken).
    pub as_of: Timestamp,
    /// How far behind `as_of` the newest digest may end. `None`: one period (the newest
    /// digest's length, or an hour when there is none) and [`DEFAULT_DIGEST_SLACK_MS`].
    pub max_age_ms: Option<i64>,
}

/// The result of checking one stream's digests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DigestCheck {
    pub digests: usize,
    pub signatures_checked: usize,
    /// The end of the newest digest's period: the stream is shown complete up to here.
    pub covered_through: Option<Timestamp>,
    /// Objects newer than the newest digest (its next period is still open).
    pub objects_after: usize,
    /// Objects from before the first digest (delivered before digests began, or pruned).
    pub objects_before: usize,
    pub problems: Vec<Problem>,
}

impl DigestCheck {
    fn problem(&mut self, at: &str, message: String) {
        self.problems.push(Problem::new(at, message));
    }
}

/// The first and last sequence numbers an object's summary states.
fn object_seqs(object: &ObjectContent) -> Option<(u64, u64)> {
    let text = object.text.as_ref().ok()?;
    let last = parse_line(text.lines().last()?).ok()?;
    let summary = last.integrity.object?;
    Some((summary.first_seq, summary.last_seq))
}

fn split_stream(stream: &str) -> (&str, &str) {
    match stream.find("tenant=") {
        Some(at) => (&stream[..at], &stream[at + "tenant=".len()..]),
        None => ("", stream),
    }
}

/// Checks a stream's digests (any order) against its objects (as for
/// [`crate::integrity::check_stream`]): each digest's signature, location and sequence
/// numbers; the chain of digests (each links to the one before, periods follow without a gap);
/// every listed object present with both hashes; every object listed unless it is newer than
/// the newest digest or older than the first; and that the newest digest is recent enough.
/// Each check is a function of its own below; this walks the digests in period order.
pub fn check_digests(
    stream: &str,
    digests: &[DigestFile],
    objects: &[ObjectContent],
    options: &DigestOptions<'_>,
) -> DigestCheck {
    let mut check = DigestCheck::default();
    let (prefix, tenant) = split_stream(stream);
    let mut parsed: Vec<(&DigestFile, ParsedDigest)> = Vec::new();
    for file in digests {
        match parse_digest(&file.bytes) {
            Ok(digest) => parsed.push((file, digest)),
            Err(e) => check.problem(&file.key, format!("cannot be read as a digest: {e}")),
        }
    }
    parsed.sort_by_key(|(file, d)| (d.body.period_start, file.key.clone()));
    check.digests = parsed.len();

    let mut listed = Listed {
        by_key: objects.iter().map(|o| (o.key.as_str(), o)).collect(),
        pruned_below: pruned_below(objects, options.start),
        keys: BTreeSet::new(),
    };
    let mut previous: Option<(&DigestFile, &DigestBody)> = None;
    for (file, digest) in &parsed {
        let key = file.key.as_str();
        check_location(&mut check, key, &digest.body, prefix, tenant);
        if let Some(keys) = options.keys {
            check_signature(&mut check, key, digest, keys);
        }
        match previous {
            Some(before) => check_chain(&mut check, key, &digest.body, before),
            None => check_first(&mut check, key, &digest.body, options.start),
        }
        check_listed_objects(&mut check, key, &digest.body, &mut listed);
        previous = Some((file, &digest.body));
    }
    let first = parsed.first().map(|(_, d)| &d.body);
    let newest = parsed.last().map(|(file, d)| (*file, &d.body));
    check.covered_through = newest.map(|(_, b)| b.period_end);
    // The newest digest's period, or hourly when there is none.
    let period_ms = newest.map_or(3_600_000, |(_, b)| b.period_end.0 - b.period_start.0);
    let max_age = options
        .max_age_ms
        .unwrap_or(period_ms + DEFAULT_DIGEST_SLACK_MS);
    let ages = Ages {
        period_ms: period_ms.max(1),
        max_age,
        as_of: options.as_of,
    };
    check_unlisted_objects(
        &mut check,
        objects,
        &listed.keys,
        first,
        newest.map(|(_, b)| b),
        &ages,
    );
    if let Some((file, newest)) = newest {
        check_freshness(&mut check, &file.key, newest, &ages);
    }
    check
}

/// Below the first object present, a pruned stream has nothing left by design.
fn pruned_below(objects: &[ObjectContent], start: StreamStart) -> u64 {
    match start {
        StreamStart::Beginning => 0,
        StreamStart::FirstPresent => objects
            .iter()
            .filter_map(object_seqs)
            .map(|(first, _)| first)
            .min()
            .unwrap_or(u64::MAX),
    }
}

/// The objects present, and the keys the digests list so far.
struct Listed<'a> {
    by_key: BTreeMap<&'a str, &'a ObjectContent>,
    pruned_below: u64,
    keys: BTreeSet<&'a str>,
}

/// How old the newest digest may be, and when the digest of an object's period is overdue.
struct Ages {
    period_ms: i64,
    max_age: i64,
    as_of: Timestamp,
}

/// The digest's format, and that it sits where its content says it belongs.
fn check_location(
    check: &mut DigestCheck,
    key: &str,
    body: &DigestBody,
    prefix: &str,
    tenant: &str,
) {
    if body.format != DIGEST_FORMAT {
        check.problem(key, format!("unknown format `{}`", body.format));
    }
    let period = Window {
        start: body.period_start,
        end: body.period_end,
    };
    let expected_key = digest_key(&body.prefix, &body.tenant, period);
    if body.prefix != prefix || body.tenant != tenant || expected_key != key {
        check.problem(
            key,
            format!("is not where its content says it belongs ({expected_key}): moved or copied from another stream"),
        );
    }
}

/// The digest's signature, under the public key it names.
fn check_signature(check: &mut DigestCheck, key: &str, digest: &ParsedDigest, keys: &Keyring) {
    let body = &digest.body;
    match keys.get(&body.key_id) {
        None => check.problem(
            key,
            format!(
                "signed by key {}, which is not among the public keys (forged, or a key missing from the key file)",
                body.key_id
            ),
        ),
        Some(public) if !signature_holds(public, &digest.signed, &digest.signature) => check
            .problem(
                key,
                format!(
                    "the signature does not verify under key {} (digest altered or forged)",
                    body.key_id
                ),
            ),
        Some(_) => check.signatures_checked += 1,
    }
}

/// The digest follows the one before it: no gap or overlap of periods, the link to that
/// digest's bytes, and the sequence numbers carried on.
fn check_chain(
    check: &mut DigestCheck,
    key: &str,
    body: &DigestBody,
    (previous_file, previous_body): (&DigestFile, &DigestBody),
) {
    if body.period_start > previous_body.period_end {
        check.problem(
            key,
            format!(
                "digests missing for {}..{} (between {} and this one)",
                previous_body.period_end.to_rfc3339(),
                body.period_start.to_rfc3339(),
                previous_file.key
            ),
        );
    } else if body.period_start < previous_body.period_end {
        check.problem(
            key,
            format!(
                "its period overlaps {}'s (a duplicated or forged digest)",
                previous_file.key
            ),
        );
    }
    let link = DigestLink {
        key: previous_file.key.clone(),
        sha256: sha256_hex(&previous_file.bytes),
    };
    if body.previous_digest.as_ref() != Some(&link) {
        check.problem(
            key,
            format!(
                "does not follow {}: its previous-digest link differs (a digest between them is missing, or one of them was replaced)",
                previous_file.key
            ),
        );
    }
    if body.seq_before != previous_body.last_seq {
        check.problem(
            key,
            format!(
                "starts after seq {}, but the digest before it ends at seq {}",
                body.seq_before, previous_body.last_seq
            ),
        );
    }
}

/// The first digest present starts the stream, unless retention pruned older ones.
fn check_first(check: &mut DigestCheck, key: &str, body: &DigestBody, start: StreamStart) {
    if body.previous_digest.is_some() && start == StreamStart::Beginning {
        check.problem(
            key,
            "is not the stream's first digest, but no digest precedes it (earlier digests are missing; --pruned if retention removed them)".into(),
        );
    }
}

/// The objects a digest lists tile its sequence numbers and are there, byte for byte.
fn check_listed_objects<'a>(
    check: &mut DigestCheck,
    key: &str,
    body: &'a DigestBody,
    listed: &mut Listed<'a>,
) {
    let mut expected = body.seq_before + 1;
    for object in &body.objects {
        if object.first_seq != expected
            || object.last_seq < object.first_seq
            || object.count != object.last_seq - object.first_seq + 1
        {
            check.problem(
                key,
                format!(
                    "lists {} as seq {}..{} ({} events) where seq {expected} comes next",
                    object.key, object.first_seq, object.last_seq, object.count
                ),
            );
        }
        expected = object.last_seq.max(expected) + 1;
        listed.keys.insert(object.key.as_str());
        match listed.by_key.get(object.key.as_str()) {
            None if object.last_seq < listed.pruned_below => {}
            None => check.problem(
                &object.key,
                format!(
                    "missing (deleted?): digest {key} lists it with seq {}",
                    seq_range(object.first_seq, object.last_seq)
                ),
            ),
            Some(found) if found.sha256 != object.sha256 => check.problem(
                &object.key,
                format!("its bytes are not those digest {key} lists (replaced or altered)"),
            ),
            Some(found) => {
                if let Ok(text) = &found.text
                    && sha256_hex(text.as_bytes()) != object.ndjson_sha256
                {
                    check.problem(
                        &object.key,
                        format!("its NDJSON does not hash to what digest {key} lists"),
                    );
                }
            }
        }
    }
    if expected - 1 != body.last_seq {
        check.problem(
            key,
            format!(
                "its objects end at seq {}, but it says the stream stood at seq {}",
                expected - 1,
                body.last_seq
            ),
        );
    }
}

/// Objects no digest lists: fine before the first digest or after the newest; inserted when a
/// digest covers their period; a sign of deleted digests when their period's digest is overdue.
fn check_unlisted_objects(
    check: &mut DigestCheck,
    objects: &[ObjectContent],
    listed: &BTreeSet<&str>,
    first: Option<&DigestBody>,
    newest: Option<&DigestBody>,
    ages: &Ages,
) {
    // The digest of the period holding `window` is due `max_age - period` after it ends (the
    // newest digest may end `max_age` before `as_of`: one period, and the time to appear).
    let overdue = |window: Option<Window>| {
        window.is_some_and(|w| {
            let period_end = window_containing(w.start, ages.period_ms).end;
            period_end.0 + (ages.max_age - ages.period_ms) < ages.as_of.0
        })
    };
    let mut reported_overdue = false;
    for object in objects {
        if listed.contains(object.key.as_str()) {
            continue;
        }
        let Some((first_seq, last_seq)) = object_seqs(object) else {
            continue; // unreadable or summary-less: check_stream reports it
        };
        let window = object_window(&object.key);
        let covered = match (first, newest) {
            (Some(first), _) if last_seq <= first.seq_before => {
                check.objects_before += 1;
                continue;
            }
            (_, Some(newest)) if first_seq > newest.last_seq => {
                window.is_some_and(|w| w.end <= newest.period_end)
            }
            (Some(_), Some(_)) => true,
            _ => false,
        };
        if covered {
            check.problem(
                &object.key,
                format!(
                    "no digest lists it (seq {}), though digests cover its period (inserted?)",
                    seq_range(first_seq, last_seq)
                ),
            );
        } else if overdue(window) {
            if !reported_overdue {
                reported_overdue = true;
                check.problem(
                    &object.key,
                    "no digest covers it, though the digest of its period is overdue (digests deleted?)".into(),
                );
            }
        } else {
            check.objects_after += 1;
        }
    }
}

/// The newest digest is recent enough: later digests (and their objects) were not deleted.
fn check_freshness(check: &mut DigestCheck, key: &str, newest: &DigestBody, ages: &Ages) {
    if newest.period_end.0 < ages.as_of.0 - ages.max_age {
        check.problem(
            key,
            format!(
                "is the newest digest, but its period ended at {}, more than {} before {}: later digests (and any objects they list) are missing",
                newest.period_end.to_rfc3339(),
                human_duration(ages.max_age),
                ages.as_of.to_rfc3339()
            ),
        );
    }
}

/// `2h`, `90m`, `45s`.
pub fn human_duration(ms: i64) -> String {
    let s = ms / 1000;
    if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}
