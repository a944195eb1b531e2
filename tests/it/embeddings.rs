//! `/v1/embeddings` against the fake OpenAI and Gemini upstreams: the translated request, the
//! answer in OpenAI's shape (floats and base64), the recorded run with tokens and cost, and
//! refusals naming the field.

use base64::Engine;
use serde_json::{Value, json};

use crate::chat_surface::{ANTHROPIC, setup};
use crate::fake_llm::{Script, Wire, fake_vector};
use crate::v1::V1;

pub(crate) const OPENAI_EMBED: &str = "text-embedding-3-small";
pub(crate) const GEMINI_EMBED: &str = "gemini-embedding-001";

/// Connections offering the two embedding models.
pub(crate) async fn add_embedding_connections(t: &V1) {
    for (name, kind, wire, model) in [
        ("openai-embed", "openai", Wire::Openai, OPENAI_EMBED),
        ("gemini-embed", "google", Wire::Gemini, GEMINI_EMBED),
    ] {
        let base = t.fake.base_for(wire);
        let res = t
            .app
            .post_form(
                &t.admin,
                "/admin/providers",
                &[
                    ("name", name),
                    ("kind", kind),
                    ("base_url", &base),
                    ("api_key", "sk-up"),
                    ("models", model),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
    }
}

async fn embed(t: &V1, key: &str, body: Value) -> (u16, Value, Option<String>) {
    let res = t.post(key, "/v1/embeddings", body).send().await.unwrap();
    let status = res.status().as_u16();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, res.json().await.unwrap(), retry)
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn expected(i: usize, dims: usize) -> Vec<f32> {
    fake_vector(i, dims).into_iter().map(|x| x as f32).collect()
}

#[tokio::test]
async fn embeddings_reach_openai_and_gemini_and_are_recorded() {
    let t = setup(Script::default()).await;
    add_embedding_connections(&t).await;
    let key = t.key("").await;

    let (status, out, _) = embed(
        &t,
        &key,
        json!({"model": OPENAI_EMBED, "input": ["first text", "second text"], "dimensions": 8,
            "user": "u-1"}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["object"], "list");
    assert_eq!(out["model"], OPENAI_EMBED);
    assert_eq!(out["data"].as_array().unwrap().len(), 2);
    for i in 0..2 {
        assert_eq!(out["data"][i]["object"], "embedding");
        assert_eq!(out["data"][i]["index"], i);
        assert_eq!(floats(&out["data"][i]["embedding"]), expected(i, 8));
    }
    assert_eq!(out["usage"], json!({"prompt_tokens": 6, "total_tokens": 6}));
    let sent = t.fake.last_request();
    assert_eq!(sent.path, "/v1/embeddings");
    assert_eq!(
        sent.body,
        json!({"model": OPENAI_EMBED, "input": ["first text", "second text"], "dimensions": 8,
            "user": "u-1", "encoding_format": "float"})
    );
    let run = t.app.recorded_run(&out["run_id"]).await;
    assert_eq!(run.input_tokens, 6);
    assert!(run.cost_usd.unwrap() > 0.0, "priced from the table");
    assert!(run.prompt.contains("second text"));
    assert_eq!(
        run.detail.unwrap()["embeddings"],
        json!({"count": 2, "dimensions": 8})
    );
    assert_eq!(run.params.unwrap(), json!({"dimensions": 8, "user": "u-1"}));
    let page = t
        .app
        .get(&t.admin, &format!("/w/{}/runs/{}", t.ws, run.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Embeddings: 2 vectors of 8 dimensions"),
        "{page}"
    );
    assert!(page.contains("second text"));

    // base64, as the Python SDK asks by default: little-endian float32s.
    let (status, out, _) = embed(
        &t,
        &key,
        json!({"model": OPENAI_EMBED, "input": "one", "encoding_format": "base64"}),
    )
    .await;
    assert_eq!(status, 200);
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(out["data"][0]["embedding"].as_str().unwrap())
        .unwrap();
    let decoded: Vec<f32> = bytes
        .chunks(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(decoded, expected(0, 4));

    // Gemini: batchEmbedContents, one request per text; tokens estimated (it reports none).
    let (status, out, _) = embed(
        &t,
        &key,
        json!({"model": GEMINI_EMBED, "input": ["hello", "world"], "dimensions": 3}),
    )
    .await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(floats(&out["data"][1]["embedding"]), expected(1, 3));
    assert!(out["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    let sent = t.fake.last_request();
    assert_eq!(
        sent.path,
        format!("/v1beta/models/{GEMINI_EMBED}:batchEmbedContents")
    );
    assert_eq!(sent.header("x-goog-api-key"), Some("sk-up"));
    assert_eq!(
        sent.body,
        json!({"requests": [
            {"model": format!("models/{GEMINI_EMBED}"), "content": {"parts": [{"text": "hello"}]},
                "outputDimensionality": 3},
            {"model": format!("models/{GEMINI_EMBED}"), "content": {"parts": [{"text": "world"}]},
                "outputDimensionality": 3},
        ]})
    );
}

#[tokio::test]
async fn embeddings_refusals_name_the_field_and_keep_the_rules() {
    let t = setup(Script::default()).await;
    add_embedding_connections(&t).await;
    let key = t.key("").await;
    let before = t.fake.requests().len();
    for (body, status, param) in [
        (json!({"model": ANTHROPIC, "input": "x"}), 400, "model"),
        (
            json!({"model": GEMINI_EMBED, "input": [1, 2, 3]}),
            400,
            "input",
        ),
        (json!({"model": OPENAI_EMBED, "input": ""}), 400, "input"),
        (json!({"model": OPENAI_EMBED}), 400, "input"),
        (
            json!({"model": OPENAI_EMBED, "input": "x", "encoding_format": "hex"}),
            400,
            "encoding_format",
        ),
        (
            json!({"model": OPENAI_EMBED, "input": "x", "dimensions": -1}),
            400,
            "dimensions",
        ),
    ] {
        let (got, err, _) = embed(&t, &key, body.clone()).await;
        assert_eq!(got, status, "{body}: {err}");
        assert_eq!(err["error"]["param"], param, "{body}: {err}");
        assert_eq!(err["error"]["type"], "invalid_request_error");
    }
    assert_eq!(t.fake.requests().len(), before, "nothing reached upstream");

    let (status, err, _) = embed(&t, &key, json!({"model": "no-such", "input": "x"})).await;
    assert_eq!(status, 404);
    assert_eq!(err["error"]["code"], "model_not_found");

    // A key limited to a chat model may not embed.
    let narrow = t.key("gpt-4o-mini").await;
    let (status, _, _) = embed(&t, &narrow, json!({"model": OPENAI_EMBED, "input": "x"})).await;
    assert_eq!(status, 403);

    // An upstream 429 is a 429 with its Retry-After.
    let mut limited = Script::status(429);
    limited.retry_after = Some("9".into());
    t.fake.script_for(OPENAI_EMBED, limited);
    let (status, err, retry) = embed(&t, &key, json!({"model": OPENAI_EMBED, "input": "x"})).await;
    assert_eq!(status, 429, "{err}");
    assert_eq!(retry.as_deref(), Some("9"));
    let run = t.app.recorded_run(&err["run_id"]).await;
    assert_eq!(run.state, promptyard::domain::RunState::Failed);
}
