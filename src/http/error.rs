//! Error rendering, once per face.
//!
//! A handler or extractor returns the domain [`Error`]; its `IntoResponse` sets the status and
//! stashes a [`PublicError`] in the response extensions with an empty body. The face's layer then
//! writes the body: [`html_errors`] for the pages, [`json_errors`] for `/api` and `/v1`. An
//! internal error is logged once here, inside the request's span (which carries the request id),
//! and only "internal error" reaches the client.

use axum::Json;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{DOCTYPE, html};
use serde_json::json;

use super::assets::head;
use crate::error::Error;

/// What a client may learn about an error.
#[derive(Clone, Debug)]
pub struct PublicError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code.
    pub code: &'static str,
    /// Message for people.
    pub message: String,
    /// Field it concerns.
    pub field: Option<String>,
}

/// The HTTP status for an error.
pub fn status_of(err: &Error) -> StatusCode {
    match err {
        Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::NotFound | Error::Missing(_) => StatusCode::NOT_FOUND,
        Error::Denied(_) => StatusCode::FORBIDDEN,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::BadCredentials | Error::Unauthenticated => StatusCode::UNAUTHORIZED,
        Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
        Error::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        Error::Forbidden | Error::CrossOrigin => StatusCode::FORBIDDEN,
        Error::RateLimited { .. } | Error::RateLimitedOn { .. } | Error::OverBudget(_) => {
            StatusCode::TOO_MANY_REQUESTS
        }
        Error::Locked(_) => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        let message = match &self {
            Error::Internal(cause) => {
                tracing::error!(error = %cause, "internal error");
                "internal error".to_owned()
            }
            Error::Locked(cause) => {
                tracing::error!(error = %cause, "store locked");
                "the service is unavailable".to_owned()
            }
            other => other.to_string(),
        };
        let public = PublicError {
            status,
            code: self.code(),
            message,
            field: self.field().map(str::to_owned),
        };
        let mut response = with_retry_after(status.into_response(), &self);
        response.extensions_mut().insert(public);
        response
    }
}

/// Adds `Retry-After` to `response` when `err` is a rate limit.
pub fn with_retry_after(mut response: Response, err: &Error) -> Response {
    let secs = match err {
        Error::RateLimited { retry_after_secs }
        | Error::RateLimitedOn {
            retry_after_secs, ..
        } => Some(*retry_after_secs),
        _ => None,
    };
    if let Some(retry_after_secs) = secs
        && let Ok(v) = HeaderValue::from_str(&retry_after_secs.to_string())
    {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

/// The JSON body for an error.
pub fn json_body(e: &PublicError) -> serde_json::Value {
    json!({"error": {"code": e.code, "message": e.message, "field": e.field}})
}

/// Fills the body of error responses with the JSON error shape; for the API routers.
pub async fn json_errors(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    if let Some(e) = response.extensions_mut().remove::<PublicError>() {
        let (mut parts, _) = response.into_parts();
        let body = Json(json_body(&e)).into_response();
        let (body_parts, body) = body.into_parts();
        parts.headers.extend(body_parts.headers);
        return Response::from_parts(parts, body);
    }
    response
}

/// Fills the body of error responses with an HTML page; for the web routers. A page that needs
/// a login redirects to `/login?next=...` instead.
pub async fn html_errors(request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let theme = super::cookies::theme(&axum_extra::extract::cookie::CookieJar::from_headers(
        request.headers(),
    ));
    let mut response = next.run(request).await;
    let Some(e) = response.extensions_mut().remove::<PublicError>() else {
        return response;
    };
    if e.code == "unauthenticated" {
        let next_path = if path.starts_with('/') && !path.starts_with("//") {
            path
        } else {
            "/".to_owned()
        };
        let target = format!(
            "/login?next={}",
            url::form_urlencoded::byte_serialize(next_path.as_bytes()).collect::<String>()
        );
        return Redirect::to(&target).into_response();
    }
    let (mut parts, _) = response.into_parts();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    let page = error_page(&e, request_id.as_deref(), theme);
    Response::from_parts(parts, Body::from(page.into_string()))
}

/// A whole-page error with the product's look; used by [`html_errors`] and the fallback.
pub fn error_page(
    e: &PublicError,
    request_id: Option<&str>,
    theme: super::cookies::Theme,
) -> maud::Markup {
    let title = match e.status {
        StatusCode::NOT_FOUND => "Page not found",
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::TOO_MANY_REQUESTS => "Slow down",
        s if s.is_server_error() => "Something went wrong",
        _ => "That did not work",
    };
    html! {
        (DOCTYPE)
        html lang="en" data-theme=[theme_attr(theme)] {
            (head(title, theme))
            body.error-body {
                main.error-card {
                    a.brand href="/" { span.brand-mark { "▚" } " Promptyard" }
                    p.error-status { (e.status.as_u16()) }
                    h1 { (title) }
                    p role="alert" { (capitalize(&e.message)) }
                    p { a.button href="/" { "Go to the home page" } }
                    @if let Some(id) = request_id {
                        p.muted.small { "Request id: " code { (id) } }
                    }
                }
            }
        }
    }
}

/// The `data-theme` of `<html>`: none when following the system.
pub fn theme_attr(theme: super::cookies::Theme) -> Option<&'static str> {
    (theme != super::cookies::Theme::System).then(|| theme.as_str())
}

fn capitalize(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Renders `err` directly in the face `path` belongs to; for middleware and fallbacks that run
/// outside the face layers.
pub fn render_for_path(path: &str, request_id: Option<&str>, err: Error) -> Response {
    let mut response = err.into_response();
    let Some(e) = response.extensions_mut().remove::<PublicError>() else {
        return response;
    };
    let (parts, _) = response.into_parts();
    let body = if is_api_path(path) {
        Json(json_body(&e)).into_response()
    } else {
        error_page(&e, request_id, super::cookies::Theme::System).into_response()
    };
    let (body_parts, body) = body.into_parts();
    let mut parts = parts;
    parts.headers.extend(body_parts.headers);
    Response::from_parts(parts, body)
}

/// Whether a path belongs to the JSON face.
pub fn is_api_path(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/") || path == "/v1" || path.starts_with("/v1/")
}
