//! The properties every simulated run must keep, checked after every step ([`check_step`]) and
//! at the end of a run ([`check_end`]).

use coord::Role;

use crate::world::{Life, ServerStream, World, SEC};

/// **Safety, stream handoff.** Two non-frozen tabs hold a server stream at the same time for at
/// most this long (simulated µs). Overlap happens only while a deposed leader has not yet heard
/// of the new term: it closes its stream on the first higher-term message (heartbeat, claim,
/// fence), which arrives within one heartbeat or probe round trip, rounded up by hidden-tab
/// throttling (1 s), plus a lossy window.
pub const HANDOFF_BOUND: u64 = 3 * SEC;

/// **Liveness.** After the last fault (and the server being back), there is exactly one leader,
/// every live tab follows it, and its stream is open, within this bound (simulated µs). It covers
/// leader timeout + probe + stagger, all rounded up to 1 s for hidden tabs, plus the capped
/// reconnect backoff (2 s in the simulator's config).
pub const LIVENESS_BOUND: u64 = 5 * SEC;

/// Checked after every event and timer:
///
/// * **Safety, one leader per term**: a term `(n, tab)` is only ever led by `tab`, and no two
///   tabs ever lead the same term.
/// * **Safety, fencing**: no tab hands the app a relay from a term below its fence (checked at
///   delivery, in `World::deliver`).
/// * **Safety, handoff window**: see [`HANDOFF_BOUND`].
/// * **Delivery, exactly once per run, in order**: checked at every app emit
///   (`World::record_emit`): within a run (server epoch) each numbered event is the successor of
///   the last one delivered or of the last reset; the first event of a new run comes only after a
///   `Reset` of that run (or a `Lost` notice).
/// * **No leadership change without a fault**: see [`check_no_needless_change`] (also at the end).
pub fn check_step(w: &mut World) {
    let mut violations = Vec::new();
    for (i, t) in w.tabs.iter().enumerate() {
        if let Some(term) = t.tab.leading_term() {
            if term.tab != t.tab.id() {
                violations.push(format!("tab {i} leads term {term:?} of another tab"));
            }
            match w.term_leaders.get(&term) {
                Some(id) if *id != t.tab.id() => {
                    violations.push(format!("two leaders of term {term:?}"))
                }
                Some(_) => {}
                None => {
                    w.term_leaders.insert(term, t.tab.id());
                    let settled = w
                        .settled_leader
                        .is_some_and(|(_, since)| w.now - since >= SETTLED_LEADER);
                    w.term_started
                        .push((w.now, term, w.stable_since.is_some() || settled));
                }
            }
        }
    }
    let holders = w.stream_holders();
    if holders.len() >= 2 {
        let since = *w.overlap_since.get_or_insert(w.now);
        if w.now - since > w.handoff_bound {
            violations.push(format!(
                "tabs {holders:?} hold streams together for more than {} µs",
                w.handoff_bound
            ));
            w.overlap_since = Some(w.now); // report once per bound
        }
    } else if let Some(since) = w.overlap_since.take() {
        w.overlaps.push(w.now - since);
    }
    if let Some((at, kind, lost)) = w.leader_loss {
        if w.leaders().iter().any(|&l| l != lost) {
            w.elections.push((kind, w.now - at));
            w.leader_loss = None;
        }
    }
    w.settled_leader = match (w.leader(), w.settled_leader) {
        (Some(l), Some((s, since))) if s == l && w.tabs[l].stream == ServerStream::Open => {
            Some((l, since))
        }
        (Some(l), _) if w.tabs[l].stream == ServerStream::Open => Some((l, w.now)),
        _ => None,
    };
    let stable = stable(w);
    match (stable, w.stable_since) {
        (true, None) => {
            w.stable_since = Some(w.now);
            w.first_stable.get_or_insert(w.now);
        }
        (false, Some(_)) => w.stable_since = None,
        _ => {}
    }
    for v in violations {
        w.violate(v);
    }
}

/// Exactly one live leader with an open stream, followed by every live tab.
pub fn stable(w: &World) -> bool {
    let Some(l) = w.leader() else { return false };
    if w.tabs[l].stream != ServerStream::Open {
        return false;
    }
    let id = w.tabs[l].tab.id();
    w.tabs
        .iter()
        .filter(|t| t.is_live())
        .all(|t| t.tab.leader() == Some(id))
}

/// A leader is settled once it has been the sole live leader, with its stream open, this long
/// (simulated µs), even while new tabs are still joining it.
pub const SETTLED_LEADER: u64 = SEC;

/// A new term may start at most this long after a fault that hit the leader (its crash, close,
/// freeze, bfcache, step-down, or a partition of the channel).
pub const FAULT_WINDOW: u64 = 5 * SEC;

/// **No leadership change without a fault**: a term never starts while a leader is stable (one
/// live leader with an open stream, followed by every live tab) or settled (the sole live leader
/// with an open stream for [`SETTLED_LEADER`], while tabs may still be joining) unless a fault hit that leader
/// within [`FAULT_WINDOW`] before. Busy tabs, new tabs, hidden tabs, server outages and restarts
/// never move the leadership. (Filling a vacancy, when no leader is stable, is always allowed.)
pub fn check_no_needless_change(w: &mut World) {
    let mut violations = Vec::new();
    for &(t, term, _) in w.term_started.iter().filter(|(_, _, stable)| *stable) {
        let excused = w
            .leader_faults
            .iter()
            .any(|&(f, _)| f <= t && t <= f + FAULT_WINDOW);
        if !excused {
            violations.push(format!(
                "term {term:?} started at {} µs without a fault of the leader",
                t - crate::world::T0
            ));
        }
    }
    for v in violations {
        w.violate(v);
    }
}

/// End-of-run checks, `last_fault` being when the last fault ended:
///
/// * **Liveness**: stable (see [`stable`]) since at most [`LIVENESS_BOUND`] after the last fault.
/// * **Delivery, a reset whenever the run changes**: every live tab is in the server's current
///   run and has delivered (or been reset past) every event up to its head, without loss
///   notices; and, when no message was lost, its baseline is no later
///   than the server's head when it joined (it did not silently skip events it lived through).
pub fn check_end(w: &mut World, last_fault: u64) {
    match w.stable_since {
        None => w.violate("no stable leader at the end".into()),
        Some(s) if s > last_fault + LIVENESS_BOUND => w.violate(format!(
            "stable only {} µs after the last fault",
            s - last_fault
        )),
        _ => {}
    }
    let mut violations = Vec::new();
    for (i, t) in w.tabs.iter().enumerate() {
        if t.life == Life::Frozen {
            violations.push(format!("tab {i} still frozen at the end"));
        }
        if !t.is_live() {
            continue;
        }
        if t.lost > 0 {
            violations.push(format!(
                "tab {i} was told {} times that events were lost",
                t.lost
            ));
        }
        let run = w.current_run();
        if (w.head > 0 || w.runs.len() > 1)
            && (t.delivered_upto != Some(w.head)
                || t.delivered_epoch.as_deref() != Some(run.epoch.as_str()))
        {
            violations.push(format!(
                "tab {i} has {:?}:{:?} of {}:{}",
                t.delivered_epoch, t.delivered_upto, run.epoch, w.head
            ));
        }
        if w.messages_lost == 0 {
            // A tab's duty starts when it joins (first knows of an open leader stream, its own or
            // another tab's) and at the earliest 200 ms after it opened. Before it joins it has no resume
            // point: a fresh tab alone with a frozen leader starts live, as the first tab of a
            // session does. From then on it must get every event.
            let joined = t.joined_at.unwrap_or(u64::MAX);
            let from = (t.created_at + 200_000).max(joined);
            let limit = w.head_at(from);
            if from >= run.started && t.baseline.is_some_and(|b| b > limit) {
                violations.push(format!(
                    "tab {i} started at event {:?}, later than {limit}",
                    t.baseline
                ));
            }
        }
        if t.tab.role() == Role::Leader && w.leader() != Some(i) {
            violations.push(format!("tab {i} leads along with others"));
        }
    }
    for v in violations {
        w.violate(v);
    }
    check_no_needless_change(w);
}
