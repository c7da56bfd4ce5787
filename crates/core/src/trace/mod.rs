//! The decision and its trace (EXP-1): every step the engine took, every rule that
//! matched, every candidate rep and why they were skipped, and the config version.
//!
//! The engine records the matrix step compactly (the winning rule, the others that matched,
//! how many were candidates). [`RoutingTrace::explain`] expands it into one line per rule
//! considered, with the condition that failed: the trace holds the normalised facts and
//! the config version, so the expansion is exact (EXP-2) and the hot path stays cheap.
//!
//! This module holds the decision and the trace's types; beside it are `skip` (why a rep
//! was passed over, and their local time), `candidates` (a team walk, recorded compactly),
//! `explain` and `render` (human text).

mod candidates;
mod explain;
mod render;
mod skip;

pub use candidates::{Candidate, Candidates, Verdict, WalkRep, WalkTable, WalkVerdict, Walked};
pub use skip::{LocalTime, Skip};

use crate::config::{Dim, Intent, Layer, Tier};
use crate::lead::FieldIssue;
use crate::text::Text;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    pub id: Text,
    pub name: Text,
}

/// Which branch of the hierarchy decided the lead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RoutePath {
    Junk,
    KnownPerson,
    Recycled,
    AccountOwner,
    NamedAccount,
    PersonalEmailReview,
    Qualification,
    Nurture,
    Territory,
    Segment,
    DefaultTeam,
    CatchAll,
    /// ASG-6: a person chose the owner.
    Manual,
}

impl RoutePath {
    pub fn label(self) -> &'static str {
        match self {
            RoutePath::Junk => "junk",
            RoutePath::KnownPerson => "known person",
            RoutePath::Recycled => "recycled",
            RoutePath::AccountOwner => "account owner",
            RoutePath::NamedAccount => "named account",
            RoutePath::PersonalEmailReview => "personal email review",
            RoutePath::Qualification => "qualification",
            RoutePath::Nurture => "nurture",
            RoutePath::Territory => "territory rule",
            RoutePath::Segment => "segment rule",
            RoutePath::DefaultTeam => "default team",
            RoutePath::CatchAll => "catch-all",
            RoutePath::Manual => "manual assignment",
        }
    }

    /// The path's name as serialised (`account_owner`): metrics labels and the replay's
    /// records use it for every lead, without a serialiser.
    pub fn key(self) -> &'static str {
        match self {
            RoutePath::Junk => "junk",
            RoutePath::KnownPerson => "known_person",
            RoutePath::Recycled => "recycled",
            RoutePath::AccountOwner => "account_owner",
            RoutePath::NamedAccount => "named_account",
            RoutePath::PersonalEmailReview => "personal_email_review",
            RoutePath::Qualification => "qualification",
            RoutePath::Nurture => "nurture",
            RoutePath::Territory => "territory",
            RoutePath::Segment => "segment",
            RoutePath::DefaultTeam => "default_team",
            RoutePath::CatchAll => "catch_all",
            RoutePath::Manual => "manual",
        }
    }
}

#[cfg(test)]
mod path_tests {
    use super::RoutePath;

    #[test]
    fn a_paths_key_is_its_serialised_name() {
        let all = [
            RoutePath::Junk,
            RoutePath::KnownPerson,
            RoutePath::Recycled,
            RoutePath::AccountOwner,
            RoutePath::NamedAccount,
            RoutePath::PersonalEmailReview,
            RoutePath::Qualification,
            RoutePath::Nurture,
            RoutePath::Territory,
            RoutePath::Segment,
            RoutePath::DefaultTeam,
            RoutePath::CatchAll,
            RoutePath::Manual,
        ];
        for p in all {
            assert_eq!(serde_json::to_value(p).unwrap(), p.key(), "{p:?}");
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// ACC-4: the matched account's owner is inactive or missing.
    AccountOwnerInactive,
    /// The known person's owner is inactive or unknown to this config.
    PriorOwnerInactive,
    /// Several rules matched at the same precedence; the first in file order won.
    AmbiguousRule,
    /// Some input fields could not be used.
    MalformedInput,
    /// The first choice was unavailable and a fallback took the lead.
    Fallback,
    /// Nobody on the path was available; the lead went to an overflow queue.
    NobodyAvailable,
    /// The email domain is on the free-mail list, but the company's own data (an account,
    /// an enrichment file, the CRM) names it: routed as a company domain.
    CompanyDomainOverFreeMailList,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sla {
    /// Deadline to have the lead with a person (queues: triage by then).
    pub route_by: Timestamp,
    /// Deadline for first touch; only for leads assigned to a rep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_by: Option<Timestamp>,
    pub route_within: jiff::SignedDuration,
    pub contact_within: jiff::SignedDuration,
}

/// The routing decision (CAP-1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub owner: Option<Owner>,
    pub queue: Option<Text>,
    pub path: RoutePath,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<Text>,
    /// Registrable domain of the matched account, if any (ACC-1/2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub segment: Option<Text>,
    pub tier: Tier,
    pub score: i32,
    pub intent: Intent,
    pub icp_fit: bool,
    pub sla: Sla,
    pub reason: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    pub config_version: Text,
    pub decided_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorePart {
    pub label: Text,
    pub points: i32,
}

/// The lead as the engine saw it after normalisation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Facts {
    pub email: Option<Text>,
    pub email_domain: Option<Text>,
    pub personal_email: bool,
    pub disposable_email: bool,
    /// The email domain is on the shipped free-mail list, but the company's own data names
    /// it (an account, an enrichment file or the CRM): treated as a company domain. What
    /// named it: "account", or "enrichment:PROVIDER".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_domain_by: Option<Text>,
    pub company: Option<String>,
    pub employees: Option<u32>,
    pub employees_source: Option<Text>,
    pub segment: Option<Text>,
    pub industry: Option<Text>,
    pub industry_source: Option<Text>,
    pub country: Option<Text>,
    pub region: Option<Text>,
    pub state: Option<Text>,
    pub postal_code: Option<String>,
    pub product: Option<Text>,
    pub lead_source: Option<Text>,
    pub action: Option<Text>,
    pub intent: Option<Intent>,
    pub icp_fit: bool,
    /// Why the lead fits the ICP or not, one line per criterion (filled by
    /// [`RoutingTrace::explain`], recomputed from the facts and the config).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub icp_checks: Vec<String>,
    pub score: i32,
    pub score_parts: Vec<ScorePart>,
    pub tier: Option<Tier>,
    /// The `[[tier_by_action]]` entry that set the tier over intent × fit, as labelled in
    /// the config ("demo_request → hot (config.toml:40)").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_by: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<FieldIssue>,
    /// ENR-2: which provider supplied each enriched field (field → provider or signal).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub enrichment_sources: BTreeMap<String, String>,
    /// ENR-2/3: providers that errored, timed out, were rate limited or skipped for the
    /// budget, in chain order; routing went on without them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enrichment_failures: Vec<String>,
}

impl Default for Facts {
    fn default() -> Self {
        Facts::with_issues(Vec::new())
    }
}

impl Facts {
    /// No facts yet but the input issues: field by field (rather than from
    /// `Default::default()`), so the engine builds it in place instead of copying a
    /// default.
    pub const fn with_issues(issues: Vec<FieldIssue>) -> Facts {
        Facts {
            email: None,
            email_domain: None,
            personal_email: false,
            disposable_email: false,
            company_domain_by: None,
            company: None,
            employees: None,
            employees_source: None,
            segment: None,
            industry: None,
            industry_source: None,
            country: None,
            region: None,
            state: None,
            postal_code: None,
            product: None,
            lead_source: None,
            action: None,
            intent: None,
            icp_fit: false,
            icp_checks: Vec::new(),
            score: 0,
            score_parts: Vec::new(),
            tier: None,
            tier_by: None,
            issues,
            enrichment_sources: BTreeMap::new(),
            enrichment_failures: Vec::new(),
        }
    }

    pub fn dim(&self, d: Dim) -> Option<&str> {
        match d {
            Dim::Segment => self.segment.as_deref(),
            Dim::Industry => self.industry.as_deref(),
            Dim::Region => self.region.as_deref(),
            Dim::Country => self.country.as_deref(),
            Dim::State => self.state.as_deref(),
            Dim::PostalCode => self.postal_code.as_deref(),
            Dim::Product => self.product.as_deref(),
            Dim::LeadSource => self.lead_source.as_deref(),
            Dim::Tier => self.tier.map(Tier::name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleRef {
    pub id: Text,
    pub layer: Layer,
    pub priority: i32,
    pub origin: Text,
}

/// One rule as considered, from [`RoutingTrace::explain`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleCheck {
    pub id: String,
    pub matched: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_on: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    Junk {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    KnownPerson {
        email: Text,
        owner: Option<String>,
        outcome: Text,
    },
    Account {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        matched_by: Option<Text>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        account: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<Text>,
        named: bool,
        outcome: Text,
    },
    PersonalEmail {
        domain: Text,
        outcome: Text,
    },
    Qualification {
        outcome: Text,
    },
    Nurture {
        outcome: String,
    },
    Matrix {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        matched: Option<RuleRef>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        also_matched: Vec<Text>,
        candidates: u32,
        rules: u32,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        considered: Vec<RuleCheck>,
    },
    Rep {
        rep: Text,
        role: Text,
        #[serde(flatten)]
        verdict: Verdict,
    },
    Team {
        team: Text,
        method: Text,
        candidates: Candidates,
    },
    Fallback {
        from: Text,
        to: Text,
        because: Text,
    },
    Manual {
        by: String,
        rep: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        note: Option<String>,
        /// What the rep's availability check said; a manual choice overrides it. (Boxed:
        /// rare, and it would make every step larger.)
        #[serde(default, skip_serializing_if = "Option::is_none")]
        overridden: Option<Box<Skip>>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingTrace {
    pub config_version: Text,
    pub at: Timestamp,
    pub facts: Facts,
    pub steps: Vec<Step>,
}

/// The roles of the rep who covers the SLA of a known person's lead while the owner is
/// unavailable (VAL-3 / VAL-4): a [`Step::Rep`] with one of these roles and
/// [`Verdict::Chosen`] names them.
pub const SLA_COVER_BACKUP: &str = "SLA cover (backup)";
pub const SLA_COVER_TEAM_LEAD: &str = "SLA cover (team lead)";

impl RoutingTrace {
    /// VAL-3 / VAL-4: the rep who covers this lead's SLA because its owner (the known
    /// person's owner, who keeps the lead) is unavailable now; None when the owner is
    /// available or nobody could cover. The service hands the lead's first touch and SLA
    /// alerts to them; ownership, load and the person stay with the owner.
    pub fn sla_cover(&self) -> Option<&Text> {
        self.steps.iter().find_map(|s| match s {
            Step::Rep {
                rep,
                role,
                verdict: Verdict::Chosen,
            } if role.as_str() == SLA_COVER_BACKUP || role.as_str() == SLA_COVER_TEAM_LEAD => {
                Some(rep)
            }
            _ => None,
        })
    }
}
