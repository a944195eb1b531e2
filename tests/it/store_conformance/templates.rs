//! Conformance cases for templates: versions and stale saves, labels, moving, deleting,
//! importing, system templates and seeding, and what they write to the change and audit logs.

use std::collections::BTreeMap;

use promptyard::domain::template_chat::{
    ChatParts, MessageRole, ModelParams, ResponseSchema, TemplateMessage, TemplateTool,
};
use promptyard::domain::variables::{VarKind, VariableDef};
use promptyard::domain::{
    ChangeKind, ModelDefaults, NewTemplate, Role, SaveOutcome, Template, TemplateContent,
    TemplateId, TemplateVersion, WorkspaceId,
};
use serde_json::json;

use super::workspaces::{join, shared, user, ws_name};
use super::*;

fn content(name: &str) -> TemplateContent {
    TemplateContent {
        name: name.into(),
        description: format!("About {name}"),
        tags: vec![name.to_lowercase(), "prompt".into()],
        system_prompt: "You are careful.\nAnswer briefly.".into(),
        user_prompt_template: format!("{name}: {{{{topic}}}}"),
        variables: vec![],
        model: ModelDefaults::default(),
        chat: ChatParts::default(),
    }
}

/// Content that uses every field: variables of each kind and every model default.
fn rich(name: &str) -> TemplateContent {
    let var = |name: &str, kind: VarKind| VariableDef {
        name: name.into(),
        kind,
        default: None,
        required: false,
        description: String::new(),
    };
    TemplateContent {
        variables: vec![
            VariableDef {
                default: Some(json!("rust")),
                required: true,
                description: "What to write about".into(),
                ..var("topic", VarKind::String)
            },
            VariableDef {
                default: Some(json!("Line one\nline \"two\" ünïcode")),
                ..var("notes", VarKind::Text)
            },
            VariableDef {
                default: Some(json!(0.25)),
                ..var("ratio", VarKind::Number)
            },
            VariableDef {
                default: Some(json!(3)),
                ..var("count", VarKind::Number)
            },
            VariableDef {
                default: Some(json!(true)),
                ..var("draft", VarKind::Boolean)
            },
            VariableDef {
                default: Some(json!("casual")),
                ..var(
                    "tone",
                    VarKind::Enum {
                        choices: vec!["formal".into(), "casual".into()],
                    },
                )
            },
        ],
        model: ModelDefaults {
            model: Some("gpt-4o-mini".into()),
            temperature: Some(0.7),
            max_tokens: Some(512),
        },
        chat: ChatParts {
            messages: vec![
                TemplateMessage {
                    role: MessageRole::System,
                    content: "Be brief about {{topic}}.".into(),
                },
                TemplateMessage {
                    role: MessageRole::Assistant,
                    content: "Few-shot: ünïcode \"answer\"".into(),
                },
                TemplateMessage {
                    role: MessageRole::Placeholder,
                    content: "conversation".into(),
                },
            ],
            tools: vec![TemplateTool {
                name: "lookup".into(),
                description: "Looks a thing up".into(),
                parameters: json!({"type": "object", "properties": {"q": {"type": "string"}}}),
                strict: Some(true),
            }],
            response_schema: Some(ResponseSchema {
                name: "answer".into(),
                schema: json!({"type": "object", "required": ["a"]}),
                strict: true,
            }),
            params: ModelParams {
                top_p: Some(0.5),
                seed: Some(42),
                stop: vec!["END".into()],
                reasoning_effort: Some("low".into()),
                ..ModelParams::default()
            },
        },
        system_prompt: String::new(),
        user_prompt_template: String::new(),
        ..content(name)
    }
}

fn new_template(workspace: Option<WorkspaceId>, c: TemplateContent, by: UserId) -> NewTemplate {
    NewTemplate {
        workspace_id: workspace,
        content: c,
        message: "first".into(),
        author: Some(by),
    }
}

async fn create(
    store: &Arc<dyn Store>,
    ws: Option<WorkspaceId>,
    c: TemplateContent,
    by: UserId,
) -> Template {
    let (t, _) = store
        .create_template(new_template(ws, c, by), audit("template.create"))
        .await
        .unwrap();
    t
}

async fn save(
    store: &Arc<dyn Store>,
    id: TemplateId,
    base: u32,
    c: TemplateContent,
) -> SaveOutcome {
    store
        .save_version(id, base, c, format!("from v{base}"), None)
        .await
        .unwrap()
}

fn saved(outcome: SaveOutcome) -> TemplateVersion {
    match outcome {
        SaveOutcome::Saved(v) => v,
        SaveOutcome::Stale(v) => panic!("stale, latest is v{}", v.version),
    }
}

fn labels(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
    pairs.iter().map(|(l, v)| ((*l).to_owned(), *v)).collect()
}

fn invalid_field(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Err(Error::Invalid { field: Some(f), .. }) => f,
        other => panic!("expected an input error, got {other:?}"),
    }
}

pub(super) async fn versions(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let ws = shared(&store, "Team", ann.id).await;
    let (t, v1) = store
        .create_template(
            new_template(Some(ws.id), rich("Review"), ann.id),
            audit("template.create"),
        )
        .await
        .unwrap();
    assert_eq!(t.workspace_id, Some(ws.id));
    assert_eq!(
        (t.name.as_str(), t.description.as_str()),
        ("Review", "About Review")
    );
    assert_eq!(t.tags, ["review".to_owned(), "prompt".to_owned()]);
    assert_eq!(t.latest_version, 1);
    assert!(t.labels.is_empty());
    assert_eq!(t.created_by, Some(ann.id));
    assert_eq!(t.created_at, t.updated_at);
    assert_eq!(v1.template_id, t.id);
    assert_eq!(v1.version, 1);
    assert_eq!(v1.content, rich("Review"));
    assert_eq!(v1.message, "first");
    assert_eq!(v1.author, Some(ann.id));
    assert_eq!(v1.created_at, t.created_at);
    assert_eq!(store.get_template(t.id).await.unwrap(), t);
    assert_eq!(store.get_version(t.id, 1).await.unwrap(), v1);
    let event = &all_audit(&*store).await[0];
    assert_eq!(event.action, "template.create");
    assert_eq!(event.target, Some(format!("template:{}", t.id)));
    assert!(matches!(
        store
            .create_template(
                new_template(Some(WorkspaceId::new()), content("Lost"), ann.id),
                audit("template.create")
            )
            .await,
        Err(Error::NotFound)
    ));

    // A save from the latest version makes the next one and updates the template.
    let v2 = saved(save(&store, t.id, 1, content("Code Review")).await);
    assert_eq!(v2.version, 2);
    assert_eq!(v2.content, content("Code Review"));
    assert_eq!(v2.message, "from v1");
    assert_eq!(v2.author, None);
    let after = store.get_template(t.id).await.unwrap();
    assert_eq!(after.name, "Code Review");
    assert_eq!(after.tags, ["code review".to_owned(), "prompt".to_owned()]);
    assert_eq!(after.latest_version, 2);
    assert_eq!(after.created_at, t.created_at);
    assert_eq!(after.updated_at, v2.created_at);

    // A save from an older version is stale: nothing is written, the latest comes back.
    let changes = store.list_changes(0, 1000).await.unwrap().len();
    match save(&store, t.id, 1, content("Lost edit")).await {
        SaveOutcome::Stale(latest) => assert_eq!(latest, v2),
        SaveOutcome::Saved(v) => panic!("saved a stale edit as v{}", v.version),
    }
    assert_eq!(store.get_template(t.id).await.unwrap(), after);
    assert_eq!(
        store.list_versions(t.id).await.unwrap(),
        vec![v2.clone(), v1.clone()]
    );
    assert_eq!(store.list_changes(0, 1000).await.unwrap().len(), changes);

    let v3 = saved(save(&store, t.id, 2, rich("Review")).await);
    assert_eq!(v3.version, 3);
    assert_eq!(
        store.list_versions(t.id).await.unwrap(),
        vec![v3.clone(), v2.clone(), v1.clone()]
    );
    assert_eq!(store.get_version(t.id, 2).await.unwrap(), v2);
    for missing in [0, 4] {
        assert!(matches!(
            store.get_version(t.id, missing).await,
            Err(Error::NotFound)
        ));
    }
    let nobody = TemplateId::new();
    assert!(matches!(
        store.get_template(nobody).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.list_versions(nobody).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store
            .save_version(nobody, 1, content("X"), String::new(), None)
            .await,
        Err(Error::NotFound)
    ));

    // Eight saves from one base: exactly one is saved, the others see it as the latest.
    let start = warm_up(&store).await;
    let mut racers = JoinSet::new();
    let id = t.id;
    for i in 0..RACERS {
        let (store, start) = (store.clone(), start.clone());
        racers.spawn(async move {
            start.wait().await;
            save(&store, id, 3, content(&format!("Racer {i}"))).await
        });
    }
    let mut outcomes = Vec::new();
    while let Some(joined) = racers.join_next().await {
        outcomes.push(joined.unwrap());
    }
    let winners: Vec<&TemplateVersion> = outcomes
        .iter()
        .filter_map(|o| match o {
            SaveOutcome::Saved(v) => Some(v),
            SaveOutcome::Stale(_) => None,
        })
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let winner = winners[0].clone();
    assert_eq!(winner.version, 4);
    for o in &outcomes {
        if let SaveOutcome::Stale(latest) = o {
            assert_eq!(*latest, winner);
        }
    }
    let all = store.list_versions(t.id).await.unwrap();
    assert_eq!(
        all.iter().map(|v| v.version).collect::<Vec<_>>(),
        [4, 3, 2, 1]
    );
    assert_eq!(
        store.get_template(t.id).await.unwrap().name,
        winner.content.name
    );

    // Create and each save logged the template once; stale saves logged nothing.
    let logged: Vec<String> = store
        .list_changes(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == ChangeKind::Template)
        .map(|c| c.id)
        .collect();
    assert_eq!(logged, vec![t.id.to_string(); 4]);
}

pub(super) async fn labels_move_delete(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let ws = shared(&store, "Team", ann.id).await;
    let other = shared(&store, "Other", ann.id).await;
    let t = create(&store, Some(ws.id), content("Summary"), ann.id).await;
    saved(save(&store, t.id, 1, content("Summary 2")).await);
    saved(save(&store, t.id, 2, content("Summary 3")).await);

    let id = t.id;
    let set = |label: &'static str, version: u32| {
        let store = store.clone();
        async move {
            store
                .set_label(id, label, version, audit("label.set"))
                .await
        }
    };
    let labelled = set("production", 2).await.unwrap();
    assert_eq!(labelled.labels, labels(&[("production", 2)]));
    assert!(labelled.updated_at >= t.updated_at);
    assert_eq!(store.get_template(t.id).await.unwrap(), labelled);
    let event = &all_audit(&*store).await[0];
    assert_eq!(event.action, "label.set");
    assert_eq!(event.target, Some(format!("template:{}", t.id)));
    assert_eq!(event.detail, "production: v2");
    set("staging", 3).await.unwrap();
    let moved = set("production", 3).await.unwrap();
    assert_eq!(moved.labels, labels(&[("production", 3), ("staging", 3)]));
    assert_eq!(all_audit(&*store).await[0].detail, "production: v2 -> v3");

    // Only existing versions can be labelled; nothing changes otherwise.
    let events = all_audit(&*store).await.len();
    for version in [0, 4] {
        assert_eq!(invalid_field(set("qa", version).await), "version");
    }
    assert_eq!(store.get_template(t.id).await.unwrap(), moved);
    assert_eq!(all_audit(&*store).await.len(), events);

    let unlabelled = store
        .delete_label(t.id, "staging", audit("label.delete"))
        .await
        .unwrap();
    assert_eq!(unlabelled.labels, labels(&[("production", 3)]));
    assert_eq!(store.get_template(t.id).await.unwrap(), unlabelled);
    assert_eq!(
        all_audit(&*store).await[0].detail,
        "staging: removed (was v3)"
    );
    assert!(matches!(
        store
            .delete_label(t.id, "staging", audit("label.delete"))
            .await,
        Err(Error::NotFound)
    ));
    let nobody = TemplateId::new();
    assert!(matches!(
        store
            .set_label(nobody, "production", 1, audit("label.set"))
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store
            .delete_label(nobody, "production", audit("label.delete"))
            .await,
        Err(Error::NotFound)
    ));

    // Moving keeps versions and labels; the lists follow.
    let versions = store.list_versions(t.id).await.unwrap();
    let moved = store
        .move_template(t.id, other.id, audit("template.move"))
        .await
        .unwrap();
    assert_eq!(moved.workspace_id, Some(other.id));
    assert_eq!(moved.labels, unlabelled.labels);
    assert_eq!(moved.latest_version, 3);
    assert_eq!(store.get_template(t.id).await.unwrap(), moved);
    assert_eq!(store.list_versions(t.id).await.unwrap(), versions);
    assert!(store.list_templates(Some(ws.id)).await.unwrap().is_empty());
    assert_eq!(
        store.list_templates(Some(other.id)).await.unwrap(),
        vec![moved.clone()]
    );
    assert_eq!(
        all_audit(&*store).await[0].detail,
        format!("moved from workspace {} to {}", ws.id, other.id)
    );
    assert!(matches!(
        store
            .move_template(t.id, WorkspaceId::new(), audit("template.move"))
            .await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store
            .move_template(nobody, ws.id, audit("template.move"))
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(store.get_template(t.id).await.unwrap(), moved);

    // Lists are by name, ignoring case.
    for name in ["beta", "Alpha", "gamma"] {
        create(&store, Some(ws.id), content(name), ann.id).await;
    }
    let names: Vec<String> = store
        .list_templates(Some(ws.id))
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["Alpha", "beta", "gamma"]);

    store
        .delete_template(t.id, audit("template.delete"))
        .await
        .unwrap();
    assert!(matches!(
        store.get_template(t.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.list_versions(t.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.get_version(t.id, 1).await,
        Err(Error::NotFound)
    ));
    assert!(
        store
            .list_templates(Some(other.id))
            .await
            .unwrap()
            .is_empty()
    );
    let event = &all_audit(&*store).await[0];
    assert_eq!(event.action, "template.delete");
    assert_eq!(event.target, Some(format!("template:{}", t.id)));
    assert!(matches!(
        store.delete_template(t.id, audit("template.delete")).await,
        Err(Error::NotFound)
    ));
    // create, 2 saves, 3 label sets, 1 label removal, 1 move, 1 delete.
    let logged = store
        .list_changes(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|c| c.kind == ChangeKind::Template && c.id == t.id.to_string())
        .count();
    assert_eq!(logged, 9);
}

pub(super) async fn import(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let ws = shared(&store, "Team", ann.id).await;
    let mut third = rich("Imported");
    third.model = ModelDefaults {
        model: None,
        temperature: Some(0.0),
        max_tokens: None,
    };
    third.variables.truncate(2);
    let contents = [content("Imported v1"), rich("Imported v2"), third];
    let versions: Vec<(TemplateContent, String)> = contents
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), format!("import {}", i + 1)))
        .collect();
    let t = store
        .import_template(
            Some(ws.id),
            versions.clone(),
            vec![("production".into(), 2), ("staging".into(), 3)],
            Some(ann.id),
            audit("template.import"),
        )
        .await
        .unwrap();
    assert_eq!(t.workspace_id, Some(ws.id));
    assert_eq!(t.latest_version, 3);
    assert_eq!(t.name, "Imported");
    assert_eq!(t.labels, labels(&[("production", 2), ("staging", 3)]));
    assert_eq!(t.created_by, Some(ann.id));
    assert_eq!(store.get_template(t.id).await.unwrap(), t);
    let stored = store.list_versions(t.id).await.unwrap();
    assert_eq!(
        stored.iter().map(|v| v.version).collect::<Vec<_>>(),
        [3, 2, 1]
    );
    for (v, (c, message)) in stored.iter().rev().zip(&versions) {
        // Exactly what went in: variables, defaults and model settings included.
        assert_eq!(v.content, *c);
        assert_eq!(&v.message, message);
        assert_eq!(v.author, Some(ann.id));
        assert_eq!(v.created_at, t.created_at);
    }
    let event = &all_audit(&*store).await[0];
    assert_eq!(event.action, "template.import");
    assert_eq!(event.target, Some(format!("template:{}", t.id)));

    // A label past the last version, or no versions at all, imports nothing.
    let changes = store.list_changes(0, 1000).await.unwrap().len();
    for label in [("production".to_owned(), 4), ("staging".to_owned(), 0)] {
        let result = store
            .import_template(
                Some(ws.id),
                versions.clone(),
                vec![label],
                None,
                audit("template.import"),
            )
            .await;
        assert_eq!(invalid_field(result), "labels");
    }
    let empty = store
        .import_template(Some(ws.id), vec![], vec![], None, audit("template.import"))
        .await;
    assert_eq!(invalid_field(empty), "versions");
    assert!(matches!(
        store
            .import_template(
                Some(WorkspaceId::new()),
                versions.clone(),
                vec![],
                None,
                audit("template.import")
            )
            .await,
        Err(Error::NotFound)
    ));
    assert_eq!(store.list_templates(Some(ws.id)).await.unwrap(), vec![t]);
    assert_eq!(store.list_changes(0, 1000).await.unwrap().len(), changes);

    // Into the system templates.
    let system = store
        .import_template(
            None,
            versions[..1].to_vec(),
            vec![],
            None,
            audit("template.import"),
        )
        .await
        .unwrap();
    assert!(system.is_system());
    assert_eq!(store.list_templates(None).await.unwrap(), vec![system]);
}

pub(super) async fn system_templates(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let ws = shared(&store, "Team", ann.id).await;
    let builtins = vec![content("Summarize"), rich("Explain code")];
    store.seed_system_templates(builtins.clone()).await.unwrap();
    let seeded = store.list_templates(None).await.unwrap();
    assert_eq!(
        seeded.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
        ["Explain code", "Summarize"]
    );
    for t in &seeded {
        assert!(t.is_system());
        assert_eq!(t.created_by, None);
        assert_eq!(t.latest_version, 1);
        let v = store.get_version(t.id, 1).await.unwrap();
        assert_eq!(v.message, "Built in");
        assert_eq!(v.author, None);
        assert!(builtins.contains(&v.content));
    }
    assert!(store.list_templates(Some(ws.id)).await.unwrap().is_empty());

    // Seeding runs once: a second call adds nothing, and a deleted one stays deleted.
    let more = vec![
        content("Summarize"),
        rich("Explain code"),
        content("Translate"),
    ];
    store.seed_system_templates(more.clone()).await.unwrap();
    assert_eq!(store.list_templates(None).await.unwrap(), seeded);
    store
        .delete_template(seeded[0].id, audit("template.delete"))
        .await
        .unwrap();
    store.seed_system_templates(more).await.unwrap();
    assert_eq!(store.list_templates(None).await.unwrap(), seeded[1..]);

    // Templates made without a workspace are system templates too.
    let own = create(&store, None, content("Brainstorm"), ann.id).await;
    assert!(own.is_system());
    assert_eq!(
        store.list_templates(None).await.unwrap(),
        vec![own, seeded[1].clone()]
    );
    assert!(store.list_templates(Some(ws.id)).await.unwrap().is_empty());
}

/// The exact change-log entries of a mixed sequence of writes, in order.
pub(super) async fn change_log_entries(store: Arc<dyn Store>) {
    let ann = user(&store, "ann@example.org", "Ann").await;
    let bo = user(&store, "bo@example.org", "Bo").await;
    let personal = store
        .ensure_personal_workspace(ann.id, ws_name("Mine"))
        .await
        .unwrap();
    let ws = shared(&store, "Team", ann.id).await;
    store
        .rename_workspace(ws.id, ws_name("Team 2"), audit("workspace.rename"))
        .await
        .unwrap();
    let t = create(&store, Some(ws.id), content("One"), ann.id).await;
    saved(save(&store, t.id, 1, content("One b")).await);
    store
        .set_label(t.id, "production", 2, audit("label.set"))
        .await
        .unwrap();
    store
        .delete_label(t.id, "production", audit("label.delete"))
        .await
        .unwrap();
    join(&store, ws.id, bo.id, Role::Editor).await;
    store
        .update_member_role(ws.id, bo.id, Role::Admin, audit("member.role"))
        .await
        .unwrap();
    store
        .remove_member(ws.id, bo.id, audit("member.remove"))
        .await
        .unwrap();
    store
        .move_template(t.id, personal.id, audit("template.move"))
        .await
        .unwrap();
    let t2 = create(&store, Some(ws.id), content("Two"), ann.id).await;
    store
        .delete_workspace(ws.id, audit("workspace.delete"))
        .await
        .unwrap();
    store
        .delete_template(t.id, audit("template.delete"))
        .await
        .unwrap();

    let (u, w, tp) = (
        ChangeKind::User,
        ChangeKind::Workspace,
        ChangeKind::Template,
    );
    let expected = [
        (u, ann.id.to_string()),
        (u, bo.id.to_string()),
        (w, personal.id.to_string()),
        (w, ws.id.to_string()),
        (w, ws.id.to_string()),
        (tp, t.id.to_string()),
        (tp, t.id.to_string()),
        (tp, t.id.to_string()),
        (tp, t.id.to_string()),
        (tp, t.id.to_string()),
        (tp, t2.id.to_string()),
        (tp, t2.id.to_string()),
        (w, ws.id.to_string()),
        (tp, t.id.to_string()),
    ];
    let logged: Vec<(ChangeKind, String)> = store
        .list_changes(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.kind, c.id))
        .collect();
    assert_eq!(logged, expected);
}
