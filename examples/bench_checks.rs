//! Health-check engine benchmark: runs 1,000 tcp checks at `every: 1s` against loopback
//! listeners (in a separate process, so that their cost is not counted) and prints the
//! scheduler's CPU seconds per minute and resident memory.
//!
//!     cargo run --release --example bench_checks [-- CHECKS SECONDS]

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use awsnycast::config::{Document, Vars};
use awsnycast::health::scheduler::{self, CheckId};

const LISTENERS: usize = 16;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--serve") {
        return serve();
    }
    let checks: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let seconds: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(30);

    let mut server = Command::new(std::env::current_exe().expect("own path"))
        .arg("--serve")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the listener process");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let ports: Vec<u16> = lines
        .next()
        .expect("ports line")
        .expect("read ports")
        .split(',')
        .map(|p| p.parse().expect("port"))
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut yaml = String::from("healthchecks:\n");
        for i in 0..checks {
            let port = ports[i % ports.len()];
            yaml.push_str(&format!(
                "  c{i}: {{type: tcp, destination: 127.0.0.1, every: 1s, rise: 2, fall: 3, config: {{port: {port}}}}}\n"
            ));
        }
        yaml.push_str("routetables:\n  a:\n    find: {type: main}\n    manage_routes: [{cidr: 0.0.0.0/0, healthcheck: c0}]\n");
        let config = Document::parse(&yaml, "bench.yaml")
            .and_then(|d| d.build(&Vars::default()))
            .unwrap_or_else(|e| panic!("{e}"))
            .config;
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let mut running = Vec::new();
        for (name, spec) in &config.healthchecks {
            let target = spec.destination.expect("destination");
            running.push(scheduler::start(CheckId::Local(name.clone()), spec, target, tx.clone()).expect("start"));
        }
        tokio::spawn(async move { while rx.recv().await.is_some() {} });
        // Warm up past the start jitter and the first rise.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let (cpu0, t0) = (cpu_seconds(), Instant::now());
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        let (cpu1, elapsed) = (cpu_seconds(), t0.elapsed().as_secs_f64());
        let healthy = running.iter().filter(|r| r.health() == awsnycast::health::Health::Healthy).count();
        let cpu_per_minute = (cpu1 - cpu0) / elapsed * 60.0;
        println!("checks: {checks} tcp checks at every 1s over {elapsed:.1}s ({healthy} healthy)");
        println!("cpu: {cpu_per_minute:.2} CPU seconds per minute ({:.2}% of one core)", cpu_per_minute / 60.0 * 100.0);
        println!("rss: {:.1} MiB", rss_kib() as f64 / 1024.0);
        for r in running {
            r.stop().await;
        }
    });
    // Ask the listener process for its count and stop it.
    if let Some(stdin) = server.stdin.as_mut() {
        let _ = stdin.write_all(b"count\n");
    }
    if let Some(Ok(line)) = lines.next() {
        println!("probes answered by the listeners: {line}");
    }
    let _ = server.kill();
    let _ = server.wait();
}

/// The listener process: `LISTENERS` ports, printed on one line; counts connections.
fn serve() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        let mut ports = Vec::new();
        for _ in 0..LISTENERS {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
            ports.push(l.local_addr().expect("addr").port().to_string());
            let count = count.clone();
            tokio::spawn(async move {
                while let Ok((s, _)) = l.accept().await {
                    count.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    drop(s);
                }
            });
        }
        println!("{}", ports.join(","));
        let _ = std::io::stdout().flush();
        // Wait for "count" on stdin, answer, exit.
        let mut line = String::new();
        let _ = tokio::task::spawn_blocking(move || std::io::stdin().read_line(&mut line)).await;
        println!("{}", count.load(std::sync::atomic::Ordering::Relaxed));
    });
}

/// User + system CPU time of this process, from /proc/self/stat.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = after.split_whitespace().collect();
    // Fields 14 and 15 (utime, stime) are at 11 and 12 after the command name.
    let ticks: f64 = fields
        .get(11..13)
        .map_or(0.0, |f| f.iter().filter_map(|x| x.parse::<f64>().ok()).sum());
    ticks / rustix::param::clock_ticks_per_second() as f64
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
