//! Local signals (ENR-4): cheap facts read from the lead itself, applied after the
//! providers and only to fields still missing, recorded with source "signals".
//!
//! - for a lead whose form names no known country: the country from the phone number
//!   (`phonenumber`), only when it parses in international form and is a valid number
//!   for its country, else from the email's country-code TLD (.de -> DE, .co.uk -> GB),
//!   not for generic TLDs nor for ccTLDs mostly sold as vanity names (.io, .ai, .co,
//!   .me, .tv, …);
//! - the registrable email domain as `domain`, for corporate (not personal, not
//!   disposable) emails;
//! - a company name from that domain (globex-corp.com -> "Globex Corp") when neither the
//!   form nor a provider gave one;
//! - US state from the ZIP code (the `zipcodes` dataset, indexed once per process) when
//!   the lead is in the US and has no state.

use crate::record::Field;
use crate::stats::Counters;
use leadrouter_core::domains::EmailAddress;
use leadrouter_core::geo::Geo;
use leadrouter_core::lead::{Enrichment, Lead};
use std::collections::HashMap;
use std::sync::LazyLock;

pub const SOURCE: &str = "signals";

/// ccTLDs marketed worldwide as generic names: they say nothing about where a company is.
const VANITY_CCTLDS: &[&str] = &[
    "ac", "ag", "ai", "am", "bz", "cc", "cd", "co", "fm", "gd", "gg", "gl", "im", "io", "la", "ly",
    "me", "ms", "mu", "nu", "sc", "sh", "so", "st", "tk", "to", "tv", "vc", "ws", "xyz",
];

/// How the lead's email relates to a company.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailKind {
    Corporate,
    Personal,
    Disposable,
}

/// 5-digit ZIP -> USPS state code, from the `zipcodes` crate's embedded dataset.
static ZIP_STATES: LazyLock<HashMap<u32, &'static str>> = LazyLock::new(|| {
    zipcodes::database()
        .iter()
        .filter_map(|z| Some((z.zip_code.parse::<u32>().ok()?, z.state.as_str())))
        .collect()
});

/// Load the ZIP index and the phone-number metadata now rather than on the first lead:
/// both are decompressed lazily on first use, which would cost that lead its budget.
pub fn warm_up() {
    LazyLock::force(&ZIP_STATES);
    let _ = country_from_phone("+1 212 456 7890");
}

/// US state code for a ZIP ("10017", "10017-1234", "10017 1234").
pub fn state_for_zip(zip: &str) -> Option<&'static str> {
    let digits: String = zip
        .trim()
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .collect();
    if !(digits.len() == 5 || digits.len() == 9) || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = digits[..5].parse().ok()?;
    ZIP_STATES.get(&n).copied()
}

/// ISO country of a phone number written in international form ("+49 30 …", "0049 …").
pub fn country_from_phone(phone: &str) -> Option<String> {
    let p = phone.trim();
    if p.len() > 40 {
        return None;
    }
    let intl;
    let p = if let Some(rest) = p.strip_prefix("00") {
        intl = format!("+{rest}");
        intl.as_str()
    } else {
        p
    };
    if !p.starts_with('+') {
        // Without a country code the number is ambiguous; we do not guess a region.
        return None;
    }
    let n = phonenumber::parse(None, p).ok()?;
    if !phonenumber::is_valid(&n) {
        return None;
    }
    n.country().id().map(|id| id.as_ref().to_string())
}

/// ISO country of a domain's country-code TLD, if it has a meaningful one.
pub fn country_from_tld(geo: &Geo, domain: &str) -> Option<&'static str> {
    let tld = domain.rsplit('.').next()?;
    if tld.len() != 2 || VANITY_CCTLDS.contains(&tld) {
        return None;
    }
    geo.country(tld)
}

/// A display name from a domain: "globex-corp.com" -> "Globex Corp".
pub fn company_from_domain(registrable: &str) -> Option<String> {
    let label = registrable.split('.').next()?;
    if label.is_empty() || label.starts_with("xn--") {
        return None;
    }
    let words: Vec<String> = label
        .split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| match w {
            "llc" | "plc" | "ag" | "sa" | "bv" | "nv" | "ab" | "as" => w.to_uppercase(),
            "gmbh" => "GmbH".into(),
            _ => {
                let mut c = w.chars();
                match c.next() {
                    Some(f) => f.to_uppercase().chain(c).collect(),
                    None => String::new(),
                }
            }
        })
        .collect();
    (!words.is_empty()).then(|| words.join(" "))
}

pub struct Signals {
    geo: Geo,
}

impl Signals {
    pub fn new() -> Self {
        warm_up();
        Signals {
            geo: Geo::new(&HashMap::new()),
        }
    }

    pub fn apply(
        &self,
        lead: &Lead,
        email: Option<(&EmailAddress, EmailKind)>,
        e: &mut Enrichment,
        counters: &Counters,
    ) {
        let fill = |e: &mut Enrichment, f: Field| {
            e.sources.insert(f.name().to_string(), SOURCE.to_string());
            counters.covered(f);
            counters.filled(f);
        };
        // The form's own country decides routing whenever it names a known country
        // (the engine reads the enriched one only otherwise), so the guesses below are
        // made only for leads without one. Parsing the phone is most of what the signals
        // cost: `phonenumber` keeps 100 compiled patterns, fewer than a few dozen
        // countries' numbers use, so a parse often compiles its patterns again.
        let form_country = lead.country.as_deref().and_then(|c| self.geo.country(c));
        if e.country.is_none() && form_country.is_none() {
            let from_phone = lead.phone.as_deref().and_then(country_from_phone);
            let from_tld = || match email {
                Some((addr, EmailKind::Corporate | EmailKind::Personal)) => {
                    country_from_tld(&self.geo, &addr.registrable).map(str::to_string)
                }
                _ => None,
            };
            if let Some(c) = from_phone.or_else(from_tld) {
                e.country = Some(c);
                fill(e, Field::Country);
            }
        }
        if e.state.is_none() && lead.state.is_none() {
            let country =
                form_country.or_else(|| e.country.as_deref().and_then(|c| self.geo.country(c)));
            if country == Some("US")
                && let Some(s) = lead.zip.as_deref().and_then(state_for_zip)
            {
                e.state = Some(s.to_string());
                fill(e, Field::State);
            }
        }
        if let Some((addr, EmailKind::Corporate)) = email {
            if e.domain.is_none() {
                e.domain = Some(addr.registrable.clone());
                fill(e, Field::Domain);
            }
            if e.company.is_none()
                && lead.company.is_none()
                && let Some(c) = company_from_domain(&addr.registrable)
            {
                e.company = Some(c);
                fill(e, Field::Company);
            }
        }
    }
}

impl Default for Signals {
    fn default() -> Self {
        Signals::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_from_several_countries() {
        for (phone, cc) in [
            ("+49 30 901820", "DE"),
            ("+44 20 7946 0018", "GB"),
            ("+33 1 42 68 53 00", "FR"),
            ("+1 212-456-7890", "US"),
            ("+1 416 555 0199", "CA"),
            ("+81 3-3224-9999", "JP"),
            ("+61 2 9374 4000", "AU"),
            ("+91 22 2202 4647", "IN"),
            ("+55 11 3003-3030", "BR"),
            ("0041 44 668 18 00", "CH"),
        ] {
            assert_eq!(country_from_phone(phone).as_deref(), Some(cc), "{phone}");
        }
        for bad in [
            "555-1234",
            "(415) 555-2671",
            "+49 12",
            "+999 123456",
            "not a phone",
            "",
        ] {
            assert_eq!(country_from_phone(bad), None, "{bad}");
        }
    }

    #[test]
    fn cctlds_but_not_generic_or_vanity() {
        let geo = Geo::new(&HashMap::new());
        assert_eq!(country_from_tld(&geo, "siemens.de"), Some("DE"));
        assert_eq!(country_from_tld(&geo, "tesco.co.uk"), Some("GB"));
        assert_eq!(country_from_tld(&geo, "rakuten.co.jp"), Some("JP"));
        assert_eq!(country_from_tld(&geo, "nestle.ch"), Some("CH"));
        assert_eq!(country_from_tld(&geo, "atlassian.com.au"), Some("AU"));
        for generic in [
            "globex.com",
            "wikipedia.org",
            "example.net",
            "stripe.io",
            "open.ai",
            "angel.co",
            "europa.eu",
        ] {
            assert_eq!(country_from_tld(&geo, generic), None, "{generic}");
        }
    }

    #[test]
    fn company_names_from_domains() {
        assert_eq!(
            company_from_domain("globex-corp.com").as_deref(),
            Some("Globex Corp")
        );
        assert_eq!(
            company_from_domain("initech.co.uk").as_deref(),
            Some("Initech")
        );
        assert_eq!(
            company_from_domain("acme-gmbh.de").as_deref(),
            Some("Acme GmbH")
        );
        assert_eq!(company_from_domain("xn--mnchen-3ya.de"), None);
    }

    #[test]
    fn zip_codes_to_states() {
        assert_eq!(state_for_zip("10017"), Some("NY"));
        assert_eq!(state_for_zip("94105-1234"), Some("CA"));
        assert_eq!(state_for_zip("60601"), Some("IL"));
        assert_eq!(state_for_zip("73301"), Some("TX"));
        assert_eq!(state_for_zip("00000"), None);
        assert_eq!(state_for_zip("SW1A 1AA"), None);
        assert_eq!(state_for_zip("1234"), None);
    }
}
