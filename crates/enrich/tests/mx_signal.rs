//! The MX signal against a DNS server on 127.0.0.1 started by the test (never real DNS):
//! a new domain whose mail servers are a throwaway service's is marked junk; a company
//! domain is not; answers are cached; a DNS server that does not answer costs at most the
//! signal's timeout and never fails the lead.

use leadrouter_core::config::SourceText;
use leadrouter_core::lead::Lead;
use leadrouter_enrich::Enricher;
use leadrouter_testsupport::dns::{DnsServer, MxAnswer};
use std::path::Path;
use std::time::{Duration, Instant};

fn hosts(h: &[&str]) -> MxAnswer {
    MxAnswer::Hosts(h.iter().map(|s| s.to_string()).collect())
}

fn enricher(dns: &DnsServer, extra: &str) -> Enricher {
    let text = format!(
        "[enrichment]\nbudget = \"2s\"\n[enrichment.mx]\nenabled = true\nresolver = \"{}\"\ntimeout = \"250ms\"\n{extra}",
        dns.addr
    );
    Enricher::from_config(&SourceText::new("mx.toml", &text), Path::new("."), None)
        .unwrap_or_else(|e| panic!("{e:?}"))
}

fn lead(email: &str) -> Lead {
    Lead {
        email: Some(email.into()),
        ..Lead::default()
    }
}

#[tokio::test]
async fn a_new_domain_on_a_throwaway_services_mail_servers_is_junk() {
    let dns = DnsServer::start(vec![
        ("fresh-throwaway-2026.com.", hosts(&["mx2.mailinator.com."])),
        (
            "acme-corp-example.com.",
            hosts(&["aspmx.l.google.com.", "alt1.aspmx.l.google.com."]),
        ),
        ("own-list-example.com.", hosts(&["mx.burner-host.example."])),
    ])
    .await;
    let e = enricher(&dns, "");
    let junk = e.enrich(&lead("sam@fresh-throwaway-2026.com")).await;
    let reason = junk.junk_reason.clone().unwrap_or_default();
    assert!(
        reason.contains("mx2.mailinator.com") && reason.contains("throwaway"),
        "{junk:?}"
    );
    assert_eq!(
        junk.sources.get("junk_reason").map(String::as_str),
        Some("mx")
    );

    let company = e.enrich(&lead("jo@acme-corp-example.com")).await;
    assert_eq!(company.junk_reason, None, "{company:?}");
    assert!(
        company.failures.iter().all(|f| !f.starts_with("mx:")),
        "{company:?}"
    );

    // No MX at all (NXDOMAIN here): nothing concluded against the lead.
    let nx = e.enrich(&lead("kim@no-such-domain-example.com")).await;
    assert_eq!(nx.junk_reason, None, "{nx:?}");

    // Cached: asked once however many leads come from the domain.
    for _ in 0..3 {
        let again = e.enrich(&lead("other@fresh-throwaway-2026.com")).await;
        assert!(again.junk_reason.is_some());
    }
    assert_eq!(dns.asked("fresh-throwaway-2026.com."), 1);

    // Personal and listed-disposable domains are never looked up.
    e.enrich(&lead("someone@gmail.com")).await;
    e.enrich(&lead("someone@mailinator.com")).await;
    assert_eq!(dns.asked("gmail.com."), 0);
    assert_eq!(dns.asked("mailinator.com."), 0);

    // The config's own mail-host domains count too.
    let own = enricher(&dns, "disposable_hosts = [\"burner-host.example\"]\n");
    let r = own.enrich(&lead("x@own-list-example.com")).await;
    assert!(r.junk_reason.is_some(), "{r:?}");
}

#[tokio::test]
async fn a_dns_server_that_never_answers_costs_only_the_timeout() {
    let dns = DnsServer::start(vec![("silent-example.com.", MxAnswer::Silent)]).await;
    let e = enricher(&dns, "");
    let started = Instant::now();
    let r = e.enrich(&lead("pat@silent-example.com")).await;
    let took = started.elapsed();
    assert!(took < Duration::from_secs(1), "took {took:?}");
    assert_eq!(r.junk_reason, None);
    assert!(
        r.failures
            .iter()
            .any(|f| f.starts_with("mx: silent-example.com not checked")),
        "{r:?}"
    );
    // Not cached: the next lead asks again.
    e.enrich(&lead("pat@silent-example.com")).await;
    assert!(dns.asked("silent-example.com.") >= 2);
}

#[test]
fn mx_settings_are_checked() {
    let src = SourceText::new(
        "mx.toml",
        "[enrichment]\nbudget = \"1s\"\n[enrichment.mx]\nenabled = true\nresolver = \"localhost\"\ntimeout = \"5s\"\ndisposable_hosts = [\"not a host\"]\n",
    );
    let errs = Enricher::from_config(&src, Path::new("."), None).unwrap_err();
    let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
    for f in [
        "enrichment.mx.resolver",
        "enrichment.mx.timeout",
        "enrichment.mx.disposable_hosts",
    ] {
        assert!(fields.contains(&f), "{f} in {errs:?}");
    }
}
