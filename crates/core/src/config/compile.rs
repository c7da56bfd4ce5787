//! Phase 2: raw config → [`CompiledConfig`]. Resolves every reference (rep, team,
//! manager, queue), parses time zones, hours, windows and durations, normalises matrix
//! values, sorts rules into precedence order and indexes them. Every error names
//! file:line, the field, the value and the fix; all errors are reported at once.

use super::error::{ConfigError, Errors, LoadError, SourceText};
use super::raw::*;
use super::suggest::suggest;
use super::tables::{self, AccountSpec, RuleSpec};
use super::*;
use crate::domains::{DomainLists, registrable_domain};
use crate::normalize::{company_key, postal, token};
use crate::zone::Zone;
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use toml::Spanned;

type ReadRel<'a> = &'a dyn Fn(&str) -> Result<SourceText, LoadError>;

/// Compile a config. `read_rel` reads files named relative to the config (CSV tables).
pub fn compile(src: SourceText, read_rel: ReadRel) -> Result<CompiledConfig, LoadError> {
    let raw: RawConfig = match toml::from_str(&src.text) {
        Ok(r) => r,
        Err(e) => {
            let line = e.span().map(|s| src.line_of(s.start));
            return Err(LoadError::Invalid(vec![ConfigError {
                file: src.path.clone(),
                line,
                field: "(syntax)".into(),
                value: None,
                message: e.message().to_string(),
                fix: Some("see docs/config.md for the file format".into()),
            }]));
        }
    };
    let mut hasher = Sha256::new();
    hash_source(&mut hasher, &src);
    let mut c = Compiler {
        e: Errors::new(&src),
        extra_errors: Vec::new(),
        sources: vec![src.path.clone()],
    };
    let out = c.run(raw, read_rel, &mut hasher);
    let mut errors = c.e.list;
    errors.extend(c.extra_errors);
    match out {
        Some(mut cfg) if errors.is_empty() => {
            cfg.version = format!("sha256:{}", &hex::encode(hasher.finalize())[..16]);
            cfg.sources = c.sources;
            cfg.text = TraceText::build(&cfg);
            Ok(cfg)
        }
        _ => Err(LoadError::Invalid(errors)),
    }
}

fn hash_source(h: &mut Sha256, s: &SourceText) {
    let name = std::path::Path::new(&s.path)
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    h.update((name.len() as u64).to_le_bytes());
    h.update(name.as_bytes());
    h.update((s.text.len() as u64).to_le_bytes());
    h.update(s.text.as_bytes());
}

struct Compiler<'a> {
    e: Errors<'a>,
    extra_errors: Vec<ConfigError>,
    sources: Vec<String>,
}

const DEFAULT_SEGMENTS: [(&str, u32); 4] = [
    ("enterprise", 1000),
    ("mid_market", 200),
    ("smb", 50),
    ("self_serve", 0),
];

fn dur(s: &str) -> Option<SignedDuration> {
    s.parse::<SignedDuration>()
        .ok()
        .filter(|d| !d.is_negative())
}

impl<'a> Compiler<'a> {
    fn line(&self, span: std::ops::Range<usize>, key: &str) -> Option<usize> {
        Some(self.e.src.field_line(span, key))
    }

    fn line_at(&self, offset: usize) -> Option<usize> {
        Some(self.e.src.line_of(offset))
    }

    fn tz(&mut self, s: &Spanned<String>, field: &str) -> Option<TimeZone> {
        match TimeZone::get(s.get_ref()) {
            Ok(tz) => Some(tz),
            Err(_) => {
                self.e.at(
                    self.line_at(s.span().start),
                    field,
                    Some(s.get_ref()),
                    "unknown time zone",
                    Some("use an IANA zone name such as America/New_York or Europe/Berlin".into()),
                );
                None
            }
        }
    }

    fn run(
        &mut self,
        raw: RawConfig,
        read_rel: ReadRel,
        hasher: &mut Sha256,
    ) -> Option<CompiledConfig> {
        // Queues.
        let q = &raw.queues;
        let mut queues: Vec<String> = Vec::new();
        let mut queue_roles = HashMap::default();
        for (role, name, default) in [
            (QueueRole::CatchAll, &q.catch_all, "catch-all"),
            (QueueRole::Review, &q.review, "review"),
            (QueueRole::Qualification, &q.qualification, "qualification"),
            (QueueRole::Nurture, &q.nurture, "nurture"),
            (QueueRole::Junk, &q.junk, "junk"),
        ] {
            let name = name.clone().unwrap_or_else(|| default.to_string());
            if queues.contains(&name) {
                self.e.at(
                    None,
                    "queues",
                    Some(&name),
                    "two queue roles share one name",
                    Some(
                        "give catch_all, review, qualification, nurture and junk distinct names"
                            .into(),
                    ),
                );
            }
            queue_roles.insert(role, queues.len() as QueueIdx);
            queues.push(name);
        }
        for x in &q.extra {
            if queues.contains(x) {
                self.e
                    .at(None, "queues.extra", Some(x), "queue defined twice", None);
            } else {
                queues.push(x.clone());
            }
        }

        // Segments (SEG-1).
        let mut segments: Vec<Segment> = if raw.segments.is_empty() {
            DEFAULT_SEGMENTS
                .iter()
                .map(|(n, m)| Segment {
                    name: n.to_string(),
                    min_employees: *m,
                })
                .collect()
        } else {
            let mut seen = HashSet::default();
            raw.segments
                .iter()
                .filter_map(|s| {
                    let name = token(&s.get_ref().name);
                    if !seen.insert(name.clone()) {
                        self.e.at(
                            self.line(s.span(), "name"),
                            "segment.name",
                            Some(&name),
                            "segment defined twice",
                            None,
                        );
                        return None;
                    }
                    Some(Segment {
                        name,
                        min_employees: s.get_ref().min_employees,
                    })
                })
                .collect()
        };
        segments.sort_by_key(|s| std::cmp::Reverse(s.min_employees));
        let segment_names: Vec<String> = segments.iter().map(|s| s.name.clone()).collect();

        // Industries and regions.
        let mut industry_alias = HashMap::default();
        for (canon, aliases) in &raw.industries {
            // One shared text per industry: a decision's industry is a clone of it.
            let canon = Text::shared(token(canon));
            industry_alias.insert(canon.to_string(), canon.clone());
            for a in aliases {
                industry_alias.insert(token(a), canon.clone());
            }
        }
        let geo0 = crate::geo::Geo::new(&std::collections::HashMap::new());
        let mut regions: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for (region, countries) in &raw.regions {
            for c in countries {
                if geo0.country(c).is_none() {
                    self.e.at(
                        None,
                        format!("regions.{region}"),
                        Some(c),
                        "unknown country",
                        Some("use ISO 3166 alpha-2 codes such as US, DE, SG".into()),
                    );
                }
            }
            regions.insert(region.to_uppercase(), countries.clone());
        }
        let geo = crate::geo::Geo::new(&regions);

        // Intent (TIER-1).
        let mut intent = HashMap::default();
        let high = raw.intent.high.clone().unwrap_or_else(|| {
            vec![
                "demo_request".into(),
                "pricing_inquiry".into(),
                "trial_signup".into(),
            ]
        });
        let medium = raw
            .intent
            .medium
            .clone()
            .unwrap_or_else(|| vec!["content_download".into(), "webinar_registration".into()]);
        for a in medium {
            intent.insert(token(&a), Intent::Medium);
        }
        for a in high {
            intent.insert(token(&a), Intent::High);
        }

        // ICP (TIER-2).
        let icp_segments = match &raw.icp.segments {
            Some(list) => list
                .iter()
                .filter_map(|s| {
                    let n = token(s.get_ref());
                    if segment_names.contains(&n) {
                        Some(n)
                    } else {
                        self.e.at(
                            self.line_at(s.span().start),
                            "icp.segments",
                            Some(s.get_ref()),
                            "unknown segment",
                            Some(format!("known segments: {}", segment_names.join(", "))),
                        );
                        None
                    }
                })
                .collect(),
            None => {
                let mut v = segment_names.clone();
                if v.len() > 1 {
                    v.pop();
                }
                v
            }
        };
        let norm_industry = |s: &String| {
            let t = token(s);
            industry_alias.get(&t).map(|c| c.to_string()).unwrap_or(t)
        };
        let icp = Icp {
            segments: icp_segments,
            industries: raw
                .icp
                .industries
                .as_ref()
                .filter(|v| !v.is_empty())
                .map(|v| v.iter().map(norm_industry).collect()),
            regions: raw
                .icp
                .regions
                .as_ref()
                .map(|v| v.iter().map(|r| r.to_uppercase()).collect()),
            countries: raw.icp.countries.as_ref().map(|v| {
                v.iter()
                    .filter_map(|c| geo.country(c).map(str::to_string))
                    .collect()
            }),
        };

        // Scoring (TIER-2).
        let pts = |m: &std::collections::BTreeMap<String, i32>, d: &[(&str, i32)]| {
            if m.is_empty() {
                d.iter().map(|(k, v)| (k.to_string(), *v)).collect()
            } else {
                m.iter()
                    .map(|(k, v)| (token(k), *v))
                    .collect::<HashMap<_, _>>()
            }
        };
        let kw = |v: &[RawKeywordPoints]| {
            v.iter()
                .map(|k| {
                    (
                        k.contains.iter().map(|s| s.to_lowercase()).collect(),
                        k.points,
                    )
                })
                .collect()
        };
        let mut industry_points: HashMap<String, i32> = HashMap::default();
        for (k, v) in &raw.scoring.industry {
            industry_points.insert(norm_industry(k), *v);
        }
        let scoring = Scoring {
            nurture_below: raw.scoring.nurture_below.unwrap_or(10),
            segment: pts(
                &raw.scoring.segment,
                &[("enterprise", 30), ("mid_market", 20), ("smb", 10)],
            ),
            industry: industry_points,
            action: pts(
                &raw.scoring.action,
                &[
                    ("demo_request", 30),
                    ("pricing_inquiry", 25),
                    ("trial_signup", 25),
                    ("content_download", 10),
                    ("webinar_registration", 10),
                ],
            ),
            title: kw(&raw.scoring.title),
            page: kw(&raw.scoring.page),
            icp_fit: raw.scoring.icp_fit.unwrap_or(20),
        };

        // SLA (TIER-3).
        let mut sla = HashMap::default();
        for (tier, given, (r, c)) in [
            (Tier::Hot, &raw.sla.hot, ("5m", "5m")),
            (Tier::Warm, &raw.sla.warm, ("15m", "1h")),
            (Tier::Standard, &raw.sla.standard, ("1h", "24h")),
        ] {
            let given = given.clone().unwrap_or_default();
            let base = SlaTimes {
                route_within: dur(r).unwrap_or_default(),
                contact_within: dur(c).unwrap_or_default(),
            };
            let times = self.sla_times(
                &format!("sla.{}", tier.name()),
                base,
                given.route_within.as_ref(),
                given.contact_within.as_ref(),
            );
            sla.insert((tier, None), times);
        }
        for o in &raw.sla.overrides {
            let or = o.get_ref();
            let Some(tier) = Tier::parse(&or.tier) else {
                self.e.at(
                    self.line(o.span(), "tier"),
                    "sla.override.tier",
                    Some(&or.tier),
                    "unknown tier",
                    Some("use hot, warm or standard".into()),
                );
                continue;
            };
            let seg = token(&or.segment);
            if !segment_names.contains(&seg) {
                self.e.at(
                    self.line(o.span(), "segment"),
                    "sla.override.segment",
                    Some(&or.segment),
                    "unknown segment",
                    Some(format!("known segments: {}", segment_names.join(", "))),
                );
                continue;
            }
            let base = sla[&(tier, None)];
            let times = self.sla_times(
                "sla.override",
                base,
                or.route_within.as_ref(),
                or.contact_within.as_ref(),
            );
            sla.insert((tier, Some(seg)), times);
        }

        // Capacity stage weights (ASG-4).
        let stage_weights = StageWeights {
            early: raw.capacity.early.unwrap_or(0.5),
            mid: raw.capacity.mid.unwrap_or(1.0),
            late: raw.capacity.late.unwrap_or(1.5),
        };
        for (n, w) in [
            ("early", stage_weights.early),
            ("mid", stage_weights.mid),
            ("late", stage_weights.late),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                self.e.at(
                    None,
                    format!("capacity.{n}"),
                    Some(&w.to_string()),
                    "stage weight must be a non-negative number",
                    None,
                );
            }
        }

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
            queues: &queues,
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

        // Accounts: inline and CSV (ACC-1, ACC-2).
        let mut specs: Vec<AccountSpec> = raw
            .accounts
            .iter()
            .map(|a| {
                let r = a.get_ref();
                AccountSpec {
                    domain: r.domain.clone(),
                    name: r.name.clone(),
                    owner: r.owner.as_ref().map(|o| o.get_ref().clone()),
                    named: r.named.unwrap_or(false),
                    aliases: r.aliases.clone(),
                    file: self.e.src.path.clone(),
                    line: self.e.src.line_of(a.span().start),
                }
            })
            .collect();
        if let Some(path) = &raw.routing.accounts_csv
            && let Some(src) = self.read_table(read_rel, path, "routing.accounts_csv", hasher)
        {
            match tables::read_accounts(&src) {
                Ok(v) => specs.extend(v),
                Err(errs) => self.extra_errors.extend(errs),
            }
        }
        let mut accounts = Vec::new();
        let mut account_by_domain: HashMap<String, u32> = HashMap::default();
        let mut account_by_name: HashMap<String, u32> = HashMap::default();
        for a in specs {
            let err = |field: &str, value: &str, msg: &str, fix: Option<String>| ConfigError {
                file: a.file.clone(),
                line: Some(a.line),
                field: field.to_string(),
                value: Some(value.to_string()),
                message: msg.to_string(),
                fix,
            };
            let Some(domain) = registrable_domain(&a.domain) else {
                self.extra_errors.push(err(
                    "account.domain",
                    &a.domain,
                    "not a domain with a public suffix",
                    Some("write the company's web domain, e.g. globex.com".into()),
                ));
                continue;
            };
            if let Some(prev) = account_by_domain.get(&domain) {
                let p: &Account = &accounts[*prev as usize];
                self.extra_errors.push(err(
                    "account.domain",
                    &a.domain,
                    &format!("account domain {domain} already defined at {}", p.origin),
                    Some("keep one row per registrable domain".into()),
                ));
                continue;
            }
            let owner = match &a.owner {
                Some(o) => match rep_by_id.get(o) {
                    Some(r) => Some(*r),
                    None => {
                        self.extra_errors.push(err(
                            "account.owner",
                            o,
                            "unknown rep",
                            Some(suggest("rep", o, rep_by_id.keys())),
                        ));
                        None
                    }
                },
                None => None,
            };
            let idx = accounts.len() as u32;
            account_by_domain.insert(domain.clone(), idx);
            let name = a.name.clone().unwrap_or_else(|| domain.clone());
            for n in std::iter::once(&name).chain(a.aliases.iter()) {
                let k = company_key(n);
                if !k.is_empty() {
                    account_by_name.entry(k).or_insert(idx);
                }
            }
            accounts.push(Account {
                domain,
                name,
                owner,
                named: a.named,
                origin: Origin {
                    file: a.file.clone(),
                    line: a.line,
                },
            });
        }

        // Rules: inline and CSV (SEG-2).
        let mut rule_specs: Vec<RuleSpec> = raw
            .rules
            .iter()
            .map(|r| {
                let x = r.get_ref();
                RuleSpec {
                    id: x.id.clone(),
                    priority: x.priority,
                    conds: [
                        x.segment.clone(),
                        x.industry.clone(),
                        x.region.clone(),
                        x.country.clone(),
                        x.state.clone(),
                        x.postal_code.clone(),
                        x.product.clone(),
                        x.lead_source.clone(),
                        x.tier.clone(),
                    ],
                    route_to: x.route_to.get_ref().clone(),
                    note: x.note.clone(),
                    file: self.e.src.path.clone(),
                    line: self.e.src.line_of(r.span().start),
                    route_line: self.e.src.line_of(x.route_to.span().start),
                }
            })
            .collect();
        if let Some(path) = &raw.routing.matrix_csv
            && let Some(src) = self.read_table(read_rel, path, "routing.matrix_csv", hasher)
        {
            match tables::read_matrix(&src) {
                Ok(v) => rule_specs.extend(v),
                Err(errs) => self.extra_errors.extend(errs),
            }
        }
        let known_regions: BTreeSet<String> =
            geo.regions().into_iter().map(str::to_string).collect();
        let mut rules = Vec::new();
        let mut rule_ids: HashMap<String, Origin> = HashMap::default();
        for spec in rule_specs {
            let origin = Origin {
                file: spec.file.clone(),
                line: spec.line,
            };
            let mut errs = Vec::new();
            let mut push =
                |field: &str, value: &str, msg: String, fix: Option<String>, line: usize| {
                    errs.push(ConfigError {
                        file: spec.file.clone(),
                        line: Some(line),
                        field: format!("rule {} {field}", spec.id),
                        value: Some(value.to_string()),
                        message: msg,
                        fix,
                    });
                };
            if spec.id.trim().is_empty() {
                push(
                    "id",
                    "",
                    "empty rule id".into(),
                    Some("give every rule a unique id".into()),
                    spec.line,
                );
            }
            if let Some(prev) = rule_ids.insert(spec.id.clone(), origin.clone()) {
                push(
                    "id",
                    &spec.id,
                    format!("rule id already used at {prev}"),
                    Some("rule ids must be unique".into()),
                    spec.line,
                );
            }
            let mut conds: [Vec<String>; 9] = Default::default();
            let country_ctx: Vec<&'static str> = spec.conds[Dim::Country as usize]
                .iter()
                .filter_map(|c| geo.country(c))
                .collect();
            for d in Dim::ALL {
                for v in &spec.conds[d as usize] {
                    let n = match d {
                        Dim::Segment => {
                            let t = token(v);
                            if !segment_names.contains(&t) {
                                push(
                                    d.name(),
                                    v,
                                    "unknown segment".into(),
                                    Some(format!("known segments: {}", segment_names.join(", "))),
                                    spec.line,
                                );
                            }
                            t
                        }
                        Dim::Industry => norm_industry(v),
                        Dim::Region => {
                            let r = v.trim().to_uppercase();
                            if !known_regions.contains(&r) {
                                push(
                                    d.name(),
                                    v,
                                    "unknown region".into(),
                                    Some(format!(
                                        "known regions: {}",
                                        known_regions
                                            .iter()
                                            .cloned()
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )),
                                    spec.line,
                                );
                            }
                            r
                        }
                        Dim::Country => match geo.country(v) {
                            Some(c) => c.to_string(),
                            None => {
                                push(
                                    d.name(),
                                    v,
                                    "unknown country".into(),
                                    Some("use ISO 3166 alpha-2 codes such as US, DE, SG".into()),
                                    spec.line,
                                );
                                v.clone()
                            }
                        },
                        Dim::State => {
                            // With one country on the rule, state names resolve to codes.
                            match country_ctx.as_slice() {
                                [c] => geo
                                    .subdivision(c, v)
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v.trim().to_uppercase()),
                                _ => v.trim().to_uppercase(),
                            }
                        }
                        Dim::PostalCode => {
                            let star = v.trim().ends_with('*');
                            let p = postal(v);
                            if star { format!("{p}*") } else { p }
                        }
                        Dim::Product | Dim::LeadSource => token(v),
                        Dim::Tier => match Tier::parse(v) {
                            Some(t) => t.name().to_string(),
                            None => {
                                push(
                                    d.name(),
                                    v,
                                    "unknown tier".into(),
                                    Some("use hot, warm or standard".into()),
                                    spec.line,
                                );
                                v.clone()
                            }
                        },
                    };
                    if !conds[d as usize].contains(&n) {
                        conds[d as usize].push(n);
                    }
                }
            }
            let target = if spec.route_to.trim().is_empty() {
                push(
                    "route_to",
                    "",
                    "missing target".into(),
                    Some("write team:ID, rep:ID or queue:NAME".into()),
                    spec.route_line,
                );
                None
            } else {
                let mut local = Errors::new(self.e.src);
                let t = target_of(
                    &refs,
                    &spec.route_to,
                    &mut local,
                    Some(spec.route_line),
                    &format!("rule {} route_to", spec.id),
                );
                for mut e in local.list {
                    e.file = spec.file.clone();
                    errs.push(e);
                }
                t
            };
            if !errs.is_empty() {
                self.extra_errors.extend(errs);
                continue;
            }
            let specificity = conds.iter().filter(|c| !c.is_empty()).count() as u8;
            let layer = if Dim::ALL
                .iter()
                .any(|d| d.is_geographic() && !conds[*d as usize].is_empty())
            {
                Layer::Territory
            } else {
                Layer::Segment
            };
            rules.push(Rule {
                id: spec.id,
                priority: spec.priority.unwrap_or(0),
                conds,
                target: target.unwrap_or(Target::Queue(0)),
                layer,
                specificity,
                note: spec.note,
                origin,
            });
        }
        // Precedence (stable: file order breaks the last tie).
        rules.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.layer.cmp(&b.layer))
                .then(b.specificity.cmp(&a.specificity))
        });
        let rule_index = crate::matrix::RuleIndex::build(&rules);

        let default_team = raw
            .routing
            .default_team
            .as_ref()
            .and_then(|t| self.lookup(&team_by_id, t, "routing.default_team", "team"));

        let mut forms: Vec<Form> = Vec::new();
        for f in &raw.forms {
            let r = f.get_ref();
            let key_ok = !r.key.is_empty()
                && r.key.len() <= 64
                && r.key
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !key_ok {
                self.e.at(
                    self.line(f.span(), "key"),
                    "form.key",
                    Some(&r.key),
                    "form keys are 1-64 characters of letters, digits, - and _",
                    Some("they appear in the form's action URL /v1/forms/{key}".into()),
                );
            }
            if forms.iter().any(|x| x.key == r.key) {
                self.e.at(
                    self.line(f.span(), "key"),
                    "form.key",
                    Some(&r.key),
                    "form defined twice",
                    None,
                );
            }
            forms.push(Form {
                key: r.key.clone(),
                name: r.name.clone().unwrap_or_else(|| r.key.clone()),
                lead_source: r.lead_source.clone(),
                action: r.action.clone(),
                product: r.product.clone(),
                return_hosts: r.return_hosts.iter().map(|h| h.to_lowercase()).collect(),
            });
        }

        let domains = DomainLists::shipped().with_overrides(
            &raw.routing.personal_domains,
            &raw.routing.corporate_domains,
            &raw.routing.disposable_domains,
        );

        Some(CompiledConfig {
            version: String::new(),
            organization_tz: org_tz,
            organization_tz_name: org_tz_name,
            organization_name: raw
                .organization
                .name
                .clone()
                .unwrap_or_else(|| "leadrouter".into()),
            console_url: raw.organization.console_url.clone(),
            routing: RoutingOptions {
                default_team,
                recycle_after_days: raw.routing.recycle_after_days.unwrap_or(90),
                route_unknown_firmographics: raw
                    .routing
                    .route_unknown_firmographics
                    .unwrap_or(true),
                honeypot_field: raw
                    .routing
                    .honeypot_field
                    .clone()
                    .unwrap_or_else(|| "website_url".into()),
            },
            queues,
            queue_roles,
            segments,
            industry_alias,
            intent,
            icp,
            scoring,
            sla,
            stage_weights,
            managers,
            leadership,
            reps,
            rep_by_id,
            zones,
            teams,
            team_by_id,
            accounts,
            account_by_domain,
            account_by_name,
            rules,
            rule_index,
            geo,
            domains,
            sources: Vec::new(),
            forms,
            source: std::sync::Arc::new(self.e.src.clone()),
            base_dir: std::path::PathBuf::from("."),
            text: TraceText::default(),
        })
    }

    fn sla_times(
        &mut self,
        field: &str,
        base: SlaTimes,
        route: Option<&Spanned<String>>,
        contact: Option<&Spanned<String>>,
    ) -> SlaTimes {
        let mut out = base;
        for (name, v, slot) in [
            ("route_within", route, &mut out.route_within),
            ("contact_within", contact, &mut out.contact_within),
        ] {
            if let Some(v) = v {
                match dur(v.get_ref()) {
                    Some(d) => *slot = d,
                    None => self.e.at(
                        self.line_at(v.span().start),
                        format!("{field}.{name}"),
                        Some(v.get_ref()),
                        "not a duration",
                        Some("write durations like \"5m\", \"1h\", \"24h\" or \"1h 30m\"".into()),
                    ),
                }
            }
        }
        out
    }

    fn read_table(
        &mut self,
        read_rel: ReadRel,
        path: &Spanned<String>,
        field: &str,
        hasher: &mut Sha256,
    ) -> Option<SourceText> {
        match read_rel(path.get_ref()) {
            Ok(src) => {
                hash_source(hasher, &src);
                self.sources.push(src.path.clone());
                Some(src)
            }
            Err(e) => {
                self.e.at(
                    self.line_at(path.span().start),
                    field,
                    Some(path.get_ref()),
                    e.to_string(),
                    Some("paths are relative to the config file".into()),
                );
                None
            }
        }
    }

    fn lookup(
        &mut self,
        map: &HashMap<String, u32>,
        name: &Spanned<String>,
        field: &str,
        what: &str,
    ) -> Option<u32> {
        match map.get(name.get_ref()) {
            Some(i) => Some(*i),
            None => {
                self.e.at(
                    self.line_at(name.span().start),
                    field,
                    Some(name.get_ref()),
                    format!("unknown {what}"),
                    Some(suggest(what, name.get_ref(), map.keys())),
                );
                None
            }
        }
    }

    fn manager_ref(
        &mut self,
        managers: &HashMap<String, u32>,
        name: &Spanned<String>,
        field: &str,
    ) -> Option<u32> {
        self.lookup(managers, name, field, "manager")
    }

    fn target(&mut self, refs: &Refs, s: &str, line: Option<usize>, field: &str) -> Option<Target> {
        target_of(refs, s, &mut self.e, line, field)
    }
}

struct Refs<'r> {
    reps: &'r HashMap<String, RepIdx>,
    teams: &'r HashMap<String, TeamIdx>,
    queues: &'r [String],
}

fn target_of(
    refs: &Refs,
    s: &str,
    e: &mut Errors,
    line: Option<usize>,
    field: &str,
) -> Option<Target> {
    let s = s.trim();
    let Some((kind, id)) = s.split_once(':') else {
        e.at(
            line,
            field,
            Some(s),
            "target has no kind",
            Some("write team:ID, rep:ID or queue:NAME".into()),
        );
        return None;
    };
    let id = id.trim();
    match kind.trim() {
        "team" => match refs.teams.get(id) {
            Some(t) => Some(Target::Team(*t)),
            None => {
                e.at(
                    line,
                    field,
                    Some(s),
                    "unknown team",
                    Some(suggest("team", id, refs.teams.keys())),
                );
                None
            }
        },
        "rep" => match refs.reps.get(id) {
            Some(r) => Some(Target::Rep(*r)),
            None => {
                e.at(
                    line,
                    field,
                    Some(s),
                    "unknown rep",
                    Some(suggest("rep", id, refs.reps.keys())),
                );
                None
            }
        },
        "queue" => match refs.queues.iter().position(|q| q == id) {
            Some(q) => Some(Target::Queue(q as QueueIdx)),
            None => {
                e.at(
                    line,
                    field,
                    Some(s),
                    "unknown queue",
                    Some(format!(
                        "known queues: {} (add others under [queues] extra)",
                        refs.queues.join(", ")
                    )),
                );
                None
            }
        },
        other => {
            e.at(
                line,
                field,
                Some(s),
                format!("unknown target kind `{other}`"),
                Some("write team:ID, rep:ID or queue:NAME".into()),
            );
            None
        }
    }
}

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
