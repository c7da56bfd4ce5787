//! Deterministic randomness and the vocabulary of the generated workload: segments,
//! regions, countries, states, industries, names, and the 25 teams with their time zones
//! and methods. Everything the generators draw from is here, so a change to the workload
//! (and so to the output digest) shows up in one file.

// ---------------------------------------------------------------------------------------
// Deterministic randomness (splitmix64).

pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next_u64() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    pub fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len())]
    }

    pub fn pick_str(&mut self, xs: &[&'static str]) -> &'static str {
        xs[self.below(xs.len())]
    }

    /// `k` distinct items (or all of them when there are fewer).
    pub fn some<T: Clone>(&mut self, xs: &[T], k: usize) -> Vec<T> {
        let mut idx: Vec<usize> = (0..xs.len()).collect();
        let k = k.min(xs.len());
        for i in 0..k {
            let j = i + self.below(xs.len() - i);
            idx.swap(i, j);
        }
        idx[..k].iter().map(|&i| xs[i].clone()).collect()
    }
}

// ---------------------------------------------------------------------------------------
// Vocabulary.

pub const SEGMENTS: [&str; 4] = ["enterprise", "mid_market", "smb", "self_serve"];
pub const REGIONS: [&str; 3] = ["AMER", "EMEA", "APAC"];

/// (canonical industry, spellings forms and providers send)
pub const INDUSTRIES: &[(&str, &[&str])] = &[
    (
        "software",
        &["software", "saas", "computer software", "internet"],
    ),
    (
        "financial_services",
        &["finance", "banking", "fintech", "financial services"],
    ),
    ("insurance", &["insurance", "reinsurance", "insurtech"]),
    (
        "healthcare",
        &["health care", "hospital & health care", "medical devices"],
    ),
    ("biotech", &["biotech", "pharmaceuticals", "life sciences"]),
    (
        "manufacturing",
        &[
            "industrial machinery",
            "machinery",
            "electronics manufacturing",
        ],
    ),
    ("automotive", &["automotive", "auto parts", "mobility"]),
    (
        "retail",
        &["e-commerce", "ecommerce", "consumer goods", "retail"],
    ),
    (
        "telecommunications",
        &["telecom", "telecommunications", "wireless"],
    ),
    (
        "energy",
        &["oil & gas", "utilities", "renewables", "energy"],
    ),
    ("education", &["higher education", "e-learning", "edtech"]),
    (
        "public_sector",
        &["government", "government administration", "public sector"],
    ),
    ("media", &["media", "publishing", "entertainment"]),
    (
        "logistics",
        &["logistics", "transportation", "supply chain"],
    ),
];

pub const PRODUCTS: [&str; 6] = [
    "analytics_platform",
    "data_warehouse",
    "bi_dashboards",
    "ml_ops",
    "embedded_analytics",
    "data_api",
];
pub const LEAD_SOURCES: [&str; 10] = [
    "website",
    "webinar",
    "event",
    "trade_show",
    "partner",
    "paid_search",
    "organic",
    "referral",
    "outbound",
    "content_syndication",
];
pub const ACTIONS: [&str; 8] = [
    "demo_request",
    "pricing_inquiry",
    "trial_signup",
    "content_download",
    "webinar_registration",
    "newsletter_signup",
    "contact_us",
    "event_badge_scan",
];
pub const TIERS: [&str; 3] = ["hot", "warm", "standard"];

/// (ISO code, region, spellings a form might send besides the code)
pub const COUNTRIES: &[(&str, &str, &[&str])] = &[
    ("US", "AMER", &["United States", "USA", "U.S.A.", "us"]),
    ("CA", "AMER", &["Canada"]),
    ("BR", "AMER", &["Brazil", "Brasil"]),
    ("MX", "AMER", &["Mexico"]),
    ("AR", "AMER", &["Argentina"]),
    ("CL", "AMER", &["Chile"]),
    ("CO", "AMER", &["Colombia"]),
    ("GB", "EMEA", &["United Kingdom", "UK", "England"]),
    ("IE", "EMEA", &["Ireland"]),
    ("DE", "EMEA", &["Germany", "Deutschland", "DEU"]),
    ("AT", "EMEA", &["Austria"]),
    ("CH", "EMEA", &["Switzerland"]),
    ("FR", "EMEA", &["France"]),
    ("BE", "EMEA", &["Belgium"]),
    ("NL", "EMEA", &["Netherlands", "Holland"]),
    ("ES", "EMEA", &["Spain"]),
    ("IT", "EMEA", &["Italy"]),
    ("SE", "EMEA", &["Sweden"]),
    ("NO", "EMEA", &["Norway"]),
    ("DK", "EMEA", &["Denmark"]),
    ("FI", "EMEA", &["Finland"]),
    ("PL", "EMEA", &["Poland"]),
    ("AE", "EMEA", &["United Arab Emirates", "UAE"]),
    ("SA", "EMEA", &["Saudi Arabia"]),
    ("ZA", "EMEA", &["South Africa"]),
    ("AU", "APAC", &["Australia"]),
    ("NZ", "APAC", &["New Zealand"]),
    ("JP", "APAC", &["Japan"]),
    ("SG", "APAC", &["Singapore"]),
    ("ID", "APAC", &["Indonesia"]),
    ("MY", "APAC", &["Malaysia"]),
    ("PH", "APAC", &["Philippines"]),
    ("IN", "APAC", &["India"]),
    ("HK", "APAC", &["Hong Kong"]),
    ("KR", "APAC", &["South Korea", "Korea"]),
];

/// (country, subdivision code, a name a form might send)
pub const STATES: &[(&str, &str, &str)] = &[
    ("US", "CA", "California"),
    ("US", "NY", "New York"),
    ("US", "TX", "Texas"),
    ("US", "WA", "Washington"),
    ("US", "OR", "Oregon"),
    ("US", "IL", "Illinois"),
    ("US", "MA", "Massachusetts"),
    ("US", "FL", "Florida"),
    ("US", "GA", "Georgia"),
    ("US", "CO", "Colorado"),
    ("US", "NJ", "New Jersey"),
    ("US", "PA", "Pennsylvania"),
    ("US", "OH", "Ohio"),
    ("US", "MI", "Michigan"),
    ("US", "MN", "Minnesota"),
    ("US", "NC", "North Carolina"),
    ("US", "VA", "Virginia"),
    ("US", "AZ", "Arizona"),
    ("US", "UT", "Utah"),
    ("US", "TN", "Tennessee"),
    ("CA", "ON", "Ontario"),
    ("CA", "QC", "Quebec"),
    ("CA", "BC", "British Columbia"),
    ("CA", "AB", "Alberta"),
    ("AU", "NSW", "New South Wales"),
    ("AU", "VIC", "Victoria"),
    ("AU", "QLD", "Queensland"),
    ("AU", "WA", "Western Australia"),
    ("DE", "BY", "Bayern"),
    ("DE", "BE", "Berlin"),
    ("DE", "HH", "Hamburg"),
    ("DE", "NW", "Nordrhein-Westfalen"),
    ("DE", "HE", "Hessen"),
    ("DE", "BW", "Baden-Württemberg"),
];

pub const GB_OUTWARD: [&str; 16] = [
    "EC1A", "EC2M", "EC3V", "WC2N", "SW1A", "SW19", "W1D", "N1", "E14", "SE1", "M1", "M14", "B33",
    "LS1", "G2", "EH1",
];

pub const FIRST: [&str; 40] = [
    "ana", "priya", "marcus", "jordan", "owen", "greg", "david", "sarah", "lucas", "emily",
    "tyler", "kevin", "sophie", "hannah", "jonas", "oliver", "chloe", "kenji", "mei", "aisha",
    "rahul", "lena", "mateo", "camila", "noah", "liam", "olivia", "ethan", "zoe", "hugo", "ines",
    "yuki", "arjun", "fatima", "omar", "elena", "pablo", "ingrid", "lars", "nora",
];
pub const LAST: [&str; 40] = [
    "lopez", "shah", "reed", "blake", "price", "walsh", "kim", "oconnor", "almeida", "chen",
    "brooks", "murphy", "martin", "schmidt", "weber", "hughes", "dubois", "sato", "tanaka", "khan",
    "patel", "fischer", "garcia", "rossi", "nguyen", "smith", "jones", "brown", "taylor", "wilson",
    "moreau", "silva", "costa", "novak", "berg", "larsen", "haddad", "yamamoto", "singh", "okafor",
];
pub const SYLLABLES: [&str; 40] = [
    "bright", "vale", "north", "star", "blue", "river", "iron", "oak", "summit", "ridge", "cedar",
    "pine", "harbor", "view", "quant", "ix", "ardent", "nova", "terra", "lumen", "vector", "apex",
    "crest", "delta", "echo", "fjord", "glen", "helix", "indigo", "jade", "kestrel", "lark",
    "maple", "nimbus", "onyx", "pioneer", "quill", "rowan", "sable", "tundra",
];
pub const COMPANY_WORDS: [&str; 12] = [
    "Systems",
    "Labs",
    "Health",
    "Capital",
    "Logistics",
    "Foods",
    "Software",
    "Energy",
    "Robotics",
    "Media",
    "Partners",
    "Bank",
];
pub const TLDS: [(&str, u32); 9] = [
    ("com", 60),
    ("io", 10),
    ("co.uk", 8),
    ("de", 6),
    ("fr", 4),
    ("com.au", 4),
    ("co.jp", 3),
    ("ca", 3),
    ("com.br", 2),
];
pub const PERSONAL: [&str; 8] = [
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "gmx.de",
    "yahoo.co.uk",
    "qq.com",
];
pub const DISPOSABLE: [&str; 3] = ["mailinator.com", "yopmail.com", "guerrillamail.com"];
pub const TITLES: [&str; 14] = [
    "Chief Data Officer",
    "CFO",
    "VP of Data & Analytics",
    "Vice President, Engineering",
    "Head of BI",
    "Director of Analytics",
    "Senior Data Engineer",
    "Analytics Manager",
    "Product Manager",
    "Software Engineer",
    "Marketing Intern",
    "Student",
    "Founder & CEO",
    "Operations Coordinator",
];
pub const PAGES: [&str; 9] = [
    "/pricing",
    "/demo",
    "/docs/getting-started",
    "/blog/modern-data-stack",
    "/customers/fintech",
    "/product/warehouse",
    "/careers",
    "/webinars/q4-roadmap",
    "/Pricing/Enterprise",
];

/// The bench clock: Tuesday 2026-11-24, several times of day so every region is seen both
/// inside and outside working hours.
pub const NOWS: [&str; 8] = [
    "2026-11-24T01:00:00Z",
    "2026-11-24T04:00:00Z",
    "2026-11-24T08:00:00Z",
    "2026-11-24T11:00:00Z",
    "2026-11-24T14:00:00Z",
    "2026-11-24T17:00:00Z",
    "2026-11-24T20:00:00Z",
    "2026-11-24T23:00:00Z",
];
/// Reference instant for the daily counts in the state snapshot.
pub const STATE_AT: &str = "2026-11-24T14:00:00Z";

pub struct TeamSpec {
    pub id: &'static str,
    pub region: &'static str,
    pub zones: &'static [&'static str],
    pub method: &'static str,
    pub overflow: Option<&'static str>,
    pub respect_hours: bool,
}

pub const fn team(
    id: &'static str,
    region: &'static str,
    zones: &'static [&'static str],
    method: &'static str,
    overflow: Option<&'static str>,
) -> TeamSpec {
    TeamSpec {
        id,
        region,
        zones,
        method,
        overflow,
        respect_hours: true,
    }
}

pub const TEAMS: [TeamSpec; 25] = [
    team(
        "amer-ent-east",
        "AMER",
        &["America/New_York", "America/Toronto"],
        "weighted_round_robin",
        Some("team:amer-mm-east"),
    ),
    team(
        "amer-ent-central",
        "AMER",
        &["America/Chicago"],
        "weighted_round_robin",
        Some("team:amer-mm-east"),
    ),
    team(
        "amer-ent-west",
        "AMER",
        &["America/Los_Angeles", "America/Denver"],
        "weighted_round_robin",
        Some("team:amer-mm-west"),
    ),
    team(
        "amer-mm-east",
        "AMER",
        &["America/New_York"],
        "round_robin",
        Some("team:inbound-general"),
    ),
    team(
        "amer-mm-west",
        "AMER",
        &["America/Los_Angeles", "America/Phoenix"],
        "round_robin",
        Some("team:inbound-general"),
    ),
    team(
        "amer-smb-1",
        "AMER",
        &["America/New_York", "America/Chicago"],
        "least_loaded",
        Some("team:amer-smb-2"),
    ),
    team(
        "amer-smb-2",
        "AMER",
        &["America/Denver", "America/Los_Angeles"],
        "least_loaded",
        Some("team:inbound-general"),
    ),
    team(
        "latam",
        "AMER",
        &["America/Sao_Paulo", "America/Mexico_City", "America/Bogota"],
        "round_robin",
        Some("team:inbound-general"),
    ),
    team(
        "canada",
        "AMER",
        &["America/Toronto", "America/Vancouver"],
        "round_robin",
        Some("team:amer-mm-east"),
    ),
    team(
        "amer-fin-spec",
        "AMER",
        &["America/New_York"],
        "least_loaded",
        Some("team:amer-ent-east"),
    ),
    team(
        "emea-ent-uk",
        "EMEA",
        &["Europe/London", "Europe/Dublin"],
        "weighted_round_robin",
        Some("team:emea-mm"),
    ),
    team(
        "emea-ent-dach",
        "EMEA",
        &["Europe/Berlin", "Europe/Zurich", "Europe/Vienna"],
        "weighted_round_robin",
        Some("team:emea-mm"),
    ),
    team(
        "emea-ent-france",
        "EMEA",
        &["Europe/Paris", "Europe/Brussels"],
        "weighted_round_robin",
        Some("team:emea-mm"),
    ),
    team(
        "emea-ent-nordics",
        "EMEA",
        &[
            "Europe/Stockholm",
            "Europe/Oslo",
            "Europe/Copenhagen",
            "Europe/Helsinki",
        ],
        "round_robin",
        Some("team:emea-mm"),
    ),
    team(
        "emea-mm",
        "EMEA",
        &["Europe/London", "Europe/Amsterdam", "Europe/Madrid"],
        "round_robin",
        Some("team:inbound-general"),
    ),
    team(
        "emea-smb",
        "EMEA",
        &["Europe/Dublin", "Europe/Lisbon", "Europe/Warsaw"],
        "least_loaded",
        Some("team:inbound-general"),
    ),
    team(
        "emea-mea",
        "EMEA",
        &["Asia/Dubai", "Africa/Johannesburg"],
        "round_robin",
        Some("team:emea-mm"),
    ),
    team(
        "emea-health-spec",
        "EMEA",
        &["Europe/London", "Europe/Berlin"],
        "least_loaded",
        Some("team:emea-mm"),
    ),
    team(
        "apac-ent-anz",
        "APAC",
        &[
            "Australia/Sydney",
            "Australia/Melbourne",
            "Pacific/Auckland",
        ],
        "weighted_round_robin",
        Some("team:apac-mm"),
    ),
    team(
        "apac-ent-japan",
        "APAC",
        &["Asia/Tokyo"],
        "round_robin",
        Some("team:apac-mm"),
    ),
    team(
        "apac-ent-sea",
        "APAC",
        &["Asia/Singapore", "Asia/Jakarta", "Asia/Manila"],
        "weighted_round_robin",
        Some("team:apac-mm"),
    ),
    team(
        "apac-mm",
        "APAC",
        &["Asia/Singapore", "Asia/Hong_Kong"],
        "round_robin",
        Some("team:inbound-general"),
    ),
    team(
        "apac-smb",
        "APAC",
        &["Asia/Singapore", "Asia/Kuala_Lumpur"],
        "least_loaded",
        Some("team:inbound-general"),
    ),
    team(
        "apac-india",
        "APAC",
        &["Asia/Kolkata"],
        "round_robin",
        Some("team:apac-mm"),
    ),
    // Follow-the-sun inbound desk: ignores working hours, overflows to the catch-all.
    TeamSpec {
        id: "inbound-general",
        region: "ALL",
        zones: &["America/New_York", "Europe/London", "Asia/Singapore"],
        method: "round_robin",
        overflow: None,
        respect_hours: false,
    },
];

/// Team sizes cycle through this pattern: 25 teams, 500 reps.
pub const TEAM_SIZES: [usize; 5] = [14, 18, 20, 22, 26];

pub fn team_for(region: &str, segment: &str, rng: &mut Rng) -> &'static str {
    match (region, segment) {
        ("AMER", "enterprise") => {
            rng.pick_str(&["amer-ent-east", "amer-ent-central", "amer-ent-west"])
        }
        ("AMER", "mid_market") => rng.pick_str(&["amer-mm-east", "amer-mm-west"]),
        ("AMER", _) => rng.pick_str(&["amer-smb-1", "amer-smb-2"]),
        ("EMEA", "enterprise") => rng.pick_str(&[
            "emea-ent-uk",
            "emea-ent-dach",
            "emea-ent-france",
            "emea-ent-nordics",
        ]),
        ("EMEA", "mid_market") => "emea-mm",
        ("EMEA", _) => "emea-smb",
        ("APAC", "enterprise") => rng.pick_str(&["apac-ent-anz", "apac-ent-japan", "apac-ent-sea"]),
        ("APAC", "mid_market") => "apac-mm",
        ("APAC", _) => "apac-smb",
        _ => "inbound-general",
    }
}

pub fn team_for_country(country: &str, segment: &str, rng: &mut Rng) -> &'static str {
    let region = region_of(country);
    if segment == "enterprise" || segment == "mid_market" {
        match country {
            "CA" => return "canada",
            "BR" | "MX" | "AR" | "CL" | "CO" => return "latam",
            "GB" | "IE" if segment == "enterprise" => return "emea-ent-uk",
            "DE" | "AT" | "CH" if segment == "enterprise" => return "emea-ent-dach",
            "FR" | "BE" if segment == "enterprise" => return "emea-ent-france",
            "SE" | "NO" | "DK" | "FI" if segment == "enterprise" => return "emea-ent-nordics",
            "AE" | "SA" | "ZA" => return "emea-mea",
            "AU" | "NZ" if segment == "enterprise" => return "apac-ent-anz",
            "JP" if segment == "enterprise" => return "apac-ent-japan",
            "SG" | "ID" | "MY" | "PH" if segment == "enterprise" => return "apac-ent-sea",
            "IN" => return "apac-india",
            _ => {}
        }
    }
    team_for(region, segment, rng)
}

pub fn region_of(country: &str) -> &'static str {
    COUNTRIES
        .iter()
        .find(|c| c.0 == country)
        .map(|c| c.1)
        .unwrap_or("AMER")
}
