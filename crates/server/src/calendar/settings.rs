//! `[calendar]`: how often feeds are fetched, how long a fetch may take, how big a feed
//! may be, what makes an event out of office, when a feed counts as stale. Read from the
//! config's text by serve and each reload (a bad section refuses the config, like
//! `[crm]`); every value is bounded. See docs/calendars.md.

use leadrouter_calendar::{DEFAULT_OOO_TITLE, Limits, ParseOptions};
use leadrouter_core::config::CompiledConfig;
use serde::Deserialize;
use std::time::Duration;

/// The largest feed any setting allows.
pub const MAX_FEED_BYTES: usize = 5 * 1024 * 1024;

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCalendar {
    refresh: Option<String>,
    timeout: Option<String>,
    max_bytes: Option<usize>,
    max_events: Option<usize>,
    ooo_titles: Option<String>,
    long_event: Option<String>,
    stale_after: Option<String>,
    allow_private: Option<bool>,
}

#[derive(Deserialize)]
struct Doc {
    calendar: Option<RawCalendar>,
}

/// `[calendar]` resolved.
#[derive(Debug, Clone)]
pub struct CalendarSettings {
    /// Time between two fetches of one feed.
    pub refresh: Duration,
    /// Longest one fetch may take, connect to last byte.
    pub timeout: Duration,
    pub max_bytes: usize,
    pub max_events: usize,
    /// Title pattern (None: titles never make an event out of office).
    pub ooo_titles: Option<leadrouter_calendar::Regex>,
    pub long_event: Duration,
    /// A feed not fetched successfully for this long is shown as stale.
    pub stale_after: Duration,
    /// Fetch feeds from private and loopback addresses too (intranet calendars, tests);
    /// such fetches follow no redirects.
    pub allow_private: bool,
}

impl Default for CalendarSettings {
    fn default() -> Self {
        CalendarSettings {
            refresh: Duration::from_secs(15 * 60),
            timeout: Duration::from_secs(20),
            max_bytes: MAX_FEED_BYTES,
            max_events: Limits::default().max_events,
            ooo_titles: leadrouter_calendar::title_pattern(DEFAULT_OOO_TITLE).ok(),
            long_event: Duration::from_secs(4 * 3600),
            stale_after: Duration::from_secs(45 * 60),
            allow_private: false,
        }
    }
}

impl CalendarSettings {
    /// `[calendar]` of the config in force (defaults when absent).
    pub fn from_config(cfg: &CompiledConfig) -> Result<CalendarSettings, String> {
        let doc: Doc = toml::from_str(&cfg.source.text)
            .map_err(|e| format!("  [calendar] {}", e.message()))?;
        Self::resolve(doc.calendar.unwrap_or_default())
    }

    fn resolve(raw: RawCalendar) -> Result<CalendarSettings, String> {
        let mut errors = Vec::new();
        let d = CalendarSettings::default();
        let mut dur = |key: &str,
                       v: &Option<String>,
                       default: Duration,
                       min: Duration,
                       max: Duration| {
            let Some(s) = v else { return default };
            match leadrouter_enrich::parse_duration(s) {
                Some(x) if x >= min && x <= max => x,
                _ => {
                    errors.push(format!(
                        "  [calendar] {key} = \"{s}\": write a duration from {} to {} (\"15m\", \"30s\", \"4h\")",
                        leadrouter_enrich::fmt_duration(min),
                        leadrouter_enrich::fmt_duration(max)
                    ));
                    default
                }
            }
        };
        let refresh = dur(
            "refresh",
            &raw.refresh,
            d.refresh,
            Duration::from_secs(1),
            Duration::from_secs(86_400),
        );
        let timeout = dur(
            "timeout",
            &raw.timeout,
            d.timeout,
            Duration::from_secs(1),
            Duration::from_secs(120),
        );
        let long_event = dur(
            "long_event",
            &raw.long_event,
            d.long_event,
            Duration::ZERO,
            Duration::from_secs(7 * 86_400),
        );
        let stale_default = (refresh * 3).max(Duration::from_secs(60));
        let stale_after = dur(
            "stale_after",
            &raw.stale_after,
            stale_default,
            refresh,
            Duration::from_secs(30 * 86_400),
        );
        let max_bytes = raw.max_bytes.unwrap_or(d.max_bytes);
        if !(1024..=MAX_FEED_BYTES).contains(&max_bytes) {
            errors.push(format!(
                "  [calendar] max_bytes = {max_bytes}: write a size from 1024 to {MAX_FEED_BYTES} bytes (5 MiB)"
            ));
        }
        let max_events = raw.max_events.unwrap_or(d.max_events);
        if !(1..=100_000).contains(&max_events) {
            errors.push(format!(
                "  [calendar] max_events = {max_events}: write a number from 1 to 100000"
            ));
        }
        let ooo_titles = match raw.ooo_titles.as_deref() {
            None => d.ooo_titles,
            Some(p) if p.trim().is_empty() => None,
            Some(p) if p.len() > 1000 => {
                errors.push("  [calendar] ooo_titles: longer than 1,000 characters".into());
                None
            }
            Some(p) => match leadrouter_calendar::title_pattern(p) {
                Ok(re) => Some(re),
                Err(e) => {
                    errors.push(format!(
                        "  [calendar] ooo_titles = \"{p}\": {e}; write alternatives like \"OOO|Out of office|Vacation\""
                    ));
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors.join("\n"));
        }
        Ok(CalendarSettings {
            refresh,
            timeout,
            max_bytes,
            max_events,
            ooo_titles,
            long_event,
            stale_after,
            allow_private: raw.allow_private.unwrap_or(false),
        })
    }

    /// How to read one rep's feed: floating times and all-day dates in the rep's zone.
    pub fn parse_options(&self, zone: Option<chrono_tz::Tz>, year: i32) -> ParseOptions {
        ParseOptions {
            floating_zone: zone,
            ooo_title: self.ooo_titles.clone(),
            long_event: chrono::Duration::from_std(self.long_event)
                .unwrap_or(chrono::Duration::hours(4)),
            reference_year: year,
            limits: Limits {
                max_bytes: self.max_bytes,
                max_events: self.max_events,
                ..Limits::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<CalendarSettings, String> {
        let doc: Doc = toml::from_str(text).map_err(|e| e.to_string())?;
        CalendarSettings::resolve(doc.calendar.unwrap_or_default())
    }

    #[test]
    fn defaults_and_values() {
        let s = parse("").unwrap();
        assert_eq!(s.refresh, Duration::from_secs(900));
        assert!(s.ooo_titles.unwrap().is_match("out of office"));
        let s = parse(
            "[calendar]\nrefresh = \"5m\"\nooo_titles = \"Urlaub|Abwesend\"\nlong_event = \"2h\"\n",
        )
        .unwrap();
        assert_eq!(s.refresh, Duration::from_secs(300));
        assert_eq!(s.stale_after, Duration::from_secs(900));
        assert!(s.ooo_titles.as_ref().unwrap().is_match("URLAUB"));
        assert!(!s.ooo_titles.unwrap().is_match("Vacation"));
        assert!(
            parse("[calendar]\nooo_titles = \"\"\n")
                .unwrap()
                .ooo_titles
                .is_none()
        );
    }

    #[test]
    fn refuses_out_of_bounds_values_naming_the_key() {
        let e = parse("[calendar]\nrefresh = \"0s\"\nmax_bytes = 99999999\nooo_titles = \"(\"\n")
            .unwrap_err();
        assert!(e.contains("refresh = \"0s\""), "{e}");
        assert!(e.contains("max_bytes = 99999999"), "{e}");
        assert!(e.contains("ooo_titles = \"(\""), "{e}");
        assert!(parse("[calendar]\nrefrsh = \"5m\"\n").is_err());
    }
}
