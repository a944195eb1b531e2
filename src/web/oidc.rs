//! OpenID sign-in pages: starting a sign-in (or a link) at a provider, the callback that
//! finishes it, and unlinking. The flow itself is `auth::oidc`; this module turns its results
//! into cookies, redirects and the login page with a clear refusal.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use serde::Deserialize;

use super::login::{login_form_page, safe_next};
use super::{PageCtx, WebState, paths};
use crate::auth::oidc::{Callback, Intent};
use crate::auth::{Action, ClientInfo, OidcOutcome};
use crate::config::Registration;
use crate::error::{Error, Result};
use crate::http::Edge;
use crate::http::cookies::{set_flash, set_session};
use crate::http::extract::{CurrentUser, Path, Query};
use crate::http::routes::{Permission, Routes};

/// The cookie that carries a sign-in in progress (sealed; see `auth::oidc`).
const PENDING: &str = "promptyard_oidc";

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let own = Permission::Instance(Action::ManageOwnAccount);
    r.get(paths::OIDC_START, Permission::Public, start_login)
        .get(paths::OIDC_CALLBACK, Permission::Public, callback)
        .post(paths::ACCOUNT_IDENTITY_LINK, own, start_link)
        .post(paths::ACCOUNT_IDENTITY_UNLINK, own, unlink)
}

#[derive(Deserialize)]
struct ProviderPath {
    provider: String,
}

#[derive(Deserialize, Default)]
struct StartQuery {
    #[serde(default)]
    next: String,
    #[serde(default)]
    invite: String,
}

/// The callback URL registered at the provider: `public_url`'s origin, else the origin the
/// browser used (a forged Host only yields a URI the provider refuses).
fn redirect_uri(edge: &Edge, headers: &HeaderMap, provider: &str) -> Result<String> {
    let origin = edge
        .origin(headers)
        .ok_or_else(|| Error::invalid("host", "the request has no usable Host header"))?;
    Ok(format!(
        "{origin}{}",
        paths::with_provider(paths::OIDC_CALLBACK, provider)
    ))
}

fn pending_cookie(edge: &Edge, value: String) -> Cookie<'static> {
    Cookie::build((PENDING, value))
        .path("/auth/oidc")
        .http_only(true)
        .secure(edge.secure_cookies)
        // Lax: the provider's redirect back is a top-level GET, which carries it.
        .same_site(SameSite::Lax)
        .max_age(time::Duration::minutes(10))
        .build()
}

async fn begin(
    state: &WebState,
    headers: &HeaderMap,
    jar: CookieJar,
    provider: &str,
    intent: Intent,
) -> Result<Response> {
    let uri = redirect_uri(&state.edge, headers, provider)?;
    let (url, sealed) = state.oidc.start(provider, &uri, intent).await?;
    let jar = jar.add(pending_cookie(&state.edge, sealed));
    Ok((jar, Redirect::to(url.as_str())).into_response())
}

async fn start_login(
    State(state): State<WebState>,
    ctx: PageCtx,
    headers: HeaderMap,
    jar: CookieJar,
    Path(p): Path<ProviderPath>,
    Query(q): Query<StartQuery>,
) -> Result<Response> {
    state.oidc.provider(&p.provider)?;
    if ctx.auth.is_some() {
        return Ok(Redirect::to(paths::HOME).into_response());
    }
    let intent = Intent {
        next: safe_next(&q.next).to_owned(),
        link: None,
        invite: q.invite.trim().chars().take(200).collect(),
    };
    match begin(&state, &headers, jar, &p.provider, intent).await {
        Err(e @ Error::Denied(_)) => refusal(&state, &ctx, &e),
        other => other,
    }
}

async fn start_link(
    State(state): State<WebState>,
    headers: HeaderMap,
    jar: CookieJar,
    CurrentUser(auth): CurrentUser,
    Path(p): Path<ProviderPath>,
) -> Result<Response> {
    state.oidc.provider(&p.provider)?;
    let intent = Intent {
        next: paths::ACCOUNT.to_owned(),
        link: Some(auth.user.id),
        invite: String::new(),
    };
    match begin(&state, &headers, jar.clone(), &p.provider, intent).await {
        Err(Error::Denied(why)) => {
            let jar = set_flash(jar, &state.edge, true, &why);
            Ok((jar, Redirect::to(paths::ACCOUNT)).into_response())
        }
        other => other,
    }
}

/// The login page with the refusal on it.
fn refusal(state: &WebState, ctx: &PageCtx, e: &Error) -> Result<Response> {
    let page = login_form_page(state, ctx, "", Some(e));
    Ok((StatusCode::FORBIDDEN, page).into_response())
}

async fn callback(
    State(state): State<WebState>,
    ctx: PageCtx,
    headers: HeaderMap,
    client: ClientInfo,
    jar: CookieJar,
    Path(p): Path<ProviderPath>,
    Query(answer): Query<Callback>,
) -> Result<Response> {
    let provider = state.oidc.provider(&p.provider)?.clone();
    let cookie = jar.get(PENDING).map(|c| c.value().to_owned());
    // The pending sign-in is used once, whatever happens next.
    let jar = jar.remove(Cookie::build(PENDING).path("/auth/oidc"));
    let uri = redirect_uri(&state.edge, &headers, &p.provider)?;
    let verified = match state
        .oidc
        .finish(&p.provider, &answer, cookie.as_deref(), &uri)
        .await
    {
        Ok(v) => v,
        Err(e @ Error::Denied(_)) => {
            let event = crate::domain::NewAuditEvent::new(None, "login.failed")
                .target(format!("oidc:{}", p.provider))
                .ip(Some(client.ip.clone()))
                .detail(format!("via {}: {e}", provider.label()));
            state.auth.store().create_audit_event(event).await?;
            return Ok((jar, refusal(&state, &ctx, &e)?).into_response());
        }
        Err(e) => return Err(e),
    };
    // A link must come back to the browser of the user who asked for it.
    if let Some(link) = verified.intent.link
        && ctx.auth.as_ref().map(|a| a.user.id) != Some(link)
    {
        let e = Error::Denied("Log in again to link an account.".to_owned());
        return Ok((jar, refusal(&state, &ctx, &e)?).into_response());
    }
    let invite = verified.intent.invite.clone();
    let next = verified.intent.next.clone();
    let _guard = match invite.is_empty() {
        true => None,
        false => Some(state.workspaces.registration_lock().await),
    };
    let may_register = match provider.registration(state.registration) {
        Registration::Open => true,
        Registration::Invite => {
            !invite.is_empty() && state.workspaces.open_invite(&invite).await.is_ok()
        }
        Registration::Closed => false,
    };
    match state
        .auth
        .oidc_login(&provider, verified, may_register, &client)
        .await
    {
        Ok(OidcOutcome::Linked(_)) => {
            let text = format!("Your {} account is linked.", provider.label());
            let jar = set_flash(jar, &state.edge, false, &text);
            Ok((jar, Redirect::to(paths::ACCOUNT)).into_response())
        }
        Ok(OidcOutcome::LoggedIn {
            user,
            token,
            created,
        }) => {
            let jar = set_session(jar, &state.edge, &token);
            let mut to = safe_next(&next).to_owned();
            if created
                && !invite.is_empty()
                && let Ok(member) = state
                    .workspaces
                    .accept(&user, &invite, Some(client.ip.clone()))
                    .await
            {
                to = paths::ws(paths::WS_TEMPLATES, member.workspace_id);
            }
            let jar = match created {
                true => set_flash(
                    jar,
                    &state.edge,
                    false,
                    "Welcome to Promptyard! Your account is ready.",
                ),
                false => jar,
            };
            Ok((jar, Redirect::to(&to)).into_response())
        }
        Err(e @ Error::Denied(_)) => Ok((jar, refusal(&state, &ctx, &e)?).into_response()),
        Err(e) => Err(e),
    }
}

async fn unlink(
    State(state): State<WebState>,
    client: ClientInfo,
    jar: CookieJar,
    CurrentUser(auth): CurrentUser,
    Path(p): Path<ProviderPath>,
) -> Result<Response> {
    let label = state
        .oidc
        .provider(&p.provider)
        .map(|pr| pr.label().to_owned())
        .unwrap_or_else(|_| p.provider.clone());
    let (is_error, text) = match state
        .auth
        .unlink_identity(&auth.user, &p.provider, &label, Some(client.ip))
        .await
    {
        Ok(()) => (false, format!("Your {label} account is unlinked.")),
        Err(Error::Conflict { message, .. }) => (true, format!("Not unlinked: {message}.")),
        Err(e) => return Err(e),
    };
    let jar = set_flash(jar, &state.edge, is_error, &text);
    Ok((jar, Redirect::to(paths::ACCOUNT)).into_response())
}
