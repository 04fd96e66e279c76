//! The OpenAPI 3.1 document of the API, generated from the handlers' annotations and the
//! request/response types (utoipa), served at `/v1/openapi.json` without a token.
use super::{audit, error, health, nodes, runs, sse, workflows};
use axum::Json;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "psaflow",
        description = "Runs PSA automation workflows (HaloPSA, ConnectWise) whose nodes are WebAssembly components. Every /v1 call but this document needs `Authorization: Bearer <token>` (psaflow tokens create NAME --scopes ...). Errors are JSON: {\"error\": {\"code\", \"message\", \"diagnostics\"?}}."
    ),
    paths(
        runs::submit, runs::list, runs::get, runs::put, runs::cancel, runs::approve,
        sse::events,
        nodes::list, nodes::get, nodes::invoke,
        workflows::list, workflows::validate,
        audit::list,
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(
        runs::SubmitRun, runs::Submitted, runs::RunPage, runs::RunSummary, runs::ApprovalBody,
        workflows::WorkflowEntry, workflows::ValidateRequest, workflows::ValidateResponse,
        error::ErrorBody, error::ErrorDetail, error::DiagnosticJson,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "runs", description = "Submit, follow, cancel and approve workflow runs"),
        (name = "nodes", description = "The node catalog and single invocations"),
        (name = "workflows", description = "The server's workflows folder and validation"),
        (name = "audit", description = "Every change psaflow made"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// `GET /v1/openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
