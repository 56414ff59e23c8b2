//! A leader's batch of relays for hidden tabs (`Body::Relays`) goes out only while it leads the
//! batch's term: before its goodbye when it leaves, never after it stepped down.

use super::*;

const MS: u64 = 1_000;

/// A Locks leader whose one follower is hidden, with `n` events in its pending batch.
fn leader_with_a_batch(n: u64) -> (Tab, Instant) {
    let (leader, now, _) = leader_with_a_batch_and_its_beat(n);
    (leader, now)
}

/// [`leader_with_a_batch`], and the heartbeat it posted when it took the lead.
fn leader_with_a_batch_and_its_beat(n: u64) -> (Tab, Instant, Message) {
    let mut now = Instant::from_millis(1);
    let mut leader = Tab::new(TabId(1), Mechanism::Locks, Config::default(), now, 1);
    leader.handle(now, Input::LockGranted);
    assert!(leader.is_leader());
    let beat = posts(&mut leader)
        .into_iter()
        .find(|m| matches!(m.body, Body::Heartbeat { .. }))
        .expect("a new leader beats at once");
    let follower = Message {
        from: TabId(2),
        body: Body::Presence {
            info: PeerInfo {
                role: Role::Follower,
                visible: false,
                highest_id: None,
                epoch: None,
                term: leader.leading_term().unwrap(),
            },
        },
    };
    leader.handle_channel(now, &follower.encode());
    leader.handle(now, Input::StreamOpened);
    let hello = r#"{"epoch":"e","head_id":10,"retry_ms":1000}"#;
    leader.handle(
        now,
        Input::StreamEvent(ServerEvent::new(None, "hello", hello)),
    );
    drain(&mut leader);
    for id in 11..11 + n {
        now = Instant::from_micros(now.as_micros() + MS);
        leader.handle(
            now,
            Input::StreamEvent(ServerEvent::new(Some(id), "x", "{}")),
        );
    }
    assert!(
        posts(&mut leader)
            .iter()
            .all(|m| !matches!(m.body, Body::Relay { .. } | Body::Relays { .. })),
        "held for the hidden follower"
    );
    (leader, now, beat)
}

fn drain(tab: &mut Tab) -> Vec<Output> {
    std::iter::from_fn(|| tab.poll_output()).collect()
}

fn posts(tab: &mut Tab) -> Vec<Message> {
    drain(tab)
        .into_iter()
        .filter_map(|o| match o {
            Output::Post(m) => Some(m),
            _ => None,
        })
        .collect()
}

fn kinds(messages: &[Message]) -> Vec<&'static str> {
    messages
        .iter()
        .map(|m| match m.body {
            Body::Relays { .. } => "relays",
            Body::Relay { .. } => "relay",
            Body::Resign { .. } => "resign",
            Body::Bye => "bye",
            Body::Heartbeat { .. } => "heartbeat",
            _ => "other",
        })
        .collect()
}

#[test]
fn a_leader_that_lost_its_lock_posts_no_batch_of_its_old_term() {
    let (mut leader, now) = leader_with_a_batch(3);
    leader.handle(now, Input::LockLost);
    assert!(!leader.is_leader());
    let later = Instant::from_micros(now.as_micros() + 500 * MS);
    leader.handle_timer(later, later);
    let after: Vec<Message> = posts(&mut leader);
    assert!(
        !kinds(&after).contains(&"relays"),
        "an ex-leader's batch would make followers take it back as leader: {:?}",
        kinds(&after)
    );
}

#[test]
fn leaving_posts_the_batch_before_the_goodbye_and_the_goodbye_armed_in_advance_has_it() {
    let (mut leader, now) = leader_with_a_batch(3);
    let armed = leader.goodbye();
    assert_eq!(kinds(&armed), ["relays", "resign", "bye"]);
    let Body::Relays { events, .. } = &armed[0].body else {
        unreachable!()
    };
    let ids: Vec<_> = events.iter().filter_map(|r| r.event.id).collect();
    assert_eq!(
        ids,
        [11, 12, 13],
        "the held events, the stream's `hello` aside"
    );
    leader.handle(now, Input::PageHide);
    let posted = posts(&mut leader);
    assert_eq!(posted, armed, "leave posts exactly the goodbye");
}

#[test]
fn a_goodbye_heard_after_the_next_leaders_first_word_reads_closed_its_batch_included() {
    let (leader, now, beat) = leader_with_a_batch_and_its_beat(3);
    let goodbye = leader.goodbye();
    assert_eq!(kinds(&goodbye), ["relays", "resign", "bye"]);
    let hear = |tab: &mut Tab, messages: &[Message]| {
        for m in messages {
            tab.handle_channel(now, &m.encode());
        }
    };
    let mut follower = Tab::new(TabId(2), Mechanism::Locks, Config::default(), now, 2);
    let mut successor = Tab::new(TabId(3), Mechanism::Locks, Config::default(), now, 3);
    hear(&mut follower, std::slice::from_ref(&beat));
    hear(&mut successor, std::slice::from_ref(&beat));
    successor.handle(now, Input::LockGranted);
    assert!(successor.is_leader());
    // Two senders, no order between them: the successor's first word comes first.
    let first_word = posts(&mut successor);
    hear(&mut follower, &first_word);
    let change = follower.leader_changes().next().cloned().expect("a change");
    assert_eq!(
        change.cause,
        ChangeCause::Crashed,
        "no word of the old leader yet"
    );
    hear(&mut follower, &goodbye);
    let change = follower.leader_changes().next().expect("a change");
    assert_eq!(
        (change.from, change.to, change.cause),
        (Some(TabId(1)), Some(TabId(3)), ChangeCause::Closed),
        "the held relays go out with the goodbye: no sign of a freeze"
    );
}
