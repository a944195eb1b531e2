//! Profile pictures and sign-in methods on the account page: uploading and removing the
//! picture, serving pictures (always our re-encoded PNG, never uploaded bytes), the small
//! picture shown next to a person's name, and the list of linked sign-in accounts.

use axum::extract::multipart::{Multipart, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::handler::Handler;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use maud::{Markup, html};

use super::views::{initials, when};
use super::{WebState, paths};
use crate::auth::{Action, ClientInfo};
use crate::domain::{User, UserId};
use crate::error::{Error, Result};
use crate::http::cookies::set_flash;
use crate::http::extract::{CurrentUser, Path, Query};
use crate::http::routes::{Permission, Routes};
use crate::profiles;

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    let own = Permission::Instance(Action::ManageOwnAccount);
    // The upload may be larger than the general body limit; the picture's own limit applies.
    let upload = upload_avatar.layer(DefaultBodyLimit::max(profiles::MAX_BYTES + 64 * 1024));
    r.post(paths::ACCOUNT_AVATAR, own, upload).get(
        paths::AVATAR,
        Permission::Instance(Action::UseCommunity),
        serve_avatar,
    )
}

/// Someone shown by name with their picture, next to what they made.
pub struct Person {
    /// Their id.
    pub id: UserId,
    /// Their display name.
    pub name: String,
    /// Their picture's version, when they have one.
    pub avatar: Option<String>,
}

impl Person {
    /// The person behind `id`; a deleted account shows as such rather than failing the page.
    pub async fn load(state: &WebState, id: UserId) -> Result<Self> {
        match state.auth.store().get_user(id).await {
            Ok(u) => Ok(Self::from(&u)),
            Err(Error::NotFound) => Ok(Self {
                id,
                name: "(deleted user)".to_owned(),
                avatar: None,
            }),
            Err(e) => Err(e),
        }
    }
}

impl From<&User> for Person {
    fn from(u: &User) -> Self {
        Self {
            id: u.id,
            name: u.name.to_string(),
            avatar: u.avatar_version().map(str::to_owned),
        }
    }
}

impl maud::Render for Person {
    fn render(&self) -> Markup {
        html! {
            span.person { (avatar(self.id, &self.name, self.avatar.as_deref(), Size::Small)) " " (self.name) }
        }
    }
}

/// How large a picture is shown.
#[derive(Clone, Copy)]
pub enum Size {
    /// Beside a name in running text (20 px).
    Small,
    /// In the header (30 px).
    Medium,
    /// On the account page (96 px).
    Large,
}

/// A person's picture (or initials when they have none), beside their name.
pub fn avatar(id: UserId, name: &str, version: Option<&str>, size: Size) -> Markup {
    let (class, px) = match size {
        Size::Small => ("avatar avatar-sm", 20),
        Size::Medium => ("avatar", 30),
        Size::Large => ("avatar avatar-lg", 96),
    };
    html! {
        @if let Some(v) = version {
            img class=(class) src=(format!("{}?v={v}", paths::with_id(paths::AVATAR, id))) alt="" width=(px) height=(px) loading="lazy";
        } @else {
            span class=(class) aria-hidden="true" { (initials(name)) }
        }
    }
}

/// The profile picture part of the account page.
pub fn avatar_section(user: &User) -> Markup {
    html! {
        div.avatar-edit {
            (avatar(user.id, user.name.as_str(), user.avatar_version(), Size::Large))
            div.stack {
            form.stack method="post" action=(paths::ACCOUNT_AVATAR) enctype="multipart/form-data" {
                div.field {
                    label for="avatar-file" { "Profile picture" }
                    input #avatar-file type="file" name="avatar" accept="image/png,image/jpeg,image/webp" required;
                    p.hint { "PNG, JPEG or WebP, at most 5 MiB and 4096×4096 pixels. It is cropped to a square." }
                }
                button.button type="submit" { "Upload picture" }
            }
            @if user.avatar.is_some() {
                form method="post" action=(paths::ACCOUNT_AVATAR) enctype="multipart/form-data" {
                    input type="hidden" name="remove" value="1";
                    button.button.small type="submit" { "Remove picture" }
                }
            }
            }
        }
    }
}

/// The sign-in methods part of the account page: password and every provider, linked or not.
pub async fn signin_section(state: &WebState, user: &User) -> Result<Markup> {
    let linked = state.auth.identities(user.id).await?;
    let providers = state.oidc.providers();
    let password = match (state.auth.password_login(), user.password_hash.is_some()) {
        (false, _) => "Turned off on this server",
        (true, true) => "Set",
        (true, false) => "Not set",
    };
    let gone: Vec<_> = linked
        .iter()
        .filter(|i| !providers.iter().any(|p| p.id() == i.provider))
        .collect();
    Ok(html! {
        section.panel aria-labelledby="signin-h" {
            h2 #signin-h { "Sign-in methods" }
            p.muted { "Ways you can log in. You always keep at least one." }
            div.table-wrap {
                table tabindex="0" {
                    thead { tr { th { "Method" } th { "Account" } th { "Last used" } th { span.sr-only { "Action" } } } }
                    tbody {
                        tr { td { "Password" } td { (password) } td { "-" } td {} }
                        @for p in providers {
                            @let found = linked.iter().find(|i| i.provider == p.id());
                            tr {
                                td { (p.label()) }
                                @if let Some(i) = found {
                                    td { (i.email.as_deref().unwrap_or("linked")) }
                                    td { (i.last_login_at.map(when).unwrap_or_else(|| html! { "never" })) }
                                    td { form method="post" action=(paths::with_provider(paths::ACCOUNT_IDENTITY_UNLINK, p.id())) {
                                        button.button.small type="submit" aria-label=(format!("Unlink {}", p.label())) { "Unlink" }
                                    } }
                                } @else {
                                    td.muted { "Not linked" }
                                    td { "-" }
                                    td { form method="post" action=(paths::with_provider(paths::ACCOUNT_IDENTITY_LINK, p.id())) {
                                        button.button.small type="submit" aria-label=(format!("Link {}", p.label())) { "Link" }
                                    } }
                                }
                            }
                        }
                        @for i in gone {
                            tr {
                                td { (i.provider) " (no longer configured)" }
                                td { (i.email.as_deref().unwrap_or("linked")) }
                                td { (i.last_login_at.map(when).unwrap_or_else(|| html! { "never" })) }
                                td { form method="post" action=(paths::with_provider(paths::ACCOUNT_IDENTITY_UNLINK, &i.provider)) {
                                    button.button.small type="submit" { "Unlink" }
                                } }
                            }
                        }
                    }
                }
            }
        }
    })
}

async fn upload_avatar(
    State(state): State<WebState>,
    CurrentUser(auth): CurrentUser,
    client: ClientInfo,
    jar: CookieJar,
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<Response> {
    let result = match read_upload(multipart).await {
        Err(e) => Err(e),
        Ok((true, _)) => state
            .profiles
            .remove_avatar(&auth.user, Some(client.ip))
            .await
            .map(|_| "Your picture is removed."),
        Ok((false, Some(bytes))) => state
            .profiles
            .set_avatar(&auth.user, bytes, Some(client.ip))
            .await
            .map(|_| "Your picture is saved."),
        Ok((false, None)) => Err(Error::invalid("avatar", "choose a picture to upload")),
    };
    let jar = match result {
        Ok(text) => set_flash(jar, &state.edge, false, text),
        Err(Error::Invalid { message, .. }) => {
            let text = format!("The picture was not saved: {message}.");
            set_flash(jar, &state.edge, true, &text)
        }
        Err(e) => return Err(e),
    };
    Ok((jar, Redirect::to(paths::ACCOUNT)).into_response())
}

/// The form's fields: whether to remove the picture, and the uploaded file.
async fn read_upload(
    multipart: std::result::Result<Multipart, MultipartRejection>,
) -> Result<(bool, Option<Vec<u8>>)> {
    let mut multipart =
        multipart.map_err(|_| Error::invalid("avatar", "send the picture as a file upload"))?;
    let mut upload = None;
    let mut remove = false;
    while let Some(field) = multipart.next_field().await.map_err(field_error)? {
        match field.name() {
            Some("avatar") => upload = Some(field.bytes().await.map_err(field_error)?.to_vec()),
            Some("remove") => remove = true,
            _ => {}
        }
    }
    Ok((remove, upload))
}

fn field_error(e: axum::extract::multipart::MultipartError) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::invalid(
            "avatar",
            format!(
                "at most {} MiB is accepted",
                profiles::MAX_BYTES / 1_048_576
            ),
        )
    } else {
        Error::invalid("avatar", "the upload could not be read")
    }
}

#[derive(serde::Deserialize, Default)]
struct VersionQuery {
    v: Option<String>,
}

async fn serve_avatar(
    State(state): State<WebState>,
    Path(id): Path<String>,
    Query(q): Query<VersionQuery>,
) -> Result<Response> {
    let id: UserId = id.parse().map_err(|_| Error::NotFound)?;
    let png = state.profiles.avatar_png(id, q.v.as_deref()).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "image/png"),
            // The URL names the picture's version: a new picture is a new URL, an old one is gone.
            (
                header::CACHE_CONTROL,
                "private, max-age=31536000, immutable",
            ),
            (
                header::CONTENT_DISPOSITION,
                "inline; filename=\"avatar.png\"",
            ),
        ],
        png,
    )
        .into_response())
}
