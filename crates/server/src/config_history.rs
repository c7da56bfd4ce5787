//! Config versions as history (OPS-5): the config is loaded with every file it reads kept
//! as text, so the version can be stored (`ConfigHistory::record_config_version`) before
//! it serves a lead, and compiled again later from the stored text alone — the same
//! version hash, since the hash covers the files' names and bytes only.

use leadrouter_core::config::{self, CompiledConfig, LoadError, SourceText};
use leadrouter_store::{ConfigVersionRow, Store};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::Path;

/// The text of a config's files: the TOML and the files it reads by the name written in it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigSources {
    pub main_name: String,
    pub main_text: String,
    pub files: BTreeMap<String, String>,
}

/// `config::load`, keeping the text of every file read.
pub fn load_recorded(path: &Path) -> Result<(CompiledConfig, ConfigSources), LoadError> {
    let read = |p: &Path| {
        std::fs::read_to_string(p).map_err(|source| LoadError::Io {
            path: p.display().to_string(),
            source,
        })
    };
    let text = read(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let files = RefCell::new(BTreeMap::new());
    let mut cfg = config::compile::compile(
        SourceText::new(path.display().to_string(), text.clone()),
        &|rel: &str| {
            let p = base.join(rel);
            let t = read(&p)?;
            files.borrow_mut().insert(rel.to_string(), t.clone());
            Ok(SourceText::new(p.display().to_string(), t))
        },
    )?;
    cfg.base_dir = base.to_path_buf();
    let main_name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "leadrouter.toml".into());
    Ok((
        cfg,
        ConfigSources {
            main_name,
            main_text: text,
            files: files.into_inner(),
        },
    ))
}

/// Compile a stored version from its text. A file it names that was not stored is an
/// error naming it.
pub fn compile_stored(row: &ConfigVersionRow) -> Result<CompiledConfig, LoadError> {
    config::compile::compile(
        SourceText::new(row.main_name.clone(), row.main_text.clone()),
        &|rel: &str| match row.files.get(rel) {
            Some(t) => Ok(SourceText::new(rel.to_string(), t.clone())),
            None => Err(LoadError::Io {
                path: rel.to_string(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("not stored with config version {}", row.version),
                ),
            }),
        },
    )
}

/// Keep the version `cfg` (loaded from `sources`) in the database, once, as loaded by
/// `by` at `now` (microseconds).
pub async fn record(
    store: &dyn Store,
    cfg: &CompiledConfig,
    sources: &ConfigSources,
    by: &str,
    now: i64,
) -> leadrouter_store::Result<()> {
    store
        .record_config_version(&ConfigVersionRow {
            version: cfg.version.clone(),
            loaded_at: now,
            loaded_by: by.to_string(),
            main_name: sources.main_name.clone(),
            main_text: sources.main_text.clone(),
            files: sources.files.clone(),
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stored_version_compiles_to_the_same_version() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/demo.toml");
        let (cfg, sources) = load_recorded(&path).expect("demo config compiles");
        assert!(!sources.files.is_empty(), "the demo reads CSV tables");
        let row = ConfigVersionRow {
            version: cfg.version.clone(),
            loaded_at: 0,
            loaded_by: "startup".into(),
            main_name: sources.main_name,
            main_text: sources.main_text,
            files: sources.files,
        };
        assert_eq!(compile_stored(&row).expect("compiles").version, cfg.version);
        let mut missing = row.clone();
        let first = missing.files.keys().next().cloned().unwrap_or_default();
        missing.files.remove(&first);
        let err = compile_stored(&missing).expect_err("a missing file is an error");
        assert!(err.to_string().contains(&first), "{err}");
    }
}
