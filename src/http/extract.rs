//! Extractors: the logged-in user, the client's address, and `Form`/`Json` wrappers whose
//! rejections use our error format and name the problem.

use std::net::SocketAddr;

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum_extra::extract::cookie::CookieJar;
use serde::de::DeserializeOwned;

use super::Edge;
use super::cookies::session_token;
use crate::auth::{Auth, Authenticated, ClientInfo};
use crate::error::Error;

/// The logged-in user; rejects with `Unauthenticated` (a redirect to login on pages).
pub struct CurrentUser(pub Authenticated);

/// The logged-in user, if any.
pub struct MaybeUser(pub Option<Authenticated>);

async fn authenticated<S>(parts: &mut Parts, state: &S) -> Result<Option<Authenticated>, Error>
where
    Auth: FromRef<S>,
    Edge: FromRef<S>,
    S: Send + Sync,
{
    authenticated_user(parts, &Auth::from_ref(state), &Edge::from_ref(state)).await
}

/// The request's logged-in user, looked up once per request and cached in its extensions.
pub async fn authenticated_user(
    parts: &mut Parts,
    auth: &Auth,
    edge: &Edge,
) -> Result<Option<Authenticated>, Error> {
    if let Some(found) = parts.extensions.get::<Option<Authenticated>>() {
        return Ok(found.clone());
    }
    let jar = CookieJar::from_headers(&parts.headers);
    let found = match session_token(&jar, edge) {
        Some(token) => auth.authenticate(&token).await?,
        None => None,
    };
    parts.extensions.insert(found.clone());
    Ok(found)
}

impl<S> FromRequestParts<S> for MaybeUser
where
    Auth: FromRef<S>,
    Edge: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        Ok(Self(authenticated(parts, state).await?))
    }
}

impl<S> FromRequestParts<S> for CurrentUser
where
    Auth: FromRef<S>,
    Edge: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        authenticated(parts, state)
            .await?
            .map(Self)
            .ok_or(Error::Unauthenticated)
    }
}

impl<S> FromRequestParts<S> for ClientInfo
where
    Edge: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        let edge = Edge::from_ref(state);
        let forwarded = edge
            .trust_forwarded_for
            .then(|| {
                parts
                    .headers
                    .get("x-forwarded-for")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.rsplit(',').next())
                    .map(|ip| ip.trim().to_owned())
                    .filter(|ip| !ip.is_empty())
            })
            .flatten();
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        let ip = forwarded.or(peer).unwrap_or_else(|| "unknown".to_owned());
        let user_agent = parts
            .headers
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        Ok(Self { ip, user_agent })
    }
}

/// `axum::extract::Query` with rejections in our format, naming the parameter.
pub struct Query<T>(pub T);

impl<S, T> FromRequestParts<S> for Query<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Self(value)),
            Err(rejection) => {
                let (field, message) = describe(&rejection.body_text());
                Err(Error::Invalid { field, message })
            }
        }
    }
}

/// `axum::extract::Path` whose rejection (a malformed id, bad UTF-8) is a plain 404: such an
/// address names nothing.
pub struct Path<T>(pub T);

impl<S, T> FromRequestParts<S> for Path<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Error> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|_| Error::NotFound)
    }
}

/// `axum::Form` with rejections in our format.
pub struct Form<T>(pub T);

impl<S, T> FromRequest<S> for Form<T>
where
    T: DeserializeOwned,
    Edge: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let limit_kib = Edge::from_ref(state).body_limit_kib;
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(form_error(rejection, limit_kib)),
        }
    }
}

fn form_error(rejection: FormRejection, limit_kib: usize) -> Error {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Error::TooLarge { limit_kib };
    }
    let detail = match &rejection {
        FormRejection::FailedToDeserializeForm(e) => e.body_text(),
        FormRejection::FailedToDeserializeFormBody(e) => e.body_text(),
        FormRejection::InvalidFormContentType(_) => {
            "send the form as application/x-www-form-urlencoded".to_owned()
        }
        other => other.body_text(),
    };
    let (field, message) = describe(&detail);
    Error::Invalid { field, message }
}

/// A form whose repeated fields (`var_name=a&var_name=b`) collect into `Vec`s, with rejections
/// in our format; for editors with rows of inputs.
pub struct MultiForm<T>(pub T);

impl<S, T> FromRequest<S> for MultiForm<T>
where
    T: DeserializeOwned,
    Edge: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let limit_kib = Edge::from_ref(state).body_limit_kib;
        match axum_extra::extract::Form::<T>::from_request(req, state).await {
            Ok(axum_extra::extract::Form(value)) => Ok(Self(value)),
            Err(rejection) => {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    return Err(Error::TooLarge { limit_kib });
                }
                let (field, message) = describe(&rejection.body_text());
                Err(Error::Invalid { field, message })
            }
        }
    }
}

/// `axum::Json` with rejections in our format.
pub struct Json<T>(pub T);

impl<S, T> FromRequest<S> for Json<T>
where
    T: DeserializeOwned,
    Edge: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let limit_kib = Edge::from_ref(state).body_limit_kib;
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_error(rejection, limit_kib)),
        }
    }
}

fn json_error(rejection: JsonRejection, limit_kib: usize) -> Error {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return Error::TooLarge { limit_kib };
    }
    let detail = match &rejection {
        JsonRejection::MissingJsonContentType(_) => "send the body as application/json".to_owned(),
        other => other.body_text(),
    };
    let (field, message) = describe(&detail);
    Error::Invalid { field, message }
}

/// Splits a rejection's text into the field it concerns (when serde named one) and a message.
///
/// axum prefixes "Failed to deserialize ...: "; JSON errors then carry the path of the bad value
/// (`email: invalid type ...`), and serde names missing or unknown fields in backticks.
fn describe(detail: &str) -> (Option<String>, String) {
    let text = ["target type: ", "form body: ", "query string: "]
        .iter()
        .find_map(|p| detail.split_once(p).map(|(_, rest)| rest))
        .unwrap_or(detail);
    if text.contains("invalid utf-8") || text.contains("invalid UTF-8") {
        return (
            None,
            "invalid input: the request is not valid UTF-8".to_owned(),
        );
    }
    if let Some((path, rest)) = text.split_once(": ") {
        let is_path = !path.is_empty()
            && path != "."
            && path
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'));
        if is_path {
            return (
                Some(path.to_owned()),
                format!("invalid input in `{path}`: {rest}"),
            );
        }
    }
    let field = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|marker| {
            let rest = &text[text.find(marker)? + marker.len()..];
            Some(rest[..rest.find('`')?].to_owned())
        });
    (field, format!("invalid input: {text}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_field() {
        let field = |d: &str| describe(d).0;
        assert_eq!(
            field("Failed to deserialize form body: missing field `email`").as_deref(),
            Some("email")
        );
        assert_eq!(
            field("Failed to deserialize the JSON body into the target type: email: invalid type: integer `5`, expected a string at line 1 column 11").as_deref(),
            Some("email")
        );
        assert_eq!(
            field("Failed to parse the request body as JSON: EOF while parsing"),
            None
        );
        assert!(
            describe("x: invalid utf-8 sequence")
                .1
                .contains("not valid UTF-8")
        );
    }
}
