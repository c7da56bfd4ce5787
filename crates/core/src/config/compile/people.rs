//! The people: managers and leadership, reps (identity, zone, working hours,
//! out-of-office windows, weight, capacity; then team, manager and backup), and teams
//! (members, method, tiebreaker, overflow). Two passes, so references may point forward.

use super::hours::{parse_window, parse_working_hours};
use super::*;

/// The people sections, compiled.
pub(super) struct People {
    pub managers: Vec<Manager>,
    pub leadership: Vec<u32>,
    pub org_tz: TimeZone,
    pub org_tz_name: String,
    pub reps: Vec<Rep>,
    pub rep_by_id: HashMap<String, RepIdx>,
    pub zones: Vec<Zone>,
    pub teams: Vec<Team>,
    pub team_by_id: HashMap<String, TeamIdx>,
}

impl Compiler<'_> {
    pub(super) fn people(
        &mut self,
        raw: &RawConfig,
        queues: &[String],
        queue_roles: &HashMap<QueueRole, QueueIdx>,
    ) -> People {
        // Managers and leadership.
        let mut managers = Vec::new();
        let mut manager_by_id = HashMap::default();
        for m in &raw.managers {
            let r = m.get_ref();
            if manager_by_id
                .insert(r.id.clone(), managers.len() as u32)
                .is_some()
            {
                self.e.at(
                    self.line(m.span(), "id"),
                    "manager.id",
                    Some(&r.id),
                    "manager defined twice",
                    Some("manager ids must be unique".into()),
                );
            }
            managers.push(Manager {
                id: r.id.clone(),
                name: r.name.clone(),
                email: r.email.clone(),
                phone: r.phone.clone(),
                slack: r.slack.clone(),
            });
        }
        let leadership = raw
            .leadership
            .notify
            .iter()
            .filter_map(|m| self.manager_ref(&manager_by_id, m, "leadership.notify"))
            .collect();

        // Reps, pass 1: identity, zone, hours, windows.
        let org_tz = match &raw.organization.timezone {
            Some(s) => self.tz(s, "organization.timezone").unwrap_or(TimeZone::UTC),
            None => TimeZone::UTC,
        };
        let org_tz_name = raw
            .organization
            .timezone
            .as_ref()
            .map(|s| s.get_ref().clone())
            .unwrap_or_else(|| "UTC".into());
        let mut reps = Vec::new();
        let mut rep_by_id: HashMap<String, RepIdx> = HashMap::default();
        let mut zones: Vec<Zone> = Vec::new();
        let mut zone_names: Vec<String> = Vec::new();
        for sr in &raw.reps {
            let r = sr.get_ref();
            let span = sr.span();
            if r.id.trim().is_empty() {
                self.e.at(
                    self.line(span.clone(), "id"),
                    "rep.id",
                    Some(&r.id),
                    "empty rep id",
                    None,
                );
            }
            if rep_by_id
                .insert(r.id.clone(), reps.len() as RepIdx)
                .is_some()
            {
                self.e.at(
                    self.line(span.clone(), "id"),
                    "rep.id",
                    Some(&r.id),
                    "rep defined twice",
                    Some("rep ids must be unique".into()),
                );
            }
            let (tz, tz_name) = match &r.timezone {
                Some(s) => (
                    self.tz(s, &format!("rep {} timezone", r.id))
                        .unwrap_or(TimeZone::UTC),
                    s.get_ref().clone(),
                ),
                None => (org_tz.clone(), org_tz_name.clone()),
            };
            let zone = match zone_names.iter().position(|z| *z == tz_name) {
                Some(i) => i,
                None => {
                    zone_names.push(tz_name.clone());
                    zones.push(Zone::new(tz.clone()));
                    zones.len() - 1
                }
            } as u16;
            let weight = r.weight.unwrap_or(1.0);
            let milli = (weight * 1000.0).round();
            if !(weight.is_finite() && milli >= 1.0 && weight <= 1000.0) {
                self.e.at(
                    self.line(span.clone(), "weight"),
                    format!("rep {} weight", r.id),
                    Some(&weight.to_string()),
                    "weight must be between 0.001 and 1000",
                    Some("use 1 for a normal share, 2 for double, 0.5 for half".into()),
                );
            }
            let stride = STRIDE_SCALE / (milli.max(1.0) as u64);
            if let Some(cap) = r.capacity
                && !(cap.is_finite() && cap >= 0.0)
            {
                self.e.at(
                    self.line(span.clone(), "capacity"),
                    format!("rep {} capacity", r.id),
                    Some(&cap.to_string()),
                    "capacity must be a non-negative number",
                    None,
                );
            }
            let working_hours = r.working_hours.as_ref().and_then(|wh| {
                let list = match wh.get_ref() {
                    RawWorkingHours::One(s) => vec![s.clone()],
                    RawWorkingHours::Many(v) => v.clone(),
                };
                match parse_working_hours(&list) {
                    Ok(h) => Some(h),
                    Err(msg) => {
                        self.e.at(
                            self.line_at(wh.span().start),
                            format!("rep {} working_hours", r.id),
                            Some(&list.join(", ")),
                            msg,
                            Some("write ranges like \"Mon-Fri 09:00-17:30\" or [\"Mon-Thu 08:00-16:00\", \"Fri 08:00-12:00\"]".into()),
                        );
                        None
                    }
                }
            });
            let mut out_of_office = Vec::new();
            for w in &r.out_of_office {
                match parse_window(w.get_ref(), &tz) {
                    Ok(win) => out_of_office.push(win),
                    Err(msg) => self.e.at(
                        self.line_at(w.span().start),
                        format!("rep {} out_of_office", r.id),
                        Some(&format!("{} .. {}", w.get_ref().from, w.get_ref().to)),
                        msg,
                        Some("use dates (2026-12-21) or RFC 3339 instants (2026-12-21T09:00:00Z), from before to".into()),
                    ),
                }
            }
            let calendar = r.calendar.as_ref().and_then(|c| {
                match calendar_source_problem(c.get_ref()) {
                    None => Some(c.get_ref().trim().to_string()),
                    Some(msg) => {
                        self.e.at(
                            self.line_at(c.span().start),
                            format!("rep {} calendar", r.id),
                            // A URL may hold the feed's secret: never echoed.
                            None,
                            msg,
                            Some("write calendar = \"env:NAME\" with the feed's secret address in the environment variable NAME, or an https:// URL".into()),
                        );
                        None
                    }
                }
            });
            reps.push(Rep {
                id: r.id.clone(),
                name: r.name.clone(),
                email: r.email.clone(),
                phone: r.phone.clone(),
                slack: r.slack.clone(),
                team: None,
                manager: None,
                backup: None,
                weight,
                stride,
                capacity: r.capacity,
                daily_cap: r.daily_cap,
                tz,
                tz_name,
                zone,
                working_hours,
                out_of_office,
                active: r.active.unwrap_or(true),
                booking_link: r.booking_link.clone(),
                signature: r.signature.clone(),
                linkedin: r.linkedin.clone(),
                calendar,
                origin: Origin {
                    file: self.e.src.path.clone(),
                    line: self.e.src.line_of(span.start),
                },
            });
        }

        // Teams, pass 1: ids.
        let mut team_by_id: HashMap<String, TeamIdx> = HashMap::default();
        for (i, t) in raw.teams.iter().enumerate() {
            if team_by_id
                .insert(t.get_ref().id.clone(), i as TeamIdx)
                .is_some()
            {
                self.e.at(
                    self.line(t.span(), "id"),
                    "team.id",
                    Some(&t.get_ref().id),
                    "team defined twice",
                    Some("team ids must be unique".into()),
                );
            }
        }
        let refs = Refs {
            reps: &rep_by_id,
            teams: &team_by_id,
            queues,
        };

        // Reps, pass 2: references.
        for (i, sr) in raw.reps.iter().enumerate() {
            let r = sr.get_ref();
            if let Some(t) = &r.team {
                reps[i].team = self.lookup(&team_by_id, t, &format!("rep {} team", r.id), "team");
            }
            if let Some(m) = &r.manager {
                reps[i].manager =
                    self.manager_ref(&manager_by_id, m, &format!("rep {} manager", r.id));
            }
            if let Some(b) = &r.backup {
                reps[i].backup = self.lookup(&rep_by_id, b, &format!("rep {} backup", r.id), "rep");
                if reps[i].backup == Some(i as RepIdx) {
                    self.e.at(
                        self.line_at(b.span().start),
                        format!("rep {} backup", r.id),
                        Some(b.get_ref()),
                        "a rep cannot be their own backup",
                        Some("name another rep of the same team".into()),
                    );
                    reps[i].backup = None;
                }
            }
        }

        // Teams, pass 2.
        let mut teams = Vec::new();
        for (ti, st) in raw.teams.iter().enumerate() {
            let t = st.get_ref();
            let span = st.span();
            let mut members: Vec<RepIdx> = reps
                .iter()
                .enumerate()
                .filter(|(_, r)| r.team == Some(ti as TeamIdx))
                .map(|(i, _)| i as RepIdx)
                .collect();
            for m in &t.members {
                if let Some(r) =
                    self.lookup(&rep_by_id, m, &format!("team {} members", t.id), "rep")
                    && !members.contains(&r)
                {
                    members.push(r);
                }
            }
            let method = match t.method.as_ref().map(|m| token(m.get_ref())).as_deref() {
                None | Some("round_robin") => Method::RoundRobin,
                Some("weighted_round_robin") | Some("weighted") => Method::WeightedRoundRobin,
                Some("least_loaded") => Method::LeastLoaded,
                Some(other) => {
                    let m = t
                        .method
                        .as_ref()
                        .map(|m| m.span().start)
                        .unwrap_or(span.start);
                    self.e.at(
                        self.line_at(m),
                        format!("team {} method", t.id),
                        Some(other),
                        "unknown assignment method",
                        Some("use round_robin, weighted_round_robin or least_loaded".into()),
                    );
                    Method::RoundRobin
                }
            };
            let tiebreaker = match t.tiebreaker.as_ref().map(|m| token(m.get_ref())).as_deref() {
                None | Some("rotation") => Tiebreaker::Rotation,
                Some("rep_order") => Tiebreaker::RepOrder,
                Some(other) => {
                    let m = t
                        .tiebreaker
                        .as_ref()
                        .map(|m| m.span().start)
                        .unwrap_or(span.start);
                    self.e.at(
                        self.line_at(m),
                        format!("team {} tiebreaker", t.id),
                        Some(other),
                        "unknown tiebreaker",
                        Some("use rotation or rep_order".into()),
                    );
                    Tiebreaker::Rotation
                }
            };
            let catch_all = Target::Queue(queue_roles[&QueueRole::CatchAll]);
            let overflow = match &t.overflow {
                Some(o) => self
                    .target(
                        &refs,
                        o.get_ref(),
                        self.line_at(o.span().start),
                        &format!("team {} overflow", t.id),
                    )
                    .unwrap_or(catch_all),
                None => catch_all,
            };
            if overflow == Target::Team(ti as TeamIdx) {
                self.e.at(
                    self.line(span.clone(), "overflow"),
                    format!("team {} overflow", t.id),
                    t.overflow.as_ref().map(|o| o.get_ref().as_str()),
                    "a team cannot overflow into itself",
                    Some("name another team or a queue".into()),
                );
            }
            teams.push(Team {
                id: t.id.clone(),
                name: t.name.clone().unwrap_or_else(|| t.id.clone()),
                lead: t.lead.as_ref().and_then(|l| {
                    self.lookup(&rep_by_id, l, &format!("team {} lead", t.id), "rep")
                }),
                manager: t.manager.as_ref().and_then(|m| {
                    self.manager_ref(&manager_by_id, m, &format!("team {} manager", t.id))
                }),
                members,
                method,
                tiebreaker,
                overflow,
                respect_working_hours: t.respect_working_hours.unwrap_or(true),
                origin: Origin {
                    file: self.e.src.path.clone(),
                    line: self.e.src.line_of(span.start),
                },
            });
        }
        People {
            managers,
            leadership,
            org_tz,
            org_tz_name,
            reps,
            rep_by_id,
            zones,
            teams,
            team_by_id,
        }
    }
}

/// Why a rep's `calendar` value is not usable: it must be `env:NAME` (an environment
/// variable name) or an http(s) URL. The address itself is checked when it is fetched.
fn calendar_source_problem(v: &str) -> Option<String> {
    let v = v.trim();
    if let Some(name) = v.strip_prefix("env:") {
        let ok = !name.is_empty()
            && !name.starts_with(|c: char| c.is_ascii_digit())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        return (!ok).then(|| format!("\"{name}\" is not an environment variable name"));
    }
    let lower = v.to_ascii_lowercase();
    if lower.starts_with("https://") || lower.starts_with("http://") {
        return (v.len() > 2048).then(|| "the URL is longer than 2,048 bytes".to_string());
    }
    if lower.starts_with("webcal://") {
        return Some(
            "webcal:// is not fetched as such: write the same address with https://".into(),
        );
    }
    Some("not env:NAME or an http(s) URL".into())
}
