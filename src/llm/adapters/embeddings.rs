//! Embeddings calls: OpenAI's and compatible servers' `POST /embeddings`, Gemini's
//! `models/{model}:batchEmbedContents`. Anthropic offers no embeddings API.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Call, check, endpoint_url, read_json, scrub, send};
use crate::domain::ProviderKind;
use crate::llm::chat::{Endpoint, LlmError};
use crate::llm::embeddings::{Embedded, EmbeddingRequest};
use crate::llm::outbound::Outbound;

/// The most vectors one answer may hold (OpenAI's own limit on inputs per call).
const MAX_VECTORS: usize = 2048;

/// Why `kind` cannot serve `req`, naming the parameter as OpenAI's `param` does.
pub fn embeddings_unsupported(kind: ProviderKind, req: &EmbeddingRequest) -> Option<LlmError> {
    match kind {
        ProviderKind::Anthropic => Some(LlmError::Unsupported {
            param: "model".into(),
            message: format!(
                "`{}` is served by an Anthropic connection, and Anthropic offers no embeddings \
                 API; use an OpenAI, OpenAI-compatible or Gemini model",
                req.model
            ),
        }),
        ProviderKind::Google if req.input.texts().is_none() => Some(LlmError::Unsupported {
            param: "input".into(),
            message: "Gemini embeds text only; send `input` as a string or a list of strings"
                .into(),
        }),
        _ => None,
    }
}

fn call(ep: &Endpoint, req: &EmbeddingRequest) -> Result<Call, LlmError> {
    match ep.kind {
        ProviderKind::Google => {
            let id = req.model.strip_prefix("models/").unwrap_or(&req.model);
            let texts = req.input.texts().unwrap_or_default();
            let requests: Vec<Value> = texts
                .iter()
                .map(|t| {
                    let mut r = json!({"model": format!("models/{id}"),
                        "content": {"parts": [{"text": t}]}});
                    if let Some(d) = req.dimensions {
                        r["outputDimensionality"] = json!(d);
                    }
                    r
                })
                .collect();
            Ok(Call {
                url: endpoint_url(
                    &ep.base_url,
                    &["models", &format!("{id}:batchEmbedContents")],
                )?,
                headers: super::gemini::headers(ep),
                body: Some(json!({"requests": requests})),
            })
        }
        _ => {
            let mut body = serde_json::to_value(req).unwrap_or_default();
            // Floats always: the answer is recorded and re-encoded here if the caller asked
            // for base64.
            body["encoding_format"] = json!("float");
            Ok(Call {
                url: endpoint_url(&ep.base_url, &["embeddings"])?,
                headers: super::openai::headers(ep),
                body: Some(body),
            })
        }
    }
}

fn malformed(what: &str) -> LlmError {
    LlmError::Malformed(format!("the embeddings answer {what}"))
}

fn vector(v: &Value) -> Result<Vec<f32>, LlmError> {
    v.as_array()
        .ok_or_else(|| malformed("has an embedding that is not a list of numbers"))?
        .iter()
        .map(|x| {
            x.as_f64()
                .map(|f| f as f32)
                .ok_or_else(|| malformed("has an embedding that is not a list of numbers"))
        })
        .collect()
}

fn parse(kind: ProviderKind, v: &Value, expected: usize) -> Result<Embedded, LlmError> {
    let mut out = Embedded::default();
    match kind {
        ProviderKind::Google => {
            for e in v["embeddings"]
                .as_array()
                .ok_or_else(|| malformed("has no `embeddings`"))?
            {
                out.vectors.push(vector(&e["values"])?);
            }
        }
        _ => {
            let data = v["data"]
                .as_array()
                .ok_or_else(|| malformed("has no `data`"))?;
            let mut indexed: Vec<(u64, Vec<f32>)> = Vec::with_capacity(data.len());
            for (i, d) in data.iter().enumerate() {
                let index = d["index"].as_u64().unwrap_or(i as u64);
                indexed.push((index, vector(&d["embedding"])?));
            }
            indexed.sort_by_key(|(i, _)| *i);
            out.vectors = indexed.into_iter().map(|(_, v)| v).collect();
            out.input_tokens = v["usage"]["prompt_tokens"].as_u64();
        }
    }
    if out.vectors.len() != expected || out.vectors.len() > MAX_VECTORS {
        return Err(malformed(&format!(
            "has {} vectors for {expected} inputs",
            out.vectors.len()
        )));
    }
    Ok(out)
}

/// Embeds `req` through the endpoint.
pub async fn embed(
    out: &Outbound,
    ep: &Endpoint,
    req: &EmbeddingRequest,
) -> Result<Embedded, LlmError> {
    if let Some(e) = embeddings_unsupported(ep.kind, req) {
        return Err(e);
    }
    let run = async {
        let resp = send(out, Method::POST, call(ep, req)?, "application/json").await?;
        let resp = check(resp, Some(&req.model)).await?;
        let v = read_json(resp).await?;
        parse(ep.kind, &v, req.input.len())
    };
    run.await.map_err(|e| scrub(e, ep.api_key.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_in_input_order() {
        let v = json!({"data": [{"index": 1, "embedding": [0.5]}, {"index": 0, "embedding": [0.25, 1]}],
            "usage": {"prompt_tokens": 4}});
        let e = parse(ProviderKind::Openai, &v, 2).unwrap();
        assert_eq!(e.vectors, vec![vec![0.25, 1.0], vec![0.5]]);
        assert_eq!(e.input_tokens, Some(4));
        let g = json!({"embeddings": [{"values": [0.1, 0.2]}]});
        assert_eq!(parse(ProviderKind::Google, &g, 1).unwrap().vectors.len(), 1);
        assert!(parse(ProviderKind::Google, &g, 2).is_err());
        assert!(
            parse(
                ProviderKind::Openai,
                &json!({"data": [{"embedding": "x"}]}),
                1
            )
            .is_err()
        );
    }
}
