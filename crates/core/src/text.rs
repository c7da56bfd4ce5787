//! [`Text`]: an immutable string that is cheap to clone, for the names, ids and fixed
//! phrases a decision copies into its trace.
//!
//! A decision records many strings that already exist in the compiled config (rep and
//! team ids, rule ids and origins, working-hours text, zone names) or are fixed phrases
//! ("backup", "account owner wins"). As `String`s each copy was a heap allocation; a
//! `Text` is either a `&'static str` or an `Arc<str>` shared with the config
//! ([`Text::shared`]) or a suffix of one ([`Text::tail`]: an email address's domain), so
//! cloning it never allocates. A text made from a `String` for one
//! decision (a formatted reason) keeps that allocation instead and is copied when cloned.
//! `Text` derefs to `str`, compares with `str` and `String`, and serialises exactly like a
//! string (and `Debug` prints like one), so traces, JSON and test expectations are
//! unchanged.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::borrow::Borrow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

#[derive(Clone)]
pub struct Text(Repr);

#[derive(Clone)]
enum Repr {
    Static(&'static str),
    Shared(Arc<str>),
    /// Made for one decision (a formatted reason): kept in the allocation it was built
    /// in; cloning copies it.
    Owned(Box<str>),
    /// `[at..]` of a shared text (an email address's domain): clones share it.
    Tail(Arc<str>, u32),
}

impl Text {
    pub const EMPTY: Text = Text(Repr::Static(""));

    /// A fixed phrase: no allocation, no reference count.
    pub const fn from_static(s: &'static str) -> Text {
        Text(Repr::Static(s))
    }

    /// A copy of `s` in a new shared allocation: clones share it.
    pub fn copy(s: &str) -> Text {
        Text(Repr::Shared(Arc::from(s)))
    }

    /// `s` moved into a shared allocation: clones share it.
    pub fn shared(s: String) -> Text {
        Text(Repr::Shared(Arc::from(s)))
    }

    pub fn as_str(&self) -> &str {
        match &self.0 {
            Repr::Static(s) => s,
            Repr::Shared(s) => s,
            Repr::Owned(s) => s,
            Repr::Tail(s, at) => s.get(*at as usize..).unwrap_or_default(),
        }
    }

    /// The text from byte `at` on (`at` on a character boundary), sharing this text's
    /// allocation when it is shared: no copy for the domain of a shared email address.
    pub fn tail(&self, at: usize) -> Text {
        let Some(rest) = self.as_str().get(at..) else {
            return Text::EMPTY;
        };
        match &self.0 {
            Repr::Static(s) => Text::from_static(&s[at..]),
            Repr::Shared(s) if at <= u32::MAX as usize => Text(Repr::Tail(s.clone(), at as u32)),
            Repr::Tail(s, i) if (*i as usize + at) <= u32::MAX as usize => {
                Text(Repr::Tail(s.clone(), *i + at as u32))
            }
            _ => Text::copy(rest),
        }
    }

    /// Make it the empty string (as `String::clear`).
    pub fn clear(&mut self) {
        *self = Text::EMPTY;
    }
}

impl Default for Text {
    fn default() -> Self {
        Text::EMPTY
    }
}

impl Deref for Text {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Text {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl Borrow<str> for Text {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Text {
    fn from(s: &'static str) -> Self {
        Text::from_static(s)
    }
}

impl From<String> for Text {
    fn from(s: String) -> Self {
        Text(Repr::Owned(s.into_boxed_str()))
    }
}

impl From<&String> for Text {
    fn from(s: &String) -> Self {
        Text::copy(s)
    }
}

impl From<Arc<str>> for Text {
    fn from(s: Arc<str>) -> Self {
        Text(Repr::Shared(s))
    }
}

impl From<Text> for String {
    fn from(t: Text) -> Self {
        t.as_str().to_string()
    }
}

impl PartialEq for Text {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Text {}

impl PartialOrd for Text {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Text {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl Hash for Text {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state)
    }
}

macro_rules! eq_with {
    ($($t:ty),*) => {$(
        impl PartialEq<$t> for Text {
            fn eq(&self, other: &$t) -> bool {
                self.as_str() == AsRef::<str>::as_ref(other)
            }
        }
        impl PartialEq<Text> for $t {
            fn eq(&self, other: &Text) -> bool {
                AsRef::<str>::as_ref(self) == other.as_str()
            }
        }
    )*};
}
eq_with!(str, &str, String);

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl Serialize for Text {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Text::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_string() {
        let a = Text::from("backup");
        let b = Text::from(String::from("backup"));
        assert_eq!(a, b);
        assert_eq!(Text::shared("backup".into()), b);
        assert_eq!(Text::copy("backup"), b.clone());
        assert_eq!(a, "backup");
        assert_eq!("backup", a);
        assert_eq!(a, String::from("backup"));
        assert_eq!(format!("{a}|{a:>8}|{a:?}"), "backup|  backup|\"backup\"");
        assert_eq!(serde_json::to_string(&b).unwrap(), "\"backup\"");
        let back: Text = serde_json::from_str("\"x \\\"y\\\"\"").unwrap();
        assert_eq!(back, "x \"y\"");
        let e = Text::copy("ann@acme.io");
        let d = e.tail(4);
        assert_eq!(d, "acme.io");
        assert!(std::ptr::eq(d.as_str(), &e.as_str()[4..]));
        assert_eq!(d.tail(5), "io");
        assert_eq!(Text::from("x@y.z").tail(2), "y.z");
        assert_eq!(b.tail(3), "kup");
        assert_eq!(a.tail(9), "");
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"acme.io\"");
        let mut c = b.clone();
        c.clear();
        assert!(c.is_empty());
        let mut m = std::collections::HashMap::new();
        m.insert(a.clone(), 1);
        assert_eq!(m.get("backup"), Some(&1));
    }
}
