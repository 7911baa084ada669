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
    // still shows it running, so only the remote check can tell. (fast_poll keeps the
    // backup's view of who holds the route, and so its remote checks, current.)
    let mut s = Scenario::start("fast_poll: 1s", false, 21)
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
