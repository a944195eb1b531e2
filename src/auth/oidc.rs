//! OpenID Connect login: the authorization code flow with PKCE, state and nonce, against the
//! providers in `[[oidc.providers]]`.
//!
//! Discovery documents and signing keys are fetched through the outbound client (so the
//! `[outbound]` allowlist applies to them as to model providers) and cached for an hour; an ID
//! token signed with a key the cache does not know triggers one refetch, for key rotation. The
//! state, nonce and PKCE verifier of a sign-in in progress travel in a cookie sealed under the
//! master key, so any node can finish a sign-in that another started, and the cookie ties the
//! answer to the browser that asked. The ID token's signature, issuer, audience, expiry and
//! nonce are checked by `openidconnect`; this module turns each failure into a sentence.
//!
//! What the verified claims mean for accounts (linking, registration, the admin role) is in
//! `oidc_accounts.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreClientAuthMethod, CoreErrorResponseType,
    CoreProviderMetadata,
};
use openidconnect::{
    AuthType, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken,
    HttpRequest, HttpResponse, IssuerUrl, Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl,
    RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::clock::Clock;
use crate::config::{OidcProviderConfig, Registration};
use crate::crypto::{MasterKey, constant_time_eq};
use crate::domain::UserId;
use crate::error::{Error, Result};
use crate::llm::outbound::Outbound;

/// How long discovery documents and keys are cached.
const METADATA_TTL: Duration = Duration::from_secs(3600);
/// How long a sign-in may take at the provider.
const PENDING_TTL_SECS: i64 = 600;
/// Largest answer read from a provider.
const MAX_RESPONSE: usize = 1024 * 1024;
/// The sealing context of the pending-sign-in cookie.
const PENDING_CONTEXT: &str = "oidc-pending-v1";

/// One configured provider, with its secret read.
#[derive(Clone, Debug)]
pub struct Provider {
    /// The configuration.
    pub config: OidcProviderConfig,
    secret: String,
}

impl Provider {
    /// The id used in URLs and stored with linked accounts.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The button label.
    pub fn label(&self) -> &str {
        self.config.display_label()
    }

    /// Who may get a new account through this provider.
    pub fn registration(&self, default: Registration) -> Registration {
        self.config.registration.unwrap_or(default)
    }
}

/// What a sign-in carries through the provider and back, sealed in a cookie.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Pending {
    provider: String,
    state: String,
    nonce: String,
    verifier: String,
    /// Unix seconds after which the sign-in is refused.
    expires: i64,
    #[serde(flatten)]
    intent: Intent,
}

/// Why a sign-in was started.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Intent {
    /// Where to go afterwards (a local path, checked by the caller).
    pub next: String,
    /// Link the provider account to this (logged-in) user instead of logging in.
    pub link: Option<UserId>,
    /// A workspace invite token the new account should accept.
    #[serde(default)]
    pub invite: String,
}

/// What the provider's answer carries back to the callback.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct Callback {
    /// The authorization code.
    pub code: Option<String>,
    /// The state we sent.
    pub state: Option<String>,
    /// An error code, when the provider refused.
    pub error: Option<String>,
    /// The provider's description of the error.
    pub error_description: Option<String>,
    /// The issuer that answered (RFC 9207), when the provider says.
    pub iss: Option<String>,
}

/// A verified ID token's claims that matter here.
#[derive(Clone, Debug)]
pub struct Verified {
    /// The provider's id.
    pub provider: String,
    /// The subject (`sub`).
    pub subject: String,
    /// The email, if the token has one.
    pub email: Option<String>,
    /// Whether the provider says the email is verified.
    pub email_verified: bool,
    /// The person's name, if given.
    pub name: Option<String>,
    /// Every claim of the token, for `admin_claim`.
    pub claims: serde_json::Map<String, serde_json::Value>,
    /// Why the sign-in was started.
    pub intent: Intent,
}

/// The OIDC service; cheap to clone.
#[derive(Clone)]
pub struct Oidc {
    inner: Arc<Inner>,
}

struct Inner {
    providers: Vec<Provider>,
    outbound: Outbound,
    key: MasterKey,
    clock: Clock,
    cache: Mutex<HashMap<String, (Arc<CoreProviderMetadata>, Instant)>>,
}

/// A transport failure talking to a provider.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpError(String);

/// Sends one request of the OIDC library through the outbound client.
async fn send(outbound: Outbound, request: HttpRequest) -> Result<HttpResponse, HttpError> {
    let url = Url::parse(&request.uri().to_string()).map_err(|e| HttpError(e.to_string()))?;
    let mut builder = outbound
        .request(request.method().clone(), &url)
        .map_err(|e| HttpError(e.to_string()))?;
    for (name, value) in request.headers() {
        builder = builder.header(name, value);
    }
    let mut response = builder
        .body(request.into_body())
        .send()
        .await
        .map_err(|e| HttpError(describe_reqwest(&e)))?;
    let mut out = openidconnect::http::Response::builder().status(response.status());
    for (name, value) in response.headers() {
        out = out.header(name, value);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| HttpError(describe_reqwest(&e)))?
    {
        if body.len() + chunk.len() > MAX_RESPONSE {
            return Err(HttpError("the answer is larger than 1 MiB".to_owned()));
        }
        body.extend_from_slice(&chunk);
    }
    out.body(body).map_err(|e| HttpError(e.to_string()))
}

/// reqwest's error with its causes, which name the refused or unreachable address.
fn describe_reqwest(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

impl Oidc {
    /// The service for the configured providers; reads secret files now, so a missing one
    /// stops start-up with its path.
    pub fn new(
        configs: &[OidcProviderConfig],
        outbound: Outbound,
        key: MasterKey,
        clock: Clock,
    ) -> Result<Self> {
        let mut providers = Vec::new();
        for config in configs {
            let secret = if config.client_secret_file.trim().is_empty() {
                config.client_secret.clone()
            } else {
                let path = config.client_secret_file.trim();
                std::fs::read_to_string(path)
                    .map_err(|e| {
                        Error::internal(format!(
                            "oidc provider `{}`: cannot read client_secret_file {path}: {e}",
                            config.id
                        ))
                    })?
                    .trim()
                    .to_owned()
            };
            providers.push(Provider {
                config: config.clone(),
                secret,
            });
        }
        Ok(Self {
            inner: Arc::new(Inner {
                providers,
                outbound,
                key,
                clock,
                cache: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The configured providers, in order.
    pub fn providers(&self) -> &[Provider] {
        &self.inner.providers
    }

    /// The origins a browser is sent to when a sign-in starts: each issuer's, and each known
    /// authorization endpoint's.
    pub fn authorization_origins(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut add = |raw: &str| {
            if let Ok(u) = Url::parse(raw) {
                let origin = u.origin().ascii_serialization();
                if origin != "null" && !out.contains(&origin) {
                    out.push(origin);
                }
            }
        };
        for p in &self.inner.providers {
            add(p.config.issuer_url());
        }
        if let Ok(cache) = self.inner.cache.lock() {
            for (meta, _) in cache.values() {
                add(meta.authorization_endpoint().as_str());
            }
        }
        out
    }

    /// One provider, or `NotFound`.
    pub fn provider(&self, id: &str) -> Result<&Provider> {
        self.inner
            .providers
            .iter()
            .find(|p| p.id() == id)
            .ok_or(Error::NotFound)
    }

    fn http(
        &self,
    ) -> impl Fn(
        HttpRequest,
    ) -> futures_util::future::BoxFuture<'static, Result<HttpResponse, HttpError>>
    + use<> {
        let outbound = self.inner.outbound.clone();
        move |request| Box::pin(send(outbound.clone(), request))
    }

    /// The provider's discovery document and keys, from the cache unless `refresh`.
    async fn metadata(
        &self,
        provider: &Provider,
        refresh: bool,
    ) -> Result<Arc<CoreProviderMetadata>> {
        if !refresh {
            let cache = self
                .inner
                .cache
                .lock()
                .map_err(|_| Error::internal("oidc cache poisoned"))?;
            if let Some((meta, at)) = cache.get(provider.id())
                && at.elapsed() < METADATA_TTL
            {
                return Ok(meta.clone());
            }
        }
        let issuer = IssuerUrl::new(provider.config.issuer_url().to_owned())
            .map_err(|e| Error::internal(format!("oidc issuer: {e}")))?;
        let meta = CoreProviderMetadata::discover_async(issuer, &self.http())
            .await
            .map_err(|e| {
                let mut text = e.to_string();
                let mut source = std::error::Error::source(&e);
                while let Some(s) = source {
                    text.push_str(": ");
                    text.push_str(&s.to_string());
                    source = s.source();
                }
                tracing::warn!(provider = provider.id(), error = %text, "OIDC discovery failed");
                Error::Denied(format!(
                    "Sign-in with {} is unavailable: its configuration could not be fetched \
                     ({text}).",
                    provider.label()
                ))
            })?;
        let meta = Arc::new(meta);
        let mut cache = self
            .inner
            .cache
            .lock()
            .map_err(|_| Error::internal("oidc cache poisoned"))?;
        cache.insert(provider.id().to_owned(), (meta.clone(), Instant::now()));
        Ok(meta)
    }

    fn client(
        &self,
        provider: &Provider,
        meta: &CoreProviderMetadata,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
    > {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| Error::internal(format!("oidc redirect URI: {e}")))?;
        // Basic authentication unless the provider only takes the secret in the body.
        let methods = meta.token_endpoint_auth_methods_supported();
        let post_only = methods.is_some_and(|m| {
            !m.contains(&CoreClientAuthMethod::ClientSecretBasic)
                && m.contains(&CoreClientAuthMethod::ClientSecretPost)
        });
        let client = CoreClient::from_provider_metadata(
            meta.clone(),
            ClientId::new(provider.config.client_id.clone()),
            Some(ClientSecret::new(provider.secret.clone())),
        )
        .set_redirect_uri(redirect)
        .set_auth_type(if post_only {
            AuthType::RequestBody
        } else {
            AuthType::BasicAuth
        });
        Ok(client)
    }

    /// Starts a sign-in: the provider's authorization URL to send the browser to, and the
    /// sealed cookie value that must come back with the answer.
    pub async fn start(
        &self,
        provider: &str,
        redirect_uri: &str,
        intent: Intent,
    ) -> Result<(Url, String)> {
        let provider = self.provider(provider)?;
        let meta = self.metadata(provider, false).await?;
        let client = self.client(provider, &meta, redirect_uri)?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let mut request = client.authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        );
        for scope in provider.config.effective_scopes().into_iter().skip(1) {
            request = request.add_scope(Scope::new(scope));
        }
        let (url, state, nonce) = request.set_pkce_challenge(challenge).url();
        let pending = Pending {
            provider: provider.id().to_owned(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            verifier: verifier.secret().clone(),
            expires: self.inner.clock.now().unix_timestamp() + PENDING_TTL_SECS,
            intent,
        };
        let json = serde_json::to_vec(&pending).map_err(Error::internal)?;
        let sealed = self.inner.key.seal(PENDING_CONTEXT, &json)?;
        Ok((url, URL_SAFE_NO_PAD.encode(sealed)))
    }

    /// Finishes a sign-in: checks the answer against the pending cookie, exchanges the code
    /// and verifies the ID token. Every refusal is an `Error::Denied` with a sentence.
    pub async fn finish(
        &self,
        provider: &str,
        callback: &Callback,
        cookie: Option<&str>,
        redirect_uri: &str,
    ) -> Result<Verified> {
        let provider = self.provider(provider)?;
        let label = provider.label();
        let pending = cookie
            .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
            .and_then(|sealed| self.inner.key.open(PENDING_CONTEXT, &sealed).ok())
            .and_then(|json| serde_json::from_slice::<Pending>(&json).ok())
            .filter(|p| p.expires >= self.inner.clock.now().unix_timestamp())
            .ok_or_else(|| {
                Error::Denied(
                    "This sign-in has expired or was already used. Start again from the login \
                     page."
                        .to_owned(),
                )
            })?;
        let state_ok = pending.provider == provider.id()
            && callback
                .state
                .as_deref()
                .is_some_and(|s| constant_time_eq(s.as_bytes(), pending.state.as_bytes()));
        if !state_ok {
            return Err(Error::Denied(
                "The sign-in answer does not belong to the sign-in this browser started \
                 (state mismatch). Start again from the login page."
                    .to_owned(),
            ));
        }
        if let Some(error) = &callback.error {
            let detail = callback.error_description.as_deref().unwrap_or(error);
            return Err(Error::Denied(format!(
                "{label} refused the sign-in: {detail}."
            )));
        }
        let code = callback
            .code
            .clone()
            .filter(|c| !c.is_empty() && c.len() <= 4096)
            .ok_or_else(|| {
                Error::Denied(format!("{label} sent no authorization code. Start again."))
            })?;
        let meta = self.metadata(provider, false).await?;
        // A provider that names itself in the answer must be the one asked (mix-up defence).
        if callback
            .iss
            .as_deref()
            .is_some_and(|iss| iss != meta.issuer().as_str())
        {
            return Err(Error::Denied(format!(
                "The sign-in answer came from another issuer than {label}. Nobody was logged in."
            )));
        }
        let client = self.client(provider, &meta, redirect_uri)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code))
            .map_err(|_| {
                Error::Denied(format!(
                    "{label} does not name a token endpoint in its configuration."
                ))
            })?
            .set_pkce_verifier(PkceCodeVerifier::new(pending.verifier.clone()))
            .request_async(&self.http())
            .await
            .map_err(|e| token_error(label, e))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| Error::Denied(format!("{label} answered without an ID token.")))?;
        let nonce = Nonce::new(pending.nonce.clone());
        let claims = match id_token.claims(&client.id_token_verifier(), &nonce) {
            Ok(claims) => claims.clone(),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                // The provider may have rotated its keys since we cached them.
                let meta = self.metadata(provider, true).await?;
                let client = self.client(provider, &meta, redirect_uri)?;
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| claims_error(label, &e))?
                    .clone()
            }
            Err(e) => return Err(claims_error(label, &e)),
        };
        // The signature is verified, so the payload's other claims (groups, ...) can be read.
        let all = id_token
            .to_string()
            .split('.')
            .nth(1)
            .and_then(|p| URL_SAFE_NO_PAD.decode(p).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default();
        Ok(Verified {
            provider: provider.id().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims
                .name()
                .and_then(|n| n.get(None))
                .map(|n| n.as_str().to_owned()),
            claims: all,
            intent: pending.intent,
        })
    }
}

fn token_error<RE: std::error::Error + 'static>(
    label: &str,
    e: RequestTokenError<RE, openidconnect::StandardErrorResponse<CoreErrorResponseType>>,
) -> Error {
    tracing::warn!(provider = label, error = %e, "OIDC code exchange failed");
    match e {
        RequestTokenError::ServerResponse(r) => {
            if *r.error() == CoreErrorResponseType::InvalidGrant {
                Error::Denied(format!(
                    "{label} refused the sign-in code: it was already used or has expired. \
                     Start again from the login page."
                ))
            } else {
                let detail = r
                    .error_description()
                    .cloned()
                    .unwrap_or_else(|| r.error().to_string());
                Error::Denied(format!(
                    "{label} refused to complete the sign-in: {detail}."
                ))
            }
        }
        RequestTokenError::Request(inner) => Error::Denied(format!(
            "Sign-in with {label} failed: its token endpoint could not be reached ({inner})."
        )),
        RequestTokenError::Parse(..) | RequestTokenError::Other(..) => Error::Denied(format!(
            "Sign-in with {label} failed: its token answer could not be read (a malformed or \
             altered ID token)."
        )),
    }
}

fn claims_error(label: &str, e: &ClaimsVerificationError) -> Error {
    tracing::warn!(provider = label, error = %e, "OIDC ID token refused");
    let why = match e {
        ClaimsVerificationError::Expired(_) => "the ID token has expired".to_owned(),
        ClaimsVerificationError::InvalidAudience(_) => {
            "the ID token was issued to another application (audience)".to_owned()
        }
        ClaimsVerificationError::InvalidIssuer(_) => {
            "the ID token comes from another issuer".to_owned()
        }
        ClaimsVerificationError::InvalidNonce(_) => {
            "the ID token's nonce does not match this sign-in".to_owned()
        }
        ClaimsVerificationError::SignatureVerification(_) => {
            "the ID token's signature is invalid".to_owned()
        }
        other => other.to_string(),
    };
    Error::Denied(format!(
        "Sign-in with {label} was refused: {why}. Nobody was logged in."
    ))
}
