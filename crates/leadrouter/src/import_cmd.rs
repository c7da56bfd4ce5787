//! `leadrouter import FILE.csv`: upload a list to a running service, follow the import
//! job with a progress bar (polling `GET /v1/imports/{id}`), and print every rejected
//! row with its line in the original file. A file is uploaded in parts of at most
//! `--chunk` rows (and [`MAX_UPLOAD_BYTES`]), each one job; each part carries the import
//! id and its line offset, so rows are keyed by (import, line): re-running an
//! interrupted import never creates a row twice.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::Value;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

/// Largest part uploaded in one request: under the server's 50 MiB import limit.
const MAX_UPLOAD_BYTES: usize = 40 * 1024 * 1024;
/// How often a running job is polled for progress.
const POLL_EVERY: Duration = Duration::from_millis(300);
/// Rows per page when the results are read back.
const PAGE: usize = 5000;

/// The admin key `import` presents: `--key`, else the first key of
/// `LEADROUTER_ADMIN_KEYS` (the list `serve` reads, `name=key` entries included), else the
/// deprecated `LEADROUTER_ADMIN_KEY` with a warning.
pub fn admin_key(flag: Option<String>) -> Result<String> {
    admin_key_from(flag, |k| std::env::var(k).ok())
}

fn admin_key_from(flag: Option<String>, env: impl Fn(&str) -> Option<String>) -> Result<String> {
    if let Some(k) = flag.filter(|k| !k.trim().is_empty()) {
        return Ok(k.trim().to_string());
    }
    if let Some(k) = env("LEADROUTER_ADMIN_KEYS")
        .as_deref()
        .and_then(leadrouter_server::auth::first_key)
    {
        return Ok(k);
    }
    if let Some(k) = env("LEADROUTER_ADMIN_KEY").filter(|k| !k.trim().is_empty()) {
        eprintln!(
            "warning: LEADROUTER_ADMIN_KEY is deprecated: set LEADROUTER_ADMIN_KEYS (the list `serve` reads; import uses its first key) or pass --key"
        );
        return Ok(k.trim().to_string());
    }
    bail!(
        "no admin key: set LEADROUTER_ADMIN_KEYS (the variable `serve` reads; its first key is used) or pass --key KEY"
    )
}

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
    let mut from_idx = 0;
    let mut done_before = 0u64;
    while from_idx < starts.len() {
        // Up to `chunk` rows and MAX_UPLOAD_BYTES per part.
        let (from, first_line) = starts[from_idx];
        let mut to_idx = (from_idx + chunk).min(starts.len());
        let end_of = |i: usize| starts.get(i).map(|(b, _)| *b).unwrap_or(text.len());
        while to_idx > from_idx + 1 && end_of(to_idx) - from > MAX_UPLOAD_BYTES {
            to_idx = from_idx + (to_idx - from_idx) / 2;
        }
        let body = format!("{header}{}", &text[from..end_of(to_idx)]);
        let rows_in_part = (to_idx - from_idx) as u64;
        from_idx = to_idx;
        let offset = first_line.saturating_sub(2);
        let resp = client
            .post(&endpoint)
            .bearer_auth(key)
            .header("content-type", "text/csv; charset=utf-8")
            .header("prefer", "respond-async")
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
        let Some(job) = v["job_id"].as_str().map(str::to_string) else {
            bar.abandon_with_message("failed");
            bail!("{endpoint} answered without a job id: {v}");
        };
        let job_url = format!("{endpoint}/{job}");
        let mut v = v;
        while v["status"] != "done" {
            tokio::time::sleep(POLL_EVERY).await;
            v = get_json(&client, &format!("{job_url}?limit=0"), key).await?;
            let done = v["imported"].as_u64().unwrap_or(0) + v["rejected"].as_u64().unwrap_or(0);
            bar.set_position(done_before + done);
            bar.set_message(format!(
                "{} rejected",
                rejected + v["rejected"].as_u64().unwrap_or(0)
            ));
        }
        imported += v["imported"].as_u64().unwrap_or(0);
        rejected += v["rejected"].as_u64().unwrap_or(0);
        // Every row's result, page by page.
        let mut after = 0i64;
        loop {
            let page = get_json(
                &client,
                &format!("{job_url}?after={after}&limit={PAGE}"),
                key,
            )
            .await?;
            if let Some(e) = page["errors"].as_array() {
                errors.extend(e.iter().cloned());
            }
            if let Some(r) = page["results"].as_array() {
                results.extend(r.iter().cloned());
            }
            match page["next_after"].as_i64() {
                Some(n) => after = n,
                None => break,
            }
        }
        done_before += rows_in_part;
        bar.set_position(done_before);
        bar.set_message(format!("{rejected} rejected"));
    }
    errors.sort_by_key(|e| e["line"].as_u64().unwrap_or(0));
    results.sort_by_key(|r| r["line"].as_u64().unwrap_or(0));
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

async fn get_json(client: &reqwest::Client, url: &str, key: &str) -> Result<Value> {
    let resp = client
        .get(url)
        .bearer_auth(key)
        .send()
        .await
        .with_context(|| format!("GET {url}"))?;
    let status = resp.status();
    let v: Value = resp.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        bail!("{url} answered {status}: {v}");
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::admin_key_from;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_key_comes_from_the_flag_then_serves_list_then_the_old_name() {
        let all = [
            ("LEADROUTER_ADMIN_KEYS", "ops=k1, k2"),
            ("LEADROUTER_ADMIN_KEY", "old"),
        ];
        assert_eq!(
            admin_key_from(Some("flag".into()), env(&all)).unwrap(),
            "flag"
        );
        assert_eq!(admin_key_from(None, env(&all)).unwrap(), "k1");
        assert_eq!(
            admin_key_from(None, env(&[("LEADROUTER_ADMIN_KEY", "old")])).unwrap(),
            "old"
        );
        let e = admin_key_from(None, env(&[])).unwrap_err().to_string();
        assert!(
            e.contains("LEADROUTER_ADMIN_KEYS") && e.contains("--key"),
            "{e}"
        );
    }
}
