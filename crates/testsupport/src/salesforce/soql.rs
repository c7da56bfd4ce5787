//! The SOQL subset the test org answers: `SELECT f, … FROM Object [WHERE cond [AND cond]]
//! [ORDER BY f [, f]] [LIMIT n]` where a condition is `Field >= datetime`,
//! `Field > datetime` or `Id IN ('…', …)`. Anything else is MALFORMED_QUERY, as a real
//! org would refuse what it cannot parse.

use super::{Record, parse_sf_datetime};
use serde_json::Value;

pub(super) struct Query {
    pub object: String,
    pub fields: Vec<String>,
    conditions: Vec<Condition>,
    order: Vec<String>,
    limit: Option<usize>,
}

enum Condition {
    After {
        field: String,
        at: jiff::Timestamp,
        inclusive: bool,
    },
    IdIn(Vec<String>),
}

pub(super) fn standard_fields(object: &str) -> &'static [&'static str] {
    match object {
        "User" => &[
            "Id",
            "Username",
            "Email",
            "Name",
            "FirstName",
            "LastName",
            "IsActive",
            "LastModifiedDate",
            "LastModifiedById",
        ],
        "Account" => &[
            "Id",
            "Name",
            "Website",
            "OwnerId",
            "LastModifiedDate",
            "LastModifiedById",
        ],
        "Lead" => &[
            "Id",
            "Email",
            "FirstName",
            "LastName",
            "Company",
            "Title",
            "Phone",
            "Country",
            "State",
            "PostalCode",
            "Industry",
            "LeadSource",
            "NumberOfEmployees",
            "Website",
            "OwnerId",
            "Status",
            "CreatedDate",
            "LastModifiedDate",
            "LastModifiedById",
        ],
        "Task" => &[
            "Id",
            "Subject",
            "Description",
            "ActivityDate",
            "WhoId",
            "OwnerId",
            "Status",
            "Priority",
            "IsReminderSet",
            "ReminderDateTime",
        ],
        _ => &[],
    }
}

pub(super) fn plausible_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !s.contains(' ')
}

fn words(q: &str) -> Vec<String> {
    // Split on whitespace and commas, keeping quoted strings and parentheses apart.
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    for c in q.chars() {
        match c {
            '\'' => {
                cur.push(c);
                quoted = !quoted;
            }
            c if quoted => cur.push(c),
            c if c.is_whitespace() || c == ',' || c == '(' || c == ')' => {
                if !cur.is_empty() {
                    out.push(std::mem::take(&mut cur));
                }
                if c == '(' || c == ')' {
                    out.push(c.to_string());
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

pub(super) fn parse(q: &str) -> Result<Query, String> {
    let w = words(q);
    let kw = |i: usize, k: &str| w.get(i).is_some_and(|x| x.eq_ignore_ascii_case(k));
    if !kw(0, "SELECT") {
        return Err("unexpected token: expected SELECT".into());
    }
    let from = (1..w.len())
        .find(|i| kw(*i, "FROM"))
        .ok_or("unexpected token: expected FROM")?;
    let fields: Vec<String> = w[1..from].to_vec();
    if fields.is_empty() {
        return Err("unexpected token: FROM".into());
    }
    let object = w.get(from + 1).ok_or("unexpected end of query")?.clone();
    let mut i = from + 2;
    let mut conditions = Vec::new();
    let mut order = Vec::new();
    let mut limit = None;
    if kw(i, "WHERE") {
        i += 1;
        loop {
            let field = w.get(i).ok_or("unexpected end of query")?.clone();
            let op = w.get(i + 1).ok_or("unexpected end of query")?.clone();
            match op.to_ascii_uppercase().as_str() {
                ">=" | ">" => {
                    let v = w.get(i + 2).ok_or("unexpected end of query")?;
                    let at = parse_sf_datetime(v).ok_or_else(|| {
                        format!("line 1:0 no viable alternative at character '{v}'")
                    })?;
                    conditions.push(Condition::After {
                        field,
                        at,
                        inclusive: op == ">=",
                    });
                    i += 3;
                }
                "IN" if field == "Id" => {
                    if w.get(i + 2).map(String::as_str) != Some("(") {
                        return Err("expecting '(' after IN".into());
                    }
                    let mut ids = Vec::new();
                    let mut j = i + 3;
                    while let Some(x) = w.get(j).filter(|x| *x != ")") {
                        let id = x
                            .strip_prefix('\'')
                            .and_then(|x| x.strip_suffix('\''))
                            .ok_or("ids must be quoted")?;
                        ids.push(id.to_string());
                        j += 1;
                    }
                    if w.get(j).map(String::as_str) != Some(")") {
                        return Err("expecting ')'".into());
                    }
                    conditions.push(Condition::IdIn(ids));
                    i = j + 1;
                }
                other => return Err(format!("unexpected token: '{other}'")),
            }
            if kw(i, "AND") {
                i += 1;
            } else {
                break;
            }
        }
    }
    if kw(i, "ORDER") && kw(i + 1, "BY") {
        i += 2;
        while let Some(f) = w.get(i) {
            if f.eq_ignore_ascii_case("LIMIT") {
                break;
            }
            if !f.eq_ignore_ascii_case("ASC") {
                order.push(f.clone());
            }
            i += 1;
        }
    }
    if kw(i, "LIMIT") {
        limit = Some(
            w.get(i + 1)
                .and_then(|n| n.parse().ok())
                .ok_or("LIMIT needs a number")?,
        );
        i += 2;
    }
    if i < w.len() {
        return Err(format!("unexpected token: '{}'", w[i]));
    }
    Ok(Query {
        object,
        fields,
        conditions,
        order,
        limit,
    })
}

pub(super) fn run(q: &Query, rows: &[Record]) -> Vec<Record> {
    let mut out: Vec<Record> = rows
        .iter()
        .filter(|r| {
            q.conditions.iter().all(|c| match c {
                Condition::IdIn(ids) => ids.iter().any(|i| r["Id"] == i.as_str()),
                Condition::After {
                    field,
                    at,
                    inclusive,
                } => {
                    match r
                        .get(field)
                        .and_then(Value::as_str)
                        .and_then(parse_sf_datetime)
                    {
                        Some(t) if *inclusive => t >= *at,
                        Some(t) => t > *at,
                        None => false,
                    }
                }
            })
        })
        .cloned()
        .collect();
    out.sort_by(|a, b| {
        for f in &q.order {
            let (x, y) = (a.get(f).map(key), b.get(f).map(key));
            let o = x.cmp(&y);
            if o.is_ne() {
                return o;
            }
        }
        std::cmp::Ordering::Equal
    });
    if let Some(n) = q.limit {
        out.truncate(n);
    }
    out
}

fn key(v: &Value) -> String {
    match v {
        Value::String(s) => parse_sf_datetime(s)
            .map(|t| format!("{:020}", t.as_millisecond()))
            .unwrap_or_else(|| s.clone()),
        other => other.to_string(),
    }
}
