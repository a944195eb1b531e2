//! The official OpenAI SDKs, Python and Node, driving the real server against the fake OpenAI,
//! Anthropic and Gemini upstreams: a two-step tool loop, streamed tool calls assembled by the
//! SDK, `chat.completions.parse` with a Pydantic model, embeddings (Python), and a bad request surfacing as the
//! SDK's `BadRequestError`. The client scripts are `tests/clients/openai_python.py` and
//! `tests/browser/clients/openai_node.mjs`; their pinned packages come from
//! `tests/clients/requirements.txt` (a venv named by `PROMPTYARD_TEST_PYTHON`) and
//! `tests/browser/package-lock.json`. `.ci/run` installs both and sets
//! `PROMPTYARD_REQUIRE_CLIENTS=1`, which turns a missing client into a failure instead of a skip.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::chat_surface::{ANTHROPIC, GEMINI, OPENAI, setup};
use crate::embeddings::{GEMINI_EMBED, OPENAI_EMBED, add_embedding_connections};
use crate::fake_llm::{Call, Script};

const REPO: &str = env!("CARGO_MANIFEST_DIR");

/// The weather loop every client runs: a call, then this answer once the result is back.
fn script() -> Script {
    Script::tools(
        vec![Call::new("get_weather", "{\"city\": \"Paris\"}")],
        "{\"city\": \"Paris\", \"celsius\": 21}",
    )
}

fn required() -> bool {
    std::env::var("PROMPTYARD_REQUIRE_CLIENTS").is_ok_and(|v| v == "1")
}

/// Skips (or, when clients are required, fails) a test whose client is not installed.
fn unavailable(what: &str) -> bool {
    assert!(!required(), "{what}; PROMPTYARD_REQUIRE_CLIENTS=1 needs it");
    use std::io::Write;
    let _ = writeln!(
        std::io::stderr(),
        "skipped: {what} (see tests/it/clients.rs)"
    );
    true
}

async fn drive(program: PathBuf, client: &Path) {
    let t = setup(script()).await;
    add_embedding_connections(&t).await;
    let key = t.key("").await;
    let base = t.app.url("/v1");
    let client = client.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(program)
            .arg(client)
            .env("PROMPTYARD_BASE_URL", base)
            .env("PROMPTYARD_KEY", key)
            .env("PROMPTYARD_MODELS", [OPENAI, ANTHROPIC, GEMINI].join(","))
            .env(
                "PROMPTYARD_EMBEDDING_MODELS",
                [OPENAI_EMBED, GEMINI_EMBED].join(","),
            )
            .output()
            .expect("the client runs")
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the client failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}"
    );
    assert!(stdout.contains("all passed"), "{stdout}");
    eprintln!("{stdout}");
    // Every model went through every step.
    for model in [OPENAI, ANTHROPIC, GEMINI] {
        assert!(stdout.contains(&format!("{model}: ")), "{stdout}");
    }
}

#[tokio::test]
async fn clients_openai_python_sdk_runs_tools_streams_and_parse() {
    let Some(python) = std::env::var_os("PROMPTYARD_TEST_PYTHON").map(PathBuf::from) else {
        unavailable(
            "PROMPTYARD_TEST_PYTHON (a venv with tests/clients/requirements.txt) is not set",
        );
        return;
    };
    let has_sdk = Command::new(&python)
        .args(["-c", "import openai, pydantic"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_sdk && unavailable(&format!("{} cannot import openai", python.display())) {
        return;
    }
    drive(
        python,
        &Path::new(REPO).join("tests/clients/openai_python.py"),
    )
    .await;
}

#[tokio::test]
async fn clients_openai_node_sdk_streams_the_tool_loop() {
    let modules = Path::new(REPO).join("tests/browser/node_modules/openai");
    let has_node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if (!has_node || !modules.exists())
        && unavailable(
            "node or tests/browser/node_modules/openai (npm ci in tests/browser) is missing",
        )
    {
        return;
    }
    drive(
        PathBuf::from("node"),
        &Path::new(REPO).join("tests/browser/clients/openai_node.mjs"),
    )
    .await;
}
