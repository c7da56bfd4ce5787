//! RFC 5545 content lines: unfolding (§3.1), `NAME;PARAM=v,"q":value` splitting, TEXT
//! unescaping (§3.3.11), and the DATE, DATE-TIME and DURATION values (§3.3.4-6) this crate
//! reads. Tolerant the way feeds need it: LF as well as CRLF, lower-case names, stray blank
//! lines; what cannot be read is reported with its line number.

use chrono::{Duration, NaiveDate, NaiveDateTime, NaiveTime};

/// One unfolded content line.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    /// 1-based number of the physical line it starts on.
    pub number: usize,
    /// Upper-cased property name.
    pub name: String,
    /// Parameters, names upper-cased, values unquoted.
    pub params: Vec<(String, String)>,
    pub value: String,
}

impl Line {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// The unfolded lines of `text`; `max_line` bounds one unfolded line's length.
pub fn lines(text: &str, max_line: usize) -> Result<Vec<Line>, (usize, String)> {
    let mut out: Vec<Line> = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(rest) = raw.strip_prefix([' ', '\t']) {
            match current.as_mut() {
                Some((_, buf)) => {
                    if buf.len() + rest.len() > max_line {
                        return Err((i + 1, format!("line longer than {max_line} bytes")));
                    }
                    buf.push_str(rest);
                }
                None => return Err((i + 1, "continuation line without a line before".into())),
            }
            continue;
        }
        if let Some((n, buf)) = current.take() {
            out.push(split(n, &buf)?);
        }
        if raw.trim().is_empty() {
            continue;
        }
        if raw.len() > max_line {
            return Err((i + 1, format!("line longer than {max_line} bytes")));
        }
        current = Some((i + 1, raw.to_string()));
    }
    if let Some((n, buf)) = current.take() {
        out.push(split(n, &buf)?);
    }
    Ok(out)
}

fn split(number: usize, line: &str) -> Result<Line, (usize, String)> {
    // The name ends at the first ';' or ':'; parameters run to the first ':' outside quotes.
    let name_end = line
        .find([';', ':'])
        .ok_or_else(|| (number, "a content line needs NAME:value".to_string()))?;
    let name = line[..name_end].trim().to_ascii_uppercase();
    if name.is_empty() {
        return Err((number, "a content line needs a name".into()));
    }
    let mut params = Vec::new();
    let bytes = line.as_bytes();
    let mut i = name_end;
    while bytes.get(i) == Some(&b';') {
        let start = i + 1;
        let eq = line[start..]
            .find('=')
            .map(|p| start + p)
            .ok_or_else(|| (number, "a parameter needs NAME=value".to_string()))?;
        let pname = line[start..eq].trim().to_ascii_uppercase();
        let mut j = eq + 1;
        let mut value = String::new();
        loop {
            if bytes.get(j) == Some(&b'"') {
                let close = line[j + 1..]
                    .find('"')
                    .map(|p| j + 1 + p)
                    .ok_or_else(|| (number, "unterminated quoted parameter".to_string()))?;
                value.push_str(&line[j + 1..close]);
                j = close + 1;
            } else {
                let end = line[j..]
                    .find([',', ';', ':'])
                    .map(|p| j + p)
                    .unwrap_or(line.len());
                value.push_str(&line[j..end]);
                j = end;
            }
            if bytes.get(j) == Some(&b',') {
                value.push(',');
                j += 1;
                continue;
            }
            break;
        }
        params.push((pname, value));
        i = j;
    }
    if bytes.get(i) != Some(&b':') {
        return Err((number, format!("{name}: missing ':' before the value")));
    }
    Ok(Line {
        number,
        name,
        params,
        value: line[i + 1..].to_string(),
    })
}

/// A TEXT value with its escapes (`\\`, `\;`, `\,`, `\n`) undone.
pub fn unescape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    let mut chars = v.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n' | 'N') => out.push('\n'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A DATE or DATE-TIME value as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Date(NaiveDate),
    /// Local (floating or with a TZID) wall-clock time.
    Local(NaiveDateTime),
    Utc(NaiveDateTime),
}

pub fn parse_when(v: &str) -> Option<When> {
    let v = v.trim();
    if v.len() == 8 {
        return NaiveDate::parse_from_str(v, "%Y%m%d").ok().map(When::Date);
    }
    let (body, utc) = match v.strip_suffix(['Z', 'z']) {
        Some(b) => (b, true),
        None => (v, false),
    };
    let (d, t) = body.split_once(['T', 't'])?;
    let date = NaiveDate::parse_from_str(d, "%Y%m%d").ok()?;
    if t.len() != 6 {
        return None;
    }
    // Leap second 60 is read as 59 (chrono has no second 60).
    let (h, m, s): (u32, u32, u32) = (
        t[0..2].parse().ok()?,
        t[2..4].parse().ok()?,
        t[4..6].parse::<u32>().ok()?.min(59),
    );
    let dt = date.and_time(NaiveTime::from_hms_opt(h, m, s)?);
    Some(if utc { When::Utc(dt) } else { When::Local(dt) })
}

/// A DURATION value (`P1D`, `PT1H30M`, `-P2W`, `P1DT12H`).
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let (neg, v) = match v.as_bytes().first()? {
        b'-' => (true, &v[1..]),
        b'+' => (false, &v[1..]),
        _ => (false, v),
    };
    let v = v.strip_prefix(['P', 'p'])?;
    let mut total: i64 = 0;
    let mut num: i64 = 0;
    let mut digits = false;
    let mut in_time = false;
    let mut any = false;
    for c in v.chars() {
        match c.to_ascii_uppercase() {
            '0'..='9' => {
                num = num
                    .checked_mul(10)?
                    .checked_add(i64::from(c as u8 - b'0'))?;
                digits = true;
            }
            'T' => in_time = true,
            unit => {
                if !digits {
                    return None;
                }
                let secs = match (unit, in_time) {
                    ('W', false) => 7 * 86_400,
                    ('D', false) => 86_400,
                    ('H', true) => 3_600,
                    ('M', true) => 60,
                    ('S', true) => 1,
                    _ => return None,
                };
                total = total.checked_add(num.checked_mul(secs)?)?;
                num = 0;
                digits = false;
                any = true;
            }
        }
    }
    if digits || !any {
        return None;
    }
    let d = Duration::try_seconds(total)?;
    Some(if neg { -d } else { d })
}

/// A UTC offset (`+0100`, `-0530`, `+013000`) in seconds east of UTC.
pub fn parse_offset(v: &str) -> Option<i32> {
    let v = v.trim();
    let sign = match v.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = &v[1..];
    if !(digits.len() == 4 || digits.len() == 6) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let h: i32 = digits[0..2].parse().ok()?;
    let m: i32 = digits[2..4].parse().ok()?;
    let s: i32 = digits.get(4..6).map_or(Some(0), |s| s.parse().ok())?;
    Some(sign * (h * 3600 + m * 60 + s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unfolds_and_splits_params_with_quotes() {
        let text = "BEGIN:VEVENT\r\nDTSTART;TZID=\"W. Europe Standard Time\":20260323T\r\n 090000\r\nSUMMARY;LANGUAGE=en:Team\\, weekly\\nsync\r\nEND:VEVENT\r\n";
        let ls = lines(text, 1000).unwrap();
        assert_eq!(ls.len(), 4);
        assert_eq!(ls[1].name, "DTSTART");
        assert_eq!(ls[1].param("TZID"), Some("W. Europe Standard Time"));
        assert_eq!(ls[1].value, "20260323T090000");
        assert_eq!(ls[1].number, 2);
        assert_eq!(unescape(&ls[2].value), "Team, weekly\nsync");
    }

    #[test]
    fn a_colon_inside_a_quoted_param_is_not_the_value() {
        let l = &lines("ATTENDEE;CN=\"Doe: Jane\";ROLE=REQ:mailto:j@x.test", 100).unwrap()[0];
        assert_eq!(l.param("CN"), Some("Doe: Jane"));
        assert_eq!(l.param("ROLE"), Some("REQ"));
        assert_eq!(l.value, "mailto:j@x.test");
    }

    #[test]
    fn refuses_long_lines_and_garbage() {
        assert!(lines(&"X".repeat(200), 100).is_err());
        assert_eq!(lines("no colon here", 100).unwrap_err().0, 1);
        assert!(lines(" continuation first", 100).is_err());
    }

    #[test]
    fn values() {
        assert_eq!(
            parse_when("20260323"),
            Some(When::Date(NaiveDate::from_ymd_opt(2026, 3, 23).unwrap()))
        );
        assert!(matches!(parse_when("20260323T090000Z"), Some(When::Utc(_))));
        assert!(matches!(
            parse_when("20260323T090000"),
            Some(When::Local(_))
        ));
        assert_eq!(parse_when("2026-03-23"), None);
        assert_eq!(parse_duration("PT1H30M"), Some(Duration::minutes(90)));
        assert_eq!(parse_duration("P1DT12H"), Some(Duration::hours(36)));
        assert_eq!(parse_duration("-P2W"), Some(Duration::days(-14)));
        assert_eq!(parse_duration("P"), None);
        assert_eq!(parse_duration("PT5"), None);
        assert_eq!(parse_offset("+0100"), Some(3600));
        assert_eq!(parse_offset("-0530"), Some(-19_800));
        assert_eq!(parse_offset("0100"), None);
    }
}
