//! Opening a call: the response cache, then each model of the workspace's fallback route in
//! order, each with retries while nothing has been output.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use time::OffsetDateTime;

use super::Providers;
use super::pipeline::RunRequest;
use crate::domain::{ConnectionId, ProviderKind, WorkspaceId};
use crate::llm::adapters::{chat_stream, chat_whole, drop_unsupported, unsupported};
use crate::llm::chat::{ChatEvent, ChatRequest, ChatStream, LlmError};
use crate::store::Store;

/// How the call was opened: from the cache, through a connection, or not at all.
pub(super) struct Opened {
    /// The connection that answered.
    pub(super) conn: Option<(ConnectionId, ProviderKind)>,
    /// The model answering.
    pub(super) model: String,
    /// The answer's stream, or why no model could answer (with the last model's error, which
    /// decides the status `/v1` answers).
    pub(super) result: Result<ChatStream, (String, Option<LlmError>)>,
    /// Served from the cache: (prompt tokens, output tokens) of the original call.
    pub(super) cached: Option<(u64, u64)>,
    /// Parameters the answering connection dropped because its provider cannot honour them.
    pub(super) dropped: Vec<String>,
}

/// The cache lookup, routing and the start of the upstream call.
pub(super) type Starting = Pin<Box<dyn Future<Output = Opened> + Send>>;

/// The cache key of a request in a workspace: SHA-256 over the workspace and the exact request
/// (every field: model, messages, tools, response format, sampling parameters).
pub(super) fn cache_key(workspace: WorkspaceId, chat: &ChatRequest) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(workspace.0.as_bytes());
    h.update(serde_json::to_vec(chat).unwrap_or_default());
    h.finalize().into()
}

/// Answers from the cache, or tries each model of the route in order (each with its retries)
/// until one starts answering.
pub(super) async fn open(
    providers: Providers,
    store: Arc<dyn Store>,
    now: OffsetDateTime,
    req: RunRequest,
    route: Vec<String>,
    cache_key: Option<[u8; 32]>,
) -> Opened {
    if let Some(key) = cache_key {
        match store.find_cached_response(key, now).await {
            Ok(Some(hit)) if hit.workspace == req.workspace => {
                let events = vec![
                    Ok(ChatEvent::Delta(hit.output)),
                    Ok(ChatEvent::Usage {
                        input_tokens: hit.input_tokens,
                        output_tokens: hit.output_tokens,
                    }),
                    Ok(ChatEvent::Done {
                        finish_reason: hit.finish_reason,
                    }),
                ];
                return Opened {
                    conn: None,
                    model: hit.model,
                    result: Ok(Box::pin(futures_util::stream::iter(events))),
                    cached: Some((hit.input_tokens, hit.output_tokens)),
                    dropped: Vec::new(),
                };
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = ?e, "the response cache could not be read"),
        }
    }
    let mut failures: Vec<(String, String)> = Vec::new();
    let mut last_error: Option<LlmError> = None;
    let mut last_conn = None;
    for model in &route {
        let mut chat = req.chat.clone();
        chat.model = model.clone();
        let conn = match providers.connection_for(req.workspace, model).await {
            Ok(conn) => conn,
            Err(e) => {
                failures.push((model.clone(), e.to_string()));
                last_error = None;
                continue;
            }
        };
        last_conn = Some((conn.id, conn.kind));
        let mut dropped = Vec::new();
        if conn.drop_unsupported {
            (chat, dropped) = drop_unsupported(conn.kind, &chat);
        } else if let Some(u) = unsupported(conn.kind, &chat).into_iter().next() {
            failures.push((model.clone(), u.message.clone()));
            last_error = Some(u.into());
            continue;
        }
        let started = match providers.endpoint(&conn) {
            Ok(ep) => start_with_retries(&providers, &ep, &chat, req.stream).await,
            Err(e) => {
                tracing::error!(connection = %conn.id, error = ?e, "cannot open a provider key");
                Err(LlmError::Unauthorized(
                    "the connection's API key cannot be opened; an admin must check the \
                     master key"
                        .to_owned(),
                ))
            }
        };
        match started {
            Ok(stream) => {
                if !failures.is_empty() {
                    tracing::info!(asked = %req.chat.model, answering = %model, "fell back to another model");
                }
                return Opened {
                    conn: Some((conn.id, conn.kind)),
                    model: model.clone(),
                    result: Ok(stream),
                    cached: None,
                    dropped,
                };
            }
            Err(e) => {
                failures.push((model.clone(), e.to_string()));
                last_error = Some(e);
            }
        }
    }
    let error = match failures.as_slice() {
        [(_, only)] => only.clone(),
        many => many
            .iter()
            .map(|(m, e)| format!("{m}: {e}"))
            .collect::<Vec<_>>()
            .join("; "),
    };
    Opened {
        conn: last_conn,
        model: req.chat.model.clone(),
        result: Err((error, last_error)),
        cached: None,
        dropped: Vec::new(),
    }
}

/// Attempts after the first when the provider fails before sending anything.
const RETRIES: u32 = 2;

/// Whether an error before any output is worth another try: rate limits (with a short or no
/// `Retry-After`), provider 5xx and connection failures. Never a timeout (a slow model would
/// only be slower), a rejected key, an
/// unknown model or a refused address.
fn retryable(e: &LlmError) -> Option<std::time::Duration> {
    match e {
        LlmError::RateLimited {
            retry_after: Some(s),
        } if *s > 5 => None,
        LlmError::RateLimited { retry_after } => {
            Some(std::time::Duration::from_secs(retry_after.unwrap_or(1)))
        }
        LlmError::Upstream { status, .. } if *status >= 500 => Some(std::time::Duration::ZERO),
        LlmError::Unreachable(_) => Some(std::time::Duration::ZERO),
        _ => None,
    }
}

/// Starts the upstream stream (or, for a caller that takes the answer whole, the whole
/// answer), retrying with backoff (250 ms, then 1 s, or the provider's
/// Retry-After) while the failure happens before any output exists, so a retry can never
/// duplicate output.
async fn start_with_retries(
    providers: &Providers,
    ep: &crate::llm::chat::Endpoint,
    chat: &ChatRequest,
    stream: bool,
) -> Result<ChatStream, LlmError> {
    let mut attempt = 0;
    loop {
        let started = if stream {
            chat_stream(providers.outbound(), ep, chat).await
        } else {
            chat_whole(providers.outbound(), ep, chat).await
        };
        match started {
            Ok(stream) => return Ok(stream),
            Err(e) => match retryable(&e) {
                Some(wait) if attempt < RETRIES => {
                    let backoff = std::time::Duration::from_millis(250 * 4u64.pow(attempt));
                    tracing::info!(attempt = attempt + 1, error = %e, "retrying the provider");
                    tokio::time::sleep(wait.max(backoff)).await;
                    attempt += 1;
                }
                _ => return Err(e),
            },
        }
    }
}
