//! Accounts: registration, the admin commands, profiles and lookups.

use ferrodon_domain::model::{
    Account, NewLocalAccount, ProfileField, ProfileImage, ProfileUpdate, Role, User, UserPreferences, Visibility,
};
use ferrodon_domain::ports::{RelatedAccounts, Tx};
use ferrodon_domain::rules::text;
use ferrodon_kernel::{Error, Id, Page, PageRequest, Result};
use rand::Rng;

use crate::auth::{Caller, Viewer, hash_password, now};
use crate::media::Upload;
use crate::oauth::IssuedToken;
use crate::{Services, limits};

/// What an admin command or a registration asks for.
pub struct NewAccount<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    pub confirmed: bool,
    pub approved: bool,
    pub role: Role,
    pub locale: &'a str,
}

fn validate_username(username: &str) -> Result<()> {
    if username.is_empty() {
        return Err(Error::field("username", "ERR_BLANK", "can't be blank"));
    }
    if username.chars().count() > limits::USERNAME_MAX_CHARS {
        return Err(Error::field("username", "ERR_TOO_LONG", "is too long (maximum is 30 characters)"));
    }
    if !username.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(Error::field("username", "ERR_INVALID", "must contain only letters, numbers and underscores"));
    }
    const RESERVED: &[&str] = &["admin", "support", "help", "root", "webmaster", "administrator", "mod", "moderator"];
    if RESERVED.contains(&username.to_lowercase().as_str()) {
        return Err(Error::field("username", "ERR_RESERVED", "is reserved"));
    }
    Ok(())
}

/// Whitespace as Ruby's `\s` and `String#strip` know it.
fn ruby_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0b' | '\x0c')
}

/// An e-mail address as Devise keeps it: without the whitespace around it
/// (`strip_whitespace_keys`; it is lower-cased when stored).
pub(crate) fn normalize_email(email: &str) -> &str {
    email.trim_matches(|c| ruby_space(c) || c == '\0')
}

/// Devise's format check, which Mastodon keeps (`/\A[^@\s]+@[^@\s]+\z/`): one `@` with
/// something on each side and no whitespace. `x@localhost` is an address.
pub(crate) fn validate_email(email: &str) -> Result<()> {
    if email.is_empty() {
        return Err(Error::field("email", "ERR_BLANK", "can't be blank"));
    }
    // Nothing a mail library would read as more than an address (`<a@b>`, a display name, a
    // list): the address checked is the address mailed.
    let ok = email.split_once('@').is_some_and(|(local, domain)| {
        !local.is_empty()
            && !domain.is_empty()
            && !domain.contains('@')
            && !email.contains(ruby_space)
            && !email.contains(['<', '>', '(', ')', '[', ']', ',', ';', ':', '"', '\\'])
    });
    if ok { Ok(()) } else { Err(Error::field("email", "ERR_INVALID", "is invalid")) }
}

/// `EMAIL_DOMAIN_DENYLIST` and `EMAIL_DOMAIN_ALLOWLIST` (Mastodon's): an address at a denied
/// domain (or a subdomain of one), or at none of the allowed ones when some are, may not sign
/// up or be moved to.
pub(crate) fn check_email_domain(svc: &Services, email: &str) -> Result<()> {
    let domain = email.rsplit_once('@').map(|(_, d)| d.to_ascii_lowercase()).unwrap_or_default();
    let covers = |list: &[String]| list.iter().any(|d| domain == *d || domain.ends_with(&format!(".{d}")));
    let (deny, allow) = (&svc.config.email_domain_denylist, &svc.config.email_domain_allowlist);
    if covers(deny) || (!allow.is_empty() && !covers(allow)) {
        return Err(Error::field("email", "ERR_BLOCKED", "is not allowed"));
    }
    Ok(())
}

pub(crate) fn validate_password(password: &str) -> Result<()> {
    if password.is_empty() {
        return Err(Error::field("password", "ERR_BLANK", "can't be blank"));
    }
    if password.chars().count() < 8 {
        return Err(Error::field("password", "ERR_TOO_SHORT", "is too short (minimum is 8 characters)"));
    }
    if password.len() > 72 {
        return Err(Error::field("password", "ERR_TOO_LONG", "is too long (maximum is 72 characters)"));
    }
    Ok(())
}

/// A password as tootctl prints it: 32 hex characters.
pub fn generate_password() -> String {
    let mut rng = rand::rng();
    (0..32).map(|_| format!("{:x}", rng.random_range(0..16u8))).collect()
}

/// Creates a local account (CLI). A taken username or e-mail is a field error.
pub async fn create(svc: &Services, new: NewAccount<'_>) -> Result<(Account, User)> {
    let record = prepare(svc, &new, Vec::new()).await?;
    let mut tx = svc.db.write().await?;
    let created = tx.create_local_account(&record, now()).await?;
    tx.commit().await?;
    Ok(created)
}

/// A new account's row: checked (every invalid field, `errors` the caller found included, in one
/// error), its password hashed.
async fn prepare(svc: &Services, new: &NewAccount<'_>, mut errors: Vec<Error>) -> Result<NewLocalAccount> {
    let email = normalize_email(new.email);
    let username_ok = validate_username(new.username).map_err(|e| errors.push(e)).is_ok();
    let email_ok = validate_email(email).map_err(|e| errors.push(e)).is_ok();
    if let Err(e) = validate_password(new.password) {
        errors.push(e);
    }
    {
        let mut tx = svc.db.read().await?;
        if username_ok && tx.account_by_username(new.username, "").await?.is_some() {
            errors.push(Error::field("username", "ERR_TAKEN", "has already been taken"));
        }
        if email_ok && tx.user_by_email(email).await?.is_some() {
            errors.push(Error::field("email", "ERR_TAKEN", "has already been taken"));
        }
    }
    // Every invalid field at once, as Mastodon answers.
    Error::all_fields(errors)?;
    let encrypted_password = hash_password(new.password).await?;
    let base = svc.base_url();
    let record = NewLocalAccount {
        username: new.username.to_string(),
        email: email.to_string(),
        encrypted_password,
        confirmed: new.confirmed,
        approved: new.approved,
        role: new.role,
        locale: new.locale.to_string(),
        uri: format!("{base}/users/{}", new.username),
        url: format!("{base}/@{}", new.username),
    };
    Ok(record)
}

/// What someone signing up gives: on the sign-up page, or through an app (`POST
/// /api/v1/accounts`).
pub struct SignUp<'a> {
    pub username: &'a str,
    pub email: &'a str,
    pub password: &'a str,
    /// The password typed again (the page asks for it; the API does not).
    pub password_confirmation: Option<&'a str>,
    pub agreement: bool,
    pub locale: &'a str,
    /// The code of an invitation (`/invite/:code`, or `invite_code` through the API).
    pub invite_code: Option<&'a str>,
    /// Why they want to join, for the moderators when sign-ups are reviewed (at most 500
    /// characters, as Mastodon).
    pub reason: Option<&'a str>,
}

/// A sign-up checked against the registrations mode and every rule (every invalid field at
/// once): the account's row to write.
async fn admit(svc: &Services, s: &SignUp<'_>) -> Result<NewLocalAccount> {
    use ferrodon_config::RegistrationsMode;
    let mode = crate::settings::current_registrations_mode(svc).await?;
    // An invitation opens the door, closed or reviewed.
    let invited = match s.invite_code.filter(|c| !c.is_empty()) {
        Some(code) => Some(
            crate::invites::valid(svc, code)
                .await?
                .ok_or_else(|| Error::field("invite_code", "ERR_INVALID", "is invalid or has expired"))?,
        ),
        None => None,
    };
    if mode == RegistrationsMode::None && invited.is_none() {
        return Err(Error::forbidden("Registrations are closed"));
    }
    let mut errors = Vec::new();
    if !s.agreement {
        errors.push(Error::field("agreement", "ERR_ACCEPTED", "must be accepted"));
    }
    if let Err(e) = check_email_domain(svc, normalize_email(s.email)) {
        errors.push(e);
    }
    if s.reason.is_some_and(|r| r.chars().count() > 500) {
        errors.push(Error::field("reason", "ERR_TOO_LONG", "is too long (maximum is 500 characters)"));
    }
    if s.password_confirmation.is_some_and(|c| c != s.password) {
        errors.push(Error::field("password_confirmation", "ERR_INVALID", "doesn't match Password"));
    }
    let approved = mode == RegistrationsMode::Open || invited.is_some();
    let new = NewAccount {
        username: s.username,
        email: s.email,
        password: s.password,
        confirmed: false,
        approved,
        role: Role::User,
        locale: s.locale,
    };
    prepare(svc, &new, errors).await
}

/// Counts a sign-up against its invitation, in the sign-up's transaction (refused if another
/// took its last use meanwhile).
async fn use_invite(tx: &mut Box<dyn Tx>, code: Option<&str>) -> Result<()> {
    match code.filter(|c| !c.is_empty()) {
        Some(code) if !tx.use_invite(code, now()).await? => {
            Err(Error::field("invite_code", "ERR_INVALID", "is invalid or has expired"))
        }
        _ => Ok(()),
    }
}

/// The sign-up page (`POST /auth`): the account, unconfirmed, and its confirmation mail, in one
/// transaction.
pub async fn sign_up(svc: &Services, s: SignUp<'_>) -> Result<Account> {
    let record = admit(svc, &s).await?;
    let mut tx = svc.db.write().await?;
    let (account, user) = tx.create_local_account(&record, now()).await?;
    use_invite(&mut tx, s.invite_code).await?;
    crate::effects::signed_up(svc, &mut tx, &user, &account, s.reason.unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(account)
}

/// `POST /api/v1/accounts`: registration with an app token. Returns a user token, like Mastodon;
/// the confirmation mail goes out with it.
pub async fn register(svc: &Services, caller: &Caller, s: SignUp<'_>) -> Result<IssuedToken> {
    let (app, scopes) = match caller {
        Caller::App(a) => (a.app.clone(), a.scopes.clone()),
        Caller::Anonymous => return Err(Error::unauthorized("The access token is invalid")),
        Caller::User(_) => return Err(Error::forbidden("This method requires an app token")),
    };
    if !scopes.allows("write:accounts") {
        return Err(Error::forbidden("This action is outside the authorized scopes"));
    }
    let record = admit(svc, &s).await?;
    // The account, the app's token for it and the confirmation mail: all of it, or none.
    let mut tx = svc.db.write().await?;
    let (account, user) = tx.create_local_account(&record, now()).await?;
    use_invite(&mut tx, s.invite_code).await?;
    // The token belongs to the registering app and carries its scopes.
    let raw = crate::auth::random_token();
    let token = ferrodon_domain::model::AccessToken {
        id: Id::generate(),
        application_id: app.id,
        user_id: Some(user.id),
        token_hash: crate::auth::hash_secret(&raw),
        scopes: app.scopes.clone(),
        created_at: now(),
        revoked_at: None,
    };
    tx.create_token(&token).await?;
    crate::effects::signed_up(svc, &mut tx, &user, &account, s.reason.unwrap_or_default()).await?;
    tx.commit().await?;
    Ok(IssuedToken { access_token: raw, token })
}

/// Changes requested by `ferrodon accounts modify`.
#[derive(Default)]
pub struct Modification {
    pub reset_password: bool,
    pub role: Option<Role>,
    pub confirm: bool,
    pub approve: bool,
    pub disable: bool,
    pub enable: bool,
}

/// Applies an admin modification; returns a new password when one was generated.
pub async fn modify(svc: &Services, username: &str, m: Modification) -> Result<Option<String>> {
    let mut tx = svc.db.write().await?;
    let account = tx.account_by_username(username, "").await?.ok_or_else(Error::not_found)?;
    let user = tx.user_by_account(account.id).await?.ok_or_else(Error::not_found)?;
    if let Some(role) = m.role {
        tx.set_user_role(user.id, role).await?;
    }
    let confirmed_at = if m.confirm { user.confirmed_at.or(Some(now())) } else { user.confirmed_at };
    let approved = user.approved || m.approve || m.confirm;
    let disabled = if m.disable {
        true
    } else if m.enable {
        false
    } else {
        user.disabled
    };
    tx.set_user_flags(user.id, confirmed_at, approved, disabled).await?;
    if approved && !user.approved {
        let message = ferrodon_domain::model::MailMessage::AccountApproved;
        crate::effects::mail_sent(&mut tx, crate::mail::mail(svc, &user, &account, &user.email, message)).await?;
    }
    if m.disable {
        tx.revoke_user_tokens(user.id, now()).await?;
    }
    if m.disable || m.reset_password {
        // A reset link mailed before no longer works.
        tx.delete_mail_tokens(user.id, ferrodon_domain::model::MailTokenKind::ResetPassword).await?;
    }
    if m.disable || m.reset_password {
        crate::effects::signed_out_everywhere(svc, &mut tx, account.id).await?;
    }
    let mut password = None;
    if m.reset_password {
        let p = generate_password();
        tx.set_user_password(user.id, &hash_password(&p).await?).await?;
        tx.revoke_user_tokens(user.id, now()).await?;
        password = Some(p);
    }
    tx.commit().await?;
    Ok(password)
}

/// Deletes a local account with everything it owns (its files once that commits).
pub async fn delete(svc: &Services, username: &str) -> Result<()> {
    let mut tx = svc.db.write().await?;
    let account = tx.account_by_username(username, "").await?.ok_or_else(Error::not_found)?;
    let media = tx.all_media_of_account(account.id).await?;
    tx.delete_account(account.id).await?;
    crate::effects::media_removed(&mut tx, &media).await?;
    let images = [account.avatar_file, account.header_file].into_iter().flatten().collect();
    crate::effects::files_dropped(&mut tx, images).await?;
    tx.commit().await
}

/// The owner's password, asked before a change to the login itself.
async fn check_current_password(user: &User, password: &str) -> Result<()> {
    if crate::auth::verify_password(password, &user.encrypted_password).await {
        Ok(())
    } else {
        Err(Error::field("current_password", "ERR_INVALID", "is invalid"))
    }
}

/// A new password, the current one given: every app and browser signed in is signed out but the
/// browser session `keep` that changed it, reset links are spent, and the owner is told by mail.
pub async fn change_password(
    svc: &Services,
    user: &User,
    keep: Option<Id>,
    current: &str,
    new: &str,
    confirmation: &str,
) -> Result<()> {
    check_current_password(user, current).await?;
    validate_password(new)?;
    if new != confirmation {
        return Err(Error::field("password_confirmation", "ERR_INVALID", "doesn't match Password"));
    }
    let encrypted = hash_password(new).await?;
    let mut tx = svc.db.write().await?;
    let account = tx.account_by_id(user.account_id).await?.ok_or_else(Error::not_found)?;
    tx.set_user_password(user.id, &encrypted).await?;
    tx.revoke_user_tokens(user.id, now()).await?;
    if let Some(session) = keep {
        tx.set_web_session_user(session, Some(user.id)).await?;
    }
    tx.delete_mail_tokens(user.id, ferrodon_domain::model::MailTokenKind::ResetPassword).await?;
    crate::effects::signed_out_everywhere(svc, &mut tx, account.id).await?;
    let mail =
        crate::mail::mail(svc, user, &account, &user.email, ferrodon_domain::model::MailMessage::PasswordChanged);
    crate::effects::mail_sent(&mut tx, mail).await?;
    tx.commit().await
}

/// A new e-mail address, the password given: a link to confirm it goes to the new address (the
/// account keeps the old one until it is opened), and the old address is told.
pub async fn change_email(svc: &Services, user: &User, new: &str, current: &str) -> Result<()> {
    check_current_password(user, current).await?;
    let new = normalize_email(new).to_lowercase();
    validate_email(&new)?;
    check_email_domain(svc, &new)?;
    if new == user.email {
        return Err(Error::field("email", "ERR_INVALID", "is your address already"));
    }
    let mut tx = svc.db.write().await?;
    if tx.user_by_email(&new).await?.is_some() {
        return Err(Error::field("email", "ERR_TAKEN", "has already been taken"));
    }
    let account = tx.account_by_id(user.account_id).await?.ok_or_else(Error::not_found)?;
    crate::mail::send_confirmation(svc, &mut tx, user, &account, &new).await?;
    let notice = ferrodon_domain::model::MailMessage::EmailChanged { new_email: new.clone() };
    crate::effects::mail_sent(&mut tx, crate::mail::mail(svc, user, &account, &user.email, notice)).await?;
    tx.commit().await
}

/// The owner deletes their account, the password given: everything it owns goes, as with
/// `ferrodon accounts delete`.
pub async fn delete_own(svc: &Services, user: &User, password: &str) -> Result<()> {
    check_current_password(user, password).await?;
    let account = get(svc, user.account_id).await?;
    delete(svc, &account.username).await
}

async fn follow_requests_count(tx: &mut Box<dyn Tx>, account_id: Id) -> Result<i64> {
    let page = PageRequest { limit: 1000, ..Default::default() };
    Ok(tx.list_related_accounts(RelatedAccounts::FollowRequests(account_id), &page).await?.len() as i64)
}

/// The signed-in user's own account, as `verify_credentials` shows it: with the user (its
/// posting defaults and role) and the number of follow requests waiting.
pub struct Credentials {
    pub account: Account,
    pub user: User,
    pub follow_requests_count: i64,
}

/// `GET /api/v1/accounts/verify_credentials`.
pub async fn verify_credentials(svc: &Services, caller: &Caller) -> Result<Credentials> {
    let me = match caller.require_user("read:accounts") {
        Ok(v) => v,
        Err(e) if e.kind == ferrodon_kernel::ErrorKind::Forbidden => caller.require_user("profile")?,
        Err(e) => return Err(e),
    };
    let mut tx = svc.db.read().await?;
    let follow_requests_count = follow_requests_count(&mut tx, me.account.id).await?;
    Ok(Credentials { account: me.account.clone(), user: me.user.clone(), follow_requests_count })
}

/// `PATCH /api/v1/accounts/update_credentials`: absent fields stay as they are.
#[derive(Default, Debug)]
pub struct CredentialsUpdate {
    pub display_name: Option<String>,
    pub note: Option<String>,
    pub locked: Option<bool>,
    pub bot: Option<bool>,
    pub discoverable: Option<bool>,
    pub indexable: Option<bool>,
    pub hide_collections: Option<bool>,
    pub fields: Option<Vec<ProfileField>>,
    pub privacy: Option<String>,
    pub sensitive: Option<bool>,
    pub language: Option<String>,
    pub avatar: Option<Upload>,
    pub header: Option<Upload>,
}

pub async fn update_credentials(svc: &Services, me: &Viewer, u: CredentialsUpdate) -> Result<Credentials> {
    update_profile(svc, &me.user, &me.account, u).await
}

/// The profile and posting defaults of `account` (user `user`) changed: by an app
/// (`update_credentials`) or on the settings page.
pub async fn update_profile(svc: &Services, user: &User, a: &Account, u: CredentialsUpdate) -> Result<Credentials> {
    let display_name = u.display_name.unwrap_or_else(|| a.display_name.clone());
    if display_name.chars().count() > limits::MAX_DISPLAY_NAME_CHARS {
        return Err(Error::validation("Validation failed: Display name is too long (maximum is 30 characters)"));
    }
    let note_source = u.note.unwrap_or_else(|| a.note_source.clone());
    if note_source.chars().count() > limits::MAX_NOTE_CHARS {
        return Err(Error::validation("Validation failed: Note is too long (maximum is 500 characters)"));
    }
    let fields = match u.fields {
        None => a.fields(),
        Some(f) => f.into_iter().filter(|f| !(f.name.trim().is_empty() && f.value.trim().is_empty())).collect(),
    };
    if fields.len() > limits::MAX_PROFILE_FIELDS {
        return Err(Error::validation("Validation failed: Fields is too long (maximum is 4 fields)"));
    }
    if fields.iter().any(|f| {
        f.name.chars().count() > limits::PROFILE_FIELD_NAME_CHARS
            || f.value.chars().count() > limits::PROFILE_FIELD_VALUE_CHARS
    }) {
        return Err(Error::validation("Validation failed: Fields is too long (maximum is 255 characters)"));
    }
    let prefs = UserPreferences {
        default_visibility: match u.privacy.as_deref() {
            None => user.default_visibility,
            Some(p) => Visibility::parse(p)
                .filter(|v| *v != Visibility::Direct)
                .ok_or_else(|| Error::validation("Validation failed: Privacy is not included in the list"))?,
        },
        default_sensitive: u.sensitive.unwrap_or(user.default_sensitive),
        default_language: match u.language {
            None => user.default_language.clone(),
            Some(l) if l.is_empty() => None,
            Some(l) => Some(l),
        },
    };
    // The note and the emoji are read in the transaction (mentions and emoji looked up there).
    let update = ProfileUpdate {
        display_name,
        note_source,
        note: String::new(),
        fields_json: serde_json::to_string(&fields).map_err(Error::internal)?,
        locked: u.locked.unwrap_or(a.locked),
        bot: u.bot.unwrap_or(a.bot),
        discoverable: u.discoverable.unwrap_or(a.discoverable),
        indexable: u.indexable.unwrap_or(a.indexable),
        hide_collections: u.hide_collections.unwrap_or(a.hide_collections),
        emojis_json: String::new(),
    };
    // The images are processed and stored first; the row then names them, or they go again.
    let mut images = Vec::new();
    for (kind, file) in [(ProfileImage::Avatar, u.avatar), (ProfileImage::Header, u.header)] {
        let Some(file) = file else { continue };
        match crate::media::store_profile_image(svc, file, kind, a.id, false).await {
            Ok(key) => images.push((kind, key)),
            Err(e) => {
                crate::media::discard_files(svc, images.into_iter().map(|(_, k)| k).collect()).await;
                return Err(e);
            }
        }
    }
    let stored: Vec<String> = images.iter().map(|(_, k)| k.clone()).collect();
    let images: Vec<_> = images.into_iter().map(|(kind, key)| (kind, Some(key))).collect();
    let written = write_credentials(svc, user.id, a.id, update, prefs, &images).await;
    if written.is_err() {
        crate::media::discard_files(svc, stored).await;
    }
    written
}

async fn write_credentials(
    svc: &Services,
    user_id: Id,
    id: Id,
    mut update: ProfileUpdate,
    prefs: UserPreferences,
    images: &[(ProfileImage, Option<String>)],
) -> Result<Credentials> {
    let mut tx = svc.db.write().await?;
    update.note = render_note(svc, &mut tx, &update.note_source).await?;
    let fields: Vec<ProfileField> = serde_json::from_str(&update.fields_json).unwrap_or_default();
    let mut texts: Vec<&str> = vec![&update.display_name, &update.note_source];
    texts.extend(fields.iter().flat_map(|f| [f.name.as_str(), f.value.as_str()]));
    let emojis = crate::emoji::used_in(svc, &mut tx, &texts).await?;
    update.emojis_json = serde_json::to_string(&emojis).map_err(Error::internal)?;
    tx.update_profile(id, &update, now()).await?;
    tx.set_user_preferences(user_id, &prefs).await?;
    set_images(&mut tx, id, images).await?;
    let account = tx.account_by_id(id).await?.ok_or_else(Error::not_found)?;
    let user = tx.user_by_id(user_id).await?.ok_or_else(Error::not_found)?;
    let follow_requests_count = follow_requests_count(&mut tx, id).await?;
    crate::effects::profile_updated(&mut tx, &account).await?;
    tx.commit().await?;
    Ok(Credentials { account, user, follow_requests_count })
}

/// Names new files (or with `None`, none) as an account's avatar or header; the files they
/// replace go once the change commits.
async fn set_images(tx: &mut Box<dyn Tx>, id: Id, images: &[(ProfileImage, Option<String>)]) -> Result<()> {
    let current = tx.account_by_id(id).await?.ok_or_else(Error::not_found)?;
    let mut replaced = Vec::new();
    for (kind, key) in images {
        tx.set_profile_image(id, *kind, key.as_deref(), now()).await?;
        replaced.extend(match kind {
            ProfileImage::Avatar => current.avatar_file.clone(),
            ProfileImage::Header => current.header_file.clone(),
        });
    }
    crate::effects::files_dropped(tx, replaced).await
}

/// `DELETE /api/v1/profile/avatar` and `/header`: the account goes back to the default image.
pub async fn delete_profile_image(svc: &Services, me: &Viewer, kind: ProfileImage) -> Result<Credentials> {
    let id = me.account.id;
    let mut tx = svc.db.write().await?;
    let current = tx.account_by_id(id).await?.ok_or_else(Error::not_found)?;
    let had = match kind {
        ProfileImage::Avatar => current.avatar_file.is_some(),
        ProfileImage::Header => current.header_file.is_some(),
    };
    if had {
        set_images(&mut tx, id, &[(kind, None)]).await?;
    }
    let account = tx.account_by_id(id).await?.ok_or_else(Error::not_found)?;
    let user = tx.user_by_id(me.user.id).await?.ok_or_else(Error::not_found)?;
    let follow_requests_count = follow_requests_count(&mut tx, id).await?;
    if had {
        crate::effects::profile_updated(&mut tx, &account).await?;
    }
    tx.commit().await?;
    Ok(Credentials { account, user, follow_requests_count })
}

async fn render_note(svc: &Services, tx: &mut Box<dyn Tx>, source: &str) -> Result<String> {
    let resolved = crate::statuses::resolve_mentions(svc, tx, source).await?;
    let base = svc.base_url();
    let resolve = |m: &text::MentionRef| {
        resolved
            .iter()
            .find(|(r, _)| r == m)
            .map(|(_, a)| text::ResolvedMention { url: a.url.clone(), username: a.username.clone() })
    };
    let ctx =
        text::FormatContext { local_domain: &svc.config.local_domain, base_url: &base, resolve_mention: &resolve };
    Ok(text::format_note(source, &ctx))
}

/// An account as `caller` may see it (404 for unknown ids).
/// A local account whose pages anyone may see: its user confirmed and approved (Mastodon shows
/// no others). Never asks another server.
pub async fn public_local(svc: &Services, username: &str) -> Result<Option<Account>> {
    let mut tx = svc.db.read().await?;
    let Some(account) = tx.account_by_username(username, "").await? else { return Ok(None) };
    let Some(user) = tx.user_by_account(account.id).await? else { return Ok(None) };
    Ok((user.confirmed_at.is_some() && user.approved).then_some(account))
}

pub async fn get(svc: &Services, id: Id) -> Result<Account> {
    let mut tx = svc.db.read().await?;
    tx.account_by_id(id).await?.ok_or_else(Error::not_found)
}

/// `GET /api/v1/accounts/lookup?acct=`.
pub async fn lookup(svc: &Services, acct: &str) -> Result<Account> {
    let acct = acct.trim().trim_start_matches('@');
    let (username, domain) = match acct.split_once('@') {
        Some((u, d)) if svc.config.is_local_domain(d) => (u, ""),
        Some((u, d)) => (u, d),
        None => (acct, ""),
    };
    // An account of another server not known yet is looked up through WebFinger.
    if !domain.is_empty()
        && let Err(e) = crate::remote::resolve_query(svc, acct).await
    {
        tracing::debug!(error = %e, acct, "no such remote account");
    }
    let mut tx = svc.db.read().await?;
    tx.account_by_username(username, domain).await?.ok_or_else(Error::not_found)
}

/// Lists of accounts behind a relation (followers, following, blocks, …), newest relation first.
pub async fn related(svc: &Services, query: RelatedAccounts, page: &PageRequest) -> Result<Page<Account>> {
    let mut tx = svc.db.read().await?;
    let rows = tx.list_related_accounts(query, page).await?;
    Ok(Page::from_rows(rows, |r| r.key, page.limit).map(|r| r.item))
}

/// Followers/following of an account: hidden (empty) when the owner hides their collections,
/// except from the owner.
pub async fn follow_list(
    svc: &Services,
    caller: &Caller,
    id: Id,
    followers: bool,
    page: &PageRequest,
) -> Result<Page<Account>> {
    let viewer = caller.optional_user("read:accounts")?.map(|v| v.account.id);
    let account = {
        let mut tx = svc.db.read().await?;
        let a = tx.account_by_id(id).await?.ok_or_else(Error::not_found)?;
        if let Some(v) = viewer
            && v != id
            && tx.relationships(v, &[id], now()).await?.first().is_some_and(|r| r.blocked_by)
        {
            return Ok(Page::empty());
        }
        a
    };
    if account.hide_collections && viewer != Some(id) {
        return Ok(Page::empty());
    }
    let q = if followers { RelatedAccounts::Followers(id) } else { RelatedAccounts::Following(id) };
    related(svc, q, page).await
}

/// `GET /api/v1/accounts/search` (local prefix search).
pub async fn search(svc: &Services, q: &str, limit: u32, offset: u32) -> Result<Vec<Account>> {
    let q = q.trim().trim_start_matches('@');
    let q = q.split('@').next().unwrap_or("");
    if q.is_empty() {
        return Ok(Vec::new());
    }
    let mut tx = svc.db.read().await?;
    tx.search_accounts(q, limit, offset).await
}
