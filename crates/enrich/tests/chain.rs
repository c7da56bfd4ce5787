//! The provider chain with local files, and the local signals (ENR-4) on real data:
//! phone numbers from several countries, ccTLDs, real entries of the shipped personal
//! and disposable lists, US ZIP codes.

mod common;

use common::{enricher, lead, temp_dir};
use leadrouter_core::config::SourceText;
use leadrouter_core::lead::Lead;
use leadrouter_enrich::Enricher;
use std::path::Path;

const CSV: &str = "\
domain,name,size_range,industry,country,state,city,revenue,tech_stack,funding,linkedin
globex.com,Globex Corporation,1001-5000,Manufacturing,United States,California,Cypress,$1.2B,Salesforce;SAP,Series F,linkedin.com/company/globex
initech.co.uk,Initech Ltd,51-200,Software,,,London,,,,
hooli.com,Hooli,,Software,US,,,,,,
acme.com,Acme,11-50,Retail,,,,,,,
acme-widgets.com,ACME Inc,201-500,Manufacturing,,,,,,,
";

const JSONL: &str = r#"{"domain":"umbrella.de","name":"Umbrella GmbH","employees":"5,000","industry":"Pharma","country":"DE","tech_stack":["SAP","Workday"]}
{"domain":"initech.co.uk","name":"Initech (second file)","employees":999,"industry":"Consulting","state":"England"}
"#;

fn chain(dir: &Path) -> Enricher {
    std::fs::write(dir.join("firmo.csv"), CSV).unwrap();
    std::fs::write(dir.join("more.jsonl"), JSONL).unwrap();
    enricher(
        r#"
[enrichment]
budget = "1s"
[[enrichment.provider]]
name = "firmographics"
kind = "file"
path = "firmo.csv"
[[enrichment.provider]]
name = "second-file"
kind = "file"
path = "more.jsonl"
"#,
        dir,
    )
}

#[tokio::test]
async fn csv_file_fills_firmographics_with_sources() {
    let e = chain(&temp_dir("csv"));
    let out = e.enrich(&lead("jane@eu.globex.com")).await;
    assert_eq!(out.company.as_deref(), Some("Globex Corporation"));
    assert_eq!(out.employees, Some(1001), "\"1001-5000\" -> lower bound");
    assert_eq!(out.industry.as_deref(), Some("Manufacturing"));
    assert_eq!(
        out.country.as_deref(),
        Some("United States"),
        "normalised by the core"
    );
    assert_eq!(out.state.as_deref(), Some("California"));
    assert_eq!(out.revenue, Some(1.2e9));
    assert_eq!(out.tech_stack, vec!["Salesforce", "SAP"]);
    assert_eq!(out.funding.as_deref(), Some("Series F"));
    assert_eq!(out.linkedin.as_deref(), Some("linkedin.com/company/globex"));
    assert_eq!(out.domain.as_deref(), Some("globex.com"));
    assert_eq!(out.sources["employees"], "firmographics");
    assert_eq!(out.sources["domain"], "firmographics");
    assert!(out.failures.is_empty(), "{:?}", out.failures);
}

#[tokio::test]
async fn second_file_fills_only_what_the_first_left_missing() {
    let e = chain(&temp_dir("order"));
    let out = e.enrich(&lead("bob@initech.co.uk")).await;
    assert_eq!(out.company.as_deref(), Some("Initech Ltd"));
    assert_eq!(out.sources["company"], "firmographics");
    assert_eq!(out.employees, Some(51));
    assert_eq!(out.state.as_deref(), Some("England"));
    assert_eq!(out.sources["state"], "second-file");
    // Neither file has a country: the .co.uk TLD supplies it.
    assert_eq!(out.country.as_deref(), Some("GB"));
    assert_eq!(out.sources["country"], "signals");
}

#[tokio::test]
async fn jsonl_file_and_a_miss_in_the_first_file() {
    let e = chain(&temp_dir("jsonl"));
    let out = e.enrich(&lead("x@umbrella.de")).await;
    assert_eq!(out.employees, Some(5000));
    assert_eq!(out.tech_stack, vec!["SAP", "Workday"]);
    assert_eq!(out.sources["employees"], "second-file");
    assert_eq!(
        out.failures,
        vec!["firmographics: nothing found for umbrella.de"]
    );
    let nowhere = e.enrich(&lead("x@nowhere-inc.com")).await;
    assert_eq!(
        nowhere.failures,
        vec![
            "firmographics: nothing found for nowhere-inc.com",
            "second-file: nothing found for nowhere-inc.com"
        ]
    );
    assert_eq!(nowhere.company.as_deref(), Some("Nowhere Inc"));
    assert_eq!(nowhere.sources["company"], "signals");
}

#[tokio::test]
async fn personal_email_with_a_company_field_is_found_by_name_and_ambiguity_is_reported() {
    let e = chain(&temp_dir("byname"));
    let mut l = lead("jane.doe@gmail.com");
    l.company = Some("Globex Corp.".into());
    let out = e.enrich(&l).await;
    assert_eq!(out.domain.as_deref(), Some("globex.com"));
    assert_eq!(out.sources["domain"], "firmographics");
    assert_eq!(out.employees, Some(1001));

    l.company = Some("ACME".into());
    let out = e.enrich(&l).await;
    assert_eq!(out.employees, None);
    assert_eq!(
        out.failures,
        vec![
            "firmographics: company \"ACME\" matches 2 companies; ambiguous, not guessed",
            "second-file: nothing found for company \"ACME\""
        ]
    );
    assert_eq!(out.domain, None, "a gmail address is no company domain");
}

#[tokio::test]
async fn disposable_email_gets_nothing_from_providers() {
    let e = chain(&temp_dir("disposable"));
    let mut l = lead("x@mailinator.com");
    l.company = Some("Globex".into());
    let out = e.enrich(&l).await;
    assert_eq!(out, Default::default());
}

#[tokio::test]
async fn reload_files_picks_up_changes() {
    let dir = temp_dir("reload");
    let e = chain(&dir);
    assert_eq!(e.enrich(&lead("a@hooli.com")).await.employees, None);
    std::fs::write(
        dir.join("firmo.csv"),
        "domain,name,employees\nhooli.com,Hooli XYZ,7500\n",
    )
    .unwrap();
    e.reload_files().unwrap();
    let out = e.enrich(&lead("a@hooli.com")).await;
    assert_eq!(out.employees, Some(7500));
    assert_eq!(out.company.as_deref(), Some("Hooli XYZ"));
    std::fs::remove_file(dir.join("firmo.csv")).unwrap();
    let err = e.reload_files().unwrap_err();
    assert!(err.starts_with("firmographics: "), "{err}");
    assert!(err.contains("cannot read the firmographic file"), "{err}");
    assert_eq!(
        e.enrich(&lead("a@hooli.com")).await.employees,
        Some(7500),
        "old data kept"
    );
}

#[tokio::test]
async fn stats_report_coverage_and_file_rows() {
    let e = chain(&temp_dir("stats"));
    e.enrich(&lead("a@globex.com")).await;
    e.enrich(&lead("a@hooli.com")).await;
    e.enrich(&lead("a@unknown-co.com")).await;
    e.enrich(&lead("a@gmail.com")).await;
    let stats = e.stats();
    let names: Vec<&str> = stats.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, vec!["firmographics", "second-file", "signals"]);
    let f = &stats[0];
    assert_eq!((f.calls, f.hits, f.misses, f.skipped), (3, 2, 1, 1));
    assert_eq!(f.field_coverage["industry"], 2);
    assert_eq!(f.field_coverage["employees"], 1);
    assert_eq!(f.file.as_ref().unwrap().rows, 5);
    assert!(
        f.latency.count == 3 && f.latency.p99_us < 10_000,
        "{:?}",
        f.latency
    );
    let s = &stats[2];
    assert_eq!(s.kind, "signals");
    assert_eq!(s.calls, 4);
    assert!(s.fields_filled["company"] >= 1);
    let json = serde_json::to_value(&stats).unwrap();
    assert_eq!(json[0]["file"]["rows"], 5);
}

fn enricher_signals_only() -> Enricher {
    Enricher::from_config(&SourceText::new("none.toml", ""), Path::new("."), None).unwrap()
}

fn with_phone(email: &str, phone: &str) -> Lead {
    Lead {
        email: Some(email.into()),
        phone: Some(phone.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn phone_numbers_from_several_countries() {
    let e = enricher_signals_only();
    for (phone, cc) in [
        ("+49 89 636 00", "DE"),
        ("+44 20 7946 0958", "GB"),
        ("+33 1 53 45 45 45", "FR"),
        ("+1 650-253-0000", "US"),
        ("+1 604 555 0142", "CA"),
        ("+81 3-6384-9000", "JP"),
        ("+65 6221 1234", "SG"),
        ("+61 3 9600 1234", "AU"),
        ("+34 915 12 34 56", "ES"),
        ("0031 20 794 0000", "NL"),
    ] {
        let out = e.enrich(&with_phone("someone@example.com", phone)).await;
        assert_eq!(out.country.as_deref(), Some(cc), "{phone}");
        assert_eq!(out.sources["country"], "signals");
    }
    // A number without a country code, or an invalid one, says nothing.
    for phone in ["(650) 253-0000", "+49 1", "+1 000 000 0000", "call me"] {
        let out = e.enrich(&with_phone("someone@example.com", phone)).await;
        assert_eq!(out.country, None, "{phone}");
    }
}

#[tokio::test]
async fn no_country_guessed_when_the_form_names_a_known_one() {
    let e = enricher_signals_only();
    // The form's country is what routing uses: neither the phone nor the TLD is read.
    for form in ["DE", "Germany", "us"] {
        let mut lead = with_phone("a@tesco.co.uk", "+44 20 7946 0958");
        lead.country = Some(form.into());
        let out = e.enrich(&lead).await;
        assert_eq!(out.country, None, "{form}");
        assert!(!out.sources.contains_key("country"), "{form}");
    }
    // A country the engine does not know is no country: the phone still fills it.
    let mut lead = with_phone("a@tesco.co.uk", "+44 20 7946 0958");
    lead.country = Some("Atlantis".into());
    let out = e.enrich(&lead).await;
    assert_eq!(out.country.as_deref(), Some("GB"));
    assert_eq!(out.sources["country"], "signals");
}

#[tokio::test]
async fn phone_beats_cctld_and_cctld_fills_without_phone() {
    let e = enricher_signals_only();
    let out = e
        .enrich(&with_phone("a@siemens.de", "+44 20 7946 0958"))
        .await;
    assert_eq!(out.country.as_deref(), Some("GB"));
    for (email, cc) in [
        ("a@siemens.de", Some("DE")),
        ("a@tesco.co.uk", Some("GB")),
        ("a@toyota.co.jp", Some("JP")),
        ("a@canva.com.au", Some("AU")),
        ("a@nestle.ch", Some("CH")),
        ("a@shopify.ca", Some("CA")),
        ("a@globex.com", None),
        ("a@stripe.io", None),
        ("a@mistral.ai", None),
        ("a@wikimedia.org", None),
        ("a@europa.eu", None),
        // Personal mailboxes carry the country too (gmx.de users are mostly in Germany).
        ("a@gmx.de", Some("DE")),
        ("a@yahoo.co.uk", Some("GB")),
        ("a@gmail.com", None),
    ] {
        let out = e.enrich(&lead(email)).await;
        assert_eq!(out.country.as_deref(), cc, "{email}");
    }
}

#[tokio::test]
async fn personal_vs_corporate_email() {
    let e = enricher_signals_only();
    for personal in [
        "jane@gmail.com",
        "jane@yahoo.co.uk",
        "jane@hotmail.com",
        "jane@web.de",
        "jane@icloud.com",
        "jane@protonmail.com",
    ] {
        let out = e.enrich(&lead(personal)).await;
        assert_eq!(out.domain, None, "{personal}");
        assert_eq!(out.company, None, "{personal}");
    }
    for disposable in [
        "x@mailinator.com",
        "x@guerrillamail.com",
        "x@10minutemail.com",
    ] {
        let out = e.enrich(&lead(disposable)).await;
        assert_eq!(out, Default::default(), "{disposable}");
    }
    let out = e.enrich(&lead("jane@sales.globex-corp.com")).await;
    assert_eq!(out.domain.as_deref(), Some("globex-corp.com"));
    assert_eq!(out.company.as_deref(), Some("Globex Corp"));
    assert_eq!(out.sources["domain"], "signals");
    assert_eq!(out.sources["company"], "signals");
    // The form's company wins: no name is made up from the domain.
    let mut l = lead("jane@globex-corp.com");
    l.company = Some("Globex Corporation".into());
    assert_eq!(e.enrich(&l).await.company, None);
}

#[tokio::test]
async fn us_zip_fills_the_state() {
    let e = enricher_signals_only();
    let mut l = Lead {
        email: Some("a@globex.com".into()),
        country: Some("United States".into()),
        zip: Some("10017-1234".into()),
        ..Default::default()
    };
    let out = e.enrich(&l).await;
    assert_eq!(out.state.as_deref(), Some("NY"));
    assert_eq!(out.sources["state"], "signals");
    // Country from the phone is enough to know the ZIP is American.
    l.country = None;
    l.phone = Some("+1 415 555 2671".into());
    l.zip = Some("94105".into());
    assert_eq!(e.enrich(&l).await.state.as_deref(), Some("CA"));
    // A German postcode with five digits is not a ZIP.
    l.country = Some("Germany".into());
    l.zip = Some("10117".into());
    assert_eq!(e.enrich(&l).await.state, None);
    // The form's own state is never overwritten.
    l.country = Some("US".into());
    l.state = Some("NJ".into());
    assert_eq!(e.enrich(&l).await.state, None);
    // Unknown country, no phone: not guessed.
    let l = Lead {
        zip: Some("10017".into()),
        ..Default::default()
    };
    assert_eq!(e.enrich(&l).await.state, None);
}

#[tokio::test]
async fn config_errors_are_all_reported() {
    let dir = temp_dir("cfgerr");
    let src = SourceText::new(
        "leadrouter.toml",
        r#"
[enrichment]
budget = "soon"
[[enrichment.provider]]
name = "firmographics"
kind = "file"
path = "missing.csv"
"#,
    );
    let errs = Enricher::from_config(&src, &dir, None).unwrap_err();
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(
        errs[0]
            .to_string()
            .contains("leadrouter.toml:3: enrichment.budget = \"soon\": not a duration"),
        "{errs:?}"
    );
    let src = SourceText::new(
        "leadrouter.toml",
        "[enrichment]\n[[enrichment.provider]]\nname = \"firmographics\"\nkind = \"file\"\npath = \"missing.csv\"\n",
    );
    let errs = Enricher::from_config(&src, &dir, None).unwrap_err();
    assert_eq!(
        errs[0].field, "enrichment.provider[1] (\"firmographics\")",
        "{errs:?}"
    );
    assert_eq!(errs[0].line, Some(2), "{errs:?}");
    assert!(
        errs[0]
            .message
            .contains("missing.csv: cannot read the firmographic file"),
        "{errs:?}"
    );
    assert_eq!(
        errs[0].fix.as_deref(),
        Some("check the provider's path"),
        "{errs:?}"
    );
}
