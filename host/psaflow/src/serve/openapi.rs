//! The OpenAPI 3.1 document of the API, generated from the handlers' annotations and the
//! request/response types (utoipa), served at `/v1/openapi.json` without a token.
use super::{approvals, audit, error, health, nodes, runs, sse, workflows};
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
        runs::submit, runs::list, runs::get, runs::put, runs::cancel, approvals::approve,
        sse::events,
        nodes::list, nodes::get, nodes::invoke,
        workflows::list, workflows::validate,
        audit::list,
        health::healthz, health::readyz, health::metrics,
    ),
    components(schemas(
        runs::SubmitRun, runs::Submitted, runs::SubmitAnswer, runs::RunReport, runs::RunPage, runs::RunSummary, approvals::ApprovalBody,
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

/// Answers every `/v1` operation may give besides its own: a JSON [`error::ErrorBody`].
const COMMON_ERRORS: &[(&str, &str)] = &[
    ("400", "a body, query or path that cannot be read"),
    ("401", "no token, or one that is unknown or revoked"),
    ("403", "the token lacks the scope this call needs"),
    ("404", "no such run, node or workflow"),
    ("405", "the endpoint does not take this method"),
    ("413", "the body is larger than the server's limit"),
    ("415", "the body is not sent as application/json"),
    (
        "422",
        "the body is JSON of the wrong shape, or an invalid workflow",
    ),
    (
        "429",
        "the token's rate limit was reached (see Retry-After)",
    ),
];

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        for (path, item) in openapi.paths.paths.iter_mut() {
            if !path.starts_with("/v1/") || path == "/v1/openapi.json" {
                continue;
            }
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.delete,
                &mut item.patch,
            ];
            for operation in operations.into_iter().flatten() {
                for (code, why) in COMMON_ERRORS {
                    if operation.responses.responses.contains_key(*code) {
                        continue;
                    }
                    let response = ResponseBuilder::new()
                        .description(*why)
                        .content(
                            "application/json",
                            ContentBuilder::new()
                                .schema(Some(Ref::from_schema_name("ErrorBody")))
                                .build(),
                        )
                        .build();
                    operation
                        .responses
                        .responses
                        .insert((*code).to_string(), response.into());
                }
            }
        }
    }
}

/// `GET /v1/openapi.json`
pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
