//! Phase 2: raw config → [`CompiledConfig`]. Resolves every reference (rep, team,
//! manager, queue), parses time zones, hours, windows and durations, normalises matrix
//! values, sorts rules into precedence order and indexes them. Every error names
//! file:line, the field, the value and the fix; all errors are reported at once.
//!
//! This module holds the entry point, the compiler's error reporting and the lookups every
//! section shares (references, targets, "did you mean"); the sections are compiled in
//! `vocabulary` (queues, segments, industries, regions, intent, ICP, scoring, SLA, stage
//! weights), `people` (managers, reps, teams), `accounts`, `rules` and `hours` (working
//! hours and out-of-office windows), in the order of the file's documentation.

mod accounts;
mod hours;
mod lints;
mod people;
mod rules;
mod vocabulary;

pub use hours::{parse_window, parse_working_hours};

use super::error::{ConfigError, Errors, LoadError, SourceText};
use super::raw::*;
use super::suggest::suggest;
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
        lints: Vec::new(),
    };
    let out = c.run(raw, read_rel, &mut hasher);
    let mut errors = c.e.list;
    errors.extend(c.extra_errors);
    match out {
        Some(mut cfg) if errors.is_empty() => {
            cfg.version = format!("sha256:{}", &hex::encode(hasher.finalize())[..16]);
            cfg.sources = c.sources;
            cfg.lints = c.lints;
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
    /// Values that compile but can never match (warnings for `check`).
    lints: Vec<crate::analysis::Finding>,
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
        let v = self.vocabulary(&raw);
        self.lint_vocabulary(&raw, &v);
        let p = self.people(&raw, &v.queues, &v.queue_roles);
        let (accounts, account_by_domain, account_by_name) =
            self.accounts(&raw, read_rel, hasher, &p.rep_by_id);
        let refs = Refs {
            reps: &p.rep_by_id,
            teams: &p.team_by_id,
            queues: &v.queues,
        };
        let (rules, rule_index) = self.rules(&raw, read_rel, hasher, &v, &refs);

        let default_team = raw
            .routing
            .default_team
            .as_ref()
            .and_then(|t| self.lookup(&p.team_by_id, t, "routing.default_team", "team"));

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
                limits: {
                    let d = FormLimits::default();
                    FormLimits {
                        per_minute: r.max_per_minute.unwrap_or(d.per_minute),
                        per_address_per_hour: r
                            .max_per_address_per_hour
                            .unwrap_or(d.per_address_per_hour),
                        per_email_per_hour: r
                            .max_per_email_per_hour
                            .unwrap_or(d.per_email_per_hour),
                    }
                },
                min_fill_secs: r.min_fill_secs.unwrap_or(0),
                confirmation: r.confirmation.unwrap_or(true),
            });
        }

        let domains = DomainLists::shipped().with_overrides(
            &raw.routing.personal_domains,
            &raw.routing.corporate_domains,
            &raw.routing.disposable_domains,
        );

        let retention = self.retention(&raw.retention);
        let booking = raw.booking.as_ref().map(|b| {
            // A plain table's span may be its header alone: its keys run to the next
            // header.
            let src = self.e.src;
            let start = b.span().start.min(src.text.len());
            let end = src.text[start..]
                .match_indices("\n[")
                .map(|(i, _)| start + i)
                .find(|&i| i > b.span().end.min(src.text.len()).saturating_sub(1))
                .unwrap_or(src.text.len());
            let span = start..end.max(b.span().end.min(src.text.len()));
            crate::booking::compile(b.get_ref(), &mut self.e, &|key| {
                Some(src.field_line(span.clone(), key))
            })
        });
        Some(CompiledConfig {
            booking,
            version: String::new(),
            organization_tz: p.org_tz,
            organization_tz_name: p.org_tz_name,
            organization_name: raw
                .organization
                .name
                .clone()
                .unwrap_or_else(|| "leadrouter".into()),
            console_url: raw.organization.console_url.clone(),
            routing: RoutingOptions {
                default_team,
                recycle_after_days: raw.routing.recycle_after_days.unwrap_or(90),
                hold_for_owner_within: self.hold_for_owner(&raw.routing),
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
            queues: v.queues,
            queue_roles: v.queue_roles,
            segments: v.segments,
            industry_alias: v.industry_alias,
            intent: v.intent,
            icp: v.icp,
            tier_by_action: v.tier_by_action,
            scoring: v.scoring,
            sla: v.sla,
            stage_weights: v.stage_weights,
            managers: p.managers,
            leadership: p.leadership,
            reps: p.reps,
            rep_by_id: p.rep_by_id,
            zones: p.zones,
            teams: p.teams,
            team_by_id: p.team_by_id,
            accounts,
            account_by_domain,
            account_by_name,
            rules,
            rule_index,
            geo: v.geo,
            domains,
            sources: Vec::new(),
            forms,
            retention,
            source: std::sync::Arc::new(self.e.src.clone()),
            base_dir: std::path::PathBuf::from("."),
            text: TraceText::default(),
            lints: Vec::new(),
        })
    }

    /// `[retention]`: whole days, at least one (a zero would erase every lead as it is
    /// routed), at most 100 years.
    fn retention(&mut self, r: &RawRetention) -> Retention {
        let mut days = |key: &str, v: Option<i64>| -> Option<u32> {
            let v = v?;
            if (1..=36_500).contains(&v) {
                return Some(v as u32);
            }
            self.e.at(
                None,
                format!("retention.{key}"),
                Some(&v.to_string()),
                "retention must be a whole number of days from 1 to 36500; leave the key out to keep the data",
                None,
            );
            None
        };
        let leads_days = days("leads_days", r.leads_days);
        let traces_days = days("traces_days", r.traces_days);
        let delivered_outbox_days = days("delivered_outbox_days", r.delivered_outbox_days);
        let min = i64::from(Retention::MIN_AUDIT_DAYS);
        let audit_days = match r.audit_days {
            None => Retention::DEFAULT_AUDIT_DAYS,
            Some(v) if (min..=36_500).contains(&v) => v as u32,
            Some(v) => {
                self.e.at(
                    None,
                    "retention.audit_days".to_string(),
                    Some(&v.to_string()),
                    format!(
                        "the audit log is kept from {min} to 36500 days (the database keeps at least the last {min}); leave the key out for the default, {}",
                        Retention::DEFAULT_AUDIT_DAYS
                    ),
                    None,
                );
                Retention::DEFAULT_AUDIT_DAYS
            }
        };
        Retention {
            leads_days,
            traces_days,
            delivered_outbox_days,
            audit_days,
        }
    }

    /// `[routing] hold_for_owner_within`: a duration of at most a week (a longer hold
    /// would leave a hot lead untouched for days).
    fn hold_for_owner(&mut self, r: &RawRouting) -> Option<SignedDuration> {
        let v = r.hold_for_owner_within.as_ref()?;
        match dur(v.get_ref()) {
            Some(d) if d <= SignedDuration::from_hours(168) => Some(d),
            _ => {
                self.e.at(
                    self.line_at(v.span().start),
                    "routing.hold_for_owner_within",
                    Some(v.get_ref()),
                    "not a duration of at most 168h",
                    Some("write how long a named-account lead may wait for its owner, e.g. \"14h\"; leave the key out to route to whoever is on".into()),
                );
                None
            }
        }
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
