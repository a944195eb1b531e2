//! The route table: every route is added here with the permission it needs, and a guard
//! enforces that permission before the handler runs.
//!
//! The guard authenticates, resolves the resource from the path (`{ws}` is a workspace id, `{id}`
//! a template id), asks `auth::authorize`, and leaves what it found in the request extensions for
//! the handler ([`WorkspaceAccess`], [`TemplateAccess`]). A refused request never reaches the
//! handler, so it cannot change anything. The table is kept so a test can walk every route with
//! every role; adding a route any other way fails that test.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::handler::Handler;
use axum::http::Method;
use axum::http::request::Parts;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};

use super::Edge;
use super::cookies::remember_workspace;
use super::extract::authenticated_user;
use crate::auth::{Action, Actor, Auth, Authenticated, Resource, authorize};
use crate::domain::{Role, Template, TemplateId, Workspace, WorkspaceId};
use crate::error::Error;
use axum_extra::extract::cookie::CookieJar;

/// What a route requires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Permission {
    /// Anyone, logged in or not (login, setup, health, assets).
    Public,
    /// A logged-in user allowed `Action` on the instance.
    Instance(Action),
    /// A member of the `{ws}` workspace allowed `Action` there.
    Workspace(Action),
    /// Someone allowed `Action` on the `{id}` template (its workspace, or a system template).
    Template(Action),
    /// A caller with a working API key (`Authorization: Bearer`), for `/v1`.
    ApiKey,
}

/// One row of the route table.
#[derive(Clone, Debug)]
pub struct RouteSpec {
    /// Method.
    pub method: Method,
    /// Path pattern, e.g. `/w/{ws}/templates`.
    pub path: &'static str,
    /// What it requires.
    pub permission: Permission,
}

/// A router under construction together with its route table.
pub struct Routes<S> {
    router: Router<S>,
    table: Vec<RouteSpec>,
    guard: GuardState,
}

/// What the guard needs.
#[derive(Clone)]
struct GuardState {
    auth: Auth,
    edge: Edge,
    permission: Permission,
}

impl<S: Clone + Send + Sync + 'static> Routes<S> {
    /// An empty table whose guards use `auth` and `edge`.
    pub fn new(auth: Auth, edge: Edge) -> Self {
        Self {
            router: Router::new(),
            table: Vec::new(),
            guard: GuardState {
                auth,
                edge,
                permission: Permission::Public,
            },
        }
    }

    /// Adds `handler` for `method` at `path`, guarded by `permission`.
    pub fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        permission: Permission,
        handler: H,
    ) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let filter = match method {
            Method::GET => MethodFilter::GET,
            Method::POST => MethodFilter::POST,
            Method::PUT => MethodFilter::PUT,
            Method::PATCH => MethodFilter::PATCH,
            Method::DELETE => MethodFilter::DELETE,
            _ => MethodFilter::GET,
        };
        let guard = GuardState {
            permission,
            ..self.guard.clone()
        };
        let route =
            on(filter, handler).route_layer(middleware::from_fn_with_state(guard, guard_fn));
        self.router = self.router.route(path, route);
        self.table.push(RouteSpec {
            method,
            path,
            permission,
        });
        self
    }

    /// `GET`.
    pub fn get<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        p: Permission,
        h: H,
    ) -> Self {
        self.add(Method::GET, path, p, h)
    }

    /// `POST`.
    pub fn post<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        p: Permission,
        h: H,
    ) -> Self {
        self.add(Method::POST, path, p, h)
    }

    /// `PUT`.
    pub fn put<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        p: Permission,
        h: H,
    ) -> Self {
        self.add(Method::PUT, path, p, h)
    }

    /// `PATCH`.
    pub fn patch<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        p: Permission,
        h: H,
    ) -> Self {
        self.add(Method::PATCH, path, p, h)
    }

    /// `DELETE`.
    pub fn delete<H: Handler<T, S>, T: 'static>(
        self,
        path: &'static str,
        p: Permission,
        h: H,
    ) -> Self {
        self.add(Method::DELETE, path, p, h)
    }

    /// Adds the routes of `other`.
    pub fn merge(mut self, other: Routes<S>) -> Self {
        self.router = self.router.merge(other.router);
        self.table.extend(other.table);
        self
    }

    /// The router and its table.
    pub fn into_parts(self) -> (Router<S>, Vec<RouteSpec>) {
        (self.router, self.table)
    }
}

/// The workspace a `Permission::Workspace` route is about, and the actor's role there.
#[derive(Clone, Debug)]
pub struct WorkspaceAccess {
    /// The logged-in user and session.
    pub auth: Authenticated,
    /// The workspace.
    pub workspace: Workspace,
    /// The actor's role in it.
    pub role: Role,
}

/// The template a `Permission::Template` route is about.
#[derive(Clone, Debug)]
pub struct TemplateAccess {
    /// The logged-in user and session.
    pub auth: Authenticated,
    /// The template.
    pub template: Template,
    /// The actor's role in its workspace; `None` for a system template.
    pub role: Option<Role>,
}

impl TemplateAccess {
    /// Checks a further action on this template (such as moving `production`).
    pub fn authorize(&self, action: Action) -> Result<(), Error> {
        let resource = match self.template.workspace_id {
            None => Resource::SystemTemplate,
            Some(_) => Resource::Workspace(self.role),
        };
        authorize(Actor::User(&self.auth.user), action, resource)
    }
}

macro_rules! from_extensions {
    ($t:ty) => {
        impl<S: Send + Sync> FromRequestParts<S> for $t {
            type Rejection = Error;

            async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
                parts.extensions.get::<$t>().cloned().ok_or_else(|| {
                    Error::internal(concat!(
                        stringify!($t),
                        " used on a route without its permission"
                    ))
                })
            }
        }
    };
}

from_extensions!(WorkspaceAccess);
from_extensions!(TemplateAccess);
from_extensions!(crate::auth::ApiCaller);

async fn guard_fn(State(guard): State<GuardState>, request: Request, next: Next) -> Response {
    let (mut parts, body) = request.into_parts();
    if let Err(e) = check(&guard, &mut parts).await {
        return e.into_response();
    }
    let workspace = parts
        .extensions
        .get::<WorkspaceAccess>()
        .map(|w| w.workspace.id)
        .or_else(|| {
            parts
                .extensions
                .get::<TemplateAccess>()
                .and_then(|t| t.template.workspace_id)
        });
    let response = next.run(Request::from_parts(parts, body)).await;
    match workspace {
        // Pages outside a workspace (account, admin) show the one used last.
        Some(id) if response.status().is_success() => (
            remember_workspace(CookieJar::new(), &guard.edge, id),
            response,
        )
            .into_response(),
        _ => response,
    }
}

async fn check(guard: &GuardState, parts: &mut Parts) -> Result<(), Error> {
    if guard.permission == Permission::Public {
        return Ok(());
    }
    if guard.permission == Permission::ApiKey {
        let presented = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or(Error::Unauthenticated)?;
        let caller = guard.auth.authenticate_api_key(presented).await?;
        parts.extensions.insert(caller);
        return Ok(());
    }
    let auth = authenticated_user(parts, &guard.auth, &guard.edge)
        .await?
        .ok_or(Error::Unauthenticated)?;
    let actor = Actor::User(&auth.user);
    let params: HashMap<String, String> =
        Path::<HashMap<String, String>>::from_request_parts(parts, &())
            .await
            .map(|Path(p)| p)
            .unwrap_or_default();
    let store = guard.auth.store();
    match guard.permission {
        Permission::Public | Permission::ApiKey => Ok(()),
        Permission::Instance(action) => authorize(actor, action, Resource::Instance),
        Permission::Workspace(action) => {
            let id: WorkspaceId = param(&params, "ws")?;
            let member = store.find_member(id, auth.user.id).await?;
            authorize(
                actor,
                action,
                Resource::Workspace(member.as_ref().map(|m| m.role)),
            )?;
            let workspace = store.get_workspace(id).await?;
            let role = member.map(|m| m.role).ok_or(Error::NotFound)?;
            parts.extensions.insert(WorkspaceAccess {
                auth: auth.clone(),
                workspace,
                role,
            });
            Ok(())
        }
        Permission::Template(action) => {
            let id: TemplateId = param(&params, "id")?;
            let template = store.get_template(id).await?;
            let (resource, role) = match template.workspace_id {
                None => (Resource::SystemTemplate, None),
                Some(ws) => {
                    let role = store.find_member(ws, auth.user.id).await?.map(|m| m.role);
                    (Resource::Workspace(role), role)
                }
            };
            authorize(actor, action, resource)?;
            parts.extensions.insert(TemplateAccess {
                auth: auth.clone(),
                template,
                role,
            });
            Ok(())
        }
    }
}

/// A path parameter parsed as an id; a malformed id is `NotFound` like a missing one.
fn param<T: std::str::FromStr>(params: &HashMap<String, String>, name: &str) -> Result<T, Error> {
    params
        .get(name)
        .and_then(|v| v.parse().ok())
        .ok_or(Error::NotFound)
}
