//! A DNS server on 127.0.0.1 (UDP) answering MX questions from a fixed zone, so tests of
//! the MX signal never query real DNS: `[enrichment.mx] resolver` points at it.

use hickory_proto::op::{Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::rdata::MX;
use hickory_proto::rr::{Name, RData, Record, RecordType};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use tokio::net::UdpSocket;

/// What the server answers for one name.
#[derive(Debug, Clone)]
pub enum MxAnswer {
    /// These mail servers (host names, e.g. `mx2.mailinator.com.`).
    Hosts(Vec<String>),
    /// No answer at all: the client times out.
    Silent,
}

/// The running server: its address and the questions it was asked, by name. Names not
/// in the zone get NXDOMAIN. It stops with the test's runtime.
pub struct DnsServer {
    pub addr: std::net::SocketAddr,
    asked: Arc<Mutex<BTreeMap<String, usize>>>,
}

impl DnsServer {
    /// Start on a free port; `zone` maps fully qualified names (`x.com.`) to answers.
    pub async fn start(zone: Vec<(&str, MxAnswer)>) -> DnsServer {
        let sock = UdpSocket::bind("127.0.0.1:0")
            .await
            .expect("binding the DNS server");
        let addr = sock.local_addr().expect("the DNS server's address");
        let asked: Arc<Mutex<BTreeMap<String, usize>>> = Arc::default();
        let counts = asked.clone();
        let zone: BTreeMap<String, MxAnswer> = zone
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect();
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
                *crate::lock(&counts).entry(name.clone()).or_default() += 1;
                let mut r = Message::new(q.metadata.id, MessageType::Response, OpCode::Query);
                r.metadata.recursion_desired = q.metadata.recursion_desired;
                r.metadata.recursion_available = true;
                r.add_query(query.clone());
                match zone.get(&name) {
                    Some(MxAnswer::Silent) => continue,
                    Some(MxAnswer::Hosts(hosts)) if query.query_type() == RecordType::MX => {
                        for (i, h) in hosts.iter().enumerate() {
                            let Ok(exchange) = Name::from_ascii(h) else {
                                continue;
                            };
                            let mx = MX::new(10 * (i as u16 + 1), exchange);
                            r.add_answer(Record::from_rdata(
                                query.name().clone(),
                                300,
                                RData::MX(mx),
                            ));
                        }
                    }
                    Some(MxAnswer::Hosts(_)) => {}
                    None => r.metadata.response_code = ResponseCode::NXDomain,
                }
                if let Ok(bytes) = r.to_vec() {
                    let _ = sock.send_to(&bytes, peer).await;
                }
            }
        });
        DnsServer { addr, asked }
    }

    /// How many questions named `name` (fully qualified, `x.com.`).
    pub fn asked(&self, name: &str) -> usize {
        crate::lock(&self.asked)
            .get(&name.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }
}
