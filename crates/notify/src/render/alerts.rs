//! The SLA ladder's messages: the manager's and leadership's alerts for an untouched lead
//! (SLA-2) and the alert for a lead left too long in a queue (SLA-3).

use super::*;

impl Renderer {
    /// SLA-2: the lead was not touched within `multiple` × the SLA. `multiple` 1 alerts the
    /// manager ([`Kind::ManagerAlert`]); 3 or more is a leadership alert
    /// ([`Kind::LeadershipAlert`]) — call once per leadership member. Channels come from
    /// `[notify.alerts].channels`.
    pub fn manager_alert(&self, ctx: &NotifyContext, manager: &Contact, multiple: u32) -> Rendered {
        let mut out = Rendered::default();
        if !self.cfg.enabled {
            return out;
        }
        let kind = if multiple >= 3 {
            Kind::LeadershipAlert
        } else {
            Kind::ManagerAlert
        };
        let mut tctx = self.template_context(ctx);
        let overdue =
            ctx.decision.sla.contact_within * i32::try_from(multiple.max(1)).unwrap_or(i32::MAX);
        tctx["multiple"] = json!(multiple);
        tctx["leadership"] = json!(multiple >= 3);
        tctx["overdue"] = json!(human_duration(overdue));
        tctx["manager"] = json!({
            "id": manager.id,
            "name": manager.name,
            "first_name": first_name(&manager.name),
            "email": manager.email,
            "phone": manager.phone,
            "slack": manager.slack,
            "slack_id": manager.slack.as_deref().and_then(slack_member_id),
        });
        strip_nulls(&mut tctx);
        for channel in &self.cfg.alerts.channels {
            match channel {
                ChannelKind::Slack => match self.slack_key_for_alerts(ctx.decision.team.as_deref())
                {
                    None => out.skip(
                        "slack",
                        kind,
                        Some(&manager.id),
                        "no Slack webhook configured ([notify.slack])",
                    ),
                    Some(key) => {
                        let text = self.render(TemplateName::AlertSlackText, &tctx, &mut out);
                        let mut b = Blocks::default();
                        b.header(&format!(
                            "SLA missed {multiple}x: {}{}",
                            ctx.lead_name(),
                            ctx.company().map(|c| format!(", {c}")).unwrap_or_default()
                        ));
                        b.section(&text);
                        b.fields(&[
                            (
                                "Owner",
                                mrkdwn_escape(
                                    ctx.rep
                                        .as_ref()
                                        .map(|r| r.name.as_str())
                                        .unwrap_or("unassigned"),
                                ),
                            ),
                            ("Tier", tier_label(ctx.decision.tier)),
                            ("SLA", human_duration(ctx.decision.sla.contact_within)),
                            ("Since assignment", human_duration(overdue)),
                        ]);
                        b.buttons(&[Button {
                            text: "Open record",
                            url: &ctx.record_url,
                            action_id: "open_record",
                            primary: true,
                        }]);
                        let payload = b.into_payload(&format!(
                            "SLA missed {multiple}x: {} ({})",
                            ctx.lead_name(),
                            manager.name
                        ));
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
                            Some(&manager.id),
                            "email is not configured ([notify.email])",
                        );
                        continue;
                    };
                    let Some(to) = manager
                        .email
                        .as_deref()
                        .filter(|a| a.parse::<lettre::Address>().is_ok())
                    else {
                        out.skip(
                            "email",
                            kind,
                            Some(&manager.id),
                            format!("{} has no valid email address", manager.id),
                        );
                        continue;
                    };
                    let subject = self.render(TemplateName::AlertEmailSubject, &tctx, &mut out);
                    let text = self.render(TemplateName::AlertEmailBody, &tctx, &mut out);
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
                            Some(&manager.id),
                            "SMS is not configured ([notify.sms])",
                        );
                        continue;
                    }
                    let Some(phone) = manager.phone.as_deref() else {
                        out.skip(
                            "sms",
                            kind,
                            Some(&manager.id),
                            format!("{} has no phone number", manager.id),
                        );
                        continue;
                    };
                    let body = self.render(TemplateName::AlertSmsBody, &tctx, &mut out);
                    out.messages.push(sms(ctx, kind, phone, &body));
                }
            }
        }
        out
    }

    /// SLA-3: a lead has sat in `queue` (or unassigned) for `age`. Goes to the
    /// `[notify.alerts]` queue recipients.
    pub fn queue_alert(&self, ctx: &NotifyContext, queue: &str, age: SignedDuration) -> Rendered {
        let mut out = Rendered::default();
        if !self.cfg.enabled {
            return out;
        }
        let kind = Kind::QueueAlert;
        let mut tctx = self.template_context(ctx);
        tctx["queue"] = json!(queue);
        tctx["age"] = json!(human_duration(age));
        for channel in &self.cfg.alerts.queue_channels {
            match channel {
                ChannelKind::Slack => match self.slack_key_for_alerts(None) {
                    None => out.skip(
                        "slack",
                        kind,
                        None,
                        "no Slack webhook configured ([notify.slack])",
                    ),
                    Some(key) => {
                        let text = self.render(TemplateName::QueueAlertSlackText, &tctx, &mut out);
                        let mut b = Blocks::default();
                        b.header(&format!("Lead waiting {} in {queue}", human_duration(age)));
                        b.section(&text);
                        b.context(&[format!(
                            "Reason: {}",
                            mrkdwn_escape(&one_line(&ctx.decision.reason))
                        )]);
                        b.buttons(&[Button {
                            text: "Open record",
                            url: &ctx.record_url,
                            action_id: "open_record",
                            primary: true,
                        }]);
                        let payload = b.into_payload(&format!(
                            "Lead waiting {} in {queue}: {}",
                            human_duration(age),
                            ctx.lead_name()
                        ));
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
                            None,
                            "email is not configured ([notify.email])",
                        );
                        continue;
                    };
                    if self.cfg.alerts.queue_email.is_empty() {
                        out.skip(
                            "email",
                            kind,
                            None,
                            "no queue alert recipients (notify.alerts.queue_email)",
                        );
                    }
                    let subject = self.render(TemplateName::QueueAlertSubject, &tctx, &mut out);
                    let text = self.render(TemplateName::QueueAlertBody, &tctx, &mut out);
                    for to in &self.cfg.alerts.queue_email {
                        out.messages.push(email(
                            ctx,
                            kind,
                            EmailPayload {
                                from: email_cfg.from.clone(),
                                reply_to: None,
                                to: to.clone(),
                                subject: clean_subject(&subject),
                                text: text.clone(),
                                html: None,
                            },
                        ));
                    }
                }
                ChannelKind::Sms => {
                    if self.cfg.sms.is_none() {
                        out.skip("sms", kind, None, "SMS is not configured ([notify.sms])");
                        continue;
                    }
                    let body = format!(
                        "Lead waiting {} in {queue}: {}. {}",
                        human_duration(age),
                        ctx.lead_name(),
                        ctx.record_url
                    );
                    for phone in &self.cfg.alerts.queue_sms {
                        out.messages.push(sms(ctx, kind, phone, &body));
                    }
                }
            }
        }
        out
    }
}
