//! Salesforce Outbound Messages (SOAP API guide, "Outbound Messaging"): the
//! `notifications` call Salesforce posts — OrganizationId, ActionId, SessionId
//! (nillable), EnterpriseUrl, PartnerUrl and up to 100 `Notification` elements, each
//! its notification `Id` and an `sObject` with the fields the admin chose — and the two
//! answers: `notificationsResponse` with `<Ack>true</Ack>` (delivered: Salesforce stops
//! retrying) or a SOAP 1.1 fault (Salesforce retries for up to 24 hours).
//!
//! The parser reads element by element with quick-xml: the body is bounded before it is
//! read, a DOCTYPE is refused (so no entity can be declared or expanded), only XML's
//! predefined entities and character references are resolved, and the nesting depth,
//! the number of notifications and fields and each value's length are capped.

use quick_xml::escape::resolve_predefined_entity;
use quick_xml::events::Event;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Largest body accepted (100 notifications of a few dozen fields fit easily).
pub const MAX_OUTBOUND_BYTES: usize = 2 << 20;
/// The WSDL's `maxOccurs="100"`.
pub const MAX_NOTIFICATIONS: usize = 100;
/// Most fields one `sObject` may carry.
pub const MAX_FIELDS: usize = 500;
/// Longest value read, in bytes (a field's, an id's, a URL's).
pub const MAX_VALUE_BYTES: usize = 32 * 1024;
const MAX_DEPTH: usize = 8;

/// One parsed Outbound Message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutboundMessage {
    pub organization_id: String,
    pub action_id: String,
    pub session_id: Option<String>,
    pub enterprise_url: String,
    pub partner_url: String,
    pub notifications: Vec<Notification>,
}

/// One `Notification`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notification {
    /// The notification's own id (stable across Salesforce's retries).
    pub id: String,
    /// The sObject type (`Lead`), from `xsi:type="sf:Lead"`.
    pub object: String,
    /// The record's fields as sent (the record `Id` among them).
    pub fields: BTreeMap<String, String>,
}

impl Notification {
    /// The record's fields as JSON strings (for [`super::wire::inbound_lead`]).
    pub fn record(&self) -> Map<String, Value> {
        self.fields
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect()
    }
}

impl OutboundMessage {
    /// Whether the message comes from the org `expected` (15- or 18-character id).
    pub fn from_org(&self, expected: &str) -> bool {
        super::wire::same_id(expected.trim(), &self.organization_id)
    }
}

/// Why a body is not an Outbound Message.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OutboundError {
    #[error("the message is over {MAX_OUTBOUND_BYTES} bytes")]
    TooLarge,
    #[error("the message declares a DOCTYPE; DTDs and entity declarations are refused")]
    Doctype,
    #[error("unknown entity `&{0};` (only XML's predefined entities are allowed)")]
    Entity(String),
    #[error("not well-formed XML: {0}")]
    Xml(String),
    #[error("not an Outbound Message: {0}")]
    Shape(String),
    #[error("more than {MAX_NOTIFICATIONS} notifications")]
    TooManyNotifications,
    #[error("{0}")]
    Limit(String),
}

#[derive(Default)]
struct Building {
    msg_fields: BTreeMap<&'static str, String>,
    session_nil: bool,
    notifications: Vec<Notification>,
    current: Option<Notification>,
    saw_notifications: bool,
}

/// Parse an Outbound Message body.
pub fn parse(body: &[u8]) -> Result<OutboundMessage, OutboundError> {
    if body.len() > MAX_OUTBOUND_BYTES {
        return Err(OutboundError::TooLarge);
    }
    let text =
        std::str::from_utf8(body).map_err(|e| OutboundError::Xml(format!("not UTF-8: {e}")))?;
    let mut reader = quick_xml::Reader::from_str(text);
    reader.config_mut().check_end_names = true;
    let mut stack: Vec<String> = Vec::new();
    let mut value = String::new();
    let mut b = Building::default();
    loop {
        let ev = reader
            .read_event()
            .map_err(|e| OutboundError::Xml(format!("{e} at byte {}", reader.buffer_position())))?;
        match ev {
            Event::DocType(_) => return Err(OutboundError::Doctype),
            Event::Start(e) => {
                let name = local(e.local_name().as_ref());
                open(&mut b, &stack, &name, &e)?;
                stack.push(name);
                if stack.len() > MAX_DEPTH {
                    return Err(OutboundError::Limit(format!(
                        "elements nested deeper than {MAX_DEPTH}"
                    )));
                }
                value.clear();
            }
            Event::Empty(e) => {
                let name = local(e.local_name().as_ref());
                open(&mut b, &stack, &name, &e)?;
                let nil = e.attributes().flatten().any(|a| {
                    local(a.key.local_name().as_ref()) == "nil" && a.value.as_ref() == b"true"
                });
                stack.push(name);
                value.clear();
                close(&mut b, &stack, String::new(), nil)?;
                stack.pop();
            }
            Event::Text(t) => {
                let s = t.decode().map_err(|e| OutboundError::Xml(e.to_string()))?;
                push_value(&mut value, &s)?;
            }
            Event::CData(t) => {
                let s = t.decode().map_err(|e| OutboundError::Xml(e.to_string()))?;
                push_value(&mut value, &s)?;
            }
            Event::GeneralRef(r) => {
                if let Some(c) = r
                    .resolve_char_ref()
                    .map_err(|e| OutboundError::Xml(e.to_string()))?
                {
                    push_value(&mut value, c.encode_utf8(&mut [0; 4]))?;
                } else {
                    let name = r.decode().map_err(|e| OutboundError::Xml(e.to_string()))?;
                    let s = resolve_predefined_entity(&name)
                        .ok_or_else(|| OutboundError::Entity(name.to_string()))?;
                    push_value(&mut value, s)?;
                }
            }
            Event::End(_) => {
                close(&mut b, &stack, std::mem::take(&mut value), false)?;
                stack.pop();
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !b.saw_notifications {
        return Err(OutboundError::Shape(
            "no soapenv:Envelope/soapenv:Body/notifications element".into(),
        ));
    }
    let mut take = |k: &'static str| {
        b.msg_fields
            .remove(k)
            .ok_or_else(|| OutboundError::Shape(format!("`{k}` is missing")))
    };
    let organization_id = take("OrganizationId")?;
    let action_id = take("ActionId")?;
    let enterprise_url = take("EnterpriseUrl").unwrap_or_default();
    let partner_url = take("PartnerUrl").unwrap_or_default();
    let session_id = if b.session_nil {
        None
    } else {
        b.msg_fields.remove("SessionId").filter(|s| !s.is_empty())
    };
    if b.notifications.is_empty() {
        return Err(OutboundError::Shape("no Notification element".into()));
    }
    Ok(OutboundMessage {
        organization_id,
        action_id,
        session_id,
        enterprise_url,
        partner_url,
        notifications: b.notifications,
    })
}

fn local(name: &[u8]) -> String {
    String::from_utf8_lossy(name).into_owned()
}

fn push_value(value: &mut String, s: &str) -> Result<(), OutboundError> {
    if value.len() + s.len() > MAX_VALUE_BYTES {
        return Err(OutboundError::Limit(format!(
            "a value is over {MAX_VALUE_BYTES} bytes"
        )));
    }
    value.push_str(s);
    Ok(())
}

fn path_is(stack: &[String], want: &[&str]) -> bool {
    stack.len() == want.len() && stack.iter().zip(want).all(|(a, b)| a == b)
}

const NOTIFICATIONS: [&str; 3] = ["Envelope", "Body", "notifications"];

fn open(
    b: &mut Building,
    stack: &[String],
    name: &str,
    e: &quick_xml::events::BytesStart,
) -> Result<(), OutboundError> {
    match stack.len() {
        0 if name != "Envelope" => {
            return Err(OutboundError::Shape(format!(
                "the root is `{name}`, not soapenv:Envelope"
            )));
        }
        2 if path_is(stack, &NOTIFICATIONS[..2]) && name == "notifications" => {
            b.saw_notifications = true
        }
        3 if path_is(stack, &NOTIFICATIONS) && name == "Notification" => {
            if b.notifications.len() >= MAX_NOTIFICATIONS {
                return Err(OutboundError::TooManyNotifications);
            }
            b.current = Some(Notification {
                id: String::new(),
                object: String::new(),
                fields: BTreeMap::new(),
            });
        }
        4 if name == "sObject" && path_is(&stack[..3], &NOTIFICATIONS) => {
            let ty = e
                .attributes()
                .flatten()
                .find(|a| local(a.key.local_name().as_ref()) == "type")
                .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                .unwrap_or_default();
            let ty = ty.rsplit(':').next().unwrap_or_default().to_string();
            if let Some(n) = b.current.as_mut() {
                n.object = ty;
            }
        }
        _ => {}
    }
    Ok(())
}

fn close(
    b: &mut Building,
    stack: &[String],
    value: String,
    nil: bool,
) -> Result<(), OutboundError> {
    let Some(name) = stack.last() else {
        return Ok(());
    };
    let parent = &stack[..stack.len() - 1];
    if path_is(parent, &NOTIFICATIONS) {
        let key: Option<&'static str> = match name.as_str() {
            "OrganizationId" => Some("OrganizationId"),
            "ActionId" => Some("ActionId"),
            "SessionId" => {
                b.session_nil |= nil;
                Some("SessionId")
            }
            "EnterpriseUrl" => Some("EnterpriseUrl"),
            "PartnerUrl" => Some("PartnerUrl"),
            "Notification" => {
                let n = b
                    .current
                    .take()
                    .ok_or_else(|| OutboundError::Shape("unbalanced Notification".into()))?;
                if n.id.is_empty() {
                    return Err(OutboundError::Shape("a Notification has no Id".into()));
                }
                if !n.fields.contains_key("Id") {
                    return Err(OutboundError::Shape(format!(
                        "notification {} has no sObject Id",
                        n.id
                    )));
                }
                b.notifications.push(n);
                None
            }
            _ => None,
        };
        if let Some(k) = key
            && name != "Notification"
        {
            b.msg_fields.insert(k, value.trim().to_string());
        }
        return Ok(());
    }
    if parent.len() == 4
        && path_is(&parent[..3], &NOTIFICATIONS)
        && parent[3] == "Notification"
        && name == "Id"
    {
        if let Some(n) = b.current.as_mut() {
            n.id = value.trim().to_string();
        }
        return Ok(());
    }
    if parent.len() == 5
        && path_is(&parent[..3], &NOTIFICATIONS)
        && parent[4] == "sObject"
        && let Some(n) = b.current.as_mut()
    {
        if n.fields.len() >= MAX_FIELDS {
            return Err(OutboundError::Limit(format!(
                "an sObject has more than {MAX_FIELDS} fields"
            )));
        }
        if !nil {
            n.fields.insert(name.clone(), value);
        }
    }
    Ok(())
}

/// The answer that tells Salesforce the message was delivered (HTTP 200).
pub fn ack() -> String {
    r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound"><Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>
"#
    .to_string()
}

/// A SOAP 1.1 fault (HTTP 500): Salesforce keeps the message and retries. `client`:
/// the message itself is at fault (`soapenv:Client`), else the server (`soapenv:Server`).
pub fn fault(client: bool, message: &str) -> String {
    let code = if client {
        "soapenv:Client"
    } else {
        "soapenv:Server"
    };
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><soapenv:Fault><faultcode>{code}</faultcode><faultstring>{}</faultstring></soapenv:Fault></soapenv:Body></soapenv:Envelope>
"#,
        quick_xml::escape::escape(message)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const ONE: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
   <OrganizationId>00D5g000004LeadRtr</OrganizationId>
   <ActionId>04k5g000000LeadRtr</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://acme.my.salesforce.com/services/Soap/c/62.0/00D5g000004LeadRtr</EnterpriseUrl>
   <PartnerUrl>https://acme.my.salesforce.com/services/Soap/u/62.0/00D5g000004LeadRtr</PartnerUrl>
   <Notification>
    <Id>04l5g0000000001</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q000000000001AAA</sf:Id>
     <sf:Company>Smith &amp; Sons &#x2014; Ltd</sf:Company>
     <sf:Email>jane@acme.com</sf:Email>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"#;

    #[test]
    fn reads_the_documented_envelope() {
        let m = parse(ONE.as_bytes()).unwrap();
        assert_eq!(m.organization_id, "00D5g000004LeadRtr");
        assert!(m.from_org("00D5g000004LeadRtr"));
        assert!(!m.from_org("00D5g000004Other1"));
        assert_eq!(m.session_id, None);
        assert_eq!(m.notifications.len(), 1);
        let n = &m.notifications[0];
        assert_eq!(n.id, "04l5g0000000001");
        assert_eq!(n.object, "Lead");
        assert_eq!(n.fields["Company"], "Smith & Sons \u{2014} Ltd");
        assert_eq!(n.fields["Id"], "00Q000000000001AAA");
    }

    #[test]
    fn refuses_doctype_and_unknown_entities() {
        let xxe = format!(
            "<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>{}",
            &ONE[ONE.find("<soapenv:Envelope").unwrap()..]
        );
        assert_eq!(parse(xxe.as_bytes()), Err(OutboundError::Doctype));
        let ent = ONE.replace("&amp;", "&e;");
        assert_eq!(
            parse(ent.as_bytes()),
            Err(OutboundError::Entity("e".into()))
        );
    }

    #[test]
    fn caps_notifications_and_size() {
        let one = &ONE[ONE.find("<Notification>").unwrap()..ONE.find("</notifications>").unwrap()];
        let many = ONE.replace(one, &one.repeat(101));
        assert_eq!(
            parse(many.as_bytes()),
            Err(OutboundError::TooManyNotifications)
        );
        let hundred = ONE.replace(one, &one.repeat(100));
        assert_eq!(parse(hundred.as_bytes()).unwrap().notifications.len(), 100);
        assert_eq!(
            parse(&vec![b' '; MAX_OUTBOUND_BYTES + 1]),
            Err(OutboundError::TooLarge)
        );
        assert!(matches!(
            parse(b"<a><b></a>"),
            Err(OutboundError::Xml(_) | OutboundError::Shape(_))
        ));
        assert!(matches!(
            parse(b"<Envelope/>"),
            Err(OutboundError::Shape(_))
        ));
    }

    #[test]
    fn answers_are_soap() {
        assert!(ack().contains("<Ack>true</Ack>"));
        let f = fault(false, "storage <down>");
        assert!(f.contains("<faultcode>soapenv:Server</faultcode>"));
        assert!(f.contains("storage &lt;down&gt;"));
    }
}
