//! leadrouter-notify: everything said to people and systems after a routing decision.
//!
//! Three layers, so the caller can put the middle of them in a transactional outbox:
//!
//! 1. [`config`]: the `[notify]` table of the routing config, parsed and checked once
//!    (channels per tier/team/rep, Slack/SMTP/SMS/webhook endpoints, template overrides).
//!    Secrets are never in the file: the config names environment variables.
//! 2. [`render`]: pure functions from a [`NotifyContext`] (lead, decision, rep, links) to
//!    a list of [`Outgoing`] messages — Slack Block Kit, email, SMS, Standard Webhooks
//!    events. No I/O and no clock: the caller passes the time. Each [`Outgoing`] is plain
//!    serde data, so it can be stored in an outbox row and delivered later.
//! 3. [`deliver`]: [`Notifier::deliver`] sends one [`Outgoing`] and classifies the outcome
//!    as delivered, retry (with the server's Retry-After) or permanently failed. Retries,
//!    backoff and dead-lettering belong to the caller's outbox worker.
//!
//! [`invite`] writes the iCalendar invitation of a booked meeting (issue 22) and says how
//! the booking code asks for a meeting's messages ([`Renderer::meeting`]).
//!
//! [`links`] signs and verifies the accept/contacted links carried in notifications
//! (SLA-1: no login needed), and [`webhook`] holds the Standard Webhooks signature and the
//! private-address guard for outbound webhooks (NTF-4).

pub mod config;
pub mod deliver;
pub mod invite;
pub mod links;
pub mod message;
pub mod render;
mod slack;
mod templates;
mod text;
pub mod webhook;

pub use config::{
    ChannelKind, ConfigError, ConfigErrors, EventType, LeadConfirmation, NotifyConfig,
    TemplateName, WeeklyReportConfig,
};
pub use deliver::{Deliver, DeliveryResult, Notifier};
pub use invite::{Meeting, MeetingEvent, Method, Person};
pub use links::{LeadLinks, LinkAction, LinkClaim, LinkError, LinkSigner, sign_link, verify_link};
pub use message::{
    CalendarPart, Channel, EmailPayload, InvitationEmail, Kind, Outgoing, SmsPayload,
};
pub use render::{
    Contact, Firmographics, MeetingNotice, NotifyContext, Rendered, Renderer, RepContact, Skipped,
};
pub use webhook::{SignatureError, sign_webhook, verify_signature, verify_signature_at};
