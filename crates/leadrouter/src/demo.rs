//! The demo config embedded in the binary: `serve` without `--config` (and without
//! `LEADROUTER_CONFIG`) runs it from any folder. The files are `examples/demo.toml` and
//! the CSVs it names, compiled in with `include_str!` and written to a private temporary
//! folder at start, so the config loader, the version hash and a reload (SIGHUP,
//! `POST /v1/admin/reload`) work exactly as with a config on disk.

use anyhow::{Context, Result};
use std::path::PathBuf;

/// Each file of the demo: its name beside `demo.toml` and its text.
const FILES: [(&str, &str); 4] = [
    ("demo.toml", include_str!("../../../examples/demo.toml")),
    ("matrix.csv", include_str!("../../../examples/matrix.csv")),
    (
        "accounts.csv",
        include_str!("../../../examples/accounts.csv"),
    ),
    (
        "firmographics.csv",
        include_str!("../../../examples/firmographics.csv"),
    ),
];

/// The demo written out: the config's path, and the folder, removed when this is dropped.
pub struct EmbeddedDemo {
    pub config: PathBuf,
    _dir: tempfile::TempDir,
}

/// Write the embedded demo to a fresh temporary folder.
pub fn write() -> Result<EmbeddedDemo> {
    let dir = tempfile::Builder::new()
        .prefix("leadrouter-demo-")
        .tempdir()
        .context("creating a temporary folder for the embedded demo config")?;
    for (name, text) in FILES {
        let path = dir.path().join(name);
        std::fs::write(&path, text)
            .with_context(|| format!("writing the embedded demo file {}", path.display()))?;
    }
    Ok(EmbeddedDemo {
        config: dir.path().join("demo.toml"),
        _dir: dir,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_file_the_demo_names_is_embedded() {
        let demo = super::write().unwrap();
        leadrouter_core::config::load(&demo.config).expect("the embedded demo compiles");
        let toml = std::fs::read_to_string(&demo.config).unwrap();
        for line in toml.lines() {
            // `matrix_csv = "matrix.csv"`, `path = "firmographics.csv"`: every CSV the demo
            // reads must be one of FILES, or the embedded copy would fail at start.
            if let Some(name) = line.split('"').nth(1).filter(|v| v.ends_with(".csv")) {
                assert!(
                    super::FILES.iter().any(|(n, _)| *n == name),
                    "demo.toml reads {name}, which is not embedded"
                );
            }
        }
    }
}
