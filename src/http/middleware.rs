//! Middleware: request ids, the request span and log line, security headers, the cross-origin
//! check for state-changing requests, and limits.

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower::ServiceBuilder;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tracing::Level;

use super::Edge;
use super::error::render_for_path;
use crate::error::Error;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// No inline script or style, nothing from elsewhere, no framing.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The policy for a page whose forms may also lead to `origins` (a form that starts an OpenID
/// sign-in is answered with a redirect to the provider, which `form-action` covers).
pub fn csp_with_form_targets(origins: &[String]) -> String {
    let extra: String = origins.iter().map(|o| format!(" {o}")).collect();
    CSP.replace("form-action 'self'", &format!("form-action 'self'{extra}"))
}

/// Wraps the whole app in the edge layers, outermost first: request id, trace span and log
/// line, security headers, timeout, body limit.
pub fn apply<S: Clone + Send + Sync + 'static>(
    router: Router<S>,
    edge: &Edge,
    timeout: Duration,
    metrics: &crate::metrics::Metrics,
) -> Router<S> {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|req: &Request| {
            let route = req
                .extensions()
                .get::<MatchedPath>()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_else(|| "unmatched".to_owned());
            let id = req
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            tracing::info_span!("request", method = %req.method(), route, request_id = id)
        })
        .on_request(())
        .on_response(DefaultOnResponse::new().level(Level::INFO))
        // A 5xx is logged once, with its cause, where the error becomes a response.
        .on_failure(());
    let header = |name: HeaderName, value: &'static str| {
        SetResponseHeaderLayer::if_not_present(name, HeaderValue::from_static(value))
    };
    router.layer(
        ServiceBuilder::new()
            .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
            .layer(trace)
            .layer(axum::middleware::from_fn_with_state(
                metrics.clone(),
                count_request,
            ))
            .layer(PropagateRequestIdLayer::new(REQUEST_ID))
            .layer(header(header::CONTENT_SECURITY_POLICY, CSP))
            .layer(header(header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .layer(header(header::X_FRAME_OPTIONS, "DENY"))
            .layer(header(header::REFERRER_POLICY, "same-origin"))
            .layer(header(
                HeaderName::from_static("cross-origin-opener-policy"),
                "same-origin",
            ))
            .option_layer(
                edge.secure_cookies
                    .then(|| header(header::STRICT_TRANSPORT_SECURITY, "max-age=31536000")),
            )
            .layer(TimeoutLayer::with_status_code(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                timeout,
            ))
            .layer(CatchPanicLayer::custom(
                |_: Box<dyn std::any::Any + Send>| {
                    tracing::error!("a request handler panicked");
                    (
                        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                        "internal error",
                    )
                        .into_response()
                },
            ))
            .layer(axum::extract::DefaultBodyLimit::max(
                edge.body_limit_kib.saturating_mul(1024),
            )),
    )
}

/// Counts a request in the metrics by its matched route (bounded), method and status.
async fn count_request(
    State(metrics): State<crate::metrics::Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let method = request.method().as_str().to_owned();
    let response = next.run(request).await;
    metrics.http_request(
        &route,
        &method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Refuses state-changing requests that a browser sent from another origin.
///
/// `Sec-Fetch-Site` decides when present (`same-origin` and `none` pass); otherwise `Origin`
/// must match the server's own origin (`public_url`, or the `Host` the browser used). Requests
/// with neither header come from non-browser clients, which carry no ambient cookies to abuse.
pub async fn origin_check(State(edge): State<Edge>, request: Request, next: Next) -> Response {
    if is_safe(request.method()) || same_origin(&edge, &request) {
        return next.run(request).await;
    }
    let path = request.uri().path().to_owned();
    tracing::warn!(path, "refused a cross-origin request");
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok());
    render_for_path(&path, id, Error::CrossOrigin)
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

fn same_origin(edge: &Edge, request: &Request) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) {
        return site == "same-origin" || site == "none";
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    match &edge.public_origin {
        Some(own) => origin == own,
        None => {
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            match (host, origin.split_once("://")) {
                (Some(host), Some((scheme, rest))) => {
                    (scheme == "http" || scheme == "https") && rest == host
                }
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(public: Option<&str>) -> Edge {
        Edge {
            public_origin: public.map(str::to_owned),
            secure_cookies: false,
            trust_forwarded_for: false,
            body_limit_kib: 1,
            session_max_age: time::Duration::hours(1),
        }
    }

    fn req(headers: &[(&str, &str)]) -> Request {
        let mut b = Request::builder().method("POST").uri("/logout");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(axum::body::Body::empty()).unwrap()
    }

    #[test]
    fn origin_rules() {
        let e = edge(None);
        assert!(same_origin(&e, &req(&[])));
        assert!(same_origin(
            &e,
            &req(&[("host", "a:1"), ("origin", "http://a:1")])
        ));
        assert!(!same_origin(
            &e,
            &req(&[("host", "a:1"), ("origin", "http://evil.example")])
        ));
        assert!(!same_origin(
            &e,
            &req(&[("host", "a:1"), ("origin", "null")])
        ));
        assert!(!same_origin(
            &e,
            &req(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://a:1"),
                ("host", "a:1")
            ])
        ));
        assert!(!same_origin(&e, &req(&[("sec-fetch-site", "same-site")])));
        assert!(same_origin(&e, &req(&[("sec-fetch-site", "same-origin")])));
        let e = edge(Some("https://p.example"));
        assert!(same_origin(&e, &req(&[("origin", "https://p.example")])));
        assert!(!same_origin(
            &e,
            &req(&[("origin", "http://p.example"), ("host", "p.example")])
        ));
    }
}
