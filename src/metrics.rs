//! Prometheus metrics: one registry, held in the application state (no global), filled by the
//! HTTP edge (requests and their latency by route), the gateway (calls, upstream latency, time
//! to first token, tokens and cost by model, run states, budget rejections) and, at scrape
//! time, by gauges read from the recorder and the search indexer.
//!
//! Labels are bounded: routes are the matched patterns (`/w/{ws}/...`), never raw paths, and
//! models are the names the operator configured.
//!
//! A leaf module like `clock`: it imports nothing else from the crate.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// An HTTP request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The matched route pattern, or `unmatched`.
    pub route: String,
    /// The method.
    pub method: String,
    /// The status code.
    pub status: u16,
}

/// A route's labels, for latencies.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The matched route pattern, or `unmatched`.
    pub route: String,
    /// The method.
    pub method: String,
}

/// A model call's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct CallLabels {
    /// The model that answered (or was asked, when none did).
    pub model: String,
    /// The run's end state: completed, failed, truncated or cancelled.
    pub state: String,
}

/// A model's label.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ModelLabels {
    /// The model.
    pub model: String,
}

/// Tokens by model and direction.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TokenLabels {
    /// The model.
    pub model: String,
    /// `input` or `output`.
    pub direction: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn seconds() -> Histogram {
    // 1 ms to about 65 s, doubling.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

/// Every metric the server exports; cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Histograms<RouteLabels>,
    calls: Family<CallLabels, Counter>,
    upstream_seconds: Histograms<ModelLabels>,
    first_token_seconds: Histograms<ModelLabels>,
    tokens: Family<TokenLabels, Counter>,
    cost: Family<ModelLabels, Counter<f64, AtomicU64>>,
    budget_rejections: Counter,
    recorder_queue: Gauge,
    index_lag: Gauge,
}

/// One finished model call, as the gateway reports it.
#[derive(Debug)]
pub struct Call<'a> {
    /// The model.
    pub model: &'a str,
    /// Its end state.
    pub state: &'a str,
    /// Whole call, in milliseconds.
    pub latency_ms: u64,
    /// Time to the first output, in milliseconds, when there was output.
    pub ttft_ms: Option<u64>,
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Output tokens.
    pub output_tokens: u64,
    /// Cost in USD, when the price is known.
    pub cost_usd: Option<f64>,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric registered.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("promptyard");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route, method and status",
            requests.clone(),
        );
        let request_seconds: Histograms<RouteLabels> = Family::new_with_constructor(seconds);
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request (to the first byte of a streamed answer)",
            request_seconds.clone(),
        );
        let calls = Family::<CallLabels, Counter>::default();
        registry.register(
            "gateway_calls",
            "Model calls through the gateway by model and end state",
            calls.clone(),
        );
        let upstream_seconds: Histograms<ModelLabels> = Family::new_with_constructor(seconds);
        registry.register(
            "gateway_upstream_duration_seconds",
            "Whole model calls, from the request to the last output",
            upstream_seconds.clone(),
        );
        let first_token_seconds: Histograms<ModelLabels> = Family::new_with_constructor(seconds);
        registry.register(
            "gateway_time_to_first_token_seconds",
            "Time from the request to the first output of a model call",
            first_token_seconds.clone(),
        );
        let tokens = Family::<TokenLabels, Counter>::default();
        registry.register(
            "gateway_tokens",
            "Tokens by model and direction (input, output)",
            tokens.clone(),
        );
        let cost = Family::<ModelLabels, Counter<f64, AtomicU64>>::default();
        registry.register(
            "gateway_cost_usd",
            "Cost of model calls in USD, by model (calls at unknown prices are left out)",
            cost.clone(),
        );
        let budget_rejections = Counter::default();
        registry.register(
            "gateway_budget_rejections",
            "Model calls refused because a monthly budget was spent",
            budget_rejections.clone(),
        );
        let recorder_queue = Gauge::default();
        registry.register(
            "recorder_queue_depth",
            "Runs waiting to be written by the run recorder",
            recorder_queue.clone(),
        );
        let index_lag = Gauge::default();
        registry.register(
            "search_index_lag",
            "Changes recorded in the store that the search index has not taken in yet",
            index_lag.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                requests,
                request_seconds,
                calls,
                upstream_seconds,
                first_token_seconds,
                tokens,
                cost,
                budget_rejections,
                recorder_queue,
                index_lag,
            }),
        }
    }

    /// Counts an HTTP request.
    pub fn http_request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let i = &self.inner;
        i.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method: method.to_owned(),
                status,
            })
            .inc();
        i.request_seconds
            .get_or_create(&RouteLabels {
                route: route.to_owned(),
                method: method.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts a finished model call.
    pub fn gateway_call(&self, call: &Call<'_>) {
        let i = &self.inner;
        let model = ModelLabels {
            model: call.model.to_owned(),
        };
        i.calls
            .get_or_create(&CallLabels {
                model: call.model.to_owned(),
                state: call.state.to_owned(),
            })
            .inc();
        i.upstream_seconds
            .get_or_create(&model)
            .observe(call.latency_ms as f64 / 1000.0);
        if let Some(t) = call.ttft_ms {
            i.first_token_seconds
                .get_or_create(&model)
                .observe(t as f64 / 1000.0);
        }
        for (direction, n) in [("input", call.input_tokens), ("output", call.output_tokens)] {
            i.tokens
                .get_or_create(&TokenLabels {
                    model: call.model.to_owned(),
                    direction: direction.to_owned(),
                })
                .inc_by(n);
        }
        if let Some(c) = call.cost_usd.filter(|c| c.is_finite() && *c > 0.0) {
            i.cost.get_or_create(&model).inc_by(c);
        }
    }

    /// Counts a call refused for a spent budget.
    pub fn budget_rejection(&self) {
        self.inner.budget_rejections.inc();
    }

    /// The text exposition, with the gauges set to the values given.
    pub fn render(&self, recorder_queue: u64, index_lag: u64) -> String {
        let i = &self.inner;
        i.recorder_queue
            .set(i64::try_from(recorder_queue).unwrap_or(i64::MAX));
        i.index_lag
            .set(i64::try_from(index_lag).unwrap_or(i64::MAX));
        let mut out = String::new();
        if prometheus_client::encoding::text::encode(&mut out, &i.registry).is_err() {
            out.push_str("# the metrics could not be encoded\n");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_what_was_counted() {
        let m = Metrics::new();
        m.http_request("/w/{ws}/history", "GET", 200, 0.004);
        m.gateway_call(&Call {
            model: "gpt-4o-mini",
            state: "completed",
            latency_ms: 1200,
            ttft_ms: Some(150),
            input_tokens: 12,
            output_tokens: 30,
            cost_usd: Some(0.25),
        });
        m.budget_rejection();
        let text = m.render(3, 7);
        for line in [
            "promptyard_http_requests_total{route=\"/w/{ws}/history\",method=\"GET\",status=\"200\"} 1",
            "promptyard_gateway_calls_total{model=\"gpt-4o-mini\",state=\"completed\"} 1",
            "promptyard_gateway_tokens_total{model=\"gpt-4o-mini\",direction=\"output\"} 30",
            "promptyard_gateway_cost_usd_total{model=\"gpt-4o-mini\"} 0.25",
            "promptyard_gateway_budget_rejections_total 1",
            "promptyard_recorder_queue_depth 3",
            "promptyard_search_index_lag 7",
            "promptyard_gateway_time_to_first_token_seconds_count{model=\"gpt-4o-mini\"} 1",
        ] {
            assert!(text.contains(line), "missing {line}:\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }
}
