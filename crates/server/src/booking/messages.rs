//! The messages a meeting sends (issue 22), rendered in the routing transaction like
//! every notice. The booking's data becomes an [`Invitation`] (UID = booking id,
//! SEQUENCE, METHOD, UTC times, organizer = rep, attendee = lead, the manage link), then
//! notify's meeting renderer ([`Renderer::meeting`]) writes the lead's and the rep's
//! emails (each in the reader's zone, with the iCalendar invitation attached), the rep's
//! Slack line "Meeting booked for …" and the `meeting.booked` / `meeting.rescheduled` /
//! `meeting.cancelled` webhooks. A booking is also the `lead.contacted` event (first
//! touch), sent by the sequencer's notices.

use jiff::Timestamp;
use leadrouter_core::booking::{Meeting, MeetingChange};
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::lead::Lead;
use leadrouter_notify::invite::Meeting as InviteMeeting;
use leadrouter_notify::render::{MeetingNotice, Renderer};
use leadrouter_notify::{LinkSigner, MeetingEvent, Outgoing, Person};
use serde::{Deserialize, Serialize};

/// What an invitation (METHOD:REQUEST or METHOD:CANCEL) for the meeting carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The booking id: the invitation's UID (with `@leadrouter` appended by renderers
    /// that want a domain part).
    pub uid: String,
    pub sequence: i64,
    /// `REQUEST` (booked or moved) or `CANCEL`.
    pub method: String,
    pub change: MeetingChange,
    pub start: Timestamp,
    pub end: Timestamp,
    pub summary: String,
    pub organizer_name: String,
    pub organizer_email: Option<String>,
    pub organizer_tz: String,
    pub attendee_name: Option<String>,
    pub attendee_email: Option<String>,
    pub attendee_tz: Option<String>,
    /// The page to move or cancel the meeting (signed), when links are signed.
    pub manage_url: Option<String>,
    pub previous_start: Option<Timestamp>,
}

/// The invitation for `m` (None when the rep is no longer in the config).
pub fn invitation(
    cfg: &CompiledConfig,
    links: &LinkSigner,
    lead_id: &str,
    lead: &Lead,
    m: &Meeting,
) -> Option<Invitation> {
    let rep = cfg.rep(*cfg.rep_by_id.get(&m.rep)?);
    let title = cfg.booking.as_ref().map_or("Meeting", |b| b.title.as_str());
    let name = [lead.first_name.as_deref(), lead.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let company = lead
        .company
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    Some(Invitation {
        uid: m.booking_id.clone(),
        sequence: m.sequence,
        method: if m.change == MeetingChange::Cancelled {
            "CANCEL"
        } else {
            "REQUEST"
        }
        .into(),
        change: m.change,
        start: m.start,
        end: m.end,
        summary: match company {
            Some(c) => format!("{title}: {} / {c}", rep.name),
            None => format!("{title} with {}", rep.name),
        },
        organizer_name: rep.name.clone(),
        organizer_email: rep.email.clone(),
        organizer_tz: rep.tz_name.clone(),
        attendee_name: (!name.is_empty()).then_some(name),
        attendee_email: lead
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| leadrouter_core::domains::parse_email(e).is_ok())
            .map(str::to_string),
        attendee_tz: m.lead_tz.clone(),
        manage_url: (m.change != MeetingChange::Cancelled)
            .then(|| super::token::manage_url(links, &m.booking_id, lead_id, m.end))
            .flatten(),
        previous_start: m.previous.map(|p| p.start),
    })
}

/// The meeting as the invitation describes it (notify's [`InviteMeeting`]): the
/// booking id as the UID, the rep as organizer, the lead as attendee, the booking's
/// manage page as the reschedule and cancel link. None when the lead has no email
/// address to invite.
pub fn invite_meeting(inv: &Invitation, title: &str, now: Timestamp) -> Option<InviteMeeting> {
    Some(InviteMeeting {
        uid: InviteMeeting::uid_for(&inv.uid, "leadrouter"),
        sequence: u32::try_from(inv.sequence).unwrap_or(0),
        start: inv.start,
        end: inv.end,
        summary: inv.summary.clone(),
        description: format!("{title} booked through leadrouter."),
        organizer: Person {
            name: inv.organizer_name.clone(),
            email: inv.organizer_email.clone().unwrap_or_default(),
        },
        attendee: Person {
            name: inv.attendee_name.clone().unwrap_or_default(),
            email: inv.attendee_email.clone()?,
        },
        location: None,
        url: None,
        reschedule_url: inv.manage_url.clone(),
        cancel_url: inv.manage_url.clone(),
        created: None,
        dtstamp: now,
    })
}

/// The outbox messages for a meeting notice: notify's meeting renderer (both emails
/// with the iCalendar invitation, the rep's Slack line, the `meeting.*` webhooks).
pub fn render(
    cfg: &CompiledConfig,
    renderer: &Renderer,
    links: &LinkSigner,
    lead_id: &str,
    lead: &Lead,
    m: &Meeting,
    now: Timestamp,
) -> Vec<Outgoing> {
    let Some(inv) = invitation(cfg, links, lead_id, lead, m) else {
        return Vec::new();
    };
    let title = cfg.booking.as_ref().map_or("Meeting", |b| b.title.as_str());
    let Some(meeting) = invite_meeting(&inv, title, now) else {
        return Vec::new();
    };
    let event = match (m.change, m.previous) {
        (MeetingChange::Booked, _) => MeetingEvent::Booked,
        (MeetingChange::Rescheduled, Some(p)) => MeetingEvent::Rescheduled {
            previous_start: p.start,
            previous_end: p.end,
        },
        (MeetingChange::Rescheduled, None) => MeetingEvent::Booked,
        (MeetingChange::Cancelled, _) => MeetingEvent::Cancelled,
    };
    let rep = cfg.rep_by_id.get(&m.rep).map(|i| cfg.rep(*i));
    let notice = MeetingNotice {
        lead_id: lead_id.to_string(),
        meeting,
        event,
        lead_time_zone: inv
            .attendee_tz
            .clone()
            .unwrap_or_else(|| inv.organizer_tz.clone()),
        rep_id: m.rep.clone(),
        rep_time_zone: inv.organizer_tz.clone(),
        rep_slack: rep.and_then(|r| r.slack.clone()),
        team: rep
            .and_then(|r| r.team)
            .map(|t| cfg.teams[t as usize].id.to_string()),
        lead_company: lead.company.clone(),
    };
    renderer.meeting(&notice, now).messages
}
