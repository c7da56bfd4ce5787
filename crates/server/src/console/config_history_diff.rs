//! The difference between two config versions, at the level people change them (OPS-5):
//! rules, teams, reps and managers added, removed or changed (by id, naming each field
//! that changed), accounts counted, the other sections of the TOML by key, the CSV files
//! by name — computed from the compiled configs and the parsed TOML, not from text. A line
//! diff of the TOML is the secondary view. Pure.

use leadrouter_core::config::{CompiledConfig, Dim, Layer};
use leadrouter_store::ConfigVersionRow;
use std::collections::{BTreeMap, BTreeSet};

/// A field of an item that differs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldChange {
    pub field: String,
    pub before: String,
    pub after: String,
}

/// An item present in both with different fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changed {
    pub id: String,
    pub fields: Vec<FieldChange>,
}

/// An item only one version has: its id and what it is (its fields that say something).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub id: String,
    pub summary: String,
}

/// Items of one kind (rules, teams, …) by id.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Section {
    pub name: &'static str,
    pub added: Vec<Item>,
    pub removed: Vec<Item>,
    pub changed: Vec<Changed>,
}

impl Section {
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty() && self.changed.is_empty()
    }
}

/// Accounts are many: counted, with the first few of each listed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accounts {
    pub before: usize,
    pub after: usize,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    /// Up to [`EXAMPLES`] of each.
    pub section: Section,
}

pub const EXAMPLES: usize = 20;

/// The whole difference.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigDiff {
    /// Rules, teams, reps, managers (empty when either version does not compile).
    pub sections: Vec<Section>,
    pub accounts: Accounts,
    /// Other TOML settings by dotted key (`routing.default_team`, `sla.hot`, `segment`).
    pub settings: Section,
    /// The files the TOML reads, by name.
    pub files: Section,
}

type Fields = Vec<(String, String)>;

fn opt(s: &Option<String>) -> String {
    s.clone().unwrap_or_else(|| "-".into())
}

fn debug_name<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

fn rules(cfg: &CompiledConfig) -> BTreeMap<String, Fields> {
    cfg.rules
        .iter()
        .map(|r| {
            let mut f: Fields = vec![
                ("priority".into(), r.priority.to_string()),
                (
                    "layer".into(),
                    match r.layer {
                        Layer::Territory => "territory".into(),
                        Layer::Segment => "segment".into(),
                    },
                ),
            ];
            for d in Dim::ALL {
                let c = r.cond(d);
                let v = if c.is_empty() {
                    "any".to_string()
                } else {
                    c.join(" | ")
                };
                f.push((d.name().to_string(), v));
            }
            f.push(("route_to".into(), cfg.target_label(r.target)));
            f.push(("note".into(), opt(&r.note)));
            f.push((
                "overrides_territory".into(),
                r.overrides_territory.to_string(),
            ));
            (r.id.clone(), f)
        })
        .collect()
}

fn rep_id(cfg: &CompiledConfig, r: Option<u32>) -> String {
    r.map_or("-".into(), |r| cfg.rep(r).id.clone())
}

fn manager_id(cfg: &CompiledConfig, m: Option<u32>) -> String {
    m.and_then(|m| cfg.managers.get(m as usize))
        .map_or("-".into(), |m| m.id.clone())
}

fn teams(cfg: &CompiledConfig) -> BTreeMap<String, Fields> {
    cfg.teams
        .iter()
        .map(|t| {
            let mut members: Vec<String> =
                t.members.iter().map(|m| cfg.rep(*m).id.clone()).collect();
            members.sort();
            let f: Fields = vec![
                ("name".into(), t.name.clone()),
                ("lead".into(), rep_id(cfg, t.lead)),
                ("manager".into(), manager_id(cfg, t.manager)),
                ("members".into(), members.join(", ")),
                ("method".into(), debug_name(&t.method)),
                ("tiebreaker".into(), debug_name(&t.tiebreaker)),
                ("overflow".into(), cfg.target_label(t.overflow)),
                (
                    "respect_working_hours".into(),
                    t.respect_working_hours.to_string(),
                ),
            ];
            (t.id.clone(), f)
        })
        .collect()
}

fn reps(cfg: &CompiledConfig) -> BTreeMap<String, Fields> {
    cfg.reps
        .iter()
        .map(|r| {
            let f: Fields = vec![
                ("name".into(), r.name.clone()),
                ("email".into(), opt(&r.email)),
                ("phone".into(), opt(&r.phone)),
                ("slack".into(), opt(&r.slack)),
                (
                    "team".into(),
                    r.team.map_or("-".into(), |t| cfg.team(t).id.clone()),
                ),
                ("manager".into(), manager_id(cfg, r.manager)),
                ("backup".into(), rep_id(cfg, r.backup)),
                ("weight".into(), r.weight.to_string()),
                (
                    "capacity".into(),
                    r.capacity.map_or("-".into(), |c| c.to_string()),
                ),
                (
                    "daily_cap".into(),
                    r.daily_cap.map_or("-".into(), |c| c.to_string()),
                ),
                ("timezone".into(), r.tz_name.clone()),
                ("working_hours".into(), format!("{:?}", r.working_hours)),
                ("out_of_office".into(), format!("{:?}", r.out_of_office)),
                ("active".into(), r.active.to_string()),
                ("booking_link".into(), opt(&r.booking_link)),
            ];
            (r.id.clone(), f)
        })
        .collect()
}

fn managers(cfg: &CompiledConfig) -> BTreeMap<String, Fields> {
    cfg.managers
        .iter()
        .map(|m| {
            let f: Fields = vec![
                ("name".into(), m.name.clone()),
                ("email".into(), opt(&m.email)),
                ("phone".into(), opt(&m.phone)),
                ("slack".into(), opt(&m.slack)),
            ];
            (m.id.clone(), f)
        })
        .collect()
}

fn accounts(cfg: &CompiledConfig) -> BTreeMap<String, Fields> {
    cfg.accounts
        .iter()
        .map(|a| {
            let f: Fields = vec![
                ("name".into(), a.name.clone()),
                (
                    "owner".into(),
                    a.owner.map_or("-".into(), |o| cfg.rep(o).id.clone()),
                ),
                ("named".into(), a.named.to_string()),
            ];
            (a.domain.clone(), f)
        })
        .collect()
}

/// Items by id in `a` and `b`, compared field by field.
fn section(
    name: &'static str,
    a: &BTreeMap<String, Fields>,
    b: &BTreeMap<String, Fields>,
) -> Section {
    let mut s = Section {
        name,
        ..Section::default()
    };
    // An added or removed item is told by its fields that are set.
    let item = |id: &String, f: &Fields| Item {
        id: id.clone(),
        summary: f
            .iter()
            .filter(|(_, v)| !matches!(v.as_str(), "" | "-" | "any" | "false" | "None" | "[]"))
            .map(|(k, v)| {
                if k == "value" {
                    v.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    for (id, fa) in a {
        let Some(fb) = b.get(id) else {
            s.removed.push(item(id, fa));
            continue;
        };
        let before: BTreeMap<&String, &String> = fa.iter().map(|(k, v)| (k, v)).collect();
        let fields: Vec<FieldChange> = fb
            .iter()
            .filter(|(k, v)| before.get(k) != Some(&v))
            .map(|(k, v)| FieldChange {
                field: k.clone(),
                before: before.get(k).map_or("-".into(), |x| x.to_string()),
                after: v.clone(),
            })
            .collect();
        if !fields.is_empty() {
            s.changed.push(Changed {
                id: id.clone(),
                fields,
            });
        }
    }
    s.added = b
        .iter()
        .filter(|(k, _)| !a.contains_key(*k))
        .map(|(k, f)| item(k, f))
        .collect();
    s
}

/// TOML sections compared here by key; the items above are compared by id instead.
const ITEMS: [&str; 5] = ["rule", "team", "rep", "manager", "account"];

fn short(v: &toml::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 160 {
        format!("{}…", s.chars().take(160).collect::<String>())
    } else {
        s
    }
}

/// The other settings, by dotted key: a table's keys one level down, anything else whole.
fn settings(a: &str, b: &str) -> Section {
    let flat = |text: &str| -> BTreeMap<String, Fields> {
        let Ok(t) = text.parse::<toml::Table>() else {
            return BTreeMap::new();
        };
        let mut out = BTreeMap::new();
        for (k, v) in t.iter().filter(|(k, _)| !ITEMS.contains(&k.as_str())) {
            match v.as_table() {
                Some(inner) => {
                    for (k2, v2) in inner {
                        out.insert(format!("{k}.{k2}"), vec![("value".into(), short(v2))]);
                    }
                }
                None => {
                    out.insert(k.clone(), vec![("value".into(), short(v))]);
                }
            }
        }
        out
    };
    section("settings", &flat(a), &flat(b))
}

fn files(a: &ConfigVersionRow, b: &ConfigVersionRow) -> Section {
    let f = |r: &ConfigVersionRow| -> BTreeMap<String, Fields> {
        r.files
            .iter()
            .map(|(k, v)| {
                let digest =
                    hex::encode(&<sha2::Sha256 as sha2::Digest>::digest(v.as_bytes())[..6]);
                (
                    k.clone(),
                    vec![
                        ("lines".into(), v.lines().count().to_string()),
                        ("sha256".into(), digest),
                    ],
                )
            })
            .collect()
    };
    section("files", &f(a), &f(b))
}

/// The difference from `a` to `b`; the compiled forms when both compile (rules, teams,
/// reps, managers and accounts need them).
pub fn diff(
    a: &ConfigVersionRow,
    b: &ConfigVersionRow,
    compiled: Option<(&CompiledConfig, &CompiledConfig)>,
) -> ConfigDiff {
    let mut d = ConfigDiff {
        settings: settings(&a.main_text, &b.main_text),
        files: files(a, b),
        ..ConfigDiff::default()
    };
    if let Some((ca, cb)) = compiled {
        d.sections = vec![
            section("rules", &rules(ca), &rules(cb)),
            section("teams", &teams(ca), &teams(cb)),
            section("reps", &reps(ca), &reps(cb)),
            section("managers", &managers(ca), &managers(cb)),
        ];
        let mut acc = section("accounts", &accounts(ca), &accounts(cb));
        d.accounts = Accounts {
            before: ca.accounts.len(),
            after: cb.accounts.len(),
            added: acc.added.len(),
            removed: acc.removed.len(),
            changed: acc.changed.len(),
            section: Section::default(),
        };
        acc.added.truncate(EXAMPLES);
        acc.removed.truncate(EXAMPLES);
        acc.changed.truncate(EXAMPLES);
        d.accounts.section = acc;
    }
    d
}

/// One line of the text view: `' '` same, `'-'` only in the first, `'+'` only in the
/// second; `'…'` stands for unchanged lines left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextLine {
    pub op: char,
    pub text: String,
}

/// The most lines either side for the text view (it is quadratic).
pub const TEXT_MAX_LINES: usize = 2_000;

/// A line diff (longest common subsequence) with `context` unchanged lines around each
/// change; None when either text is over [`TEXT_MAX_LINES`].
pub fn text_diff(a: &str, b: &str, context: usize) -> Option<Vec<TextLine>> {
    let (a, b): (Vec<&str>, Vec<&str>) = (a.lines().collect(), b.lines().collect());
    if a.len() > TEXT_MAX_LINES || b.len() > TEXT_MAX_LINES {
        return None;
    }
    let (n, m) = (a.len(), b.len());
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let mut lcs = vec![0u16; (n + 1) * (m + 1)];
    let at = |i: usize, j: usize| i * (m + 1) + j;
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[at(i, j)] = if a[i] == b[j] {
                lcs[at(i + 1, j + 1)] + 1
            } else {
                lcs[at(i + 1, j)].max(lcs[at(i, j + 1)])
            };
        }
    }
    let mut all = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            all.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[at(i + 1, j)] >= lcs[at(i, j + 1)]) {
            all.push(('-', a[i]));
            i += 1;
        } else {
            all.push(('+', b[j]));
            j += 1;
        }
    }
    let near: BTreeSet<usize> = all
        .iter()
        .enumerate()
        .filter(|(_, (op, _))| *op != ' ')
        .flat_map(|(k, _)| k.saturating_sub(context)..=k + context)
        .collect();
    let mut out = Vec::new();
    let mut skipped = false;
    for (k, (op, text)) in all.iter().enumerate() {
        if near.contains(&k) {
            out.push(TextLine {
                op: *op,
                text: text.to_string(),
            });
            skipped = false;
        } else if !skipped {
            out.push(TextLine {
                op: '…',
                text: String::new(),
            });
            skipped = true;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = include_str!("../../../leadrouter/tests/fixtures/e2e.toml");

    fn row(text: &str) -> (ConfigVersionRow, CompiledConfig) {
        let cfg = crate::console::whatif_run::compile_upload(
            &crate::console::whatif_run::Upload {
                toml: text.into(),
                ..Default::default()
            },
            None,
        )
        .expect("compiles");
        let row = ConfigVersionRow {
            version: cfg.version.clone(),
            loaded_at: 0,
            loaded_by: "t".into(),
            main_name: "x.toml".into(),
            main_text: text.into(),
            files: BTreeMap::new(),
        };
        (row, cfg)
    }

    #[test]
    fn rules_teams_reps_and_settings_by_id_and_field() {
        let (ra, ca) = row(TOML);
        let changed = TOML
            .replace(
                "id = \"ben.baker\"\nname = \"Ben Baker\"\nemail = \"ben@e2e.example\"\nteam = \"pool\"",
                "id = \"ben.baker\"\nname = \"Ben Baker\"\nemail = \"ben@e2e.example\"\nteam = \"accounts\"",
            )
            .replace("recycle_after_days = 90", "recycle_after_days = 60")
            + "\n[[rule]]\nid = \"us-smb\"\npriority = 5\ncountry = [\"US\"]\nsegment = [\"smb\"]\nroute_to = \"rep:ann.archer\"\n";
        let (rb, cb) = row(&changed);
        let d = diff(&ra, &rb, Some((&ca, &cb)));
        let rules = &d.sections[0];
        assert_eq!(
            rules.added,
            vec![Item {
                id: "us-smb".into(),
                summary:
                    "priority=5, layer=territory, segment=smb, country=US, route_to=rep:ann.archer"
                        .into()
            }]
        );
        assert!(rules.removed.is_empty() && rules.changed.is_empty());
        let teams = &d.sections[1];
        let members: Vec<_> = teams
            .changed
            .iter()
            .map(|c| {
                (
                    c.id.as_str(),
                    c.fields[0].before.as_str(),
                    c.fields[0].after.as_str(),
                )
            })
            .collect();
        assert_eq!(
            members,
            vec![
                ("accounts", "cara.cole", "ben.baker, cara.cole"),
                ("pool", "ann.archer, ben.baker", "ann.archer"),
            ]
        );
        let reps = &d.sections[2];
        assert_eq!(reps.changed.len(), 1);
        assert_eq!(
            reps.changed[0].fields,
            vec![FieldChange {
                field: "team".into(),
                before: "pool".into(),
                after: "accounts".into()
            }]
        );
        assert_eq!(d.settings.changed.len(), 1);
        assert_eq!(d.settings.changed[0].id, "routing.recycle_after_days");
        assert_eq!(d.accounts.before, d.accounts.after);
        // The same version against itself: nothing.
        let same = diff(&ra, &ra, Some((&ca, &ca)));
        assert!(same.sections.iter().all(Section::is_empty) && same.settings.is_empty());
    }

    #[test]
    fn text_view_marks_lines_and_leaves_out_the_rest() {
        let a = "a\nb\nc\nd\ne\nf\ng\n";
        let b = "a\nb\nc\nD\ne\nf\ng\nh\n";
        let t = text_diff(a, b, 1).expect("small");
        let s: Vec<String> = t.iter().map(|l| format!("{}{}", l.op, l.text)).collect();
        assert_eq!(s, vec!["…", " c", "-d", "+D", " e", "…", " g", "+h"]);
        assert!(text_diff(&"x\n".repeat(TEXT_MAX_LINES + 1), "", 3).is_none());
    }
}
