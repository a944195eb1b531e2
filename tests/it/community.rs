//! The community library through `/api/community`, as an author, another user, a trusted
//! user, a moderator and the admin: the life cycle of a submission, visibility of pending
//! items to everyone else, ratings, sanitised comments, flags, forks, usage and limits.

use promptyard::domain::UserId;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::TestApp;

struct People {
    app: TestApp,
    admin: reqwest::Client,
    author: reqwest::Client,
    other: reqwest::Client,
    moderator: reqwest::Client,
    trusted: reqwest::Client,
    ids: std::collections::HashMap<&'static str, UserId>,
}

const PASSWORD: &str = "a long enough password";

async fn people() -> People {
    let app = TestApp::spawn_with(|c| {
        c.community.flag_threshold = 2;
        c.community.submissions_per_day = 3;
        // Fifty voters log in from one address.
        c.auth.login_attempts_per_ip = 1000;
    })
    .await;
    let admin = app.setup_admin().await;
    let mut ids = std::collections::HashMap::new();
    let mut clients = Vec::new();
    for who in ["author", "other", "moderator", "trusted"] {
        let email = format!("{who}@example.com");
        app.create_user(&admin, &email, PASSWORD).await;
        let u = app.store.find_user_by_email(&email).await.unwrap().unwrap();
        ids.insert(who, u.id);
        clients.push(app.login(&email, PASSWORD).await);
    }
    let mut c = clients.into_iter();
    let p = People {
        author: c.next().unwrap(),
        other: c.next().unwrap(),
        moderator: c.next().unwrap(),
        trusted: c.next().unwrap(),
        app,
        admin,
        ids,
    };
    for (who, moderator, trusted) in [("moderator", true, false), ("trusted", false, true)] {
        let (status, body) = p
            .call(
                &p.admin,
                "PUT",
                &format!("/api/community/authors/{}/standing", p.ids[who]),
                json!({"moderator": moderator, "trusted": trusted}),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    p
}

impl People {
    async fn call(
        &self,
        c: &reqwest::Client,
        method: &str,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let url = self.app.url(path);
        let req = match method {
            "GET" => c.get(url),
            "POST" => c.post(url).json(&body),
            "PUT" => c.put(url).json(&body),
            "PATCH" => c.patch(url).json(&body),
            "DELETE" => c.delete(url),
            _ => unreachable!(),
        };
        let res = req.send().await.unwrap();
        let status = res.status();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// The user's personal workspace id, as the workspace list gives it.
    async fn personal_workspace(&self, c: &reqwest::Client) -> String {
        let (_, list) = self.call(c, "GET", "/api/workspaces", Value::Null).await;
        list[0]["id"].as_str().unwrap().to_owned()
    }

    async fn titles(&self, c: &reqwest::Client, query: &str) -> Vec<String> {
        let (status, body) = self
            .call(
                c,
                "GET",
                &format!("/api/community/prompts{query}"),
                Value::Null,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["title"].as_str().unwrap().to_owned())
            .collect()
    }
}

fn submission(title: &str) -> Value {
    json!({
        "title": title,
        "description": "Explains a SQL query step by step.",
        "tags": ["SQL", "learning"],
        "prompt": "Explain this query: {{query}}",
        "variables": [{"name": "query", "type": "text", "required": true}],
        "models": ["gpt-4o-mini"],
        "examples": [{"model": "gpt-4o-mini", "output": "It **selects** rows."}]
    })
}

#[tokio::test]
async fn community_life_cycle_as_author_other_trusted_and_moderator() {
    let p = people().await;

    // Bad input names the field; nothing is stored.
    let (status, body) = p
        .call(
            &p.author,
            "POST",
            "/api/community/prompts",
            json!({"title": "x", "prompt": "  "}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "user_prompt_template");

    // The author submits: pending, visible to the author and moderators only.
    let (status, created) = p
        .call(
            &p.author,
            "POST",
            "/api/community/prompts",
            submission("Explain SQL"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["status"], "pending");
    assert_eq!(created["tags"], json!(["sql", "learning"]));
    let id = created["id"].as_str().unwrap().to_owned();
    let path = format!("/api/community/prompts/{id}");
    assert_eq!(p.titles(&p.author, "").await, vec!["Explain SQL"]);
    assert!(p.titles(&p.other, "").await.is_empty());
    assert!(
        p.titles(&p.other, "?status=pending").await.is_empty(),
        "asking for pending shows none"
    );
    for (method, sub, body) in [
        ("GET", "", Value::Null),
        ("GET", "/comments", Value::Null),
        ("POST", "/comments", json!({"body": "hi"})),
        ("PUT", "/rating", json!({"stars": 5})),
        ("POST", "/flags", json!({"reason": "spam"})),
        ("POST", "/moderation", json!({"action": "approve"})),
        ("POST", "/uses", Value::Null),
    ] {
        let (status, body) = p
            .call(&p.other, method, &format!("{path}{sub}"), body)
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{method} {sub}: {body}");
    }
    let (_, author_view) = p.call(&p.author, "GET", &path, Value::Null).await;
    assert_eq!(author_view["history"][0]["action"], "submitted");
    assert!(
        author_view.get("flags").is_none(),
        "flags are for moderators"
    );
    // An author cannot moderate their own submission.
    let (status, _) = p
        .call(
            &p.author,
            "POST",
            &format!("{path}/moderation"),
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The moderator's queue; a rejection needs a reason, which the author then sees.
    assert_eq!(
        p.titles(&p.moderator, "?status=pending,flagged").await,
        vec!["Explain SQL"]
    );
    let (status, body) = p
        .call(
            &p.moderator,
            "POST",
            &format!("{path}/moderation"),
            json!({"action": "reject"}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["field"], "reason");
    let (status, body) = p
        .call(
            &p.moderator,
            "POST",
            &format!("{path}/moderation"),
            json!({"action": "reject", "reason": "Add an example input"}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (StatusCode::OK, Some("rejected"))
    );
    let (_, author_view) = p.call(&p.author, "GET", &path, Value::Null).await;
    assert_eq!(
        author_view["prompt"]["status_reason"],
        "Add an example input"
    );
    assert!(p.titles(&p.other, "").await.is_empty());
    let (status, body) = p
        .call(
            &p.moderator,
            "POST",
            &format!("{path}/moderation"),
            json!({"action": "hide", "reason": "x"}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a rejected prompt cannot be hidden: {body}"
    );
    let (status, _) = p
        .call(
            &p.moderator,
            "POST",
            &format!("{path}/moderation"),
            json!({"action": "approve"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(p.titles(&p.other, "?tag=sql").await, vec!["Explain SQL"]);
    assert!(p.titles(&p.other, "?tag=rust").await.is_empty());
    assert_eq!(
        p.titles(&p.other, "?model=gpt-4o-mini").await,
        vec!["Explain SQL"]
    );

    // Ratings: not one's own; one per user, changeable.
    let (status, body) = p
        .call(
            &p.author,
            "PUT",
            &format!("{path}/rating"),
            json!({"stars": 5}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("own"));
    let (status, body) = p
        .call(
            &p.other,
            "PUT",
            &format!("{path}/rating"),
            json!({"stars": 6}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("stars"))
    );
    let (_, body) = p
        .call(
            &p.other,
            "PUT",
            &format!("{path}/rating"),
            json!({"stars": 4}),
        )
        .await;
    assert_eq!(body, json!({"average": 4.0, "count": 1}));
    let (_, body) = p
        .call(
            &p.other,
            "PUT",
            &format!("{path}/rating"),
            json!({"stars": 2}),
        )
        .await;
    assert_eq!(body, json!({"average": 2.0, "count": 1}));
    let (_, body) = p
        .call(
            &p.trusted,
            "PUT",
            &format!("{path}/rating"),
            json!({"stars": 5}),
        )
        .await;
    assert_eq!(body, json!({"average": 3.5, "count": 2}));
    let (_, view) = p.call(&p.other, "GET", &path, Value::Null).await;
    assert_eq!(view["my_rating"], 2);
    assert!(
        view.get("history").is_none(),
        "history is for the author and moderators"
    );
    assert_eq!(
        view["prompt"]["examples"][0]["output_html"],
        "<p>It <strong>selects</strong> rows.</p>\n"
    );

    // Comments: Markdown, sanitised; edited by the author only; deleted by a moderator.
    let (status, c) = p
        .call(
            &p.other,
            "POST",
            &format!("{path}/comments"),
            json!({"body": "Nice <script>alert(1)</script> [x](javascript:alert(2)) **bold**"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{c}");
    let html = c["body_html"].as_str().unwrap();
    assert!(
        html.contains("<strong>bold</strong>")
            && !html.contains("<script")
            && !html.contains("javascript:"),
        "{html}"
    );
    let comment = format!("/api/community/comments/{}", c["id"].as_str().unwrap());
    let (status, _) = p
        .call(&p.author, "PATCH", &comment, json!({"body": "hijack"}))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, edited) = p
        .call(&p.other, "PATCH", &comment, json!({"body": "Edited"}))
        .await;
    assert_eq!(
        (status, edited["body"].as_str()),
        (StatusCode::OK, Some("Edited"))
    );
    assert!(edited["edited_at"].is_string());
    let (status, _) = p.call(&p.author, "DELETE", &comment, Value::Null).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = p.call(&p.moderator, "DELETE", &comment, Value::Null).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = p
        .call(&p.other, "GET", &format!("{path}/comments"), Value::Null)
        .await;
    assert_eq!(list, json!([]));

    // Forks and runs count once per user per day; the author's own use does not count.
    let ws = p.personal_workspace(&p.other).await;
    let (status, forked) = p
        .call(
            &p.other,
            "POST",
            &format!("{path}/fork"),
            json!({"workspace_id": ws}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{forked}");
    let t = p
        .app
        .store
        .get_template(forked["template_id"].as_str().unwrap().parse().unwrap())
        .await
        .unwrap();
    assert_eq!(t.workspace_id.map(|w| w.to_string()), Some(ws.clone()));
    let v = p.app.store.get_version(t.id, 1).await.unwrap();
    assert!(
        v.message.contains(&id),
        "the first version names its source: {}",
        v.message
    );
    assert_eq!(
        v.content.user_prompt_template,
        "Explain this query: {{query}}"
    );
    let (_, again) = p
        .call(&p.other, "POST", &format!("{path}/uses"), Value::Null)
        .await;
    assert_eq!(again["counted"], false);
    let (_, own) = p
        .call(&p.author, "POST", &format!("{path}/uses"), Value::Null)
        .await;
    assert_eq!(own["counted"], false);
    let (_, counted) = p
        .call(&p.trusted, "POST", &format!("{path}/uses"), Value::Null)
        .await;
    assert_eq!(counted["counted"], true);
    let (_, view) = p.call(&p.other, "GET", &path, Value::Null).await;
    assert_eq!(view["prompt"]["usage_count"], 2);
    // Forking into a workspace one cannot edit is refused.
    let author_ws = p.personal_workspace(&p.author).await;
    let (status, _) = p
        .call(
            &p.other,
            "POST",
            &format!("{path}/fork"),
            json!({"workspace_id": author_ws}),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A trusted user's submission is public at once.
    let (_, t) = p
        .call(
            &p.trusted,
            "POST",
            "/api/community/prompts",
            submission("Trusted tip"),
        )
        .await;
    assert_eq!(t["status"], "approved");
    assert_eq!(
        p.titles(&p.other, "?sort=new").await,
        vec!["Trusted tip", "Explain SQL"]
    );
    assert_eq!(
        p.titles(&p.other, "?sort=used").await,
        vec!["Explain SQL", "Trusted tip"]
    );

    // Flags: one per user; at the threshold (2) the prompt leaves every list but the queue.
    let (_, f) = p
        .call(
            &p.other,
            "POST",
            &format!("{path}/flags"),
            json!({"reason": "Off topic"}),
        )
        .await;
    assert_eq!(f, json!({"counted": true, "visible": true}));
    let (_, f) = p
        .call(
            &p.other,
            "POST",
            &format!("{path}/flags"),
            json!({"reason": "Again"}),
        )
        .await;
    assert_eq!(f, json!({"counted": false, "visible": true}));
    let (status, _) = p
        .call(
            &p.author,
            "POST",
            &format!("{path}/flags"),
            json!({"reason": "mine"}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, f) = p
        .call(
            &p.trusted,
            "POST",
            &format!("{path}/flags"),
            json!({"reason": "Spam"}),
        )
        .await;
    assert_eq!(f, json!({"counted": true, "visible": false}));
    assert_eq!(p.titles(&p.other, "").await, vec!["Trusted tip"]);
    let (status, _) = p.call(&p.other, "GET", &path, Value::Null).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(
        p.titles(&p.moderator, "?status=pending,flagged").await,
        vec!["Explain SQL"]
    );
    let (_, mod_view) = p.call(&p.moderator, "GET", &path, Value::Null).await;
    assert_eq!(mod_view["prompt"]["status"], "flagged");
    assert_eq!(mod_view["flags"].as_array().unwrap().len(), 2);
    let actions: Vec<&str> = mod_view["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["submitted", "rejected", "approved", "flagged"]
    );

    // Reputation on the public author page: +10 approval, -5 rejection, +2 fork, ratings
    // 2 (-1) and 5 (+2).
    let (_, page) = p
        .call(
            &p.other,
            "GET",
            &format!("/api/community/authors/{}", p.ids["author"]),
            Value::Null,
        )
        .await;
    assert_eq!(page["reputation"], 10 - 5 + 2 - 1 + 2);
    assert_eq!(
        page["prompts"],
        json!([]),
        "a flagged prompt is off the public page"
    );
    let (_, page) = p
        .call(
            &p.other,
            "GET",
            &format!("/api/community/authors/{}", p.ids["trusted"]),
            Value::Null,
        )
        .await;
    assert_eq!(page["trusted"], true);
    assert_eq!(page["prompts"][0]["title"], "Trusted tip");

    // Only admins set standing.
    let (status, _) = p
        .call(
            &p.moderator,
            "PUT",
            &format!("/api/community/authors/{}/standing", p.ids["other"]),
            json!({"moderator": true, "trusted": true}),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // The daily limit (3): the author has one; two more, then a clear refusal.
    for i in 0..2 {
        let (status, _) = p
            .call(
                &p.author,
                "POST",
                "/api/community/prompts",
                submission(&format!("More {i}")),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, body) = p
        .call(
            &p.author,
            "POST",
            "/api/community/prompts",
            submission("One too many"),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("24 hours"),
        "{body}"
    );

    // Every decision and role change is in the audit log.
    let events: Vec<String> = p
        .app
        .store
        .list_audit_events(&Default::default(), None, 200)
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "community.submitted",
        "community.auto_approved",
        "community.rejected",
        "community.approved",
        "community.standing",
        "community.comment_delete",
        "community.flagged",
    ] {
        assert!(events.iter().any(|e| e == a), "{a} missing from {events:?}");
    }
}

#[tokio::test]
async fn community_ratings_stay_exact_under_50_concurrent_votes() {
    let p = people().await;
    let (_, t) = p
        .call(
            &p.trusted,
            "POST",
            "/api/community/prompts",
            submission("Popular"),
        )
        .await;
    let path = format!(
        "/api/community/prompts/{}/rating",
        t["id"].as_str().unwrap()
    );
    let mut voters = Vec::new();
    for i in 0..50 {
        let email = format!("voter{i}@example.com");
        p.app.create_user(&p.admin, &email, PASSWORD).await;
        voters.push(p.app.login(&email, PASSWORD).await);
    }
    let votes = voters.iter().enumerate().map(|(i, c)| {
        let stars = (i % 5 + 1) as u8;
        let url = p.app.url(&path);
        async move {
            c.put(url)
                .json(&json!({"stars": stars}))
                .send()
                .await
                .unwrap()
                .status()
        }
    });
    let statuses = futures::future::join_all(votes).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    let (_, view) = p
        .call(
            &p.other,
            "GET",
            &format!("/api/community/prompts/{}", t["id"].as_str().unwrap()),
            Value::Null,
        )
        .await;
    assert_eq!(
        view["prompt"]["rating"],
        json!({"average": 3.0, "count": 50})
    );
}

#[tokio::test]
async fn community_share_from_a_template_and_from_a_run_through_the_pages() {
    use promptyard::domain::{
        NewAuditEvent, NewTemplate, ProviderKind, Run, RunId, RunState, TemplateContent,
        WorkspaceId,
    };
    let p = people().await;
    let ws: WorkspaceId = p.personal_workspace(&p.author).await.parse().unwrap();
    let content = TemplateContent {
        name: "Release notes".into(),
        description: "Summarises a changelog.".into(),
        tags: vec!["writing".into()],
        user_prompt_template: "Summarise {{notes}}".into(),
        variables: serde_json::from_value(json!([{"name": "notes", "type": "text"}])).unwrap(),
        ..TemplateContent::default()
    };
    let (t, _) = p
        .app
        .store
        .create_template(
            NewTemplate {
                workspace_id: Some(ws),
                content: content.validated().unwrap(),
                message: String::new(),
                author: Some(p.ids["author"]),
            },
            NewAuditEvent::new(None, "template.create"),
        )
        .await
        .unwrap();

    // From a template: the form comes prefilled; its variables travel with it.
    let page = p
        .app
        .get(&p.author, &format!("/community/new?template={}", t.id))
        .await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("value=\"Release notes\"") && html.contains("Summarise {{notes}}"));
    let res = p
        .app
        .post_form(
            &p.author,
            "/community",
            &[
                ("title", "Release notes"),
                ("prompt", "Summarise {{notes}}"),
                ("tags", "writing"),
                ("template", &t.id.to_string()),
                ("version", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = crate::helpers::location(&res)
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let shared = p
        .app
        .store
        .get_community_prompt(id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(shared.source_template, Some((t.id, 1)));
    assert_eq!(shared.content.variables.len(), 1);
    // Someone outside the workspace cannot share (or read) it.
    let page = p
        .app
        .get(&p.other, &format!("/community/new?template={}", t.id))
        .await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);

    // From a run: its prompt and output become the submission and its example.
    let run = Run {
        id: RunId::new(),
        workspace_id: ws,
        user_id: p.ids["author"],
        api_key_id: None,
        template_id: None,
        template_version: None,
        connection_id: None,
        provider: Some(ProviderKind::OpenaiCompatible),
        model: "llama3.1:8b".into(),
        requested_model: None,
        params: None,
        detail: None,
        cached: false,
        input_tokens: 5,
        output_tokens: 7,
        cost_usd: None,
        latency_ms: 900,
        ttft_ms: Some(100),
        state: RunState::Completed,
        error: None,
        prompt: json!([{"role": "system", "content": "Be terse."}, {"role": "user", "content": "Name three primes."}]).to_string(),
        output: "2, 3 and **5**.".into(),
        context_manifest: None,
        created_at: p.app.clock.now(),
    };
    p.app
        .store
        .create_runs(vec![run.clone()], Vec::new())
        .await
        .unwrap();
    let page = p
        .app
        .get(&p.author, &format!("/w/{ws}/runs/{}", run.id))
        .await;
    assert!(
        page.text()
            .await
            .unwrap()
            .contains(&format!("/community/new?run={}", run.id))
    );
    let html = p
        .app
        .get(&p.author, &format!("/community/new?run={}", run.id))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Name three primes.")
            && html.contains("Be terse.")
            && html.contains("2, 3 and **5**.")
    );
    let res = p
        .app
        .post_form(
            &p.author,
            "/community",
            &[
                ("title", "Primes"),
                ("system_prompt", "Be terse."),
                ("prompt", "Name three primes."),
                ("example_model", "llama3.1:8b"),
                ("example_output", "2, 3 and **5**."),
                ("run", &run.id.to_string()),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let id = crate::helpers::location(&res)
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let shared = p
        .app
        .store
        .get_community_prompt(id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(shared.source_run, Some(run.id));
    assert_eq!(shared.examples[0].output, "2, 3 and **5**.");
    let page = p
        .app
        .get(&p.other, &format!("/community/new?run={}", run.id))
        .await;
    assert_eq!(
        page.status(),
        StatusCode::NOT_FOUND,
        "another workspace's run stays private"
    );
    // The page escapes what it shows, and a bad form names the field.
    let res = p
        .app
        .post_form(
            &p.author,
            "/community",
            &[("title", "<b>x</b>"), ("prompt", "")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("&lt;b&gt;x&lt;/b&gt;") && html.contains("nter the prompt text"));
}

#[tokio::test]
async fn community_running_a_prompt_in_the_playground_renders_it_and_counts_once_a_day() {
    use crate::fake_llm::{FakeLlm, Script};
    let fake = FakeLlm::with(Script::reply("Three primes: 2, 3, 5.", 1)).await;
    let port = fake.port;
    let app = TestApp::spawn_with(move |c| {
        c.outbound.allow_cidrs = vec!["127.0.0.1".into()];
        c.outbound.allow_ports = vec![port];
    })
    .await;
    let admin = app.setup_admin().await;
    let res = app
        .post_form(
            &admin,
            "/admin/providers",
            &[
                ("name", "local"),
                ("kind", "openai-compatible"),
                ("base_url", &format!("{}/v1", fake.base)),
                ("models", "llama3.1:8b"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let admin_id = app
        .store
        .find_user_by_email(crate::helpers::ADMIN_EMAIL)
        .await
        .unwrap()
        .unwrap()
        .id;
    let put = admin
        .put(app.url(&format!("/api/community/authors/{admin_id}/standing")))
        .json(&json!({"moderator": true, "trusted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::OK);
    let created: Value = admin
        .post(app.url("/api/community/prompts"))
        .json(&json!({"title": "Primes", "prompt": "Name {{n}} primes.", "variables": [{"name": "n", "type": "text", "required": true}]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(created["status"], "approved");
    let id = created["id"].as_str().unwrap().to_owned();

    app.create_user(&admin, "runner@example.com", PASSWORD)
        .await;
    let runner = app.login("runner@example.com", PASSWORD).await;
    let list: Value = runner
        .get(app.url("/api/workspaces"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ws = list[0]["id"].as_str().unwrap().to_owned();
    let page = app
        .get(&runner, &format!("/w/{ws}/playground?community={id}"))
        .await;
    let html = page.text().await.unwrap();
    assert!(
        html.contains("Name {{n}} primes.")
            && html.contains(&format!("name=\"community_id\" value=\"{id}\""))
    );
    for _ in 0..2 {
        let res = runner
            .post(app.url(&format!("/w/{ws}/playground/run")))
            .json(&json!({"model": "llama3.1:8b", "community_id": id, "variables": {"n": "three"}}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
        assert!(res.text().await.unwrap().contains("completed"));
    }
    let sent = fake.last_request().body;
    assert_eq!(sent["messages"][0]["content"], "Name three primes.");
    let p = app
        .store
        .get_community_prompt(id.parse().unwrap())
        .await
        .unwrap();
    assert_eq!(
        p.usage_count, 1,
        "two runs by one user on one day count once"
    );
    // A missing required variable is named.
    let res = runner
        .post(app.url(&format!("/w/{ws}/playground/run")))
        .json(&json!({"model": "llama3.1:8b", "community_id": id}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
}
