//! Failover benchmark (as root): runs the two-router scenario of the demo several times and
//! prints, per run and in summary (median and max):
//! - service failure → backup owns the route (checks every 500 ms, fall 2), how long the route
//!   was absent, and how many DeleteRoute requests that took;
//! - service recovery → the route is back with the primary (rise 2);
//! - primary instance death (daemon killed, instance stopped, its host's link down) → backup
//!   owns the route;
//! - EC2 requests per minute per daemon at rest, counted by a proxy; and daemon RSS.
//!
//! Run it with:
//!
//! ```text
//! cargo build --release --bin awsnycast --example bench_failover
//! target/release/examples/bench_failover [RUNS]
//! ```

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, Instant};

use support::scenario::Scenario;

struct Run {
    failover: Duration,
    failover_absent: Duration,
    failback: Duration,
    death: Duration,
    death_absent: Duration,
    /// DeleteRoute requests during the service failover (0 when the primary left the route
    /// to its backup).
    deletes: usize,
}

fn main() {
    let runs: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(5);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let result = runtime.block_on(async {
        tokio::select! {
            r = bench(runs) => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        }
    });
    if let Err(e) = result {
        eprintln!("bench_failover FAILED: {e}");
        std::process::exit(1);
    }
}

async fn bench(runs: usize) -> Result<(), String> {
    let mut results = Vec::new();
    let mut rest_rate = None;
    let mut rss = Vec::new();
    for n in 1..=runs {
        let mut s = Scenario::start("", true, 0).await?;
        s.settle(0, 0).await?;
        s.settle(1, 1).await?;

        if rest_rate.is_none() {
            // At rest: both tables held by their own AZ's router, nothing failing.
            let proxy = s.proxy.as_ref().ok_or("no proxy")?;
            let total = |p: &support::proxy::Proxy| -> usize {
                p.actions.lock().map(|m| m.values().sum()).unwrap_or(0)
            };
            let before = total(proxy);
            let window = Duration::from_secs(30);
            tokio::time::sleep(window).await;
            let calls = total(proxy) - before;
            rest_rate = Some(calls as f64 / 2.0 / window.as_secs_f64() * 60.0);
            rss = s.daemons.iter().filter_map(|d| d.rss_kib()).collect();
        }

        let t0 = Instant::now();
        let deletes_before = s.proxy.as_ref().ok_or("no proxy")?.count("DeleteRoute");
        s.services[0].stop();
        let (failover, failover_absent) = s.settle(0, 1).await?;
        let deletes = s.proxy.as_ref().ok_or("no proxy")?.count("DeleteRoute") - deletes_before;
        s.services[0].restart();
        let (failback, _) = s.settle(0, 0).await?;

        // The primary instance dies: daemon gone, host unreachable, EC2 shows it stopped.
        s.daemons[0].kill();
        s.services[0].host.link_down();
        s.ec2
            .stop_instances()
            .instance_ids(&s.net.routers[0].instance_id)
            .send()
            .await
            .map_err(|e| format!("stop instance: {e}"))?;
        let (death, death_absent) = s.settle(0, 1).await?;
        println!(
            "run {n}: failover {:.2}s (absent {:.1}s, {deletes} DeleteRoute), failback {:.2}s, instance death {:.2}s (absent {:.1}s), run took {:.0}s",
            failover.as_secs_f64(),
            failover_absent.as_secs_f64(),
            failback.as_secs_f64(),
            death.as_secs_f64(),
            death_absent.as_secs_f64(),
            t0.elapsed().as_secs_f64()
        );
        results.push(Run {
            failover,
            failover_absent,
            failback,
            death,
            death_absent,
            deletes,
        });
    }
    let stat = |f: &dyn Fn(&Run) -> Duration| {
        let mut v: Vec<f64> = results.iter().map(|r| f(r).as_secs_f64()).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[v.len() - 1])
    };
    println!("summary over {runs} runs (median / max):");
    let (m, x) = stat(&|r| r.failover);
    println!("  service failure -> backup owns the route: {m:.2}s / {x:.2}s");
    let (m, x) = stat(&|r| r.failover_absent);
    println!("  route absent during that failover:        {m:.1}s / {x:.1}s");
    let deletes: usize = results.iter().map(|r| r.deletes).sum();
    println!("  DeleteRoute requests during those failovers: {deletes} in {runs} runs");
    let (m, x) = stat(&|r| r.failback);
    println!("  recovery -> route back with the primary:  {m:.2}s / {x:.2}s");
    let (m, x) = stat(&|r| r.death);
    println!("  instance death -> backup owns the route:  {m:.2}s / {x:.2}s");
    let (m, x) = stat(&|r| r.death_absent);
    println!("  route absent during that failover:        {m:.1}s / {x:.1}s");
    if let Some(rate) = rest_rate {
        println!("  EC2 requests per minute per daemon at rest: {rate:.1}");
    }
    let rss: Vec<String> = rss
        .iter()
        .map(|k| format!("{:.1} MiB", *k as f64 / 1024.0))
        .collect();
    println!("  daemon RSS at rest: {}", rss.join(", "));
    Ok(())
}
