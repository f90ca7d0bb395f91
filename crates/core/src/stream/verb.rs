//! What an action does, read from its last segment (`user.login` → log in, `doc.deleted` →
//! delete). Actions are free-form dotted names chosen by each vendor; these are the words in
//! common use (our fixtures, the foreign catalogues in `../shared/`), past tense or not.

/// The kind of thing an action did, as far as its name says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    Create,
    Read,
    Update,
    Delete,
    Login,
    Logout,
    Enable,
    Disable,
    Lock,
    Unlock,
    PasswordChange,
    PasswordReset,
    MfaEnable,
    MfaDisable,
    /// Nothing the name says that we know of.
    Other,
}

const WORDS: &[(&[&str], Verb)] = &[
    (
        &[
            "login",
            "logon",
            "signin",
            "sign_in",
            "log_in",
            "authenticated",
            "login_failed",
        ],
        Verb::Login,
    ),
    (
        &["logout", "logoff", "signout", "sign_out", "log_out"],
        Verb::Logout,
    ),
    (
        &["password_changed", "password_change", "password_updated"],
        Verb::PasswordChange,
    ),
    (
        &["password_reset", "password_reset_requested"],
        Verb::PasswordReset,
    ),
    (
        &["mfa_enabled", "mfa_enrolled", "mfa_added", "2fa_enabled"],
        Verb::MfaEnable,
    ),
    (
        &["mfa_disabled", "mfa_removed", "2fa_disabled"],
        Verb::MfaDisable,
    ),
    (
        &[
            "created",
            "create",
            "added",
            "add",
            "invited",
            "registered",
            "issued",
            "uploaded",
        ],
        Verb::Create,
    ),
    (
        &[
            "read",
            "viewed",
            "view",
            "listed",
            "list",
            "get",
            "fetched",
            "downloaded",
            "exported",
            "searched",
            "opened",
            "accessed",
        ],
        Verb::Read,
    ),
    (
        &[
            "updated", "update", "changed", "change", "modified", "edited", "renamed", "set",
            "moved", "granted", "assigned",
        ],
        Verb::Update,
    ),
    (
        &[
            "deleted",
            "delete",
            "removed",
            "remove",
            "revoked",
            "destroyed",
            "purged",
        ],
        Verb::Delete,
    ),
    (&["enabled", "activated", "restored"], Verb::Enable),
    (&["disabled", "deactivated", "suspended"], Verb::Disable),
    (&["locked"], Verb::Lock),
    (&["unlocked"], Verb::Unlock),
];

/// The verb of `action`: its last dotted segment, looked up in the words above.
pub fn verb_of(action: &str) -> Verb {
    let last = action.rsplit('.').next().unwrap_or(action);
    WORDS
        .iter()
        .find(|(words, _)| words.contains(&last))
        .map_or(Verb::Other, |(_, verb)| *verb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_segment_says_what_happened() {
        assert_eq!(verb_of("user.login"), Verb::Login);
        assert_eq!(verb_of("auth.session.logout"), Verb::Logout);
        assert_eq!(verb_of("user.password_changed"), Verb::PasswordChange);
        assert_eq!(verb_of("document.created"), Verb::Create);
        assert_eq!(verb_of("report.exported"), Verb::Read);
        assert_eq!(verb_of("project.renamed"), Verb::Update);
        assert_eq!(verb_of("api_key.revoked"), Verb::Delete);
        assert_eq!(verb_of("user.suspended"), Verb::Disable);
        // Only the last segment counts: `login.page.rendered` is not a login.
        assert_eq!(verb_of("login.page.rendered"), Verb::Other);
        assert_eq!(verb_of("billing.invoice.paid"), Verb::Other);
    }
}
