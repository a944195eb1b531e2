//! The light/dark/system choice: a form in every page's footer, remembered in a cookie so the
//! page is drawn in it from the first byte (no script, no flash of the other scheme).

use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::CookieJar;
use serde::Deserialize;

use super::login::safe_next;
use super::{WebState, paths};
use crate::error::{Error, Result};
use crate::http::cookies::{Theme, set_theme};
use crate::http::extract::Form;
use crate::http::routes::{Permission, Routes};

pub fn routes(r: Routes<WebState>) -> Routes<WebState> {
    r.post(paths::THEME, Permission::Public, choose)
}

#[derive(Deserialize)]
struct ThemeForm {
    theme: String,
    #[serde(default)]
    next: String,
}

async fn choose(
    State(state): State<WebState>,
    jar: CookieJar,
    Form(form): Form<ThemeForm>,
) -> Result<Response> {
    let theme = Theme::parse(form.theme.trim())
        .ok_or_else(|| Error::invalid("theme", "choose system, light or dark"))?;
    let jar = set_theme(jar, &state.edge, theme);
    Ok((jar, Redirect::to(safe_next(&form.next))).into_response())
}
