//! Message templates: the built-in defaults and `[notify.templates]` overrides (minijinja).
//!
//! Block tags trim the newline after them (`trim_blocks`, `lstrip_blocks`), so put
//! `{% if %}`/`{% for %}` on their own lines and use inline expressions
//! (`{{ ", " ~ lead.title if lead.title }}`) inside a line. Slack templates produce mrkdwn:
//! every value printed into them is escaped for Slack (`&`, `<`, `>`), so lead input can't
//! ping `<!channel>` or forge links; template literals are not escaped. Missing values
//! print as nothing.

use crate::config::{ConfigError, ConfigErrors, TemplateName, problem};
use crate::text::mrkdwn_escape;
use minijinja::syntax::SyntaxConfig;
use minijinja::value::Value;
use minijinja::{AutoEscape, Environment, UndefinedBehavior};
use std::collections::BTreeMap;

pub const REP_EMAIL_SUBJECT: &str = r#"[{{ decision.tier_label }}] {{ "Reassigned" if reassigned else "New" }} lead: {{ lead.name }}{{ ", " ~ lead.company if lead.company }} ({{ action.label }})"#;

pub const REP_EMAIL_BODY: &str = r#"{% if reassigned %}
{{ lead.name }} has been reassigned to you{{ " from " ~ previous_owner if previous_owner }}.
{% else %}
A new {{ decision.tier_label }} lead is yours, {{ rep.first_name }}.
{% endif %}

Lead:      {{ lead.name }}{{ ", " ~ lead.title if lead.title }}
Company:   {{ lead.company or "unknown" }}
Size:      {{ firmographics.size or "unknown" }}
Industry:  {{ firmographics.industry or "unknown" }}
Action:    {{ action.label }}
Score:     {{ decision.score }} · {{ decision.tier_label }}
Email:     {{ lead.email or "not given" }}
{% if hot %}
Phone:     {{ lead.phone or "not given" }}
LinkedIn:  {{ lead.linkedin or "not found" }}
{% endif %}

Contact within {{ sla.contact_within }}, by {{ sla.contact_by }}.

Why it matched:
{% for r in reasons %}
  - {{ r }}
{% endfor %}
{% for n in decision.notes %}
Note: {{ n }}
{% endfor %}

Open the record:  {{ links.record }}
{% if links.accept %}
Accept the lead:  {{ links.accept }}
{% endif %}
{% if links.contacted %}
Mark contacted:   {{ links.contacted }}
{% endif %}
"#;

pub const SLACK_TEXT: &str = r#"{% if rep.slack_id %}<@{{ rep.slack_id }}> {% endif %}{{ "Reassigned to you" if reassigned else "New lead for you" }}, *{{ rep.name }}*: *{{ lead.name }}*{{ " at " ~ lead.company if lead.company }}, {{ action.label }}.
*Score {{ decision.score }}* · {{ decision.tier_label }} · contact within *{{ sla.contact_within }}*{% if sla.contact_by_unix %} (by <!date^{{ sla.contact_by_unix }}^{time}|{{ sla.contact_by }}>){% endif %}"#;

pub const SMS_BODY: &str = r#"{{ decision.tier_label }} lead: {{ lead.name }}{{ ", " ~ lead.company if lead.company }}{{ " (" ~ firmographics.size ~ ")" if firmographics.size }}, {{ action.label }}.{{ " Call " ~ lead.phone ~ "." if hot and lead.phone }} Contact within {{ sla.contact_within }}.{{ " Accept: " ~ links.accept if links.accept else " " ~ links.record }}"#;

pub const LEAD_CONFIRMATION_SUBJECT: &str = r#"{% if action.key == "demo_request" %}Your demo request{% elif action.key == "content_download" %}Your download{% elif action.key == "trial_signup" %}Welcome to your trial{% else %}Thanks for getting in touch{% endif %}"#;

pub const LEAD_CONFIRMATION_BODY: &str = r#"Hi {{ lead.first_name or "there" }},

{% if action.key == "demo_request" %}
Thanks for requesting a demo{{ " of " ~ lead.product if lead.product }}. I'm {{ rep.name }}, and I'll be your point of contact.
{% if booking_link %}

You can pick a time that suits you here: {{ booking_link }}
{% else %}
I'll be in touch shortly to find a time.
{% endif %}
{% elif action.key == "content_download" %}
Thanks for your interest. I'm {{ rep.name }}, and I'm here if you have questions.
{% if asset_url %}

Here is your download: {{ asset_url }}
{% endif %}
{% if booking_link %}

If you'd like to talk it through, pick a time here: {{ booking_link }}
{% endif %}
{% elif action.key == "trial_signup" %}
Welcome aboard! I'm {{ rep.name }}, and I'll help you get the most out of your trial.
{% if onboarding_url %}

The quickest way to get started: {{ onboarding_url }}
{% endif %}
{% if booking_link %}

If a walkthrough would help, pick a time here: {{ booking_link }}
{% endif %}
{% else %}
Thanks for getting in touch. I'm {{ rep.name }}, and I'll get back to you shortly.
{% if booking_link %}

If it's easier, pick a time to talk here: {{ booking_link }}
{% endif %}
{% endif %}

{{ rep.signature or rep.name }}
"#;

pub const ALERT_EMAIL_SUBJECT: &str = r#"{{ "[Leadership] " if leadership }}SLA missed {{ multiple }}x: {{ lead.name }}{{ ", " ~ lead.company if lead.company }} ({{ rep.name or "unassigned" }})"#;

pub const ALERT_EMAIL_BODY: &str = r#"{{ manager.first_name or manager.name }},

{{ rep.name or "Nobody" }} has not contacted {{ lead.name }}{{ " (" ~ lead.company ~ ")" if lead.company }} within {{ overdue }} of assignment: {{ multiple }}x the {{ decision.tier_label }} SLA of {{ sla.contact_within }}.

Action:    {{ action.label }}
Score:     {{ decision.score }} · {{ decision.tier_label }}
Size:      {{ firmographics.size or "unknown" }}
Industry:  {{ firmographics.industry or "unknown" }}
{% if hot %}
Phone:     {{ lead.phone or "not given" }}
{% endif %}

Open the record: {{ links.record }}
"#;

pub const ALERT_SLACK_TEXT: &str = r#"{% if manager.slack_id %}<@{{ manager.slack_id }}> {% endif %}*SLA missed {{ multiple }}x*{{ " (leadership alert)" if leadership }}: *{{ lead.name }}*{{ " at " ~ lead.company if lead.company }} has not been contacted by {% if rep.slack_id %}<@{{ rep.slack_id }}>{% else %}{{ rep.name or "anyone" }}{% endif %} within {{ overdue }} ({{ decision.tier_label }}, SLA {{ sla.contact_within }})."#;

pub const ALERT_SMS_BODY: &str = r#"SLA missed {{ multiple }}x: {{ lead.name }}{{ ", " ~ lead.company if lead.company }} not contacted by {{ rep.name or "anyone" }} within {{ overdue }}. {{ links.record }}"#;

pub const QUEUE_ALERT_SUBJECT: &str = r#"Lead waiting {{ age }} in {{ queue }}: {{ lead.name }}{{ ", " ~ lead.company if lead.company }}"#;

pub const QUEUE_ALERT_BODY: &str = r#"{{ lead.name }}{{ " (" ~ lead.company ~ ")" if lead.company }} has waited {{ age }} in {{ queue }} without an owner.

Action:    {{ action.label }}
Score:     {{ decision.score }} · {{ decision.tier_label }}
Reason:    {{ decision.reason }}

Open the record: {{ links.record }}
"#;

pub const QUEUE_ALERT_SLACK_TEXT: &str = r#"*Lead waiting {{ age }}* in *{{ queue }}* without an owner: *{{ lead.name }}*{{ " at " ~ lead.company if lead.company }}, {{ action.label }} ({{ decision.tier_label }})."#;

pub fn default_source(name: TemplateName) -> &'static str {
    match name {
        TemplateName::RepEmailSubject => REP_EMAIL_SUBJECT,
        TemplateName::RepEmailBody => REP_EMAIL_BODY,
        TemplateName::SlackText => SLACK_TEXT,
        TemplateName::SmsBody => SMS_BODY,
        TemplateName::LeadConfirmationSubject => LEAD_CONFIRMATION_SUBJECT,
        TemplateName::LeadConfirmationBody => LEAD_CONFIRMATION_BODY,
        TemplateName::AlertEmailSubject => ALERT_EMAIL_SUBJECT,
        TemplateName::AlertEmailBody => ALERT_EMAIL_BODY,
        TemplateName::AlertSlackText => ALERT_SLACK_TEXT,
        TemplateName::AlertSmsBody => ALERT_SMS_BODY,
        TemplateName::QueueAlertSubject => QUEUE_ALERT_SUBJECT,
        TemplateName::QueueAlertBody => QUEUE_ALERT_BODY,
        TemplateName::QueueAlertSlackText => QUEUE_ALERT_SLACK_TEXT,
    }
}

const DEFAULT_PREFIX: &str = "default:";

/// Compiled templates: every default, plus the overrides.
pub struct Templates {
    env: Environment<'static>,
    overridden: Vec<TemplateName>,
}

impl std::fmt::Debug for Templates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Templates")
            .field("overridden", &self.overridden)
            .finish()
    }
}

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .build()
            .expect("default delimiters are valid"),
    );
    env.set_undefined_behavior(UndefinedBehavior::Chainable);
    env.set_auto_escape_callback(|name| {
        let key = name.strip_prefix(DEFAULT_PREFIX).unwrap_or(name);
        if TemplateName::parse(key).is_some_and(TemplateName::is_slack) {
            AutoEscape::Custom("slack".into())
        } else {
            AutoEscape::None
        }
    });
    env.set_formatter(|out, state, value| {
        if value.is_none() || value.is_undefined() {
            return Ok(());
        }
        match state.auto_escape() {
            AutoEscape::Custom(c) if c == "slack" && !value.is_safe() => {
                let s = match value.as_str() {
                    Some(s) => mrkdwn_escape(s),
                    None => mrkdwn_escape(&value.to_string()),
                };
                out.write_str(&s).map_err(minijinja::Error::from)
            }
            AutoEscape::Custom(_) => write!(out, "{value}").map_err(minijinja::Error::from),
            _ => minijinja::escape_formatter(out, state, value),
        }
    });
    env
}

impl Templates {
    /// The built-in templates only.
    pub fn empty() -> Templates {
        let mut env = environment();
        for name in TemplateName::ALL {
            env.add_template_owned(
                format!("{DEFAULT_PREFIX}{}", name.key()),
                default_source(name),
            )
            .expect("built-in templates compile");
        }
        Templates {
            env,
            overridden: Vec::new(),
        }
    }

    /// Compile the defaults and the overrides; each override is also trial-rendered
    /// against a sample lead so a template that only fails at render time (unknown filter,
    /// bad operation) is caught at config load.
    pub fn new(overrides: &BTreeMap<TemplateName, String>) -> Result<Templates, ConfigErrors> {
        let mut env = Templates::empty().env;
        let mut errs = Vec::new();
        for (name, source) in overrides {
            if let Err(e) = env.add_template_owned(name.key().to_string(), source.clone()) {
                errs.push(template_error(*name, source, &e));
            }
        }
        if !errs.is_empty() {
            return Err(ConfigErrors(errs));
        }
        let t = Templates {
            env,
            overridden: overrides.keys().copied().collect(),
        };
        let sample = crate::render::sample_template_context();
        for (name, source) in overrides {
            if let Err(e) = t.render_one(name.key(), &sample) {
                errs.push(template_error(*name, source, &e));
            }
        }
        if errs.is_empty() {
            Ok(t)
        } else {
            Err(ConfigErrors(errs))
        }
    }

    fn render_one(&self, name: &str, ctx: &serde_json::Value) -> Result<String, minijinja::Error> {
        self.env
            .get_template(name)?
            .render(Value::from(minijinja::value::Serde(ctx)))
    }

    /// Render `name` (the override when there is one). If an override fails on this
    /// particular context, the built-in template is used and the error returned beside it,
    /// so the message still goes out (NTF-5).
    pub fn render(&self, name: TemplateName, ctx: &serde_json::Value) -> (String, Option<String>) {
        let default = || {
            self.render_one(&format!("{DEFAULT_PREFIX}{}", name.key()), ctx)
                .unwrap_or_else(|e| format!("(template {} failed: {e})", name.key()))
        };
        if self.overridden.contains(&name) {
            match self.render_one(name.key(), ctx) {
                Ok(s) => (s, None),
                Err(e) => (
                    default(),
                    Some(format!(
                        "notify.templates.{} failed for this message ({e}); used the built-in template",
                        name.key()
                    )),
                ),
            }
        } else {
            (default(), None)
        }
    }
}

fn template_error(name: TemplateName, source: &str, e: &minijinja::Error) -> ConfigError {
    problem(
        format!("notify.templates.{}", name.key()),
        crate::text::truncate(&source.replace('\n', "\\n"), 80),
        e.to_string(),
        "fix the minijinja syntax; variables are listed in docs/notifications.md",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_render_the_sample() {
        let t = Templates::new(&BTreeMap::new()).unwrap();
        let ctx = crate::render::sample_template_context();
        for name in TemplateName::ALL {
            let (s, warn) = t.render(name, &ctx);
            assert!(warn.is_none());
            assert!(!s.contains("failed"), "{}: {s}", name.key());
            assert!(!s.trim().is_empty(), "{}", name.key());
        }
    }

    #[test]
    fn slack_values_are_escaped_literals_are_not() {
        let mut o = BTreeMap::new();
        o.insert(
            TemplateName::SlackText,
            "<@{{ id }}> *{{ name }}*".to_string(),
        );
        let t = Templates::new(&o).unwrap();
        let (s, _) = t.render(
            TemplateName::SlackText,
            &json!({"id": "U0123ABCD", "name": "<!channel> & co"}),
        );
        assert_eq!(s, "<@U0123ABCD> *&lt;!channel&gt; &amp; co*");
        // Not for email.
        let mut o = BTreeMap::new();
        o.insert(TemplateName::RepEmailSubject, "{{ name }}".to_string());
        let t = Templates::new(&o).unwrap();
        let (s, _) = t.render(TemplateName::RepEmailSubject, &json!({"name": "A & B"}));
        assert_eq!(s, "A & B");
    }

    #[test]
    fn runtime_failure_falls_back_to_default() {
        let mut o = BTreeMap::new();
        o.insert(
            TemplateName::SmsBody,
            "{{ 100 // decision.score }}".to_string(),
        );
        let t = Templates::new(&o).unwrap();
        // A value the sample never had: a zero score.
        let mut ctx = crate::render::sample_template_context();
        ctx["decision"]["score"] = json!(0);
        let (s, warn) = t.render(TemplateName::SmsBody, &ctx);
        assert!(warn.is_some(), "{s}");
        assert!(s.contains("lead"), "{s}");
    }
}
