//! Failover benchmark (as root): runs the two-router scenario of the demo several times and
//! prints, per run and in summary (median and max):
//! - service failure → backup owns the route (checks every 500 ms, fall 2), and from the
//!   first health transition a daemon logged (detection) to the route seen moved; how long
//!   the route was absent, and how many DeleteRoute requests that took;
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

use std::time::{Duration, Instant, SystemTime};

use support::scenario::Scenario;

struct Run {
    failover: Duration,
    /// From the first health transition to unhealthy (either daemon's log) to the route
    /// seen moved.
    detected_to_moved: Duration,
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
        let failed_at = SystemTime::now();
        s.services[0].stop();
        let (failover, failover_absent) = s.settle(0, 1).await?;
        let moved_at = failed_at + failover;
        let detected_at = s
            .daemons
            .iter()
            .filter_map(|d| first_unhealthy_after(&d.output(), failed_at))
            .min()
            .ok_or("no daemon logged the failure")?;
        let detected_to_moved = moved_at.duration_since(detected_at).unwrap_or_default();
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
            "run {n}: failover {:.2}s (detection to move {:.2}s, absent {:.1}s, {deletes} DeleteRoute), failback {:.2}s, instance death {:.2}s (absent {:.1}s), run took {:.0}s",
            failover.as_secs_f64(),
            detected_to_moved.as_secs_f64(),
            failover_absent.as_secs_f64(),
            failback.as_secs_f64(),
            death.as_secs_f64(),
            death_absent.as_secs_f64(),
            t0.elapsed().as_secs_f64()
        );
        results.push(Run {
            failover,
            detected_to_moved,
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
    let (m, x) = stat(&|r| r.detected_to_moved);
    println!("  detection -> route moved:                 {m:.2}s / {x:.2}s");
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

/// When a daemon first logged a health check turning unhealthy at or after `after`. Log
/// lines start with an RFC 3339 UTC timestamp (`2026-11-22T21:48:55.123456Z`).
fn first_unhealthy_after(log: &str, after: SystemTime) -> Option<SystemTime> {
    log.lines()
        .filter(|l| l.contains("health check changed state") && l.contains("to=unhealthy"))
        .filter_map(|l| parse_utc(l.split_whitespace().next()?))
        .find(|t| *t >= after)
}

/// `YYYY-MM-DDTHH:MM:SS[.fraction]Z` as a time.
fn parse_utc(stamp: &str) -> Option<SystemTime> {
    let stamp = stamp.strip_suffix('Z')?;
    let (date, time) = stamp.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, fraction) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.split(':').map(|p| p.parse::<u64>().ok());
    let (h, min, sec) = (t.next()??, t.next()??, t.next()??);
    let nanos: u64 = format!("{fraction:0<9}").get(..9)?.parse().ok()?;
    // Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = u64::try_from(era * 146_097 + doe - 719_468).ok()?;
    let secs = days * 86_400 + h * 3_600 + min * 60 + sec;
    Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs) + Duration::from_nanos(nanos))
}
