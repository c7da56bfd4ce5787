//! Shared test helpers: build an Enricher from TOML text, make leads, an in-memory
//! PersistentCache.
#![allow(dead_code)]

use leadrouter_core::config::SourceText;
use leadrouter_core::lead::Lead;
use leadrouter_enrich::{Enricher, PersistentCache};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub fn enricher(toml_text: &str, base: &Path) -> Enricher {
    enricher_with_cache(toml_text, base, None)
}

pub fn enricher_with_cache(
    toml_text: &str,
    base: &Path,
    cache: Option<Arc<dyn PersistentCache>>,
) -> Enricher {
    let src = SourceText::new("test.toml", toml_text);
    Enricher::from_config_with_env(&src, base, cache, &|k| match k {
        "TEST_TOKEN" => Some("tok-123".to_string()),
        _ => None,
    })
    .unwrap_or_else(|errs| panic!("config rejected:\n{errs:#?}"))
}

pub fn lead(email: &str) -> Lead {
    Lead {
        email: Some(email.to_string()),
        ..Default::default()
    }
}

pub fn temp_dir(tag: &str) -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let d = std::env::temp_dir().join(format!(
        "lr-enrich-{tag}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A PersistentCache in memory, shared between "restarts" of the Enricher.
#[derive(Default)]
pub struct MemoryCache {
    pub entries: Mutex<HashMap<(String, String), (serde_json::Value, jiff::Timestamp)>>,
    pub puts: AtomicUsize,
}

#[async_trait::async_trait]
impl PersistentCache for MemoryCache {
    async fn get(&self, provider: &str, key: &str) -> Option<(serde_json::Value, jiff::Timestamp)> {
        self.entries
            .lock()
            .unwrap()
            .get(&(provider.to_string(), key.to_string()))
            .cloned()
    }

    async fn put(
        &self,
        provider: &str,
        key: &str,
        value: &serde_json::Value,
        expires: jiff::Timestamp,
    ) {
        self.entries.lock().unwrap().insert(
            (provider.to_string(), key.to_string()),
            (value.clone(), expires),
        );
        self.puts.fetch_add(1, Ordering::SeqCst);
    }
}
