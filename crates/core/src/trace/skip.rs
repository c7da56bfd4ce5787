//! Why a rep was not given the lead ([`Skip`]), and the rep's local time as the working
//! hours check saw it ([`LocalTime`]). Both keep their parts and are formatted only when
//! shown.

use crate::text::Text;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Why a rep was not given the lead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum Skip {
    Inactive,
    OutOfOffice {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until: Option<Timestamp>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<Text>,
    },
    OutsideHours {
        local_time: LocalTime,
        hours: Text,
    },
    DailyCap {
        count: u32,
        cap: u32,
    },
    AtCapacity {
        load: f64,
        capacity: f64,
    },
    Excluded,
}

impl Skip {
    /// The reason as text ([`std::fmt::Display`]); the fixed reasons without an
    /// allocation.
    pub fn text(&self) -> Text {
        match self {
            Skip::Inactive => Text::from_static(INACTIVE),
            Skip::Excluded => Text::from_static(EXCLUDED),
            _ => Text::from(self.to_string()),
        }
    }
}

const INACTIVE: &str = "inactive";
const EXCLUDED: &str = "excluded for this decision (e.g. the rep who missed the SLA)";

impl std::fmt::Display for Skip {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Skip::Inactive => f.write_str(INACTIVE),
            Skip::OutOfOffice { until, note } => {
                // A calendar feed's override (its note starts "calendar:") says so first:
                // "calendar: out of office until … (Vacation)".
                let calendar = note.as_deref().and_then(|n| n.strip_prefix("calendar:"));
                if calendar.is_some() {
                    f.write_str("calendar: ")?;
                }
                let note = match calendar {
                    Some(t) if t.trim().is_empty() => None,
                    Some(t) => Some(t.trim()),
                    None => note.as_deref(),
                };
                write!(f, "out of office")?;
                if let Some(u) = until {
                    write!(f, " until {u}")?;
                }
                if let Some(n) = note {
                    write!(f, " ({n})")?;
                }
                Ok(())
            }
            Skip::OutsideHours { local_time, hours } => {
                f.write_str("outside working hours (local ")?;
                std::fmt::Display::fmt(local_time, f)?;
                f.write_str("; hours ")?;
                f.write_str(hours)?;
                f.write_str(")")
            }
            Skip::DailyCap { count, cap } => write!(f, "daily cap reached ({count}/{cap})"),
            Skip::AtCapacity { load, capacity } => {
                write!(f, "at capacity (load {load:.1} of {capacity:.1})")
            }
            Skip::Excluded => f.write_str(EXCLUDED),
        }
    }
}

const WEEKDAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// A rep's local time when they were checked against their working hours, as written in
/// the trace: "Mon 23:00 Asia/Singapore". The engine keeps the parts (weekday, minute,
/// the zone name shared with the config) and formats them only when the trace is
/// displayed or serialised; it reads back from that text.
#[derive(Clone)]
pub struct LocalTime(LocalRepr);

#[derive(Clone)]
enum LocalRepr {
    Parts {
        weekday: u8,
        minute: u16,
        zone: Text,
    },
    /// Text that is not in the canonical form, kept as it was.
    Raw(Text),
}

impl LocalTime {
    /// `weekday` counts from Monday = 0; `minute` is the minute of the day.
    pub fn new(weekday: usize, minute: u16, zone: Text) -> Self {
        debug_assert!(weekday < 7 && minute < 24 * 60);
        LocalTime(LocalRepr::Parts {
            weekday: weekday as u8,
            minute,
            zone,
        })
    }

    /// The parts of "Ddd HH:MM zone", only when formatting them gives `s` back.
    fn parse(s: &str) -> Option<(u8, u16, &str)> {
        let (day, rest) = s.split_once(' ')?;
        let (hhmm, zone) = rest.split_once(' ')?;
        let weekday = WEEKDAYS.iter().position(|d| *d == day)? as u8;
        let b = hhmm.as_bytes();
        if b.len() != 5 || b[2] != b':' || zone.is_empty() {
            return None;
        }
        let digit = |i: usize| b[i].is_ascii_digit().then(|| (b[i] - b'0') as u16);
        let (h, m) = (digit(0)? * 10 + digit(1)?, digit(3)? * 10 + digit(4)?);
        (h < 24 && m < 60).then_some((weekday, h * 60 + m, zone))
    }
}

impl std::fmt::Display for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            LocalRepr::Parts {
                weekday,
                minute,
                zone,
            } => {
                let day = WEEKDAYS[*weekday as usize];
                write!(f, "{day} {:02}:{:02} {zone}", minute / 60, minute % 60)
            }
            LocalRepr::Raw(t) => f.write_str(t),
        }
    }
}

impl std::fmt::Debug for LocalTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl PartialEq for LocalTime {
    fn eq(&self, other: &Self) -> bool {
        match (&self.0, &other.0) {
            (
                LocalRepr::Parts {
                    weekday: a,
                    minute: b,
                    zone: c,
                },
                LocalRepr::Parts {
                    weekday: x,
                    minute: y,
                    zone: z,
                },
            ) => a == x && b == y && c == z,
            _ => self.to_string() == other.to_string(),
        }
    }
}

impl From<&'static str> for LocalTime {
    fn from(s: &'static str) -> Self {
        LocalTime(match LocalTime::parse(s) {
            Some((weekday, minute, zone)) => LocalRepr::Parts {
                weekday,
                minute,
                zone: Text::from_static(zone),
            },
            None => LocalRepr::Raw(Text::from_static(s)),
        })
    }
}

impl From<String> for LocalTime {
    fn from(s: String) -> Self {
        LocalTime(match LocalTime::parse(&s) {
            Some((weekday, minute, zone)) => LocalRepr::Parts {
                weekday,
                minute,
                zone: Text::copy(zone),
            },
            None => LocalRepr::Raw(Text::from(s)),
        })
    }
}

impl Serialize for LocalTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for LocalTime {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(LocalTime::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skips() -> Vec<Skip> {
        vec![
            Skip::Inactive,
            Skip::Excluded,
            Skip::OutOfOffice {
                until: Some("2026-11-28T00:00:00Z".parse().unwrap()),
                note: Some("Thanksgiving week".into()),
            },
            Skip::OutOfOffice {
                until: None,
                note: None,
            },
            Skip::OutsideHours {
                local_time: LocalTime::new(0, 23 * 60, "Asia/Singapore".into()),
                hours: "Mon-Fri 09:00-18:00".into(),
            },
            Skip::OutsideHours {
                local_time: LocalTime::new(6, 5, Text::copy("UTC")),
                hours: "Sat 09:00-10:00".into(),
            },
            Skip::OutsideHours {
                local_time: "not a local time".into(),
                hours: "".into(),
            },
            Skip::DailyCap { count: 0, cap: 0 },
            Skip::DailyCap {
                count: 4_294_967_295,
                cap: 30,
            },
            Skip::AtCapacity {
                load: 3.75,
                capacity: 2.0,
            },
            Skip::AtCapacity {
                load: 12.25,
                capacity: 0.0,
            },
            Skip::AtCapacity {
                load: 0.1 + 0.2,
                capacity: 20.5,
            },
        ]
    }

    #[test]
    fn a_calendar_out_of_office_says_so_first() {
        let s = Skip::OutOfOffice {
            until: Some("2026-12-10T00:00:00Z".parse().unwrap()),
            note: Some("calendar: Vacation".into()),
        };
        assert_eq!(
            s.to_string(),
            "calendar: out of office until 2026-12-10T00:00:00Z (Vacation)"
        );
        let bare = Skip::OutOfOffice {
            until: None,
            note: Some("calendar:".into()),
        };
        assert_eq!(bare.to_string(), "calendar: out of office");
    }

    #[test]
    fn skip_text_is_its_display() {
        for s in skips() {
            assert_eq!(s.text(), s.to_string());
        }
    }

    #[test]
    fn local_time_reads_back_from_its_text() {
        let t = LocalTime::new(0, 23 * 60, "Asia/Singapore".into());
        assert_eq!(t.to_string(), "Mon 23:00 Asia/Singapore");
        assert_eq!(format!("{t:?}"), "\"Mon 23:00 Asia/Singapore\"");
        let json = serde_json::to_string(&Skip::OutsideHours {
            local_time: t.clone(),
            hours: "Mon-Fri 09:00-18:00".into(),
        })
        .unwrap();
        assert_eq!(
            json,
            r#"{"reason":"outside_hours","local_time":"Mon 23:00 Asia/Singapore","hours":"Mon-Fri 09:00-18:00"}"#
        );
        let back: Skip = serde_json::from_str(&json).unwrap();
        assert!(matches!(&back, Skip::OutsideHours { local_time, .. } if *local_time == t));
        for text in [
            "Sun 00:05 UTC",
            "Tue 9:00 UTC",
            "Mon 24:00 X",
            "Xyz 10:00 UTC",
            "Mon 10:00",
        ] {
            let parsed = LocalTime::from(text.to_string());
            assert_eq!(parsed.to_string(), text);
            assert_eq!(parsed, LocalTime::from(text.to_string()));
        }
        for s in skips() {
            let json = serde_json::to_string(&s).unwrap();
            let back: Skip = serde_json::from_str(&json).unwrap();
            assert_eq!(back, s);
            assert_eq!(serde_json::to_string(&back).unwrap(), json);
        }
    }
}
