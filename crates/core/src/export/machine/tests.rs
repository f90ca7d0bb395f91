//! The export protocol against a model store (compare-and-set on the version) and a model
//! object store (create if absent, compare when present), with several exporters whose steps
//! interleave at random, that crash between writing objects and storing the state, and whose
//! leases expire while they are slow. Whatever happens, once a clean exporter has run to the
//! end every event is in exactly one object, in order, and the digests list every object once.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;
use crate::export::Target;

const WINDOW: i64 = 1_000;
const GRACE: i64 = 500;
const PERIOD: i64 = 4_000;
const LEASE: i64 = 3_000;

fn config(owner: &str) -> ExportConfig {
    ExportConfig {
        window_ms: WINDOW,
        grace_ms: GRACE,
        max_object_bytes: 1 << 20,
        lease_ms: LEASE,
        owner: owner.into(),
        concurrency: 1,
        max_windows_per_pass: 1_000,
        digest_period_ms: PERIOD,
    }
}

fn destination() -> Destination {
    Destination::new(
        "dst".into(),
        "acme".into(),
        Target::Directory {
            path: "/model".into(),
            prefix: "p/".into(),
        },
        Timestamp(0),
    )
}

/// What a step wrote before its compare-and-set.
#[derive(Debug, Clone)]
enum Pending {
    Window(Window, WindowWritten),
    Digest(Window, DigestLink),
}

#[derive(Debug, Default)]
struct Exporter {
    /// The state this exporter last read or stored.
    view: Option<ExportState>,
    pending: Option<Pending>,
}

#[derive(Debug)]
struct World {
    /// Every event, by receive time, with the time its write becomes visible: up to the grace
    /// later (a write that took its time, another writer's clock a little behind).
    events: Vec<(Timestamp, String, Timestamp)>,
    now: Timestamp,
    state: ExportState,
    /// Object store: key → content (event ids for objects, the body for digests).
    objects: BTreeMap<String, Vec<String>>,
    conflicts: Vec<String>,
}

impl World {
    fn compare_and_set(&mut self, next: ExportState, expected: u64) -> bool {
        assert_eq!(
            next.version,
            expected + 1,
            "every transition bumps the version"
        );
        if self.state.version != expected {
            return false;
        }
        self.state = next;
        true
    }

    fn put_if_absent(&mut self, key: String, content: Vec<String>) {
        match self.objects.get(&key) {
            Some(existing) if *existing != content => self.conflicts.push(key),
            Some(_) => {}
            None => {
                self.objects.insert(key, content);
            }
        }
    }

    fn visible(&self) -> impl Iterator<Item = &(Timestamp, String, Timestamp)> {
        self.events.iter().filter(|(_, _, seen)| *seen <= self.now)
    }

    fn next_event(&self, from: Option<Timestamp>) -> Option<Timestamp> {
        self.visible()
            .map(|(at, _, _)| *at)
            .filter(|at| from.is_none_or(|f| *at >= f))
            .min()
    }

    /// A window's object: every stored event of it, in order (one part per window here).
    fn write_window(&mut self, state: &ExportState, window: Window) -> WindowWritten {
        let ids: Vec<String> = self
            .visible()
            .filter(|(at, _, _)| window.start <= *at && *at < window.end)
            .map(|(_, id, _)| id.clone())
            .collect();
        let key = format!("o/{:012}", window.start.0);
        let count = ids.len() as u64;
        self.put_if_absent(key.clone(), ids);
        WindowWritten {
            objects: 1,
            events: count,
            last_seq: state.last_seq + count,
            last_object_sha256: Some(format!("sha({key})")),
            digest_objects: vec![DigestObject {
                key,
                first_seq: state.last_seq + 1,
                last_seq: state.last_seq + count,
                count,
                sha256: String::new(),
                ndjson_sha256: String::new(),
            }],
        }
    }

    fn write_digest(&mut self, state: &ExportState, period: Window) -> DigestLink {
        let body = digest_body(state, &destination(), period, "k1");
        let key = format!("d/{:012}", period.start.0);
        let listed = body.objects.iter().map(|o| o.key.clone()).collect();
        let content = vec![format!("{body:?}")];
        self.put_if_absent(key.clone(), content);
        self.put_if_absent(format!("{key}/objects"), listed);
        DigestLink {
            key,
            sha256: String::new(),
        }
    }

    /// One move of exporter `who`: the next thing its program does.
    fn act(&mut self, exporters: &mut [Exporter], who: usize, crash: bool) {
        let owner = format!("exporter-{who}");
        let me = &mut exporters[who];
        if crash {
            // Dies: whatever it wrote stays; its lease runs out on its own.
            *me = Exporter::default();
            return;
        }
        if let Some(pending) = me.pending.take() {
            let Some(view) = me.view.take() else { return };
            let next = match pending {
                Pending::Window(window, written) => {
                    after_window(&view, window, written, self.now, LEASE)
                }
                Pending::Digest(period, link) => after_digest(&view, period, link, self.now, LEASE),
            };
            if self.compare_and_set(next.clone(), view.version) {
                me.view = Some(next);
            }
            return;
        }
        let Some(view) = me.view.clone() else {
            // Not holding the lease: read the state and try to take it.
            let state = self.state.clone();
            if let Some(leased) = take_lease(&state, &owner, self.now, LEASE)
                && self.compare_and_set(leased.clone(), state.version)
            {
                me.view = Some(leased);
            }
            return;
        };
        let next_event = self.next_event(view.exported_through);
        match next_step(&view, next_event, &config(&owner), self.now) {
            Step::Done => {
                let released = release(&view, None, self.now);
                self.compare_and_set(released, view.version);
                me.view = None;
            }
            Step::StartDigests(start) => {
                let next = start_digests(&view, start, self.now, LEASE);
                me.view = self
                    .compare_and_set(next.clone(), view.version)
                    .then_some(next);
            }
            Step::Window(window) => {
                let written = self.write_window(&view, window);
                me.pending = Some(Pending::Window(window, written));
            }
            Step::Digest(period) => {
                let link = self.write_digest(&view, period);
                me.pending = Some(Pending::Digest(period, link));
            }
        }
    }
}

/// `(exporter, crash?, milliseconds that pass)` moves.
fn moves() -> impl Strategy<Value = Vec<(usize, bool, i64)>> {
    prop::collection::vec((0usize..3, prop::bool::weighted(0.08), 0i64..400), 1..400)
}

/// `(receive time, how much later the write is visible)`, the delay within the grace.
fn events() -> impl Strategy<Value = Vec<(i64, i64)>> {
    prop::collection::vec((0i64..30_000, 0..GRACE), 0..80)
}

fn world(mut times: Vec<(i64, i64)>) -> World {
    times.sort_unstable();
    let events = times
        .into_iter()
        .enumerate()
        .map(|(i, (t, delay))| (Timestamp(t), format!("e{i:03}"), Timestamp(t + delay)))
        .collect();
    World {
        events,
        now: Timestamp(0),
        state: ExportState::new("dst"),
        objects: BTreeMap::new(),
        conflicts: Vec::new(),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn crashes_and_races_never_lose_or_repeat_an_event(times in events(), plan in moves()) {
        let mut world = world(times);
        let mut exporters: Vec<Exporter> = (0..3).map(|_| Exporter::default()).collect();
        for (who, crash, pass) in plan {
            world.now = Timestamp(world.now.0 + pass);
            world.act(&mut exporters, who, crash);
        }
        // Later, one exporter (a fresh process) runs until nothing is due.
        world.now = Timestamp(world.now.0.max(30_000) + 10 * PERIOD);
        let mut last = vec![Exporter::default()];
        for _ in 0..10_000 {
            world.act(&mut last, 0, false);
            if last[0].view.is_none() && world.state.lease_owner.is_none()
                && next_step(&world.state, world.next_event(world.state.exported_through), &config("x"), world.now) == Step::Done
            {
                break;
            }
        }
        prop_assert!(world.conflicts.is_empty(), "rewritten with other content: {:?}", world.conflicts);

        // Every event exactly once, in order, across the objects in key (time) order.
        let delivered: Vec<String> = world
            .objects
            .iter()
            .filter(|(k, _)| k.starts_with("o/"))
            .flat_map(|(_, ids)| ids.clone())
            .collect();
        let all: Vec<String> = world.events.iter().map(|(_, id, _)| id.clone()).collect();
        prop_assert_eq!(&delivered, &all);
        prop_assert_eq!(world.state.events_delivered, all.len() as u64);
        prop_assert_eq!(world.state.last_seq, all.len() as u64);

        // Every object that holds events is listed by exactly one digest, and digests chain.
        let mut listed: Vec<String> = world
            .objects
            .iter()
            .filter(|(k, _)| k.ends_with("/objects"))
            .flat_map(|(_, keys)| keys.clone())
            .collect();
        listed.sort();
        let mut written: Vec<String> = world
            .objects
            .keys()
            .filter(|k| k.starts_with("o/"))
            .cloned()
            .collect();
        written.sort();
        prop_assert_eq!(listed, written);
        prop_assert!(world.state.lease_owner.is_none(), "the lease is released");
    }
}

#[test]
fn every_transition_is_one_version_on() {
    let state = ExportState::new("dst");
    let now = Timestamp(10_000);
    let leased = take_lease(&state, "a", now, LEASE).expect("free");
    assert_eq!(leased.version, 1);
    assert_eq!(leased.lease_until, Some(Timestamp(13_000)));
    assert!(take_lease(&leased, "b", Timestamp(12_999), LEASE).is_none());
    assert!(take_lease(&leased, "b", Timestamp(13_000), LEASE).is_some());
    let started = start_digests(&leased, Timestamp(8_000), now, LEASE);
    assert_eq!(started.version, 2);
    let window = Window {
        start: Timestamp(8_000),
        end: Timestamp(9_000),
    };
    let written = WindowWritten {
        objects: 1,
        events: 3,
        last_seq: 3,
        last_object_sha256: Some("h".into()),
        digest_objects: Vec::new(),
    };
    let after = after_window(&started, window, written, now, LEASE);
    assert_eq!(
        (after.version, after.exported_through, after.last_seq),
        (3, Some(Timestamp(9_000)), 3)
    );
    let released = release(&after, Some("boom"), now);
    assert_eq!(released.version, 4);
    assert_eq!(released.lease_owner, None);
    assert_eq!(released.exported_through, Some(Timestamp(9_000)));
    assert_eq!(
        released.last_error.map(|e| e.message).as_deref(),
        Some("boom")
    );
}

#[test]
fn an_error_noted_without_the_lease_leaves_the_holders_lease_alone() {
    let leased = take_lease(&ExportState::new("dst"), "a", Timestamp(0), LEASE).expect("free");
    let noted = with_error(&leased, "cannot reach the bucket", Timestamp(100));
    assert_eq!(noted.version, leased.version + 1);
    assert_eq!(
        (noted.lease_owner, noted.lease_until),
        (leased.lease_owner, leased.lease_until)
    );
}

#[test]
fn windows_wait_for_their_grace_and_digests_for_their_period() {
    let cfg = config("a");
    let mut state = take_lease(&ExportState::new("dst"), "a", Timestamp(0), LEASE).expect("free");
    // First pass: digests start with the period of the first closed-through instant.
    assert_eq!(
        next_step(&state, Some(Timestamp(1_200)), &cfg, Timestamp(2_400)),
        Step::StartDigests(Timestamp(0))
    );
    state = start_digests(&state, Timestamp(0), Timestamp(2_400), LEASE);
    // The window [1000, 2000) closes at 2500.
    assert_eq!(
        next_step(&state, Some(Timestamp(1_200)), &cfg, Timestamp(2_499)),
        Step::Done
    );
    assert_eq!(
        next_step(&state, Some(Timestamp(1_200)), &cfg, Timestamp(2_500)),
        Step::Window(Window {
            start: Timestamp(1_000),
            end: Timestamp(2_000)
        })
    );
    // Nothing left before 5000 and the period [0, 4000) is behind the horizon: its digest.
    assert_eq!(
        next_step(&state, Some(Timestamp(5_000)), &cfg, Timestamp(6_000)),
        Step::Digest(Window {
            start: Timestamp(0),
            end: Timestamp(4_000)
        })
    );
}

#[test]
fn a_paused_destination_has_nothing_to_do_until_resumed() {
    let state = ExportState::new("dst");
    let now = Timestamp(100 * PERIOD);
    let due = next_step(&state, Some(Timestamp(WINDOW)), &config("a"), now);
    assert_ne!(due, Step::Done);
    let paused = pause(&state);
    assert_eq!(paused.version, state.version + 1);
    assert_eq!(
        next_step(&paused, Some(Timestamp(WINDOW)), &config("a"), now),
        Step::Done
    );
    assert_eq!(
        next_step(&resume(&paused), Some(Timestamp(WINDOW)), &config("a"), now),
        due
    );
}
