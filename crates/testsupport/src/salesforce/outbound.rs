//! The Outbound Message envelope, as Salesforce's outbound messaging WSDL defines it:
//! `notifications` in `http://soap.sforce.com/2005/09/outbound` with OrganizationId,
//! ActionId, SessionId (nillable), EnterpriseUrl, PartnerUrl and 1–100 `Notification`
//! elements, each an `Id` (the notification's) and an `sObject` of `xsi:type="sf:Lead"`
//! whose fields are in `urn:sobject.enterprise.soap.sforce.com`.

/// One `Notification`: its id and the record's fields (the record `Id` first).
#[derive(Clone, Debug)]
pub struct OutboundNotification {
    pub id: String,
    pub object: String,
    pub fields: Vec<(String, String)>,
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

/// The SOAP 1.1 request body Salesforce posts to an outbound message endpoint.
pub fn outbound_message(
    org_id: &str,
    action_id: &str,
    session_id: Option<&str>,
    enterprise_url: &str,
    partner_url: &str,
    notifications: &[OutboundNotification],
) -> String {
    let mut s = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="http://soap.sforce.com/2005/09/outbound">
"#,
    );
    s.push_str(&format!(
        "   <OrganizationId>{}</OrganizationId>\n",
        esc(org_id)
    ));
    s.push_str(&format!("   <ActionId>{}</ActionId>\n", esc(action_id)));
    match session_id {
        Some(id) => s.push_str(&format!("   <SessionId>{}</SessionId>\n", esc(id))),
        None => s.push_str("   <SessionId xsi:nil=\"true\"/>\n"),
    }
    s.push_str(&format!(
        "   <EnterpriseUrl>{}</EnterpriseUrl>\n",
        esc(enterprise_url)
    ));
    s.push_str(&format!(
        "   <PartnerUrl>{}</PartnerUrl>\n",
        esc(partner_url)
    ));
    for n in notifications {
        s.push_str("   <Notification>\n");
        s.push_str(&format!("    <Id>{}</Id>\n", esc(&n.id)));
        s.push_str(&format!(
            "    <sObject xsi:type=\"sf:{}\" xmlns:sf=\"urn:sobject.enterprise.soap.sforce.com\">\n",
            esc(&n.object)
        ));
        for (k, v) in &n.fields {
            s.push_str(&format!("     <sf:{k}>{}</sf:{k}>\n", esc(v)));
        }
        s.push_str("    </sObject>\n   </Notification>\n");
    }
    s.push_str("  </notifications>\n </soapenv:Body>\n</soapenv:Envelope>\n");
    s
}
