//! Flap damping for route writes: an optional hold-down after every write to a route, and
//! detection of two routers that both act as primary for one route (each taking it from the
//! other), which backs off exponentially and says so.
//!
//! Pure bookkeeping: the caller passes the time, so it is tested without clocks.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use ipnet::IpNet;

/// A contest: we took the route from `peer` again soon after last taking it from them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contest {
    pub peer: String,
    /// Consecutive contested writes.
    pub count: u32,
    /// How long writes to this route now wait.
    pub hold: Duration,
}

#[derive(Debug, Clone)]
struct Entry {
    last: Instant,
    took_from: Option<String>,
    contests: u32,
    hold_until: Instant,
}

#[derive(Debug, Clone)]
pub struct Damper {
    hold_down: Duration,
    /// First back-off after a contest; doubled for each further one.
    contest_base: Duration,
    /// Retaking from the same holder within this window is a contest.
    window: Duration,
    cap: Duration,
    routes: BTreeMap<(String, IpNet), Entry>,
}

impl Damper {
    pub fn new(hold_down: Duration) -> Damper {
        Damper {
            hold_down,
            contest_base: hold_down.max(Duration::from_secs(2)),
            window: Duration::from_secs(60),
            cap: Duration::from_secs(300),
            routes: BTreeMap::new(),
        }
    }

    /// When writes to this route may resume, if they must wait.
    pub fn held_until(&self, table: &str, cidr: &IpNet, now: Instant) -> Option<Instant> {
        let e = self.routes.get(&(table.to_owned(), *cidr))?;
        (e.hold_until > now).then_some(e.hold_until)
    }

    /// Records a successful write; `took_from` is the holder a replace took the route from.
    /// Returns the contest it amounts to, if any.
    pub fn record(
        &mut self,
        table: &str,
        cidr: &IpNet,
        took_from: Option<&str>,
        now: Instant,
    ) -> Option<Contest> {
        let key = (table.to_owned(), *cidr);
        let contested = match (self.routes.get(&key), took_from) {
            (Some(prev), Some(peer)) => {
                prev.took_from.as_deref() == Some(peer)
                    && now.saturating_duration_since(prev.last) < self.window
            }
            _ => false,
        };
        let contests = if contested {
            self.routes.get(&key).map_or(1, |p| p.contests + 1)
        } else {
            0
        };
        let hold = if contests > 0 {
            self.contest_base
                .saturating_mul(2u32.saturating_pow(contests - 1))
                .min(self.cap)
        } else {
            self.hold_down
        };
        self.routes.insert(
            key,
            Entry {
                last: now,
                took_from: took_from.map(str::to_owned),
                contests,
                hold_until: now + hold,
            },
        );
        (contests > 0).then(|| Contest {
            peer: took_from.unwrap_or_default().to_owned(),
            count: contests,
            hold,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contests_back_off_exponentially_and_reset() {
        let t0 = Instant::now();
        let s = |secs: u64| t0 + Duration::from_secs(secs);
        let cidr: IpNet = "0.0.0.0/0".parse().expect("cidr");
        let mut d = Damper::new(Duration::ZERO);
        // A plain claim: no hold-down configured, no contest.
        assert_eq!(d.record("rtb", &cidr, Some("i-b"), s(0)), None);
        assert_eq!(d.held_until("rtb", &cidr, s(0)), None);
        // Taken from the same peer again within the window: contested, 2 s, then 4 s, 8 s.
        let c = d.record("rtb", &cidr, Some("i-b"), s(1)).expect("contest");
        assert_eq!(
            (c.peer.as_str(), c.count, c.hold),
            ("i-b", 1, Duration::from_secs(2))
        );
        assert_eq!(d.held_until("rtb", &cidr, s(2)), Some(s(3)));
        assert_eq!(d.held_until("rtb", &cidr, s(3)), None);
        assert_eq!(
            d.record("rtb", &cidr, Some("i-b"), s(3)).map(|c| c.hold),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            d.record("rtb", &cidr, Some("i-b"), s(7)).map(|c| c.hold),
            Some(Duration::from_secs(8))
        );
        // Much later, or from someone else: not a contest.
        assert_eq!(d.record("rtb", &cidr, Some("i-b"), s(200)), None);
        assert_eq!(d.record("rtb", &cidr, Some("i-c"), s(201)), None);
        // Other routes are independent.
        assert_eq!(d.held_until("rtb-2", &cidr, s(201)), None);
    }

    #[test]
    fn backoff_is_capped_and_hold_down_applies_to_every_write() {
        let t0 = Instant::now();
        let cidr: IpNet = "10.0.0.0/8".parse().expect("cidr");
        let mut d = Damper::new(Duration::from_secs(10));
        assert_eq!(d.record("rtb", &cidr, None, t0), None);
        assert_eq!(d.held_until("rtb", &cidr, t0), Some(t0 + Duration::from_secs(10)));
        let mut now = t0;
        let mut last = Duration::ZERO;
        for _ in 0..20 {
            now += Duration::from_secs(30);
            last = d
                .record("rtb", &cidr, Some("i-b"), now)
                .map_or(Duration::ZERO, |c| c.hold);
        }
        assert_eq!(last, Duration::from_secs(300));
    }
}
