//! The address guard of HTTP providers (issue 24 item 9): a provider reaches loopback
//! and other non-public addresses only with `allow_private = true`, and such a provider
//! follows no redirects. Every server here listens on 127.0.0.1; the tests check that
//! the refused requests never arrive (the guard decides before connecting).

mod common;

use common::{enricher, lead, temp_dir};
use serde_json::json;
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

fn provider(url: &str, extra: &str) -> String {
    format!(
        r#"
[enrichment]
budget = "2s"
[[enrichment.provider]]
name = "acme-data"
kind = "http"
url = "{url}/find?domain={{domain}}"
retries = 0
{extra}
[enrichment.provider.fields]
industry = "/industry"
"#
    )
}

/// A server that answers any GET with company JSON, to show whether it was reached.
async fn company_server() -> MockServer {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"industry": "Leaked Industry"})),
        )
        .mount(&s)
        .await;
    s
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |r| r.len())
}

#[tokio::test]
async fn loopback_provider_is_refused_before_connecting_without_allow_private() {
    let target = company_server().await;
    let e = enricher(&provider(&target.uri(), ""), &temp_dir("guard-literal"));
    let out = e.enrich(&lead("jane@globex.com")).await;
    assert_eq!(out.industry, None);
    assert_eq!(out.failures.len(), 1, "{:?}", out.failures);
    let f = &out.failures[0];
    assert!(
        f.contains("refused: 127.0.0.1 is a non-public address") && f.contains("allow_private"),
        "{f}"
    );
    assert_eq!(
        requests(&target).await,
        0,
        "the guard must refuse before connecting"
    );
}

#[tokio::test]
async fn a_name_resolving_to_loopback_is_refused_by_the_resolver() {
    let target = company_server().await;
    let port = target.address().port();
    let url = format!("http://localhost:{port}");
    let e = enricher(&provider(&url, ""), &temp_dir("guard-name"));
    let out = e.enrich(&lead("jane@globex.com")).await;
    assert_eq!(out.industry, None);
    let f = out.failures.join("; ");
    assert!(
        f.contains("refused: localhost resolves to non-public address"),
        "{f}"
    );
    assert_eq!(
        requests(&target).await,
        0,
        "the guard must refuse before connecting"
    );
}

#[tokio::test]
async fn redirect_to_loopback_is_not_followed() {
    // The probe's case: the provider answers 302 to another loopback service, whose JSON
    // must not end up in the lead.
    let target = company_server().await;
    let provider_server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(302)
                .insert_header("location", format!("{}/internal/company", target.uri())),
        )
        .mount(&provider_server)
        .await;
    let cfg = provider(&provider_server.uri(), "allow_private = true");
    let e = enricher(&cfg, &temp_dir("guard-redirect"));
    let out = e.enrich(&lead("jane@globex.com")).await;
    assert_eq!(
        out.industry, None,
        "the redirect target's JSON was copied in"
    );
    let f = out.failures.join("; ");
    assert!(f.contains("HTTP 302 redirect not followed"), "{f}");
    assert_eq!(requests(&provider_server).await, 1);
    assert_eq!(
        requests(&target).await,
        0,
        "the redirect target was fetched"
    );
}

#[tokio::test]
async fn allow_private_reaches_a_loopback_provider() {
    let target = company_server().await;
    let cfg = provider(&target.uri(), "allow_private = true");
    let e = enricher(&cfg, &temp_dir("guard-allowed"));
    let out = e.enrich(&lead("jane@globex.com")).await;
    assert_eq!(
        out.industry.as_deref(),
        Some("Leaked Industry"),
        "{:?}",
        out.failures
    );
}
