//! Circuit breaker for an HTTP provider: after `failures` consecutive failed lookups the
//! circuit opens and the provider is not called for `cooldown`; then one probe is let
//! through (half-open). A successful probe closes the circuit, a failed one re-opens it.
//! While a probe is in flight other lookups are refused, so a provider that is down
//! costs one request per cooldown, not one per lead.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { consecutive: u32 },
    Open { until: Instant },
    HalfOpen { probing: bool },
}

#[derive(Debug)]
pub struct CircuitBreaker {
    failures: u32,
    cooldown: Duration,
    state: Mutex<State>,
}

/// The right to call the provider once. Report the result with [`Permit::success`] or
/// [`Permit::failure`]; dropping it unreported (a panic, or the call was never made)
/// releases a half-open probe slot without counting for or against the provider.
pub struct Permit {
    breaker: Arc<CircuitBreaker>,
    probe: bool,
    reported: bool,
}

/// Refused: the circuit is open.
#[derive(Debug, Clone, Copy)]
pub struct Open;

impl CircuitBreaker {
    pub fn new(failures: u32, cooldown: Duration) -> Self {
        CircuitBreaker {
            failures: failures.max(1),
            cooldown,
            state: Mutex::new(State::Closed { consecutive: 0 }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn acquire(self: &Arc<Self>) -> Result<Permit, Open> {
        let mut st = self.lock();
        let probe = match *st {
            State::Closed { .. } => false,
            State::Open { until } if Instant::now() < until => return Err(Open),
            State::Open { .. } | State::HalfOpen { probing: false } => {
                *st = State::HalfOpen { probing: true };
                true
            }
            State::HalfOpen { probing: true } => return Err(Open),
        };
        Ok(Permit {
            breaker: self.clone(),
            probe,
            reported: false,
        })
    }

    /// "closed", "open" or "half-open" (an open circuit whose cooldown has passed is
    /// reported half-open: the next lookup will probe).
    pub fn state_name(&self) -> &'static str {
        match *self.lock() {
            State::Closed { .. } => "closed",
            State::Open { until } if Instant::now() < until => "open",
            State::Open { .. } | State::HalfOpen { .. } => "half-open",
        }
    }
}

impl Permit {
    pub fn success(mut self) {
        self.reported = true;
        *self.breaker.lock() = State::Closed { consecutive: 0 };
    }

    /// Record a failure; `opened` is bumped when this failure opens the circuit.
    pub fn failure(mut self, opened: &AtomicU64) {
        self.reported = true;
        let b = &self.breaker;
        let mut st = b.lock();
        let open = State::Open {
            until: Instant::now() + b.cooldown,
        };
        match *st {
            State::Closed { consecutive } => {
                if consecutive + 1 >= b.failures {
                    *st = open;
                    crate::stats::bump(opened);
                } else {
                    *st = State::Closed {
                        consecutive: consecutive + 1,
                    };
                }
            }
            State::HalfOpen { .. } => {
                *st = open;
                crate::stats::bump(opened);
            }
            // A request that started before the circuit opened: already open.
            State::Open { .. } => {}
        }
    }
}

impl Drop for Permit {
    fn drop(&mut self) {
        if !self.reported && self.probe {
            let mut st = self.breaker.lock();
            if *st == (State::HalfOpen { probing: true }) {
                *st = State::HalfOpen { probing: false };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_consecutive_failures_and_probes_after_cooldown() {
        let opened = AtomicU64::new(0);
        let b = Arc::new(CircuitBreaker::new(3, Duration::from_millis(50)));
        b.acquire().unwrap().failure(&opened);
        b.acquire().unwrap().failure(&opened);
        b.acquire().unwrap().success(); // resets the run
        for _ in 0..3 {
            b.acquire().unwrap().failure(&opened);
        }
        assert_eq!(b.state_name(), "open");
        assert!(b.acquire().is_err());
        std::thread::sleep(Duration::from_millis(60));
        assert_eq!(b.state_name(), "half-open");
        let probe = b.acquire().unwrap();
        assert!(b.acquire().is_err(), "only one probe at a time");
        probe.failure(&opened);
        assert_eq!(b.state_name(), "open");
        std::thread::sleep(Duration::from_millis(60));
        b.acquire().unwrap().success();
        assert_eq!(b.state_name(), "closed");
        assert_eq!(opened.load(std::sync::atomic::Ordering::Relaxed), 2);
    }

    #[test]
    fn unreported_probe_frees_the_slot() {
        let opened = AtomicU64::new(0);
        let b = Arc::new(CircuitBreaker::new(1, Duration::ZERO));
        b.acquire().unwrap().failure(&opened);
        drop(b.acquire().unwrap());
        assert!(b.acquire().is_ok());
    }
}
