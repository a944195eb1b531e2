//! Conformance cases for provider connections and runs.

use promptyard::domain::{
    ChangeKind, Connection, ConnectionId, ProviderKind, Run, RunId, RunState, WorkspaceName,
};

use super::*;

fn conn(ws: Option<promptyard::domain::WorkspaceId>, name: &str) -> Connection {
    let t = now();
    Connection {
        id: ConnectionId::new(),
        workspace_id: ws,
        name: name.into(),
        kind: ProviderKind::OpenaiCompatible,
        base_url: "http://127.0.0.1:11434/v1".into(),
        sealed_key: Some(vec![1, 2, 3, 0, 255]),
        models: vec!["llama3.1:8b".into(), "qwen2.5:7b".into()],
        drop_unsupported: true,
        created_by: None,
        created_at: t,
        updated_at: t,
    }
}

pub(super) async fn connections(store: Arc<dyn Store>) {
    let owner = store
        .create_user(new_user("co@example.org", "Co"), audit("user.create"))
        .await
        .unwrap();
    let ws = store
        .create_workspace(WorkspaceName::parse("W").unwrap(), owner.id, audit("ws"))
        .await
        .unwrap();
    let a = store
        .create_connection(conn(None, "b instance"), audit("connection.create"))
        .await
        .unwrap();
    let b = store
        .create_connection(conn(None, "A instance"), audit("connection.create"))
        .await
        .unwrap();
    let w = store
        .create_connection(conn(Some(ws.id), "ws"), audit("connection.create"))
        .await
        .unwrap();
    assert_eq!(
        store.get_connection(a.id).await.unwrap(),
        a,
        "round-trips exactly, key bytes too"
    );
    let names: Vec<String> = store
        .list_connections(None)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, vec!["A instance", "b instance"]);
    assert_eq!(
        store.list_connections(Some(ws.id)).await.unwrap(),
        vec![w.clone()]
    );
    assert_eq!(store.list_all_connections().await.unwrap().len(), 3);

    let mut changed = a.clone();
    changed.name = "renamed".into();
    changed.sealed_key = None;
    changed.models = vec![];
    store
        .update_connection(changed.clone(), audit("connection.update"))
        .await
        .unwrap();
    assert_eq!(store.get_connection(a.id).await.unwrap(), changed);
    let ghost = conn(None, "ghost");
    assert!(matches!(
        store.update_connection(ghost.clone(), audit("x")).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store
            .create_connection(
                conn(Some(promptyard::domain::WorkspaceId::new()), "x"),
                audit("x")
            )
            .await,
        Err(Error::NotFound)
    ));

    store
        .reseal_connection_keys(vec![(a.id, Some(vec![9])), (b.id, None)])
        .await
        .unwrap();
    assert_eq!(
        store.get_connection(a.id).await.unwrap().sealed_key,
        Some(vec![9])
    );
    assert_eq!(store.get_connection(b.id).await.unwrap().sealed_key, None);
    assert!(
        store
            .reseal_connection_keys(vec![(ghost.id, None)])
            .await
            .is_err()
    );

    store
        .delete_connection(b.id, audit("connection.delete"))
        .await
        .unwrap();
    assert!(matches!(
        store.get_connection(b.id).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.delete_connection(b.id, audit("x")).await,
        Err(Error::NotFound)
    ));
    let actions: Vec<String> = all_audit(&*store)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(
        actions.contains(&"connection.create".to_owned())
            && actions.contains(&"connection.delete".to_owned())
    );

    // A workspace's connections go with it.
    store
        .delete_workspace(ws.id, audit("ws.delete"))
        .await
        .unwrap();
    assert!(matches!(
        store.get_connection(w.id).await,
        Err(Error::NotFound)
    ));
}

pub(super) async fn runs(store: Arc<dyn Store>) {
    let owner = store
        .create_user(new_user("ru@example.org", "Ru"), audit("user.create"))
        .await
        .unwrap();
    let ws = store
        .create_workspace(WorkspaceName::parse("R").unwrap(), owner.id, audit("ws"))
        .await
        .unwrap();
    let other = store
        .create_workspace(WorkspaceName::parse("S").unwrap(), owner.id, audit("ws"))
        .await
        .unwrap();
    let run = |ws: promptyard::domain::WorkspaceId, n: u64| Run {
        id: RunId::new(),
        workspace_id: ws,
        user_id: owner.id,
        api_key_id: None,
        template_id: None,
        template_version: Some(3),
        connection_id: None,
        provider: Some(ProviderKind::Anthropic),
        model: "claude-sonnet-4".into(),
        requested_model: (n == 3).then(|| "gpt-4o".to_owned()),
        params: None,
        detail: None,
        cached: n == 4,
        input_tokens: n,
        output_tokens: 2 * n,
        cost_usd: if n.is_multiple_of(2) {
            Some(0.000125)
        } else {
            None
        },
        latency_ms: 1200,
        ttft_ms: Some(300),
        state: if n == 1 {
            RunState::Truncated
        } else {
            RunState::Completed
        },
        error: (n == 1).then(|| "lost".to_owned()),
        prompt: "[{\"role\":\"user\",\"content\":\"hi\"}]".into(),
        output: format!("answer {n} ✓"),
        context_manifest: (n == 2).then(|| serde_json::json!([{"path": "src/a.rs", "tokens": 12}])),
        created_at: now(),
    };
    let batch: Vec<Run> = (1..=5).map(|n| run(ws.id, n)).collect();
    store.create_runs(batch.clone(), vec![]).await.unwrap();
    store
        .create_runs(vec![run(other.id, 9)], vec![])
        .await
        .unwrap();
    store.create_runs(vec![], vec![]).await.unwrap();
    for r in &batch {
        assert_eq!(
            &store.get_run(r.id).await.unwrap(),
            r,
            "round-trips exactly"
        );
    }
    let first = store.list_runs(ws.id, None, 2).await.unwrap();
    let ids: Vec<RunId> = first.items.iter().map(|r| r.id).collect();
    assert_eq!(ids, vec![batch[4].id, batch[3].id], "newest first");
    let second = store.list_runs(ws.id, first.next, 10).await.unwrap();
    assert_eq!(second.items.len(), 3);
    assert!(second.next.is_none());
    let changes = store.list_changes(0, 1000).await.unwrap();
    assert_eq!(
        changes.iter().filter(|c| c.kind == ChangeKind::Run).count(),
        6
    );
    // A run with a NUL in its text or a reference deleted meanwhile does not sink its batch.
    let mut odd = run(ws.id, 7);
    odd.output = "before\u{0}after".into();
    odd.connection_id = Some(ConnectionId::new());
    let fine = run(ws.id, 8);
    store
        .create_runs(vec![odd.clone(), fine.clone()], vec![])
        .await
        .unwrap();
    assert_eq!(store.get_run(fine.id).await.unwrap(), fine);
    let kept = store.get_run(odd.id).await.unwrap();
    assert!(kept.output.starts_with("before") && kept.output.ends_with("after"));

    store
        .delete_workspace(ws.id, audit("ws.delete"))
        .await
        .unwrap();
    assert!(matches!(
        store.get_run(batch[0].id).await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        store
            .list_runs(other.id, None, 10)
            .await
            .unwrap()
            .items
            .len(),
        1
    );
}

pub(super) async fn api_keys(store: Arc<dyn Store>) {
    use promptyard::domain::{ApiKey, ApiKeyId, ApiSecret};
    let owner = store
        .create_user(new_user("ak@example.org", "Ak"), audit("user.create"))
        .await
        .unwrap();
    let other = store
        .create_user(new_user("al@example.org", "Al"), audit("user.create"))
        .await
        .unwrap();
    let ws = store
        .create_workspace(WorkspaceName::parse("K").unwrap(), owner.id, audit("ws"))
        .await
        .unwrap();
    let make = |name: &str, minutes: i64| {
        let secret = ApiSecret::generate().unwrap();
        let key = ApiKey {
            id: ApiKeyId::new(),
            user_id: owner.id,
            workspace_id: ws.id,
            name: name.into(),
            prefix: secret.prefix(),
            key_hash: secret.hash(),
            models: vec!["gpt-4o-mini".into()],
            expires_at: Some(now() + Duration::days(30)),
            created_at: now() + Duration::minutes(minutes),
            last_used_at: None,
            revoked_at: None,
        };
        (key, secret)
    };
    let (a, secret_a) = make("a", 0);
    let (b, _) = make("b", 1);
    store
        .create_api_key(a.clone(), audit("api_key.create"))
        .await
        .unwrap();
    store
        .create_api_key(b.clone(), audit("api_key.create"))
        .await
        .unwrap();
    assert_eq!(
        store.find_api_key(secret_a.hash()).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(
        store
            .find_api_key(ApiSecret::generate().unwrap().hash())
            .await
            .unwrap(),
        None
    );
    let listed: Vec<String> = store
        .list_api_keys(owner.id)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.name)
        .collect();
    assert_eq!(listed, vec!["b", "a"], "newest first");
    assert!(store.list_api_keys(other.id).await.unwrap().is_empty());

    let t = now();
    store.touch_api_key(a.id, t).await.unwrap();
    assert_eq!(
        store
            .find_api_key(secret_a.hash())
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(t)
    );
    // Another user cannot revoke it; its owner can, once.
    assert!(matches!(
        store.revoke_api_key(other.id, a.id, t, audit("x")).await,
        Err(Error::NotFound)
    ));
    let revoked = store
        .revoke_api_key(owner.id, a.id, t, audit("api_key.revoke"))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(t));
    let again = store
        .revoke_api_key(
            owner.id,
            a.id,
            t + Duration::minutes(1),
            audit("api_key.revoke"),
        )
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(t), "the first revocation time stays");
    assert!(!again.is_active(t));

    // A workspace's keys go with it.
    store
        .delete_workspace(ws.id, audit("ws.delete"))
        .await
        .unwrap();
    assert!(store.list_api_keys(owner.id).await.unwrap().is_empty());
}

pub(super) async fn governance(store: Arc<dyn Store>) {
    use promptyard::domain::{
        CachedResponse, GatewaySettings, RateLimit, Retention, SpendEntry, WorkspaceId,
    };
    let owner = store
        .create_user(new_user("gov@example.org", "Gov"), audit("user.create"))
        .await
        .unwrap();
    let other = store
        .create_user(new_user("gov2@example.org", "Gov2"), audit("user.create"))
        .await
        .unwrap();
    let ws = store
        .create_workspace(WorkspaceName::parse("G").unwrap(), owner.id, audit("ws"))
        .await
        .unwrap();

    // Settings: defaults until set, then exactly what was stored; unknown workspace refused.
    assert_eq!(
        store.get_gateway_settings(ws.id).await.unwrap(),
        GatewaySettings::default()
    );
    let settings = GatewaySettings {
        retention: Retention::Metadata,
        retention_days: Some(90),
        cache_ttl_secs: 0,
        budget_usd: Some(12.5),
        member_budget_usd: Some(2.0),
        fallbacks: [("gpt-4o".to_owned(), vec!["claude-sonnet-4".to_owned()])].into(),
        workspace_limit: RateLimit {
            requests_per_minute: Some(60),
            tokens_per_minute: None,
        },
        member_limit: RateLimit::default(),
        key_limit: RateLimit {
            requests_per_minute: None,
            tokens_per_minute: Some(1000),
        },
    };
    store
        .update_gateway_settings(ws.id, settings.clone(), audit("ws.gateway"))
        .await
        .unwrap();
    assert_eq!(store.get_gateway_settings(ws.id).await.unwrap(), settings);
    assert!(matches!(
        store
            .update_gateway_settings(WorkspaceId::new(), settings.clone(), audit("x"))
            .await,
        Err(Error::NotFound)
    ));

    // Spend adds up per member and month, in the recorder's transaction.
    let spend = |user: UserId, month: &str, usd: f64| SpendEntry {
        workspace: ws.id,
        user,
        month: month.into(),
        usd,
    };
    store
        .create_runs(
            vec![],
            vec![
                spend(owner.id, "2026-11", 0.25),
                spend(other.id, "2026-11", 1.0),
            ],
        )
        .await
        .unwrap();
    store
        .create_runs(
            vec![],
            vec![
                spend(owner.id, "2026-11", 0.5),
                spend(owner.id, "2026-10", 9.0),
            ],
        )
        .await
        .unwrap();
    let nov = store.get_month_spend(ws.id, "2026-11").await.unwrap();
    assert!((nov.total_usd - 1.75).abs() < 1e-12);
    assert_eq!(nov.by_user.len(), 2);
    assert_eq!(nov.by_user[0].0, other.id, "largest first");
    assert!((nov.by_user[1].1 - 0.75).abs() < 1e-12);
    let oct = store.get_month_spend(ws.id, "2026-10").await.unwrap();
    assert!((oct.total_usd - 9.0).abs() < 1e-12);
    assert_eq!(
        store
            .get_month_spend(ws.id, "2026-12")
            .await
            .unwrap()
            .by_user
            .len(),
        0
    );

    // Cache: found until it expires, replaced by key, purged when expired.
    let t = now();
    let entry = |key: u8, ttl: i64| CachedResponse {
        key: [key; 32],
        workspace: ws.id,
        model: "gpt-4o".into(),
        output: "cached ✓".into(),
        input_tokens: 5,
        output_tokens: 3,
        finish_reason: Some("stop".into()),
        created_at: t,
        expires_at: t + Duration::seconds(ttl),
    };
    store.put_cached_response(entry(1, 60)).await.unwrap();
    store.put_cached_response(entry(2, 1)).await.unwrap();
    assert_eq!(
        store.find_cached_response([1; 32], t).await.unwrap(),
        Some(entry(1, 60))
    );
    assert_eq!(
        store
            .find_cached_response([2; 32], t + Duration::seconds(2))
            .await
            .unwrap(),
        None,
        "expired entries are not served"
    );
    assert_eq!(store.find_cached_response([3; 32], t).await.unwrap(), None);
    let mut replaced = entry(1, 120);
    replaced.output = "newer".into();
    store.put_cached_response(replaced.clone()).await.unwrap();
    assert_eq!(
        store.find_cached_response([1; 32], t).await.unwrap(),
        Some(replaced)
    );
    assert_eq!(
        store
            .delete_expired_cache(t + Duration::seconds(2))
            .await
            .unwrap(),
        1
    );
    assert!(
        store
            .find_cached_response([1; 32], t)
            .await
            .unwrap()
            .is_some()
    );

    // Deleting the workspace takes its settings, spend and cache with it.
    store
        .delete_workspace(ws.id, audit("ws.delete"))
        .await
        .unwrap();
    assert_eq!(
        store.get_gateway_settings(ws.id).await.unwrap(),
        GatewaySettings::default()
    );
    assert_eq!(
        store
            .get_month_spend(ws.id, "2026-11")
            .await
            .unwrap()
            .by_user
            .len(),
        0
    );
    store.delete_expired_cache(t).await.unwrap();
    assert_eq!(store.find_cached_response([1; 32], t).await.unwrap(), None);
    // Spend for a deleted workspace is dropped, not an error that sinks the batch.
    store
        .create_runs(vec![], vec![spend(owner.id, "2026-11", 1.0)])
        .await
        .unwrap();
}

pub(super) async fn outbound_allowlist(store: Arc<dyn Store>) {
    use promptyard::domain::AuditFilter;
    use promptyard::domain::outbound::OutboundAllowlist;
    assert_eq!(
        store.get_outbound_allowlist().await.unwrap(),
        OutboundAllowlist::default()
    );
    let list = OutboundAllowlist {
        allow_cidrs: vec!["127.0.0.1".into(), "10.0.0.0/8".into()],
        allow_hosts: vec!["ollama.lan".into()],
        allow_ports: vec![11434],
    };
    store
        .set_outbound_allowlist(list.clone(), audit("outbound.update"))
        .await
        .unwrap();
    assert_eq!(store.get_outbound_allowlist().await.unwrap(), list);
    let smaller = OutboundAllowlist {
        allow_ports: vec![8000],
        ..OutboundAllowlist::default()
    };
    store
        .set_outbound_allowlist(smaller.clone(), audit("outbound.update"))
        .await
        .unwrap();
    assert_eq!(store.get_outbound_allowlist().await.unwrap(), smaller);
    let events = store
        .list_audit_events(
            &AuditFilter {
                action: Some("outbound.update".into()),
                ..AuditFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(events.items.len(), 2);
    assert!(
        events
            .items
            .iter()
            .all(|e| e.target.as_deref() == Some("instance:outbound"))
    );
}
