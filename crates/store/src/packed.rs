//! Decisions and traces at rest: zstd frames compressed with a dictionary trained on
//! routing traces.
//!
//! A routing trace is 2–3 KB of JSON made of the same keys and verdicts every time; alone,
//! each compresses poorly (zstd or LZ4 without a dictionary: ~1.3–1.7 KB for decision and
//! trace together), but against a dictionary of those shared strings they pack to
//! ~0.3 KB. Unpacked, on SQLite, a decision row took a 4 KiB page of its own, and those
//! pages were the largest part of what every routing commit wrote to the WAL.
//!
//! The dictionary (`dict/trace-v1.zdict`, 16 KiB) is part of the storage format: every
//! frame records its dictionary's id, and a dictionary once shipped is never changed or
//! removed, only joined by new ones (`DICTIONARIES`). `cargo run -p leadrouter-store
//! --example train-trace-dict` trains one from a database (docs/operations.md).
//! Rows from before migration 0009 have only the text columns and are read from those.

use crate::{JsonText, Result, StoreError};
use std::sync::LazyLock;

/// Dictionaries by id; the first is the one new frames are written with.
const DICTIONARIES: &[&[u8]] = &[include_bytes!("../dict/trace-v1.zdict")];

/// zstd level for new frames: level 3 packs ~10% smaller than 1 here at the same speed
/// (with a dictionary, small inputs cost about the same at either).
const LEVEL: i32 = 3;

/// Largest document unpacked (a trace is a few KB; anything near this is corrupt).
const MAX_UNPACKED: usize = 16 << 20;

struct Dicts {
    encode: zstd::dict::EncoderDictionary<'static>,
    decode: Vec<(u32, zstd::dict::DecoderDictionary<'static>)>,
}

static DICTS: LazyLock<Dicts> = LazyLock::new(|| Dicts {
    encode: zstd::dict::EncoderDictionary::copy(DICTIONARIES[0], LEVEL),
    decode: DICTIONARIES
        .iter()
        .map(|d| {
            (
                zstd::zstd_safe::get_dict_id(d).map_or(0, |id| id.get()),
                zstd::dict::DecoderDictionary::copy(d),
            )
        })
        .collect(),
});

thread_local! {
    /// A compression context per thread: making one allocates and initialises a few
    /// hundred KB, which would cost more than compressing a trace.
    static COMPRESSOR: std::cell::RefCell<Option<zstd::bulk::Compressor<'static>>> =
        const { std::cell::RefCell::new(None) };
}

/// A value that could not be made ready for the database.
fn encode(e: std::io::Error) -> StoreError {
    StoreError::Db(sqlx::Error::Encode(Box::new(e)))
}

/// The JSON text, packed. Fails only if zstd cannot compress it (out of memory).
pub fn pack(json: &JsonText) -> Result<Vec<u8>> {
    let text = json.as_str().as_bytes();
    COMPRESSOR.with_borrow_mut(|slot| {
        let c = match slot {
            Some(c) => c,
            None => slot.insert(
                zstd::bulk::Compressor::with_prepared_dictionary(&DICTS.encode).map_err(encode)?,
            ),
        };
        c.compress(text).map_err(encode)
    })
}

/// The stored value: the packed column when set, else the text column (older rows).
/// A packed value that does not unpack to JSON is corruption, not a missing value.
pub fn read(packed: Option<Vec<u8>>, text: Option<String>) -> Result<Option<JsonText>> {
    let Some(bytes) = packed else {
        return Ok(text.and_then(JsonText::from_stored));
    };
    let corrupt = |why: String| StoreError::Corrupt(format!("packed decision: {why}"));
    let id = zstd::zstd_safe::get_dict_id_from_frame(&bytes).map_or(0, |id| id.get());
    let mut d = match DICTS.decode.iter().find(|(i, _)| *i == id) {
        Some((_, dict)) => zstd::bulk::Decompressor::with_prepared_dictionary(dict),
        None if id == 0 => zstd::bulk::Decompressor::new(),
        None => return Err(corrupt(format!("unknown dictionary {id}"))),
    }
    .map_err(|e| corrupt(e.to_string()))?;
    let raw = d
        .decompress(&bytes, MAX_UNPACKED)
        .map_err(|e| corrupt(e.to_string()))?;
    let text = String::from_utf8(raw).map_err(|e| corrupt(format!("not UTF-8: {e}")))?;
    JsonText::from_stored(text)
        .map(Some)
        .ok_or_else(|| corrupt("not JSON".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trace() -> JsonText {
        JsonText::of(&serde_json::json!({
            "steps": (0..40)
                .map(|i| serde_json::json!({"rep": format!("rep-{i}"), "verdict": "not_reached", "pass": i}))
                .collect::<Vec<_>>()
        }))
        .unwrap()
    }

    #[test]
    fn packs_small_and_reads_back() {
        let t = trace();
        let packed = pack(&t).unwrap();
        assert!(
            packed.len() * 4 < t.as_str().len(),
            "{} of {}",
            packed.len(),
            t.as_str().len()
        );
        assert_eq!(
            read(Some(packed), None).unwrap().unwrap().as_str(),
            t.as_str()
        );
    }

    #[test]
    fn frames_name_the_shipped_dictionary() {
        let packed = pack(&trace()).unwrap();
        let id = zstd::zstd_safe::get_dict_id_from_frame(&packed).map(|i| i.get());
        assert!(id.is_some_and(|id| id == DICTS.decode[0].0), "{id:?}");
    }

    #[test]
    fn older_rows_and_plain_frames_read_and_corruption_is_an_error() {
        assert_eq!(
            read(None, Some("{\"a\":1}".into()))
                .unwrap()
                .unwrap()
                .as_str(),
            "{\"a\":1}"
        );
        assert!(read(None, None).unwrap().is_none());
        let plain = zstd::bulk::compress(b"{\"b\":2}", 3).unwrap();
        assert_eq!(
            read(Some(plain), None).unwrap().unwrap().as_str(),
            "{\"b\":2}"
        );
        assert!(read(Some(vec![1, 2, 3, 4, 5]), None).is_err());
        let not_json = zstd::bulk::compress(b"not json", 3).unwrap();
        assert!(read(Some(not_json), None).is_err());
    }
}
