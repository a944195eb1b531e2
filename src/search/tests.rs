use super::*;

fn run(id: &str, ws: &str, body: &str, model: &str) -> Op {
    Op::Put(Box::new(Doc {
        id: id.into(),
        kind: Some(Kind::Run),
        workspace: Some(ws.into()),
        owner: "u1".into(),
        user: "Ann Author ann@example.com".into(),
        title: "Release notes".into(),
        template: "Release notes".into(),
        body: body.into(),
        models: vec![model.into()],
        state: "completed".into(),
        time: Some(OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000)),
        ..Doc::default()
    }))
}

fn prompt(id: &str, owner: &str, status: &str, title: &str, tags: &[&str]) -> Op {
    Op::Put(Box::new(Doc {
        id: id.into(),
        kind: Some(Kind::Prompt),
        owner: owner.into(),
        title: title.into(),
        body: format!("{title} <script>alert(1)</script> body text"),
        tags: tags.iter().map(|t| t.to_string()).collect(),
        state: status.into(),
        ..Doc::default()
    }))
}

fn find(ix: &SearchIndex, scope: Scope, q: &str, viewer: Viewer) -> SearchResults {
    ix.search(&SearchRequest {
        scope,
        parsed: query::parse(q).unwrap(),
        viewer,
        sort: SearchSort::Relevance,
        offset: 0,
        limit: 20,
        filters: Default::default(),
    })
    .unwrap()
}

fn ids(r: &SearchResults) -> Vec<String> {
    let mut v: Vec<String> = r.hits.iter().map(|h| h.id.clone()).collect();
    v.sort();
    v
}

fn member_of(ws: &[&str]) -> Viewer {
    Viewer {
        user: "u2".into(),
        workspaces: ws.iter().map(|w| w.to_string()).collect(),
        moderator: false,
    }
}

#[test]
fn permissions_queries_snippets_and_the_watermark() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    {
        let (ix, opened) = SearchIndex::open(&path).unwrap();
        assert_eq!(opened, Opened::Rebuilt);
        ix.apply(
            vec![
                run("r1", "w1", "the quick brown fox joins tables", "gpt-4o"),
                run("r2", "w2", "a quick secret of workspace two", "llama3"),
                prompt("p1", "u1", "approved", "Explain SQL", &["sql"]),
                prompt("p2", "u1", "pending", "Pending SQL idea", &["sql"]),
                prompt("p3", "u2", "rejected", "Mine SQL", &["sql"]),
            ],
            7,
        )
        .unwrap();
        // Replacing a document keeps one copy.
        ix.apply(
            vec![run(
                "r1",
                "w1",
                "the quick brown fox joins tables",
                "gpt-4o",
            )],
            8,
        )
        .unwrap();
        assert_eq!(ix.watermark().unwrap(), 8);
        assert_eq!(ix.len(), 5);
    }
    let (ix, opened) = SearchIndex::open(&path).unwrap();
    assert_eq!(
        opened,
        Opened::Existing(8),
        "the position survives a reopen"
    );

    // History: only the viewer's workspaces.
    assert_eq!(
        ids(&find(&ix, Scope::History, "quick", member_of(&["w1"]))),
        vec!["r1"]
    );
    assert_eq!(
        ids(&find(
            &ix,
            Scope::History,
            "quick",
            member_of(&["w1", "w2"])
        )),
        vec!["r1", "r2"]
    );
    assert!(
        find(&ix, Scope::History, "quick", member_of(&[]))
            .hits
            .is_empty()
    );
    assert!(
        find(&ix, Scope::History, "secret", member_of(&["w1"]))
            .hits
            .is_empty()
    );
    // Phrases, prefixes, exclusion, filters, dates.
    assert_eq!(
        ids(&find(
            &ix,
            Scope::History,
            "\"brown fox\"",
            member_of(&["w1"])
        )),
        vec!["r1"]
    );
    assert!(
        find(&ix, Scope::History, "\"fox brown\"", member_of(&["w1"]))
            .hits
            .is_empty()
    );
    assert_eq!(
        ids(&find(&ix, Scope::History, "tab*", member_of(&["w1", "w2"]))),
        vec!["r1"]
    );
    assert_eq!(
        ids(&find(
            &ix,
            Scope::History,
            "quick -fox",
            member_of(&["w1", "w2"])
        )),
        vec!["r2"]
    );
    assert_eq!(
        ids(&find(
            &ix,
            Scope::History,
            "model:llama3",
            member_of(&["w1", "w2"])
        )),
        vec!["r2"]
    );
    assert_eq!(
        ids(&find(
            &ix,
            Scope::History,
            "user:ann state:completed template:\"release notes\"",
            member_of(&["w1"])
        )),
        vec!["r1"]
    );
    assert_eq!(
        find(
            &ix,
            Scope::History,
            "after:2024-10-01 before:2024-10-31",
            member_of(&["w1", "w2"])
        )
        .total,
        2
    );
    assert_eq!(
        find(
            &ix,
            Scope::History,
            "after:2024-11-01",
            member_of(&["w1", "w2"])
        )
        .total,
        0
    );
    // Community: approved, plus one's own; moderators see all.
    assert_eq!(
        ids(&find(&ix, Scope::Community, "sql", member_of(&[]))),
        vec!["p1", "p3"]
    );
    let moderator = Viewer {
        moderator: true,
        ..member_of(&[])
    };
    assert_eq!(
        ids(&find(&ix, Scope::Community, "sql", moderator)),
        vec!["p1", "p2", "p3"]
    );
    let r = find(&ix, Scope::Community, "", member_of(&[]));
    assert_eq!(r.tags, vec![("sql".to_owned(), 2)]);
    // Snippets are escaped before the marks go in.
    let r = find(&ix, Scope::Community, "explain", member_of(&[]));
    let html = &r.hits[0].snippet_html;
    assert!(
        html.contains("<b>Explain</b>")
            && html.contains("&lt;script&gt;")
            && !html.contains("<script"),
        "{html}"
    );
}

#[test]
fn an_index_that_will_not_open_is_rebuilt() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("index");
    std::fs::create_dir_all(&path).unwrap();
    std::fs::write(path.join("meta.json"), b"{ not json").unwrap();
    let (ix, opened) = SearchIndex::open(&path).unwrap();
    assert_eq!(opened, Opened::Rebuilt);
    assert_eq!(ix.watermark().unwrap(), 0);
}
