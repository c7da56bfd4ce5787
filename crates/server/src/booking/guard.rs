//! A bound on the public booking pages' POSTs (house rule: every input bounded in rate):
//! at most [`PER_WINDOW`] booking, moving or cancelling attempts per lead per [`WINDOW`].
//! A token is a capability for one lead, so the lead is the key. The table is bounded:
//! when full, expired entries go, and if it is still full the attempt is refused.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(600);
pub const PER_WINDOW: u32 = 10;
const MAX_KEYS: usize = 50_000;

#[derive(Default)]
pub struct Guard {
    seen: Mutex<HashMap<String, (Instant, u32)>>,
}

impl Guard {
    /// Whether one more attempt for `lead_id` is allowed at `now`.
    pub fn admit(&self, lead_id: &str, now: Instant) -> bool {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        if !seen.contains_key(lead_id) && seen.len() >= MAX_KEYS {
            seen.retain(|_, (at, _)| now.duration_since(*at) < WINDOW);
            if seen.len() >= MAX_KEYS {
                return false;
            }
        }
        let e = seen.entry(lead_id.to_string()).or_insert((now, 0));
        if now.duration_since(e.0) >= WINDOW {
            *e = (now, 0);
        }
        e.1 += 1;
        e.1 <= PER_WINDOW
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ten_a_window_per_lead() {
        let g = Guard::default();
        let t = Instant::now();
        assert!((0..PER_WINDOW).all(|_| g.admit("a", t)));
        assert!(!g.admit("a", t));
        assert!(g.admit("b", t), "another lead has its own budget");
        assert!(g.admit("a", t + WINDOW), "a new window");
    }
}
