//! Matrix rules (SEG-2): inline `[[rule]]` entries and the matrix CSV. Each value is
//! normalised the way the engine normalises a lead's, each target resolved; then the rules
//! are sorted into precedence order (priority, territory before segment, specificity, file
//! order) and indexed.

use super::tables::{self, RuleSpec};
use super::vocabulary::{Vocabulary, canonical_industry};
use super::*;

impl Compiler<'_> {
    pub(super) fn rules(
        &mut self,
        raw: &RawConfig,
        read_rel: ReadRel,
        hasher: &mut Sha256,
        v: &Vocabulary,
        refs: &Refs,
    ) -> (Vec<Rule>, crate::matrix::RuleIndex) {
        let (geo, segment_names) = (&v.geo, &v.segment_names);
        let norm_industry = |s: &String| canonical_industry(&v.industry_alias, s);
        // Rules: inline and CSV (SEG-2).
        let mut rule_specs: Vec<RuleSpec> = raw
            .rules
            .iter()
            .map(|r| {
                let x = r.get_ref();
                RuleSpec {
                    id: x.id.clone(),
                    priority: x.priority,
                    conds: [
                        x.segment.clone(),
                        x.industry.clone(),
                        x.region.clone(),
                        x.country.clone(),
                        x.state.clone(),
                        x.postal_code.clone(),
                        x.product.clone(),
                        x.lead_source.clone(),
                        x.tier.clone(),
                    ],
                    route_to: x.route_to.get_ref().clone(),
                    note: x.note.clone(),
                    overrides_territory: x.overrides_territory,
                    file: self.e.src.path.clone(),
                    line: self.e.src.line_of(r.span().start),
                    route_line: self.e.src.line_of(x.route_to.span().start),
                }
            })
            .collect();
        if let Some(path) = &raw.routing.matrix_csv
            && let Some(src) = self.read_table(read_rel, path, "routing.matrix_csv", hasher)
        {
            match tables::read_matrix(&src) {
                Ok(v) => rule_specs.extend(v),
                Err(errs) => self.extra_errors.extend(errs),
            }
        }
        let known_regions: BTreeSet<String> =
            geo.regions().into_iter().map(str::to_string).collect();
        let mut rules = Vec::new();
        let mut rule_ids: HashMap<String, Origin> = HashMap::default();
        for spec in rule_specs {
            let origin = Origin {
                file: spec.file.clone(),
                line: spec.line,
            };
            let mut errs = Vec::new();
            let mut push =
                |field: &str, value: &str, msg: String, fix: Option<String>, line: usize| {
                    errs.push(ConfigError {
                        file: spec.file.clone(),
                        line: Some(line),
                        field: format!("rule {} {field}", spec.id),
                        value: Some(value.to_string()),
                        message: msg,
                        fix,
                    });
                };
            if spec.id.trim().is_empty() {
                push(
                    "id",
                    "",
                    "empty rule id".into(),
                    Some("give every rule a unique id".into()),
                    spec.line,
                );
            }
            if let Some(prev) = rule_ids.insert(spec.id.clone(), origin.clone()) {
                push(
                    "id",
                    &spec.id,
                    format!("rule id already used at {prev}"),
                    Some("rule ids must be unique".into()),
                    spec.line,
                );
            }
            let mut conds: [Vec<String>; 9] = Default::default();
            let country_ctx: Vec<&'static str> = spec.conds[Dim::Country as usize]
                .iter()
                .filter_map(|c| geo.country(c))
                .collect();
            for d in Dim::ALL {
                for v in &spec.conds[d as usize] {
                    let n = match d {
                        Dim::Segment => {
                            let t = token(v);
                            if !segment_names.contains(&t) {
                                push(
                                    d.name(),
                                    v,
                                    "unknown segment".into(),
                                    Some(format!("known segments: {}", segment_names.join(", "))),
                                    spec.line,
                                );
                            }
                            t
                        }
                        Dim::Industry => norm_industry(v),
                        Dim::Region => {
                            let r = v.trim().to_uppercase();
                            if !known_regions.contains(&r) {
                                push(
                                    d.name(),
                                    v,
                                    "unknown region".into(),
                                    Some(format!(
                                        "known regions: {}",
                                        known_regions
                                            .iter()
                                            .cloned()
                                            .collect::<Vec<_>>()
                                            .join(", ")
                                    )),
                                    spec.line,
                                );
                            }
                            r
                        }
                        Dim::Country => match geo.country(v) {
                            Some(c) => c.to_string(),
                            None => {
                                push(
                                    d.name(),
                                    v,
                                    "unknown country".into(),
                                    Some("use ISO 3166 alpha-2 codes such as US, DE, SG".into()),
                                    spec.line,
                                );
                                v.clone()
                            }
                        },
                        Dim::State => {
                            // With one country on the rule, state names resolve to codes.
                            match country_ctx.as_slice() {
                                [c] => geo
                                    .subdivision(c, v)
                                    .map(str::to_string)
                                    .unwrap_or_else(|| v.trim().to_uppercase()),
                                _ => v.trim().to_uppercase(),
                            }
                        }
                        Dim::PostalCode => {
                            let star = v.trim().ends_with('*');
                            let p = postal(v);
                            if star { format!("{p}*") } else { p }
                        }
                        Dim::Product | Dim::LeadSource => token(v),
                        Dim::Tier => match Tier::parse(v) {
                            Some(t) => t.name().to_string(),
                            None => {
                                push(
                                    d.name(),
                                    v,
                                    "unknown tier".into(),
                                    Some("use hot, warm or standard".into()),
                                    spec.line,
                                );
                                v.clone()
                            }
                        },
                    };
                    if !conds[d as usize].contains(&n) {
                        conds[d as usize].push(n);
                    }
                }
            }
            self.lint_rule(&spec, &conds, v);
            let target = if spec.route_to.trim().is_empty() {
                push(
                    "route_to",
                    "",
                    "missing target".into(),
                    Some("write team:ID, rep:ID or queue:NAME".into()),
                    spec.route_line,
                );
                None
            } else {
                let mut local = Errors::new(self.e.src);
                let t = target_of(
                    refs,
                    &spec.route_to,
                    &mut local,
                    Some(spec.route_line),
                    &format!("rule {} route_to", spec.id),
                );
                for mut e in local.list {
                    e.file = spec.file.clone();
                    errs.push(e);
                }
                t
            };
            if !errs.is_empty() {
                self.extra_errors.extend(errs);
                continue;
            }
            let specificity = conds.iter().filter(|c| !c.is_empty()).count() as u8;
            let layer = if Dim::ALL
                .iter()
                .any(|d| d.is_geographic() && !conds[*d as usize].is_empty())
            {
                Layer::Territory
            } else {
                Layer::Segment
            };
            rules.push(Rule {
                id: spec.id,
                priority: spec.priority.unwrap_or(0),
                conds,
                target: target.unwrap_or(Target::Queue(0)),
                layer,
                specificity,
                note: spec.note,
                overrides_territory: spec.overrides_territory,
                origin,
            });
        }
        // Precedence (stable: file order breaks the last tie).
        rules.sort_by(|a, b| {
            b.priority
                .cmp(&a.priority)
                .then(a.layer.cmp(&b.layer))
                .then(b.specificity.cmp(&a.specificity))
        });
        let rule_index = crate::matrix::RuleIndex::build(&rules);
        (rules, rule_index)
    }
}
