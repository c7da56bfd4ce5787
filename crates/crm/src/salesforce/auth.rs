//! The OAuth 2.0 JWT bearer flow for a connected app (Salesforce Help, "OAuth 2.0 JWT
//! Bearer Flow for Server-to-Server Integration"): an RS256-signed assertion with `iss`
//! = the consumer key, `sub` = the integration user's username, `aud` = the login URL
//! and `exp` at most 3 minutes ahead, posted as
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=…` to
//! `{login_url}/services/oauth2/token`. The answer carries the access token, the
//! instance URL and the identity URL `…/id/{orgId}/{userId}`, which names the
//! integration user (the user our own changes are made as: loop prevention).

use super::SalesforceSettings;
use crate::model::CallError;
use serde::{Deserialize, Serialize};

/// A granted session.
#[derive(Clone, Debug)]
pub(crate) struct Session {
    pub token: String,
    pub instance_url: String,
    /// The integration user's Id (from the identity URL).
    pub user_id: Option<String>,
    pub org_id: Option<String>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    exp: i64,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    instance_url: Option<String>,
    id: Option<String>,
}

#[derive(Deserialize)]
struct TokenError {
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Sign a fresh assertion (valid for 3 minutes from `now_secs`).
pub(crate) fn assertion(s: &SalesforceSettings, now_secs: i64) -> Result<String, CallError> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(s.private_key_pem.as_bytes()).map_err(|e| {
        CallError::Auth(format!(
            "the connected app's private key is not an RSA PEM key ({e}): set it to the key whose certificate the app holds"
        ))
    })?;
    let claims = Claims {
        iss: &s.client_id,
        sub: &s.username,
        aud: s.audience(),
        exp: now_secs + 180,
    };
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &claims,
        &key,
    )
    .map_err(|e| CallError::Auth(format!("could not sign the JWT assertion: {e}")))
}

/// Exchange an assertion for a session.
pub(crate) async fn grant(
    http: &reqwest::Client,
    s: &SalesforceSettings,
) -> Result<Session, CallError> {
    let jwt = assertion(s, jiff::Timestamp::now().as_second())?;
    let url = format!(
        "{}/services/oauth2/token",
        s.login_url.trim_end_matches('/')
    );
    let resp = http
        .post(&url)
        .form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", jwt.as_str()),
        ])
        .send()
        .await
        .map_err(super::wire::transport)?;
    let status = resp.status();
    let body = resp.bytes().await.map_err(super::wire::transport)?;
    if status.is_success() {
        let t: TokenAnswer = serde_json::from_slice(&body).map_err(|e| {
            CallError::Invalid(format!(
                "the token endpoint answered with an unexpected body: {e}"
            ))
        })?;
        let (org_id, user_id) =
            t.id.as_deref()
                .and_then(identity_ids)
                .map(|(o, u)| (Some(o), Some(u)))
                .unwrap_or((None, None));
        let instance_url = if s.instance_url.is_empty() {
            t.instance_url.unwrap_or_default()
        } else {
            s.instance_url.clone()
        };
        if instance_url.is_empty() {
            return Err(CallError::Invalid(
                "no instance URL: set the Salesforce instance URL".into(),
            ));
        }
        return Ok(Session {
            token: t.access_token,
            instance_url: instance_url.trim_end_matches('/').to_string(),
            user_id,
            org_id,
        });
    }
    if status.is_server_error() {
        return Err(CallError::Unavailable(format!(
            "the token endpoint answered {status}"
        )));
    }
    match serde_json::from_slice::<TokenError>(&body) {
        Ok(e) => Err(CallError::Auth(format!(
            "{}: {} (check the consumer key, the username, the login URL and that the integration user is pre-authorised for the connected app)",
            e.error, e.error_description
        ))),
        Err(_) => Err(CallError::Auth(format!(
            "the token endpoint answered {status}: {}",
            String::from_utf8_lossy(&body[..body.len().min(300)])
        ))),
    }
}

/// `https://login.salesforce.com/id/00Dx…/005x…` → (org id, user id).
fn identity_ids(url: &str) -> Option<(String, String)> {
    let mut parts = url.trim_end_matches('/').rsplit('/');
    let user = parts.next()?;
    let org = parts.next()?;
    (parts.next()? == "id").then(|| (org.to_string(), user.to_string()))
}

#[cfg(test)]
mod tests {
    use super::identity_ids;

    #[test]
    fn identity_url_names_org_and_user() {
        assert_eq!(
            identity_ids("https://login.salesforce.com/id/00D5g000004LeadRtr/005000000000001AAA"),
            Some(("00D5g000004LeadRtr".into(), "005000000000001AAA".into()))
        );
        assert_eq!(identity_ids("https://login.salesforce.com/x/y"), None);
    }
}
