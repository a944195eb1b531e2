//! Newtype ids. Every id is a UUIDv7, so ids sort by creation time in both stores.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    };
}

id_type!(
    /// A user account.
    UserId
);
id_type!(
    /// An audit event.
    AuditId
);
id_type!(
    /// A login session; the public handle used to list and revoke it, never the token.
    SessionId
);
id_type!(
    /// A workspace (personal or shared).
    WorkspaceId
);
id_type!(
    /// A workspace invite.
    InviteId
);
id_type!(
    /// A prompt template.
    TemplateId
);
id_type!(
    /// A provider connection.
    ConnectionId
);
id_type!(
    /// A run: one call of a model.
    RunId
);
id_type!(
    /// An API key.
    ApiKeyId
);
id_type!(
    /// A community prompt.
    CommunityPromptId
);
id_type!(
    /// A comment on a community prompt.
    CommentId
);
