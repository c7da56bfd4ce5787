//! Geography normalisation: country names and codes to ISO 3166-1 alpha-2, countries to a
//! sales region (AMER/EMEA/APAC by default, overridable in config), and state/province
//! names to their ISO 3166-2 subdivision codes, so territory rules match clean values.
//!
//! The tables come from the `keshvar` crate (ISO 3166 data) and are built once per
//! compiled config; lookups are hash-map hits on a normalised key.

use std::collections::HashMap;

/// Lookup tables built from ISO 3166 data plus the config's region overrides.
#[derive(Debug, Clone)]
pub struct Geo {
    country_by_name: HashMap<String, &'static str>,
    region_by_country: HashMap<&'static str, String>,
    subdivision_by_name: HashMap<(&'static str, String), &'static str>,
}

/// Lower-case, trim, fold punctuation and whitespace to single spaces.
pub fn fold_key(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut space = false;
    for c in s.trim().chars() {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    out
}

impl Geo {
    /// Build the tables. `regions` maps a region name to ISO alpha-2 codes and replaces the
    /// built-in AMER/EMEA/APAC assignment for those countries.
    pub fn new(regions: &HashMap<String, Vec<String>>) -> Self {
        static BASE: std::sync::LazyLock<Geo> = std::sync::LazyLock::new(Geo::build);
        let mut geo = BASE.clone();
        for (region, countries) in regions {
            for c in countries {
                if let Some(a2) = geo.country_by_name.get(&fold_key(c)).copied() {
                    geo.region_by_country.insert(a2, region.clone());
                }
            }
        }
        geo
    }

    /// The ISO 3166 tables, built once per process (constant data).
    fn build() -> Self {
        let mut country_by_name = HashMap::new();
        let mut region_by_country = HashMap::new();
        let mut subdivision_by_name = HashMap::new();
        for country in keshvar::CountryIterator::new() {
            let alpha2: &'static str = leak_code(country.alpha2().to_string());
            let alpha3 = country.alpha3().to_string();
            for name in [
                alpha2.to_string(),
                alpha3,
                country.iso_short_name().to_string(),
                country.iso_long_name().to_string(),
            ]
            .into_iter()
            .chain(country.unofficial_name_list().iter().map(|s| s.to_string()))
            {
                country_by_name.entry(fold_key(&name)).or_insert(alpha2);
            }
            let region = match country.world_region() {
                keshvar::WorldRegion::AMER => "AMER",
                keshvar::WorldRegion::APAC => "APAC",
                keshvar::WorldRegion::EMEA => "EMEA",
            };
            region_by_country.insert(alpha2, region.to_string());
            for (code, sub) in country.subdivisions() {
                let code: &'static str = code.rsplit('-').next().unwrap_or(code);
                subdivision_by_name.insert((alpha2, fold_key(code)), code);
                subdivision_by_name.insert((alpha2, fold_key(sub.name())), code);
                for alias in sub.unofficial_name_list() {
                    subdivision_by_name
                        .entry((alpha2, fold_key(alias)))
                        .or_insert(code);
                }
            }
        }
        // Common spellings the ISO data lacks.
        for (alias, code) in [
            ("uk", "GB"),
            ("england", "GB"),
            ("scotland", "GB"),
            ("wales", "GB"),
            ("great britain", "GB"),
            ("usa", "US"),
            ("u s a", "US"),
            ("u s", "US"),
            ("america", "US"),
            ("united states of america", "US"),
            ("deutschland", "DE"),
            ("holland", "NL"),
            ("south korea", "KR"),
            ("korea", "KR"),
            ("uae", "AE"),
            ("russia", "RU"),
            ("vietnam", "VN"),
            ("czech republic", "CZ"),
            ("czechia", "CZ"),
            ("turkey", "TR"),
            ("türkiye", "TR"),
        ] {
            if let Some(a2) = country_by_name.get(&fold_key(code)).copied() {
                country_by_name.entry(alias.to_string()).or_insert(a2);
            }
        }
        Geo {
            country_by_name,
            region_by_country,
            subdivision_by_name,
        }
    }

    /// ISO alpha-2 code for a country code or name ("de", "DEU", "Germany", "U.S.A.").
    pub fn country(&self, input: &str) -> Option<&'static str> {
        self.country_by_name.get(&fold_key(input)).copied()
    }

    /// Sales region of an ISO alpha-2 code.
    pub fn region(&self, alpha2: &str) -> Option<&str> {
        self.region_by_country.get(alpha2).map(String::as_str)
    }

    /// Known region names (built-in plus configured).
    pub fn regions(&self) -> std::collections::BTreeSet<&str> {
        self.region_by_country
            .values()
            .map(String::as_str)
            .collect()
    }

    /// ISO 3166-2 subdivision code (without country prefix) for a state name or code.
    pub fn subdivision(&self, alpha2: &str, input: &str) -> Option<&'static str> {
        let a2 = self.country_by_name.get(&fold_key(alpha2)).copied()?;
        self.subdivision_by_name
            .get(&(a2, fold_key(input)))
            .copied()
    }
}

/// keshvar hands out owned codes; we keep one `'static` copy of each of the ~250 codes so
/// the lookup tables can borrow them.
fn leak_code(code: String) -> &'static str {
    use std::sync::{Mutex, OnceLock};
    static CODES: OnceLock<Mutex<HashMap<String, &'static str>>> = OnceLock::new();
    let mut map = CODES
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(s) = map.get(&code) {
        return s;
    }
    let leaked: &'static str = Box::leak(code.clone().into_boxed_str());
    map.insert(code, leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo() -> Geo {
        Geo::new(&HashMap::new())
    }

    #[test]
    fn countries_by_code_and_name() {
        let g = geo();
        assert_eq!(g.country("de"), Some("DE"));
        assert_eq!(g.country("DEU"), Some("DE"));
        assert_eq!(g.country("Germany"), Some("DE"));
        assert_eq!(g.country("United States"), Some("US"));
        assert_eq!(g.country("U.S.A."), Some("US"));
        assert_eq!(g.country("United Kingdom"), Some("GB"));
        assert_eq!(g.country("Atlantis"), None);
    }

    #[test]
    fn regions_follow_world_region() {
        let g = geo();
        assert_eq!(g.region("US"), Some("AMER"));
        assert_eq!(g.region("BR"), Some("AMER"));
        assert_eq!(g.region("FR"), Some("EMEA"));
        assert_eq!(g.region("ZA"), Some("EMEA"));
        assert_eq!(g.region("SG"), Some("APAC"));
        assert_eq!(g.region("AU"), Some("APAC"));
    }

    #[test]
    fn region_override() {
        let mut r = HashMap::new();
        r.insert(
            "LATAM".to_string(),
            vec!["BR".to_string(), "MX".to_string()],
        );
        let g = Geo::new(&r);
        assert_eq!(g.region("BR"), Some("LATAM"));
        assert_eq!(g.region("US"), Some("AMER"));
    }

    #[test]
    fn states_by_name_and_code() {
        let g = geo();
        assert_eq!(g.subdivision("US", "California"), Some("CA"));
        assert_eq!(g.subdivision("US", "ca"), Some("CA"));
        assert_eq!(g.subdivision("US", "New York"), Some("NY"));
        assert_eq!(g.subdivision("CA", "Ontario"), Some("ON"));
        assert_eq!(g.subdivision("US", "Narnia"), None);
    }
}
