//! The steps of the hierarchy (ASG-1) in order, each recorded in the trace: junk, known
//! person, account, personal email, qualification, nurture, the matrix, the default team
//! and the catch-all. A step that names a target hands it to `resolve`.

use super::facts::junk_reason;
use super::{Ctx, Outcome, cat, start_reason};
use crate::config::{Layer, QueueRole, Target, Tier};
use crate::matrix::ones;
use crate::normalize::company_key;
use crate::state::PriorStatus;
use crate::text::Text;
use crate::trace::*;

impl<'a> Ctx<'a> {
    pub(super) fn route(&mut self) -> (RoutePath, Outcome, Option<Text>, String) {
        let cfg = self.cfg;
        // VAL-2: junk never reaches a rep.
        let junk = junk_reason(cfg, self.input.lead, self.input.enrichment, &self.facts);
        self.steps.push(Step::Junk {
            reason: junk.clone(),
        });
        if let Some(r) = junk {
            return (
                RoutePath::Junk,
                Outcome::Queue(cfg.queue(QueueRole::Junk)),
                None,
                start_reason(&["junk: ", &r]),
            );
        }

        // VAL-3 / VAL-4: a known person goes back to their owner.
        let state = self.input.state;
        if let Some(prior) = self
            .facts
            .email
            .as_deref()
            .and_then(|e| state.people.person(e))
        {
            let email = self.facts.email.clone().unwrap_or_default();
            let owner = prior
                .owner
                .as_deref()
                .and_then(|o| cfg.rep_by_id.get(o).copied());
            let owner_name = prior.owner.clone();
            let usable = owner.filter(|r| cfg.rep(*r).active);
            let (path, outcome_text): (_, Text) = match (prior.status, prior.disqualified_at) {
                (PriorStatus::Open, _) => (
                    Some(RoutePath::KnownPerson),
                    "existing person: stays with the current owner".into(),
                ),
                (PriorStatus::Disqualified, at) => {
                    let days = at
                        .map(|t| (self.input.now.duration_since(t).as_hours() / 24).max(0))
                        .unwrap_or(i64::MAX);
                    if days < cfg.routing.recycle_after_days as i64 {
                        let note = prior
                            .note
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default();
                        let text = format!(
                            "recycled: disqualified {days} day(s) ago{note}; back to the original rep"
                        );
                        self.notes.push(format!(
                            "Previous interaction: disqualified {days} day(s) ago{note}."
                        ));
                        (Some(RoutePath::Recycled), text.into())
                    } else {
                        (
                            None,
                            format!(
                                "disqualified {} day(s) ago, older than {} days: treated as new",
                                if days == i64::MAX {
                                    "?".into()
                                } else {
                                    days.to_string()
                                },
                                cfg.routing.recycle_after_days
                            )
                            .into(),
                        )
                    }
                }
            };
            match (path, usable) {
                (Some(path), Some(rep)) => {
                    self.steps.push(Step::KnownPerson {
                        email,
                        owner: owner_name,
                        outcome: outcome_text.clone(),
                    });
                    self.keep_owner = Some(rep);
                    let (out, cover) = self.keep_with_owner(rep);
                    let headline = match cover {
                        Some(c) => start_reason(&[&outcome_text, " (", &c, ")"]),
                        None => start_reason(&[&outcome_text]),
                    };
                    return (path, out, None, headline);
                }
                (Some(_), None) if prior.owner.is_some() => {
                    self.flags.push(Flag::PriorOwnerInactive);
                    self.steps.push(Step::KnownPerson {
                        email,
                        owner: owner_name,
                        outcome: "owner inactive or unknown: routed as new and flagged".into(),
                    });
                }
                (Some(_), None) => self.steps.push(Step::KnownPerson {
                    email,
                    owner: None,
                    outcome: "known person without an owner: routed as new".into(),
                }),
                (None, _) => self.steps.push(Step::KnownPerson {
                    email,
                    owner: owner_name,
                    outcome: outcome_text,
                }),
            }
        }

        // ACC-1 / ACC-2 / ACC-3: account match.
        let account = self.match_account();
        if let Some((idx, by)) = account {
            let a = &cfg.accounts[idx as usize];
            self.account = Some(a.domain.clone());
            let kind = if a.named { "named account" } else { "account" };
            let path = if a.named {
                RoutePath::NamedAccount
            } else {
                RoutePath::AccountOwner
            };
            let label = cat(&[&a.name, " (", &a.domain, ")"]);
            match a.owner {
                Some(owner) => {
                    let active = cfg.rep(owner).active;
                    let outcome: Text = if active {
                        "account owner wins".into()
                    } else {
                        // ACC-4: keep the account with its team through the owner's
                        // fallback chain, and flag it for reassignment.
                        self.flags.push(Flag::AccountOwnerInactive);
                        self.notes.push(format!(
                            "Account {} ({}) is owned by inactive rep {}: reassign the account.",
                            a.name,
                            a.domain,
                            cfg.rep(owner).id
                        ));
                        "owner inactive: routed by the owner's fallback chain and flagged".into()
                    };
                    let headline = start_reason(&[kind, " ", &label]);
                    let held = if a.named && active && cfg.routing.hold_for_owner_within.is_some() {
                        Some(owner)
                    } else {
                        None
                    };
                    self.steps.push(Step::Account {
                        matched_by: Some(Text::from_static(by)),
                        account: Some(label),
                        owner: Some(cfg.text.rep_id[owner as usize].clone()),
                        named: a.named,
                        outcome,
                    });
                    if let Some(out) = held.and_then(|o| self.hold_for_owner(o)) {
                        return (path, out, None, headline);
                    }
                    let out = self.resolve(Target::Rep(owner), "account owner");
                    return (path, out, None, headline);
                }
                None => {
                    self.flags.push(Flag::AccountOwnerInactive);
                    let why = "account has no owner: routed by the matrix and flagged";
                    self.notes
                        .push(format!("Account {} ({}): {why}.", a.name, a.domain));
                    self.steps.push(Step::Account {
                        matched_by: Some(Text::from_static(by)),
                        account: Some(label),
                        owner: None,
                        named: a.named,
                        outcome: Text::from_static(why),
                    });
                }
            }
        } else {
            self.steps.push(Step::Account {
                matched_by: None,
                account: None,
                owner: None,
                named: false,
                outcome: match &self.facts.email_domain {
                    Some(d) => cat(&["no account for ", d]).into(),
                    None => "no usable email domain".into(),
                },
            });
        }

        if self.facts.personal_email && account.is_none() {
            let domain = self.facts.email_domain.clone().unwrap_or_default();
            let headline = start_reason(&[
                "personal email (",
                &domain,
                ") not mapped to a known account: needs review",
            ]);
            self.steps.push(Step::PersonalEmail {
                domain,
                outcome: "no account mapped from company or enrichment: review queue".into(),
            });
            return (
                RoutePath::PersonalEmailReview,
                Outcome::Queue(cfg.queue(QueueRole::Review)),
                None,
                headline,
            );
        }

        // ENR-5: neither size nor industry.
        if cfg.routing.route_unknown_firmographics
            && self.facts.segment.is_none()
            && self.facts.industry.is_none()
        {
            self.steps.push(Step::Qualification {
                outcome: "neither company size nor industry known: qualification queue".into(),
            });
            return (
                RoutePath::Qualification,
                Outcome::Queue(cfg.queue(QueueRole::Qualification)),
                None,
                start_reason(&["company size and industry both unknown: general qualification"]),
            );
        }

        // TIER-4: unqualified to nurture.
        let tier = self.facts.tier.unwrap_or(Tier::Standard);
        if tier == Tier::Standard && self.facts.score < cfg.scoring.nurture_below {
            let text = format!(
                "tier standard with score {} below {}: nurture",
                self.facts.score, cfg.scoring.nurture_below
            );
            let headline = start_reason(&["unqualified (", &text, ")"]);
            self.steps.push(Step::Nurture { outcome: text });
            return (
                RoutePath::Nurture,
                Outcome::Queue(cfg.queue(QueueRole::Nurture)),
                None,
                headline,
            );
        }

        // SEG-2 matrix.
        let values = crate::config::Dim::ALL.map(|d| self.facts.dim(d));
        let cands = cfg.rule_index.candidate_bits(&values);
        let mut it = ones(&cands);
        let count = cands.iter().map(|w| w.count_ones()).sum::<u32>();
        if let Some(w) = it.next() {
            let rule = &cfg.rules[w];
            let also: Vec<Text> = it
                .map(|i| (i, &cfg.rules[i]))
                .take_while(|(_, r)| {
                    r.priority == rule.priority
                        && r.layer == rule.layer
                        && r.specificity == rule.specificity
                })
                .filter(|(_, r)| r.target != rule.target)
                .map(|(i, _)| cfg.text.rule_id[i].clone())
                .collect();
            if !also.is_empty() {
                self.flags.push(Flag::AmbiguousRule);
            }
            let id = &cfg.text.rule_id[w];
            self.steps.push(Step::Matrix {
                matched: Some(RuleRef {
                    id: id.clone(),
                    layer: rule.layer,
                    priority: rule.priority,
                    origin: cfg.text.rule_origin[w].clone(),
                }),
                also_matched: also,
                candidates: count,
                rules: cfg.rules.len() as u32,
                considered: Vec::new(),
            });
            let path = match rule.layer {
                Layer::Territory => RoutePath::Territory,
                Layer::Segment => RoutePath::Segment,
            };
            let out = self.resolve(rule.target, "rule target");
            let headline = start_reason(&[
                path.label(),
                " ",
                id,
                " matched",
                &cfg.text.rule_conditions[w],
            ]);
            return (path, out, Some(id.clone()), headline);
        }
        self.steps.push(Step::Matrix {
            matched: None,
            also_matched: Vec::new(),
            candidates: 0,
            rules: cfg.rules.len() as u32,
            considered: Vec::new(),
        });
        if let Some(t) = cfg.routing.default_team {
            let out = self.resolve(Target::Team(t), "default team");
            return (
                RoutePath::DefaultTeam,
                out,
                None,
                start_reason(&["no matrix rule matched: default team ", &cfg.team(t).id]),
            );
        }
        (
            RoutePath::CatchAll,
            Outcome::Queue(cfg.queue(QueueRole::CatchAll)),
            None,
            start_reason(&["no matrix rule matched and no default team: catch-all"]),
        )
    }

    fn match_account(&self) -> Option<(u32, &'static str)> {
        let cfg = self.cfg;
        if !self.facts.personal_email
            && let Some(d) = &self.facts.email_domain
            && let Some(a) = cfg.account_by_domain.get(d.as_str())
        {
            return Some((*a, "email domain"));
        }
        if let Some(d) = self.input.enrichment.and_then(|e| e.domain.as_deref())
            && let Some(a) = crate::domains::with_registrable_domain(d, |r| {
                r.and_then(|r| cfg.account_by_domain.get(r).copied())
            })
        {
            return Some((a, "enriched domain"));
        }
        // Company-name matching only where the email cannot say (ACC-3): a corporate
        // domain that is not an account is not overridden by a typed company name.
        if self.facts.personal_email || self.facts.email_domain.is_none() {
            for name in [
                self.input.lead.company.as_deref(),
                self.input.enrichment.and_then(|e| e.company.as_deref()),
            ]
            .into_iter()
            .flatten()
            {
                if let Some(a) = cfg.account_by_name.get(&company_key(name)) {
                    return Some((*a, "company name"));
                }
            }
        }
        None
    }
}
