use super::*;

fn src(text: &str) -> SourceText {
    SourceText::new("leadrouter.toml", text)
}

fn env(k: &str) -> Option<String> {
    match k {
        "HUBSPOT_TOKEN" => Some("pat-na1-x".into()),
        "HS_SECRET" => Some("s3cret".into()),
        "SF_CLIENT" => Some("3MVG9".into()),
        "SF_USER" => Some("int@acme.example".into()),
        "SF_KEY" => Some("-----BEGIN PRIVATE KEY-----\nMII\n-----END PRIVATE KEY-----".into()),
        _ => None,
    }
}

#[test]
fn no_crm_table_is_none() {
    assert!(
        CrmConfig::parse(&src("[notify]\n"), &env)
            .unwrap()
            .is_none()
    );
}

#[test]
fn hubspot_with_defaults() {
    let c = CrmConfig::parse(&src("[crm]\nprovider = \"hubspot\"\n"), &env)
        .unwrap()
        .unwrap();
    assert_eq!(c.provider, ProviderKind::HubSpot);
    assert_eq!(c.fields, FieldMap::defaults(ProviderKind::HubSpot));
    assert_eq!(c.accounts, AccountSource::Crm);
    assert!(c.task);
    assert_eq!(c.sync_every, DEFAULT_SYNC_EVERY);
    match &c.credentials {
        Credentials::HubSpot(h) => {
            assert_eq!(h.token, Secret("pat-na1-x".into()));
            assert!(h.client_secret.is_none());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !format!("{c:?}").contains("pat-na1-x"),
        "secrets are not printed"
    );
}

#[test]
fn full_hubspot_table() {
    let text = r#"
[crm]
provider = "hubspot"
base_url = "http://127.0.0.1:9999"
timeout = "5s"
task = false
sync_every = "5m"
poll_every = "1m"
named_account_property = "named_account"
accounts = "config"

[crm.hubspot]
token_env = "HUBSPOT_TOKEN"
client_secret_env = "HS_SECRET"
webhook_url = "https://lr.acme.example/v1/crm/hubspot/webhook"
app_id = 1160452

[crm.users]
ana = "501"

[crm.fields]
tier = "lr_tier"
console_link = ""
"#;
    let c = CrmConfig::parse(&src(text), &env).unwrap().unwrap();
    assert_eq!(c.poll_every, Some(Duration::from_secs(60)));
    assert_eq!(c.accounts, AccountSource::Config);
    assert_eq!(
        c.accounts.precedence(),
        Some(leadrouter_core::crm_accounts::AccountPrecedence::Csv)
    );
    assert_eq!(c.fields.tier.as_deref(), Some("lr_tier"));
    assert_eq!(c.fields.console_link, None);
    assert_eq!(c.users["ana"], "501");
    let errs = c.check_reps(&src(text), ["bob", "anna"]);
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].line, Some(19));
    assert!(
        errs[0].to_string().contains("did you mean `anna`"),
        "{}",
        errs[0]
    );
}

#[test]
fn salesforce_credentials_from_the_environment() {
    let text = r#"
[crm]
provider = "salesforce"
[crm.salesforce]
client_id_env = "SF_CLIENT"
username_env = "SF_USER"
private_key_env = "SF_KEY"
instance_url = "https://acme.my.salesforce.com"
"#;
    let c = CrmConfig::parse(&src(text), &env).unwrap().unwrap();
    match c.credentials {
        Credentials::Salesforce(s) => {
            assert_eq!(s.username, "int@acme.example");
            assert_eq!(s.login_url.as_str(), "https://login.salesforce.com/");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(c.fields.tier.as_deref(), Some("LeadRouter_Tier__c"));
}

#[test]
fn errors_name_line_value_and_fix() {
    let text = r#"
[crm]
provider = "hubspot"
timeout = "soon"
accounts = "mine"

[crm.hubspot]
token_env = "MISSING_TOKEN"

[crm.fields]
tier = "has space"
"#;
    let errs = CrmConfig::parse(&src(text), &env).unwrap_err();
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    assert_eq!(errs.len(), 4, "{text:#?}");
    assert!(
        text[0].starts_with("leadrouter.toml:8: crm.hubspot.token_env = \"MISSING_TOKEN\""),
        "{text:#?}"
    );
    assert!(text[0].contains("set MISSING_TOKEN"));
    assert!(
        text.iter()
            .any(|t| t.starts_with("leadrouter.toml:4: crm.timeout"))
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("leadrouter.toml:5: crm.accounts"))
    );
    assert!(
        text.iter()
            .any(|t| t.starts_with("leadrouter.toml:11: crm.fields.tier"))
    );
    let unknown = CrmConfig::parse(
        &src("[crm]\nprovider = \"hubspot\"\ntokn_env = \"X\"\n"),
        &env,
    )
    .unwrap_err();
    assert!(
        unknown[0].to_string().contains("unknown key `tokn_env`"),
        "{}",
        unknown[0]
    );
    let sf = CrmConfig::parse(&src("[crm]\nprovider = \"salesforce\"\n"), &env).unwrap_err();
    assert!(sf[0].to_string().contains("crm.salesforce"), "{}", sf[0]);
    let bad = CrmConfig::parse(&src("[crm]\nprovider = \"pipedrive\"\n"), &env).unwrap_err();
    assert_eq!(bad[0].line, Some(2));
}
