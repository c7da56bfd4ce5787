//! Disposable addresses at the intake (issue 23), through the real binary: a domain the
//! merged lists added goes to junk, and with `[enrichment.mx]` a domain on no list whose
//! mail servers are a throwaway service's goes to junk too, looked up at a DNS server on
//! 127.0.0.1 that the test runs (never real DNS); a company domain is routed to a rep.

mod support;

use leadrouter_testsupport::dns::{DnsServer, MxAnswer};
use serde_json::{Value, json};
use support::{Server, e2e_config, serve};

fn lead(email: &str) -> Value {
    json!({
        "first_name": "Sam", "last_name": "Probe", "email": email, "company": "Probe Co",
        "employees": 500, "industry": "software", "country": "US", "action": "demo_request"
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throwaway_domains_go_to_junk_by_list_and_by_mail_server() {
    let dns = DnsServer::start(vec![
        (
            "fresh-throwaway-2026.com.",
            MxAnswer::Hosts(vec!["mx2.mailinator.com.".into()]),
        ),
        (
            "probe-company-example.com.",
            MxAnswer::Hosts(vec!["aspmx.l.google.com.".into()]),
        ),
    ])
    .await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("mx.toml");
    let text = std::fs::read_to_string(e2e_config()).unwrap();
    assert!(
        !text.contains("[enrichment"),
        "the fixture has no [enrichment] yet"
    );
    std::fs::write(
        &config,
        format!(
            "{text}\n[enrichment]\nbudget = \"2s\"\n\n[enrichment.mx]\nenabled = true\nresolver = \"{}\"\ntimeout = \"500ms\"\n",
            dns.addr
        ),
    )
    .unwrap();
    let server = Server::start_async(serve(&config)).await;
    let submit = |email: &str| {
        let body = lead(email);
        let server = &server;
        async move {
            server
                .post("/v1/leads?explain=true")
                .intake()
                .json(&body)
                .send_async()
                .await
                .expect_status(201)
                .json()
        }
    };

    // On no list; its mail server is Mailinator's.
    let d = submit("sam@fresh-throwaway-2026.com").await;
    assert_eq!(d["path"], "junk", "{d:#}");
    let text = d["trace_text"].as_str().unwrap_or_default();
    assert!(
        text.contains("mx2.mailinator.com"),
        "the trace names the mail server: {text}"
    );

    // Added by the merged sources (npm disposable-domains / burner-email-providers).
    let d = submit("sam@hoglabs.com").await;
    assert_eq!(d["path"], "junk", "{d:#}");

    // A company domain on Google's mail servers is routed.
    let d = submit("sam@probe-company-example.com").await;
    assert_ne!(d["path"], "junk", "{d:#}");
    assert_eq!(dns.asked("probe-company-example.com."), 1);
    // A listed domain needs no DNS question.
    assert_eq!(dns.asked("hoglabs.com."), 0);
}
