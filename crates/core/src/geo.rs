//! Geography normalisation: country names and codes to ISO 3166-1 alpha-2, countries to a
//! sales region (AMER/EMEA/APAC by default, overridable in config), and state/province
//! names to their ISO 3166-2 subdivision codes, so territory rules match clean values.
//!
//! The tables come from the `keshvar` crate (ISO 3166 data) and are built once per
//! compiled config; lookups are hash-map hits on a normalised key.

use crate::text::Text;
use rustc_hash::FxHashMap;
use std::collections::HashMap;

/// Lookup tables built from ISO 3166 data plus the config's region overrides.
#[derive(Debug, Clone)]
pub struct Geo {
    country_by_name: FxHashMap<String, &'static str>,
    region_by_country: FxHashMap<&'static str, Text>,
    /// Per country, subdivision names and codes (folded) to the code.
    subdivision_by_name: FxHashMap<&'static str, FxHashMap<String, &'static str>>,
}

/// Call `f` with [`fold_key`] of `s`, folded on the stack when `s` is short ASCII.
fn with_folded<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    const N: usize = crate::normalize::FOLD_MAX;
    let t = crate::normalize::trim(s);
    if !t.is_ascii() || t.len() > N {
        return f(&fold_key(s));
    }
    let mut buf = [0u8; N];
    let n = crate::normalize::fold_ascii(t.as_bytes(), b' ', &mut buf);
    f(std::str::from_utf8(&buf[..n]).unwrap_or_default())
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
                    geo.region_by_country.insert(a2, Text::copy(region));
                }
            }
        }
        geo
    }

    /// The ISO 3166 tables, built once per process (constant data).
    fn build() -> Self {
        let mut country_by_name = FxHashMap::default();
        let mut region_by_country = FxHashMap::default();
        let mut subdivision_by_name: FxHashMap<&'static str, FxHashMap<String, &'static str>> =
            FxHashMap::default();
        for country in keshvar::CountryIterator::new() {
            // Leaked once per code: `build` runs once per process (`BASE`), and the tables
            // borrow the ~250 codes for as long as the process lives.
            let alpha2: &'static str = Box::leak(country.alpha2().to_string().into_boxed_str());
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
            region_by_country.insert(alpha2, Text::from_static(region));
            let subs = subdivision_by_name.entry(alpha2).or_default();
            for (code, sub) in country.subdivisions() {
                let code: &'static str = code.rsplit('-').next().unwrap_or(code);
                subs.insert(fold_key(code), code);
                subs.insert(fold_key(sub.name()), code);
                for alias in sub.unofficial_name_list() {
                    subs.entry(fold_key(alias)).or_insert(code);
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
        with_folded(input, |k| self.country_by_name.get(k).copied())
    }

    /// Sales region of an ISO alpha-2 code.
    pub fn region(&self, alpha2: &str) -> Option<&str> {
        self.region_by_country.get(alpha2).map(Text::as_str)
    }

    /// [`Self::region`], shared.
    pub fn region_text(&self, alpha2: &str) -> Option<Text> {
        self.region_by_country.get(alpha2).cloned()
    }

    /// Known region names (built-in plus configured).
    pub fn regions(&self) -> std::collections::BTreeSet<&str> {
        self.region_by_country.values().map(Text::as_str).collect()
    }

    /// ISO 3166-2 subdivision code (without country prefix) for a state name or code.
    pub fn subdivision(&self, alpha2: &str, input: &str) -> Option<&'static str> {
        // The engine passes the code `country` answered: no need to fold it again.
        let subs = match self.subdivision_by_name.get(alpha2) {
            Some(subs) => subs,
            None => self.subdivision_by_name.get(self.country(alpha2)?)?,
        };
        with_folded(input, |k| subs.get(k).copied())
    }

    /// Every country with a subdivision of this name or code, as (country, code), sorted:
    /// for `check`, to say where a state that matches none of a rule's countries lies.
    pub fn subdivision_anywhere(&self, input: &str) -> Vec<(&'static str, &'static str)> {
        let key = fold_key(input);
        let mut out: Vec<(&'static str, &'static str)> = self
            .subdivision_by_name
            .iter()
            .filter_map(|(c, subs)| subs.get(&key).map(|code| (*c, *code)))
            .collect();
        out.sort_unstable();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn geo() -> Geo {
        Geo::new(&HashMap::new())
    }

    #[test]
    fn every_code_is_its_own_country() {
        // `subdivision` looks a code up directly: the same as folding it through `country`.
        let g = geo();
        for &code in g.subdivision_by_name.keys() {
            assert_eq!(g.country(code), Some(code));
        }
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
    fn folding_on_the_stack_matches_fold_key() {
        for s in [
            "",
            " ",
            "U.S.A.",
            " united   states ",
            "DEU",
            "--x--y--",
            "Baden-Württemberg",
            "a1 b2",
            "ÅLAND",
            "x".repeat(70).as_str(),
            "A-b_C d",
        ] {
            assert_eq!(with_folded(s, str::to_string), fold_key(s), "{s:?}");
        }
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
