//! Working hours ("Mon-Fri 09:00-17:30") and out-of-office windows (dates in the rep's
//! zone or RFC 3339 instants), as the config writes them.

use super::*;

const WEEKDAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

fn weekday(s: &str) -> Option<usize> {
    let s = s.trim().to_ascii_lowercase();
    WEEKDAYS.iter().position(|d| s.starts_with(d))
}

fn hhmm(s: &str) -> Option<u16> {
    let (h, m) = s.trim().split_once(':')?;
    let (h, m): (u16, u16) = (h.parse().ok()?, m.parse().ok()?);
    if (h < 24 && m < 60) || (h == 24 && m == 0) {
        Some(h * 60 + m)
    } else {
        None
    }
}

/// "Mon-Fri 09:00-17:30" (several ranges allowed). A range ending before it starts runs
/// past midnight into the next day.
pub fn parse_working_hours(ranges: &[String]) -> Result<WorkingHours, String> {
    let mut wh = WorkingHours {
        text: ranges.join(", "),
        ..Default::default()
    };
    for r in ranges {
        let (days, times) = r
            .trim()
            .rsplit_once(char::is_whitespace)
            .ok_or_else(|| format!("`{r}` needs days and times"))?;
        let mut day_list = Vec::new();
        for part in days.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('-') {
                Some((a, b)) => {
                    let (a, b) = (
                        weekday(a).ok_or_else(|| format!("unknown day `{a}`"))?,
                        weekday(b).ok_or_else(|| format!("unknown day `{b}`"))?,
                    );
                    let mut d = a;
                    loop {
                        day_list.push(d);
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
                None => {
                    day_list.push(weekday(part).ok_or_else(|| format!("unknown day `{part}`"))?)
                }
            }
        }
        let (s, e) = times
            .trim()
            .split_once('-')
            .ok_or_else(|| format!("`{times}` is not a time range"))?;
        let s = hhmm(s).ok_or_else(|| format!("`{s}` is not a time (HH:MM)"))?;
        let e = hhmm(e).ok_or_else(|| format!("`{e}` is not a time (HH:MM)"))?;
        if s == e {
            return Err(format!("`{r}` is an empty range"));
        }
        for d in day_list {
            if e > s {
                wh.days[d].push((s, e));
            } else {
                wh.days[d].push((s, 24 * 60));
                if e > 0 {
                    wh.days[(d + 1) % 7].push((0, e));
                }
            }
        }
    }
    Ok(wh)
}

/// An out-of-office window: dates are whole days in the rep's zone (the end date
/// inclusive), instants are taken as given.
pub fn parse_window(w: &RawOutOfOffice, tz: &TimeZone) -> Result<OutOfOffice, String> {
    let from = parse_instant(&w.from, tz, false)?;
    let to = parse_instant(&w.to, tz, true)?;
    if to <= from {
        return Err("the window ends before it starts".into());
    }
    Ok(OutOfOffice {
        from,
        to,
        note: w.note.clone(),
    })
}

fn parse_instant(s: &str, tz: &TimeZone, end_of_day: bool) -> Result<jiff::Timestamp, String> {
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    let date: jiff::civil::Date = s
        .parse()
        .map_err(|_| format!("`{s}` is neither a date nor an RFC 3339 instant"))?;
    let date = if end_of_day {
        date.tomorrow().map_err(|e| e.to_string())?
    } else {
        date
    };
    date.to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}
