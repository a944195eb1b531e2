//! The community library's rules over the store: who sees what, who may moderate, the
//! submission limit, automatic approval of trusted users, ratings, comments, flags, usage and
//! forks. Every moderation decision and role change is an audit event. Handlers in `web` and
//! `api` only translate; nothing here knows HTTP.

use std::sync::Arc;

use time::OffsetDateTime;

use crate::clock::Clock;
use crate::config::CommunityConfig;
use crate::domain::community::{validate_comment, validate_reason, validate_stars};
use crate::domain::{
    Comment, CommentId, CommunityPrompt, CommunityPromptId, CommunityQuery, CommunityStanding,
    Decision, DecisionAction, Flag, NewAuditEvent, PromptStatus, Role, Submission, Template,
    TemplateVersion, User, UserId, WorkspaceId,
};
use crate::error::{Error, Result};
use crate::store::Store;
use crate::templates::Templates;

/// What a moderator may do to a prompt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Moderation {
    /// Make it public.
    Approve,
    /// Refuse it (pending or flagged), with a reason.
    Reject,
    /// Take it down (approved or flagged), with a reason.
    Hide,
}

impl Moderation {
    /// Parses `approve`, `reject` or `hide`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "approve" => Ok(Self::Approve),
            "reject" => Ok(Self::Reject),
            "hide" => Ok(Self::Hide),
            _ => Err(Error::invalid(
                "action",
                format!("unknown action `{s}`: use approve, reject or hide"),
            )),
        }
    }

    fn action(self) -> DecisionAction {
        match self {
            Self::Approve => DecisionAction::Approved,
            Self::Reject => DecisionAction::Rejected,
            Self::Hide => DecisionAction::Hidden,
        }
    }

    /// Whether it applies to a prompt in `status`.
    fn applies_to(self, status: PromptStatus) -> bool {
        match self {
            Self::Approve => status != PromptStatus::Approved,
            Self::Reject => status.in_queue(),
            Self::Hide => matches!(status, PromptStatus::Approved | PromptStatus::Flagged),
        }
    }
}

/// The community rules; cheap to clone.
#[derive(Clone)]
pub struct Community {
    store: Arc<dyn Store>,
    clock: Clock,
    config: CommunityConfig,
    templates: Templates,
}

impl Community {
    /// The service over `store`.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Clock,
        config: CommunityConfig,
        templates: Templates,
    ) -> Self {
        Self {
            store,
            clock,
            config,
            templates,
        }
    }

    /// The rules in force.
    pub fn config(&self) -> &CommunityConfig {
        &self.config
    }

    /// `user`'s effective standing: instance admins always moderate; a reputation at the
    /// configured threshold makes a user trusted.
    pub async fn standing(&self, user: &User) -> Result<CommunityStanding> {
        let mut s = self.store.get_standing(user.id).await?;
        s.moderator |= user.is_admin();
        s.trusted |=
            self.config.trusted_reputation > 0 && s.reputation >= self.config.trusted_reputation;
        Ok(s)
    }

    /// How many submissions wait for a moderator (pending or flagged); 0 for anyone who does
    /// not moderate.
    pub async fn waiting(&self, viewer: &CommunityStanding) -> Result<u64> {
        if !viewer.moderator {
            return Ok(0);
        }
        let query = CommunityQuery {
            viewer: Some(viewer.clone()),
            statuses: vec![PromptStatus::Pending, PromptStatus::Flagged],
            limit: 1,
            ..CommunityQuery::default()
        };
        Ok(self.list(&query).await?.1)
    }

    /// A prompt `viewer` may see; `NotFound` for one they may not (as if it did not exist).
    pub async fn get(
        &self,
        viewer: &CommunityStanding,
        id: CommunityPromptId,
    ) -> Result<CommunityPrompt> {
        let p = self.store.get_community_prompt(id).await?;
        if p.visible_to(Some(viewer)) {
            Ok(p)
        } else {
            Err(Error::NotFound)
        }
    }

    /// A page of prompts (the query's viewer decides what is included).
    pub async fn list(&self, query: &CommunityQuery) -> Result<(Vec<CommunityPrompt>, u64)> {
        self.store.list_community_prompts(query).await
    }

    /// Submits a prompt: pending, or approved at once for a trusted author; refused past the
    /// daily limit.
    pub async fn submit(
        &self,
        author: &User,
        submission: Submission,
        ip: Option<String>,
    ) -> Result<CommunityPrompt> {
        let submission = submission.validated()?;
        let now = self.clock.now();
        let recent = self
            .store
            .count_submissions_since(author.id, now - time::Duration::days(1))
            .await?;
        if recent >= u64::from(self.config.submissions_per_day) {
            return Err(Error::Denied(format!(
                "you have submitted {recent} prompts in the last 24 hours, the most this \
                 instance allows; try again tomorrow"
            )));
        }
        let standing = self.standing(author).await?;
        let action = if standing.trusted {
            DecisionAction::AutoApproved
        } else {
            DecisionAction::Submitted
        };
        let prompt = submission.into_prompt(author.id, action.status(), now);
        let decision = Decision {
            prompt: prompt.id,
            moderator: None,
            action,
            reason: String::new(),
            at: now,
        };
        let audit = NewAuditEvent::new(Some(author.id), &format!("community.{}", action.as_str()))
            .ip(ip)
            .target(format!("community_prompt:{}", prompt.id));
        self.store
            .create_community_prompt(prompt, decision, audit)
            .await
    }

    /// A moderator's decision, with a reason the author sees (required to reject or hide).
    pub async fn moderate(
        &self,
        moderator: &User,
        id: CommunityPromptId,
        what: Moderation,
        reason: &str,
        ip: Option<String>,
    ) -> Result<CommunityPrompt> {
        let standing = self.standing(moderator).await?;
        if !standing.moderator {
            return Err(Error::Forbidden);
        }
        let reason = validate_reason(reason, what != Moderation::Approve)?;
        let p = self.store.get_community_prompt(id).await?;
        if !what.applies_to(p.status) {
            return Err(Error::conflict(
                "action",
                format!(
                    "the prompt is {}; it cannot be {}",
                    p.status.as_str(),
                    what.action().as_str()
                ),
            ));
        }
        let decision = Decision {
            prompt: id,
            moderator: Some(moderator.id),
            action: what.action(),
            reason: reason.clone(),
            at: self.clock.now(),
        };
        let mut audit = NewAuditEvent::new(
            Some(moderator.id),
            &format!("community.{}", what.action().as_str()),
        )
        .ip(ip)
        .target(format!("community_prompt:{id}"));
        audit.detail = reason;
        self.store.decide_community_prompt(decision, audit).await
    }

    /// A prompt's moderation history and open flags (moderators and the author only).
    pub async fn history(
        &self,
        viewer: &CommunityStanding,
        id: CommunityPromptId,
    ) -> Result<(Vec<Decision>, Vec<Flag>)> {
        let p = self.get(viewer, id).await?;
        if !(viewer.moderator || viewer.user == p.author) {
            return Err(Error::NotFound);
        }
        let decisions = self.store.list_decisions(id).await?;
        let flags = if viewer.moderator {
            self.store.list_flags(id).await?
        } else {
            Vec::new()
        };
        Ok((decisions, flags))
    }

    /// Rates an approved prompt 1 to 5 stars (again to change it); not one's own.
    pub async fn rate(
        &self,
        viewer: &CommunityStanding,
        id: CommunityPromptId,
        stars: u8,
    ) -> Result<CommunityPrompt> {
        let stars = validate_stars(stars)?;
        let p = self.get(viewer, id).await?;
        if p.author == viewer.user {
            return Err(Error::Denied("you cannot rate your own prompt".into()));
        }
        if p.status != PromptStatus::Approved {
            return Err(Error::conflict(
                "stars",
                "only approved prompts can be rated",
            ));
        }
        self.store
            .rate_community_prompt(id, viewer.user, stars)
            .await
    }

    /// `viewer`'s own rating.
    pub async fn my_rating(
        &self,
        viewer: &CommunityStanding,
        id: CommunityPromptId,
    ) -> Result<Option<u8>> {
        self.store.find_rating(id, viewer.user).await
    }

    /// The comments on a prompt `viewer` may see.
    pub async fn comments(
        &self,
        viewer: &CommunityStanding,
        id: CommunityPromptId,
    ) -> Result<Vec<Comment>> {
        self.get(viewer, id).await?;
        self.store.list_comments(id).await
    }

    /// Adds a comment (Markdown, sanitised when shown).
    pub async fn comment(
        &self,
        viewer: &CommunityStanding,
        id: CommunityPromptId,
        body: &str,
    ) -> Result<Comment> {
        let body = validate_comment(body)?;
        self.get(viewer, id).await?;
        self.store
            .create_comment(Comment {
                id: CommentId::new(),
                prompt: id,
                author: viewer.user,
                body,
                created_at: self.clock.now(),
                edited_at: None,
            })
            .await
    }

    /// Edits one's own comment.
    pub async fn edit_comment(
        &self,
        viewer: &CommunityStanding,
        id: CommentId,
        body: &str,
    ) -> Result<Comment> {
        let body = validate_comment(body)?;
        let c = self.visible_comment(viewer, id).await?;
        if c.author != viewer.user {
            return Err(Error::Denied("only its author can edit a comment".into()));
        }
        self.store.update_comment(id, body, self.clock.now()).await
    }

    /// Deletes a comment: its author, or a moderator (audited).
    pub async fn delete_comment(
        &self,
        viewer: &CommunityStanding,
        id: CommentId,
        ip: Option<String>,
    ) -> Result<CommunityPromptId> {
        let c = self.visible_comment(viewer, id).await?;
        let audit = if c.author == viewer.user {
            None
        } else if viewer.moderator {
            Some(NewAuditEvent::new(Some(viewer.user), "community.comment_delete").ip(ip))
        } else {
            return Err(Error::Denied(
                "only its author or a moderator can delete a comment".into(),
            ));
        };
        self.store.delete_comment(id, audit).await?;
        Ok(c.prompt)
    }

    async fn visible_comment(&self, viewer: &CommunityStanding, id: CommentId) -> Result<Comment> {
        let c = self.store.get_comment(id).await?;
        self.get(viewer, c.prompt).await?;
        Ok(c)
    }

    /// Flags an approved prompt with a reason; at the configured count it is hidden for review.
    pub async fn flag(
        &self,
        viewer: &CommunityStanding,
        id: CommunityPromptId,
        reason: &str,
    ) -> Result<(CommunityPrompt, bool)> {
        let reason = validate_reason(reason, true)?;
        let p = self.get(viewer, id).await?;
        if p.author == viewer.user {
            return Err(Error::Denied("you cannot flag your own prompt".into()));
        }
        if p.status != PromptStatus::Approved {
            return Err(Error::conflict(
                "reason",
                "only approved prompts can be flagged",
            ));
        }
        let flag = Flag {
            prompt: id,
            user: viewer.user,
            reason,
            at: self.clock.now(),
        };
        let (after, counted) = self
            .store
            .flag_community_prompt(flag, self.config.flag_threshold)
            .await?;
        if after.status == PromptStatus::Flagged {
            // The flag that took it down is recorded like a moderator's decision.
            let mut audit = NewAuditEvent::new(Some(viewer.user), "community.flagged")
                .target(format!("community_prompt:{id}"));
            audit.detail = format!("{} flags", after.flag_count);
            self.store.create_audit_event(audit).await?;
        }
        Ok((after, counted))
    }

    /// Counts a run of the prompt by `viewer` (once per user per day).
    pub async fn record_run(
        &self,
        viewer: &CommunityStanding,
        id: CommunityPromptId,
    ) -> Result<bool> {
        let p = self.get(viewer, id).await?;
        self.count_use(viewer, &p, false).await
    }

    async fn count_use(
        &self,
        viewer: &CommunityStanding,
        p: &CommunityPrompt,
        fork: bool,
    ) -> Result<bool> {
        // Authors using their own prompt, and prompts not yet public, do not count.
        if p.author == viewer.user || p.status != PromptStatus::Approved {
            return Ok(false);
        }
        self.store
            .record_community_use(p.id, viewer.user, self.clock.now().date(), fork)
            .await
    }

    /// Forks a prompt into a template of `workspace` (where `user` must be an editor),
    /// naming the source in the first version's message.
    pub async fn fork(
        &self,
        user: &User,
        id: CommunityPromptId,
        workspace: WorkspaceId,
        ip: Option<String>,
    ) -> Result<(Template, TemplateVersion)> {
        let viewer = self.standing(user).await?;
        let p = self.get(&viewer, id).await?;
        let role = self
            .store
            .find_member(workspace, user.id)
            .await?
            .map(|m| m.role)
            .ok_or(Error::NotFound)?;
        if role < Role::Editor {
            return Err(Error::Denied(
                "you need to be an editor of that workspace to add templates to it".into(),
            ));
        }
        let message = format!("Forked from community prompt {} ({})", p.id, p.content.name);
        let created = self
            .templates
            .create(user, Some(workspace), p.content.clone(), &message, ip)
            .await?;
        self.count_use(&viewer, &p, true).await?;
        Ok(created)
    }

    /// Sets a user's moderator and trusted marks (instance admins only).
    pub async fn set_standing(
        &self,
        admin: &User,
        user: UserId,
        moderator: bool,
        trusted: bool,
        ip: Option<String>,
    ) -> Result<CommunityStanding> {
        if !admin.is_admin() {
            return Err(Error::Forbidden);
        }
        let mut audit = NewAuditEvent::new(Some(admin.id), "community.standing").ip(ip);
        audit.detail = format!("moderator: {moderator}, trusted: {trusted}");
        self.store
            .update_standing(user, moderator, trusted, audit)
            .await
    }

    /// The display name of a user shown next to prompts, comments and decisions; a deleted
    /// account shows as such rather than failing the page.
    pub async fn name_of(&self, id: UserId) -> Result<String> {
        match self.store.get_user(id).await {
            Ok(u) => Ok(u.name.to_string()),
            Err(Error::NotFound) => Ok("(deleted user)".into()),
            Err(e) => Err(e),
        }
    }

    /// The current time (for views that show ages).
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }
}
