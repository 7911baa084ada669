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
    let mut s = Scenario::start("", false, 20)
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
async fn a_dead_primary_instance_is_taken_over_through_the_remote_check() {
    let mut s = Scenario::start("fast_poll: off", false, 21)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    s.settle(0, 0).await.unwrap_or_else(|e| panic!("{e}"));
    s.settle(1, 1).await.unwrap_or_else(|e| panic!("{e}"));
    // The instance dies: its daemon with it, its host unreachable, EC2 shows it stopped.
    // With fast_poll off and poll_time 300 s, only the remote check can notice.
    s.daemons[0].kill();
    s.services[0].host.link_down();
    s.ec2
        .stop_instances()
        .instance_ids(&s.net.routers[0].instance_id)
        .send()
        .await
        .expect("stop router A");
    let (took, _) = s.settle(0, 1).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(took < DETECTABLE + SLACK, "takeover took {took:?}");
    // The remote check's transition is what started the takeover round (the reason it
    // logs may be the stopped instance, which that round also saw).
    let log = s.daemons[1].output();
    let a = &s.net.routers[0].instance_id;
    let failed = log
        .find(&format!("check=service@{a} "))
        .and_then(|i| log[i..].find("to=unhealthy").map(|j| i + j))
        .expect("the remote check saw A fail");
    assert!(log[failed..].contains("action=\"replace\""), "{log}");
}
