//! `POST /v1/embeddings`: checked field by field, run through the gateway (key allowlist,
//! limits, budgets, recording), answered in OpenAI's shape with floats or base64.

use axum::Json as JsonResponse;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde_json::{Map, Value, json};

use super::{check_model, model_error, response};
use crate::api::ApiState;
use crate::auth::ApiCaller;
use crate::domain::RunState;
use crate::error::{Error, Result};
use crate::gateway::EmbedRequest;
use crate::http::extract::Json;
use crate::llm::embeddings::{EmbeddingInput, EmbeddingRequest};

/// The most inputs one call takes, as OpenAI's limit.
const MAX_INPUTS: usize = 2048;

/// The body as a request, and whether the caller wants base64 vectors.
fn parse(body: Value) -> Result<(EmbeddingRequest, bool)> {
    let Value::Object(mut b): Value = body else {
        return Err(Error::invalid("body", "the body must be a JSON object"));
    };
    let model = match b.remove("model") {
        Some(Value::String(m)) if !m.trim().is_empty() => m,
        _ => return Err(Error::invalid("model", "`model` must name a model")),
    };
    let input: EmbeddingInput = match b.remove("input") {
        None | Some(Value::Null) => {
            return Err(Error::invalid("input", "`input` is required"));
        }
        Some(v) => serde_json::from_value(v).map_err(|_| {
            Error::invalid(
                "input",
                "`input` must be a string, a list of strings, a list of token ids or a list \
                 of lists of token ids",
            )
        })?,
    };
    let empty = match &input {
        EmbeddingInput::Text(t) => t.is_empty(),
        EmbeddingInput::Texts(t) => t.is_empty() || t.iter().any(String::is_empty),
        EmbeddingInput::Tokens(t) => t.is_empty(),
        EmbeddingInput::TokenLists(t) => t.is_empty() || t.iter().any(Vec::is_empty),
    };
    if empty {
        return Err(Error::invalid(
            "input",
            "`input` must not be empty, nor hold an empty string",
        ));
    }
    if input.len() > MAX_INPUTS {
        return Err(Error::invalid(
            "input",
            format!("`input` holds {} items; at most {MAX_INPUTS}", input.len()),
        ));
    }
    let base64 = match b.remove("encoding_format") {
        None | Some(Value::Null) => false,
        Some(Value::String(f)) if f == "float" => false,
        Some(Value::String(f)) if f == "base64" => true,
        Some(_) => {
            return Err(Error::invalid(
                "encoding_format",
                "`encoding_format` must be float or base64",
            ));
        }
    };
    let dimensions = match b.remove("dimensions") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|d| u32::try_from(d).ok()) {
            Some(d) if d > 0 => Some(d),
            _ => {
                return Err(Error::invalid(
                    "dimensions",
                    "`dimensions` must be a positive integer",
                ));
            }
        },
    };
    let user = match b.remove("user") {
        None | Some(Value::Null) => None,
        Some(Value::String(u)) => Some(u),
        Some(_) => return Err(Error::invalid("user", "`user` must be a string")),
    };
    Ok((
        EmbeddingRequest {
            model,
            input,
            dimensions,
            user,
        },
        base64,
    ))
}

/// A vector as OpenAI's base64: little-endian float32s.
fn base64_of(v: &[f32]) -> String {
    let bytes: Vec<u8> = v.iter().flat_map(|f| f.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

pub(super) async fn embeddings(
    State(state): State<ApiState>,
    caller: ApiCaller,
    Json(body): Json<Value>,
) -> Result<Response> {
    let (embedding, base64) = parse(body)?;
    let model = embedding.model.clone();
    check_model(&state, &caller, &model)
        .await
        .map_err(|e| model_error(e, &model))?;
    let done = state
        .gateway
        .embed(EmbedRequest {
            workspace: caller.key.workspace_id,
            user: caller.user.id,
            api_key: Some(caller.key.id),
            embedding,
        })
        .await?;
    let s = done.summary;
    if s.state != RunState::Completed {
        return Ok(response::failed(s));
    }
    let data: Vec<Value> = done
        .vectors
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let embedding = if base64 {
                json!(base64_of(v))
            } else {
                json!(v)
            };
            json!({"object": "embedding", "index": i, "embedding": embedding})
        })
        .collect();
    let mut out = Map::new();
    out.insert("object".into(), json!("list"));
    out.insert("data".into(), Value::Array(data));
    out.insert("model".into(), json!(s.model));
    out.insert(
        "usage".into(),
        json!({"prompt_tokens": s.input_tokens, "total_tokens": s.input_tokens}),
    );
    out.insert("run_id".into(), json!(s.run_id));
    Ok(JsonResponse(Value::Object(out)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_bodies_name_the_field() {
        let field = |b: Value| match parse(b) {
            Err(Error::Invalid { field, .. }) => field.unwrap_or_default(),
            other => panic!("{:?}", other.map(|_| ())),
        };
        assert_eq!(field(json!({"input": "x"})), "model");
        assert_eq!(field(json!({"model": "m"})), "input");
        assert_eq!(field(json!({"model": "m", "input": ["a", ""]})), "input");
        assert_eq!(field(json!({"model": "m", "input": [1.5]})), "input");
        assert_eq!(
            field(json!({"model": "m", "input": "a", "dimensions": 0})),
            "dimensions"
        );
        assert_eq!(
            field(json!({"model": "m", "input": "a", "encoding_format": "hex"})),
            "encoding_format"
        );
        let (r, b64) =
            parse(json!({"model": "m", "input": [[1, 2]], "encoding_format": "base64"})).unwrap();
        assert!(b64);
        assert_eq!(r.input, EmbeddingInput::TokenLists(vec![vec![1, 2]]));
    }

    #[test]
    fn base64_is_little_endian_float32() {
        assert_eq!(base64_of(&[1.0]), "AACAPw==");
    }
}
