//! The web console at `/`: server-rendered HTML (maud), a few lines of JavaScript for live
//! updates, no build step. Login takes an API token and keeps it in an HttpOnly,
//! SameSite=Strict cookie; every form carries a CSRF token derived from the session, checked
//! before anything changes. The console acts with the token's scopes, like the API.
use super::app::AppState;
use super::approvals::ApprovalBody;
use super::audit::AuditQuery;
use super::auth::{SESSION_COOKIE, authenticate, session_cookie};
use super::error::ApiError;
use super::runs::{ListQuery, SubmitRun};
use super::tokens::{Identity, Scope};
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/", get(runs_page))
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/runs/{id}", get(run_page))
        .route("/runs/{id}/decide", post(decide))
        .route("/runs/{id}/cancel", post(cancel))
        .route("/workflows", get(workflows_page))
        .route("/start", post(start))
        .route("/nodes", get(nodes_page))
        .route("/audit", get(audit_page))
}

const STYLE: &str = "
body{font-family:system-ui,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:.6rem 1.2rem;display:flex;gap:1.2rem;align-items:center}
header a{color:#cfe0ff;text-decoration:none}header form{margin-left:auto}
main{padding:1.2rem;max-width:1100px}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e3e6eb;vertical-align:top;font-size:.92rem}
.status{font-weight:600;padding:.1rem .45rem;border-radius:.3rem;font-size:.85rem}
.succeeded{background:#d8f5e0;color:#17622f}.failed{background:#fde0e0;color:#8a1c1c}
.running,.queued{background:#e2ecff;color:#1f4aa8}.waiting_approval{background:#fff1cc;color:#7a5800}
.skipped{background:#eee;color:#555}
ol.timeline{list-style:none;padding:0}ol.timeline li{background:#fff;margin:.4rem 0;padding:.6rem .8rem;border-left:4px solid #c7ccd6}
ol.timeline li.succeeded{border-color:#2f9e55}ol.timeline li.failed{border-color:#c93434}ol.timeline li.waiting_approval{border-color:#d9a300}
.error{color:#8a1c1c;white-space:pre-wrap}pre{background:#fff;padding:.6rem;overflow:auto;font-size:.8rem}
.approval{background:#fffbea;border:1px solid #e8d48a;padding:.8rem;margin:.8rem 0}
button{padding:.35rem .8rem;cursor:pointer}input,textarea,select{font:inherit;padding:.3rem}
.muted{color:#667}
";

fn page(title: &str, who: Option<&Identity>, csrf: Option<&str>, body: Markup) -> Html<String> {
    let markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · psaflow" }
                style { (PreEscaped(STYLE)) }
            }
            body {
                header {
                    strong { "psaflow" }
                    @if who.is_some() {
                        a href="/" { "Runs" }
                        a href="/workflows" { "Workflows" }
                        a href="/nodes" { "Nodes" }
                        a href="/audit" { "Audit" }
                    }
                    @if let (Some(who), Some(csrf)) = (who, csrf) {
                        form method="post" action="/logout" {
                            span.muted { (who.name) " " }
                            input type="hidden" name="csrf" value=(csrf);
                            button type="submit" { "Log out" }
                        }
                    }
                }
                main { (body) }
            }
        }
    };
    Html(markup.into_string())
}

/// The CSRF token of a session: a keyed hash of the session token (random key per process).
fn csrf_for(state: &AppState, session: &str) -> String {
    let mut h = Sha256::new();
    h.update(state.csrf_key);
    h.update(b"csrf:");
    h.update(session.as_bytes());
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The logged-in user and their CSRF token, or a redirect to the login page.
async fn session(
    state: &Arc<AppState>,
    headers: &HeaderMap,
) -> Result<(Identity, String), Response> {
    let Some(token) = session_cookie(headers) else {
        return Err(Redirect::to("/login").into_response());
    };
    match authenticate(state, Some(token.clone())).await {
        Ok(identity) => Ok((identity, csrf_for(state, &token))),
        Err(e) if e.status == StatusCode::UNAUTHORIZED => {
            Err(Redirect::to("/login").into_response())
        }
        Err(e) => Err(e.into_response()),
    }
}

/// A form's session: logged in and carrying the right CSRF token.
async fn form_session(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    csrf: &str,
) -> Result<Identity, Response> {
    let (identity, expected) = session(state, headers).await?;
    let ok: bool = expected.as_bytes().ct_eq(csrf.as_bytes()).into();
    if !ok {
        return Err(ApiError::forbidden(
            "the form's CSRF token does not match this session; reload the page and try again",
        )
        .into_response());
    }
    Ok(identity)
}

fn status_badge(status: &str) -> Markup {
    html! { span class=(format!("status {status}")) { (status) } }
}

fn when(ms: i64) -> String {
    crate::cli::state::show_time(ms)
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login_page() -> Html<String> {
    page(
        "Log in",
        None,
        None,
        html! {
            h1 { "Log in" }
            p.muted { "Paste an API token (psaflow tokens create NAME --scopes read,run,approve). It is kept in an HttpOnly cookie for this site only." }
            form method="post" action="/login" {
                input type="password" name="token" id="token" size="72" autocomplete="off" placeholder="psf_..." required;
                " "
                button type="submit" id="login" { "Log in" }
            }
        },
    )
}

async fn login(State(state): State<Arc<AppState>>, Form(form): Form<LoginForm>) -> Response {
    let token = form.token.trim().to_string();
    match authenticate(&state, Some(token.clone())).await {
        Ok(_) => {
            let mut response = Redirect::to("/").into_response();
            let secure = if state.secure_cookies { "; Secure" } else { "" };
            let cookie =
                format!("{SESSION_COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/{secure}");
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Err(e) => {
            let body = page(
                "Log in",
                None,
                None,
                html! {
                    h1 { "Log in" }
                    p.error id="login-error" { (e.message) }
                    p { a href="/login" { "Try again" } }
                },
            );
            (e.status, body).into_response()
        }
    }
}

#[derive(Deserialize)]
struct CsrfForm {
    csrf: String,
}

async fn logout(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Err(r) = form_session(&state, &headers, &form.csrf).await {
        return r;
    }
    let mut response = Redirect::to("/login").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("psaflow_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

async fn runs_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Response {
    let (who, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !who.allows(Scope::Read) {
        return ApiError::forbidden("this token lacks the 'read' scope").into_response();
    }
    let runs = match super::runs::list_page(&state, &q).await {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let current = q.status.clone().unwrap_or_default();
    page(
        "Runs",
        Some(&who),
        Some(&csrf),
        html! {
            h1 { "Runs" }
            form action="/" {
                label { "Status " select name="status" {
                    option value="" selected[current.is_empty()] { "any" }
                    @for s in psaflow_store::RunState::ALL {
                        option value=(s.as_str()) selected[current == s.as_str()] { (s.as_str()) }
                    }
                } }
                " "
                label { "Workflow " input name="workflow" value=(q.workflow.clone().unwrap_or_default()); }
                " "
                button type="submit" { "Filter" }
            }
            table {
                thead { tr { th { "Run" } th { "Workflow" } th { "Status" } th { "Started" } th { "By" } th { "Error" } } }
                tbody {
                    @for r in &runs.runs {
                        tr {
                            td { a href=(format!("/runs/{}", r.id)) { code { (r.id) } } }
                            td { (r.workflow) }
                            td { (status_badge(&r.status)) }
                            td { (when(r.created_at)) }
                            td { (r.started_by) }
                            td.error { (r.error.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
            @if runs.runs.is_empty() { p.muted { "No runs." } }
            @if let Some(next) = &runs.next {
                p { a href=(format!("/?status={current}&before={next}")) { "Older runs →" } }
            }
        },
    )
    .into_response()
}

async fn run_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let (who, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !who.allows(Scope::Read) {
        return ApiError::forbidden("this token lacks the 'read' scope").into_response();
    }
    let report = match super::runs::run_json(&state, &id).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    let status = report["status"].as_str().unwrap_or("running").to_string();
    let steps = report
        .get("steps")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let timings = report
        .get("step_timings")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let approvals = report
        .get("approvals")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let finished = status == "succeeded" || status == "failed";
    // Steps in the order they started (from the store), then any the report has besides.
    let mut order: Vec<String> = timings
        .iter()
        .filter_map(|t| t["step"].as_str().map(str::to_string))
        .collect();
    for k in steps.keys() {
        if !order.contains(k) {
            order.push(k.clone());
        }
    }
    let live = format!(
        "const es=new EventSource('/v1/runs/{id}/events');let t=null;\
         function again(){{clearTimeout(t);t=setTimeout(()=>location.reload(),300);}}\
         let first=true;es.addEventListener('step',()=>{{if(!first)again();}});\
         es.addEventListener('waiting',()=>{{if(document.querySelectorAll('.approval form').length==0)again();}});\
         es.addEventListener('done',()=>{{es.close();again();}});\
         setTimeout(()=>{{first=false;}},1000);"
    );
    page(
        &format!("Run {id}"),
        Some(&who),
        Some(&csrf),
        html! {
            h1 { "Run " code { (id) } }
            p {
                "Workflow " strong { (report["workflow"].as_str().unwrap_or("")) } " · "
                span id="run-status" { (status_badge(&status)) } " · started by " (report["started_by"].as_str().unwrap_or(""))
                " · " (report["backend_description"].as_str().or(report["backend"].as_str()).unwrap_or(""))
            }
            @if let Some(err) = report.get("error").and_then(Value::as_str) {
                p.error { (err) }
            }
            @for a in &approvals {
                @if a["decision"].is_null() {
                    div.approval {
                        strong { "Waiting for approval: step " code { (a["step"].as_str().unwrap_or("")) } }
                        p { (a["message"].as_str().unwrap_or("")) }
                        @if let Some(list) = a["approvers"].as_array().filter(|l| !l.is_empty()) {
                            p.muted { "Approvers: " (list.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(", ")) }
                        }
                        form method="post" action=(format!("/runs/{id}/decide")) {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="step" value=(a["step"].as_str().unwrap_or(""));
                            input name="comment" placeholder="comment (optional)" size="40";
                            " "
                            button type="submit" name="decision" value="approve" id="approve" { "Approve" }
                            " "
                            button type="submit" name="decision" value="reject" id="reject" { "Reject" }
                        }
                    }
                } @else {
                    p.muted { "Step " code { (a["step"].as_str().unwrap_or("")) } " " (a["decision"].as_str().unwrap_or("")) " by " (a["decided_by"].as_str().unwrap_or("")) 
                        @if let Some(c) = a["comment"].as_str() { ": " (c) } }
                }
            }
            h2 { "Steps" }
            ol.timeline id="steps" {
                @for step_id in &order {
                    @let s = steps.get(step_id).cloned().unwrap_or(Value::Null);
                    @let t = timings.iter().find(|t| t["step"].as_str() == Some(step_id.as_str())).cloned().unwrap_or(Value::Null);
                    @let st = s["status"].as_str().or(t["status"].as_str()).unwrap_or("running").to_string();
                    li class=(st) data-step=(step_id) {
                        strong { (step_id) } " "
                        span.muted { (s["node"].as_str().or(t["node"].as_str()).unwrap_or("")) } " "
                        (status_badge(&st))
                        @if let Some(n) = s["attempts"].as_u64() { @if n > 1 { " · " (n) " attempts" } }
                        @if let Some(ms) = t["duration_ms"].as_i64() { span.muted { " · " (ms) " ms" } }
                        @if let Some(e) = s["error"].as_str().or(t["error"].as_str()) { div.error { (e) } }
                        @if let Some(env) = s.get("envelope").filter(|v| !v.is_null()) {
                            details { summary { "envelope" } pre { (serde_json::to_string_pretty(env).unwrap_or_default()) } }
                        }
                    }
                }
            }
            @if let Some(outputs) = report.get("outputs").filter(|o| o.as_object().is_some_and(|m| !m.is_empty())) {
                h2 { "Outputs" }
                pre { (serde_json::to_string_pretty(outputs).unwrap_or_default()) }
            }
            @if !finished {
                form method="post" action=(format!("/runs/{id}/cancel")) {
                    input type="hidden" name="csrf" value=(csrf);
                    button type="submit" { "Cancel run" }
                }
                script { (PreEscaped(live)) }
            }
        },
    )
    .into_response()
}

#[derive(Deserialize)]
struct DecideForm {
    csrf: String,
    step: String,
    decision: String,
    #[serde(default)]
    comment: String,
}

async fn decide(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<DecideForm>,
) -> Response {
    let who = match form_session(&state, &headers, &form.csrf).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if !who.allows(Scope::Approve) {
        return ApiError::forbidden("this token lacks the 'approve' scope").into_response();
    }
    let body = ApprovalBody {
        step: Some(form.step),
        decision: form.decision,
        comment: Some(form.comment).filter(|c| !c.trim().is_empty()),
    };
    match super::approvals::decide(&state, &who.name, &id, body).await {
        Ok(_) => Redirect::to(&format!("/runs/{id}")).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn cancel(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Response {
    let who = match form_session(&state, &headers, &form.csrf).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    if !who.allows(Scope::Run) {
        return ApiError::forbidden("this token lacks the 'run' scope").into_response();
    }
    let caller = super::auth::Caller(who);
    match super::runs::cancel(State(state), caller, Path(id.clone())).await {
        Ok(_) => Redirect::to(&format!("/runs/{id}")).into_response(),
        Err(e) => e.into_response(),
    }
}

async fn workflows_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (who, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let caller = super::auth::Caller(who.clone());
    let list = match super::workflows::list(State(state.clone()), caller).await {
        Ok(axum::Json(l)) => l,
        Err(e) => return e.into_response(),
    };
    page(
        "Workflows",
        Some(&who),
        Some(&csrf),
        html! {
            h1 { "Workflows" }
            @if state.workflows.is_none() { p.muted { "This server has no workflows folder (--workflows DIR)." } }
            @for w in &list {
                section {
                    h3 { (w.name) " " span.muted { "(" (w.file) ")" } }
                    @if let Some(d) = &w.description { p { (d) } }
                    @for p in &w.problems { p.error { (p.line) ":" (p.column) ": " (p.message) } }
                    @if w.problems.is_empty() && who.allows(Scope::Run) {
                        form method="post" action="/start" {
                            input type="hidden" name="csrf" value=(csrf);
                            input type="hidden" name="workflow" value=(w.name);
                            label { "Inputs (JSON) " textarea name="inputs" rows="2" cols="60" data-workflow=(w.name) {
                                (prefilled_inputs(&w.inputs))
                            } }
                            " "
                            button type="submit" data-start=(w.name) { "Start run" }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

/// The start form's inputs: each declared default as typed JSON (so submitting the form
/// unchanged runs with the defaults), `null` to fill in for a required input without one;
/// optional inputs without a default are left out.
fn prefilled_inputs(inputs: &[Value]) -> String {
    let prefilled: serde_json::Map<String, Value> = inputs
        .iter()
        .filter_map(|i| {
            let name = i["name"].as_str()?.to_string();
            match i.get("default") {
                Some(default) => Some((name, default.clone())),
                None if i["required"] == true => Some((name, Value::Null)),
                None => None,
            }
        })
        .collect();
    serde_json::to_string(&prefilled).unwrap_or_default()
}

#[derive(Deserialize)]
struct StartForm {
    csrf: String,
    workflow: String,
    #[serde(default)]
    inputs: String,
}

async fn start(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Form(form): Form<StartForm>,
) -> Response {
    let who = match form_session(&state, &headers, &form.csrf).await {
        Ok(w) => w,
        Err(r) => return r,
    };
    let inputs = if form.inputs.trim().is_empty() {
        serde_json::Map::new()
    } else {
        match serde_json::from_str::<Value>(&form.inputs) {
            Ok(Value::Object(m)) => m,
            _ => return ApiError::bad_request("inputs must be a JSON object").into_response(),
        }
    };
    let body = SubmitRun {
        workflow: Some(form.workflow),
        workflow_yaml: None,
        inputs,
        dry_run: false,
        connection: None,
    };
    let caller = super::auth::Caller(who);
    match super::runs::submit(
        State(state),
        caller,
        HeaderMap::new(),
        Ok(super::error::JsonBody(body)),
    )
    .await
    {
        Ok((_, axum::Json(v))) => match v["id"].as_str() {
            Some(id) => Redirect::to(&format!("/runs/{id}")).into_response(),
            None => ApiError::internal("starting the run", "no id in the answer").into_response(),
        },
        Err(e) => e.into_response(),
    }
}

async fn nodes_page(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let (who, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    page(
        "Nodes",
        Some(&who),
        Some(&csrf),
        html! {
            h1 { "Nodes" }
            table {
                thead { tr { th { "Node" } th { "Effect" } th { "Parameters" } th { "Description" } } }
                tbody {
                    @for spec in state.runtime.catalog().iter() {
                        tr {
                            td { code { (spec.id) } }
                            td {
                                (spec.effect.to_string()) @if spec.is_destructive() { " ⚠" }
                                @for p in spec.param_effects.iter().filter(|p| p.effect.is_destructive()) {
                                    br; small { (p.effect.to_string()) " with " code { (p.condition()) } " ⚠" }
                                }
                            }
                            td { @for p in &spec.params { code { (p.name) } @if p.required { "*" } " " } }
                            td { (spec.description) }
                        }
                    }
                }
            }
        },
    )
    .into_response()
}

async fn audit_page(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Query(q): Query<AuditQuery>,
) -> Response {
    let (who, csrf) = match session(&state, &headers).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    if !who.allows(Scope::Read) {
        return ApiError::forbidden("this token lacks the 'read' scope").into_response();
    }
    let rows = match super::audit::rows(&state, &q).await {
        Ok(r) => r,
        Err(e) => return e.into_response(),
    };
    page(
        "Audit",
        Some(&who),
        Some(&csrf),
        html! {
            h1 { "Audit" }
            form action="/audit" {
                label { "Since " input name="since" placeholder="7d" value=(q.since.clone().unwrap_or_default()); } " "
                label { "Node " input name="node" placeholder="halopsa.*.create" value=(q.node.clone().unwrap_or_default()); } " "
                label { "Target " input name="target" value=(q.target.clone().unwrap_or_default()); } " "
                button type="submit" { "Filter" }
            }
            table {
                thead { tr { th { "When" } th { "Who" } th { "Run" } th { "Step" } th { "Node" } th { "Effect" } th { "Target" } th { "Outcome" } th { "Approved by" } } }
                tbody {
                    @for e in rows.iter().rev() {
                        tr {
                            td { (when(e.at)) } td { (e.actor) }
                            td {
                                // A single invocation's row (`invoke-<id>`) has no run page.
                                @if e.run_id.starts_with(psaflow::invoke_audit::INVOKE_PREFIX) { code { (e.run_id) } }
                                @else { a href=(format!("/runs/{}", e.run_id)) { code { (e.run_id) } } }
                            }
                            td { (e.step_id) @if let Some(i) = e.item { "[" (i) "]" } }
                            td { (e.node) } td { (e.effect) } td { (e.target.clone().unwrap_or_default()) }
                            td { (e.outcome) } td { (e.approved_by.clone().unwrap_or_default()) }
                        }
                    }
                }
            }
            @if rows.is_empty() { p.muted { "No changes recorded." } }
        },
    )
    .into_response()
}
