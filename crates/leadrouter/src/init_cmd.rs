//! `leadrouter init DIR`: write a commented starter config and the two spreadsheets it
//! reads, ready to edit and accepted by `leadrouter check`. Nothing is overwritten: when
//! any of the files exists, nothing is written and the command says which.

use anyhow::{Context, Result, bail};
use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

pub const CONFIG: &str = "leadrouter.toml";

/// The starter files, in the order they are written.
pub const FILES: [(&str, &str); 3] = [
    (CONFIG, STARTER_TOML),
    ("matrix.csv", STARTER_MATRIX),
    ("accounts.csv", STARTER_ACCOUNTS),
];

pub fn run(dir: &Path) -> Result<ExitCode> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let existing: Vec<String> = FILES
        .iter()
        .map(|(name, _)| dir.join(name))
        .filter(|p| p.exists())
        .map(|p| p.display().to_string())
        .collect();
    if !existing.is_empty() {
        bail!(
            "{} already exist(s); nothing was written. Choose an empty folder, or move the file(s) away",
            existing.join(", ")
        );
    }
    for (name, text) in FILES {
        let path = dir.join(name);
        // create_new: a file that appeared since the check above is not overwritten either.
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        f.write_all(text.as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    let config = dir.join(CONFIG);
    println!(
        "wrote {}, {} and {}\n\nnext:\n  leadrouter check {}\n  leadrouter serve --config {}",
        config.display(),
        dir.join("matrix.csv").display(),
        dir.join("accounts.csv").display(),
        config.display(),
        config.display()
    );
    Ok(ExitCode::SUCCESS)
}

const STARTER_TOML: &str = r#"# leadrouter starter config: written by `leadrouter init`.
#
# Every lead walks the same hierarchy: junk -> known person -> account owner ->
# personal email -> qualification -> nurture -> routing matrix -> default team ->
# catch-all queue. The trace of each decision says which step decided and why.
# Edit this file and the two spreadsheets beside it (matrix.csv, accounts.csv),
# then run `leadrouter check leadrouter.toml`. Every key is described in
# docs/config.md.

[organization]
name = "Your Company"
# Reps without a time zone of their own work in this one; reports use it too.
timezone = "America/New_York"
# Where people open the console (an https:// URL marks its cookie Secure).
console_url = "http://127.0.0.1:8080"

[routing]
# The spreadsheet pair, read relative to this file.
matrix_csv = "matrix.csv"
accounts_csv = "accounts.csv"
# Leads no matrix rule takes go to this team, then to the catch-all queue.
default_team = "inbound"

# Queue names for the built-in roles (these are the defaults).
[queues]
catch_all = "unassigned"
review = "review"
qualification = "qualification"
nurture = "nurture"
junk = "junk"

# Size segments by employee count; a lead takes the first it reaches.
[[segment]]
name = "enterprise"
min_employees = 1000

[[segment]]
name = "mid_market"
min_employees = 100

[[segment]]
name = "smb"
min_employees = 0

# Industry keys used by the matrix and the ICP, with the spellings forms send.
[industries]
software = ["software", "saas", "internet", "information technology"]
financial_services = ["finance", "banking", "fintech", "insurance"]

# Actions (the lead's `action` field) by intent; anything else is low intent.
[intent]
high = ["demo_request", "pricing_inquiry"]
medium = ["content_download"]

# Ideal customer profile: intent x fit gives the tier (hot, warm, standard).
[icp]
segments = ["enterprise", "mid_market"]
industries = ["software", "financial_services"]

# Service levels per tier: how fast a lead is routed and first contacted.
[sla.hot]
route_within = "5m"
contact_within = "15m"

[sla.warm]
route_within = "15m"
contact_within = "1h"

[sla.standard]
route_within = "1h"
contact_within = "24h"

# Managers hear about leads their reps leave untouched past the SLA. Turn on a
# channel for those alerts in [notify] (docs/notifications.md).
[[manager]]
id = "sales-manager"
name = "Sam Manager"
email = "sam.manager@example.com"

[[rep]]
id = "alex.rep"
name = "Alex Rep"
email = "alex.rep@example.com"
team = "inbound"
manager = "sales-manager"
working_hours = "Mon-Fri 09:00-17:30"

[[rep]]
id = "blair.rep"
name = "Blair Rep"
email = "blair.rep@example.com"
team = "inbound"
manager = "sales-manager"
working_hours = "Mon-Fri 09:00-17:30"

[[team]]
id = "inbound"
name = "Inbound"
manager = "sales-manager"
members = ["alex.rep", "blair.rep"]
# round_robin, weighted_round_robin or least_loaded.
method = "round_robin"
# When nobody on the team can take the lead.
overflow = "queue:unassigned"

# A public web form posts to POST /v1/forms/{key} (Salesforce Web-to-Lead names).
[[form]]
key = "demo-request"
name = "Website demo request"
lead_source = "website"
action = "demo_request"
return_hosts = ["www.example.com"]
"#;

const STARTER_MATRIX: &str = "\
id,priority,segment,industry,region,country,state,postal_code,product,lead_source,tier,route_to,note,overrides_territory
enterprise-amer,20,enterprise,,AMER,,,,,,,rep:alex.rep,Enterprise leads in the Americas,
emea,10,,,EMEA,,,,,,,rep:blair.rep,Europe Middle East and Africa,
";

const STARTER_ACCOUNTS: &str = "\
domain,name,owner,named,aliases
example-customer.com,Example Customer,alex.rep,true,Example Customer Inc
";
