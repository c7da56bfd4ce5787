//! Rep ↔ CRM user mapping (CRM-3, OPS-1), provider-neutral and pure: an explicit map
//! (rep id → CRM user id or email) wins; otherwise a rep is matched to the CRM user with
//! the same email (case-insensitive). The report names what needs a human: reps mapped to
//! no active CRM user, explicit entries that name nobody, and CRM users who own accounts
//! but are not reps (or are deactivated), with how many accounts each holds.

use crate::model::{CrmAccount, CrmUser};
use std::collections::{BTreeMap, HashMap};

/// A rep as the mapping needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepRef {
    pub id: String,
    pub email: Option<String>,
    pub active: bool,
}

/// The mapping and what is wrong with it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserMapping {
    /// CRM user id → rep id.
    pub rep_of: BTreeMap<String, String>,
    /// Rep id → CRM user id.
    pub user_of: BTreeMap<String, String>,
    pub findings: Vec<MappingFinding>,
}

/// Something `leadrouter check` and the console report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MappingFinding {
    /// An active rep with no CRM user (by the explicit map or by email).
    RepWithoutCrmUser { rep: String },
    /// A rep whose CRM user is deactivated in the CRM: shown as inactive.
    RepCrmUserInactive {
        rep: String,
        crm_id: String,
        email: String,
    },
    /// An explicit map entry that names no CRM user.
    UnknownCrmUser { rep: String, value: String },
    /// A CRM user who owns accounts but maps to no rep.
    AccountOwnerNotRep {
        crm_id: String,
        email: String,
        name: String,
        accounts: usize,
    },
    /// A deactivated CRM user who still owns accounts (flag the accounts, OPS-1).
    AccountsOfInactiveUser {
        crm_id: String,
        email: String,
        rep: Option<String>,
        accounts: usize,
    },
}

impl MappingFinding {
    /// One line for `check` and the console.
    pub fn message(&self) -> String {
        match self {
            MappingFinding::RepWithoutCrmUser { rep } => format!(
                "rep {rep} maps to no active CRM user: give the rep the email of their CRM user, or map it explicitly"
            ),
            MappingFinding::RepCrmUserInactive { rep, crm_id, email } => format!(
                "rep {rep} maps to CRM user {crm_id} ({email}), who is deactivated in the CRM: the rep is shown as inactive"
            ),
            MappingFinding::UnknownCrmUser { rep, value } => format!(
                "the CRM user map names `{value}` for rep {rep}, which is no CRM user id or email: fix the map"
            ),
            MappingFinding::AccountOwnerNotRep {
                crm_id,
                email,
                name,
                accounts,
            } => format!(
                "CRM user {name} <{email}> ({crm_id}) owns {accounts} account(s) but is not a rep: add the rep or reassign the accounts"
            ),
            MappingFinding::AccountsOfInactiveUser {
                crm_id,
                email,
                accounts,
                ..
            } => format!(
                "deactivated CRM user {email} ({crm_id}) still owns {accounts} account(s): reassign them in the CRM"
            ),
        }
    }

    /// The rep this finding is about, if any (the console's reps page).
    pub fn rep(&self) -> Option<&str> {
        match self {
            MappingFinding::RepWithoutCrmUser { rep }
            | MappingFinding::RepCrmUserInactive { rep, .. }
            | MappingFinding::UnknownCrmUser { rep, .. } => Some(rep),
            MappingFinding::AccountsOfInactiveUser { rep, .. } => rep.as_deref(),
            MappingFinding::AccountOwnerNotRep { .. } => None,
        }
    }
}

/// Map reps to CRM users and report the gaps. `explicit`: rep id → CRM user id or email.
pub fn map_users(
    reps: &[RepRef],
    users: &[CrmUser],
    accounts: &[CrmAccount],
    explicit: &BTreeMap<String, String>,
) -> UserMapping {
    let by_id: HashMap<&str, &CrmUser> = users.iter().map(|u| (u.crm_id.as_str(), u)).collect();
    let mut by_email: HashMap<String, &CrmUser> = HashMap::new();
    // Several users with one email (a deactivated and a new one): the active one, then
    // the latest modified.
    for u in users {
        let k = u.email.trim().to_lowercase();
        if k.is_empty() {
            continue;
        }
        match by_email.get(&k) {
            Some(prev) if (prev.active, prev.modified) >= (u.active, u.modified) => {}
            _ => {
                by_email.insert(k, u);
            }
        }
    }
    let mut m = UserMapping::default();
    for rep in reps {
        let found = match explicit.get(&rep.id) {
            Some(v) => {
                let hit = by_id
                    .get(v.as_str())
                    .copied()
                    .or_else(|| by_email.get(&v.trim().to_lowercase()).copied());
                if hit.is_none() {
                    m.findings.push(MappingFinding::UnknownCrmUser {
                        rep: rep.id.clone(),
                        value: v.clone(),
                    });
                }
                hit
            }
            None => rep
                .email
                .as_deref()
                .and_then(|e| by_email.get(&e.trim().to_lowercase()).copied()),
        };
        match found {
            Some(u) => {
                m.rep_of.insert(u.crm_id.clone(), rep.id.clone());
                m.user_of.insert(rep.id.clone(), u.crm_id.clone());
                if !u.active {
                    m.findings.push(MappingFinding::RepCrmUserInactive {
                        rep: rep.id.clone(),
                        crm_id: u.crm_id.clone(),
                        email: u.email.clone(),
                    });
                }
            }
            None if rep.active && !explicit.contains_key(&rep.id) => {
                m.findings.push(MappingFinding::RepWithoutCrmUser {
                    rep: rep.id.clone(),
                })
            }
            None => {}
        }
    }
    let mut owned: BTreeMap<&str, usize> = BTreeMap::new();
    for a in accounts {
        if let Some(o) = a.owner_crm_id.as_deref() {
            *owned.entry(o).or_default() += 1;
        }
    }
    for (owner, n) in owned {
        let user = by_id.get(owner);
        let (email, name, active) = user.map_or((String::new(), String::new(), true), |u| {
            (u.email.clone(), u.name.clone(), u.active)
        });
        if !active {
            m.findings.push(MappingFinding::AccountsOfInactiveUser {
                crm_id: owner.to_string(),
                email,
                rep: m.rep_of.get(owner).cloned(),
                accounts: n,
            });
        } else if !m.rep_of.contains_key(owner) {
            m.findings.push(MappingFinding::AccountOwnerNotRep {
                crm_id: owner.to_string(),
                email,
                name,
                accounts: n,
            });
        }
    }
    m
}

impl UserMapping {
    /// Reps whose CRM user is deactivated (shown inactive in `check` and the console).
    pub fn inactive_in_crm(&self) -> Vec<&str> {
        self.findings
            .iter()
            .filter_map(|f| match f {
                MappingFinding::RepCrmUserInactive { rep, .. } => Some(rep.as_str()),
                _ => None,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jiff::Timestamp;

    fn user(id: &str, email: &str, active: bool) -> CrmUser {
        CrmUser {
            crm_id: id.into(),
            email: email.into(),
            name: id.into(),
            active,
            modified: Timestamp::UNIX_EPOCH,
        }
    }

    fn rep(id: &str, email: Option<&str>) -> RepRef {
        RepRef {
            id: id.into(),
            email: email.map(str::to_string),
            active: true,
        }
    }

    fn account(owner: &str) -> CrmAccount {
        CrmAccount {
            crm_id: "001".into(),
            name: "A".into(),
            domain: None,
            owner_crm_id: Some(owner.into()),
            named: false,
            modified: Timestamp::UNIX_EPOCH,
        }
    }

    #[test]
    fn explicit_wins_then_email() {
        let users = [
            user("005A", "ann@corp.com", true),
            user("005B", "bob@corp.com", true),
            user("005C", "cy@corp.com", false),
        ];
        let reps = [
            rep("ann", Some("ANN@corp.com")),
            rep("bob", Some("ann@corp.com")),
            rep("cy", Some("cy@corp.com")),
            rep("dee", None),
        ];
        let mut explicit = BTreeMap::new();
        explicit.insert("bob".to_string(), "005B".to_string());
        let m = map_users(
            &reps,
            &users,
            &[account("005C"), account("005C"), account("005Z")],
            &explicit,
        );
        assert_eq!(m.user_of["ann"], "005A");
        assert_eq!(m.user_of["bob"], "005B");
        assert_eq!(m.rep_of["005C"], "cy");
        assert_eq!(m.inactive_in_crm(), vec!["cy"]);
        assert!(
            m.findings
                .contains(&MappingFinding::RepWithoutCrmUser { rep: "dee".into() })
        );
        assert!(
            m.findings
                .contains(&MappingFinding::AccountsOfInactiveUser {
                    crm_id: "005C".into(),
                    email: "cy@corp.com".into(),
                    rep: Some("cy".into()),
                    accounts: 2
                })
        );
        assert!(m.findings.iter().any(|f| matches!(f, MappingFinding::AccountOwnerNotRep { crm_id, accounts: 1, .. } if crm_id == "005Z")));
    }

    #[test]
    fn an_explicit_entry_naming_nobody_is_reported() {
        let mut explicit = BTreeMap::new();
        explicit.insert("ann".to_string(), "nobody@corp.com".to_string());
        let m = map_users(
            &[rep("ann", Some("ann@corp.com"))],
            &[user("005A", "ann@corp.com", true)],
            &[],
            &explicit,
        );
        assert!(m.user_of.is_empty());
        assert_eq!(
            m.findings,
            vec![MappingFinding::UnknownCrmUser {
                rep: "ann".into(),
                value: "nobody@corp.com".into()
            }]
        );
    }
}
