//! Small text normalisers shared by the config compiler and the engine, so a value
//! written in the config and the same value on a lead compare equal.

/// Lower-case snake token: "Financial Services" -> "financial_services",
/// "Demo-Request" -> "demo_request".
pub fn token(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut sep = false;
    for c in s.trim().chars() {
        if c.is_alphanumeric() {
            if sep && !out.is_empty() {
                out.push('_');
            }
            sep = false;
            out.extend(c.to_lowercase());
        } else {
            sep = true;
        }
    }
    out
}

/// Postal code as compared: upper case, no spaces or dashes ("sw1a 1aa" -> "SW1A1AA").
pub fn postal(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_uppercase)
        .collect()
}

/// Company name key for matching a typed company to an account: lower case, legal
/// suffixes dropped ("Globex Corporation, Inc." -> "globex").
pub fn company_key(s: &str) -> String {
    const SUFFIXES: &[&str] = &[
        "inc",
        "incorporated",
        "corp",
        "corporation",
        "co",
        "company",
        "llc",
        "ltd",
        "limited",
        "plc",
        "gmbh",
        "ag",
        "sa",
        "sas",
        "bv",
        "nv",
        "pty",
        "kk",
        "oy",
        "ab",
        "srl",
        "spa",
        "group",
        "holdings",
    ];
    let folded = crate::geo::fold_key(s);
    let mut words: Vec<&str> = folded.split(' ').filter(|w| !w.is_empty()).collect();
    while words.len() > 1 && SUFFIXES.contains(words.last().unwrap_or(&"")) {
        words.pop();
    }
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        assert_eq!(token("Financial Services"), "financial_services");
        assert_eq!(token(" Demo-Request "), "demo_request");
        assert_eq!(token("--"), "");
    }

    #[test]
    fn company_keys() {
        assert_eq!(company_key("Globex Corporation, Inc."), "globex");
        assert_eq!(company_key("The Group"), "the");
        assert_eq!(company_key("Group"), "group");
        assert_eq!(postal("sw1a 1aa"), "SW1A1AA");
    }
}
