//! Embeddings through the gateway: the same key allowlist, rate limits, budgets, outbound
//! policy and recording as chat; no fallbacks, cache or streaming (an embedding model is chosen
//! for its vector space, and another model's vectors would not be comparable).

use std::time::Instant;

use super::pipeline::{Gateway, RunSummary};
use crate::domain::governance::month_of;
use crate::domain::{ApiKeyId, Retention, Run, RunId, RunState, SpendEntry, UserId, WorkspaceId};
use crate::error::Result;
use crate::llm::adapters::{embed, embeddings_unsupported};
use crate::llm::chat::{ChatMessage, ChatRole, LlmError};
use crate::llm::embeddings::EmbeddingRequest;
use crate::llm::estimate::messages_tokens;

/// What a caller asks to embed.
#[derive(Clone, Debug)]
pub struct EmbedRequest {
    /// The workspace it runs in.
    pub workspace: WorkspaceId,
    /// Who runs it.
    pub user: UserId,
    /// The API key it came through, if any.
    pub api_key: Option<ApiKeyId>,
    /// The request.
    pub embedding: EmbeddingRequest,
}

/// The recorded outcome and, when it completed, one vector per input.
pub struct Embeddings {
    /// The outcome as recorded (state, tokens, cost, the provider's error).
    pub summary: RunSummary,
    /// The vectors, in input order.
    pub vectors: Vec<Vec<f32>>,
}

/// The inputs as the run's prompt: each text a user message, so history and search show them.
fn prompt_messages(req: &EmbeddingRequest) -> Vec<ChatMessage> {
    match req.input.texts() {
        Some(texts) => texts
            .into_iter()
            .map(|t| ChatMessage::text(ChatRole::User, t))
            .collect(),
        None => vec![ChatMessage::text(
            ChatRole::User,
            serde_json::to_string(&req.input).unwrap_or_default(),
        )],
    }
}

impl Gateway {
    /// Admits, calls and records one embeddings request. Errors before the call (limits,
    /// budgets) are `Err`; a provider's failure is a recorded failed run in the summary.
    pub async fn embed(&self, req: EmbedRequest) -> Result<Embeddings> {
        let messages = prompt_messages(&req.embedding);
        let model = req.embedding.model.clone();
        let admission = self
            .admit_call(
                (req.workspace, req.user, req.api_key),
                &model,
                || messages_tokens(&model, &messages),
                0,
            )
            .await?;
        let started = Instant::now();
        let conn = self.providers.connection_for(req.workspace, &model).await;
        let outcome = match &conn {
            Err(e) => Err(LlmError::UnknownModel(e.to_string())),
            Ok(conn) => match embeddings_unsupported(conn.kind, &req.embedding) {
                Some(e) => Err(e),
                None => match self.providers.endpoint(conn) {
                    Ok(ep) => embed(self.providers.outbound(), &ep, &req.embedding).await,
                    Err(_) => Err(LlmError::Unauthorized(
                        "the connection's API key cannot be opened; an admin must check the \
                         master key"
                            .into(),
                    )),
                },
            },
        };
        let kind = conn.as_ref().ok().map(|c| c.kind);
        let (state, error, vectors, input_tokens) = match outcome {
            Ok(e) => {
                let tokens = e
                    .input_tokens
                    .unwrap_or_else(|| messages_tokens(&model, &messages));
                (RunState::Completed, None, e.vectors, tokens)
            }
            Err(e) => (RunState::Failed, Some(e), Vec::new(), 0),
        };
        let cost_usd = kind.and_then(|k| {
            self.prices
                .lookup(k.as_str(), &model)
                .cost_usd(input_tokens, 0)
        });
        if let Some(r) = admission.reservation {
            r.settle(cost_usd.unwrap_or(0.0));
        }
        let latency_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let dimensions = vectors.first().map_or(0, Vec::len);
        let run = Run {
            id: RunId::new(),
            workspace_id: req.workspace,
            user_id: req.user,
            api_key_id: req.api_key,
            template_id: None,
            template_version: None,
            connection_id: conn.as_ref().ok().map(|c| c.id),
            provider: kind,
            model: model.clone(),
            requested_model: None,
            params: match serde_json::to_value(&req.embedding) {
                Ok(serde_json::Value::Object(mut o)) => {
                    o.remove("input");
                    o.remove("model");
                    (!o.is_empty()).then_some(serde_json::Value::Object(o))
                }
                _ => None,
            },
            detail: (state == RunState::Completed).then(|| {
                serde_json::json!({"embeddings": {"count": vectors.len(), "dimensions": dimensions}})
            }),
            cached: false,
            input_tokens,
            output_tokens: 0,
            cost_usd,
            latency_ms,
            ttft_ms: None,
            state,
            error: error.as_ref().map(ToString::to_string),
            prompt: serde_json::to_string(&messages).unwrap_or_default(),
            output: String::new(),
            context_manifest: None,
            created_at: self.clock.now(),
        };
        self.metrics.gateway_call(&crate::metrics::Call {
            model: &run.model,
            state: run.state.as_str(),
            latency_ms,
            ttft_ms: None,
            input_tokens,
            output_tokens: 0,
            cost_usd,
        });
        let summary = RunSummary {
            run_id: run.id,
            model: model.clone(),
            cached: false,
            state,
            error: run.error.clone(),
            input_tokens,
            output_tokens: 0,
            cost_usd,
            latency_ms,
            ttft_ms: None,
            finish_reason: None,
            tool_calls: Vec::new(),
            refusal: None,
            logprobs: None,
            schema_valid: None,
            schema_problem: None,
            failure: error,
        };
        let spend = cost_usd.filter(|c| *c > 0.0).map(|usd| SpendEntry {
            workspace: run.workspace_id,
            user: run.user_id,
            month: month_of(run.created_at),
            usd,
        });
        let run = match admission.settings.retention {
            Retention::Full => Some(run),
            Retention::Metadata => Some(Run {
                prompt: String::new(),
                params: None,
                ..run
            }),
            Retention::None => None,
        };
        self.recorder.record(run, spend);
        Ok(Embeddings { summary, vectors })
    }
}
