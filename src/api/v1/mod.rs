//! The OpenAI-compatible API under `/v1`, for tools and SDKs that speak OpenAI: chat
//! completions (streamed as server-sent events ending in `data: [DONE]`, or whole), embeddings,
//! the model list, and running a template. Authenticated by `Authorization: Bearer <key>`; every call is
//! a run attributed to the key. Errors use OpenAI's error shape and statuses, so SDKs raise the
//! error types their users expect.

mod embeddings;
mod request;
mod response;

use axum::Json as JsonResponse;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::IntoResponse;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiState;
use crate::auth::ApiCaller;
use crate::domain::TemplateId;
use crate::error::{Error, Result};
use crate::gateway::RunRequest;
use crate::http::error::PublicError;
use crate::http::extract::{Json, Path};
use crate::http::routes::{Permission, Routes};

/// Route paths.
pub const CHAT: &str = "/v1/chat/completions";
/// The models a key may use.
pub const MODELS: &str = "/v1/models";
/// One model.
pub const MODEL: &str = "/v1/models/{id}";
/// Embeddings.
pub const EMBEDDINGS: &str = "/v1/embeddings";
/// Run a template.
pub const TEMPLATE_RUN: &str = "/v1/templates/{id}/run";

pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    r.post(CHAT, Permission::ApiKey, chat)
        .get(MODELS, Permission::ApiKey, models)
        .get(MODEL, Permission::ApiKey, model_one)
        .post(EMBEDDINGS, Permission::ApiKey, embeddings::embeddings)
        .post(TEMPLATE_RUN, Permission::ApiKey, template_run)
}

/// Rewrites our error responses into OpenAI's shape (`/v1` only).
/// How every "no such model" message begins, so that it gets OpenAI's `model_not_found` code.
const NO_MODEL: &str = "the model `";

pub async fn openai_errors(request: Request, next: Next) -> Response {
    let is_v1 = request.uri().path().starts_with("/v1/");
    let mut response = next.run(request).await;
    if !is_v1 {
        return response;
    }
    let Some(e) = response.extensions_mut().remove::<PublicError>() else {
        return response;
    };
    let (status, kind, code) = match e.status.as_u16() {
        401 => (
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            Some("invalid_api_key"),
        ),
        403 => (StatusCode::FORBIDDEN, "permission_error", None),
        404 if e.message.starts_with(NO_MODEL) => (
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("model_not_found"),
        ),
        404 => (
            StatusCode::NOT_FOUND,
            "invalid_request_error",
            Some("not_found"),
        ),
        413 | 422 | 400 => (StatusCode::BAD_REQUEST, "invalid_request_error", None),
        429 if e.code == "budget_exceeded" => (
            StatusCode::TOO_MANY_REQUESTS,
            "insufficient_quota",
            Some("insufficient_quota"),
        ),
        429 => (
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limit_error",
            Some("rate_limit_exceeded"),
        ),
        s if s >= 500 => (e.status, "api_error", None),
        _ => (e.status, "invalid_request_error", None),
    };
    let message = match e.status.as_u16() {
        401 => "invalid or revoked API key; pass it as Authorization: Bearer <key>".to_owned(),
        _ => e.message.clone(),
    };
    let body = json!({"error": {"message": message, "type": kind, "param": e.field, "code": code}});
    let (mut parts, _) = response.into_parts();
    parts.status = status;
    if e.code == "budget_exceeded" {
        // OpenAI's SDKs honour this and do not retry a call that cannot succeed this month.
        parts.headers.insert(
            header::HeaderName::from_static("x-should-retry"),
            header::HeaderValue::from_static("false"),
        );
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    let json = JsonResponse(body).into_response();
    let (jp, jb) = json.into_parts();
    parts.headers.extend(jp.headers);
    Response::from_parts(parts, jb)
}

/// Whether the request opts in to the response cache by header.
fn cache_header(headers: &HeaderMap) -> bool {
    headers
        .get("x-promptyard-cache")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim(), "1" | "true" | "on" | "use" | "yes"))
}

/// Checks the key may use `model` and that some connection offers it.
async fn check_model(state: &ApiState, caller: &ApiCaller, model: &str) -> Result<()> {
    if !caller.key.allows_model(model) {
        return Err(Error::Forbidden);
    }
    state
        .gateway
        .providers()
        .connection_for(caller.key.workspace_id, model)
        .await
        .map_err(|_| Error::NotFound)?;
    Ok(())
}

async fn chat(
    State(state): State<ApiState>,
    caller: ApiCaller,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response> {
    // Images make bodies larger than the pages' limit: chat calls take up to 32 MiB.
    let bytes = axum::body::to_bytes(body, request::MAX_BODY_BYTES)
        .await
        .map_err(|_| Error::TooLarge {
            limit_kib: request::MAX_BODY_BYTES / 1024,
        })?;
    let body: Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid("body", format!("the body is not valid JSON: {e}")))?;
    let parsed = request::chat_body(body)?;
    let model = parsed.chat.model.clone();
    check_model(&state, &caller, &model)
        .await
        .map_err(|e| model_error(e, &model))?;
    let req = RunRequest {
        workspace: caller.key.workspace_id,
        user: caller.user.id,
        chat: parsed.chat,
        template: None,
        context_manifest: None,
        api_key: Some(caller.key.id),
        allowed_models: caller.key.models.clone(),
        use_cache: parsed.cache || cache_header(&headers),
        stream: parsed.stream,
    };
    let admission = state.gateway.admit(&req).await?;
    if parsed.stream {
        Ok(response::stream(&state, req, admission, parsed.include_usage, None).await)
    } else {
        response::whole(&state, req, admission, None).await
    }
}

fn model_error(e: Error, model: &str) -> Error {
    match e {
        Error::Forbidden => Error::Denied(format!("this API key may not use the model `{model}`")),
        Error::NotFound => Error::Missing(format!(
            "{NO_MODEL}{model}` does not exist or no connection offers it"
        )),
        other => other,
    }
}

async fn model_one(
    State(state): State<ApiState>,
    caller: ApiCaller,
    Path(id): Path<String>,
) -> Result<JsonResponse<Value>> {
    let JsonResponse(list) = models(State(state), caller).await?;
    list["data"]
        .as_array()
        .and_then(|d| d.iter().find(|m| m["id"] == id.as_str()))
        .cloned()
        .map(JsonResponse)
        .ok_or_else(|| {
            Error::Missing(format!(
                "{NO_MODEL}{id}` does not exist or this key may not use it"
            ))
        })
}

async fn models(State(state): State<ApiState>, caller: ApiCaller) -> Result<JsonResponse<Value>> {
    let mut data = Vec::new();
    let mut seen = Vec::new();
    for conn in state
        .gateway
        .providers()
        .usable(caller.key.workspace_id)
        .await?
    {
        for m in &conn.models {
            if caller.key.allows_model(m) && !seen.contains(m) {
                seen.push(m.clone());
                data.push(json!({"id": m, "object": "model", "created": 0, "owned_by": conn.name}));
            }
        }
    }
    Ok(JsonResponse(json!({"object": "list", "data": data})))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateRunBody {
    #[serde(default)]
    cache: bool,
    #[serde(default)]
    variables: Map<String, Value>,
    #[serde(default)]
    label: Option<String>,
    #[serde(default)]
    version: Option<u32>,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    stream: bool,
    /// Messages that continue the conversation after the template's own.
    #[serde(default)]
    messages: Vec<Value>,
}

async fn template_run(
    State(state): State<ApiState>,
    caller: ApiCaller,
    headers: HeaderMap,
    Path(id): Path<TemplateId>,
    Json(body): Json<TemplateRunBody>,
) -> Result<Response> {
    let t = state.auth.store().get_template(id).await?;
    if t.workspace_id.is_some_and(|w| w != caller.key.workspace_id) {
        return Err(Error::NotFound);
    }
    let selector = match (body.version, &body.label) {
        (Some(v), _) => Some(v.to_string()),
        (None, Some(l)) => Some(l.clone()),
        (None, None) => None,
    };
    let v = state.templates.version(&t, selector.as_deref()).await?;
    let rendered = crate::templates::render(&v.content, &body.variables)?;
    let model = body
        .model
        .or(v.content.model.model.clone())
        .ok_or_else(|| Error::invalid("model", "the template names no model; pass one"))?;
    check_model(&state, &caller, &model)
        .await
        .map_err(|e| model_error(e, &model))?;
    // The caller's messages go at the template's placeholder (or after its messages).
    let conversation = if body.messages.is_empty() {
        Vec::new()
    } else {
        request::messages(body.messages)?
    };
    let req = RunRequest {
        workspace: caller.key.workspace_id,
        user: caller.user.id,
        chat: crate::templates::chat_request(&v.content, &rendered, model, conversation),
        template: Some((t.id, v.version)),
        context_manifest: None,
        api_key: Some(caller.key.id),
        allowed_models: caller.key.models.clone(),
        use_cache: body.cache || cache_header(&headers),
        stream: body.stream,
    };
    let admission = state.gateway.admit(&req).await?;
    let extra = json!({"template_id": t.id, "template_version": v.version});
    if body.stream {
        Ok(response::stream(&state, req, admission, true, Some(extra)).await)
    } else {
        response::whole(&state, req, admission, Some(extra)).await
    }
}
