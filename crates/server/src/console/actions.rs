//! Reps and managers work their leads in the console (issue 23): accept, mark contacted,
//! disqualify with a reason, record an outcome. Who may act on a lead: the rep who owns
//! it, a manager of that rep or of their team, an admin on any. Each action is the
//! sequencer job the API uses (`Job::Touch`, `Job::Lead`), with the console user as the
//! actor, so the lead's history and the audit log record it exactly as an API call; the
//! form carries the session's CSRF token.

use super::{ConsoleError, ConsoleState, FormData, PageResult, Role, Session, check_csrf, session};
use crate::sequencer::{Job, LeadOp, Touch};
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use leadrouter_core::config::CompiledConfig;

/// Disqualification reasons are kept short (the lead's history holds them).
const MAX_REASON: usize = 500;

/// The outcomes a person can record, as the API names them.
pub const OUTCOMES: [&str; 4] = ["opportunity", "proposal", "won", "lost"];

/// Whether `s` manages rep `rep_id`: the rep's manager or their team's manager.
pub fn manages(cfg: &CompiledConfig, manager: &str, rep_id: &str) -> bool {
    let Some(m) = cfg.managers.iter().position(|m| m.id == manager) else {
        return false;
    };
    let m = m as u32;
    let Some(r) = cfg.rep_by_id.get(rep_id).map(|r| cfg.rep(*r)) else {
        return false;
    };
    r.manager == Some(m) || r.team.is_some_and(|t| cfg.team(t).manager == Some(m))
}

/// The reps whose leads `s` works: a rep their own, a manager their reps'.
pub fn worked_reps(cfg: &CompiledConfig, s: &Session) -> Vec<String> {
    match s.role {
        Role::Rep => vec![s.user.clone()],
        Role::Manager => cfg
            .reps
            .iter()
            .filter(|r| manages(cfg, &s.user, &r.id))
            .map(|r| r.id.clone())
            .collect(),
        Role::Admin | Role::Ops => Vec::new(),
    }
}

/// Whether `s` may act on a lead owned by `owner`: admins on any lead, reps on their own,
/// managers on their reps' (ops assign from queues; they do not work leads).
pub fn may_act(cfg: &CompiledConfig, s: &Session, owner: Option<&str>) -> bool {
    match s.role {
        Role::Admin => true,
        Role::Ops => false,
        Role::Rep => owner == Some(s.user.as_str()),
        Role::Manager => owner.is_some_and(|o| manages(cfg, &s.user, o)),
    }
}

/// Whether `s` may open a lead owned by `owner` (staff see every lead).
pub fn may_view(cfg: &CompiledConfig, s: &Session, owner: Option<&str>) -> bool {
    s.is_staff() || may_act(cfg, s, owner)
}

/// `POST /console/leads/{id}/act`: `action` is accept, contacted, disqualify (with
/// `reason`) or outcome (with `outcome`).
pub async fn act(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let s = session(&st, &headers).await?;
    let form = FormData::parse(&body)?;
    check_csrf(&s, &headers, &form)?;
    let cfg = st.app.shared.config.load_full();
    let lead = st
        .app
        .shared
        .store
        .lead(&id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("lead {id}")))?;
    if !may_act(&cfg, &s, lead.owner.as_deref()) {
        // Someone who may not even see the lead learns nothing about it.
        return Err(if may_view(&cfg, &s, lead.owner.as_deref()) {
            ConsoleError::Forbidden
        } else {
            ConsoleError::NotFound(format!("lead {id}"))
        });
    }
    let actor = format!("console:{}", s.user);
    let address = crate::api::audit::client_address();
    let action = form.get("action").unwrap_or("");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = match action {
        "accept" | "contacted" => Job::Touch {
            lead_id: id.clone(),
            touch: if action == "accept" {
                Touch::Accept
            } else {
                Touch::Contacted
            },
            actor,
            address,
            // A rep acts as the owner: the sequencer refuses if the lead has meanwhile
            // gone to someone else.
            as_owner: (s.role == Role::Rep).then(|| s.user.clone()),
            reply: tx,
        },
        "disqualify" => {
            let reason = form.get("reason").ok_or_else(|| {
                ConsoleError::Bad("say why the lead is disqualified (reason)".into())
            })?;
            Job::Lead {
                lead_id: id.clone(),
                op: LeadOp::Disqualify {
                    reason: Some(reason.chars().take(MAX_REASON).collect()),
                },
                actor,
                address,
                reply: tx,
            }
        }
        "outcome" => {
            let outcome = form
                .get("outcome")
                .filter(|o| OUTCOMES.contains(o))
                .ok_or_else(|| {
                    ConsoleError::Bad(format!("choose an outcome: {}", OUTCOMES.join(", ")))
                })?;
            Job::Lead {
                lead_id: id.clone(),
                op: LeadOp::Outcome {
                    outcome: outcome.to_string(),
                },
                actor,
                address,
                reply: tx,
            }
        }
        other => {
            return Err(ConsoleError::Bad(format!(
                "`{}` is not an action; use accept, contacted, disqualify or outcome",
                other.chars().take(40).collect::<String>()
            )));
        }
    };
    st.app.sequencer.submit(job).await?;
    super::wait(rx).await?;
    Ok(Redirect::to(&format!("/console/leads/{id}?done={action}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(user: &str, role: Role) -> Session {
        Session {
            user: user.into(),
            role,
            csrf: String::new(),
        }
    }

    #[test]
    fn who_may_act_on_a_lead() {
        let cfg = leadrouter_core::config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/demo.toml"
        )))
        .unwrap();
        let rep = &cfg.reps[0];
        let other = cfg
            .reps
            .iter()
            .find(|r| r.manager != rep.manager && r.team != rep.team)
            .or_else(|| cfg.reps.iter().find(|r| r.id != rep.id));
        let mgr = rep
            .manager
            .map(|m| cfg.managers[m as usize].id.clone())
            .or_else(|| {
                rep.team
                    .and_then(|t| cfg.team(t).manager)
                    .map(|m| cfg.managers[m as usize].id.clone())
            })
            .expect("the demo's first rep has a manager");
        let own = Some(rep.id.as_str());
        assert!(may_act(&cfg, &session(&rep.id, Role::Rep), own));
        assert!(may_act(&cfg, &session(&mgr, Role::Manager), own));
        assert!(may_act(&cfg, &session("boss", Role::Admin), own));
        assert!(!may_act(&cfg, &session("ops", Role::Ops), own));
        assert!(!may_act(&cfg, &session(&rep.id, Role::Rep), None));
        if let Some(o) = other {
            assert!(!may_act(&cfg, &session(&o.id, Role::Rep), own));
        }
        assert!(worked_reps(&cfg, &session(&mgr, Role::Manager)).contains(&rep.id));
        // A manager console user must be a manager of the config.
        let h = super::super::hash_password("x").unwrap();
        let users = super::super::Users::parse(&format!("{mgr}:manager:{h}")).unwrap();
        assert!(users.check_reps(&cfg).is_ok());
        let users = super::super::Users::parse(&format!("nobody:manager:{h}")).unwrap();
        let e = users.check_reps(&cfg).unwrap_err();
        assert!(e.contains("no [[manager]] with that id"), "{e}");
    }
}
