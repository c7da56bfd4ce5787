//! Accounts (ACC-1, ACC-2): inline `[[account]]` entries and the accounts CSV, keyed by
//! registrable domain and by company name and aliases, with their owners resolved.

use super::tables::{self, AccountSpec};
use super::*;

/// The accounts, and the indexes by registrable domain and by company key.
pub(super) type Accounts = (Vec<Account>, HashMap<String, u32>, HashMap<String, u32>);

impl Compiler<'_> {
    pub(super) fn accounts(
        &mut self,
        raw: &RawConfig,
        read_rel: ReadRel,
        hasher: &mut Sha256,
        rep_by_id: &HashMap<String, RepIdx>,
    ) -> Accounts {
        // Accounts: inline and CSV (ACC-1, ACC-2).
        let mut specs: Vec<AccountSpec> = raw
            .accounts
            .iter()
            .map(|a| {
                let r = a.get_ref();
                AccountSpec {
                    domain: r.domain.clone(),
                    name: r.name.clone(),
                    owner: r.owner.as_ref().map(|o| o.get_ref().clone()),
                    named: r.named.unwrap_or(false),
                    aliases: r.aliases.clone(),
                    file: self.e.src.path.clone(),
                    line: self.e.src.line_of(a.span().start),
                }
            })
            .collect();
        if let Some(path) = &raw.routing.accounts_csv
            && let Some(src) = self.read_table(read_rel, path, "routing.accounts_csv", hasher)
        {
            match tables::read_accounts(&src) {
                Ok(v) => specs.extend(v),
                Err(errs) => self.extra_errors.extend(errs),
            }
        }
        let mut accounts = Vec::new();
        let mut account_by_domain: HashMap<String, u32> = HashMap::default();
        let mut account_by_name: HashMap<String, u32> = HashMap::default();
        for a in specs {
            let err = |field: &str, value: &str, msg: &str, fix: Option<String>| ConfigError {
                file: a.file.clone(),
                line: Some(a.line),
                field: field.to_string(),
                value: Some(value.to_string()),
                message: msg.to_string(),
                fix,
            };
            let Some(domain) = registrable_domain(&a.domain) else {
                self.extra_errors.push(err(
                    "account.domain",
                    &a.domain,
                    "not a domain with a public suffix",
                    Some("write the company's web domain, e.g. globex.com".into()),
                ));
                continue;
            };
            if let Some(prev) = account_by_domain.get(&domain) {
                let p: &Account = &accounts[*prev as usize];
                self.extra_errors.push(err(
                    "account.domain",
                    &a.domain,
                    &format!("account domain {domain} already defined at {}", p.origin),
                    Some("keep one row per registrable domain".into()),
                ));
                continue;
            }
            let owner = match &a.owner {
                Some(o) => match rep_by_id.get(o) {
                    Some(r) => Some(*r),
                    None => {
                        self.extra_errors.push(err(
                            "account.owner",
                            o,
                            "unknown rep",
                            Some(suggest("rep", o, rep_by_id.keys())),
                        ));
                        None
                    }
                },
                None => None,
            };
            let idx = accounts.len() as u32;
            account_by_domain.insert(domain.clone(), idx);
            let name = a.name.clone().unwrap_or_else(|| domain.clone());
            for n in std::iter::once(&name).chain(a.aliases.iter()) {
                let k = company_key(n);
                if !k.is_empty() {
                    account_by_name.entry(k).or_insert(idx);
                }
            }
            accounts.push(Account {
                domain,
                name,
                owner,
                named: a.named,
                origin: Origin {
                    file: a.file.clone(),
                    line: a.line,
                },
            });
        }
        (accounts, account_by_domain, account_by_name)
    }
}
