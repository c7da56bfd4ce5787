//! Small text normalisers shared by the config compiler and the engine, so a value
//! written in the config and the same value on a lead compare equal.

/// `s.trim()`, without the Unicode whitespace scan when both ends are visible ASCII (what
/// nearly every lead value looks like): same result.
#[inline]
pub fn trim(s: &str) -> &str {
    match (s.as_bytes().first(), s.as_bytes().last()) {
        (Some(a), Some(z)) if a.is_ascii_graphic() && z.is_ascii_graphic() => s,
        _ => s.trim(),
    }
}

/// Lower-case snake token: "Financial Services" -> "financial_services",
/// "Demo-Request" -> "demo_request".
pub fn token(s: &str) -> String {
    let s = s.trim();
    let mut out = String::with_capacity(s.len());
    if s.is_ascii() {
        let mut sep = false;
        for &b in s.as_bytes() {
            if b.is_ascii_alphanumeric() {
                if sep && !out.is_empty() {
                    out.push('_');
                }
                sep = false;
                out.push(b.to_ascii_lowercase() as char);
            } else {
                sep = true;
            }
        }
        return out;
    }
    let mut sep = false;
    for c in s.trim().chars() {
        if c.is_alphanumeric() {
            if sep && !out.is_empty() {
                out.push('_');
            }
            sep = false;
            if c.is_ascii() {
                out.push(c.to_ascii_lowercase());
            } else {
                out.extend(c.to_lowercase());
            }
        } else {
            sep = true;
        }
    }
    out
}

/// Whether `s` is its own [`token`]: lower-case ASCII letters and digits in words joined
/// by single `_`s (what the config's tokens and most lead values look like).
fn is_token(s: &str) -> bool {
    let b = s.as_bytes();
    let word = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    match (b.first(), b.last()) {
        (Some(&first), Some(&last)) if word(first) && word(last) => {
            let mut prev = first;
            b[1..].iter().all(|&c| {
                let ok = word(c) || (c == b'_' && prev != b'_');
                prev = c;
                ok
            })
        }
        _ => false,
    }
}

/// Call `f` with [`token`] of `s`: `s` itself when it already is one, else built on the
/// stack when `s` is short ASCII.
pub fn with_token<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    const N: usize = FOLD_MAX;
    if is_token(s) {
        return f(s);
    }
    let s = trim(s);
    if !s.is_ascii() || s.len() > N {
        return f(&token(s));
    }
    let mut buf = [0u8; N];
    let n = fold_ascii(s.as_bytes(), b'_', &mut buf);
    f(std::str::from_utf8(&buf[..n]).unwrap_or_default())
}

/// The longest input [`fold_ascii`] takes.
pub(crate) const FOLD_MAX: usize = 64;

/// Fold the bytes of `s` (at most [`FOLD_MAX`]) into `buf`: ASCII letters and digits lower-cased,
/// each run of other bytes one `sep` between words (none at either end); the length.
/// Each byte writes at most one byte (a separator run becomes one `sep` before the next
/// alphanumeric), so the result is no longer than the input.
pub(crate) fn fold_ascii(s: &[u8], sep: u8, buf: &mut [u8; FOLD_MAX]) -> usize {
    let mut n = 0;
    let mut in_sep = false;
    for &b in s {
        match TOKEN_BYTE[b as usize] {
            0 => in_sep = true,
            c => {
                if in_sep && n > 0 {
                    buf[n] = sep;
                    n += 1;
                }
                in_sep = false;
                buf[n] = c;
                n += 1;
            }
        }
    }
    n
}

/// Per byte: its lower case when it is an ASCII letter or digit, else 0 (a separator in
/// a [`token`]).
const TOKEN_BYTE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        if b.is_ascii_alphanumeric() {
            t[i] = b.to_ascii_lowercase();
        }
        i += 1;
    }
    t
};

/// The set of bytes in `s`, one bit per byte value.
#[inline]
pub fn byte_set(s: &str) -> [u64; 4] {
    let mut set = [0u64; 4];
    for &b in s.as_bytes() {
        set[(b >> 6) as usize] |= 1 << (b & 63);
    }
    set
}

/// Postal code as compared: upper case, no spaces or dashes ("sw1a 1aa" -> "SW1A1AA").
pub fn postal(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars().filter(|c| c.is_alphanumeric()) {
        if c.is_ascii() {
            out.push(c.to_ascii_uppercase());
        } else {
            out.extend(c.to_uppercase());
        }
    }
    out
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
    fn trim_is_str_trim() {
        for v in [
            "",
            " ",
            "a",
            " a",
            "a ",
            "\u{a0}x\u{a0}",
            "ab",
            "\tab\n",
            "é",
            " é ",
            "x\u{3000}",
        ] {
            assert_eq!(trim(v), v.trim(), "{v:?}");
        }
    }

    #[test]
    fn tokens() {
        assert_eq!(token("Financial Services"), "financial_services");
        assert_eq!(token(" Demo-Request "), "demo_request");
        assert_eq!(token("--"), "");
        assert_eq!(token(" Über-Größe  GmbH "), "über_größe_gmbh");
        for s in [
            "",
            "--",
            " Demo-Request ",
            "A b  C",
            "Über-Größe",
            &"x-".repeat(40),
            "demo_request",
            "demo__request",
            "_demo",
            "demo_",
            "a",
            "_",
            "Demo_request",
            "ml ops",
            "web2lead",
            "9",
        ] {
            // A token is recognised whenever it is one (the empty string is left to the
            // general path).
            assert_eq!(is_token(s), !s.is_empty() && token(s) == s, "{s:?}");
            assert_eq!(with_token(s, str::to_string), token(s), "{s:?}");
        }
        assert_eq!(postal("d-80331 münchen"), "D80331MÜNCHEN");
    }

    #[test]
    fn company_keys() {
        assert_eq!(company_key("Globex Corporation, Inc."), "globex");
        assert_eq!(company_key("The Group"), "the");
        assert_eq!(company_key("Group"), "group");
        assert_eq!(postal("sw1a 1aa"), "SW1A1AA");
    }
}
