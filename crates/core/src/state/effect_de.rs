//! [`Effect`]'s `Deserialize`, by hand. The derived one for an internally tagged enum
//! (`{"effect": "add_load", "rep": …}`) buffers every field of every effect into
//! serde's generic `Content` (a heap copy of each key and value) before it knows the
//! variant; a replay reads millions of effects, and that buffering was most of the cost
//! of decoding them. This reads the fields once, in any order, into one set of slots and
//! builds the variant at the end: the same JSON is accepted (unknown fields ignored, as
//! derived), a missing field or unknown variant is an error naming it.

use super::Effect;
use crate::lifecycle::Stage;
use crate::text::Text;
use jiff::Timestamp;
use jiff::civil::Date;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

const VARIANTS: &[&str] = &[
    "advance_rotation",
    "add_early_load",
    "count_daily",
    "set_owner",
    "add_load",
    "remove_load",
    "set_out_of_office",
    "clear_out_of_office",
    "disqualify_person",
    "reopen_person",
];

#[derive(Clone, Copy)]
enum Kind {
    AdvanceRotation,
    AddEarlyLoad,
    CountDaily,
    SetOwner,
    AddLoad,
    RemoveLoad,
    SetOutOfOffice,
    ClearOutOfOffice,
    DisqualifyPerson,
    ReopenPerson,
}

impl<'de> Deserialize<'de> for Kind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Kind;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an effect name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Kind, E> {
                Ok(match s {
                    "advance_rotation" => Kind::AdvanceRotation,
                    "add_early_load" => Kind::AddEarlyLoad,
                    "count_daily" => Kind::CountDaily,
                    "set_owner" => Kind::SetOwner,
                    "add_load" => Kind::AddLoad,
                    "remove_load" => Kind::RemoveLoad,
                    "set_out_of_office" => Kind::SetOutOfOffice,
                    "clear_out_of_office" => Kind::ClearOutOfOffice,
                    "disqualify_person" => Kind::DisqualifyPerson,
                    "reopen_person" => Kind::ReopenPerson,
                    other => return Err(E::unknown_variant(other, VARIANTS)),
                })
            }
        }
        d.deserialize_str(V)
    }
}

/// A field name of any variant.
enum Field {
    Effect,
    Team,
    Rep,
    Pass,
    VirtualTime,
    Date,
    Email,
    Stage,
    Until,
    Note,
    Owner,
    At,
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Field;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Field, E> {
                Ok(match s {
                    "effect" => Field::Effect,
                    "team" => Field::Team,
                    "rep" => Field::Rep,
                    "pass" => Field::Pass,
                    "virtual_time" => Field::VirtualTime,
                    "date" => Field::Date,
                    "email" => Field::Email,
                    "stage" => Field::Stage,
                    "until" => Field::Until,
                    "note" => Field::Note,
                    "owner" => Field::Owner,
                    "at" => Field::At,
                    _ => Field::Other,
                })
            }
        }
        d.deserialize_identifier(V)
    }
}

/// Every variant's fields, filled as they come.
#[derive(Default)]
struct Slots {
    team: Option<Text>,
    rep: Option<Text>,
    pass: Option<u64>,
    virtual_time: Option<u64>,
    date: Option<Date>,
    email: Option<Text>,
    stage: Option<Stage>,
    until: Option<Timestamp>,
    note: Option<String>,
    owner: Option<Text>,
    at: Option<Timestamp>,
}

fn need<T, E: de::Error>(v: Option<T>, field: &'static str) -> Result<T, E> {
    v.ok_or_else(|| E::missing_field(field))
}

impl Slots {
    fn build<E: de::Error>(self, kind: Kind) -> Result<Effect, E> {
        Ok(match kind {
            Kind::AdvanceRotation => Effect::AdvanceRotation {
                team: need(self.team, "team")?,
                rep: need(self.rep, "rep")?,
                pass: need(self.pass, "pass")?,
                virtual_time: need(self.virtual_time, "virtual_time")?,
            },
            Kind::AddEarlyLoad => Effect::AddEarlyLoad {
                rep: need(self.rep, "rep")?,
            },
            Kind::CountDaily => Effect::CountDaily {
                rep: need(self.rep, "rep")?,
                date: need(self.date, "date")?,
            },
            Kind::SetOwner => Effect::SetOwner {
                email: need(self.email, "email")?,
                rep: need(self.rep, "rep")?,
            },
            Kind::AddLoad => Effect::AddLoad {
                rep: need(self.rep, "rep")?,
                stage: need(self.stage, "stage")?,
            },
            Kind::RemoveLoad => Effect::RemoveLoad {
                rep: need(self.rep, "rep")?,
                stage: need(self.stage, "stage")?,
            },
            Kind::SetOutOfOffice => Effect::SetOutOfOffice {
                rep: need(self.rep, "rep")?,
                until: self.until,
                note: self.note,
            },
            Kind::ClearOutOfOffice => Effect::ClearOutOfOffice {
                rep: need(self.rep, "rep")?,
            },
            Kind::DisqualifyPerson => Effect::DisqualifyPerson {
                email: need(self.email, "email")?,
                owner: self.owner,
                at: need(self.at, "at")?,
                note: self.note,
            },
            Kind::ReopenPerson => Effect::ReopenPerson {
                email: need(self.email, "email")?,
            },
        })
    }
}

/// A field may appear once.
fn once<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut Option<T>,
    map: &mut A,
    field: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(field));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// An optional field (`null` or absent is None) may appear once.
fn once_opt<'de, T: Deserialize<'de>, A: MapAccess<'de>>(
    slot: &mut Option<T>,
    seen: &mut bool,
    map: &mut A,
    field: &'static str,
) -> Result<(), A::Error> {
    if std::mem::replace(seen, true) {
        return Err(de::Error::duplicate_field(field));
    }
    *slot = map.next_value()?;
    Ok(())
}

struct EffectVisitor;

impl<'de> Visitor<'de> for EffectVisitor {
    type Value = Effect;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an effect (an object with an \"effect\" field)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Effect, A::Error> {
        let mut kind = None;
        let mut s = Slots::default();
        let (mut until, mut note, mut owner) = (false, false, false);
        while let Some(field) = map.next_key::<Field>()? {
            match field {
                Field::Effect => once(&mut kind, &mut map, "effect")?,
                Field::Team => once(&mut s.team, &mut map, "team")?,
                Field::Rep => once(&mut s.rep, &mut map, "rep")?,
                Field::Pass => once(&mut s.pass, &mut map, "pass")?,
                Field::VirtualTime => once(&mut s.virtual_time, &mut map, "virtual_time")?,
                Field::Date => once(&mut s.date, &mut map, "date")?,
                Field::Email => once(&mut s.email, &mut map, "email")?,
                Field::Stage => once(&mut s.stage, &mut map, "stage")?,
                Field::At => once(&mut s.at, &mut map, "at")?,
                Field::Until => once_opt(&mut s.until, &mut until, &mut map, "until")?,
                Field::Note => once_opt(&mut s.note, &mut note, &mut map, "note")?,
                Field::Owner => once_opt(&mut s.owner, &mut owner, &mut map, "owner")?,
                Field::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        s.build(need(kind, "effect")?)
    }
}

impl<'de> Deserialize<'de> for Effect {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EffectVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn every_variant() -> Vec<Effect> {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        vec![
            Effect::AdvanceRotation {
                team: "emea".into(),
                rep: "ann".into(),
                pass: 7,
                virtual_time: 42,
            },
            Effect::AddEarlyLoad { rep: "ann".into() },
            Effect::CountDaily {
                rep: "ann".into(),
                date: jiff::civil::date(2026, 12, 6),
            },
            Effect::SetOwner {
                email: "jane@acme.io".into(),
                rep: "ann".into(),
            },
            Effect::AddLoad {
                rep: "ann".into(),
                stage: Stage::Mid,
            },
            Effect::RemoveLoad {
                rep: "ann".into(),
                stage: Stage::Late,
            },
            Effect::SetOutOfOffice {
                rep: "ann".into(),
                until: Some(at),
                note: Some("trip \"north\"".into()),
            },
            Effect::SetOutOfOffice {
                rep: "bob".into(),
                until: None,
                note: None,
            },
            Effect::ClearOutOfOffice { rep: "ann".into() },
            Effect::DisqualifyPerson {
                email: "jane@acme.io".into(),
                owner: Some("ann".into()),
                at,
                note: Some("student".into()),
            },
            Effect::DisqualifyPerson {
                email: "joe@acme.io".into(),
                owner: None,
                at,
                note: None,
            },
            Effect::ReopenPerson {
                email: "jane@acme.io".into(),
            },
        ]
    }

    #[test]
    fn every_variant_reads_back_what_was_written() {
        let all = every_variant();
        let text = serde_json::to_string(&all).unwrap();
        let back: Vec<Effect> = serde_json::from_str(&text).unwrap();
        assert_eq!(back, all);
        // Through a `Value` too (the API and the store's tests read effects that way).
        let value = serde_json::to_value(&all).unwrap();
        assert_eq!(serde_json::from_value::<Vec<Effect>>(value).unwrap(), all);
    }

    #[test]
    fn fields_in_any_order_absent_options_and_unknown_fields_are_read_as_derived() {
        let e: Effect = serde_json::from_value(json!({
            "rep": "ann", "extra": {"nested": [1, 2]}, "stage": "early", "effect": "add_load"
        }))
        .unwrap();
        assert_eq!(
            e,
            Effect::AddLoad {
                rep: "ann".into(),
                stage: Stage::Early
            }
        );
        let e: Effect =
            serde_json::from_str(r#"{"effect":"set_out_of_office","rep":"ann"}"#).unwrap();
        assert_eq!(
            e,
            Effect::SetOutOfOffice {
                rep: "ann".into(),
                until: None,
                note: None
            }
        );
    }

    #[test]
    fn a_bad_effect_is_an_error_that_names_what_is_wrong() {
        let err =
            |v: serde_json::Value| serde_json::from_value::<Effect>(v).unwrap_err().to_string();
        assert!(err(json!({"effect": "add_load", "rep": "ann"})).contains("missing field `stage`"));
        assert!(err(json!({"rep": "ann"})).contains("missing field `effect`"));
        assert!(
            err(json!({"effect": "teleport", "rep": "ann"})).contains("unknown variant `teleport`")
        );
        let dup = serde_json::from_str::<Effect>(
            r#"{"effect":"add_early_load","rep":"ann","rep":"bob"}"#,
        );
        assert!(
            dup.unwrap_err()
                .to_string()
                .contains("duplicate field `rep`")
        );
        assert!(
            err(json!({"effect": "add_load", "rep": 3, "stage": "early"})).contains("invalid type")
        );
        assert!(err(json!("add_load")).contains("invalid type"));
    }
}
