//! The gateway pipeline: a chat request from a workspace -> the connection offering the model
//! -> the provider adapter -> a stream of events to the client -> exactly one recorded run.
//!
//! The run's state is decided by how the stream ends: `completed` only after the provider's
//! end marker; `failed` for an error before or instead of output; `truncated` when the stream
//! breaks off after output; `cancelled` when the client goes away (the stream is dropped, which
//! drops the upstream response and so aborts the call at once).

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::{Arc, PoisonError, RwLock};
use std::task::{Context, Poll};
use std::time::Instant;

use futures_util::{Stream, StreamExt};
use serde::Serialize;

use super::Providers;
use super::answer::{add_tool_call, detail};
use super::budgets::{Budgets, Reservation};
use super::limits::{Caller, Limits};
use super::open::{Starting, cache_key, open};
use super::recorder::Recorder;
use crate::clock::Clock;
use crate::domain::governance::month_of;
use crate::domain::{
    ApiKeyId, CachedResponse, GatewaySettings, MonthSpend, NewAuditEvent, ProviderKind, Retention,
    Run, RunId, RunState, SpendEntry, TemplateId, UserId, WorkspaceId,
};
use crate::error::Result;
use crate::llm::chat::{
    ChatEvent, ChatMessage, ChatRequest, ChatStream, LlmError, ToolCall, ToolCallDelta,
    openai_finish_reason,
};
use crate::llm::estimate::{messages_tokens, output_tokens, request_tokens};
use crate::llm::pricing::PriceTable;
use crate::store::Store;

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
    /// The models the caller may use (empty: any); fallbacks outside it are skipped.
    pub allowed_models: Vec<String>,
    /// Whether the caller asks for the response cache (used when the workspace has it on).
    pub use_cache: bool,
    /// Whether the caller reads the answer as it arrives; when not, the provider is asked for
    /// the whole answer at once (one JSON body instead of an event per token).
    pub stream: bool,
}

/// A call admitted under the limits and budgets, ready to run.
#[derive(Debug)]
pub struct Admission {
    pub(super) settings: Arc<GatewaySettings>,
    pub(super) reservation: Option<Reservation>,
}

/// What the client sees, in order: `Started`, any number of `Delta`s, then `Finished`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum RunEvent {
    /// The run has an id and a model is answering (or none could).
    Started {
        /// Its id.
        run_id: RunId,
        /// The model answering: the one asked for, or a fallback.
        model: String,
        /// Answered from the response cache.
        cached: bool,
    },
    /// More output.
    Delta {
        /// The text.
        text: String,
    },
    /// More of a tool call (the first fragment of a call has its id and name).
    #[serde(rename = "tool_call")]
    ToolCall(ToolCallDelta),
    /// More of the model's refusal.
    Refusal {
        /// The text.
        text: String,
    },
    /// Log probabilities of output tokens, as OpenAI's `logprobs.content` entries.
    Logprobs {
        /// The entries.
        content: Vec<serde_json::Value>,
    },
    /// The outcome, as recorded (boxed: it is much larger than the other events).
    Finished(Box<RunSummary>),
}

/// A run's outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RunSummary {
    /// Id.
    pub run_id: RunId,
    /// The model that answered.
    pub model: String,
    /// Answered from the response cache (cost 0).
    pub cached: bool,
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
    /// The tool calls of the answer, assembled, arguments as the model wrote them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tool_calls: Vec<ToolCall>,
    /// The model's refusal, if it refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// Log probabilities of the output tokens, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logprobs: Option<Vec<serde_json::Value>>,
    /// Whether the answer follows the request's JSON Schema (when it had one and completed
    /// with text).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_valid: Option<bool>,
    /// Why it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub schema_problem: Option<String>,
    /// The provider's error, when it failed; it decides the status `/v1` answers.
    #[serde(skip)]
    pub failure: Option<LlmError>,
}

/// The gateway; cheap to clone.
#[derive(Clone)]
pub struct Gateway {
    pub(super) providers: Providers,
    pub(super) recorder: Recorder,
    pub(super) prices: Arc<PriceTable>,
    limits: Arc<Limits>,
    budgets: Arc<Budgets>,
    /// Settings by workspace with when they were read; re-read after `SETTINGS_TTL` so a change
    /// made through another server on the same database applies here too.
    settings: Arc<RwLock<SettingsCache>>,
    store: Arc<dyn Store>,
    pub(super) clock: Clock,
    pub(super) metrics: crate::metrics::Metrics,
}

/// A running call: forwards upstream events, accumulates the run, and records it exactly once,
/// on its end or when dropped (the client went away).
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
    settings: Arc<GatewaySettings>,
    reservation: Option<Reservation>,
    /// The cache key, when this call may be stored in (or came from) the cache.
    cache_key: Option<[u8; 32]>,
    /// The answer's tool calls so far, by index.
    tool_calls: Vec<ToolCall>,
    refusal: String,
    logprobs: Vec<serde_json::Value>,
    /// Parameters the connection dropped.
    dropped: Vec<String>,
    /// The provider's error, if it failed.
    failure: Option<LlmError>,
    /// The JSON Schema the answer must follow (`response_format`), checked when it completes.
    schema: Option<serde_json::Value>,
    done: bool,
}

impl Gateway {
    /// The gateway over `providers`, recording through `recorder`.
    pub fn new(
        providers: Providers,
        recorder: Recorder,
        prices: PriceTable,
        limits: Limits,
        store: Arc<dyn Store>,
        clock: Clock,
        metrics: crate::metrics::Metrics,
    ) -> Self {
        Self {
            providers,
            recorder,
            prices: Arc::new(prices),
            limits: Arc::new(limits),
            budgets: Budgets::new(store.clone()),
            settings: Arc::new(RwLock::new(HashMap::new())),
            store,
            clock,
            metrics,
        }
    }

    /// A workspace's gateway settings (kept in memory for `SETTINGS_TTL` after a read).
    pub async fn settings(&self, workspace: WorkspaceId) -> Result<Arc<GatewaySettings>> {
        if let Some((at, s)) = self
            .settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&workspace)
            && at.elapsed() < SETTINGS_TTL
        {
            return Ok(s.clone());
        }
        let loaded = Arc::new(self.store.get_gateway_settings(workspace).await?);
        self.settings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(workspace, (Instant::now(), loaded.clone()));
        Ok(loaded)
    }

    /// Validates and stores a workspace's settings (an audit event records who changed them
    /// and the budgets); they apply to the next call.
    pub async fn update_settings(
        &self,
        actor: UserId,
        workspace: WorkspaceId,
        settings: GatewaySettings,
        ip: Option<String>,
    ) -> Result<GatewaySettings> {
        let settings = settings.validate()?;
        let budget = |b: Option<f64>| b.map_or("none".to_owned(), |b| format!("${b:.2}"));
        let audit = NewAuditEvent::new(Some(actor), "workspace.gateway_settings")
            .ip(ip)
            .workspace(workspace)
            .detail(format!(
                "retention {}, cache {} s, budget {}, member budget {}, {} fallback routes",
                settings.retention,
                settings.cache_ttl_secs,
                budget(settings.budget_usd),
                budget(settings.member_budget_usd),
                settings.fallbacks.len()
            ));
        let saved = self
            .store
            .update_gateway_settings(workspace, settings, audit)
            .await?;
        self.settings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(workspace, (Instant::now(), Arc::new(saved.clone())));
        Ok(saved)
    }

    /// What the workspace's members spent this month (as recorded so far).
    pub async fn month_spend(&self, workspace: WorkspaceId) -> Result<MonthSpend> {
        self.store
            .get_month_spend(workspace, &month_of(self.clock.now()))
            .await
    }

    /// Admits a request under the rate limits and budgets, before any run exists: the estimated
    /// cost (prompt tokens plus `max_tokens`, or 1,024 output tokens when it is not set) is
    /// reserved against the month's budgets. A refusal names the limit or budget.
    pub async fn admit(&self, req: &RunRequest) -> Result<Admission> {
        let output = u64::from(req.chat.max_tokens.unwrap_or(1024));
        self.admit_call(
            (req.workspace, req.user, req.api_key),
            &req.chat.model,
            || request_tokens(&req.chat),
            output,
        )
        .await
    }

    /// Admits a call of `model` by `who` (workspace, user, key): `tokens` counts its prompt
    /// (only when a limit or budget needs it), `output` is the output tokens to reserve for.
    pub(super) async fn admit_call(
        &self,
        (workspace, user, key): (WorkspaceId, UserId, Option<ApiKeyId>),
        model: &str,
        tokens: impl FnOnce() -> u64,
        output: u64,
    ) -> Result<Admission> {
        let settings = self.settings(workspace).await?;
        let budgeted = settings.budget_usd.is_some() || settings.member_budget_usd.is_some();
        let counts = self.limits.counts_tokens(&settings) || budgeted;
        let tokens = if counts { tokens() } else { 0 };
        let who = Caller {
            key: key.map(|k| k.0),
            user: user.0,
            workspace: workspace.0,
        };
        self.limits
            .admit(who, u32::try_from(tokens).unwrap_or(u32::MAX), &settings)?;
        let estimate = if budgeted {
            match self.providers.connection_for(workspace, model).await {
                Ok(conn) => self
                    .prices
                    .lookup(conn.kind.as_str(), model)
                    .cost_usd(tokens, output)
                    .unwrap_or(0.0),
                Err(_) => 0.0,
            }
        } else {
            0.0
        };
        let reservation = self
            .budgets
            .reserve(workspace, user, self.clock.now(), estimate, &settings)
            .await
            .inspect_err(|e| {
                if matches!(e, crate::error::Error::OverBudget(_)) {
                    self.metrics.budget_rejection();
                }
            })?;
        Ok(Admission {
            settings,
            reservation: Some(reservation),
        })
    }

    /// The context window of `model` on a connection of `provider_kind`, when known.
    pub fn context_window(&self, provider_kind: &str, model: &str) -> Option<u32> {
        self.prices.lookup(provider_kind, model).context_window()
    }

    /// The provider connections.
    pub fn providers(&self) -> &Providers {
        &self.providers
    }

    /// Runs `req` as admitted: the returned stream yields `Started`, the output as it arrives,
    /// and the recorded outcome. Routing and upstream errors arrive as a `Finished` with state
    /// `failed`.
    pub async fn run(
        &self,
        req: RunRequest,
        admission: Admission,
    ) -> impl Stream<Item = RunEvent> + Send + 'static {
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
            requested_model: None,
            cached: false,
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
            params: req.chat.params(),
            detail: None,
            created_at: self.clock.now(),
        };
        let settings = admission.settings;
        let req_schema = req.chat.response_format.as_ref().and_then(|f| f.schema());
        let cache_key = (req.use_cache && settings.cache_ttl_secs > 0)
            .then(|| cache_key(req.workspace, &req.chat));
        // Routing and the upstream call start inside the stream, so a client that leaves (or
        // times out) while the provider is still connecting is recorded as cancelled too.
        let gateway = self.clone();
        let route: Vec<String> = settings
            .models_for(&req.chat.model)
            .into_iter()
            .enumerate()
            .filter(|(i, m)| {
                *i == 0 || req.allowed_models.is_empty() || req.allowed_models.contains(m)
            })
            .map(|(_, m)| m)
            .collect();
        let starting: Starting = Box::pin(open(
            gateway.providers.clone(),
            gateway.store.clone(),
            gateway.clock.now(),
            req,
            route,
            cache_key,
        ));
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
            settings,
            reservation: admission.reservation,
            cache_key,
            tool_calls: Vec::new(),
            refusal: String::new(),
            logprobs: Vec::new(),
            dropped: Vec::new(),
            failure: None,
            schema: req_schema,
            done: false,
        }
    }
}

/// Workspace settings in memory, with when they were read.
type SettingsCache = HashMap<WorkspaceId, (Instant, Arc<GatewaySettings>)>;

/// How long a workspace's settings are used from memory before they are read again.
const SETTINGS_TTL: std::time::Duration = std::time::Duration::from_secs(10);

impl Running {
    /// Stores a completed answer in the cache, in the background.
    fn store_in_cache(&self, key: [u8; 32], run: &Run) {
        let now = self.gateway.clock.now();
        let entry = CachedResponse {
            key,
            workspace: run.workspace_id,
            model: run.model.clone(),
            output: run.output.clone(),
            input_tokens: run.input_tokens,
            output_tokens: run.output_tokens,
            finish_reason: self.finish_reason.map(str::to_owned),
            created_at: now,
            expires_at: now + time::Duration::seconds(i64::from(self.settings.cache_ttl_secs)),
        };
        let store = self.gateway.store.clone();
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = store.put_cached_response(entry).await {
                    tracing::warn!(error = ?e, "could not store a response in the cache");
                }
            });
        }
    }

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
                let messages: Vec<ChatMessage> =
                    serde_json::from_str(&run.prompt).unwrap_or_default();
                (
                    messages_tokens(&run.model, &messages),
                    output_tokens(&run.model, &run.output, &self.tool_calls),
                )
            }
        };
        run.input_tokens = input;
        run.output_tokens = output;
        run.cost_usd = match self.kind {
            _ if run.cached => Some(0.0),
            Some(kind) => self
                .gateway
                .prices
                .lookup(kind.as_str(), &run.model)
                .cost_usd(input, output),
            None => None,
        };
        let cost = run.cost_usd.unwrap_or(0.0);
        if let Some(r) = self.reservation.take() {
            r.settle(cost);
        }
        run.latency_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        run.ttft_ms = self
            .first_output
            .map(|t| u64::try_from((t - self.started).as_millis()).unwrap_or(u64::MAX));
        if !self.tool_calls.is_empty() && self.finish_reason == Some("stop") {
            // Gemini and some local servers end a turn of tool calls with a plain stop.
            self.finish_reason = Some("tool_calls");
        }
        let refusal = (!self.refusal.is_empty()).then(|| std::mem::take(&mut self.refusal));
        let logprobs = (!self.logprobs.is_empty()).then(|| std::mem::take(&mut self.logprobs));
        let schema_check = match &self.schema {
            Some(schema) if run.state == RunState::Completed && self.tool_calls.is_empty() => Some(
                crate::domain::json_schema::check_answer(schema, &run.output),
            ),
            _ => None,
        };
        run.detail = detail(
            &self.tool_calls,
            refusal.as_deref(),
            logprobs.as_deref(),
            &self.dropped,
            schema_check.as_ref(),
        );
        let summary = RunSummary {
            run_id: run.id,
            model: run.model.clone(),
            cached: run.cached,
            state: run.state,
            error: run.error.clone(),
            input_tokens: run.input_tokens,
            output_tokens: run.output_tokens,
            cost_usd: run.cost_usd,
            latency_ms: run.latency_ms,
            ttft_ms: run.ttft_ms,
            finish_reason: self.finish_reason,
            tool_calls: self.tool_calls.clone(),
            refusal,
            logprobs,
            schema_valid: schema_check.as_ref().map(Result::is_ok),
            schema_problem: schema_check.and_then(Result::err),
            failure: self.failure.take(),
        };
        // The cache keeps text answers only (checked against their schema or not): one with
        // tool calls, a refusal or log probabilities is not replayed from it.
        if let Some(key) = self.cache_key
            && !run.cached
            && run.state == RunState::Completed
            && run.detail.as_ref().is_none_or(|d| {
                d.as_object()
                    .is_some_and(|o| o.keys().all(|k| k == "schema_check"))
            })
        {
            self.store_in_cache(key, &run);
        }
        self.gateway.metrics.gateway_call(&crate::metrics::Call {
            model: &run.model,
            state: run.state.as_str(),
            latency_ms: run.latency_ms,
            ttft_ms: run.ttft_ms,
            input_tokens: run.input_tokens,
            output_tokens: run.output_tokens,
            cost_usd: run.cost_usd,
        });
        let spend = (cost > 0.0).then(|| SpendEntry {
            workspace: run.workspace_id,
            user: run.user_id,
            month: month_of(run.created_at),
            usd: cost,
        });
        let run = match self.settings.retention {
            Retention::Full => Some(run),
            Retention::Metadata => Some(Run {
                prompt: String::new(),
                output: String::new(),
                params: None,
                detail: None,
                ..run
            }),
            Retention::None => None,
        };
        self.gateway.recorder.record(run, spend);
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
        if let Some(starting) = this.starting.as_mut() {
            let opened = match starting.as_mut().poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(out) => out,
            };
            this.starting = None;
            if let Some((_, kind)) = opened.conn {
                this.kind = Some(kind);
            }
            let Some(run) = this.run.as_mut() else {
                return Poll::Ready(None);
            };
            if let Some((id, kind)) = opened.conn {
                run.connection_id = Some(id);
                run.provider = Some(kind);
            }
            if opened.model != run.model {
                run.requested_model = Some(std::mem::replace(&mut run.model, opened.model));
            }
            run.cached = opened.cached.is_some();
            this.dropped = opened.dropped;
            match opened.result {
                Ok(stream) => this.upstream = Some(stream),
                Err((message, error)) => {
                    run.error = Some(message);
                    this.failure = error;
                }
            }
            return Poll::Ready(Some(RunEvent::Started {
                run_id: run.id,
                model: run.model.clone(),
                cached: run.cached,
            }));
        }
        let Some(upstream) = this.upstream.as_mut() else {
            // Failed before any upstream call.
            let summary = this.finish(RunState::Failed, None);
            return Poll::Ready(summary.map(|s| RunEvent::Finished(Box::new(s))));
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
                Poll::Ready(Some(Ok(ChatEvent::ToolCall(delta)))) => {
                    this.first_output.get_or_insert_with(Instant::now);
                    add_tool_call(&mut this.tool_calls, &delta);
                    return Poll::Ready(Some(RunEvent::ToolCall(delta)));
                }
                Poll::Ready(Some(Ok(ChatEvent::Refusal(text)))) => {
                    this.first_output.get_or_insert_with(Instant::now);
                    this.refusal.push_str(&text);
                    return Poll::Ready(Some(RunEvent::Refusal { text }));
                }
                Poll::Ready(Some(Ok(ChatEvent::Logprobs(content)))) => {
                    this.logprobs.extend(content.iter().cloned());
                    return Poll::Ready(Some(RunEvent::Logprobs { content }));
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
                    return Poll::Ready(summary.map(|s| RunEvent::Finished(Box::new(s))));
                }
                Poll::Ready(Some(Err(e))) => {
                    let had_output = this.first_output.is_some();
                    let state = match (&e, had_output) {
                        (LlmError::Reset(_) | LlmError::Timeout, true) => RunState::Truncated,
                        _ => RunState::Failed,
                    };
                    let message = e.to_string();
                    this.failure = Some(e);
                    let summary = this.finish(state, Some(message));
                    return Poll::Ready(summary.map(|s| RunEvent::Finished(Box::new(s))));
                }
                Poll::Ready(None) => {
                    // The adapter ends with Done or an error; an end without either is a break.
                    let summary = this.finish(
                        RunState::Truncated,
                        Some("the answer ended without its end marker".to_owned()),
                    );
                    return Poll::Ready(summary.map(|s| RunEvent::Finished(Box::new(s))));
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
