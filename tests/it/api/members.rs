//! Members and invites: the last owner, existing members, used and revoked links.

use reqwest::Method;
use serde_json::{Value, json};

use super::Team;

#[tokio::test]
async fn api_members_and_invites_keep_their_rules() {
    let t = Team::new().await;
    let ws = format!("/api/workspaces/{}", t.a);
    let (s, members) = t.get(&t.viewer, &format!("{ws}/members")).await;
    assert_eq!(s, 200, "{members}");
    let find = |email: &str| {
        members
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["email"] == email)
            .cloned()
            .unwrap()
    };
    assert_eq!(find("alma@example.com")["role"], "admin");
    assert!(
        find("eddie@example.com")["joined_at"]
            .as_str()
            .unwrap()
            .contains('T')
    );
    let owner_id = find("admin@example.com")["user_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let viewer_id = find("vera@example.com")["user_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The last owner can neither leave nor be demoted.
    let (s, e) = t
        .send(&t.owner, Method::POST, &format!("{ws}/leave"), Value::Null)
        .await;
    assert_eq!(s, 409, "{e}");
    let me = format!("{ws}/members/{owner_id}");
    assert_eq!(
        t.send(&t.owner, Method::PUT, &me, json!({"role": "admin"}))
            .await
            .0,
        409
    );
    assert_eq!(
        t.send(&t.admin, Method::PUT, &me, json!({"role": "viewer"}))
            .await
            .0,
        403
    );
    assert_eq!(
        t.send(&t.editor, Method::PUT, &me, json!({"role": "viewer"}))
            .await
            .0,
        403
    );

    // Invites: an existing member is told so; a used link is gone.
    let (s, inv) = t
        .send(
            &t.owner,
            Method::POST,
            &format!("{ws}/invites"),
            json!({"role": "editor", "days": 2}),
        )
        .await;
    assert_eq!(s, 201, "{inv}");
    let accept = format!("/api/invites/{}/accept", inv["token"].as_str().unwrap());
    let (s, e) = t.send(&t.viewer, Method::POST, &accept, Value::Null).await;
    assert_eq!(s, 409, "{e}");
    assert!(
        e["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already a member"),
        "{e}"
    );
    let (s, open) = t.get(&t.admin, &format!("{ws}/invites")).await;
    assert_eq!((s, open.as_array().unwrap().len()), (200, 1));
    assert!(open[0].get("token").is_none() && open[0].get("token_hash").is_none());
    assert_eq!(t.get(&t.editor, &format!("{ws}/invites")).await.0, 403);
    let used = t.join(&t.admin, &t.a, &t.outsider, "viewer").await;
    let revoke = format!("{ws}/invites/{}", inv["id"].as_str().unwrap());
    assert_eq!(
        t.send(&t.admin, Method::DELETE, &revoke, Value::Null)
            .await
            .0,
        204
    );
    assert_eq!(t.get(&t.admin, &format!("{ws}/invites")).await.1, json!([]));
    let (s, e) = t
        .send(
            &t.admin,
            Method::POST,
            &format!("{ws}/invites"),
            json!({"role": "owner"}),
        )
        .await;
    assert_eq!((s, &e["error"]["field"]), (422, &json!("role")));

    // Roles change, members leave or are removed, and then see nothing.
    let viewer_path = format!("{ws}/members/{viewer_id}");
    let (s, m) = t
        .send(
            &t.admin,
            Method::PUT,
            &viewer_path,
            json!({"role": "editor"}),
        )
        .await;
    assert_eq!((s, &m["role"]), (200, &json!("editor")));
    assert_eq!(
        t.send(&t.admin, Method::DELETE, &viewer_path, Value::Null)
            .await
            .0,
        204
    );
    assert_eq!(t.get(&t.viewer, &ws).await.0, 404);
    // Not a member any more: a used or revoked link is simply gone.
    let used = format!("/api/invites/{used}/accept");
    assert_eq!(
        t.send(&t.viewer, Method::POST, &used, Value::Null).await.0,
        404
    );
    assert_eq!(
        t.send(&t.viewer, Method::POST, &accept, Value::Null)
            .await
            .0,
        404
    );
    assert_eq!(
        t.send(&t.editor, Method::POST, &format!("{ws}/leave"), Value::Null)
            .await
            .0,
        204
    );
    assert_eq!(t.get(&t.editor, &format!("{ws}/templates")).await.0, 404);
    let (_, list) = t.get(&t.editor, "/api/workspaces").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(
        (&list[0]["personal"], &list[0]["role"]),
        (&json!(true), &json!("owner"))
    );
}
