//! The local failover demo (run it with `examples/demo.sh`, as root).
//!
//! Builds the AWSnycast README's VPC in moto's EC2 emulator, gives each of the two router
//! instances a network namespace holding its private IP with a web service in it, runs one
//! awsnycast daemon per router, and plays the story: both AZs served locally → the primary's
//! service fails → the backup takes the route → the primary recovers → the route fails back.
//! Exits non-zero if the story did not happen. Everything it starts is stopped on exit,
//! including on Ctrl-C.

#[path = "../tests/support/mod.rs"]
mod support;

use std::process::ExitCode;
use std::time::Instant;

use support::scenario::{PORT, Scenario, holder};

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo: cannot start a runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        tokio::select! {
            r = story() => r,
            _ = tokio::signal::ctrl_c() => Err("interrupted".to_string()),
        }
    });
    // Everything the story started has been dropped (and so stopped) by now.
    match result {
        Ok(()) => {
            println!("demo: the story happened; everything started has been stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("demo FAILED: {e}");
            ExitCode::FAILURE
        }
    }
}

struct Clock(Instant);

impl Clock {
    fn say(&self, what: impl AsRef<str>) {
        println!("[{:6.1}s] {}", self.0.elapsed().as_secs_f64(), what.as_ref());
    }
}

async fn story() -> Result<(), String> {
    let clock = Clock(Instant::now());
    clock.say("starting the EC2 emulator (moto) on loopback, the README's VPC, and the routers");
    // Both daemons talk to the emulator through a counting proxy, so the story can say which
    // writes a failover took.
    let mut s = Scenario::start("", true, 0).await?;
    let (ta, tb) = (s.table(0), s.table(1));
    clock.say(format!(
        "built VPC {}: private route tables {ta} (eu-west-1a) and {tb} (eu-west-1b)",
        s.net.vpc_id
    ));
    for (i, r) in s.net.routers.iter().enumerate() {
        clock.say(format!(
            "router {} = {} ({}, {}): web service on {}:{PORT} in network namespace {}",
            ["A", "B"][i],
            r.instance_id,
            r.eni_id,
            r.az,
            s.services[i].ip,
            s.services[i].host.name
        ));
    }
    clock
        .say("one awsnycast daemon per router (poll_time 300s: every move below is driven by health checks)");

    // Settled: each table held by its own AZ's router for a few seconds running.
    s.settle(0, 0).await?;
    s.settle(1, 1).await?;
    clock.say(format!("1. both AZs are served locally: {ta} -> A, {tb} -> B"));

    let count = |s: &Scenario, action: &str| s.proxy.as_ref().map_or(0, |p| p.count(action));
    let (deletes, replaces) = (count(&s, "DeleteRoute"), count(&s, "ReplaceRoute"));
    s.services[0].stop();
    clock.say("2. router A's web service fails");
    let (took, absent) = s.settle(0, 1).await?;
    clock.say(format!(
        "3. backup B took over {ta} {:.1}s after the failure (route absent for about {:.1}s on the way)",
        took.as_secs_f64(),
        absent.as_secs_f64()
    ));
    let deleted = count(&s, "DeleteRoute") - deletes;
    clock.say(format!(
        "   writes: {} ReplaceRoute, {deleted} DeleteRoute ({})",
        count(&s, "ReplaceRoute") - replaces,
        if deleted == 0 {
            "A knew B was healthy and left it the route to replace: withdraw_delay"
        } else {
            "A withdrew its route before B replaced it"
        }
    ));

    s.services[0].restart();
    clock.say("4. router A's web service recovers");
    let (took, absent) = s.settle(0, 0).await?;
    clock.say(format!(
        "5. the route failed back to A {:.1}s after recovery (absent for about {:.1}s)",
        took.as_secs_f64(),
        absent.as_secs_f64()
    ));
    if holder(&s.ec2, &tb).await?.as_deref() != Some(s.eni(1).as_str()) {
        return Err(format!("{tb} moved away from B during the story"));
    }

    for (i, d) in s.daemons.iter_mut().enumerate() {
        if d.terminate() != Some(0) {
            return Err(format!(
                "daemon {} did not stop cleanly:\n{}",
                ["A", "B"][i],
                d.output()
            ));
        }
    }
    clock.say("stopped both daemons with SIGTERM; cleaning up");
    Ok(())
}
