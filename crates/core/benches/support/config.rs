//! The generated config: `config.toml` (500 reps in 25 teams), `matrix.csv` (2,000 rows)
//! and `accounts.csv` (100,000 accounts), all from a fixed seed.

use super::vocab::*;
use std::collections::HashSet;
use std::fmt::Write as _;

pub struct RepGen {
    pub id: String,
    pub team: usize,
    pub tz: &'static str,
    pub weight: f64,
    pub capacity: Option<u32>,
    pub daily_cap: Option<u32>,
    pub active: bool,
}

pub struct Generated {
    pub toml: String,
    pub matrix_csv: String,
    pub accounts_csv: String,
    pub reps: Vec<RepGen>,
    /// (domain, company name) of every account, in file order.
    pub accounts: Vec<(String, String)>,
}

pub fn company(i: usize) -> (String, String) {
    // A bijection of 0..768,000 onto (syllable, syllable, syllable, word) so every index
    // names a distinct company; indices past the account list give unknown companies.
    const SPACE: usize = 40 * 40 * 40 * 12;
    let x = (i * 7919 + 12345) % SPACE;
    let (a, b, c, w) = (x % 40, (x / 40) % 40, (x / 1600) % 40, x / 64000);
    let stem = format!("{}{}{}", SYLLABLES[a], SYLLABLES[b], SYLLABLES[c]);
    let mut display = stem.clone();
    display[..1].make_ascii_uppercase();
    let name = format!("{display} {}", COMPANY_WORDS[w]);
    let mut t = (x / 7) % 100;
    let mut tld = "com";
    for (d, share) in TLDS {
        if t < share as usize {
            tld = d;
            break;
        }
        t -= share as usize;
    }
    let domain = format!("{stem}{}.{tld}", COMPANY_WORDS[w].to_ascii_lowercase());
    (domain, name)
}

pub fn working_hours(zone: &str, rng: &mut Rng) -> Option<String> {
    if zone == "Asia/Dubai" {
        return Some("\"Sun-Thu 09:00-18:00\"".into());
    }
    let h = match rng.below(100) {
        0..=9 => return None,
        10..=39 => "\"Mon-Fri 09:00-17:30\"",
        40..=59 => "\"Mon-Fri 08:30-17:00\"",
        60..=69 => "[\"Mon-Thu 08:00-16:00\", \"Fri 08:00-12:00\"]",
        70..=79 => "\"Mon-Fri 07:00-15:30\"",
        80..=89 => "\"Mon-Fri 10:00-19:00\"",
        _ => "[\"Mon-Fri 09:00-12:30\", \"Mon-Fri 13:30-18:00\"]",
    };
    Some(h.to_string())
}

pub fn generate_config(rng: &mut Rng) -> Generated {
    let mut t = String::with_capacity(600_000);
    t.push_str(
        r#"# Generated benchmark config: 500 reps, 25 teams, 2,000 matrix rows, 100,000 accounts.
[organization]
name = "Benchmark Corp"
timezone = "America/New_York"
console_url = "https://leadrouter.example.com"

[routing]
matrix_csv = "matrix.csv"
accounts_csv = "accounts.csv"
default_team = "inbound-general"
recycle_after_days = 90
route_unknown_firmographics = true
honeypot_field = "website_url"
personal_domains = ["example-isp.net"]

[queues]
catch_all = "unassigned"
review = "review"
qualification = "qualification"
nurture = "nurture"
junk = "junk"
extra = ["partners", "public-sector-desk"]

[[segment]]
name = "enterprise"
min_employees = 1000

[[segment]]
name = "mid_market"
min_employees = 200

[[segment]]
name = "smb"
min_employees = 50

[[segment]]
name = "self_serve"
min_employees = 0

[intent]
high = ["demo_request", "pricing_inquiry", "trial_signup"]
medium = ["content_download", "webinar_registration", "event_badge_scan"]

[icp]
segments = ["enterprise", "mid_market", "smb"]
industries = ["software", "financial_services", "insurance", "healthcare", "biotech", "manufacturing", "telecommunications"]

[scoring]
nurture_below = 20
icp_fit = 20

[scoring.segment]
enterprise = 30
mid_market = 20
smb = 10
self_serve = 0

[scoring.industry]
software = 10
financial_services = 15
insurance = 10
healthcare = 15
biotech = 15
manufacturing = 10
retail = 5

[scoring.action]
demo_request = 30
pricing_inquiry = 25
trial_signup = 20
content_download = 10
webinar_registration = 10
event_badge_scan = 5

[[scoring.title]]
contains = ["chief", "ceo", "cfo", "cmo", "founder"]
points = 25

[[scoring.title]]
contains = ["vp", "vice president", "head of"]
points = 20

[[scoring.title]]
contains = ["director"]
points = 15

[[scoring.title]]
contains = ["manager"]
points = 8

[[scoring.title]]
contains = ["student", "marketing intern"]
points = -30

[[scoring.page]]
contains = ["/pricing"]
points = 15

[[scoring.page]]
contains = ["/demo"]
points = 15

[[scoring.page]]
contains = ["/docs"]
points = 5

[sla.hot]
route_within = "5m"
contact_within = "5m"

[sla.warm]
route_within = "15m"
contact_within = "1h"

[sla.standard]
route_within = "1h"
contact_within = "24h"

[[sla.override]]
tier = "hot"
segment = "enterprise"
contact_within = "3m"

[capacity]
early = 0.5
mid = 1.0
late = 1.5

"#,
    );
    t.push_str("[industries]\n");
    for (canon, aliases) in INDUSTRIES {
        let list: Vec<String> = aliases.iter().map(|a| format!("\"{a}\"")).collect();
        let _ = writeln!(t, "{canon} = [{}]", list.join(", "));
    }
    t.push('\n');

    // Managers: one per team plus leadership.
    for spec in &TEAMS {
        let _ = writeln!(
            t,
            "[[manager]]\nid = \"mgr-{id}\"\nname = \"Manager {id}\"\nemail = \"mgr-{id}@bench.example\"\nslack = \"UMGR{n:06}\"\n",
            id = spec.id,
            n = t.len() % 1_000_000
        );
    }
    t.push_str("[[manager]]\nid = \"cro\"\nname = \"Robin Hale\"\nemail = \"cro@bench.example\"\n\n[leadership]\nnotify = [\"cro\"]\n\n");

    // Reps.
    let mut reps: Vec<RepGen> = Vec::with_capacity(500);
    let mut used = HashSet::new();
    let mut team_members: Vec<Vec<usize>> = vec![Vec::new(); TEAMS.len()];
    for (ti, spec) in TEAMS.iter().enumerate() {
        for _ in 0..TEAM_SIZES[ti % TEAM_SIZES.len()] {
            let (f, l) = (*rng.pick(&FIRST), *rng.pick(&LAST));
            let mut id = format!("{f}.{l}");
            let mut n = 2;
            while !used.insert(id.clone()) {
                id = format!("{f}.{l}{n}");
                n += 1;
            }
            let tz = *rng.pick(spec.zones);
            let weight = *rng.pick(&[0.5, 0.75, 1.0, 1.0, 1.0, 1.0, 1.25, 1.5, 2.0]);
            let capacity = rng.chance(0.9).then(|| rng.range(20, 60) as u32);
            let daily_cap = rng.chance(0.8).then(|| rng.range(10, 30) as u32);
            let active = !rng.chance(0.03);
            team_members[ti].push(reps.len());
            reps.push(RepGen {
                id,
                team: ti,
                tz,
                weight,
                capacity,
                daily_cap,
                active,
            });
        }
    }
    assert_eq!(reps.len(), 500);
    for (i, r) in reps.iter().enumerate() {
        let spec = &TEAMS[r.team];
        let mates = &team_members[r.team];
        let (first, last) = r.id.split_once('.').unwrap_or((&r.id, ""));
        let _ = writeln!(t, "[[rep]]");
        let _ = writeln!(t, "id = \"{}\"", r.id);
        let last = last.trim_end_matches(|c: char| c.is_ascii_digit());
        let _ = writeln!(t, "name = \"{} {}\"", cap(first), cap(last));
        let _ = writeln!(t, "email = \"{}@bench.example\"", r.id);
        let _ = writeln!(t, "phone = \"+1212555{:04}\"", i);
        let _ = writeln!(t, "slack = \"U05REP{:05}\"", i);
        let _ = writeln!(t, "team = \"{}\"", spec.id);
        let _ = writeln!(t, "manager = \"mgr-{}\"", spec.id);
        if rng.chance(0.9) && mates.len() > 1 {
            let mut b = *rng.pick(mates);
            if b == i {
                b = mates[(mates.iter().position(|&m| m == i).unwrap_or(0) + 1) % mates.len()];
            }
            let _ = writeln!(t, "backup = \"{}\"", reps[b].id);
        }
        let _ = writeln!(t, "weight = {}", r.weight);
        if let Some(c) = r.capacity {
            let _ = writeln!(t, "capacity = {c}");
        }
        if let Some(c) = r.daily_cap {
            let _ = writeln!(t, "daily_cap = {c}");
        }
        let _ = writeln!(t, "timezone = \"{}\"", r.tz);
        if let Some(h) = working_hours(r.tz, rng) {
            let _ = writeln!(t, "working_hours = {h}");
        }
        if rng.chance(0.08) {
            let w = match rng.below(4) {
                0 => "{ from = \"2026-11-23\", to = \"2026-11-27\", note = \"Thanksgiving week\" }",
                1 => "{ from = \"2026-10-01\", to = \"2026-10-05\", note = \"conference\" }",
                2 => "{ from = \"2026-12-21\", to = \"2027-01-02\", note = \"holidays\" }",
                _ => {
                    "{ from = \"2026-11-24T12:00:00Z\", to = \"2026-11-24T18:00:00Z\", note = \"offsite\" }"
                }
            };
            let _ = writeln!(t, "out_of_office = [\n  {w},\n]");
        }
        if !r.active {
            let _ = writeln!(t, "active = false");
        }
        let _ = writeln!(t, "booking_link = \"https://meet.bench.example/{}\"", r.id);
        let _ = writeln!(
            t,
            "signature = \"{} {}\\nAccount Executive, {}\\n+1 212 555 {:04}\"",
            cap(first),
            cap(last),
            spec.id,
            i
        );
        let _ = writeln!(
            t,
            "linkedin = \"https://www.linkedin.com/in/{}-bench\"\n",
            r.id.replace('.', "-")
        );
    }

    // Teams.
    for (ti, spec) in TEAMS.iter().enumerate() {
        let members = &team_members[ti];
        let lead = members
            .iter()
            .find(|&&m| reps[m].active)
            .copied()
            .unwrap_or(members[0]);
        let _ = writeln!(t, "[[team]]");
        let _ = writeln!(t, "id = \"{}\"", spec.id);
        let _ = writeln!(t, "name = \"{} team\"", spec.id.to_uppercase());
        let _ = writeln!(t, "lead = \"{}\"", reps[lead].id);
        let _ = writeln!(t, "manager = \"mgr-{}\"", spec.id);
        let _ = writeln!(t, "method = \"{}\"", spec.method);
        if spec.method == "least_loaded" {
            let tb = if ti % 2 == 0 { "rotation" } else { "rep_order" };
            let _ = writeln!(t, "tiebreaker = \"{tb}\"");
        }
        if let Some(o) = spec.overflow {
            let _ = writeln!(t, "overflow = \"{o}\"");
        }
        if !spec.respect_hours {
            let _ = writeln!(t, "respect_working_hours = false");
        }
        if spec.id.ends_with("-spec") {
            // Specialists lend a few enterprise reps of their region.
            let donor = if spec.region == "AMER" { 0 } else { 10 };
            let extra: Vec<String> = team_members[donor][..3]
                .iter()
                .map(|&m| format!("\"{}\"", reps[m].id))
                .collect();
            let _ = writeln!(t, "members = [{}]", extra.join(", "));
        }
        t.push('\n');
    }

    // A few inline accounts besides the CSV.
    for (i, (d, n)) in [
        ("globex.com", "Globex Corporation"),
        ("initech.io", "Initech"),
    ]
    .iter()
    .enumerate()
    {
        let _ = writeln!(
            t,
            "[[account]]\ndomain = \"{d}\"\nname = \"{n}\"\nowner = \"{}\"\nnamed = true\n",
            reps[i * 7].id
        );
    }

    let matrix_csv = generate_matrix(rng, &reps);
    let (accounts_csv, accounts) = generate_accounts(rng, &reps);
    Generated {
        toml: t,
        matrix_csv,
        accounts_csv,
        reps,
        accounts,
    }
}

pub fn cap(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[derive(Default)]
pub struct Row {
    priority: i32,
    conds: [Vec<String>; 9],
    route_to: String,
    note: &'static str,
}

pub const D_SEGMENT: usize = 0;
pub const D_INDUSTRY: usize = 1;
pub const D_REGION: usize = 2;
pub const D_COUNTRY: usize = 3;
pub const D_STATE: usize = 4;
pub const D_POSTAL: usize = 5;
pub const D_PRODUCT: usize = 6;
pub const D_SOURCE: usize = 7;
pub const D_TIER: usize = 8;

pub fn s(v: &str) -> Vec<String> {
    vec![v.to_string()]
}

pub fn us_zip_prefix(rng: &mut Rng) -> String {
    // Three-digit ZIP prefixes from a realistic-ish pool of 300 (100–399, 600–999 sparsely).
    let n = rng.range(0, 299) as u32;
    let p = if n < 200 {
        100 + n
    } else {
        900 + (n - 200) % 100
    };
    format!("{p:03}")
}

pub fn generate_matrix(rng: &mut Rng, reps: &[RepGen]) -> String {
    let mut rows: Vec<Row> = Vec::with_capacity(2000);
    // Partner and event rules.
    rows.push(Row {
        priority: 90,
        conds: std::array::from_fn(|d| if d == D_SOURCE { s("partner") } else { vec![] }),
        route_to: "queue:partners".into(),
        note: "Partner-sourced leads go to the partner desk",
    });
    rows.push(Row {
        priority: 85,
        conds: std::array::from_fn(|d| {
            if d == D_INDUSTRY {
                s("public_sector")
            } else {
                vec![]
            }
        }),
        route_to: "queue:public-sector-desk".into(),
        note: "Public sector goes through the procurement desk",
    });
    for r in REGIONS {
        rows.push(Row {
            priority: 60,
            conds: std::array::from_fn(|d| match d {
                D_SOURCE => vec!["event".into(), "trade_show".into()],
                D_REGION => s(r),
                _ => vec![],
            }),
            route_to: format!("team:{}", team_for(r, "mid_market", rng)),
            note: "Event leads",
        });
    }
    // Segment x region.
    for r in REGIONS {
        for seg in SEGMENTS {
            rows.push(Row {
                priority: 10,
                conds: std::array::from_fn(|d| match d {
                    D_SEGMENT => s(seg),
                    D_REGION => s(r),
                    _ => vec![],
                }),
                route_to: format!("team:{}", team_for(r, seg, rng)),
                note: "Regional segment default",
            });
        }
    }
    // Country x segment.
    for (c, _, _) in COUNTRIES {
        for seg in SEGMENTS {
            rows.push(Row {
                priority: 20,
                conds: std::array::from_fn(|d| match d {
                    D_SEGMENT => s(seg),
                    D_COUNTRY => s(c),
                    _ => vec![],
                }),
                route_to: format!("team:{}", team_for_country(c, seg, rng)),
                note: "Country territory",
            });
        }
    }
    // State x segment (some written as names, some with an industry list).
    for (c, code, name) in STATES {
        for seg in SEGMENTS {
            if *c == "DE" && (seg == "smb" || seg == "self_serve") {
                continue;
            }
            let state = if rng.chance(0.3) { name } else { code };
            let industries = if rng.chance(0.25) {
                rng.some(INDUSTRIES, 3)
                    .into_iter()
                    .map(|i| i.0.to_string())
                    .collect()
            } else {
                vec![]
            };
            rows.push(Row {
                priority: 30,
                conds: std::array::from_fn(|d| match d {
                    D_SEGMENT => s(seg),
                    D_COUNTRY => s(c),
                    D_STATE => s(state),
                    D_INDUSTRY => industries.clone(),
                    _ => vec![],
                }),
                route_to: if rng.chance(0.15) {
                    format!("rep:{}", rng.pick(reps).id)
                } else {
                    format!("team:{}", team_for_country(c, seg, rng))
                },
                note: "State territory",
            });
        }
    }
    // Postal-code territories.
    let postal_rows: [(&str, usize); 4] = [("US", 300), ("GB", 40), ("DE", 30), ("AU", 20)];
    for (c, n) in postal_rows {
        for _ in 0..n {
            let k = rng.range(1, 3) as usize;
            let prefixes: Vec<String> = (0..k)
                .map(|_| match c {
                    "US" => format!("{}*", us_zip_prefix(rng)),
                    "GB" => {
                        let o = rng.pick(&GB_OUTWARD);
                        format!("{}*", &o[..o.len().min(3)])
                    }
                    "DE" => format!("{:02}*", rng.range(10, 99)),
                    _ => format!("{}*", rng.range(2, 7)),
                })
                .collect();
            let k = rng.range(1, 2) as usize;
            let segs = rng.some(&SEGMENTS, k);
            let seg0 = segs[0];
            let segs = segs.into_iter().map(str::to_string).collect::<Vec<_>>();
            rows.push(Row {
                priority: 40,
                conds: std::array::from_fn(|d| match d {
                    D_SEGMENT => segs.clone(),
                    D_COUNTRY => s(c),
                    D_POSTAL => prefixes.clone(),
                    _ => vec![],
                }),
                route_to: if rng.chance(0.3) {
                    format!("rep:{}", rng.pick(reps).id)
                } else {
                    format!("team:{}", team_for_country(c, seg0, rng))
                },
                note: "Postal territory",
            });
        }
    }
    // Industry specialists per region.
    for (ind, _) in INDUSTRIES {
        for r in REGIONS {
            for segs in [
                &["enterprise", "mid_market"][..],
                &["smb", "self_serve"][..],
            ] {
                let to = match (*ind, r) {
                    ("financial_services" | "insurance", "AMER") => "amer-fin-spec",
                    ("healthcare" | "biotech", "EMEA") => "emea-health-spec",
                    _ => team_for(r, segs[0], rng),
                };
                rows.push(Row {
                    priority: 25,
                    conds: std::array::from_fn(|d| match d {
                        D_INDUSTRY => s(ind),
                        D_REGION => s(r),
                        D_SEGMENT => segs.iter().map(|x| x.to_string()).collect(),
                        _ => vec![],
                    }),
                    route_to: format!("team:{to}"),
                    note: "Industry specialists",
                });
            }
        }
    }
    // Product x region x tier.
    for p in PRODUCTS {
        for r in REGIONS {
            for tier in TIERS {
                rows.push(Row {
                    priority: 35,
                    conds: std::array::from_fn(|d| match d {
                        D_PRODUCT => s(p),
                        D_REGION => s(r),
                        D_TIER => s(tier),
                        _ => vec![],
                    }),
                    route_to: format!(
                        "team:{}",
                        team_for(
                            r,
                            if tier == "hot" {
                                "enterprise"
                            } else {
                                "mid_market"
                            },
                            rng
                        )
                    ),
                    note: "Product overlay",
                });
            }
        }
    }
    // Lead source x region.
    for src in LEAD_SOURCES {
        for r in REGIONS {
            rows.push(Row {
                priority: 15,
                conds: std::array::from_fn(|d| match d {
                    D_SOURCE => s(src),
                    D_REGION => s(r),
                    _ => vec![],
                }),
                route_to: format!("team:{}", team_for(r, "smb", rng)),
                note: "Source routing",
            });
        }
    }
    // The rest: mixed conditions over 2-5 dimensions, like a matrix grown over years.
    while rows.len() < 2000 {
        let mut row = Row {
            priority: (rng.range(1, 10) * 5) as i32,
            note: "Legacy rule",
            ..Default::default()
        };
        let k = rng.range(2, 5) as usize;
        let dims = rng.some(&[0usize, 1, 2, 3, 4, 5, 6, 7, 8], k);
        let country = *rng.pick(COUNTRIES);
        for d in &dims {
            let k = rng.range(1, 3) as usize;
            row.conds[*d] = match *d {
                D_SEGMENT => rng
                    .some(&SEGMENTS, k)
                    .into_iter()
                    .map(String::from)
                    .collect(),
                D_INDUSTRY => rng
                    .some(INDUSTRIES, k)
                    .into_iter()
                    .map(|i| i.0.to_string())
                    .collect(),
                D_REGION => s(country.1),
                D_COUNTRY => s(country.0),
                D_STATE => {
                    let st: Vec<_> = STATES.iter().filter(|x| x.0 == country.0).collect();
                    if st.is_empty() {
                        s(rng.pick(STATES).1)
                    } else {
                        s(rng.pick(&st).1)
                    }
                }
                D_POSTAL => (0..k).map(|_| format!("{}*", us_zip_prefix(rng))).collect(),
                D_PRODUCT => rng
                    .some(&PRODUCTS, k)
                    .into_iter()
                    .map(String::from)
                    .collect(),
                D_SOURCE => rng
                    .some(&LEAD_SOURCES, k)
                    .into_iter()
                    .map(String::from)
                    .collect(),
                _ => rng.some(&TIERS, k).into_iter().map(String::from).collect(),
            };
        }
        let seg = row.conds[D_SEGMENT]
            .first()
            .cloned()
            .unwrap_or_else(|| "mid_market".into());
        row.route_to = match rng.below(100) {
            0..=7 => format!("rep:{}", rng.pick(reps).id),
            8..=11 => "queue:review".into(),
            _ => format!("team:{}", team_for_country(country.0, &seg, rng)),
        };
        rows.push(row);
    }

    let mut csv = String::with_capacity(200_000);
    csv.push_str(
        "id,priority,segment,industry,region,country,state,postal_code,product,lead_source,tier,route_to,note\n",
    );
    for (i, r) in rows.iter().enumerate() {
        let _ = write!(csv, "r{:04},{}", i + 1, r.priority);
        for c in &r.conds {
            let _ = write!(csv, ",{}", c.join("|"));
        }
        let _ = writeln!(csv, ",{},\"{}\"", r.route_to, r.note);
    }
    csv
}

pub fn generate_accounts(rng: &mut Rng, reps: &[RepGen]) -> (String, Vec<(String, String)>) {
    let mut csv = String::with_capacity(6_000_000);
    let mut list = Vec::with_capacity(100_000);
    csv.push_str("domain,name,owner,named,aliases\n");
    for i in 0..100_000 {
        let (domain, name) = company(i);
        let owner = if rng.chance(0.92) {
            rng.pick(reps).id.as_str()
        } else {
            ""
        };
        let named = if rng.chance(0.05) { "true" } else { "false" };
        let aliases = match rng.below(10) {
            0..=1 => format!("{name} Inc"),
            2 => format!("{name} Group|{name} Holdings"),
            _ => String::new(),
        };
        let _ = writeln!(csv, "{domain},{name},{owner},{named},{aliases}");
        list.push((domain, name));
    }
    (csv, list)
}
