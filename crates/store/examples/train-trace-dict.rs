//! Train a zstd dictionary for packed decisions and traces (`leadrouter_store::packed`)
//! from the decisions stored in a SQLite database:
//!
//! ```sh
//! cargo run --release -p leadrouter-store --example train-trace-dict -- DB.sqlite OUT.zdict [SAMPLES]
//! ```
//!
//! Reads up to SAMPLES (default 12,000) decision and trace documents, newest first, text
//! or packed, and writes a 16 KiB dictionary. A new dictionary is added to
//! `DICTIONARIES` in front of the old ones, never in place of one.

use sqlx::Row;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (Some(db), Some(out)) = (args.first(), args.get(1)) else {
        return Err("usage: train-trace-dict DB.sqlite OUT.zdict [SAMPLES]".into());
    };
    let limit: i64 = args
        .get(2)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(12_000);
    let url = format!("sqlite://{db}?mode=ro");
    let pool = sqlx::SqlitePool::connect(&url).await?;
    let has_packed =
        sqlx::query("SELECT 1 FROM pragma_table_info('decisions') WHERE name = 'trace_z'")
            .fetch_optional(&pool)
            .await?
            .is_some();
    let sql = if has_packed {
        "SELECT decision, trace, decision_z, trace_z FROM decisions ORDER BY id DESC LIMIT $1"
    } else {
        "SELECT decision, trace, NULL AS decision_z, NULL AS trace_z FROM decisions ORDER BY id DESC LIMIT $1"
    };
    let mut samples: Vec<Vec<u8>> = Vec::new();
    for r in sqlx::query(sql).bind(limit / 2).fetch_all(&pool).await? {
        for (text, packed) in [("decision", "decision_z"), ("trace", "trace_z")] {
            let doc = leadrouter_store::packed::read(r.try_get(packed)?, r.try_get(text)?)?;
            if let Some(doc) = doc {
                samples.push(doc.as_str().as_bytes().to_vec());
            }
        }
    }
    if samples.len() < 100 {
        return Err(format!(
            "only {} documents in {db}; route more leads first",
            samples.len()
        )
        .into());
    }
    let dict = zstd::dict::from_samples(&samples, 16 * 1024)?;
    std::fs::write(out, &dict)?;
    let raw: usize = samples.iter().map(Vec::len).sum();
    let mut c = zstd::bulk::Compressor::with_dictionary(3, &dict)?;
    let mut packed = 0;
    for s in &samples {
        packed += c.compress(s)?.len();
    }
    eprintln!(
        "{} documents, {} bytes; packed with the new dictionary: {} bytes ({:.1}x); wrote {out} ({} bytes)",
        samples.len(),
        raw,
        packed,
        raw as f64 / packed as f64,
        dict.len()
    );
    Ok(())
}
