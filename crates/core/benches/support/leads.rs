//! The 10,000 generated leads (read through `Lead::from_json`, as the service reads them)
//! and the fixed state snapshot they are decided against.

use super::config::{Generated, cap, company, us_zip_prefix};
use super::vocab::*;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use leadrouter_core::engine::RoutingInput;
use leadrouter_core::lead::{Enrichment, FieldIssue, Lead};
use leadrouter_core::state::{
    AvailabilityOverride, DailyCount, PriorPerson, PriorStatus, RepLoad, Rotation, StateSnapshot,
};
use serde_json::{Value, json};
use std::collections::BTreeMap;

pub struct Case<'g> {
    pub lead: Lead,
    pub enrichment: Option<Enrichment>,
    pub issues: Vec<FieldIssue>,
    pub now: Timestamp,
    /// Reps excluded from this decision (an SLA reassignment away from the owner).
    pub exclude: Vec<&'g str>,
}

pub fn input<'a>(cases: &'a [Case<'a>], state: &'a StateSnapshot, i: usize) -> RoutingInput<'a> {
    let c = &cases[i % cases.len()];
    RoutingInput {
        lead: &c.lead,
        enrichment: c.enrichment.as_ref(),
        state,
        now: c.now,
        issues: &c.issues,
        exclude: &c.exclude,
        reassign_from: None,
        crm_accounts: None,
    }
}

pub fn employees_text(rng: &mut Rng) -> Value {
    // Log-uniform 1..100,000, written the ways people write it.
    let n = (10f64.powf(rng.range(0, 5000) as f64 / 1000.0)) as u64;
    match rng.below(10) {
        0..=4 => json!(n),
        5 => json!(n.to_string()),
        6 => json!(format!("{},{:03}", n / 1000, n % 1000).trim_start_matches("0,")),
        7 => json!(format!("{n}+")),
        8 => json!(format!("{}-{}", n, n * 2)),
        _ => json!(format!("{:.1}k", n as f64 / 1000.0)),
    }
}

pub fn firmographics(obj: &mut serde_json::Map<String, Value>, rng: &mut Rng) -> &'static str {
    let region_roll = rng.below(100);
    let region = match region_roll {
        0..=49 => "AMER",
        50..=79 => "EMEA",
        _ => "APAC",
    };
    let in_region: Vec<_> = COUNTRIES.iter().filter(|c| c.1 == region).collect();
    // The US dominates AMER.
    let c = if region == "AMER" && rng.chance(0.6) {
        COUNTRIES[0]
    } else {
        **rng.pick(&in_region)
    };
    let country_text = if rng.chance(0.6) {
        c.0.to_string()
    } else {
        rng.pick(c.2).to_string()
    };
    obj.insert("country".into(), json!(country_text));
    let states: Vec<_> = STATES.iter().filter(|s| s.0 == c.0).collect();
    if !states.is_empty() && rng.chance(0.75) {
        let st = rng.pick(&states);
        let v = if rng.chance(0.5) { st.1 } else { st.2 };
        obj.insert("state".into(), json!(v));
    }
    let zip = match c.0 {
        "US" => Some(format!("{}{:02}", us_zip_prefix(rng), rng.range(0, 99))),
        "GB" => Some(format!(
            "{} {}{}",
            rng.pick(&GB_OUTWARD),
            rng.range(1, 9),
            ["AA", "BB", "XT", "HQ"][rng.below(4)]
        )),
        "DE" => Some(format!("{:05}", rng.range(10000, 99999))),
        "AU" => Some(format!("{}", rng.range(2000, 7999))),
        _ => None,
    };
    if let Some(z) = zip
        && rng.chance(0.8)
    {
        obj.insert("zip".into(), json!(z));
    }
    if rng.chance(0.9) {
        obj.insert("employees".into(), employees_text(rng));
    }
    if rng.chance(0.85) {
        let (_, aliases) = rng.pick(INDUSTRIES);
        obj.insert("industry".into(), json!(rng.pick(aliases)));
    }
    if rng.chance(0.7) {
        obj.insert(
            "product".into(),
            json!(rng.pick(&PRODUCTS).replace('_', " ")),
        );
    }
    if rng.chance(0.9) {
        let src = if rng.chance(0.04) {
            "partner"
        } else {
            rng.pick(&LEAD_SOURCES)
        };
        obj.insert("lead_source".into(), json!(src));
    }
    if rng.chance(0.92) {
        obj.insert("action".into(), json!(rng.pick(&ACTIONS)));
    }
    if rng.chance(0.75) {
        obj.insert("title".into(), json!(rng.pick(&TITLES)));
    }
    let pages = rng.below(5);
    if pages > 0 {
        obj.insert("page_history".into(), json!(rng.some(&PAGES, pages)));
    }
    c.0
}

pub fn make_enrichment(rng: &mut Rng, domain: Option<&str>, country: &str) -> Enrichment {
    let mut e = Enrichment {
        domain: domain.map(str::to_string),
        employees: Some((10f64.powf(rng.range(1000, 5000) as f64 / 1000.0)) as u32),
        industry: Some(rng.pick(INDUSTRIES).0.replace('_', " ")),
        country: Some(country.to_string()),
        ..Default::default()
    };
    for f in ["employees", "industry", "country"] {
        e.sources.insert(
            f.to_string(),
            rng.pick(&["clearbit", "zoominfo", "apollo"]).to_string(),
        );
    }
    e
}

pub fn generate_leads<'g>(rng: &mut Rng, g: &'g Generated, people: &[String]) -> Vec<Case<'g>> {
    let nows: Vec<Timestamp> = NOWS.iter().map(|s| s.parse().unwrap()).collect();
    let mut out = Vec::with_capacity(10_000);
    for i in 0..10_000usize {
        let mut obj = serde_json::Map::new();
        let (f, l) = (*rng.pick(&FIRST), *rng.pick(&LAST));
        obj.insert("first_name".into(), json!(cap(f)));
        obj.insert("last_name".into(), json!(cap(l)));
        obj.insert(
            "phone".into(),
            json!(format!("+1 (415) 555-{:04}", i % 10_000)),
        );
        let country = firmographics(&mut obj, rng);
        let local = format!("{f}.{l}");
        let roll = rng.below(100);
        let mut corp_domain: Option<String> = None;
        match roll {
            // Existing account by email domain (sometimes a subdomain, odd case).
            0..=29 => {
                let (d, n) = &g.accounts[rng.below(g.accounts.len())];
                let d = match rng.below(10) {
                    0 => format!("eu.{d}"),
                    1 => d.to_uppercase(),
                    _ => d.clone(),
                };
                obj.insert("email".into(), json!(format!("{local}@{d}")));
                if rng.chance(0.6) {
                    obj.insert("company".into(), json!(n));
                }
                corp_domain = Some(d);
            }
            // Personal email, company name of a known account.
            30..=34 => {
                let (_, n) = &g.accounts[rng.below(g.accounts.len())];
                obj.insert(
                    "email".into(),
                    json!(format!("{local}{}@{}", i % 97, rng.pick(&PERSONAL))),
                );
                let n = if rng.chance(0.3) {
                    format!("{n}, Inc.")
                } else {
                    n.clone()
                };
                obj.insert("company".into(), json!(n));
            }
            // Personal email, unknown company.
            35..=41 => {
                obj.insert(
                    "email".into(),
                    json!(format!("{local}{}@{}", i % 89, rng.pick(&PERSONAL))),
                );
                if rng.chance(0.5) {
                    obj.insert("company".into(), json!(company(200_000 + i).1));
                }
            }
            // Known person (returning or owned).
            42..=46 => {
                obj.insert("email".into(), json!(rng.pick(people)));
            }
            // Junk: disposable, honeypot, test values.
            47..=51 => match rng.below(3) {
                0 => {
                    obj.insert(
                        "email".into(),
                        json!(format!("{local}@{}", rng.pick(&DISPOSABLE))),
                    );
                }
                1 => {
                    let (d, _) = company(300_000 + i);
                    obj.insert("email".into(), json!(format!("{local}@{d}")));
                    obj.insert("website_url".into(), json!("http://cheap-seo.example"));
                }
                _ => {
                    obj.insert("first_name".into(), json!("test"));
                    obj.insert("last_name".into(), json!("test"));
                    obj.insert("company".into(), json!("asdf"));
                    obj.insert("email".into(), json!(format!("qa{i}@{}", company(i).0)));
                }
            },
            // Malformed fields.
            52..=56 => {
                let (d, n) = company(400_000 + i);
                match rng.below(5) {
                    0 => obj.insert("email".into(), json!(format!("{local}(at){d}"))),
                    1 => obj.insert("email".into(), json!(format!("{local}@@{d}"))),
                    2 => obj.insert("email".into(), json!(format!("{local}@{d}"))),
                    3 => obj.insert("email".into(), json!(format!("{local}@localhost"))),
                    _ => obj.insert("email".into(), json!(["not", "text"])),
                };
                match rng.below(4) {
                    0 => obj.insert("employees".into(), json!("lots")),
                    1 => obj.insert("country".into(), json!("Atlantis")),
                    2 => obj.insert("company".into(), json!({ "name": n })),
                    _ => obj.insert("zip".into(), json!("n/a")),
                };
            }
            // Neither size nor industry.
            57..=60 => {
                let (d, n) = company(500_000 + i);
                obj.insert("email".into(), json!(format!("{local}@{d}")));
                obj.insert("company".into(), json!(n));
                obj.remove("employees");
                obj.remove("industry");
            }
            // Unknown corporate domain: the matrix decides.
            _ => {
                let (d, n) = company(600_000 + i);
                obj.insert("email".into(), json!(format!("{local}@{d}")));
                obj.insert("company".into(), json!(n));
                corp_domain = Some(d);
            }
        }
        let (lead, issues) = Lead::from_json(&Value::Object(obj)).expect("lead object");
        let enrichment = (roll >= 61 && rng.chance(0.35))
            .then(|| make_enrichment(rng, corp_domain.as_deref(), country));
        let exclude = if rng.chance(0.01) {
            vec![rng.pick(&g.reps).id.as_str()]
        } else {
            Vec::new()
        };
        out.push(Case {
            lead,
            enrichment,
            issues,
            now: nows[i % nows.len()],
            exclude,
        });
    }
    out
}

pub fn generate_state(rng: &mut Rng, g: &Generated) -> (StateSnapshot, Vec<String>) {
    let at: Timestamp = STATE_AT.parse().unwrap();
    let mut st = StateSnapshot::default();
    // Rotations: every team has a clock and a pass per member.
    for spec in &TEAMS {
        let vt = rng.range(1_000, 5_000) * 1_000_000_000;
        let mut rot = Rotation {
            virtual_time: vt,
            passes: BTreeMap::new(),
        };
        for r in g.reps.iter().filter(|r| TEAMS[r.team].id == spec.id) {
            if rng.chance(0.9) {
                let stride = (1e12 / (r.weight * 1000.0)) as u64;
                rot.passes
                    .insert(r.id.clone(), vt + rng.range(0, 3) * stride);
            }
        }
        st.rotations.insert(spec.id.to_string(), rot);
    }
    for r in &g.reps {
        st.loads.insert(
            r.id.clone(),
            RepLoad {
                early: rng.range(0, 15) as u32,
                mid: rng.range(0, 12) as u32,
                late: rng.range(0, 10) as u32,
            },
        );
        let date = at.to_zoned(TimeZone::get(r.tz).unwrap()).date();
        let cap = r.daily_cap.unwrap_or(20) as u64;
        st.daily.insert(
            r.id.clone(),
            DailyCount {
                date,
                count: rng.range(0, cap + 2) as u32,
            },
        );
        if rng.chance(0.02) {
            st.availability.insert(
                r.id.clone(),
                AvailabilityOverride {
                    out_until: Some("2026-11-25T00:00:00Z".parse().unwrap()),
                    out: true,
                    note: Some("sick day".into()),
                },
            );
        }
    }
    let mut people = Vec::with_capacity(600);
    for i in 0..600 {
        let (d, _) = company(700_000 + i);
        let email = format!("{}.{}{i}@{d}", rng.pick(&FIRST), rng.pick(&LAST));
        let disq = rng.chance(0.3);
        st.people.insert(
            email.clone(),
            PriorPerson {
                owner: Some(rng.pick(&g.reps).id.clone()),
                status: if disq {
                    PriorStatus::Disqualified
                } else {
                    PriorStatus::Open
                },
                disqualified_at: disq.then(|| {
                    at.checked_sub(jiff::SignedDuration::from_hours(
                        24 * rng.range(5, 200) as i64,
                    ))
                    .unwrap()
                }),
                note: disq.then(|| "no budget this year".to_string()),
            },
        );
        people.push(email);
    }
    (st, people)
}
