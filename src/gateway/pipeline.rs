//! The gateway pipeline: a chat request from a workspace -> the connection offering the model
//! -> the provider adapter -> a stream of events to the client -> exactly one recorded run.
//!
//! The run's state is decided by how the stream ends: `completed` only after the provider's
//! end marker; `failed` for an error before or instead of output; `truncated` when the stream
//! breaks off after output; `cancelled` when the client goes away (the stream is dropped, which
//! drops the upstream response and so aborts the call at once).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::{Stream, StreamExt};
use serde::Serialize;

use super::Providers;
use super::limits::{Caller, Limits};
use super::recorder::Recorder;
use crate::clock::Clock;
use crate::domain::ConnectionId;
use crate::domain::{
    ApiKeyId, ProviderKind, Run, RunId, RunState, TemplateId, UserId, WorkspaceId,
};
use crate::llm::adapters::chat_stream;
use crate::llm::chat::{
    ChatEvent, ChatMessage, ChatRequest, ChatStream, LlmError, openai_finish_reason,
};
use crate::llm::pricing::PriceTable;
use crate::llm::tokens::count_for_model;

/// What a caller asks the gateway to run.
#[derive(Clone, Debug)]
pub struct RunRequest {
    /// The workspace it runs in (decides the connections and who sees the run).
    pub workspace: WorkspaceId,
    /// Who runs it.
    pub user: UserId,
    /// The chat request (its `model` picks the connection).
    pub chat: ChatRequest,
    /// The template and version it came from.
    pub template: Option<(TemplateId, u32)>,
    /// Files the context builder included.
    pub context_manifest: Option<serde_json::Value>,
    /// The API key the call came through, if any.
    pub api_key: Option<ApiKeyId>,
}

/// What the client sees, in order: `Started`, any number of `Delta`s, then `Finished`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RunEvent {
    /// The run has an id.
    Started {
        /// Its id.
        run_id: RunId,
        /// The model.
        model: String,
    },
    /// More output.
    Delta {
        /// The text.
        text: String,
    },
    /// The outcome, as recorded.
    Finished(RunSummary),
}

/// A run's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// Id.
    pub run_id: RunId,
    /// How it ended.
    pub state: RunState,
    /// Why it failed.
    pub error: Option<String>,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in USD; `None` when the price is unknown.
    pub cost_usd: Option<f64>,
    /// Whole call, ms.
    pub latency_ms: u64,
    /// Until the first output, ms.
    pub ttft_ms: Option<u64>,
    /// Why the answer ended, in OpenAI's vocabulary (`stop`, `length`, `content_filter`,
    /// `tool_calls`); `None` when it did not complete or the provider did not say.
    pub finish_reason: Option<&'static str>,
}

/// The gateway; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    providers: Providers,
    recorder: Recorder,
    prices: Arc<PriceTable>,
    limits: Arc<Limits>,
    clock: Clock,
}

/// A running call: forwards upstream events, accumulates the run, and records it exactly once,
/// on its end or when dropped (the client went away).
/// Routing plus the start of the upstream call: the connection used, and the stream or why not.
type Starting = Pin<
    Box<
        dyn Future<
                Output = (
                    Option<(ConnectionId, ProviderKind)>,
                    Result<ChatStream, String>,
                ),
            > + Send,
    >,
>;

struct Running {
    starting: Option<Starting>,
    upstream: Option<ChatStream>,
    run: Option<Run>,
    kind: Option<ProviderKind>,
    usage: Option<(u64, u64)>,
    finish_reason: Option<&'static str>,
    started: Instant,
    first_output: Option<Instant>,
    gateway: Gateway,
    pending_start: bool,
    done: bool,
}

impl Gateway {
    /// The gateway over `providers`, recording through `recorder`.
    pub fn new(
        providers: Providers,
        recorder: Recorder,
        prices: PriceTable,
        limits: Limits,
        clock: Clock,
    ) -> Self {
        Self {
            providers,
            recorder,
            prices: Arc::new(prices),
            limits: Arc::new(limits),
            clock,
        }
    }

    /// Admits a request under the rate limits, before any run exists; a refusal names the limit
    /// and says when to retry.
    pub fn admit(&self, req: &RunRequest) -> crate::error::Result<()> {
        let tokens = if self.limits.counts_tokens() {
            let text: String = req
                .chat
                .messages
                .iter()
                .map(|m| m.content.as_str())
                .collect();
            u32::try_from(count_for_model(&req.chat.model, &text)).unwrap_or(u32::MAX)
        } else {
            0
        };
        let who = Caller {
            key: req.api_key.map(|k| k.0),
            user: req.user.0,
            workspace: req.workspace.0,
        };
        self.limits.admit(who, tokens)
    }

    /// The provider connections.
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// Runs `req`: the returned stream yields `Started`, the output as it arrives, and the
    /// recorded outcome. Routing and upstream errors arrive as a `Finished` with state `failed`.
    pub async fn run(&self, req: RunRequest) -> impl Stream<Item = RunEvent> + Send + 'static {
        let started = Instant::now();
        let prompt = serde_json::to_string(&req.chat.messages).unwrap_or_default();
        let run = Run {
            id: RunId::new(),
            workspace_id: req.workspace,
            user_id: req.user,
            api_key_id: req.api_key,
            template_id: req.template.map(|(t, _)| t),
            template_version: req.template.map(|(_, v)| v),
            connection_id: None,
            provider: None,
            model: req.chat.model.clone(),
            input_tokens: 0,
            output_tokens: 0,
            cost_usd: None,
            latency_ms: 0,
            ttft_ms: None,
            state: RunState::Failed,
            error: None,
            prompt,
            output: String::new(),
            context_manifest: req.context_manifest.clone(),
            created_at: self.clock.now(),
        };
        // Routing and the upstream call start inside the stream, so a client that leaves (or
        // times out) while the provider is still connecting is recorded as cancelled too.
        let gateway = self.clone();
        let chat = req.chat.clone();
        let workspace = req.workspace;
        let starting: Starting = Box::pin(async move {
            match gateway
                .providers
                .connection_for(workspace, &chat.model)
                .await
            {
                Ok(conn) => {
                    let meta = Some((conn.id, conn.kind));
                    match gateway.providers.endpoint(&conn) {
                        Ok(ep) => {
                            let started = start_with_retries(&gateway.providers, &ep, &chat).await;
                            (meta, started.map_err(|e| e.to_string()))
                        }
                        Err(e) => {
                            tracing::error!(connection = %conn.id, error = ?e, "cannot open a provider key");
                            let msg = "the connection's API key cannot be opened; an admin must \
                                       check the master key";
                            (meta, Err(msg.to_owned()))
                        }
                    }
                }
                Err(e) => (None, Err(e.to_string())),
            }
        });
        Running {
            starting: Some(starting),
            upstream: None,
            run: Some(run),
            kind: None,
            usage: None,
            finish_reason: None,
            started,
            first_output: None,
            gateway: self.clone(),
            pending_start: true,
            done: false,
        }
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

/// Starts the upstream stream, retrying with backoff (250 ms, then 1 s, or the provider's
/// Retry-After) while the failure happens before any output exists, so a retry can never
/// duplicate output.
async fn start_with_retries(
    providers: &Providers,
    ep: &crate::llm::chat::Endpoint,
    chat: &ChatRequest,
) -> Result<ChatStream, LlmError> {
    let mut attempt = 0;
    loop {
        match chat_stream(providers.outbound(), ep, chat).await {
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

impl Running {
    /// Fills in tokens, cost and timing, records the run and returns its summary.
    fn finish(&mut self, state: RunState, error: Option<String>) -> Option<RunSummary> {
        let mut run = self.run.take()?;
        self.done = true;
        self.upstream = None;
        run.state = state;
        if error.is_some() {
            run.error = error;
        }
        let nothing_used = state == RunState::Failed && run.output.is_empty();
        let (input, output) = match self.usage {
            Some(u) => u,
            // A call refused before any output consumed nothing worth counting.
            None if nothing_used => (0, 0),
            None => {
                let prompt_text: String = serde_json::from_str::<Vec<ChatMessage>>(&run.prompt)
                    .map(|m| {
                        m.into_iter()
                            .map(|m| m.content)
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default();
                (
                    count_for_model(&run.model, &prompt_text) as u64,
                    count_for_model(&run.model, &run.output) as u64,
                )
            }
        };
        run.input_tokens = input;
        run.output_tokens = output;
        run.cost_usd = match self.kind {
            Some(kind) => self
                .gateway
                .prices
                .lookup(kind.as_str(), &run.model)
                .cost_usd(input, output),
            None => None,
        };
        run.latency_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        run.ttft_ms = self
            .first_output
            .map(|t| u64::try_from((t - self.started).as_millis()).unwrap_or(u64::MAX));
        let summary = RunSummary {
            run_id: run.id,
            state: run.state,
            error: run.error.clone(),
            input_tokens: run.input_tokens,
            output_tokens: run.output_tokens,
            cost_usd: run.cost_usd,
            latency_ms: run.latency_ms,
            ttft_ms: run.ttft_ms,
            finish_reason: self.finish_reason,
        };
        self.gateway.recorder.record(run);
        Some(summary)
    }
}

impl Stream for Running {
    type Item = RunEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<RunEvent>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        if this.pending_start {
            this.pending_start = false;
            if let Some(run) = &this.run {
                return Poll::Ready(Some(RunEvent::Started {
                    run_id: run.id,
                    model: run.model.clone(),
                }));
            }
        }
        if let Some(starting) = this.starting.as_mut() {
            let (meta, result) = match starting.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(out) => out,
            };
            this.starting = None;
            if let Some((id, kind)) = meta {
                this.kind = Some(kind);
                if let Some(run) = this.run.as_mut() {
                    run.connection_id = Some(id);
                    run.provider = Some(kind);
                }
            }
            match result {
                Ok(stream) => this.upstream = Some(stream),
                Err(message) => {
                    if let Some(run) = this.run.as_mut() {
                        run.error = Some(message);
                    }
                }
            }
        }
        let Some(upstream) = this.upstream.as_mut() else {
            // Failed before any upstream call.
            let summary = this.finish(RunState::Failed, None);
            return Poll::Ready(summary.map(RunEvent::Finished));
        };
        loop {
            match upstream.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(ChatEvent::Delta(text)))) => {
                    if text.is_empty() {
                        continue;
                    }
                    this.first_output.get_or_insert_with(Instant::now);
                    if let Some(run) = this.run.as_mut() {
                        run.output.push_str(&text);
                    }
                    return Poll::Ready(Some(RunEvent::Delta { text }));
                }
                Poll::Ready(Some(Ok(ChatEvent::Usage {
                    input_tokens,
                    output_tokens,
                }))) => {
                    this.usage = Some((input_tokens, output_tokens));
                }
                Poll::Ready(Some(Ok(ChatEvent::Done { finish_reason }))) => {
                    this.finish_reason = finish_reason.as_deref().map(openai_finish_reason);
                    let summary = this.finish(RunState::Completed, None);
                    return Poll::Ready(summary.map(RunEvent::Finished));
                }
                Poll::Ready(Some(Err(e))) => {
                    let had_output = this.run.as_ref().is_some_and(|r| !r.output.is_empty());
                    let state = match (&e, had_output) {
                        (LlmError::Reset(_) | LlmError::Timeout, true) => RunState::Truncated,
                        _ => RunState::Failed,
                    };
                    let summary = this.finish(state, Some(e.to_string()));
                    return Poll::Ready(summary.map(RunEvent::Finished));
                }
                Poll::Ready(None) => {
                    // The adapter ends with Done or an error; an end without either is a break.
                    let summary = this.finish(
                        RunState::Truncated,
                        Some("the answer ended without its end marker".to_owned()),
                    );
                    return Poll::Ready(summary.map(RunEvent::Finished));
                }
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if !self.done {
            // The client went away (or pressed stop): the upstream call is dropped with us.
            self.finish(
                RunState::Cancelled,
                Some("stopped before the answer was complete".to_owned()),
            );
        }
    }
}
