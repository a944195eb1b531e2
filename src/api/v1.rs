//! The OpenAI-compatible API under `/v1`, for tools and SDKs that speak OpenAI: chat
//! completions (streamed as server-sent events ending in `data: [DONE]`, or whole), the model
//! list, and running a template. Authenticated by `Authorization: Bearer <key>`; every call is
//! a run attributed to the key. Errors use OpenAI's error shape and statuses, so SDKs raise the
//! error types their users expect.

use std::convert::Infallible;

use axum::Json as JsonResponse;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use super::ApiState;
use crate::auth::ApiCaller;
use crate::domain::{RunState, TemplateId};
use crate::error::{Error, Result};
use crate::gateway::{Admission, RunEvent, RunRequest};
use crate::http::error::PublicError;
use crate::http::extract::{Json, Path};
use crate::http::routes::{Permission, Routes};
use crate::llm::chat::{ChatMessage, ChatRequest, ChatRole};

/// Route paths.
pub const CHAT: &str = "/v1/chat/completions";
/// The models a key may use.
pub const MODELS: &str = "/v1/models";
/// Run a template.
pub const TEMPLATE_RUN: &str = "/v1/templates/{id}/run";

pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    r.post(CHAT, Permission::ApiKey, chat)
        .get(MODELS, Permission::ApiKey, models)
        .post(TEMPLATE_RUN, Permission::ApiKey, template_run)
}

/// Rewrites our error responses into OpenAI's shape (`/v1` only).
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

/// A message's content: a string, or OpenAI's list of parts (text parts are joined).
#[derive(Deserialize)]
#[serde(untagged)]
enum Content {
    Text(String),
    Parts(Vec<Value>),
}

impl Content {
    fn text(self) -> Result<String> {
        match self {
            Content::Text(t) => Ok(t),
            Content::Parts(parts) => parts
                .iter()
                .map(|p| {
                    match (
                        p.get("type").and_then(Value::as_str),
                        p.get("text").and_then(Value::as_str),
                    ) {
                        (Some("text"), Some(t)) => Ok(t.to_owned()),
                        _ => Err(Error::invalid(
                            "messages",
                            "only text content parts are supported",
                        )),
                    }
                })
                .collect::<Result<Vec<_>>>()
                .map(|v| v.join("")),
        }
    }
}

#[derive(Deserialize)]
struct InMessage {
    role: String,
    #[serde(default)]
    content: Option<Content>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum Stop {
    One(String),
    Many(Vec<String>),
}

#[derive(Deserialize, Default)]
struct StreamOptions {
    #[serde(default)]
    include_usage: bool,
}

/// OpenAI's chat request; fields we do not use (n, top_p, user, ...) are accepted and ignored.
#[derive(Deserialize)]
struct ChatBody {
    model: String,
    messages: Vec<InMessage>,
    #[serde(default)]
    stream: bool,
    #[serde(default)]
    stream_options: Option<StreamOptions>,
    #[serde(default)]
    temperature: Option<f64>,
    #[serde(default)]
    max_tokens: Option<u32>,
    #[serde(default)]
    max_completion_tokens: Option<u32>,
    #[serde(default)]
    stop: Option<Stop>,
    /// Promptyard's opt-in to the workspace's response cache (also `X-Promptyard-Cache: on`).
    #[serde(default)]
    cache: bool,
}

/// Whether the request opts in to the response cache by header.
fn cache_header(headers: &HeaderMap) -> bool {
    headers
        .get("x-promptyard-cache")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim(), "1" | "true" | "on" | "use" | "yes"))
}

fn messages(input: Vec<InMessage>) -> Result<Vec<ChatMessage>> {
    if input.is_empty() {
        return Err(Error::invalid("messages", "messages must not be empty"));
    }
    input
        .into_iter()
        .map(|m| {
            let role = match m.role.as_str() {
                "system" | "developer" => ChatRole::System,
                "user" => ChatRole::User,
                "assistant" => ChatRole::Assistant,
                other => {
                    return Err(Error::invalid(
                        "messages",
                        format!("unsupported role `{other}`"),
                    ));
                }
            };
            let content = m
                .content
                .map(Content::text)
                .transpose()?
                .unwrap_or_default();
            Ok(ChatMessage { role, content })
        })
        .collect()
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
    Json(body): Json<ChatBody>,
) -> Result<Response> {
    let model = body.model.trim().to_owned();
    check_model(&state, &caller, &model)
        .await
        .map_err(|e| model_error(e, &model))?;
    if let Some(t) = body.temperature
        && !(0.0..=2.0).contains(&t)
    {
        return Err(Error::invalid(
            "temperature",
            "temperature must be between 0 and 2",
        ));
    }
    let chat = ChatRequest {
        model: model.clone(),
        messages: messages(body.messages)?,
        temperature: body.temperature,
        max_tokens: body.max_completion_tokens.or(body.max_tokens),
        stop: match body.stop {
            None => Vec::new(),
            Some(Stop::One(s)) => vec![s],
            Some(Stop::Many(v)) => v,
        },
    };
    let include_usage = body.stream_options.unwrap_or_default().include_usage;
    let req = RunRequest {
        workspace: caller.key.workspace_id,
        user: caller.user.id,
        chat,
        template: None,
        context_manifest: None,
        api_key: Some(caller.key.id),
        allowed_models: caller.key.models.clone(),
        use_cache: body.cache || cache_header(&headers),
        stream: body.stream,
    };
    let admission = state.gateway.admit(&req).await?;
    if body.stream {
        Ok(stream_response(&state, req, admission, include_usage, None).await)
    } else {
        whole_response(&state, req, admission, None).await
    }
}

fn model_error(e: Error, model: &str) -> Error {
    match e {
        Error::Forbidden => Error::Denied(format!("this API key may not use the model `{model}`")),
        Error::NotFound => Error::Missing(format!(
            "the model `{model}` does not exist or no connection offers it"
        )),
        other => other,
    }
}

fn chunk(id: &str, created: i64, model: &str, delta: Value, finish: Option<&str>) -> Value {
    json!({
        "id": id, "object": "chat.completion.chunk", "created": created, "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    })
}

fn sse(v: &Value) -> Bytes {
    Bytes::from(format!("data: {v}\n\n"))
}

fn usage(s: &crate::gateway::RunSummary) -> Value {
    json!({
        "prompt_tokens": s.input_tokens,
        "completion_tokens": s.output_tokens,
        "total_tokens": s.input_tokens + s.output_tokens
    })
}

/// Promptyard's additions to a response: how it was served, plus `extra`.
fn promptyard_info(cached: bool, asked: &str, model: &str, extra: Option<&Value>) -> Value {
    let mut info = extra.cloned().unwrap_or_else(|| json!({}));
    info["cached"] = json!(cached);
    if asked != model {
        info["requested_model"] = json!(asked);
    }
    info
}

async fn stream_response(
    state: &ApiState,
    req: RunRequest,
    admission: Admission,
    include_usage: bool,
    extra: Option<Value>,
) -> Response {
    let asked = req.chat.model.clone();
    let mut model = asked.clone();
    let created = state.auth.clock().now().unix_timestamp();
    let mut id = String::new();
    let events = state
        .gateway
        .run(req, admission)
        .await
        .flat_map(move |event| {
            let out: Vec<Bytes> = match event {
                RunEvent::Started {
                    run_id,
                    model: answering,
                    cached,
                } => {
                    id = format!("chatcmpl-{}", run_id.0.simple());
                    model = answering;
                    let mut first = chunk(
                        &id,
                        created,
                        &model,
                        json!({"role": "assistant", "content": ""}),
                        None,
                    );
                    first["run_id"] = json!(run_id);
                    first["promptyard"] = promptyard_info(cached, &asked, &model, extra.as_ref());
                    vec![sse(&first)]
                }
                RunEvent::Delta { text } => vec![sse(&chunk(
                    &id,
                    created,
                    &model,
                    json!({"content": text}),
                    None,
                ))],
                RunEvent::Finished(s) => {
                    let mut out = Vec::new();
                    match s.state {
                        RunState::Completed => {
                            out.push(sse(&chunk(
                                &id,
                                created,
                                &model,
                                json!({}),
                                Some(s.finish_reason.unwrap_or("stop")),
                            )));
                            if include_usage {
                                out.push(sse(&json!({
                                    "id": id, "object": "chat.completion.chunk", "created": created,
                                    "model": model, "choices": [], "usage": usage(&s)
                                })));
                            }
                            out.push(Bytes::from("data: [DONE]\n\n"));
                        }
                        // An answer that did not complete is never reported as success: the stream
                        // ends with an error event and no [DONE].
                        _ => out.push(sse(&json!({"error": {
                            "message": s.error.unwrap_or_else(|| s.state.to_string()),
                            "type": "api_error", "code": s.state.as_str()
                        }}))),
                    }
                    out
                }
            };
            futures_util::stream::iter(out.into_iter().map(Ok::<_, Infallible>))
        });
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        Body::from_stream(events),
    )
        .into_response()
}

async fn whole_response(
    state: &ApiState,
    req: RunRequest,
    admission: Admission,
    template: Option<Value>,
) -> Result<Response> {
    let asked = req.chat.model.clone();
    let created = state.auth.clock().now().unix_timestamp();
    let mut text = String::new();
    let mut summary = None;
    let mut events = Box::pin(state.gateway.run(req, admission).await);
    while let Some(event) = events.next().await {
        match event {
            RunEvent::Delta { text: t } => text.push_str(&t),
            RunEvent::Finished(s) => summary = Some(s),
            RunEvent::Started { .. } => {}
        }
    }
    let s = summary.ok_or_else(|| Error::internal("the run ended without an outcome"))?;
    if s.state != RunState::Completed {
        return Ok((
            StatusCode::BAD_GATEWAY,
            JsonResponse(json!({"error": {
                "message": s.error.unwrap_or_else(|| s.state.to_string()),
                "type": "api_error", "param": null, "code": s.state.as_str()
            }, "run_id": s.run_id})),
        )
            .into_response());
    }
    let mut body = json!({
        "id": format!("chatcmpl-{}", s.run_id.0.simple()),
        "object": "chat.completion",
        "created": created,
        "model": s.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": s.finish_reason.unwrap_or("stop")}],
        "usage": usage(&s),
        "run_id": s.run_id,
    });
    body["promptyard"] = promptyard_info(s.cached, &asked, &s.model, template.as_ref());
    Ok(JsonResponse(body).into_response())
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
    let mut messages = Vec::new();
    if !rendered.system_prompt.trim().is_empty() {
        messages.push(ChatMessage {
            role: ChatRole::System,
            content: rendered.system_prompt,
        });
    }
    messages.push(ChatMessage {
        role: ChatRole::User,
        content: rendered.user_prompt,
    });
    let req = RunRequest {
        workspace: caller.key.workspace_id,
        user: caller.user.id,
        chat: ChatRequest {
            model,
            messages,
            temperature: v.content.model.temperature,
            max_tokens: v.content.model.max_tokens,
            stop: Vec::new(),
        },
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
        Ok(stream_response(&state, req, admission, true, Some(extra)).await)
    } else {
        whole_response(&state, req, admission, Some(extra)).await
    }
}
