//! `POST /api/tokens/count`: the number of tokens a model would see in a text, counted exactly
//! as the gateway counts (the same figure the context builder computes in the browser).

use axum::Json as JsonResponse;
use serde::{Deserialize, Serialize};

use super::ApiState;
use crate::auth::Action;
use crate::error::{Error, Result};
use crate::http::extract::Json;
use crate::http::routes::{Permission, Routes};
use crate::llm::tokens::{self, Encoding};

/// Route path.
pub const COUNT: &str = "/api/tokens/count";

pub fn routes(r: Routes<ApiState>) -> Routes<ApiState> {
    r.post(COUNT, Permission::Instance(Action::UseWorkspaces), count)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Body {
    text: String,
    /// A model id (its encoding is used), or
    #[serde(default)]
    model: Option<String>,
    /// an encoding by name: `o200k_base` or `cl100k_base`.
    #[serde(default)]
    encoding: Option<String>,
}

#[derive(Serialize)]
struct Answer {
    tokens: usize,
    encoding: &'static str,
    /// Whether the count is exact for the model (OpenAI models) or the o200k approximation.
    exact: bool,
}

async fn count(Json(body): Json<Body>) -> Result<JsonResponse<Answer>> {
    let (enc, exact) = match (&body.model, &body.encoding) {
        (Some(m), None) => (tokens::for_model(m), tokens::is_exact_for(m)),
        (None, Some(e)) => match e.as_str() {
            "o200k_base" => (Encoding::O200k, true),
            "cl100k_base" => (Encoding::Cl100k, true),
            _ => {
                return Err(Error::invalid(
                    "encoding",
                    "encoding must be o200k_base or cl100k_base",
                ));
            }
        },
        _ => {
            return Err(Error::invalid(
                "model",
                "give either a model or an encoding (not both)",
            ));
        }
    };
    Ok(JsonResponse(Answer {
        tokens: tokens::count(enc, &body.text),
        encoding: enc.name(),
        exact,
    }))
}
