//! [`RouteInput`]: what a routing event records of a decision's inputs, so that a replay
//! can make it again (OPS-5), and its compact encoding.
//!
//! The service writes it once per routed lead and a replay reads it back once per lead,
//! a million times in a row: as JSON, decoding it cost a replay about as much as deciding
//! the lead (field names matched, every string scanned for escapes, both instants parsed
//! from text). [`RouteInput::pack`] writes it with `postcard` instead: each value in
//! field order, strings length-prefixed, instants as integers, behind a format byte.
//! `postcard` writes no field names, so a field written only when set
//! (`skip_serializing_if`, as `Lead`'s and `Enrichment`'s JSON do) cannot be read back:
//! the wire structs below hold every field, always, and are converted from and to the
//! core types by destructuring them whole, so a field added to `Lead` or `Enrichment`
//! fails to compile here until the wire format carries it (with a new format byte).
//! Rows written before (JSON) still read: the store keeps both columns.

use crate::lead::{Enrichment, FieldIssue, Lead};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Everything `engine::decide` was given besides the state and the config: the lead as
/// parsed, its field issues, its enrichment (so a replay calls no provider) and the
/// exact instant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteInput {
    pub lead: Lead,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<FieldIssue>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enrichment: Option<Enrichment>,
    pub now: Timestamp,
    pub received_at: Timestamp,
}

/// The first byte of [`RouteInput::pack`]'s output: the layout of the wire structs.
const FORMAT: u8 = 1;

/// Why packed bytes could not be read back.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("empty")]
    Empty,
    #[error("format {0} is not known (this build reads format {FORMAT})")]
    Format(u8),
    #[error("{0}")]
    Postcard(#[from] postcard::Error),
    #[error("{0}")]
    Instant(#[from] jiff::Error),
    #[error("{0} bytes left over")]
    Trailing(usize),
}

impl RouteInput {
    /// The compact encoding (see the module's documentation).
    pub fn pack(self) -> Vec<u8> {
        let wire = InputWire::from(self);
        let mut out = vec![FORMAT];
        // Writing to a vector fails only when the serializer itself does, which the
        // derived wire structs never make it do.
        out.extend(postcard::to_allocvec(&wire).unwrap_or_default());
        out
    }

    /// Read back [`RouteInput::pack`]'s output.
    pub fn unpack(bytes: &[u8]) -> Result<RouteInput, UnpackError> {
        let (&format, rest) = bytes.split_first().ok_or(UnpackError::Empty)?;
        if format != FORMAT {
            return Err(UnpackError::Format(format));
        }
        let (wire, left): (InputWire, _) = postcard::take_from_bytes(rest)?;
        if !left.is_empty() {
            return Err(UnpackError::Trailing(left.len()));
        }
        wire.into_input()
    }
}

#[derive(Serialize, Deserialize)]
struct InputWire {
    lead: LeadWire,
    issues: Vec<FieldIssue>,
    enrichment: Option<EnrichmentWire>,
    /// Nanoseconds since the epoch.
    now: i128,
    received_at: i128,
}

impl From<RouteInput> for InputWire {
    fn from(i: RouteInput) -> InputWire {
        let RouteInput {
            lead,
            issues,
            enrichment,
            now,
            received_at,
        } = i;
        InputWire {
            lead: lead.into(),
            issues,
            enrichment: enrichment.map(Into::into),
            now: now.as_nanosecond(),
            received_at: received_at.as_nanosecond(),
        }
    }
}

impl InputWire {
    fn into_input(self) -> Result<RouteInput, UnpackError> {
        let InputWire {
            lead,
            issues,
            enrichment,
            now,
            received_at,
        } = self;
        Ok(RouteInput {
            lead: lead.into(),
            issues,
            enrichment: enrichment.map(Into::into),
            now: Timestamp::from_nanosecond(now)?,
            received_at: Timestamp::from_nanosecond(received_at)?,
        })
    }
}

/// Defines a wire struct holding every field of a core struct with the same types, and
/// the conversions both ways by destructuring (a field missing on either side is a
/// compile error).
macro_rules! wire {
    ($wire:ident <-> $core:ident { $($f:ident: $t:ty,)* }) => {
        #[derive(Serialize, Deserialize)]
        struct $wire {
            $($f: $t,)*
        }
        impl From<$core> for $wire {
            fn from(v: $core) -> $wire {
                let $core { $($f,)* } = v;
                $wire { $($f,)* }
            }
        }
        impl From<$wire> for $core {
            fn from(v: $wire) -> $core {
                let $wire { $($f,)* } = v;
                $core { $($f,)* }
            }
        }
    };
}

wire!(LeadWire <-> Lead {
    first_name: Option<String>,
    last_name: Option<String>,
    email: Option<String>,
    company: Option<String>,
    title: Option<String>,
    phone: Option<String>,
    country: Option<String>,
    state: Option<String>,
    zip: Option<String>,
    lead_source: Option<String>,
    action: Option<String>,
    employees: Option<String>,
    industry: Option<String>,
    product: Option<String>,
    description: Option<String>,
    page_history: Vec<String>,
    fields: BTreeMap<String, String>,
});

wire!(EnrichmentWire <-> Enrichment {
    domain: Option<String>,
    company: Option<String>,
    employees: Option<u32>,
    industry: Option<String>,
    country: Option<String>,
    state: Option<String>,
    revenue: Option<f64>,
    tech_stack: Vec<String>,
    funding: Option<String>,
    linkedin: Option<String>,
    junk_reason: Option<String>,
    sources: BTreeMap<String, String>,
    failures: Vec<String>,
});

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn full() -> RouteInput {
        RouteInput {
            lead: Lead {
                first_name: Some("Chloé".into()),
                last_name: Some("Dubois".into()),
                email: Some("chloe@cobalt-health.com".into()),
                company: Some("Cobalt \"Health\"".into()),
                title: Some("CDO".into()),
                phone: Some("+33 1 23".into()),
                country: Some("FR".into()),
                state: Some("IDF".into()),
                zip: Some("75001".into()),
                lead_source: Some("event".into()),
                action: Some("contact_us".into()),
                employees: Some("40-160".into()),
                industry: Some("hospital & health care".into()),
                product: Some("bi".into()),
                description: Some("line one\nline two".into()),
                page_history: vec!["/docs".into(), "/pricing".into()],
                fields: [("utm_campaign".to_string(), "q3".to_string())].into(),
            },
            issues: vec![FieldIssue::new("phone", "too short")],
            enrichment: Some(Enrichment {
                domain: Some("cobalt-health.com".into()),
                company: Some("Cobalt Health".into()),
                employees: Some(120),
                industry: Some("health".into()),
                country: Some("FR".into()),
                state: None,
                revenue: Some(12.5e6),
                tech_stack: vec!["snowflake".into()],
                funding: Some("series b".into()),
                linkedin: None,
                junk_reason: Some("disposable".into()),
                sources: [("domain".to_string(), "signals".to_string())].into(),
                failures: vec!["vendor: timeout".into()],
            }),
            now: "2026-12-07T07:43:54.798684523Z".parse().unwrap(),
            received_at: "2026-12-07T07:43:54.797424246Z".parse().unwrap(),
        }
    }

    #[test]
    fn packed_comes_back_as_written_and_smaller_than_json() {
        for input in [
            full(),
            RouteInput {
                lead: Lead::default(),
                issues: vec![],
                enrichment: None,
                now: Timestamp::MIN,
                received_at: Timestamp::MAX,
            },
        ] {
            let json = serde_json::to_string(&input).unwrap();
            let packed = input.clone().pack();
            assert_eq!(packed[0], FORMAT);
            assert_eq!(RouteInput::unpack(&packed).unwrap(), input);
            assert!(
                packed.len() < json.len(),
                "{} vs {}",
                packed.len(),
                json.len()
            );
        }
    }

    #[test]
    fn bad_bytes_are_an_error_naming_why() {
        let packed = full().pack();
        assert!(matches!(RouteInput::unpack(&[]), Err(UnpackError::Empty)));
        let mut other = packed.clone();
        other[0] = 2;
        assert!(matches!(
            RouteInput::unpack(&other),
            Err(UnpackError::Format(2))
        ));
        assert!(matches!(
            RouteInput::unpack(&packed[..packed.len() - 1]),
            Err(UnpackError::Postcard(_))
        ));
        let mut longer = packed.clone();
        longer.push(0);
        assert!(matches!(
            RouteInput::unpack(&longer),
            Err(UnpackError::Trailing(1))
        ));
        // A JSON row given as packed bytes is refused, not misread.
        assert!(RouteInput::unpack(serde_json::to_string(&full()).unwrap().as_bytes()).is_err());
    }

    proptest! {
        #[test]
        fn any_bytes_unpack_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut b = bytes;
            if let Some(f) = b.first_mut() { *f = FORMAT; }
            let _ = RouteInput::unpack(&b);
        }

        #[test]
        fn any_lead_comes_back(
            names in proptest::collection::vec(proptest::option::of(".{0,12}"), 15),
            pages in proptest::collection::vec(".{0,8}", 0..3),
            employees in proptest::option::of(any::<u32>()),
            nanos in Timestamp::MIN.as_nanosecond()..=Timestamp::MAX.as_nanosecond(),
        ) {
            let n = |i: usize| names[i].clone();
            let input = RouteInput {
                lead: Lead {
                    first_name: n(0), last_name: n(1), email: n(2), company: n(3), title: n(4),
                    phone: n(5), country: n(6), state: n(7), zip: n(8), lead_source: n(9),
                    action: n(10), employees: n(11), industry: n(12), product: n(13),
                    description: n(14), page_history: pages.clone(),
                    fields: pages.iter().map(|p| (p.clone(), p.repeat(2))).collect(),
                },
                issues: vec![],
                enrichment: Some(Enrichment { employees, tech_stack: pages, ..Enrichment::default() }),
                now: Timestamp::from_nanosecond(nanos).unwrap(),
                received_at: Timestamp::from_nanosecond(nanos).unwrap(),
            };
            prop_assert_eq!(RouteInput::unpack(&input.clone().pack()).unwrap(), input);
        }
    }
}
