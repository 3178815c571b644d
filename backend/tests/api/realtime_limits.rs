//! One controller socket's command budget: what a runaway or hostile client may make its node
//! write, and what a teacher clicking through slides never notices.

use serde_json::json;

use crate::{
    helpers::{Engine, TestApp},
    ws_client::{command, new_id, Classroom},
};

#[tokio::test]
async fn a_socket_sending_commands_too_fast_gets_its_budget_and_rate_limited_for_the_rest() {
    let app = TestApp::spawn_with(Engine::Sqlite, |settings| {
        settings.limits.commands_per_second = std::num::NonZeroU32::new(5).unwrap();
    })
    .await;
    let mut room = Classroom::open(&app, "jdevries").await;
    let (mut controller, _) = room.controller(app.address).await;
    let started = std::time::Instant::now();
    let sent: Vec<String> = (0..100).map(|_| new_id()).collect();
    for (i, id) in sent.iter().enumerate() {
        controller
            .send(command(id, json!({"kind": "blank", "on": i % 2 == 0})))
            .await;
        controller
            .send(json!({"type": "pointer", "x": 0.5, "y": 0.5}))
            .await;
    }
    let (mut acked, mut limited) = (Vec::new(), Vec::new());
    while acked.len() + limited.len() < sent.len() {
        let frame = controller.next().await;
        match frame["type"].as_str() {
            Some("ack") => acked.push(frame["id"].as_str().unwrap().to_string()),
            Some("error") => {
                assert_eq!(frame["error"], "rate_limited", "{frame}");
                limited.push(frame["id"].as_str().unwrap().to_string());
            }
            _ => {}
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    // A burst of twice the rate, then the rate; every command answered once, by its id.
    let allowed = 10 + (5.0 * elapsed).ceil() as usize;
    assert!(
        (10..=allowed).contains(&acked.len()),
        "{} acked in {elapsed:.2}s",
        acked.len()
    );
    let mut answered: Vec<String> = acked.iter().chain(&limited).cloned().collect();
    answered.sort();
    let mut expected = sent.clone();
    expected.sort();
    assert_eq!(answered, expected);
    for offset in 1..=acked.len() as i64 {
        let event = room.board_socket.next_of("event").await;
        assert_eq!(event["offset"], offset);
        assert_eq!(event["id"], acked[offset as usize - 1].as_str());
    }

    // The budget refills: a command sent again after a pause is taken.
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    let again = limited.last().unwrap();
    controller
        .send(command(again, json!({"kind": "blank", "on": true})))
        .await;
    assert_eq!(controller.next_of("ack").await["id"], again.as_str());
}
