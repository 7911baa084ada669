//! Failover with two daemons whose routers are real hosts: each router's private IP lives
//! in a network namespace with a web service, so local and remote http checks see it fail.
//! (The demo tells the same story with a timeline; these assert it.)

mod support;

use std::time::Duration;

use support::scenario::Scenario;

/// Checks run every 500 ms with fall 2: a failure is detectable within about a second.
const DETECTABLE: Duration = Duration::from_millis(1000);
const SLACK: Duration = Duration::from_secs(4);

#[tokio::test(flavor = "multi_thread")]
async fn service_failure_moves_the_route_to_the_backup_and_recovery_brings_it_back() {
    let mut s = Scenario::start("fast_poll: 1s", false, 20)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.settle(0, 0).await.unwrap_or_else(|e| panic!("{e}"));
    s.settle(1, 1).await.unwrap_or_else(|e| panic!("{e}"));

    s.services[0].stop();
    let (took, absent) = s.settle(0, 1).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(took < DETECTABLE + SLACK, "failover took {took:?}");
    assert!(
        absent <= Duration::from_millis(500),
        "route absent for {absent:?}"
    );

    s.services[0].restart();
    let (took, _) = s.settle(0, 0).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(took < DETECTABLE + SLACK, "failback took {took:?}");
    // B's own table never moved.
    s.settle(1, 1).await.unwrap_or_else(|e| panic!("{e}"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_primary_is_taken_over_through_the_remote_check() {
    // The primary's instance hangs: its daemon is gone and its host unreachable, but EC2
    // still shows it running, so only the remote check can tell. fast_poll is off and
    // poll_time 300 s: the remote check alone must do it (and the backup must have kept
    // track of who holds the route since start-up, when both routers claim at once).
    let mut s = Scenario::start("fast_poll: off", false, 21)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.settle(0, 0).await.unwrap_or_else(|e| panic!("{e}"));
    s.settle(1, 1).await.unwrap_or_else(|e| panic!("{e}"));
    s.daemons[0].kill();
    s.services[0].host.link_down();
    let (took, _) = s.settle(0, 1).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(took < DETECTABLE + SLACK, "takeover took {took:?}");
    let log = s.daemons[1].output();
    assert!(
        log.contains("holder fails the remote health check: take over"),
        "{log}"
    );
}

/// The backup's remote check needs fall 4 × 500 ms to see a failure, the primary's own
/// check fall 2 × 500 ms: the primary always knows first.
const SLOW_REMOTE_FALL: u32 = 4;

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_primary_leaves_its_route_to_a_known_healthy_backup_instead_of_deleting_it() {
    // The primary runs a remote check on the backup (which holds the other AZ's route) and
    // sees it pass, so it waits (withdraw_delay: auto) for the backup to replace the route.
    let mut s = Scenario::start_tuned("fast_poll: 1s", SLOW_REMOTE_FALL, true, 22)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.settle(0, 0).await.unwrap_or_else(|e| panic!("{e}"));
    s.settle(1, 1).await.unwrap_or_else(|e| panic!("{e}"));

    // (Start-up may have written routes more than once: both routers claim at first.)
    let count = |s: &Scenario, action: &str| s.proxy.as_ref().expect("proxied").count(action);
    let (deletes, replaces) = (count(&s, "DeleteRoute"), count(&s, "ReplaceRoute"));
    s.services[0].stop();
    let (_, absent) = s.settle(0, 1).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        count(&s, "DeleteRoute") - deletes,
        0,
        "the primary deleted its route"
    );
    assert_eq!(absent, Duration::ZERO, "the route was seen absent");
    assert_eq!(
        count(&s, "ReplaceRoute") - replaces,
        1,
        "the backup replaced the route once"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn with_withdraw_delay_off_the_primary_withdraws_at_once() {
    // The same story with the AWSnycast behaviour: the primary, knowing first, deletes its
    // route and the backup creates it afresh (the contrast that shows the test above is
    // not passing by luck).
    let mut s = Scenario::start_tuned("fast_poll: 1s\nwithdraw_delay: off", SLOW_REMOTE_FALL, true, 23)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.settle(0, 0).await.unwrap_or_else(|e| panic!("{e}"));
    s.settle(1, 1).await.unwrap_or_else(|e| panic!("{e}"));

    let deletes = s.proxy.as_ref().expect("proxied").count("DeleteRoute");
    s.services[0].stop();
    s.settle(0, 1).await.unwrap_or_else(|e| panic!("{e}"));
    let deleted = s.proxy.as_ref().expect("proxied").count("DeleteRoute") - deletes;
    assert_eq!(deleted, 1, "the primary withdraws its route");
}
