//! A leader's batch of relays for hidden tabs (`Body::Relays`) goes out only while it leads the
//! batch's term: before its goodbye when it leaves, never after it stepped down.

use super::*;

const MS: u64 = 1_000;

/// A Locks leader whose one follower is hidden, with `n` events in its pending batch.
fn leader_with_a_batch(n: u64) -> (Tab, Instant) {
    let mut now = Instant::from_millis(1);
    let mut leader = Tab::new(TabId(1), Mechanism::Locks, Config::default(), now, 1);
    leader.handle(now, Input::LockGranted);
    assert!(leader.is_leader());
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
    (leader, now)
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
