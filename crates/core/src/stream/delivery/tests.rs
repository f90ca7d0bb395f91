//! The delivery protocol against a model: events arrive over time (some with a receive time a
//! little before events already stored, as concurrent ingest does); two deliverers take turns,
//! each reading a stale or fresh state, crashing between a send and storing its state, and a
//! receiver that fails, loses its answers after taking a batch, or accepts. Whatever happens,
//! once a clean pass has run: every event the filter admits has arrived, the first arrivals are
//! in receive order, and no event the filter leaves out was sent.

use proptest::prelude::*;

use super::*;

const SETTLE: i64 = 10;
const LEASE: i64 = 1_000;

#[derive(Debug, Clone)]
struct StoredEvent {
    received_at: Timestamp,
    id: String,
    admitted: bool,
}

/// The receiver's behaviour for one batch.
#[derive(Debug, Clone, Copy)]
enum Receiver {
    Accept,
    Fail,
    /// Takes the batch, but the answer never reaches the deliverer.
    TakeThenVanish,
}

#[derive(Debug, Clone)]
enum Op {
    /// An event arrives, received `back` ms before now (within the settle time).
    Arrive { back: i64, admitted: bool },
    /// Time passes.
    Tick(i64),
    /// Deliverer `who` runs one batch of at most `max` events against the receiver's `answer`;
    /// `stale` makes it start from the state it read earlier; `crash` stops it before it
    /// stores the result.
    Deliver {
        who: usize,
        max: usize,
        answer: Receiver,
        stale: bool,
        crash: bool,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..SETTLE, any::<bool>()).prop_map(|(back, admitted)| Op::Arrive { back, admitted }),
        (1i64..20).prop_map(Op::Tick),
        (
            0usize..2,
            1usize..5,
            prop_oneof![
                Just(Receiver::Accept),
                Just(Receiver::Fail),
                Just(Receiver::TakeThenVanish)
            ],
            any::<bool>(),
            any::<bool>()
        )
            .prop_map(|(who, max, answer, stale, crash)| Op::Deliver {
                who,
                max,
                answer,
                stale,
                crash
            }),
    ]
}

struct World {
    now: Timestamp,
    events: Vec<StoredEvent>,
    stored: StreamState,
    /// What each deliverer last read.
    seen: [StreamState; 2],
    received: Vec<String>,
    next_id: u64,
}

impl World {
    fn new() -> World {
        World {
            now: Timestamp(1_000),
            events: Vec::new(),
            stored: StreamState::default(),
            seen: [StreamState::default(), StreamState::default()],
            received: Vec::new(),
            next_id: 0,
        }
    }

    /// The store's compare-and-set.
    fn put(&mut self, from: &StreamState, to: StreamState) -> bool {
        if from.version == self.stored.version && to.version == from.version + 1 {
            self.stored = to;
            true
        } else {
            false
        }
    }

    fn in_order(&self) -> Vec<StoredEvent> {
        let mut sorted = self.events.clone();
        sorted.sort_by(|a, b| (a.received_at, &a.id).cmp(&(b.received_at, &b.id)));
        sorted
    }

    fn deliver(&mut self, who: usize, max: usize, answer: Receiver, stale: bool, crash: bool) {
        let owner = format!("d{who}");
        let read = if stale {
            self.seen[who].clone()
        } else {
            self.stored.clone()
        };
        self.seen[who] = self.stored.clone();
        let Some(leased) = take_lease(&read, &owner, self.now, LEASE) else {
            return;
        };
        if !self.put(&read, leased.clone()) {
            return;
        }
        let Next::Deliver { from, until } = next(&leased, self.now, SETTLE) else {
            return;
        };
        let due: Vec<StoredEvent> = self
            .in_order()
            .into_iter()
            .filter(|e| {
                from.as_ref()
                    .is_none_or(|p| p.precedes(e.received_at, &e.id))
            })
            .filter(|e| e.received_at < until)
            .take(max)
            .collect();
        let Some(last) = due.last() else {
            return;
        };
        let batch: Vec<&StoredEvent> = due.iter().filter(|e| e.admitted).collect();
        let filtered = (due.len() - batch.len()) as u64;
        let through = Position {
            received_at: last.received_at,
            id: Some(last.id.clone()),
        };
        let taken = batch.is_empty() || !matches!(answer, Receiver::Fail);
        if !batch.is_empty() && taken {
            self.received.extend(batch.iter().map(|e| e.id.clone()));
        }
        if crash {
            return;
        }
        let result = if batch.is_empty() || matches!(answer, Receiver::Accept) {
            after_batch(&leased, through, batch.len() as u64, filtered, self.now)
        } else {
            after_failure(
                &leased,
                "receiver failed",
                Timestamp(self.now.0 + 5),
                self.now,
            )
        };
        self.put(&leased, result);
    }

    fn apply(&mut self, op: Op) {
        match op {
            Op::Arrive { back, admitted } => {
                self.next_id += 1;
                self.events.push(StoredEvent {
                    received_at: Timestamp(self.now.0 - back),
                    id: format!("e{:04}", self.next_id),
                    admitted,
                });
            }
            Op::Tick(ms) => self.now = Timestamp(self.now.0 + ms),
            Op::Deliver {
                who,
                max,
                answer,
                stale,
                crash,
            } => self.deliver(who, max, answer, stale, crash),
        }
    }

    /// After the storm: time passes beyond every lease and retry, and one deliverer runs clean
    /// passes until nothing is due.
    fn finish(&mut self) {
        self.now = Timestamp(self.now.0 + LEASE + SETTLE + 100);
        for _ in 0..(self.events.len() + 2) {
            self.deliver(0, 1000, Receiver::Accept, false, false);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_admitted_event_arrives_in_order_and_no_other(ops in prop::collection::vec(op(), 0..80)) {
        let mut world = World::new();
        for op in ops {
            world.apply(op);
        }
        world.finish();
        let admitted: Vec<String> = world
            .in_order()
            .into_iter()
            .filter(|e| e.admitted)
            .map(|e| e.id)
            .collect();
        // First arrivals, in the order they first arrived.
        let mut first = Vec::new();
        for id in &world.received {
            if !first.contains(id) {
                first.push(id.clone());
            }
        }
        prop_assert_eq!(&first, &admitted, "every admitted event, once first, in receive order");
        let left_out: Vec<String> = world.events.iter().filter(|e| !e.admitted).map(|e| e.id.clone()).collect();
        prop_assert!(world.received.iter().all(|id| !left_out.contains(id)));
        prop_assert_eq!(world.stored.delivered + world.stored.filtered >= world.events.len() as u64, true);
    }
}

#[test]
fn pause_stop_resume_and_replay() {
    let state = StreamState::default();
    let now = Timestamp(100);
    assert_eq!(next(&pause(&state), now, SETTLE), Next::Paused);
    let stopped = stop(&state, "401", "check the token", now);
    assert_eq!(next(&stopped, now, SETTLE), Next::Stopped);
    assert_eq!(
        stopped.stopped.as_ref().map(|p| p.hint.as_str()),
        Some("check the token")
    );
    let resumed = resume(&pause(&stopped));
    assert!(matches!(next(&resumed, now, SETTLE), Next::Deliver { .. }));
    assert_eq!(resumed.stopped, None);

    let failed = after_failure(&state, "503", Timestamp(150), now);
    assert_eq!(next(&failed, now, SETTLE), Next::Waiting(Timestamp(150)));
    assert!(matches!(
        next(&failed, Timestamp(150), SETTLE),
        Next::Deliver { .. }
    ));
    assert_eq!(failed.attempts, 1);

    let at = |t: i64, id: &str| Position {
        received_at: Timestamp(t),
        id: Some(id.into()),
    };
    let moved = after_batch(&state, at(50, "e9"), 3, 1, now);
    assert_eq!(moved.position, Some(at(50, "e9")));
    // Replay moves the checkpoint back to just before `from`, never forward.
    let replayed = replay(&moved, Timestamp(20));
    let start = replayed.position.clone().unwrap_or_else(|| at(0, ""));
    assert!(start.precedes(Timestamp(20), "a"));
    assert!(!start.precedes(Timestamp(19), "z"));
    assert_eq!(replay(&moved, Timestamp(60)).position, Some(at(50, "e9")));
    // Every transition is one version on.
    for s in [
        pause(&state),
        resume(&state),
        replay(&state, now),
        release(&state),
    ] {
        assert_eq!(s.version, state.version + 1);
    }
}
