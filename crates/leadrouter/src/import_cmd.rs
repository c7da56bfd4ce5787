//! `leadrouter import FILE.csv`: upload a list to a running service in chunks, with a
//! progress bar, and print every rejected row with its line in the original file.
//! Each chunk carries the import id and its line offset, so rows are keyed by
//! (import, line): re-running an interrupted import never creates a row twice.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

pub async fn run(file: &Path, url: &str, key: &str, chunk: usize, json: bool) -> Result<ExitCode> {
    let raw = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let text = String::from_utf8(raw)
        .with_context(|| format!("{} is not UTF-8: save it as CSV UTF-8", file.display()))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(&text).to_string();
    // Record boundaries from a real CSV parser (quoted cells may span lines).
    // has_headers(false): the first read_record below must return the header itself.
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let header_end = {
        let mut rec = csv::StringRecord::new();
        rdr.read_record(&mut rec)
            .context("reading the header row")?;
        rdr.position().byte() as usize
    };
    let header = &text[..header_end];
    let mut starts: Vec<(usize, u64)> = Vec::new();
    let mut rec = csv::StringRecord::new();
    loop {
        let pos = rdr.position().clone();
        if !rdr.read_record(&mut rec).unwrap_or(true) {
            break;
        }
        starts.push((
            pos.byte() as usize,
            leadrouter_server::intake::line_at(&text, pos.byte()),
        ));
    }
    let total = starts.len() as u64;
    if total == 0 {
        bail!("{}: no rows below the header", file.display());
    }
    // Same file → same import id, so a re-run skips rows already stored.
    let import_id = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        text.hash(&mut h);
        format!(
            "{}-{:016x}",
            file.file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default(),
            h.finish()
        )
    };
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .connect_timeout(Duration::from_secs(10))
        .build()?;
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} rows ({per_sec}, eta {eta}) {msg}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let endpoint = format!("{}/v1/imports", url.trim_end_matches('/'));
    let (mut imported, mut rejected) = (0u64, 0u64);
    let mut errors: Vec<Value> = Vec::new();
    let mut results: Vec<Value> = Vec::new();
    for group in starts.chunks(chunk) {
        let (from, first_line) = group[0];
        let to = starts
            .iter()
            .find(|(b, _)| *b > group[group.len() - 1].0)
            .map(|(b, _)| *b)
            .unwrap_or(text.len());
        let body = format!("{header}{}", &text[from..to]);
        let offset = first_line.saturating_sub(2);
        let resp = client
            .post(&endpoint)
            .bearer_auth(key)
            .header("content-type", "text/csv; charset=utf-8")
            .header("x-import-id", &import_id)
            .header("x-import-line-offset", offset.to_string())
            .body(body)
            .send()
            .await
            .with_context(|| format!("POST {endpoint}"))?;
        let status = resp.status();
        let v: Value = resp.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            bar.abandon_with_message("failed");
            bail!("{endpoint} answered {status}: {}", v);
        }
        imported += v["imported"].as_u64().unwrap_or(0);
        rejected += v["rejected"].as_u64().unwrap_or(0);
        if let Some(e) = v["errors"].as_array() {
            errors.extend(e.iter().cloned());
        }
        if let Some(r) = v["results"].as_array() {
            results.extend(r.iter().cloned());
        }
        bar.inc(group.len() as u64);
        bar.set_message(format!("{rejected} rejected"));
    }
    bar.finish_with_message(format!("{rejected} rejected"));
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "import_id": import_id, "imported": imported, "rejected": rejected,
                "results": results, "errors": errors,
            }))?
        );
    } else {
        for e in &errors {
            let line = e["line"].as_u64().unwrap_or(0);
            for fe in e["errors"].as_array().into_iter().flatten() {
                eprintln!(
                    "{}:{line}: {}: {}",
                    file.display(),
                    fe["field"].as_str().unwrap_or("row"),
                    fe["message"].as_str().unwrap_or("")
                );
            }
        }
        println!(
            "{}: {imported} imported, {rejected} rejected (import id {import_id})",
            file.display()
        );
    }
    Ok(if rejected > 0 {
        ExitCode::from(3)
    } else {
        ExitCode::SUCCESS
    })
}
