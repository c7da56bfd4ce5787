//! What the owner and the lead get for a decision: the rep's notification on Slack, email
//! and SMS (NTF-1/2) and the lead's confirmation email written as from the rep (NTF-3).

use super::*;

impl Renderer {
    /// The owner's notification on each channel of the tier (NTF-1/2). `reassigned` is
    /// `Some(previous owner name)` for a reassignment.
    pub fn rep_notification(
        &self,
        ctx: &NotifyContext,
        reassigned: Option<Option<&str>>,
    ) -> Rendered {
        let mut out = Rendered::default();
        let kind = Kind::RepNotification;
        let Some(rep) = &ctx.rep else {
            let why = match &ctx.decision.owner {
                Some(o) => format!(
                    "owner {} has no contact details in the context (NotifyContext.rep)",
                    o.id
                ),
                None => "the lead has no owner".to_string(),
            };
            out.skip("all", kind, None, why);
            return out;
        };
        let mut tctx = self.template_context(ctx);
        if let Some(prev) = reassigned {
            tctx["reassigned"] = json!(true);
            if let Some(p) = prev {
                tctx["previous_owner"] = json!(p);
            }
        }
        let channels = self.cfg.channels.channels(
            ctx.decision.tier,
            ctx.decision.team.as_deref(),
            Some(&rep.id),
        );
        if channels.is_empty() {
            out.skip(
                "all",
                kind,
                Some(&rep.id),
                format!(
                    "no channels configured for {}",
                    tier_label(ctx.decision.tier)
                ),
            );
        }
        for channel in channels {
            match channel {
                ChannelKind::Slack => match self.slack_key_for_team(ctx.decision.team.as_deref()) {
                    None => out.skip(
                        "slack",
                        kind,
                        Some(&rep.id),
                        "no Slack webhook configured ([notify.slack])",
                    ),
                    Some(key) => {
                        let text = self.render(TemplateName::SlackText, &tctx, &mut out);
                        let payload = self.rep_slack_blocks(ctx, &tctx, &text);
                        out.messages.push(Outgoing {
                            channel: Channel::Slack,
                            recipient: key,
                            kind,
                            lead_id: ctx.lead_id.clone(),
                            payload,
                        });
                    }
                },
                ChannelKind::Email => {
                    let Some(email_cfg) = &self.cfg.email else {
                        out.skip(
                            "email",
                            kind,
                            Some(&rep.id),
                            "email is not configured ([notify.email])",
                        );
                        continue;
                    };
                    let Some(to) = rep
                        .email
                        .as_deref()
                        .filter(|a| a.parse::<lettre::Address>().is_ok())
                    else {
                        out.skip(
                            "email",
                            kind,
                            Some(&rep.id),
                            format!("rep {} has no valid email address", rep.id),
                        );
                        continue;
                    };
                    let subject = self.render(TemplateName::RepEmailSubject, &tctx, &mut out);
                    let text = self.render(TemplateName::RepEmailBody, &tctx, &mut out);
                    out.messages.push(email(
                        ctx,
                        kind,
                        EmailPayload {
                            from: email_cfg.from.clone(),
                            reply_to: None,
                            to: to.to_string(),
                            subject: clean_subject(&subject),
                            text,
                            html: None,
                        },
                    ));
                }
                ChannelKind::Sms => {
                    if self.cfg.sms.is_none() {
                        out.skip(
                            "sms",
                            kind,
                            Some(&rep.id),
                            "SMS is not configured ([notify.sms])",
                        );
                        continue;
                    }
                    let Some(phone) = rep.phone.as_deref().filter(|p| !p.trim().is_empty()) else {
                        out.skip(
                            "sms",
                            kind,
                            Some(&rep.id),
                            format!("rep {} has no phone number", rep.id),
                        );
                        continue;
                    };
                    let body = self.render(TemplateName::SmsBody, &tctx, &mut out);
                    out.messages.push(sms(ctx, kind, phone, &body));
                }
            }
        }
        out
    }

    fn rep_slack_blocks(&self, ctx: &NotifyContext, tctx: &Value, text: &str) -> Value {
        let d = &ctx.decision;
        let name = ctx.lead_name();
        let company = ctx.company();
        let action = action_label(&ctx.action_key());
        let mut b = Blocks::default();
        b.header(&format!(
            "{} lead: {}{}",
            tier_label(d.tier),
            name,
            company
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default()
        ));
        b.section(text);
        let esc = |s: Option<&str>, missing: &str| {
            s.map(mrkdwn_escape)
                .unwrap_or_else(|| format!("_{missing}_"))
        };
        let mut fields: Vec<(&str, String)> = vec![
            ("Company", esc(company.as_deref(), "unknown")),
            (
                "Size",
                esc(tctx["firmographics"]["size"].as_str(), "unknown"),
            ),
            ("Industry", esc(ctx.industry().as_deref(), "unknown")),
            ("Action", mrkdwn_escape(&action)),
            (
                "Score / tier",
                format!("{} · {}", d.score, tier_label(d.tier)),
            ),
            ("Email", esc(tctx["lead"]["email"].as_str(), "not given")),
        ];
        if let Some(seg) = &d.segment {
            fields.push(("Segment", mrkdwn_escape(seg)));
        }
        if ctx.is_hot() {
            fields.push(("Phone", esc(tctx["lead"]["phone"].as_str(), "not given")));
            fields.push((
                "LinkedIn",
                ctx.linkedin()
                    .map(|u| slack::link(u, "Profile"))
                    .unwrap_or_else(|| "_not found_".into()),
            ));
        }
        b.fields(&fields);
        if !ctx.reason_lines.is_empty() {
            let mut why = String::from("*Why it matched*");
            for r in &ctx.reason_lines {
                why.push_str("\n• ");
                why.push_str(&mrkdwn_escape(&one_line(r)));
            }
            b.section(&why);
        }
        let notes: Vec<String> = d
            .notes
            .iter()
            .map(|n| format!("Note: {}", mrkdwn_escape(&one_line(n))))
            .collect();
        b.context(&notes);
        let mut buttons = Vec::new();
        if let Some(u) = &ctx.accept_url {
            buttons.push(Button {
                text: "Accept",
                url: u,
                action_id: "accept",
                primary: true,
            });
        }
        if let Some(u) = &ctx.contacted_url {
            buttons.push(Button {
                text: "Mark contacted",
                url: u,
                action_id: "contacted",
                primary: false,
            });
        }
        buttons.push(Button {
            text: "Open record",
            url: &ctx.record_url,
            action_id: "open_record",
            primary: false,
        });
        b.buttons(&buttons);
        let fallback = format!(
            "{} lead for {}: {}{} ({})",
            tier_label(d.tier),
            ctx.rep
                .as_ref()
                .map(|r| r.name.as_str())
                .unwrap_or("nobody"),
            name,
            company
                .as_deref()
                .map(|c| format!(", {c}"))
                .unwrap_or_default(),
            action
        );
        b.into_payload(&fallback)
    }

    /// The lead's confirmation email written as from the assigned rep (NTF-3), or why
    /// there is none: queued leads (junk, review, nurture, …), leads without an email,
    /// confirmations turned off, no email channel.
    pub fn lead_confirmation(&self, ctx: &NotifyContext) -> Result<Outgoing, String> {
        let Some(email_cfg) = &self.cfg.email else {
            return Err("email is not configured ([notify.email])".into());
        };
        if let Some(why) = email_cfg
            .lead_confirmation
            .off_for(ctx.lead.action.as_deref())
        {
            return Err(why);
        }
        if let Some(why) = &ctx.confirmation_off {
            return Err(why.clone());
        }
        let d = &ctx.decision;
        let queued = matches!(
            d.path,
            RoutePath::Junk
                | RoutePath::PersonalEmailReview
                | RoutePath::Qualification
                | RoutePath::Nurture
                | RoutePath::CatchAll
        );
        let (Some(rep), Some(_), None, false) = (&ctx.rep, &d.owner, &d.queue, queued) else {
            return Err(format!(
                "the lead is queued{}: no confirmation is sent for queued leads",
                d.queue
                    .as_deref()
                    .map(|q| format!(" in {q}"))
                    .unwrap_or_default()
            ));
        };
        let Some(to) = ctx.lead.email.as_deref() else {
            return Err("the lead gave no email address".into());
        };
        let Ok(to_addr) = to.parse::<lettre::Address>() else {
            return Err(format!("the lead's email address {to:?} is not valid"));
        };
        let configured: lettre::message::Mailbox = email_cfg
            .from
            .parse()
            .map_err(|e| format!("notify.email.from is not a mailbox: {e}"))?;
        let rep_addr = rep
            .email
            .as_deref()
            .and_then(|a| a.parse::<lettre::Address>().ok());
        let rep_name = one_line(&rep.name);
        let (from, reply_to) = match (email_cfg.confirmation_sender, rep_addr) {
            (ConfirmationSender::RepAddress, Some(a)) => {
                (lettre::message::Mailbox::new(Some(rep_name), a), None)
            }
            (_, rep_addr) => (
                lettre::message::Mailbox::new(Some(rep_name), configured.email),
                rep_addr.map(|a| {
                    lettre::message::Mailbox::new(Some(one_line(&rep.name)), a).to_string()
                }),
            ),
        };
        let mut scratch = Rendered::default();
        let tctx = self.template_context(ctx);
        let subject = self.render(TemplateName::LeadConfirmationSubject, &tctx, &mut scratch);
        let text = self.render(TemplateName::LeadConfirmationBody, &tctx, &mut scratch);
        let to_box = lettre::message::Mailbox::new(
            Some(one_line(&ctx.lead_name())).filter(|n| !n.contains('@')),
            to_addr,
        );
        Ok(email(
            ctx,
            Kind::LeadConfirmation,
            EmailPayload {
                from: from.to_string(),
                reply_to,
                to: to_box.to_string(),
                subject: clean_subject(&subject),
                text,
                html: None,
            },
        ))
    }
}
