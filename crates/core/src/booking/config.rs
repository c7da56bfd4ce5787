//! `[booking]` raw → [`BookingConfig`], with file:line errors like every other section.

use super::BookingConfig;
use crate::config::Tier;
use crate::config::error::Errors;
use crate::config::raw::RawBooking;
use jiff::SignedDuration;

fn dur(s: &str) -> Option<SignedDuration> {
    s.parse::<SignedDuration>()
        .ok()
        .filter(|d| !d.is_negative())
}

/// Compile `[booking]`; `line` finds the line of a key. Problems go to `e`.
pub(crate) fn compile(
    raw: &RawBooking,
    e: &mut Errors<'_>,
    line: &dyn Fn(&str) -> Option<usize>,
) -> BookingConfig {
    let mut d = |key: &str, v: &Option<String>, def: SignedDuration, max_h: i64| {
        let Some(s) = v else { return def };
        match dur(s) {
            Some(x) if x <= SignedDuration::from_hours(max_h) => x,
            _ => {
                e.at(
                    line(key),
                    format!("booking.{key}"),
                    Some(s),
                    format!("not a duration of at most {max_h}h"),
                    Some("write a duration such as \"30m\" or \"1h\"".into()),
                );
                def
            }
        }
    };
    let meeting = d("meeting", &raw.meeting, SignedDuration::from_mins(30), 8);
    let buffer_before = d("buffer_before", &raw.buffer_before, SignedDuration::ZERO, 4);
    let buffer_after = d("buffer_after", &raw.buffer_after, SignedDuration::ZERO, 4);
    let min_notice = d(
        "min_notice",
        &raw.min_notice,
        SignedDuration::from_hours(4),
        24 * 14,
    );
    let step = d(
        "slot_step",
        &raw.slot_step,
        SignedDuration::from_mins(30),
        8,
    );
    let link_valid = d(
        "link_valid",
        &raw.link_valid,
        SignedDuration::from_hours(24 * 14),
        24 * 90,
    );
    let mut check = |ok: bool, key: &str, v: String, msg: &str| {
        if !ok {
            e.at(line(key), format!("booking.{key}"), Some(&v), msg, None);
        }
    };
    check(
        meeting >= SignedDuration::from_mins(5),
        "meeting",
        format!("{meeting:#}"),
        "a meeting is at least 5 minutes",
    );
    check(
        step >= SignedDuration::from_mins(5),
        "slot_step",
        format!("{step:#}"),
        "slots start at least 5 minutes apart",
    );
    let days_ahead = raw.days_ahead.unwrap_or(7);
    check(
        (1..=60).contains(&days_ahead),
        "days_ahead",
        days_ahead.to_string(),
        "days_ahead is 1 to 60",
    );
    let daily_cap = raw.daily_cap.unwrap_or(8);
    check(
        (1..=100).contains(&daily_cap),
        "daily_cap",
        daily_cap.to_string(),
        "daily_cap is 1 to 100 meetings a day",
    );
    let mut tiers = Vec::new();
    for t in raw.tiers.as_deref().unwrap_or(&["hot".to_string()]) {
        match Tier::parse(t) {
            Some(t) => tiers.push(t),
            None => e.at(
                line("tiers"),
                "booking.tiers",
                Some(t),
                "not a tier",
                Some("use hot, warm or standard".into()),
            ),
        }
    }
    let actions = raw
        .actions
        .as_deref()
        .unwrap_or(&["demo_request".to_string()])
        .iter()
        .map(|a| crate::normalize::token(a))
        .filter(|a| !a.is_empty())
        .collect();
    let hours = raw
        .default_hours
        .clone()
        .unwrap_or_else(|| vec!["Mon-Fri 09:00-17:00".to_string()]);
    let default_hours = match crate::config::compile::parse_working_hours(&hours) {
        Ok(h) => h,
        Err(m) => {
            e.at(
                line("default_hours"),
                "booking.default_hours",
                Some(&hours.join(", ")),
                m,
                Some("e.g. [\"Mon-Fri 09:00-17:00\"]".into()),
            );
            Default::default()
        }
    };
    BookingConfig {
        actions,
        tiers,
        meeting,
        buffer_before,
        buffer_after,
        min_notice,
        days_ahead: days_ahead.clamp(1, 60),
        daily_cap: daily_cap.clamp(1, 100),
        step,
        default_hours,
        link_valid,
        title: raw.title.clone().unwrap_or_else(|| "Meeting".to_string()),
    }
}
