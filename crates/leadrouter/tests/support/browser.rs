//! A real headless Chromium for the console tests (Debian `chromium` + `chromium-driver`,
//! driven over WebDriver by fantoccini): starting it, screenshots, and waiting for what a
//! step expects on the page. Chromium is installed with apt-get when missing (as root);
//! if it cannot be, the test fails and says so.

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub fn ensure_chromium() {
    let present = || {
        std::path::Path::new("/usr/bin/chromium").exists()
            && std::path::Path::new("/usr/bin/chromedriver").exists()
    };
    if present() {
        return;
    }
    let ok = Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok && present(),
        "console_e2e needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver) \
         and could not install them with apt-get; install them: apt-get install -y chromium chromium-driver"
    );
}

pub struct Driver {
    child: Child,
    port: u16,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

pub async fn start_browser() -> (Driver, Client) {
    start_browser_in(None).await
}

/// Like [`start_browser`], with the browser's time zone set (`TZ`, which Chromium
/// inherits from chromedriver): `Intl` reports that zone to pages.
pub async fn start_browser_in(tz: Option<&str>) -> (Driver, Client) {
    ensure_chromium();
    let port = free_port();
    let mut cmd = Command::new("/usr/bin/chromedriver");
    if let Some(tz) = tz {
        cmd.env("TZ", tz);
    }
    let child = cmd
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting chromedriver");
    let profile = tempfile::tempdir().expect("a browser profile directory");
    let driver = Driver {
        child,
        port,
        _profile: profile,
    };
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1360,1000",
                format!("--user-data-dir={}", driver._profile.path().display()),
            ]
        }),
    );
    let mut last = None;
    for _ in 0..100 {
        match ClientBuilder::rustls()
            .expect("rustls connector")
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{}", driver.port))
            .await
        {
            Ok(c) => return (driver, c),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "chromedriver on port {} did not accept a session: {last:?}",
        driver.port
    );
}

pub fn shots() -> PathBuf {
    let d = if std::env::var_os("LEADROUTER_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/console")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console")
    };
    std::fs::create_dir_all(&d).expect("screenshot directory");
    d
}

pub async fn screenshot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    std::fs::write(shots().join(format!("{name}.png")), png).expect("writing a screenshot");
}

/// How long a page may take to show what a step waits for (the machine may be busy).
pub const PAGE_WAIT: Duration = Duration::from_secs(20);

/// The element once it is on the page: after a click or a form post the browser may
/// still be loading, so a plain `find` could look at the page before.
pub async fn el(
    c: &Client,
    loc: Locator<'_>,
) -> Result<fantoccini::elements::Element, fantoccini::error::CmdError> {
    c.wait().at_most(PAGE_WAIT).for_element(loc).await
}

/// Wait until the browser is on a page whose path ends with `suffix`.
pub async fn wait_path(c: &Client, suffix: &str) {
    let start = std::time::Instant::now();
    loop {
        let url = c.current_url().await.expect("current URL");
        if url.path().ends_with(suffix) {
            return;
        }
        assert!(
            start.elapsed() < PAGE_WAIT,
            "expected to be on …{suffix}, still on {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The page's text. A page still loading can replace `body` between finding and reading
/// it (a stale element): read again, for up to 10 s.
pub async fn body_text(c: &Client) -> String {
    let start = std::time::Instant::now();
    loop {
        let read = match el(c, Locator::Css("body")).await {
            Ok(b) => b.text().await.map_err(|e| e.to_string()),
            Err(e) => Err(format!("{e:?}")),
        };
        match read {
            Ok(text) => return text,
            Err(e) if start.elapsed() > Duration::from_secs(10) => panic!("body text: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// No alert dialog is open (`get_alert_text` errors when there is none).
pub async fn assert_no_alert(c: &Client, page: &str) {
    if let Ok(text) = c.get_alert_text().await {
        panic!("an alert dialog fired on {page}: {text:?}");
    }
}
