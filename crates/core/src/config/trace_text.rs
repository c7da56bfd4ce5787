//! The strings and small tables decisions copy into their traces or look up, built once
//! per compiled config ([`TraceText::build`]) so a decision shares them instead of
//! formatting them again: ids, names, labels, the availability check's per-rep facts,
//! working hours packed for the check, the compact-walk table and the SLA table.

use super::*;

/// Strings and small tables a decision copies into its trace or looks up, built once by
/// the compiler (after the version is known) from the fields above, so a decision shares
/// them instead of allocating and formatting them again. Every text is shared by
/// reference count with this config, so it lives as long as the config and its traces
/// (no process-wide pool: the core holds no global state). Rebuild it with
/// [`TraceText::build`] after changing ids, names or rules of a compiled config by hand.
#[derive(Debug, Clone, Default)]
pub struct TraceText {
    pub version: Text,
    /// Per rep (index = [`RepIdx`]).
    pub rep_id: Vec<Text>,
    /// Per rep: the display name (the decision's owner name).
    pub rep_name: Vec<Text>,
    /// The same ids as a table to index per-rep state by (see [`crate::state::RepMap`]).
    pub reps: std::sync::Arc<crate::state::RepTable>,
    /// Team ids and members, to index rotations by (see [`crate::state::RotationMap`]).
    pub teams: std::sync::Arc<crate::state::TeamTable>,
    pub rep_zone: Vec<Text>,
    /// Working hours as written; empty for a rep without hours.
    pub rep_hours: Vec<Text>,
    /// What the availability check reads of each rep, packed (see [`RepCheck`]).
    pub rep_check: Vec<RepCheck>,
    /// Per rep, what the trace needs to write out a compact team walk's verdicts.
    pub walk: std::sync::Arc<crate::trace::WalkTable>,
    /// The distinct working hours of the reps, their texts, and the reps' zone names.
    pub hours: Vec<HoursCheck>,
    pub hours_text: Vec<Text>,
    pub zone_label: Vec<Text>,
    /// `"backup <id>"`, `"team lead <id>"`, `"rep:<id>"`.
    pub rep_as_backup: Vec<Text>,
    pub rep_as_team_lead: Vec<Text>,
    pub rep_label: Vec<Text>,
    /// Per team: the id and `"team:<id>"`.
    pub team_id: Vec<Text>,
    pub team_label: Vec<Text>,
    /// Per team: positions in `members` in the order of the members' ids, to read the
    /// team's rotation (keyed by rep id) in one ordered pass.
    pub team_members_by_id: Vec<Vec<usize>>,
    /// Per queue: `"queue:<name>"`.
    pub queue_label: Vec<Text>,
    /// Per queue: its name (the decision's queue).
    pub queue_name: Vec<Text>,
    /// Per rule (precedence order, as [`CompiledConfig::rules`]).
    pub rule_id: Vec<Text>,
    /// "file:line".
    pub rule_origin: Vec<Text>,
    /// The rule's conditions for the decision's reason: " (segment=smb, region=EMEA)",
    /// or empty for a rule without conditions.
    pub rule_conditions: Vec<Text>,
    /// Per segment (as [`CompiledConfig::segments`]).
    pub segment: Vec<Text>,
    /// SLA per segment and tier (index = `Tier as usize`); the last row is for leads
    /// without a segment-specific override.
    pub sla: Vec<[SlaTimes; 3]>,
    /// Scoring with each rule's label as the trace shows it: points and `"segment <name>"`,
    /// `"industry <name>"`, `"action <name>"` by value; `"title has \"<word>\""` and
    /// `"visited <word>"` per keyword (as [`Scoring::title`] and [`Scoring::page`]).
    pub score_segment: HashMap<String, (i32, Text)>,
    pub score_industry: HashMap<String, (i32, Text)>,
    pub score_action: HashMap<String, (i32, Text)>,
    pub score_title: Vec<Vec<Text>>,
    pub score_page: Vec<Vec<Text>>,
    /// Per title and page keyword (as [`Scoring::title`] and [`Scoring::page`]): the set
    /// of its bytes ([`crate::normalize::byte_set`]), to rule it out of a text that lacks
    /// one of them without reading the keyword.
    pub score_title_bytes: Vec<Vec<[u64; 4]>>,
    pub score_page_bytes: Vec<Vec<[u64; 4]>>,
    /// Tokens the config names (matrix products and lead sources, actions): a lead's
    /// token found here is shared rather than copied.
    pub tokens: rustc_hash::FxHashSet<Text>,
}

/// The fields of a [`Rep`] the availability check reads, in one cache line (the
/// candidate loop of a team walk reads these for every member; a `Rep` is a few cache
/// lines and keeps its hours table in a separate allocation). Hours and zone names are
/// indices into small shared tables ([`TraceText::hours`], [`TraceText::zone_label`]).
#[derive(Debug, Clone, PartialEq)]
#[repr(align(64))]
pub struct RepCheck {
    /// The rep id (as [`TraceText::rep_id`]).
    pub id: Text,
    pub capacity: Option<f64>,
    pub daily_cap: Option<u32>,
    /// Index into [`CompiledConfig::zones`].
    pub zone: u16,
    pub active: bool,
    pub has_out_of_office: bool,
    /// Index into [`TraceText::zone_label`]: the rep's zone name as written.
    pub zone_label: u32,
    /// Index into [`TraceText::hours`] and [`TraceText::hours_text`].
    pub hours: u32,
}

/// A rep's working hours for the availability check.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HoursCheck {
    /// No working hours: always within them.
    Always,
    /// Up to two `[start, end)` minute ranges per weekday (Mon = 0); unused are empty.
    Ranges([[(u16, u16); 2]; 7]),
    /// More ranges on some day: read [`Rep::working_hours`].
    Table,
}

impl HoursCheck {
    pub fn of(rep: &Rep) -> HoursCheck {
        match &rep.working_hours {
            None => HoursCheck::Always,
            Some(h) if h.days.iter().all(|d| d.len() <= 2) => {
                let mut days = [[(0, 0); 2]; 7];
                for (day, ranges) in days.iter_mut().zip(&h.days) {
                    day[..ranges.len()].copy_from_slice(ranges);
                }
                HoursCheck::Ranges(days)
            }
            Some(_) => HoursCheck::Table,
        }
    }

    /// Within `rep`'s working hours at this local weekday and minute
    /// ([`WorkingHours::contains`]); `rep` is the one these hours were made from.
    pub fn contains(&self, rep: &Rep, weekday_mon0: usize, minute: u16) -> bool {
        match self {
            HoursCheck::Always => true,
            HoursCheck::Ranges(days) => days[weekday_mon0]
                .iter()
                .any(|&(s, e)| minute >= s && minute < e),
            HoursCheck::Table => rep
                .working_hours
                .as_ref()
                .is_none_or(|h| h.contains(weekday_mon0, minute)),
        }
    }
}

/// Per rep: its [`RepCheck`]; and the distinct hours (with their text) and zone names
/// the records point into.
fn rep_checks(
    cfg: &CompiledConfig,
    rep_id: &[Text],
) -> (Vec<RepCheck>, Vec<HoursCheck>, Vec<Text>, Vec<Text>) {
    let (mut hours, mut hours_text, mut zone_label) =
        (Vec::new(), Vec::<Text>::new(), Vec::<Text>::new());
    let mut checks = Vec::with_capacity(cfg.reps.len());
    for (rep, id) in cfg.reps.iter().zip(rep_id) {
        let h = HoursCheck::of(rep);
        let text = rep
            .working_hours
            .as_ref()
            .map(|w| w.text.as_str())
            .unwrap_or_default();
        // Few distinct values: a search is quicker than hashing here.
        let hi = match (0..hours.len()).find(|&i| hours[i] == h && hours_text[i] == *text) {
            Some(i) => i,
            None => {
                hours.push(h);
                hours_text.push(Text::copy(text));
                hours.len() - 1
            }
        };
        let zi = match zone_label.iter().position(|z| *z == *rep.tz_name) {
            Some(i) => i,
            None => {
                zone_label.push(Text::copy(&rep.tz_name));
                zone_label.len() - 1
            }
        };
        checks.push(RepCheck {
            id: id.clone(),
            capacity: rep.capacity,
            daily_cap: rep.daily_cap,
            zone: rep.zone,
            active: rep.active,
            has_out_of_office: !rep.out_of_office.is_empty(),
            zone_label: zi as u32,
            hours: hi as u32,
        });
    }
    (checks, hours, hours_text, zone_label)
}

impl TraceText {
    pub fn build(cfg: &CompiledConfig) -> TraceText {
        let texts = |it: &mut dyn Iterator<Item = String>| it.map(Text::shared).collect();
        let copies = |it: &mut dyn Iterator<Item = &str>| it.map(Text::copy).collect();
        let sla_row = |seg: Option<&str>| Tier::ALL.map(|t| cfg.sla_for(t, seg));
        let labelled = |points: &HashMap<String, i32>, kind: &str| {
            points
                .iter()
                .map(|(k, p)| (k.clone(), (*p, Text::copy(&format!("{kind} {k}")))))
                .collect()
        };
        let words = |groups: &[(Vec<String>, i32)], label: &dyn Fn(&str) -> String| {
            groups
                .iter()
                .map(|(ws, _)| ws.iter().map(|w| Text::copy(&label(w))).collect())
                .collect()
        };
        let byte_sets = |groups: &[(Vec<String>, i32)]| -> Vec<Vec<[u64; 4]>> {
            groups
                .iter()
                .map(|(ws, _)| ws.iter().map(|w| crate::normalize::byte_set(w)).collect())
                .collect()
        };
        let rep_id: Vec<Text> = copies(&mut cfg.reps.iter().map(|r| r.id.as_str()));
        let team_id: Vec<Text> = copies(&mut cfg.teams.iter().map(|t| t.id.as_str()));
        let team_members_by_id: Vec<Vec<usize>> = cfg
            .teams
            .iter()
            .map(|t| {
                let mut pos: Vec<usize> = (0..t.members.len()).collect();
                pos.sort_by_key(|&p| cfg.rep(t.members[p]).id.as_str());
                pos
            })
            .collect();
        let teams = crate::state::TeamTable::new(
            &team_id,
            cfg.teams
                .iter()
                .map(|t| {
                    t.members
                        .iter()
                        .map(|&r| rep_id[r as usize].clone())
                        .collect()
                })
                .collect(),
            team_members_by_id.iter().map(|p| p[..].into()).collect(),
        );
        let (rep_check, hours, hours_text, zone_label) = rep_checks(cfg, &rep_id);
        let walk = crate::trace::WalkTable {
            reps: rep_check
                .iter()
                .map(|rc| crate::trace::WalkRep {
                    id: rc.id.clone(),
                    zone: zone_label[rc.zone_label as usize].clone(),
                    hours: hours_text[rc.hours as usize].clone(),
                    capacity: rc.capacity.unwrap_or(0.0),
                    daily_cap: rc.daily_cap.unwrap_or(0),
                })
                .collect(),
        };
        TraceText {
            walk: std::sync::Arc::new(walk),
            teams: std::sync::Arc::new(teams),
            version: Text::copy(&cfg.version),
            reps: std::sync::Arc::new(crate::state::RepTable::new(&rep_id)),
            rep_id,
            rep_name: texts(&mut cfg.reps.iter().map(|r| r.name.clone())),
            rep_zone: copies(&mut cfg.reps.iter().map(|r| r.tz_name.as_str())),
            rep_hours: copies(&mut cfg.reps.iter().map(|r| {
                r.working_hours
                    .as_ref()
                    .map(|h| h.text.as_str())
                    .unwrap_or_default()
            })),
            rep_check,
            hours,
            hours_text,
            zone_label,
            rep_as_backup: texts(&mut cfg.reps.iter().map(|r| format!("backup {}", r.id))),
            rep_as_team_lead: texts(&mut cfg.reps.iter().map(|r| format!("team lead {}", r.id))),
            rep_label: texts(&mut cfg.reps.iter().map(|r| format!("rep:{}", r.id))),
            team_id,
            team_label: texts(&mut cfg.teams.iter().map(|t| format!("team:{}", t.id))),
            team_members_by_id,
            queue_label: texts(&mut cfg.queues.iter().map(|q| format!("queue:{q}"))),
            queue_name: texts(&mut cfg.queues.iter().cloned()),
            rule_id: texts(&mut cfg.rules.iter().map(|r| r.id.clone())),
            rule_origin: texts(&mut cfg.rules.iter().map(|r| r.origin.to_string())),
            rule_conditions: texts(&mut cfg.rules.iter().map(Rule::describe_conditions)),
            segment: copies(&mut cfg.segments.iter().map(|s| s.name.as_str())),
            sla: cfg
                .segments
                .iter()
                .map(|s| sla_row(Some(&s.name)))
                .chain([sla_row(None)])
                .collect(),
            score_segment: labelled(&cfg.scoring.segment, "segment"),
            score_industry: labelled(&cfg.scoring.industry, "industry"),
            score_action: labelled(&cfg.scoring.action, "action"),
            score_title: words(&cfg.scoring.title, &|w| format!("title has \"{w}\"")),
            score_page: words(&cfg.scoring.page, &|w| format!("visited {w}")),
            score_title_bytes: byte_sets(&cfg.scoring.title),
            score_page_bytes: byte_sets(&cfg.scoring.page),
            tokens: cfg
                .rules
                .iter()
                .flat_map(|r| r.cond(Dim::Product).iter().chain(r.cond(Dim::LeadSource)))
                .chain(cfg.intent.keys())
                .chain(cfg.scoring.action.keys())
                .map(|t| Text::copy(t))
                .collect(),
        }
    }

    /// A lead's value as a [`crate::normalize::token`]: the config's copy when it names
    /// it, else a new one; None when nothing is left.
    pub fn token(&self, s: &str) -> Option<Text> {
        crate::normalize::with_token(s, |t| match self.tokens.get(t) {
            _ if t.is_empty() => None,
            Some(known) => Some(known.clone()),
            None => Some(Text::copy(t)),
        })
    }

    /// `"team:<id>"`, `"rep:<id>"` or `"queue:<name>"` (as [`CompiledConfig::target_label`]).
    pub fn target_label(&self, t: Target) -> Text {
        match t {
            Target::Team(i) => self.team_label[i as usize].clone(),
            Target::Rep(i) => self.rep_label[i as usize].clone(),
            Target::Queue(i) => self.queue_label[i as usize].clone(),
        }
    }

    /// SLA for a tier and the index of the lead's segment (as [`CompiledConfig::sla_for`]).
    pub fn sla_for(&self, tier: Tier, segment: Option<usize>) -> SlaTimes {
        let row = segment.unwrap_or(self.sla.len() - 1);
        self.sla[row][tier as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_hours_agree_with_the_table() {
        for spec in [
            vec!["Mon-Fri 09:00-17:00"],
            vec!["Mon-Fri 09:00-12:00", "Mon-Fri 13:00-18:30"],
            vec!["Sun-Thu 08:00-16:00"],
            vec!["Mon-Fri 22:00-06:00"],
            vec![
                "Mon 01:00-02:00",
                "Mon 03:00-04:00",
                "Mon 05:00-06:00",
                "Tue-Sun 00:00-23:59",
            ],
        ] {
            let list: Vec<String> = spec.iter().map(|s| s.to_string()).collect();
            let hours = compile::parse_working_hours(&list).expect("valid hours");
            let rep = Rep {
                id: "r".into(),
                name: "R".into(),
                email: None,
                phone: None,
                slack: None,
                team: None,
                manager: None,
                backup: None,
                weight: 1.0,
                stride: STRIDE_SCALE,
                capacity: None,
                daily_cap: None,
                tz: TimeZone::UTC,
                tz_name: "UTC".into(),
                zone: 0,
                working_hours: Some(hours.clone()),
                out_of_office: Vec::new(),
                active: true,
                booking_link: None,
                calendar: None,
                signature: None,
                linkedin: None,
                origin: Origin {
                    file: "t".into(),
                    line: 1,
                },
            };
            let check = HoursCheck::of(&rep);
            let packed = matches!(check, HoursCheck::Ranges(_));
            assert_eq!(packed, hours.days.iter().all(|d| d.len() <= 2), "{spec:?}");
            for wd in 0..7 {
                for minute in 0..24 * 60 {
                    assert_eq!(
                        check.contains(&rep, wd, minute),
                        hours.contains(wd, minute),
                        "{spec:?} {wd} {minute}"
                    );
                }
            }
        }
    }
}
