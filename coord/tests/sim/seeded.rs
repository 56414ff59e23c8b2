//! Thousands of random schedules per mechanism, each from one seed: 2 000 per test function by
//! default (three functions per mechanism, one of them with the faults of server restarts, busy
//! main threads and the back/forward cache), so that `cargo test -p coord` stays under a minute on
//! two cores. `COORD_SEEDS=<n>` runs `n` per function (e.g. 20 000 before a release).
//!
//! A failing seed is printed; rerun it alone, with a trace of every step, with
//! `COORD_SEED=<seed> [COORD_MECH=protocol] [COORD_EXTENDED=1] cargo test -p coord --test sim
//! rerun_seed -- --nocapture`.

use std::time::Duration;

use coord::Mechanism;

use crate::invariants::{check_end, LIVENESS_BOUND};
use crate::world::{Action, SimRng, World, WorldConfig, MS, SEC, T0};

/// Seeds that once failed, kept so they never fail again: (mechanism is Protocol, seed).
pub const REGRESSION_SEEDS: &[(bool, u64)] = &[
    // A tab opened alone next to a frozen leader and started live (invariant made precise).
    (false, 1_000_186),
    (true, 1_000_186),
    (true, 1_001_088),
    // Nobody had an event id when the server went down: reconnecting "live" lost the outage.
    // Fixed by taking `hello.head_id` as the baseline.
    (true, 3_287),
    (true, 1_003_119),
    (true, 2_951),
];

/// Outcome of one schedule.
pub struct Run {
    pub seed: u64,
    pub violations: Vec<String>,
    pub elections: Vec<(&'static str, u64)>,
    pub overlaps: Vec<u64>,
    pub latencies: Vec<u64>,
    pub settle: Option<u64>,
    /// Paths exercised: resets, resend requests, rewinds, stale messages, duplicates, leaderships.
    pub paths: [u64; 6],
}

/// Builds and runs the schedule of `seed`: 2–`max_tabs` tabs (some hidden, some opened in the same
/// instant), device events every 20–300 ms, then 1–3 faults in the first 4 s (leader close, crash
/// or freeze; any tab crashing, freezing or closing; a lossy channel; a server outage; visibility
/// changes; new tabs; a voluntary step-down), then quiet until every invariant must hold again.
pub fn run_seed(mechanism: Mechanism, seed: u64, max_tabs: u64, trace: bool) -> Run {
    run_schedule(mechanism, seed, max_tabs, trace, false)
}

/// The same, and with `extended` the faults of the epoch work too: a server restart (a new run,
/// ids far above), busy main threads (one tab or all, 100–300 ms per input), a back/forward cache
/// round trip, and a burst of new tabs opened one by one while every tab is busy.
pub fn run_schedule(
    mechanism: Mechanism,
    seed: u64,
    max_tabs: u64,
    trace: bool,
    extended: bool,
) -> Run {
    let mut rng = SimRng::new(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ 0xC0FFEE);
    let cfg = WorldConfig::new(mechanism);
    let mut w = World::new(cfg, seed);
    w.trace = trace;
    w.cfg.encode_every = if seed.is_multiple_of(32) { 1 } else { 0 };
    // A small server buffer in some worlds, so that resuming falls back to `reset`.
    if seed.is_multiple_of(4) {
        w.cfg.server_buffer = 4;
    }

    let n = rng.range(2, max_tabs);
    let same_instant = rng.chance(0.3);
    for k in 0..n {
        let at = if same_instant {
            T0
        } else {
            T0 + rng.range(0, 300 * MS)
        };
        w.at(
            at,
            Action::Open {
                visible: k == 0 || rng.chance(0.5),
            },
        );
    }
    let mut t = T0 + rng.range(0, 100 * MS);
    let mut last_fault = T0 + 500 * MS;
    let faults = rng.range(1, 3);
    let mut fault_times: Vec<u64> = (0..faults)
        .map(|_| T0 + rng.range(600 * MS, 4 * SEC))
        .collect();
    fault_times.sort();
    for ft in fault_times {
        let tab = rng.range(0, n - 1) as usize;
        let kinds = if extended { 17 } else { 13 };
        let (action, end) = match rng.range(0, kinds) {
            0 | 1 => (Action::CloseLeader, ft),
            2 | 3 => (Action::CrashLeader, ft),
            4 | 5 => {
                let d = rng.range(300 * MS, 2_500 * MS);
                (
                    Action::FreezeLeader {
                        announced: rng.chance(0.3),
                        for_us: d,
                    },
                    ft + d,
                )
            }
            6 => (Action::Crash(tab), ft),
            7 => {
                let d = rng.range(300 * MS, 2_500 * MS);
                w.at(ft + d, Action::Thaw(tab));
                (
                    Action::Freeze {
                        tab,
                        announced: rng.chance(0.5),
                    },
                    ft + d,
                )
            }
            8 => {
                let d = rng.range(200 * MS, 800 * MS);
                (
                    Action::Loss {
                        until: ft + d,
                        p: 0.3,
                    },
                    ft + d,
                )
            }
            9 => {
                let d = rng.range(300 * MS, 1_500 * MS);
                w.at(ft + d, Action::ServerUp);
                (Action::ServerDown, ft + d)
            }
            10 => (Action::SetVisible(tab, rng.chance(0.5)), ft),
            11 => (
                Action::Open {
                    visible: rng.chance(0.5),
                },
                ft,
            ),
            12 => (Action::Close(tab), ft),
            13 => (Action::StepDown(tab), ft),
            14 => (
                Action::ServerRestart {
                    down_us: rng.range(0, 1_000 * MS),
                },
                ft + SEC,
            ),
            15 => {
                let d = rng.range(500 * MS, 3 * SEC);
                let who = rng.chance(0.5).then_some(tab);
                (
                    Action::Busy {
                        tab: who,
                        until: ft + d,
                    },
                    ft + d,
                )
            }
            _ => {
                let d = rng.range(300 * MS, 2_500 * MS);
                w.at(ft + d, Action::BfcacheReturn(tab));
                (Action::BfcacheLeave(tab), ft + d)
            }
        };
        w.at(ft, action);
        last_fault = last_fault.max(end);
    }
    if extended && rng.chance(0.3) {
        // A burst of new tabs, opened one by one while every tab is busy.
        let at = T0 + rng.range(1_000 * MS, 3 * SEC);
        let d = rng.range(SEC, 3 * SEC);
        w.at(
            at,
            Action::Busy {
                tab: None,
                until: at + d,
            },
        );
        let mut t = at;
        for _ in 0..rng.range(2, 4) {
            t += rng.range(50 * MS, 400 * MS);
            w.at(
                t,
                Action::Open {
                    visible: rng.chance(0.7),
                },
            );
        }
        last_fault = last_fault.max(at + d).max(t);
    }
    // Device events until shortly before the end, so the end state is checkable.
    let publish_until = last_fault + 2_500 * MS;
    while t < publish_until {
        w.at(t, Action::Publish);
        t += rng.range(20 * MS, 300 * MS);
    }
    let end = last_fault + LIVENESS_BOUND + 500 * MS;
    w.run_until(end);
    // A schedule may close or crash every tab: then there is nothing left to check.
    if w.tabs.iter().any(|t| t.is_live()) {
        check_end(&mut w, last_fault);
    }
    Run {
        seed,
        violations: w
            .violations
            .iter()
            .map(|v| format!("at {} µs: {}", v.at - T0, v.what))
            .collect(),
        elections: w.elections.clone(),
        overlaps: w.overlaps.clone(),
        latencies: w
            .tabs
            .iter()
            .flat_map(|t| t.latencies.iter().copied())
            .collect(),
        settle: w.stable_since.map(|s| s.saturating_sub(last_fault)),
        paths: w.tabs.iter().fold([0; 6], |mut p, t| {
            let st = t.tab.stats();
            p[0] += t.resets;
            p[1] += st.resend_requests;
            p[2] += st.rewinds;
            p[3] += st.stale;
            p[4] += st.duplicates;
            p[5] += st.elections;
            p
        }),
    }
}

/// Aggregated numbers over many runs.
#[derive(Default)]
pub struct Summary {
    pub runs: u64,
    pub failures: Vec<(u64, Vec<String>)>,
    pub elections: Vec<(&'static str, u64)>,
    pub overlaps: Vec<u64>,
    pub latencies: Vec<u64>,
    pub paths: [u64; 6],
}

impl Summary {
    pub fn add(&mut self, r: Run) {
        self.runs += 1;
        if !r.violations.is_empty() {
            self.failures.push((r.seed, r.violations));
        }
        self.elections.extend(r.elections);
        for (sum, n) in self.paths.iter_mut().zip(r.paths) {
            *sum += n;
        }
        self.overlaps.extend(r.overlaps);
        // Keep the latency sample small.
        self.latencies.extend(r.latencies.into_iter().step_by(16));
    }

    pub fn report(&mut self, name: &str) -> String {
        let mut s = format!(
            "{name}: {} schedules, {} failed\n",
            self.runs,
            self.failures.len()
        );
        let mut kinds: Vec<&str> = self.elections.iter().map(|e| e.0).collect();
        kinds.sort();
        kinds.dedup();
        for k in kinds {
            let mut v: Vec<u64> = self
                .elections
                .iter()
                .filter(|e| e.0 == k)
                .map(|e| e.1)
                .collect();
            s += &format!("  new leader after leader {k:<30} {}\n", pct(&mut v));
        }
        s += &format!(
            "  {:<54} {}\n",
            "stream handoff overlap",
            pct(&mut self.overlaps)
        );
        let p = self.paths;
        s += &format!(
            "  paths: {} resets, {} resend requests, {} rewinds, {} stale msgs fenced, {} duplicates dropped, {} leaderships\n",
            p[0], p[1], p[2], p[3], p[4], p[5]
        );
        s += &format!(
            "  {:<54} {}\n",
            "relay latency (incl. queued while frozen)",
            pct(&mut self.latencies)
        );
        s
    }
}

fn pct(v: &mut [u64]) -> String {
    if v.is_empty() {
        return "n=0".into();
    }
    v.sort();
    let at = |p: f64| Duration::from_micros(v[((v.len() - 1) as f64 * p) as usize]);
    format!(
        "n={:<6} p50={:>9.1?} p99={:>9.1?} max={:>9.1?}",
        v.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    )
}

/// Runs `count` seeds starting at `first`, panicking with every failing seed.
pub fn run_many(mechanism: Mechanism, first: u64, count: u64, max_tabs: u64) -> Summary {
    run_many_with(mechanism, first, count, max_tabs, false)
}

pub fn run_many_with(
    mechanism: Mechanism,
    first: u64,
    count: u64,
    max_tabs: u64,
    extended: bool,
) -> Summary {
    let mut sum = Summary::default();
    for seed in first..first + count {
        sum.add(run_schedule(mechanism, seed, max_tabs, false, extended));
    }
    sum
}

pub fn assert_clean(name: &str, mut sum: Summary) {
    println!("{}", sum.report(name));
    if !sum.failures.is_empty() {
        let mut msg = format!(
            "{name}: {} of {} schedules failed\n",
            sum.failures.len(),
            sum.runs
        );
        for (seed, v) in sum.failures.iter().take(10) {
            msg += &format!("  seed {seed}: {}\n", v.join("; "));
        }
        msg += "rerun one with COORD_SEED=<seed> COORD_MECH=locks|protocol [COORD_EXTENDED=1] cargo test -p coord --test sim rerun_seed -- --nocapture";
        panic!("{msg}");
    }
}

fn mech(protocol: bool) -> Mechanism {
    if protocol {
        Mechanism::Protocol
    } else {
        Mechanism::Locks
    }
}

/// Seeds per test function (three functions per mechanism so both cores work). `COORD_SEEDS=<n>`
/// runs `n` per function instead (CI keeps the default: `cargo test -p coord` stays well under a
/// minute on two cores).
fn seeds_per_test() -> u64 {
    std::env::var("COORD_SEEDS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(SEEDS_PER_TEST)
}
const SEEDS_PER_TEST: u64 = 2_000;

#[test]
fn locks_seeds_epochs_and_busy_tabs() {
    assert_clean(
        "locks, with restarts / busy tabs / bfcache",
        run_many_with(Mechanism::Locks, 3_000_000, seeds_per_test(), 6, true),
    );
}

#[test]
fn protocol_seeds_epochs_and_busy_tabs() {
    assert_clean(
        "protocol, with restarts / busy tabs / bfcache",
        run_many_with(Mechanism::Protocol, 3_000_000, seeds_per_test(), 6, true),
    );
}

#[test]
fn locks_seeds_a() {
    assert_clean(
        "locks a",
        run_many(Mechanism::Locks, 0, seeds_per_test(), 6),
    );
}

#[test]
fn locks_seeds_b() {
    assert_clean(
        "locks b",
        run_many(Mechanism::Locks, 1_000_000, seeds_per_test(), 6),
    );
}

#[test]
fn protocol_seeds_a() {
    assert_clean(
        "protocol a",
        run_many(Mechanism::Protocol, 0, seeds_per_test(), 6),
    );
}

#[test]
fn protocol_seeds_b() {
    assert_clean(
        "protocol b",
        run_many(Mechanism::Protocol, 1_000_000, seeds_per_test(), 6),
    );
}

/// Fewer but bigger worlds: up to 20 tabs.
#[test]
fn many_tabs_seeds() {
    let mut sum = run_many(Mechanism::Locks, 2_000_000, 50, 20);
    let p = run_many(Mechanism::Protocol, 2_000_000, 50, 20);
    sum.runs += p.runs;
    sum.failures.extend(p.failures);
    assert_clean("20 tabs (both)", sum);
}

#[test]
fn regression_seeds() {
    for &(protocol, seed) in REGRESSION_SEEDS {
        let r = run_seed(mech(protocol), seed, 6, false);
        assert!(
            r.violations.is_empty(),
            "regression seed {seed}: {:?}",
            r.violations
        );
    }
}

/// `COORD_SEED=<n> [COORD_MECH=protocol] [COORD_TABS=6] [COORD_EXTENDED=1]`: rerun one seed with a
/// full trace (`COORD_EXTENDED` for the seeds of the `*_epochs_and_busy_tabs` tests).
#[test]
fn rerun_seed() {
    let Ok(seed) = std::env::var("COORD_SEED") else {
        return;
    };
    let seed: u64 = seed.parse().expect("COORD_SEED is a number");
    let protocol = std::env::var("COORD_MECH").is_ok_and(|m| m == "protocol");
    let tabs = std::env::var("COORD_TABS")
        .ok()
        .and_then(|t| t.parse().ok())
        .unwrap_or(6);
    let extended = std::env::var("COORD_EXTENDED").is_ok();
    let r = run_schedule(mech(protocol), seed, tabs, true, extended);
    println!(
        "settled {:?} µs after the last fault; elections {:?}",
        r.settle, r.elections
    );
    assert!(r.violations.is_empty(), "seed {seed}: {:#?}", r.violations);
}

/// `COORD_FIND_SLOW_MS=<ms> [COORD_MECH=protocol] [COORD_FIRST=<seed>]`: list seeds with an
/// election slower than that.
#[test]
fn find_slow_elections() {
    let Ok(ms) = std::env::var("COORD_FIND_SLOW_MS") else {
        return;
    };
    let limit: u64 = ms.parse::<u64>().expect("a number of ms") * MS;
    let protocol = std::env::var("COORD_MECH").is_ok_and(|m| m == "protocol");
    let first: u64 = std::env::var("COORD_FIRST")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    for seed in first..first + seeds_per_test() {
        let r = run_seed(mech(protocol), seed, 6, false);
        for (kind, took) in r.elections.iter().filter(|e| e.1 > limit) {
            println!("seed {seed}: {kind} took {} ms", took / MS);
        }
    }
}
