//! Rise/fall counting: a check flips to healthy after `rise` passes in a row and to unhealthy
//! after `fall` failures in a row. It starts `Unknown` and leaves it the same way.

use super::{Health, Transition};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Threshold {
    rise: u32,
    fall: u32,
    state: Health,
    /// Consecutive passes (while not healthy) or failures (while not unhealthy).
    streak: u32,
    streak_of_passes: bool,
}

impl Threshold {
    /// `rise` and `fall` are at least 1 (validation guarantees it; 0 is treated as 1).
    pub fn new(rise: u32, fall: u32) -> Threshold {
        Threshold {
            rise: rise.max(1),
            fall: fall.max(1),
            state: Health::Unknown,
            streak: 0,
            streak_of_passes: true,
        }
    }

    pub fn state(&self) -> Health {
        self.state
    }

    /// Records one result; returns the transition it caused, if any.
    pub fn observe(&mut self, passed: bool) -> Option<Transition> {
        if passed == self.streak_of_passes {
            self.streak = self.streak.saturating_add(1);
        } else {
            self.streak_of_passes = passed;
            self.streak = 1;
        }
        let next = match (passed, self.state) {
            (true, Health::Healthy) | (false, Health::Unhealthy) => return None,
            (true, _) if self.streak >= self.rise => Health::Healthy,
            (false, _) if self.streak >= self.fall => Health::Unhealthy,
            _ => return None,
        };
        let t = Transition {
            from: self.state,
            to: next,
        };
        self.state = next;
        Some(t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Health::*;

    /// Feeds `results` ('+' pass, '-' fail) and returns the state after each.
    fn run(rise: u32, fall: u32, results: &str) -> Vec<Health> {
        let mut t = Threshold::new(rise, fall);
        results
            .chars()
            .map(|c| {
                t.observe(c == '+');
                t.state()
            })
            .collect()
    }

    #[test]
    fn sequences() {
        let rows: &[(u32, u32, &str, &[Health])] = &[
            (2, 3, "++", &[Unknown, Healthy]),
            (2, 3, "---", &[Unknown, Unknown, Unhealthy]),
            (1, 1, "+-+", &[Healthy, Unhealthy, Healthy]),
            (
                2,
                3,
                "++--+---",
                &[
                    Unknown, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Unhealthy,
                ],
            ),
            // Flapping never reaches either threshold: the state holds.
            (2, 2, "+-+-+-+-", &[Unknown; 8]),
            (
                2,
                2,
                "++-+-+-+",
                &[
                    Unknown, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy,
                ],
            ),
            (
                2,
                2,
                "--+-+-+-",
                &[
                    Unknown, Unhealthy, Unhealthy, Unhealthy, Unhealthy, Unhealthy, Unhealthy, Unhealthy,
                ],
            ),
            // Recovery needs rise passes in a row.
            (
                3,
                1,
                "-++-+++",
                &[
                    Unhealthy, Unhealthy, Unhealthy, Unhealthy, Unhealthy, Unhealthy, Healthy,
                ],
            ),
            // AWSnycast's README: fall 10.
            (
                2,
                10,
                "++---------",
                &[
                    Unknown, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy,
                    Healthy,
                ],
            ),
            (
                2,
                10,
                "++----------",
                &[
                    Unknown, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy, Healthy,
                    Healthy, Unhealthy,
                ],
            ),
        ];
        for (rise, fall, input, want) in rows {
            assert_eq!(
                run(*rise, *fall, input),
                *want,
                "rise {rise} fall {fall} input {input}"
            );
        }
    }

    #[test]
    fn transitions_are_reported_once() {
        let mut t = Threshold::new(2, 2);
        assert_eq!(t.observe(true), None);
        assert_eq!(
            t.observe(true),
            Some(Transition {
                from: Unknown,
                to: Healthy
            })
        );
        assert_eq!(t.observe(true), None);
        assert_eq!(t.observe(false), None);
        assert_eq!(
            t.observe(false),
            Some(Transition {
                from: Healthy,
                to: Unhealthy
            })
        );
        assert_eq!(t.observe(false), None);
    }

    #[test]
    fn long_runs_do_not_overflow() {
        let mut t = Threshold::new(1, 1);
        for _ in 0..100_000 {
            t.observe(true);
        }
        assert_eq!(t.state(), Healthy);
    }
}
