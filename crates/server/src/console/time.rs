//! Times and durations on console pages: every instant is shown in the viewer's zone
//! (their own setting, else a rep's zone from the config, else the organisation's,
//! `organization.timezone`) with the zone named, and every duration in words through
//! [`leadrouter_core::words`]: no page shows raw seconds, nanoseconds or ISO 8601.
//!
//! A viewer's zone is a preference cookie (`lr_tz`) that names the user it was set for,
//! set with `POST /console/zone`; the console keeps no other per-user state.

use super::{ConsoleState, FormData, PageResult, Session, check_csrf, session};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use leadrouter_core::config::CompiledConfig;

const ZONE_COOKIE: &str = "lr_tz";

/// The zone a page shows its times in.
#[derive(Clone)]
pub struct Times {
    tz: TimeZone,
    name: String,
}

impl Times {
    /// The organisation's zone.
    pub fn org(cfg: &CompiledConfig) -> Times {
        Times {
            tz: cfg.organization_tz.clone(),
            name: cfg.organization_tz_name.clone(),
        }
    }

    /// A named IANA zone, or `None` when there is no such zone.
    pub fn named(name: &str) -> Option<Times> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 {
            return None;
        }
        TimeZone::get(name).ok().map(|tz| Times {
            tz,
            name: name.to_string(),
        })
    }

    /// The viewer's zone: their own setting, else (a rep) their zone in the config, else
    /// the organisation's.
    pub fn for_viewer(cfg: &CompiledConfig, s: &Session, headers: &HeaderMap) -> Times {
        if let Some(t) = viewer_setting(headers, &s.user).and_then(|z| Times::named(&z)) {
            return t;
        }
        if let Some(r) = cfg.rep_by_id.get(&s.user) {
            let rep = cfg.rep(*r);
            return Times {
                tz: rep.tz.clone(),
                name: rep.tz_name.clone(),
            };
        }
        Times::org(cfg)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// "2026-11-23 16:04 CET".
    pub fn at(&self, t: Timestamp) -> String {
        t.to_zoned(self.tz.clone())
            .strftime("%Y-%m-%d %H:%M %Z")
            .to_string()
    }

    /// [`Times::at`] of stored microseconds.
    pub fn ts(&self, us: i64) -> String {
        self.at(leadrouter_store::from_micros(us))
    }

    /// "2026-11-23 16:04:05 CET" (the audit log, where seconds matter).
    pub fn ts_seconds(&self, us: i64) -> String {
        leadrouter_store::from_micros(us)
            .to_zoned(self.tz.clone())
            .strftime("%Y-%m-%d %H:%M:%S %Z")
            .to_string()
    }
}

/// The time between two stored instants, in words ("5 min", "2 h 34 min").
pub fn between(from_us: i64, to_us: i64) -> String {
    leadrouter_core::words::duration(jiff::SignedDuration::from_micros(to_us - from_us))
}

/// Seconds in words.
pub fn seconds(secs: f64) -> String {
    leadrouter_core::words::seconds(secs)
}

/// The zone this browser's user chose, if the cookie was set for this user.
fn viewer_setting(headers: &HeaderMap, user: &str) -> Option<String> {
    let raw = super::cookie(headers, ZONE_COOKIE)?;
    let mut who = None;
    let mut zone = None;
    for (k, v) in form_urlencoded::parse(raw.as_bytes()) {
        match &*k {
            "u" => who = Some(v.into_owned()),
            "z" => zone = Some(v.into_owned()),
            _ => {}
        }
    }
    (who.as_deref() == Some(user)).then_some(zone).flatten()
}

/// `POST /console/zone`: the viewer's time zone (`zone`, an IANA name; empty: back to the
/// default), then back to the page the form was on.
pub async fn set_zone(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    body: Bytes,
) -> PageResult {
    let s = session(&st, &headers).await?;
    let form = FormData::parse(&body)?;
    check_csrf(&s, &headers, &form)?;
    let cookie = match form.get("zone") {
        None => format!("{ZONE_COOKIE}=; Path=/console; SameSite=Strict; Max-Age=0"),
        Some(z) => {
            let t = Times::named(z).ok_or_else(|| {
                super::ConsoleError::Bad(format!(
                    "zone `{}` is not an IANA time zone; write it like Europe/Berlin or America/New_York",
                    z.chars().take(64).collect::<String>()
                ))
            })?;
            let value = form_urlencoded::Serializer::new(String::new())
                .append_pair("u", &s.user)
                .append_pair("z", t.name())
                .finish();
            format!(
                "{ZONE_COOKIE}={value}; Path=/console; SameSite=Strict; Max-Age=31536000{}",
                super::secure_attr(&st)
            )
        }
    };
    // Back to the page the form was on (the Referer, same origin by the console's
    // referrer policy), when that is a console page.
    let back = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .and_then(|r| r.split_once("://"))
        .and_then(|(_, rest)| rest.find('/').map(|i| &rest[i..]))
        .filter(|b| {
            b.starts_with("/console/")
                && !b.contains("//")
                && b.bytes().all(|c| c.is_ascii_graphic() && c != b'\\')
        })
        .unwrap_or("/console")
        .to_string();
    let mut resp = Redirect::to(&back).into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_name_their_zone() {
        let berlin = Times::named("Europe/Berlin").unwrap();
        let t: Timestamp = "2026-11-23T15:04:00Z".parse().unwrap();
        assert_eq!(berlin.at(t), "2026-11-23 16:04 CET");
        let utc = Times::named("UTC").unwrap();
        assert_eq!(utc.at(t), "2026-11-23 15:04 UTC");
        assert!(Times::named("Mars/Olympus").is_none());
        assert_eq!(between(0, 9_240_089_905), "2 h 34 min");
    }

    #[test]
    fn the_zone_setting_belongs_to_its_user() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("lr_tz=u=ann.archer&z=Asia%2FTokyo"),
        );
        assert_eq!(
            viewer_setting(&h, "ann.archer").as_deref(),
            Some("Asia/Tokyo")
        );
        assert_eq!(viewer_setting(&h, "admin"), None);
    }
}
