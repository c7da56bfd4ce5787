//! The lead both binaries speak, and a generator of varied, realistic ones.
//!
//! The generator is deterministic for a given seed and cheap (a few hundred nanoseconds a
//! lead), so the load generator spends its CPU on the network, not on making data. Every
//! email carries the run id and a sequence number in its local part (no `+tag`, which a
//! normaliser may strip): no two leads of a run, or of two runs, are the same person, so
//! the service under test never takes its dedupe path by accident.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A lead as posted to `POST /v1/leads`: the same field names as the service's intake.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employees: Option<Employees>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub page_history: Vec<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// Forms send a head count as a number or as text ("200-500", "1,000+").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Employees {
    Count(u64),
    Text(String),
}

impl std::fmt::Display for Employees {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Employees::Count(n) => write!(f, "{n}"),
            Employees::Text(t) => f.write_str(t),
        }
    }
}

/// A place a lead comes from: country, and for the US and Canada a state and a ZIP.
struct Place {
    country: &'static str,
    state: Option<&'static str>,
    zip: Option<&'static str>,
    phone_prefix: &'static str,
}

const fn place(
    country: &'static str,
    state: Option<&'static str>,
    zip: Option<&'static str>,
    phone_prefix: &'static str,
) -> Place {
    Place {
        country,
        state,
        zip,
        phone_prefix,
    }
}

/// Roughly half AMER, a third EMEA, the rest APAC, like a US-headquartered vendor's inbound.
const PLACES: &[Place] = &[
    place("US", Some("CA"), Some("94105"), "+1415555"),
    place("US", Some("NY"), Some("10001"), "+1212555"),
    place("US", Some("TX"), Some("78701"), "+1512555"),
    place("US", Some("GA"), Some("30308"), "+1404555"),
    place("US", Some("IL"), Some("60607"), "+1312555"),
    place("US", Some("WA"), Some("98101"), "+1206555"),
    place("US", Some("MA"), Some("02110"), "+1617555"),
    place("US", Some("CO"), Some("80202"), "+1303555"),
    place("CA", Some("ON"), Some("M5V 2T6"), "+1416555"),
    place("BR", None, None, "+551130"),
    place("MX", None, None, "+525555"),
    place("GB", None, None, "+44207946"),
    place("DE", None, None, "+49301234"),
    place("FR", None, None, "+33142"),
    place("NL", None, None, "+31205"),
    place("ES", None, None, "+34915"),
    place("SE", None, None, "+46812"),
    place("JP", None, None, "+81355"),
    place("AU", None, None, "+61290"),
    place("SG", None, None, "+6562"),
    place("IN", None, None, "+91806"),
];

/// Account domains from examples/accounts.csv, so some leads match known accounts.
const ACCOUNT_DOMAINS: &[(&str, &str, &str)] = &[
    ("meridian-bancorp.com", "Meridian Bancorp", "US"),
    ("hollis-mutual.com", "Hollis Mutual Insurance", "US"),
    ("quantix-capital.com", "Quantix Capital", "US"),
    ("bluepeak-software.io", "Bluepeak Software", "US"),
    ("sierra-cloudworks.com", "Sierra Cloudworks", "US"),
    ("brightforge.io", "Brightforge", "US"),
    ("lumenpay.com", "LumenPay", "US"),
    ("granite-analytics.com", "Granite Analytics", "US"),
    ("vertice-bank.com.br", "Vertice Bank", "BR"),
    ("rheinwerk-maschinen.de", "Rheinwerk Maschinen", "DE"),
    ("thamesgate-bank.co.uk", "Thamesgate Bank", "GB"),
    ("spree-software.de", "Spree Software", "DE"),
    ("medinova.nl", "Medinova", "NL"),
    ("sakura-robotics.co.jp", "Sakura Robotics", "JP"),
    ("koala-logistics.com.au", "Koala Logistics", "AU"),
    ("merlion-capital.com.sg", "Merlion Capital", "SG"),
    ("bengal-techworks.in", "Bengal Techworks", "IN"),
];

const FIRST_NAMES: &[&str] = &[
    "Rebecca", "Nathan", "Marta", "Alex", "Priya", "Kenji", "Sofia", "Liam", "Chloe", "Mateo",
    "Aisha", "Lukas", "Emma", "Hiroshi", "Olivia", "Noah", "Ines", "Ravi", "Grace", "Tomas",
];
const LAST_NAMES: &[&str] = &[
    "Thornton",
    "Cole",
    "Rossi",
    "Morgan",
    "Sharma",
    "Tanaka",
    "Garcia",
    "Murphy",
    "Dubois",
    "Silva",
    "Khan",
    "Weber",
    "Johansson",
    "Sato",
    "Brown",
    "Kim",
    "Costa",
    "Patel",
    "Nguyen",
    "Novak",
];
const COMPANY_STEMS: &[&str] = &[
    "Summit",
    "Trailhead",
    "Vector",
    "Harbor",
    "Cobalt",
    "Juniper",
    "Northwind",
    "Redstone",
    "Bluefin",
    "Keystone",
    "Silverline",
    "Oakridge",
    "Brightpath",
    "Ironwood",
    "Clearwater",
];
const COMPANY_KINDS: &[(&str, &str)] = &[
    ("Software", "software"),
    ("Analytics", "saas"),
    ("Payments", "fintech"),
    ("Bank", "banking"),
    ("Health", "hospital & health care"),
    ("Biotech", "biotech"),
    ("Machinery", "industrial machinery"),
    ("Retail", "retail"),
    ("Commerce", "e-commerce"),
    ("Logistics", "logistics"),
    ("Learning", "education"),
];
const TITLES: &[&str] = &[
    "VP of Data & Analytics",
    "Director of Analytics",
    "Head of Growth",
    "Chief Data Officer",
    "Engineering Manager",
    "Data Analyst",
    "Senior Software Engineer",
    "Marketing Coordinator",
    "CFO",
    "Founder",
];
/// Weighted toward the high-intent actions a demo form sends most.
const ACTIONS: &[&str] = &[
    "demo_request",
    "demo_request",
    "demo_request",
    "pricing_inquiry",
    "trial_signup",
    "trial_signup",
    "content_download",
    "content_download",
    "webinar_registration",
    "contact_us",
    "newsletter_signup",
];
const SOURCES: &[&str] = &[
    "website",
    "website",
    "website",
    "paid_search",
    "event",
    "partner",
];
const PRODUCTS: &[&str] = &["analytics_platform", "data_pipeline", "embedded_bi"];
/// Head counts across every segment; `None` is a form that did not ask.
const EMPLOYEES: &[Option<u64>] = &[
    Some(4),
    Some(25),
    Some(80),
    Some(180),
    Some(450),
    Some(900),
    Some(2400),
    Some(12000),
    None,
];
const PAGES: &[&str] = &[
    "/pricing",
    "/demo",
    "/customers/fintech",
    "/docs/getting-started",
    "/resources/ebook-modern-bi",
    "/blog/semantic-layer",
    "/product/pipelines",
];
const FREE_MAIL: &[&str] = &["gmail.com", "outlook.com", "yahoo.com"];

/// Makes a stream of distinct, plausible leads.
pub struct LeadGenerator {
    run_id: String,
    worker: usize,
    seq: u64,
    rng: SplitMix64,
}

impl LeadGenerator {
    /// `run_id` goes into every email; `worker` keeps generators of one run apart.
    pub fn new(run_id: &str, worker: usize, seed: u64) -> Self {
        LeadGenerator {
            run_id: run_id.to_owned(),
            worker,
            seq: 0,
            rng: SplitMix64(seed ^ (worker as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)),
        }
    }

    /// The next lead.
    pub fn next_lead(&mut self) -> Lead {
        self.seq += 1;
        let rng = &mut self.rng;
        let first = *rng.pick(FIRST_NAMES);
        let last = *rng.pick(LAST_NAMES);

        // One lead in six is at a known account, one in twenty from a free-mail address.
        let roll = rng.below(120);
        let (domain, company, industry, place) = if roll < 20 {
            let (domain, company, country) = *rng.pick(ACCOUNT_DOMAINS);
            let place = PLACES
                .iter()
                .find(|p| p.country == country)
                .unwrap_or(&PLACES[0]);
            let industry = rng.pick(COMPANY_KINDS).1;
            (domain.to_owned(), company.to_owned(), industry, place)
        } else {
            let stem = *rng.pick(COMPANY_STEMS);
            let (kind, industry) = *rng.pick(COMPANY_KINDS);
            let company = format!("{stem} {kind}");
            let domain = if roll < 26 {
                (*rng.pick(FREE_MAIL)).to_owned()
            } else {
                format!("{}-{}.com", stem.to_lowercase(), kind.to_lowercase())
            };
            (domain, company, industry, rng.pick(PLACES))
        };

        let email = format!(
            "{}.{}.{}-{}-{}@{}",
            first.to_lowercase(),
            last.to_lowercase(),
            self.run_id,
            self.worker,
            self.seq,
            domain
        );
        let pages = rng.below(4) as usize;
        let start = rng.below(PAGES.len() as u64) as usize;
        let page_history = (0..pages)
            .map(|i| PAGES[(start + i) % PAGES.len()].to_owned())
            .collect();
        let mut fields = BTreeMap::new();
        if rng.below(4) == 0 {
            fields.insert("utm_campaign".to_owned(), "q3-launch".to_owned());
        }
        let employees = *rng.pick(EMPLOYEES);
        // A few forms send the head count as a range, as real ones do.
        let employees = employees.map(|n| {
            if rng.below(10) == 0 {
                Employees::Text(format!("{}-{}", n / 2, n * 2))
            } else {
                Employees::Count(n)
            }
        });

        Lead {
            first_name: Some(first.to_owned()),
            last_name: Some(last.to_owned()),
            email: Some(email),
            company: Some(company),
            title: Some((*rng.pick(TITLES)).to_owned()),
            phone: Some(format!("{}{:04}", place.phone_prefix, rng.below(10_000))),
            country: Some(place.country.to_owned()),
            state: place.state.map(str::to_owned),
            zip: place.zip.map(str::to_owned),
            lead_source: Some((*rng.pick(SOURCES)).to_owned()),
            action: Some((*rng.pick(ACTIONS)).to_owned()),
            employees,
            // Some forms do not ask for the industry.
            industry: (rng.below(5) != 0).then(|| industry.to_owned()),
            product: Some((*rng.pick(PRODUCTS)).to_owned()),
            page_history,
            fields,
        }
    }

    /// The next lead as a JSON body.
    pub fn next_body(&mut self) -> Vec<u8> {
        let lead = self.next_lead();
        serde_json::to_vec(&lead).expect("a Lead always serialises")
    }

    /// A stable key for the lead just generated, for `Idempotency-Key`.
    pub fn current_key(&self) -> String {
        format!("{}-{}-{}", self.run_id, self.worker, self.seq)
    }
}

/// A tiny, fast PRNG: quality does not matter here, speed and determinism do.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn emails_are_unique_within_and_across_workers() {
        let mut seen = HashSet::new();
        for worker in 0..4 {
            let mut generator = LeadGenerator::new("run1", worker, 7);
            for _ in 0..1000 {
                let email = generator.next_lead().email.unwrap();
                assert!(seen.insert(email.clone()), "duplicate {email}");
            }
        }
    }

    #[test]
    fn leads_cover_all_regions_and_known_accounts() {
        let mut generator = LeadGenerator::new("run1", 0, 1);
        let leads: Vec<Lead> = (0..2000).map(|_| generator.next_lead()).collect();
        for country in ["US", "GB", "DE", "JP", "AU", "BR"] {
            assert!(
                leads.iter().any(|l| l.country.as_deref() == Some(country)),
                "no lead from {country}"
            );
        }
        assert!(leads.iter().any(|l| {
            l.email
                .as_deref()
                .unwrap()
                .ends_with("@meridian-bancorp.com")
        }));
        assert!(leads.iter().any(|l| l.employees.is_none()));
        assert!(leads.iter().any(|l| l.industry.is_none()));
    }

    #[test]
    fn body_round_trips() {
        let mut generator = LeadGenerator::new("run1", 0, 3);
        for _ in 0..100 {
            let body = generator.next_body();
            let lead: Lead = serde_json::from_slice(&body).unwrap();
            assert!(lead.email.is_some());
        }
    }
}
