//! Reading a feed's components: VCALENDAR's `X-WR-TIMEZONE`, VTIMEZONE blocks and VEVENTs
//! (everything else — VTODO, VALARM, VFREEBUSY, unknown X- components — is skipped), each
//! VEVENT turned into an [`Event`]: its timing in a resolved zone, recurrence, exceptions,
//! whether it blocks time and whether it is out of office.

use crate::lines::{Line, When, parse_duration, parse_when, unescape};
use crate::zones::{self, Observance, VTimezone, Zone};
use crate::{CalendarError, ParseOptions};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use std::collections::HashMap;

/// The longest one event instance is taken to be (ten years): longer ones are cut, so
/// date arithmetic stays in range whatever a feed says.
const MAX_EVENT_DAYS: i64 = 3660;

/// When an event happens, in the zone its times were written in.
#[derive(Debug, Clone)]
pub enum Timing {
    /// All-day: local dates in the floating zone (the rep's), `days` long (nominal days).
    AllDay {
        date: NaiveDate,
        days: i64,
        zone: Zone,
    },
    /// A timed event: its first start and its length.
    Timed {
        start: DateTime<Utc>,
        local: chrono::NaiveDateTime,
        zone: Zone,
        length: Duration,
    },
}

/// One VEVENT, as far as busy time and out-of-office go.
#[derive(Debug, Clone)]
pub struct Event {
    pub uid: String,
    pub title: String,
    pub timing: Timing,
    /// The RRULE value (without `RRULE:`), for a recurring master.
    pub rrule: Option<String>,
    /// Instants removed from the recurrence (EXDATE) and instants replaced by an override
    /// (the RECURRENCE-ID of another VEVENT with the same UID).
    pub removed: Vec<DateTime<Utc>>,
    /// Set on overrides: the instance it replaces.
    pub recurrence_id: Option<DateTime<Utc>>,
    pub cancelled: bool,
    /// Blocks time (not TRANSP:TRANSPARENT, not Outlook's FREE).
    pub opaque: bool,
    pub out_of_office: bool,
}

/// What parsing found.
pub struct Parsed {
    pub events: Vec<Event>,
    pub warnings: Vec<String>,
}

struct Component<'a> {
    lines: Vec<&'a Line>,
}

pub fn read(lines: &[Line], opts: &ParseOptions) -> Result<Parsed, CalendarError> {
    if lines
        .first()
        .is_none_or(|l| l.name != "BEGIN" || !l.value.eq_ignore_ascii_case("VCALENDAR"))
    {
        return Err(CalendarError::NotICalendar);
    }
    let mut warnings = Vec::new();
    let mut wr_timezone: Option<String> = None;
    let mut vtimezones: HashMap<String, VTimezone> = HashMap::new();
    let mut vevents: Vec<Component> = Vec::new();
    // The stack of open components, and where the current VEVENT / VTIMEZONE collects.
    let mut stack: Vec<String> = Vec::new();
    let mut event: Option<Component> = None;
    let mut tz: Option<VTimezone> = None;
    let mut obs: Option<Observance> = None;
    for l in lines {
        match l.name.as_str() {
            "BEGIN" => {
                let what = l.value.trim().to_ascii_uppercase();
                if stack.len() >= 8 {
                    return Err(CalendarError::Malformed {
                        line: l.number,
                        message: "components nested deeper than 8".into(),
                    });
                }
                let parent = stack.last().map(String::as_str);
                match (parent, what.as_str()) {
                    (Some("VCALENDAR"), "VEVENT") => {
                        if vevents.len() >= opts.limits.max_events {
                            return Err(CalendarError::TooManyEvents {
                                max: opts.limits.max_events,
                            });
                        }
                        event = Some(Component { lines: Vec::new() })
                    }
                    (Some("VCALENDAR"), "VTIMEZONE") => tz = Some(VTimezone::default()),
                    (Some("VTIMEZONE"), "STANDARD" | "DAYLIGHT") => {
                        obs = Some(Observance {
                            daylight: what == "DAYLIGHT",
                            ..Observance::default()
                        })
                    }
                    _ => {}
                }
                stack.push(what);
            }
            "END" => {
                let what = l.value.trim().to_ascii_uppercase();
                if stack.last() != Some(&what) {
                    return Err(CalendarError::Malformed {
                        line: l.number,
                        message: format!(
                            "END:{what} does not close {}",
                            stack.last().map_or("anything", String::as_str)
                        ),
                    });
                }
                stack.pop();
                match what.as_str() {
                    "VEVENT" if stack.len() == 1 => vevents.extend(event.take()),
                    "VTIMEZONE" => {
                        if let Some(t) = tz.take()
                            && !t.tzid.is_empty()
                        {
                            vtimezones.insert(t.tzid.clone(), t);
                        }
                    }
                    "STANDARD" | "DAYLIGHT" => {
                        if let (Some(o), Some(t)) = (obs.take(), tz.as_mut()) {
                            t.observances.push(o);
                        }
                    }
                    _ => {}
                }
            }
            name => match stack.last().map(String::as_str) {
                Some("VCALENDAR") if name == "X-WR-TIMEZONE" => {
                    wr_timezone = Some(l.value.trim().to_string())
                }
                Some("VEVENT") if stack.len() == 2 => {
                    if let Some(e) = event.as_mut() {
                        e.lines.push(l);
                    }
                }
                Some("VTIMEZONE") => {
                    if let Some(t) = tz.as_mut() {
                        match name {
                            "TZID" => t.tzid = l.value.trim().to_string(),
                            "X-LIC-LOCATION" => t.lic_location = Some(l.value.trim().to_string()),
                            _ => {}
                        }
                    }
                }
                Some("STANDARD" | "DAYLIGHT") => {
                    if let Some(o) = obs.as_mut() {
                        match name {
                            "DTSTART" => {
                                o.start = parse_when(&l.value).and_then(zones::observance_start)
                            }
                            "TZOFFSETFROM" => o.offset_from = zones::offset(&l.value),
                            "TZOFFSETTO" => o.offset_to = zones::offset(&l.value),
                            "RRULE" => o.rrule = Some(l.value.trim().to_string()),
                            _ => {}
                        }
                    }
                }
                _ => {}
            },
        }
    }
    if !stack.is_empty() {
        return Err(CalendarError::Malformed {
            line: lines.last().map_or(0, |l| l.number),
            message: format!("BEGIN:{} is never closed", stack[stack.len() - 1]),
        });
    }

    // Floating times and all-day dates are the rep's: the configured zone, else the
    // calendar's own (Google writes X-WR-TIMEZONE), else UTC.
    let floating = match (opts.floating_zone, wr_timezone.as_deref()) {
        (Some(z), _) => Zone::Iana(z),
        (None, Some(name)) => zones::resolve(name, vtimezones.get(name), opts.reference_year).zone,
        (None, None) => Zone::UTC,
    };
    let mut resolved: HashMap<String, Zone> = HashMap::new();
    let mut zone_of = |tzid: Option<&str>, warnings: &mut Vec<String>| -> Zone {
        let Some(tzid) = tzid else { return floating };
        if let Some(z) = resolved.get(tzid) {
            return *z;
        }
        let r = zones::resolve(tzid, vtimezones.get(tzid), opts.reference_year);
        warnings.extend(r.warning);
        resolved.insert(tzid.to_string(), r.zone);
        r.zone
    };

    let mut events = Vec::with_capacity(vevents.len());
    for c in &vevents {
        match event_of(c, opts, floating, &mut zone_of, &mut warnings) {
            Ok(Some(e)) => events.push(e),
            Ok(None) => {}
            Err(w) => warnings.push(w),
        }
    }
    // Overrides take their instance out of the master's recurrence.
    let mut replaced: HashMap<&str, Vec<DateTime<Utc>>> = HashMap::new();
    for e in &events {
        if let Some(rid) = e.recurrence_id {
            replaced.entry(e.uid.as_str()).or_default().push(rid);
        }
    }
    let replaced: HashMap<String, Vec<DateTime<Utc>>> = replaced
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    for e in &mut events {
        if e.rrule.is_some()
            && let Some(r) = replaced.get(&e.uid)
        {
            e.removed.extend(r.iter().copied());
        }
    }
    Ok(Parsed { events, warnings })
}

type ZoneOf<'z> = dyn FnMut(Option<&str>, &mut Vec<String>) -> Zone + 'z;

/// One VEVENT → [`Event`]; `Ok(None)` for one without a start; `Err` a warning for one that
/// cannot be read (skipped, the rest of the feed still counts).
fn event_of(
    c: &Component,
    opts: &ParseOptions,
    floating: Zone,
    zone_of: &mut ZoneOf<'_>,
    warnings: &mut Vec<String>,
) -> Result<Option<Event>, String> {
    let get = |name: &str| c.lines.iter().find(|l| l.name == name).copied();
    let line_no = c.lines.first().map_or(0, |l| l.number);
    let uid = get("UID")
        .map(|l| l.value.trim().to_string())
        .unwrap_or_default();
    let title = get("SUMMARY")
        .map(|l| unescape(l.value.trim()))
        .unwrap_or_default();
    let Some(dtstart) = get("DTSTART") else {
        return Ok(None);
    };
    let when = |l: &Line| {
        parse_when(&l.value).ok_or_else(|| {
            format!(
                "line {}: {} \"{}\" is not a DATE or DATE-TIME; event skipped",
                l.number, l.name, l.value
            )
        })
    };
    let start = when(dtstart)?;
    let instant = |w: When,
                   l: &Line,
                   zone_of: &mut ZoneOf<'_>,
                   warnings: &mut Vec<String>|
     -> DateTime<Utc> {
        match w {
            When::Utc(t) => t.and_utc(),
            When::Local(t) => zone_of(l.param("TZID"), warnings).instant(t),
            When::Date(d) => floating.midnight(d),
        }
    };
    let timing = match start {
        When::Date(date) => {
            let days = match (get("DTEND"), get("DURATION")) {
                (Some(end), _) => match when(end)? {
                    When::Date(e) => (e - date).num_days(),
                    _ => 1,
                },
                (None, Some(d)) => parse_duration(&d.value).map_or(1, |d| d.num_days()),
                (None, None) => 1,
            };
            Timing::AllDay {
                date,
                days: days.clamp(1, MAX_EVENT_DAYS),
                zone: floating,
            }
        }
        When::Local(_) | When::Utc(_) => {
            let (local, zone) = match start {
                When::Utc(t) => (t, Zone::UTC),
                When::Local(t) => (t, zone_of(dtstart.param("TZID"), warnings)),
                When::Date(_) => unreachable!("handled above"),
            };
            let first = zone.instant(local);
            let length = match (get("DTEND"), get("DURATION")) {
                (Some(end), _) => {
                    let w = when(end)?;
                    instant(w, end, zone_of, warnings) - first
                }
                (None, Some(d)) => parse_duration(&d.value).ok_or_else(|| {
                    format!(
                        "line {}: DURATION \"{}\" is not a duration; event skipped",
                        d.number, d.value
                    )
                })?,
                (None, None) => Duration::zero(),
            };
            let length = length.min(Duration::days(MAX_EVENT_DAYS));
            if length < Duration::zero() {
                return Err(format!(
                    "line {line_no}: event \"{title}\" ends before it starts; skipped"
                ));
            }
            Timing::Timed {
                start: first,
                local,
                zone,
                length,
            }
        }
    };
    let mut removed = Vec::new();
    for l in c.lines.iter().filter(|l| l.name == "EXDATE") {
        for v in l.value.split(',') {
            match parse_when(v) {
                Some(w) => removed.push(instant(w, l, zone_of, warnings)),
                None => warnings.push(format!("line {}: EXDATE \"{v}\" not read", l.number)),
            }
        }
    }
    if get("RECURRENCE-ID").is_some_and(|l| l.param("RANGE").is_some()) {
        warnings.push(format!(
            "line {line_no}: RECURRENCE-ID with RANGE=THISANDFUTURE is read as this instance only"
        ));
    }
    let recurrence_id = match get("RECURRENCE-ID") {
        Some(l) => Some(instant(when(l)?, l, zone_of, warnings)),
        None => None,
    };
    let upper = |name: &str| get(name).map(|l| l.value.trim().to_ascii_uppercase());
    let cancelled = upper("STATUS").as_deref() == Some("CANCELLED");
    let ms_status =
        upper("X-MICROSOFT-CDO-BUSYSTATUS").or_else(|| upper("X-MICROSOFT-CDO-INTENDEDSTATUS"));
    let transparent = upper("TRANSP").as_deref() == Some("TRANSPARENT");
    let opaque = match ms_status.as_deref() {
        Some("FREE") => false,
        Some("OOF") => true,
        _ => !transparent,
    };
    let google_ooo =
        upper("X-GOOGLE-EVENT-TYPE").is_some_and(|t| t.replace('_', "") == "OUTOFOFFICE");
    let marked = ms_status.as_deref() == Some("OOF") || google_ooo;
    let long = match &timing {
        Timing::AllDay { .. } => true,
        Timing::Timed { length, .. } => *length >= opts.long_event,
    };
    let titled = long
        && opts
            .ooo_title
            .as_ref()
            .is_some_and(|re| re.is_match(&title));
    Ok(Some(Event {
        uid,
        title,
        timing,
        rrule: get("RRULE").map(|l| l.value.trim().to_string()),
        removed,
        recurrence_id,
        cancelled,
        opaque,
        out_of_office: marked || titled,
    }))
}
