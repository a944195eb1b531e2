//! Conformance cases for the community library: prompts and their visibility, moderation
//! history and reputation, exact ratings under concurrency, comments, flags and daily uses.

use promptyard::domain::community::{Sort, flagged_reason};
use promptyard::domain::{
    ChangeKind, Comment, CommentId, CommunityPrompt, CommunityPromptId, CommunityQuery,
    CommunityStanding, Decision, DecisionAction, Example, Flag, PromptStatus, Submission,
    TemplateContent, User,
};

use super::*;

fn submission(title: &str, tags: &[&str], models: &[&str]) -> Submission {
    Submission {
        content: TemplateContent {
            name: title.into(),
            description: format!("About {title}"),
            tags: tags.iter().map(|t| t.to_string()).collect(),
            user_prompt_template: format!("Do {title} with {{{{input}}}}"),
            ..TemplateContent::default()
        },
        models: models.iter().map(|m| m.to_string()).collect(),
        examples: vec![Example {
            model: "gpt-4o".into(),
            output: "An **example**.".into(),
        }],
        source_template: None,
        source_run: None,
    }
    .validated()
    .unwrap()
}

async fn submit(
    store: &Arc<dyn Store>,
    author: &User,
    title: &str,
    tags: &[&str],
    models: &[&str],
    action: DecisionAction,
) -> CommunityPrompt {
    let p = submission(title, tags, models).into_prompt(author.id, action.status(), now());
    let d = Decision {
        prompt: p.id,
        moderator: None,
        action,
        reason: String::new(),
        at: p.created_at,
    };
    store
        .create_community_prompt(p, d, audit("community.submit"))
        .await
        .unwrap()
}

fn moderator_decision(
    p: &CommunityPrompt,
    moderator: &User,
    action: DecisionAction,
    reason: &str,
) -> Decision {
    Decision {
        prompt: p.id,
        moderator: Some(moderator.id),
        action,
        reason: reason.into(),
        at: now(),
    }
}

fn query(viewer: Option<CommunityStanding>) -> CommunityQuery {
    CommunityQuery {
        viewer,
        limit: 50,
        ..CommunityQuery::default()
    }
}

async fn titles(store: &Arc<dyn Store>, q: &CommunityQuery) -> (Vec<String>, u64) {
    let (items, total) = store.list_community_prompts(q).await.unwrap();
    (items.into_iter().map(|p| p.content.name).collect(), total)
}

pub(super) async fn prompts_visibility_and_moderation(store: Arc<dyn Store>) {
    let author = store
        .create_user(new_user("author@example.org", "Author"), audit("u"))
        .await
        .unwrap();
    let other = store
        .create_user(new_user("other@example.org", "Other"), audit("u"))
        .await
        .unwrap();
    let moderator = store
        .create_user(new_user("mod@example.org", "Mod"), audit("u"))
        .await
        .unwrap();
    assert_eq!(
        store.get_standing(author.id).await.unwrap(),
        CommunityStanding::new(author.id),
        "a user without a record has a fresh standing"
    );
    let mod_standing = store
        .update_standing(moderator.id, true, false, audit("community.standing"))
        .await
        .unwrap();
    assert!(mod_standing.moderator && !mod_standing.trusted);
    assert_eq!(
        store.get_standing(moderator.id).await.unwrap(),
        mod_standing
    );
    assert!(matches!(
        store
            .update_standing(UserId::new(), true, true, audit("x"))
            .await,
        Err(Error::NotFound)
    ));

    let pending = submit(
        &store,
        &author,
        "Pending one",
        &["sql"],
        &["gpt-4o"],
        DecisionAction::Submitted,
    )
    .await;
    let approved = submit(
        &store,
        &author,
        "Trusted one",
        &["sql", "code"],
        &["llama3"],
        DecisionAction::AutoApproved,
    )
    .await;
    assert_eq!(
        store.get_community_prompt(pending.id).await.unwrap(),
        pending
    );
    assert_eq!(pending.status, PromptStatus::Pending);
    assert_eq!(approved.status, PromptStatus::Approved);
    assert_eq!(
        store.get_standing(author.id).await.unwrap().reputation,
        10,
        "auto-approval earns the approval points"
    );
    assert!(matches!(
        store.get_community_prompt(CommunityPromptId::new()).await,
        Err(Error::NotFound)
    ));
    assert_eq!(
        store
            .count_submissions_since(author.id, pending.created_at)
            .await
            .unwrap(),
        2
    );
    assert_eq!(
        store
            .count_submissions_since(author.id, now() + Duration::seconds(5))
            .await
            .unwrap(),
        0
    );

    // Visibility: pending only to its author and moderators.
    let other_s = store.get_standing(other.id).await.unwrap();
    let author_s = store.get_standing(author.id).await.unwrap();
    assert_eq!(
        titles(&store, &query(None)).await,
        (vec!["Trusted one".into()], 1)
    );
    assert_eq!(
        titles(&store, &query(Some(other_s.clone()))).await.0,
        vec!["Trusted one"]
    );
    assert_eq!(
        titles(&store, &query(Some(author_s.clone()))).await.0,
        vec!["Trusted one", "Pending one"]
    );
    let mut queue = query(Some(mod_standing.clone()));
    queue.statuses = vec![PromptStatus::Pending, PromptStatus::Flagged];
    assert_eq!(titles(&store, &queue).await.0, vec!["Pending one"]);
    let mut by_tag = query(Some(author_s.clone()));
    by_tag.tag = Some("code".into());
    assert_eq!(titles(&store, &by_tag).await.0, vec!["Trusted one"]);
    let mut by_model = query(Some(author_s.clone()));
    by_model.model = Some("gpt-4o".into());
    assert_eq!(titles(&store, &by_model).await.0, vec!["Pending one"]);

    // Rejection: the reason is kept, reputation falls, history grows.
    let rejected = store
        .decide_community_prompt(
            moderator_decision(&pending, &moderator, DecisionAction::Rejected, "Too vague"),
            audit("community.reject"),
        )
        .await
        .unwrap();
    assert_eq!(rejected.status, PromptStatus::Rejected);
    assert_eq!(rejected.status_reason.as_deref(), Some("Too vague"));
    assert_eq!(store.get_standing(author.id).await.unwrap().reputation, 5);
    // Approval after all: points once, even when approved twice.
    store
        .decide_community_prompt(
            moderator_decision(&pending, &moderator, DecisionAction::Approved, ""),
            audit("community.approve"),
        )
        .await
        .unwrap();
    let hidden = store
        .decide_community_prompt(
            moderator_decision(&pending, &moderator, DecisionAction::Hidden, "Spam"),
            audit("community.hide"),
        )
        .await
        .unwrap();
    let again = store
        .decide_community_prompt(
            moderator_decision(&pending, &moderator, DecisionAction::Approved, ""),
            audit("community.approve"),
        )
        .await
        .unwrap();
    assert_eq!(hidden.status, PromptStatus::Hidden);
    assert_eq!(again.status, PromptStatus::Approved);
    assert_eq!(again.status_reason, None);
    assert!(again.ever_approved);
    assert_eq!(store.get_standing(author.id).await.unwrap().reputation, 15);
    let history: Vec<(DecisionAction, Option<UserId>, String)> = store
        .list_decisions(pending.id)
        .await
        .unwrap()
        .into_iter()
        .map(|d| (d.action, d.moderator, d.reason))
        .collect();
    assert_eq!(
        history,
        vec![
            (DecisionAction::Submitted, None, String::new()),
            (
                DecisionAction::Rejected,
                Some(moderator.id),
                "Too vague".into()
            ),
            (DecisionAction::Approved, Some(moderator.id), String::new()),
            (DecisionAction::Hidden, Some(moderator.id), "Spam".into()),
            (DecisionAction::Approved, Some(moderator.id), String::new()),
        ]
    );
    assert!(matches!(
        store
            .decide_community_prompt(
                Decision {
                    prompt: CommunityPromptId::new(),
                    moderator: None,
                    action: DecisionAction::Approved,
                    reason: String::new(),
                    at: now(),
                },
                audit("x"),
            )
            .await,
        Err(Error::NotFound)
    ));
    let actions: Vec<String> = all_audit(&*store)
        .await
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "community.reject",
        "community.approve",
        "community.hide",
        "community.standing",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited");
    }
    let changes = store.list_changes(0, 1000).await.unwrap();
    assert!(
        changes
            .iter()
            .any(|c| c.kind == ChangeKind::CommunityPrompt && c.id == pending.id.to_string()),
        "prompt writes reach the change log"
    );
}

pub(super) async fn ratings_sorting_and_uses(store: Arc<dyn Store>) {
    let author = store
        .create_user(new_user("a@example.org", "A"), audit("u"))
        .await
        .unwrap();
    let a = submit(
        &store,
        &author,
        "Alpha",
        &[],
        &[],
        DecisionAction::AutoApproved,
    )
    .await;
    let b = submit(
        &store,
        &author,
        "Beta",
        &[],
        &[],
        DecisionAction::AutoApproved,
    )
    .await;
    let c = submit(
        &store,
        &author,
        "Gamma",
        &[],
        &[],
        DecisionAction::AutoApproved,
    )
    .await;

    // 50 raters at once on one prompt: the sum and count are exact.
    let mut raters = Vec::new();
    for i in 0..50 {
        raters.push(
            store
                .create_user(new_user(&format!("r{i}@example.org"), "R"), audit("u"))
                .await
                .unwrap(),
        );
    }
    let barrier = Arc::new(Barrier::new(raters.len()));
    let mut set = JoinSet::new();
    for (i, r) in raters.iter().enumerate() {
        let (store, barrier, user) = (store.clone(), barrier.clone(), r.id);
        set.spawn(async move {
            barrier.wait().await;
            store
                .rate_community_prompt(a.id, user, (i % 5 + 1) as u8)
                .await
                .unwrap()
        });
    }
    while let Some(j) = set.join_next().await {
        j.unwrap();
    }
    let rated = store.get_community_prompt(a.id).await.unwrap();
    assert_eq!((rated.rating_sum, rated.rating_count), (150, 50));
    assert_eq!(rated.average(), Some(3.0));
    // Changing a rating replaces it.
    store
        .rate_community_prompt(a.id, raters[0].id, 5)
        .await
        .unwrap();
    let rated = store.get_community_prompt(a.id).await.unwrap();
    assert_eq!((rated.rating_sum, rated.rating_count), (154, 50));
    assert_eq!(
        store.find_rating(a.id, raters[0].id).await.unwrap(),
        Some(5)
    );
    assert_eq!(store.find_rating(b.id, raters[0].id).await.unwrap(), None);
    // Ten of each star: 0 net reputation, then +4 for the change from 1 to 5 stars.
    assert_eq!(
        store.get_standing(author.id).await.unwrap().reputation,
        30 + 4
    );
    store
        .rate_community_prompt(b.id, raters[1].id, 4)
        .await
        .unwrap();
    assert!(matches!(
        store
            .rate_community_prompt(CommunityPromptId::new(), raters[1].id, 4)
            .await,
        Err(Error::NotFound)
    ));

    // Uses: once per user and day; forks earn the author points.
    let today = now().date();
    assert!(
        store
            .record_community_use(c.id, raters[0].id, today, true)
            .await
            .unwrap()
    );
    assert!(
        !store
            .record_community_use(c.id, raters[0].id, today, false)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_community_use(c.id, raters[0].id, today.next_day().unwrap(), false)
            .await
            .unwrap()
    );
    assert!(
        store
            .record_community_use(c.id, raters[1].id, today, false)
            .await
            .unwrap()
    );
    assert_eq!(
        store.get_community_prompt(c.id).await.unwrap().usage_count,
        3
    );
    assert_eq!(
        store.get_standing(author.id).await.unwrap().reputation,
        34 + 1 + 2
    );
    assert!(matches!(
        store
            .record_community_use(CommunityPromptId::new(), raters[0].id, today, false)
            .await,
        Err(Error::NotFound)
    ));

    // Sorting and paging.
    let mut q = query(None);
    q.sort = Sort::New;
    assert_eq!(
        titles(&store, &q).await,
        (vec!["Gamma".into(), "Beta".into(), "Alpha".into()], 3)
    );
    q.sort = Sort::Top;
    assert_eq!(titles(&store, &q).await.0, vec!["Beta", "Alpha", "Gamma"]);
    q.sort = Sort::Used;
    assert_eq!(titles(&store, &q).await.0[0], "Gamma");
    q.sort = Sort::New;
    q.offset = 1;
    q.limit = 1;
    assert_eq!(titles(&store, &q).await, (vec!["Beta".into()], 3));
}

pub(super) async fn comments_and_flags(store: Arc<dyn Store>) {
    let author = store
        .create_user(new_user("a@example.org", "A"), audit("u"))
        .await
        .unwrap();
    let p = submit(
        &store,
        &author,
        "Flag me",
        &[],
        &[],
        DecisionAction::AutoApproved,
    )
    .await;
    let first = Comment {
        id: CommentId::new(),
        prompt: p.id,
        author: author.id,
        body: "First <b>comment</b>".into(),
        created_at: now(),
        edited_at: None,
    };
    let second = Comment {
        id: CommentId::new(),
        body: "Second".into(),
        ..first.clone()
    };
    store.create_comment(first.clone()).await.unwrap();
    store.create_comment(second.clone()).await.unwrap();
    assert!(matches!(
        store
            .create_comment(Comment {
                id: CommentId::new(),
                prompt: CommunityPromptId::new(),
                ..first.clone()
            })
            .await,
        Err(Error::NotFound)
    ));
    let at = now();
    let edited = store
        .update_comment(first.id, "Edited".into(), at)
        .await
        .unwrap();
    assert_eq!(
        (edited.body.as_str(), edited.edited_at),
        ("Edited", Some(at))
    );
    assert_eq!(store.get_comment(first.id).await.unwrap(), edited);
    assert_eq!(
        store.list_comments(p.id).await.unwrap(),
        vec![edited.clone(), second.clone()]
    );
    store
        .delete_comment(second.id, Some(audit("community.comment.delete")))
        .await
        .unwrap();
    assert_eq!(store.list_comments(p.id).await.unwrap(), vec![edited]);
    assert!(matches!(
        store.delete_comment(second.id, None).await,
        Err(Error::NotFound)
    ));
    assert!(matches!(
        store.get_comment(second.id).await,
        Err(Error::NotFound)
    ));

    // Flags: one per user; at the threshold an approved prompt is hidden for review.
    let mut flaggers = Vec::new();
    for i in 0..3 {
        flaggers.push(
            store
                .create_user(new_user(&format!("f{i}@example.org"), "F"), audit("u"))
                .await
                .unwrap(),
        );
    }
    let flag = |u: &User| Flag {
        prompt: p.id,
        user: u.id,
        reason: "Spam".into(),
        at: now(),
    };
    let (after, new) = store
        .flag_community_prompt(flag(&flaggers[0]), 2)
        .await
        .unwrap();
    assert!(new);
    assert_eq!(
        (after.flag_count, after.status),
        (1, PromptStatus::Approved)
    );
    let (after, new) = store
        .flag_community_prompt(flag(&flaggers[0]), 2)
        .await
        .unwrap();
    assert!(!new, "the same user flags once");
    assert_eq!(after.flag_count, 1);
    let (after, _) = store
        .flag_community_prompt(flag(&flaggers[1]), 2)
        .await
        .unwrap();
    assert_eq!((after.flag_count, after.status), (2, PromptStatus::Flagged));
    assert_eq!(after.status_reason, Some(flagged_reason(2)));
    assert_eq!(store.list_flags(p.id).await.unwrap().len(), 2);
    assert_eq!(
        titles(&store, &query(None)).await.1,
        0,
        "hidden until reviewed"
    );
    let last = store.list_decisions(p.id).await.unwrap().pop().unwrap();
    assert_eq!(
        (last.action, last.moderator),
        (DecisionAction::Flagged, None)
    );
    // A moderator approves it again: the flags are cleared and users may flag anew.
    let moderator = &flaggers[2];
    let back = store
        .decide_community_prompt(
            moderator_decision(&p, moderator, DecisionAction::Approved, ""),
            audit("community.approve"),
        )
        .await
        .unwrap();
    assert_eq!((back.status, back.flag_count), (PromptStatus::Approved, 0));
    assert!(store.list_flags(p.id).await.unwrap().is_empty());
    let (_, new) = store
        .flag_community_prompt(flag(&flaggers[0]), 2)
        .await
        .unwrap();
    assert!(new);
    assert!(matches!(
        store
            .flag_community_prompt(
                Flag {
                    prompt: CommunityPromptId::new(),
                    ..flag(&flaggers[0])
                },
                2
            )
            .await,
        Err(Error::NotFound)
    ));
}
