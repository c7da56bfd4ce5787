//! The MX signal against a DNS server on 127.0.0.1 started by the test (never real DNS):
//! a new domain whose mail servers are a throwaway service's is marked junk; a company
//! domain is not; answers are cached; a DNS server that does not answer costs at most the
//! signal's timeout and never fails the lead.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::MX;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use leadrouter_core::config::SourceText;
use leadrouter_core::lead::Lead;
use leadrouter_enrich::Enricher;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// A UDP DNS server answering MX questions from `zone` (name → exchanges); a name mapped
/// to `None` gets no answer at all; others get NXDOMAIN. Counts the questions per name.
struct DnsServer {
    addr: std::net::SocketAddr,
    asked: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl DnsServer {
    async fn start(zone: Vec<(&'static str, Option<Vec<&'static str>>)>) -> DnsServer {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = sock.local_addr().unwrap();
        let asked: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let counts = asked.clone();
        let zone: BTreeMap<String, Option<Vec<&'static str>>> =
            zone.into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        tokio::spawn(async move {
            let mut buf = [0u8; 1500];
            loop {
                let Ok((n, peer)) = sock.recv_from(&mut buf).await else {
                    return;
                };
                let Ok(q) = Message::from_vec(&buf[..n]) else {
                    continue;
                };
                let Some(query) = q.queries.first().cloned() else {
                    continue;
                };
                let name = query.name().to_ascii().to_ascii_lowercase();
                *counts.lock().unwrap().entry(name.clone()).or_default() += 1;
                let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                r.metadata.recursion_desired = q.metadata.recursion_desired;
                r.metadata.recursion_available = true;
                r.add_query(query.clone());
                match zone.get(&name) {
                    Some(None) => continue, // never answers
                    Some(Some(hosts)) if query.query_type() == RecordType::MX => {
                        for (i, h) in hosts.iter().enumerate() {
                            let mx = MX::new(10 * (i as u16 + 1), Name::from_ascii(h).unwrap());
                            r.add_answer(Record::from_rdata(
                                query.name().clone(),
                                300,
                                RData::MX(mx),
                            ));
                        }
                    }
                    Some(Some(_)) => {}
                    None => r.metadata.response_code = ResponseCode::NXDomain,
                }
                let _ = sock.send_to(&r.to_vec().unwrap(), peer).await;
            }
        });
        DnsServer { addr, asked }
    }

    fn asked(&self, name: &str) -> usize {
        self.asked.lock().unwrap().get(name).copied().unwrap_or(0)
    }
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
        (
            "fresh-throwaway-2026.com.",
            Some(vec!["mx2.mailinator.com."]),
        ),
        (
            "acme-corp-example.com.",
            Some(vec!["aspmx.l.google.com.", "alt1.aspmx.l.google.com."]),
        ),
        (
            "own-list-example.com.",
            Some(vec!["mx.burner-host.example."]),
        ),
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
    let dns = DnsServer::start(vec![("silent-example.com.", None)]).await;
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
