//! The community library in redb: prompts with an author index, their decision history,
//! ratings, comments, flags and daily uses, and users' standing.
//!
//! Listing reads every prompt and filters in memory: a library holds thousands of prompts,
//! not millions, and search (tantivy) serves the queries that need an index. Counters change
//! in the write transaction of the record that moves them; redb has one writer at a time, so
//! they stay exact under any concurrency.

use async_trait::async_trait;
use redb::{ReadableTable, WriteTransaction};
use time::OffsetDateTime;

use super::{
    COMMENTS_BY_PROMPT, COMMUNITY_BY_AUTHOR, COMMUNITY_COMMENTS, COMMUNITY_DECISIONS,
    COMMUNITY_FLAGS, COMMUNITY_PROMPTS, COMMUNITY_RATINGS, COMMUNITY_STANDING, COMMUNITY_USES,
    RedbStore, USERS, append_change, audit::insert_audit, decode, encode,
};
use crate::domain::community::{self, reputation};
use crate::domain::{
    ChangeKind, Comment, CommentId, CommunityPrompt, CommunityPromptId, CommunityQuery,
    CommunityStanding, Decision, DecisionAction, Flag, NewAuditEvent, PromptStatus, UserId,
};
use crate::error::{Error, Result};
use crate::store::CommunityStore;

fn load_prompt(txn: &WriteTransaction, id: u128) -> Result<CommunityPrompt> {
    let table = txn.open_table(COMMUNITY_PROMPTS)?;
    let v = table.get(id)?.ok_or(Error::NotFound)?;
    decode(v.value())
}

fn save_prompt(txn: &WriteTransaction, p: &CommunityPrompt) -> Result<()> {
    txn.open_table(COMMUNITY_PROMPTS)?
        .insert(p.id.0.as_u128(), encode(p)?.as_slice())?;
    append_change(txn, ChangeKind::CommunityPrompt, p.id.to_string())
}

fn load_standing(txn: &WriteTransaction, user: UserId) -> Result<CommunityStanding> {
    let table = txn.open_table(COMMUNITY_STANDING)?;
    let found = table.get(user.0.as_u128())?;
    match found {
        Some(v) => decode(v.value()),
        None => Ok(CommunityStanding::new(user)),
    }
}

fn add_reputation(txn: &WriteTransaction, user: UserId, delta: i64) -> Result<()> {
    if delta == 0 {
        return Ok(());
    }
    let mut s = load_standing(txn, user)?;
    s.reputation += delta;
    txn.open_table(COMMUNITY_STANDING)?
        .insert(user.0.as_u128(), encode(&s)?.as_slice())?;
    Ok(())
}

fn push_decision(txn: &WriteTransaction, d: &Decision) -> Result<()> {
    let mut table = txn.open_table(COMMUNITY_DECISIONS)?;
    let p = d.prompt.0.as_u128();
    let next = table
        .range((p, 0)..=(p, u64::MAX))?
        .next_back()
        .transpose()?
        .map(|(k, _)| k.value().1 + 1)
        .unwrap_or(0);
    table.insert((p, next), encode(d)?.as_slice())?;
    Ok(())
}

/// Applies `d` to `p`: state, reason, time, the author's reputation, and on approval a clean
/// slate of flags.
fn apply_decision(txn: &WriteTransaction, p: &mut CommunityPrompt, d: &Decision) -> Result<()> {
    add_reputation(
        txn,
        p.author,
        reputation::for_decision(d.action, p.ever_approved),
    )?;
    p.status = d.action.status();
    p.status_reason = (!d.reason.is_empty()).then(|| d.reason.clone());
    p.updated_at = d.at;
    if p.status == PromptStatus::Approved {
        p.ever_approved = true;
        p.flag_count = 0;
        let id = p.id.0.as_u128();
        let mut flags = txn.open_table(COMMUNITY_FLAGS)?;
        let users: Vec<u128> = flags
            .range((id, 0)..=(id, u128::MAX))?
            .map(|e| e.map(|(k, _)| k.value().1))
            .collect::<std::result::Result<_, _>>()?;
        for u in users {
            flags.remove((id, u))?;
        }
    }
    push_decision(txn, d)
}

#[async_trait]
impl CommunityStore for RedbStore {
    async fn get_standing(&self, user: UserId) -> Result<CommunityStanding> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(COMMUNITY_STANDING)?;
            match table.get(user.0.as_u128())? {
                Some(v) => decode(v.value()),
                None => Ok(CommunityStanding::new(user)),
            }
        })
        .await
    }

    async fn update_standing(
        &self,
        user: UserId,
        moderator: bool,
        trusted: bool,
        audit: NewAuditEvent,
    ) -> Result<CommunityStanding> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            if txn.open_table(USERS)?.get(user.0.as_u128())?.is_none() {
                return Err(Error::NotFound);
            }
            let mut s = load_standing(&txn, user)?;
            s.moderator = moderator;
            s.trusted = trusted;
            txn.open_table(COMMUNITY_STANDING)?
                .insert(user.0.as_u128(), encode(&s)?.as_slice())?;
            insert_audit(&txn, clock.now(), audit.target(format!("user:{user}")))?;
            txn.commit()?;
            Ok(s)
        })
        .await
    }

    async fn create_community_prompt(
        &self,
        prompt: CommunityPrompt,
        decision: Decision,
        audit: NewAuditEvent,
    ) -> Result<CommunityPrompt> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            if txn
                .open_table(USERS)?
                .get(prompt.author.0.as_u128())?
                .is_none()
            {
                return Err(Error::NotFound);
            }
            add_reputation(
                &txn,
                prompt.author,
                reputation::for_decision(decision.action, false),
            )?;
            save_prompt(&txn, &prompt)?;
            txn.open_table(COMMUNITY_BY_AUTHOR)?
                .insert((prompt.author.0.as_u128(), prompt.id.0.as_u128()), ())?;
            push_decision(&txn, &decision)?;
            insert_audit(
                &txn,
                clock.now(),
                audit.target(format!("community_prompt:{}", prompt.id)),
            )?;
            txn.commit()?;
            Ok(prompt)
        })
        .await
    }

    async fn count_submissions_since(&self, user: UserId, since: OffsetDateTime) -> Result<u64> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let by_author = txn.open_table(COMMUNITY_BY_AUTHOR)?;
            let prompts = txn.open_table(COMMUNITY_PROMPTS)?;
            let u = user.0.as_u128();
            let mut n = 0;
            // Newest first; ids are time-ordered, so stop at the first older one.
            for entry in by_author.range((u, 0)..=(u, u128::MAX))?.rev() {
                let (k, _) = entry?;
                let Some(v) = prompts.get(k.value().1)? else {
                    continue;
                };
                let p: CommunityPrompt = decode(v.value())?;
                if p.created_at < since {
                    break;
                }
                n += 1;
            }
            Ok(n)
        })
        .await
    }

    async fn get_community_prompt(&self, id: CommunityPromptId) -> Result<CommunityPrompt> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(COMMUNITY_PROMPTS)?;
            let v = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
            decode(v.value())
        })
        .await
    }

    async fn list_community_prompts(
        &self,
        query: &CommunityQuery,
    ) -> Result<(Vec<CommunityPrompt>, u64)> {
        let query = query.clone();
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(COMMUNITY_PROMPTS)?;
            let mut items = Vec::new();
            for entry in table.iter()? {
                let (_, v) = entry?;
                let p: CommunityPrompt = decode(v.value())?;
                if query.matches(&p) {
                    items.push(p);
                }
            }
            let total = items.len() as u64;
            query.sort(&mut items);
            let page = items
                .into_iter()
                .skip(query.offset)
                .take(query.limit.min(crate::store::MAX_PAGE))
                .collect();
            Ok((page, total))
        })
        .await
    }

    async fn decide_community_prompt(
        &self,
        decision: Decision,
        audit: NewAuditEvent,
    ) -> Result<CommunityPrompt> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let mut p = load_prompt(&txn, decision.prompt.0.as_u128())?;
            apply_decision(&txn, &mut p, &decision)?;
            save_prompt(&txn, &p)?;
            insert_audit(
                &txn,
                clock.now(),
                audit.target(format!("community_prompt:{}", p.id)),
            )?;
            txn.commit()?;
            Ok(p)
        })
        .await
    }

    async fn list_decisions(&self, prompt: CommunityPromptId) -> Result<Vec<Decision>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(COMMUNITY_DECISIONS)?;
            let p = prompt.0.as_u128();
            table
                .range((p, 0)..=(p, u64::MAX))?
                .map(|e| decode(e?.1.value()))
                .collect()
        })
        .await
    }

    async fn rate_community_prompt(
        &self,
        prompt: CommunityPromptId,
        user: UserId,
        stars: u8,
    ) -> Result<CommunityPrompt> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let id = prompt.0.as_u128();
            let mut p = load_prompt(&txn, id)?;
            let old = txn
                .open_table(COMMUNITY_RATINGS)?
                .insert((id, user.0.as_u128()), stars)?
                .map(|v| v.value());
            p.rating_sum = p.rating_sum + u64::from(stars) - old.map_or(0, u64::from);
            if old.is_none() {
                p.rating_count += 1;
            }
            let delta = reputation::for_rating(stars) - old.map_or(0, reputation::for_rating);
            add_reputation(&txn, p.author, delta)?;
            save_prompt(&txn, &p)?;
            txn.commit()?;
            Ok(p)
        })
        .await
    }

    async fn find_rating(&self, prompt: CommunityPromptId, user: UserId) -> Result<Option<u8>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(COMMUNITY_RATINGS)?;
            Ok(table
                .get((prompt.0.as_u128(), user.0.as_u128()))?
                .map(|v| v.value()))
        })
        .await
    }

    async fn create_comment(&self, comment: Comment) -> Result<Comment> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let p = comment.prompt.0.as_u128();
            if txn.open_table(COMMUNITY_PROMPTS)?.get(p)?.is_none() {
                return Err(Error::NotFound);
            }
            txn.open_table(COMMUNITY_COMMENTS)?
                .insert(comment.id.0.as_u128(), encode(&comment)?.as_slice())?;
            txn.open_table(COMMENTS_BY_PROMPT)?
                .insert((p, comment.id.0.as_u128()), ())?;
            txn.commit()?;
            Ok(comment)
        })
        .await
    }

    async fn get_comment(&self, id: CommentId) -> Result<Comment> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(COMMUNITY_COMMENTS)?;
            let v = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
            decode(v.value())
        })
        .await
    }

    async fn update_comment(
        &self,
        id: CommentId,
        body: String,
        at: OffsetDateTime,
    ) -> Result<Comment> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let mut c: Comment = {
                let table = txn.open_table(COMMUNITY_COMMENTS)?;
                let v = table.get(id.0.as_u128())?.ok_or(Error::NotFound)?;
                decode(v.value())?
            };
            c.body = body;
            c.edited_at = Some(at);
            txn.open_table(COMMUNITY_COMMENTS)?
                .insert(id.0.as_u128(), encode(&c)?.as_slice())?;
            txn.commit()?;
            Ok(c)
        })
        .await
    }

    async fn delete_comment(&self, id: CommentId, audit: Option<NewAuditEvent>) -> Result<()> {
        self.blocking(move |db, clock| {
            let txn = db.begin_write()?;
            let c: Comment = {
                let mut table = txn.open_table(COMMUNITY_COMMENTS)?;
                let v = table.remove(id.0.as_u128())?.ok_or(Error::NotFound)?;
                decode(v.value())?
            };
            txn.open_table(COMMENTS_BY_PROMPT)?
                .remove((c.prompt.0.as_u128(), id.0.as_u128()))?;
            if let Some(audit) = audit {
                insert_audit(&txn, clock.now(), audit.target(format!("comment:{id}")))?;
            }
            txn.commit()?;
            Ok(())
        })
        .await
    }

    async fn list_comments(&self, prompt: CommunityPromptId) -> Result<Vec<Comment>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let index = txn.open_table(COMMENTS_BY_PROMPT)?;
            let comments = txn.open_table(COMMUNITY_COMMENTS)?;
            let p = prompt.0.as_u128();
            let mut out = Vec::new();
            for entry in index.range((p, 0)..=(p, u128::MAX))? {
                let (k, _) = entry?;
                if let Some(v) = comments.get(k.value().1)? {
                    out.push(decode(v.value())?);
                }
            }
            Ok(out)
        })
        .await
    }

    async fn flag_community_prompt(
        &self,
        flag: Flag,
        threshold: u32,
    ) -> Result<(CommunityPrompt, bool)> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let id = flag.prompt.0.as_u128();
            let mut p = load_prompt(&txn, id)?;
            {
                let mut flags = txn.open_table(COMMUNITY_FLAGS)?;
                let key = (id, flag.user.0.as_u128());
                if flags.get(key)?.is_some() {
                    return Ok((p, false));
                }
                flags.insert(key, encode(&flag)?.as_slice())?;
            }
            p.flag_count += 1;
            if p.status == PromptStatus::Approved && p.flag_count >= threshold {
                let d = Decision {
                    prompt: p.id,
                    moderator: None,
                    action: DecisionAction::Flagged,
                    reason: community::flagged_reason(p.flag_count),
                    at: flag.at,
                };
                apply_decision(&txn, &mut p, &d)?;
            }
            save_prompt(&txn, &p)?;
            txn.commit()?;
            Ok((p, true))
        })
        .await
    }

    async fn list_flags(&self, prompt: CommunityPromptId) -> Result<Vec<Flag>> {
        self.blocking(move |db, _| {
            let txn = db.begin_read()?;
            let table = txn.open_table(COMMUNITY_FLAGS)?;
            let p = prompt.0.as_u128();
            let mut out: Vec<Flag> = table
                .range((p, 0)..=(p, u128::MAX))?
                .map(|e| decode(e?.1.value()))
                .collect::<Result<_>>()?;
            out.sort_by_key(|f| f.at);
            Ok(out)
        })
        .await
    }

    async fn record_community_use(
        &self,
        prompt: CommunityPromptId,
        user: UserId,
        day: time::Date,
        fork: bool,
    ) -> Result<bool> {
        self.blocking(move |db, _| {
            let txn = db.begin_write()?;
            let id = prompt.0.as_u128();
            let mut p = load_prompt(&txn, id)?;
            {
                let mut uses = txn.open_table(COMMUNITY_USES)?;
                let key = (id, user.0.as_u128(), day.to_julian_day());
                if uses.get(key)?.is_some() {
                    return Ok(false);
                }
                uses.insert(key, fork)?;
            }
            p.usage_count += 1;
            if fork {
                add_reputation(&txn, p.author, reputation::FORKED)?;
            }
            save_prompt(&txn, &p)?;
            txn.commit()?;
            Ok(true)
        })
        .await
    }
}
