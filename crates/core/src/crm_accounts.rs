//! Accounts synced from a CRM (CRM-3): an overlay on the config's account list that the
//! engine consults by domain, so a change of owner in the CRM takes effect for the next
//! lead without a config reload. It is an input of a decision like the state snapshot
//! (`RoutingInput::crm_accounts`): the core reads it, never fetches it, and the same
//! overlay gives the same decision.
//!
//! Which source wins when the CSV/config list and the CRM both hold a domain is
//! [`AccountPrecedence`], set by the caller; docs/crm.md ("Sync") says the default.

use crate::domains::registrable_domain;
use std::collections::BTreeMap;

/// Which list is consulted first for a domain both hold.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccountPrecedence {
    /// The CRM is the system of record: its account (and owner) wins; the config's
    /// accounts still cover domains the CRM does not hold.
    #[default]
    Crm,
    /// The config's accounts win; the CRM's fill in domains the config does not hold.
    Csv,
}

/// One synced account, its owner already mapped to a rep id of the config.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SyncedAccount {
    pub crm_id: String,
    pub name: String,
    /// The registrable domain (normalised by [`CrmAccounts::new`]).
    pub domain: String,
    /// The owner's rep id, when the CRM owner maps to a rep.
    pub owner: Option<String>,
    /// The CRM user id of the owner (for the trace when no rep maps to it).
    pub owner_crm_id: Option<String>,
    pub named: bool,
}

/// The overlay: synced accounts by registrable domain.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrmAccounts {
    /// `salesforce` or `hubspot`: named in the trace.
    pub source: String,
    pub precedence: AccountPrecedence,
    by_domain: BTreeMap<String, SyncedAccount>,
}

impl CrmAccounts {
    /// Index accounts by their registrable domain (a website such as
    /// `https://www.acme.co.uk/about` counts as `acme.co.uk`). Accounts without a usable
    /// domain are left out. When two accounts claim one domain, a named account beats a
    /// plain one, then the lower CRM id wins, so the result never depends on input order.
    pub fn new(
        source: &str,
        precedence: AccountPrecedence,
        accounts: impl IntoIterator<Item = SyncedAccount>,
    ) -> CrmAccounts {
        let mut by_domain: BTreeMap<String, SyncedAccount> = BTreeMap::new();
        for mut a in accounts {
            let Some(d) = website_domain(&a.domain) else {
                continue;
            };
            a.domain = d.clone();
            match by_domain.get(&d) {
                Some(prev)
                    if (prev.named, std::cmp::Reverse(&prev.crm_id))
                        >= (a.named, std::cmp::Reverse(&a.crm_id)) => {}
                _ => {
                    by_domain.insert(d, a);
                }
            }
        }
        CrmAccounts {
            source: source.to_string(),
            precedence,
            by_domain,
        }
    }

    /// The account for a registrable domain.
    pub fn get(&self, domain: &str) -> Option<&SyncedAccount> {
        self.by_domain.get(domain)
    }

    pub fn len(&self) -> usize {
        self.by_domain.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_domain.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &SyncedAccount> {
        self.by_domain.values()
    }
}

/// The registrable domain of a website or domain as a CRM holds it (`https://www.acme.com/`,
/// `www.acme.com`, `acme.com`).
pub fn website_domain(website: &str) -> Option<String> {
    let s = website.trim();
    let s = s.split_once("://").map_or(s, |(_, rest)| rest);
    let host = s.split(['/', '?', '#']).next().unwrap_or(s);
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or(host);
    registrable_domain(host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct(id: &str, domain: &str, named: bool) -> SyncedAccount {
        SyncedAccount {
            crm_id: id.into(),
            name: id.into(),
            domain: domain.into(),
            owner: None,
            owner_crm_id: None,
            named,
        }
    }

    #[test]
    fn websites_become_registrable_domains() {
        assert_eq!(
            website_domain("https://www.acme.co.uk/about?x=1").as_deref(),
            Some("acme.co.uk")
        );
        assert_eq!(website_domain("ACME.com").as_deref(), Some("acme.com"));
        assert_eq!(
            website_domain("http://user@shop.acme.com:8080").as_deref(),
            Some("acme.com")
        );
        assert_eq!(website_domain("not a website"), None);
    }

    #[test]
    fn one_account_per_domain_whatever_the_order() {
        let a = [
            acct("001B", "acme.com", false),
            acct("001A", "www.acme.com", false),
            acct("001C", "acme.com", true),
        ];
        let mut b = a.clone();
        b.reverse();
        let x = CrmAccounts::new("salesforce", AccountPrecedence::Crm, a);
        let y = CrmAccounts::new("salesforce", AccountPrecedence::Crm, b);
        assert_eq!(x, y);
        assert_eq!(x.get("acme.com").unwrap().crm_id, "001C");
        let plain = CrmAccounts::new(
            "salesforce",
            AccountPrecedence::Crm,
            [
                acct("001B", "acme.com", false),
                acct("001A", "acme.com", false),
            ],
        );
        assert_eq!(plain.get("acme.com").unwrap().crm_id, "001A");
    }
}
