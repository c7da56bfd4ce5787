//! The unit of delivery: one message, on one channel, to one recipient.
//!
//! [`Outgoing`] is plain serde data so the caller can store it in an outbox row and
//! deliver it later, possibly from another process. It holds no secrets: Slack webhook
//! URLs, SMS credentials and webhook signing keys are looked up by name at delivery.

use serde::{Deserialize, Serialize};

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Channel {
    Slack,
    Email,
    Sms,
    Webhook { name: String },
}

impl Channel {
    pub fn name(&self) -> &str {
        match self {
            Channel::Slack => "slack",
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Webhook { name } => name,
        }
    }

    /// The label stored on outbox rows and used in metrics: `slack`, `email`, `sms`,
    /// `webhook:<name>`. Delivery order is kept per lead, label and recipient.
    pub fn label(&self) -> String {
        match self {
            Channel::Webhook { name } => format!("webhook:{name}"),
            other => other.name().to_string(),
        }
    }
}

/// What a message is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// NTF-1/2: the owner learns about a lead.
    RepNotification,
    /// NTF-3: the lead hears back, as from the rep.
    LeadConfirmation,
    /// SLA-2 1×: the rep's manager.
    ManagerAlert,
    /// SLA-2 3×: sales leadership.
    LeadershipAlert,
    /// SLA-3: a lead sat unassigned or in a queue too long.
    QueueAlert,
    /// NTF-4: a signed event to another system.
    Webhook,
    /// MET-2: the weekly report to managers and sales leadership.
    WeeklyReport,
    /// MTG-1/2 (issue 22): a meeting booked, rescheduled or cancelled — the iCalendar
    /// invitation to the lead and the rep, the rep's Slack line.
    Meeting,
}

/// One message to deliver.
///
/// `recipient` is, by channel: Slack — the webhook key (`"default"`, a team id or
/// `"alerts"`), resolved to a URL at delivery; Email — the address; SMS — the phone
/// number; Webhook — the webhook's configured name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Outgoing {
    pub channel: Channel,
    pub recipient: String,
    pub kind: Kind,
    /// The lead this message is about, for per-lead ordering in the outbox.
    pub lead_id: String,
    /// Channel-specific body: Slack `{text, blocks, …}`, [`EmailPayload`],
    /// [`SmsPayload`], or the webhook event JSON as sent.
    pub payload: serde_json::Value,
}

/// The payload of an email message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailPayload {
    /// `Name <address>`.
    pub from: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply_to: Option<String>,
    pub to: String,
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// An HTML alternative to `text` (sent as multipart/alternative), e.g. the weekly report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub html: Option<String>,
}

/// The iCalendar part of an invitation email (RFC 6047 iMIP): sent as a
/// `text/calendar; method=…` alternative to the text, which is what Gmail and Outlook
/// show as an invitation with Yes/No buttons, and again as an `invite.ics` attachment
/// for clients that only offer attachments.
///
/// It travels next to the [`EmailPayload`] fields in the same JSON object (see
/// [`InvitationEmail`]), so readers of `EmailPayload` that do not know it still work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarPart {
    /// The iTIP method, `REQUEST` or `CANCEL`; the same as the object's METHOD.
    pub method: String,
    /// The VCALENDAR text, CRLF line ends (see `crate::invite::ics`).
    pub ics: String,
}

/// An email payload with an invitation attached: [`EmailPayload`]'s fields plus
/// `calendar`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationEmail {
    #[serde(flatten)]
    pub email: EmailPayload,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calendar: Option<CalendarPart>,
}

/// The payload of an SMS message (`From` comes from `[notify.sms]` at delivery).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SmsPayload {
    pub to: String,
    pub body: String,
}
