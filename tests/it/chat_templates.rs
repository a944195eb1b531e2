//! Chat templates: a version with a message list (few-shot turns, a conversation placeholder,
//! variables in any message), tools and a response schema, saved and read through the JSON
//! API, checked on save, diffed, exported, shown on the template page, and run through `/v1`
//! with a caller's messages inserted at the placeholder.

use reqwest::Method;
use serde_json::{Value, json};

use crate::chat_surface::{OPENAI, setup};
use crate::fake_llm::Script;
use crate::v1::V1;

async fn send(t: &V1, method: Method, path: &str, body: Value) -> (u16, Value) {
    let mut req = t.admin.request(method, t.app.url(path));
    if !body.is_null() {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

fn schema() -> Value {
    json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
}

fn chat_template() -> Value {
    json!({
        "name": "Weather agent",
        "variables": [{"name": "city", "type": "string", "required": true},
            {"name": "days", "type": "number", "default": 3}],
        "messages": [
            {"role": "system", "content": "You forecast {{days}} days."},
            {"role": "user", "content": "Weather in Lyon?"},
            {"role": "assistant", "content": "{\"city\": \"Lyon\"}"},
            {"role": "user", "content": "Weather in {{city}}?"},
            {"role": "placeholder", "content": "conversation"},
        ],
        "tools": [{"name": "get_weather", "description": "Current weather",
            "parameters": schema()}],
        "response_schema": {"name": "weather", "schema": schema(), "strict": true},
        "params": {"top_p": 0.5, "seed": 7},
        "model": {"model": OPENAI, "temperature": 0.1},
        "message": "first",
    })
}

#[tokio::test]
async fn chat_templates_save_show_diff_export_and_run() {
    let t = setup(Script::reply("{\"city\": \"Paris\"}", 2)).await;
    let (status, created) = send(
        &t,
        Method::POST,
        &format!("/api/workspaces/{}/templates", t.ws),
        chat_template(),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let id = created["template"]["id"].as_str().unwrap().to_owned();
    let content = &created["version"];
    assert_eq!(content["messages"][4]["role"], "placeholder", "{created}");
    assert_eq!(content["tools"][0]["parameters"], schema());
    assert_eq!(content["response_schema"]["strict"], true);

    // Rendering fills variables in every message; a number renders as typed.
    let (status, rendered) = send(
        &t,
        Method::POST,
        &format!("/api/templates/{id}/render"),
        json!({"variables": {"city": "Paris"}}),
    )
    .await;
    assert_eq!(status, 200, "{rendered}");
    assert_eq!(rendered["messages"][0]["content"], "You forecast 3 days.");
    assert_eq!(rendered["messages"][3]["content"], "Weather in Paris?");

    // Bad tool schemas and mixing both forms are refused, naming the field; nothing is saved.
    let mut bad = chat_template();
    bad["tools"][0]["parameters"] = json!({"type": "objekt"});
    bad["base_version"] = json!(1);
    let (status, err) = send(
        &t,
        Method::POST,
        &format!("/api/templates/{id}/versions"),
        bad,
    )
    .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "tools[0].parameters", "{err}");
    let mut both = chat_template();
    both["user_prompt_template"] = json!("hi");
    both["base_version"] = json!(1);
    let (status, err) = send(
        &t,
        Method::POST,
        &format!("/api/templates/{id}/versions"),
        both,
    )
    .await;
    assert_eq!(status, 422, "{err}");
    assert_eq!(err["error"]["field"], "messages", "{err}");

    // A second version changes a tool's schema; the diff shows it.
    let mut v2 = chat_template();
    v2["tools"][0]["parameters"]["properties"]["unit"] = json!({"type": "string"});
    v2["base_version"] = json!(1);
    let (status, saved) = send(
        &t,
        Method::POST,
        &format!("/api/templates/{id}/versions"),
        v2,
    )
    .await;
    assert_eq!(status, 201, "{saved}");
    let (status, diff) = send(
        &t,
        Method::GET,
        &format!("/api/templates/{id}/diff?from=1&to=2"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{diff}");
    assert!(diff.to_string().contains("unit"), "{diff}");
    assert!(diff.to_string().contains("Tool get_weather"), "{diff}");

    // Export carries it all.
    let export = t
        .admin
        .get(t.app.url(&format!("/api/templates/{id}/export")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        export.contains("\"placeholder\"") && export.contains("get_weather"),
        "{export}"
    );
    assert!(export.contains("response_schema"));

    // Importing the export brings a template with the same messages, tools and schema.
    let doc: Value = serde_json::from_str(&export).unwrap();
    let (status, imported) = send(
        &t,
        Method::POST,
        &format!("/api/workspaces/{}/import", t.ws),
        doc,
    )
    .await;
    assert_eq!(status, 201, "{imported}");
    let copy = imported["imported"][0].as_str().unwrap();
    let (status, latest) = send(
        &t,
        Method::GET,
        &format!("/api/templates/{copy}"),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{latest}");
    let latest_version = latest["latest_version"].as_u64().unwrap_or(1);
    let (_, version) = send(
        &t,
        Method::GET,
        &format!("/api/templates/{copy}/versions/{latest_version}"),
        Value::Null,
    )
    .await;
    assert_eq!(version["messages"][4]["role"], "placeholder", "{version}");
    assert_eq!(version["tools"][0]["name"], "get_weather");
    assert_eq!(version["response_schema"]["name"], "weather");

    // The template page shows messages, tools and schema.
    let page = t
        .app
        .get(&t.admin, &format!("/templates/{id}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("id=\"template-messages\""), "messages listed");
    assert!(page.contains("get_weather") && page.contains("id=\"template-schema\""));
    assert!(
        page.contains("the caller&#39;s conversation goes here")
            || page.contains("the caller's conversation goes here")
    );

    // Shared to the community, it keeps its messages, tools and schema.
    let res = t
        .app
        .post_form(
            &t.admin,
            "/community",
            &[
                ("title", "Weather agent"),
                ("description", "Forecasts"),
                ("tags", "weather"),
                ("prompt", ""),
                ("models", OPENAI),
                ("template", &id),
                ("version", "2"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let shared = crate::helpers::location(&res);
    let page = t.app.get(&t.admin, &shared).await.text().await.unwrap();
    assert!(
        page.contains("id=\"template-messages\"") && page.contains("get_weather"),
        "{page}"
    );

    // Run by label through /v1: the caller's messages go at the placeholder, tools, schema
    // and parameters go upstream.
    let key = t.key("").await;
    let (status, out) = {
        let res = t
            .post(
                &key,
                &format!("/v1/templates/{id}/run"),
                json!({"variables": {"city": "Paris"},
                    "messages": [{"role": "user", "content": "And tomorrow?"}]}),
            )
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.json::<Value>().await.unwrap())
    };
    assert_eq!(status, 200, "{out}");
    assert_eq!(
        out["choices"][0]["message"]["content"],
        "{\"city\": \"Paris\"}"
    );
    let sent = t.fake.last_request().body;
    assert_eq!(
        sent["messages"],
        json!([
            {"role": "system", "content": "You forecast 3 days."},
            {"role": "user", "content": "Weather in Lyon?"},
            {"role": "assistant", "content": "{\"city\": \"Lyon\"}"},
            {"role": "user", "content": "Weather in Paris?"},
            {"role": "user", "content": "And tomorrow?"},
        ])
    );
    assert_eq!(sent["tools"][0]["function"]["name"], "get_weather");
    assert_eq!(
        sent["response_format"],
        json!({"type": "json_schema", "json_schema": {"name": "weather",
            "schema": schema(), "strict": true}})
    );
    assert_eq!(sent["top_p"], 0.5);
    assert_eq!(sent["seed"], 7);
    assert_eq!(sent["temperature"], 0.1);
}

#[tokio::test]
async fn chat_home_page_shows_the_getting_started_path_ticked_as_done() {
    let t = setup(Script::reply("ok", 1)).await;
    let home = t.app.get(&t.admin, "/").await.text().await.unwrap();
    let list = &home[home
        .find("id=\"getting-started\"")
        .expect("the path is shown")..];
    // The setup already added connections; no template, run or colleague yet.
    let done = |step: &str| {
        let at = list.find(step).unwrap();
        let li = &list[list[..at].rfind("<li").unwrap()..at];
        li.contains("class=\"done\"")
    };
    assert!(done("Add a model connection"));
    assert!(!done("Create a template"));
    assert!(!done("Run it in the playground"));
    assert!(!done("Invite someone"));
    let (status, _) = send(
        &t,
        Method::POST,
        &format!("/api/workspaces/{}/templates", t.ws),
        json!({"name": "T", "user_prompt_template": "Hi", "message": "first"}),
    )
    .await;
    assert_eq!(status, 201);
    let home = t.app.get(&t.admin, "/").await.text().await.unwrap();
    let list = &home[home.find("id=\"getting-started\"").unwrap()..];
    let at = list.find("Create a template").unwrap();
    assert!(list[list[..at].rfind("<li").unwrap()..at].contains("class=\"done\""));
}
