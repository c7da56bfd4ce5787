//! The booking pages' signed tokens, made with the `[notify]` link secret under a domain
//! of their own (`LinkSigner::sign_with`), so a booking token is never an accept link
//! and the reverse. `b.<expires>.<lead id>` opens the booking page for a lead;
//! `m.<expires>.<booking id>.<lead id>` opens a booked meeting's reschedule/cancel page.
//! The lead id comes last so it may contain dots.

use jiff::Timestamp;
use leadrouter_notify::{LinkError, LinkSigner};

const DOMAIN: &[u8] = b"leadrouter-book-v1.";

/// What a verified token opens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    Book { lead_id: String },
    Manage { booking_id: String, lead_id: String },
}

pub fn book(signer: &LinkSigner, lead_id: &str, expires: Timestamp) -> Option<String> {
    signer.sign_with(DOMAIN, &format!("b.{}.{lead_id}", expires.as_second()))
}

pub fn manage(
    signer: &LinkSigner,
    booking_id: &str,
    lead_id: &str,
    expires: Timestamp,
) -> Option<String> {
    if booking_id.contains('.') {
        return None;
    }
    signer.sign_with(
        DOMAIN,
        &format!("m.{}.{booking_id}.{lead_id}", expires.as_second()),
    )
}

pub fn verify(signer: &LinkSigner, token: &str, now: Timestamp) -> Result<Claim, LinkError> {
    let payload = signer.verify_with(DOMAIN, token)?;
    let mut parts = payload.splitn(3, '.');
    let kind = parts.next().ok_or(LinkError::Malformed)?;
    let expires = parts
        .next()
        .and_then(|s| s.parse::<i64>().ok())
        .and_then(|s| Timestamp::from_second(s).ok())
        .ok_or(LinkError::Malformed)?;
    let rest = parts.next().ok_or(LinkError::Malformed)?;
    if now >= expires {
        return Err(LinkError::Expired(expires));
    }
    match kind {
        "b" if !rest.is_empty() => Ok(Claim::Book {
            lead_id: rest.to_string(),
        }),
        "m" => {
            let (b, l) = rest.split_once('.').ok_or(LinkError::Malformed)?;
            Ok(Claim::Manage {
                booking_id: b.to_string(),
                lead_id: l.to_string(),
            })
        }
        _ => Err(LinkError::Malformed),
    }
}

/// `base_url/book/{token}` for a lead, valid for `[booking] link_valid`.
pub fn book_url(
    signer: &LinkSigner,
    lead_id: &str,
    now: Timestamp,
    valid: jiff::SignedDuration,
) -> Option<String> {
    let t = book(signer, lead_id, now.saturating_add(valid).ok()?)?;
    Some(format!(
        "{}/book/{t}",
        signer.base_url().trim_end_matches('/')
    ))
}

/// `base_url/book/manage/{token}` for a meeting, valid until a day after it ends.
pub fn manage_url(
    signer: &LinkSigner,
    booking_id: &str,
    lead_id: &str,
    end: Timestamp,
) -> Option<String> {
    let expires = end
        .saturating_add(jiff::SignedDuration::from_hours(24))
        .ok()?;
    let t = manage(signer, booking_id, lead_id, expires)?;
    Some(format!(
        "{}/book/manage/{t}",
        signer.base_url().trim_end_matches('/')
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadrouter_notify::NotifyConfig;

    #[test]
    fn round_trip_and_refusals() {
        let s = LinkSigner::with_secret(&NotifyConfig::default(), &[7u8; 32]);
        let now: Timestamp = "2026-03-01T00:00:00Z".parse().unwrap();
        let later = now + jiff::SignedDuration::from_hours(1);
        let t = book(&s, "lead.1", later).unwrap();
        assert_eq!(
            verify(&s, &t, now),
            Ok(Claim::Book {
                lead_id: "lead.1".into()
            })
        );
        assert!(matches!(verify(&s, &t, later), Err(LinkError::Expired(_))));
        let m = manage(&s, "b1", "lead.1", later).unwrap();
        assert_eq!(
            verify(&s, &m, now),
            Ok(Claim::Manage {
                booking_id: "b1".into(),
                lead_id: "lead.1".into()
            })
        );
        // An accept link's token is not a booking token.
        let accept = s.links("lead.1", "ann", now).accept.unwrap();
        let tok = accept.rsplit('/').next().unwrap();
        assert_eq!(verify(&s, tok, now), Err(LinkError::BadSignature));
        let other = LinkSigner::with_secret(&NotifyConfig::default(), &[8u8; 32]);
        assert_eq!(verify(&other, &t, now), Err(LinkError::BadSignature));
    }
}
