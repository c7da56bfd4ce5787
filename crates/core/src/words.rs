//! Durations in words, for people: "412 µs", "3.2 ms", "48 s", "5 min", "2 h 34 min",
//! "3 d 4 h". The one formatting that trace reasons, notifications and console pages use,
//! so no page shows raw seconds, nanoseconds or an ISO 8601 duration.

use jiff::SignedDuration;

/// `d` in words (its magnitude: callers say "ago" or "in"). Whole units are floored, so
/// a lead that has waited 9,240.09 s reads "2 h 34 min".
pub fn duration(d: SignedDuration) -> String {
    let d = d.abs();
    let micros = d.as_micros();
    if micros < 1_000 {
        return format!("{micros} µs");
    }
    if micros < 1_000_000 {
        return format!("{:.1} ms", micros as f64 / 1e3);
    }
    let secs = d.as_secs();
    if secs < 60 {
        return format!("{secs} s");
    }
    let mins = secs / 60;
    if mins < 60 {
        return format!("{mins} min");
    }
    let (h, m) = (mins / 60, mins % 60);
    if h >= 48 {
        let (days, rest) = (h / 24, h % 24);
        return if rest == 0 {
            format!("{days} d")
        } else {
            format!("{days} d {rest} h")
        };
    }
    if m == 0 {
        format!("{h} h")
    } else {
        format!("{h} h {m} min")
    }
}

/// [`duration`] of a number of seconds (figures kept as `f64`); negative and non-finite
/// values read as 0.
pub fn seconds(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    duration(SignedDuration::from_secs_f64(secs.min(1e15)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_words() {
        let s = SignedDuration::from_secs;
        assert_eq!(duration(SignedDuration::from_micros(412)), "412 µs");
        assert_eq!(duration(SignedDuration::from_micros(3_200)), "3.2 ms");
        assert_eq!(duration(s(48)), "48 s");
        assert_eq!(duration(s(300)), "5 min");
        assert_eq!(duration(s(3600)), "1 h");
        assert_eq!(duration(s(90 * 60)), "1 h 30 min");
        assert_eq!(duration(s(24 * 3600)), "24 h");
        assert_eq!(duration(s(72 * 3600)), "3 d");
        assert_eq!(duration(s(76 * 3600 + 59)), "3 d 4 h");
        assert_eq!(duration(-s(300)), "5 min");
        // Issue 23: a queued lead's age read "9240s 89ms 905µs 405ns".
        let age = SignedDuration::new(9240, 89_905_405);
        assert_eq!(duration(age), "2 h 34 min");
        assert_eq!(seconds(18_360.0), "5 h 6 min");
        assert_eq!(seconds(-1.0), "0 µs");
        assert_eq!(seconds(f64::NAN), "0 µs");
    }
}
