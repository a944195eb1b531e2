//! The form that makes an account (setup, registration, admin "create user"): its fields and
//! how they are parsed.

use maud::{Markup, html};
use serde::Deserialize;

use super::views::field;
use crate::auth::NewAccount;
use crate::error::{Error, Result};

/// What a new-account form posts. Missing fields are empty, so they get a field error.
#[derive(Deserialize, Default)]
pub struct AccountForm {
    /// Email.
    #[serde(default)]
    pub email: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Password; never rendered back.
    #[serde(default)]
    pub password: String,
    /// The admin form's "Administrator" checkbox.
    pub admin: Option<String>,
    /// Registration with an invite link: its token.
    #[serde(default)]
    pub invite: String,
}

impl AccountForm {
    /// Validates the input, naming the first bad field.
    pub fn parse(&self) -> Result<NewAccount> {
        NewAccount::parse(&self.email, &self.name, &self.password)
    }

    /// The email, name and password fields, keeping typed values except the password.
    /// `for_self` picks browser autofill hints for one's own account rather than someone else's.
    pub fn fields(&self, error: Option<&Error>, for_self: bool) -> Markup {
        let (email_hint, name_hint) = if for_self {
            ("email", "name")
        } else {
            ("off", "off")
        };
        html! {
            (field("email", "Email", "email", &self.email, email_hint, error))
            (field("name", "Name", "text", &self.name, name_hint, error))
            (field("password", "Password", "password", "", "new-password", error))
        }
    }
}
