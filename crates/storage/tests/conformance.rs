//! The store ports' contract, checked on both engines through `ferrodon_domain::ports::Database`
//! only: whatever SQL each engine runs, the service layer must see the same behaviour.
//!
//! Every test runs as `<name>::sqlite` and `<name>::postgres` (the latter needs
//! `TEST_DATABASE_URL`; skipped without it, a failure under `CI=true`).

use std::collections::HashSet;
use std::sync::Arc;

use ferrodon_domain::model::{
    AccessGrant, AccessToken, AccountStatusFilter, Application, Follow, List, MentionedAccount, Mute, NewLocalAccount,
    NewPoll, NewStatus, Notification, NotificationFilter, NotificationType, ProfileUpdate, PublicFilter, PublicReach,
    RelationKind, RemoteAccount, Role, Status, StatusEdit, UserPreferences, Visibility, WebSession,
};
use ferrodon_domain::ports::{Database, DomainBlock, RelatedAccounts, StatusMark, Tx};
use ferrodon_kernel::time::now_ms;
use ferrodon_kernel::{ErrorKind, Id, PageRequest};
use ferrodon_testkit::both_databases;

type Db = Arc<dyn Database>;

const BASE: &str = "http://localhost:3000";

fn new_account(username: &str) -> NewLocalAccount {
    NewLocalAccount {
        username: username.to_string(),
        email: format!("{username}@Example.com"),
        encrypted_password: "$2b$10$not.a.real.hash".into(),
        confirmed: true,
        approved: true,
        role: Role::User,
        locale: "en".into(),
        uri: format!("{BASE}/users/{username}"),
        url: format!("{BASE}/@{username}"),
    }
}

/// Creates a committed local account; returns its id.
/// A mention of a local account as the service records it.
fn mentioned(id: Id, username: &str) -> MentionedAccount {
    MentionedAccount {
        id,
        username: username.into(),
        acct: username.into(),
        url: format!("https://example.test/@{username}"),
    }
}

async fn account(db: &Db, username: &str) -> Id {
    let mut tx = db.write().await.unwrap();
    let (a, _) = tx.create_local_account(&new_account(username), now_ms()).await.unwrap();
    tx.commit().await.unwrap();
    a.id
}

fn page(limit: u32) -> PageRequest {
    PageRequest { limit, ..Default::default() }
}

fn simple_status(account_id: Id, text: &str, visibility: Visibility) -> NewStatus {
    let id = Id::generate();
    NewStatus {
        id,
        account_id,
        uri: format!("{BASE}/statuses/{id}"),
        url: format!("{BASE}/@x/{id}"),
        text: text.into(),
        content: format!("<p>{text}</p>"),
        spoiler_text: String::new(),
        sensitive: false,
        visibility,
        language: None,
        in_reply_to_id: None,
        in_reply_to_account_id: None,
        reblog_of_id: None,
        conversation_id: id,
        application_id: None,
        created_at: now_ms(),
        mentions: Vec::new(),
        tags: Vec::new(),
        poll: None,
        local: true,
        media: Vec::new(),
        emojis: Vec::new(),
    }
}

/// Inserts and commits; returns the stored status.
async fn insert(db: &Db, new: NewStatus) -> Status {
    let mut tx = db.write().await.unwrap();
    let s = tx.insert_status(&new).await.unwrap();
    tx.commit().await.unwrap();
    s
}

/// The ids of a list of statuses, in order.
fn sids(statuses: Vec<Status>) -> Vec<Id> {
    statuses.into_iter().map(|s| s.id).collect()
}

async fn read(db: &Db) -> Box<dyn Tx> {
    db.read().await.unwrap()
}

async fn counts(db: &Db, id: Id) -> (i64, i64, i64) {
    let a = read(db).await.account_by_id(id).await.unwrap().unwrap();
    (a.statuses_count, a.followers_count, a.following_count)
}

both_databases!(accounts_and_users, |db: Db| async move {
    let now = now_ms();
    let mut tx = db.write().await.unwrap();
    let (a, u) = tx.create_local_account(&new_account("Alice"), now).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(a.username, "Alice");
    assert_eq!(a.domain, "");
    assert!(a.is_local());
    assert_eq!(a.uri, format!("{BASE}/users/Alice"));
    assert_eq!(a.url, format!("{BASE}/@Alice"));
    assert_eq!(a.display_name, "");
    assert_eq!(a.fields_json, "[]");
    assert_eq!((a.created_at, a.updated_at), (now, now));
    assert_eq!((a.statuses_count, a.followers_count, a.following_count), (0, 0, 0));
    assert!(!a.locked && !a.bot && a.discoverable && !a.hide_collections);
    assert!(a.last_status_at.is_none() && a.suspended_at.is_none());
    assert_eq!(u.account_id, a.id);
    assert_eq!(u.email, "alice@example.com", "e-mail addresses are stored lower-case");
    assert_eq!(u.confirmed_at, Some(now));
    assert!(u.approved && !u.disabled);
    assert_eq!(u.role, Role::User);
    assert_eq!(u.default_visibility, Visibility::Public);
    assert_eq!(u.locale, "en");

    // Duplicates: the username case-insensitively, the e-mail too.
    let mut tx = db.write().await.unwrap();
    let mut dup = new_account("ALICE");
    dup.email = "someone-else@example.com".into();
    let err = tx.create_local_account(&dup, now).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    drop(tx);
    let mut tx = db.write().await.unwrap();
    let mut dup = new_account("alice2");
    dup.email = "ALICE@example.COM".into();
    let err = tx.create_local_account(&dup, now).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    drop(tx);
    let bob = account(&db, "bob").await;

    let mut tx = read(&db).await;
    assert_eq!(tx.account_by_username("alice", "").await.unwrap().unwrap().id, a.id);
    assert_eq!(tx.account_by_username("ALICE", "").await.unwrap().unwrap().id, a.id);
    assert!(tx.account_by_username("alice", "elsewhere.example").await.unwrap().is_none());
    assert_eq!(tx.user_by_email("Alice@EXAMPLE.com").await.unwrap().unwrap().id, u.id);
    assert_eq!(tx.user_by_account(a.id).await.unwrap().unwrap().id, u.id);
    assert_eq!(tx.user_by_id(u.id).await.unwrap().unwrap().email, u.email);
    let mut both: Vec<Id> = tx.accounts_by_ids(&[a.id, bob, Id(42)]).await.unwrap().iter().map(|a| a.id).collect();
    both.sort();
    let mut want = vec![a.id, bob];
    want.sort();
    assert_eq!(both, want);
    assert_eq!(tx.count_local_accounts().await.unwrap(), 2);
    drop(tx);

    // Profile, preferences, flags, role.
    let mut tx = db.write().await.unwrap();
    let update = ProfileUpdate {
        display_name: "Alice Ä".into(),
        note_source: "bio".into(),
        note: "<p>bio</p>".into(),
        fields_json: r#"[{"name":"a","value":"b"}]"#.into(),
        locked: true,
        bot: true,
        discoverable: false,
        indexable: true,
        hide_collections: true,
        emojis_json: r#"[{"shortcode":"blob","url":"https://x.example/blob.png"}]"#.into(),
    };
    tx.update_profile(a.id, &update, now + 5).await.unwrap();
    let prefs = UserPreferences {
        default_visibility: Visibility::Private,
        default_sensitive: true,
        default_language: Some("de".into()),
    };
    tx.set_user_preferences(u.id, &prefs).await.unwrap();
    tx.set_user_flags(u.id, None, false, true).await.unwrap();
    tx.set_user_role(u.id, Role::Admin).await.unwrap();
    tx.set_user_password(u.id, "$2b$10$another").await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = read(&db).await;
    let a2 = tx.account_by_id(a.id).await.unwrap().unwrap();
    assert_eq!(a2.display_name, "Alice Ä");
    assert_eq!((a2.note_source.as_str(), a2.note.as_str()), ("bio", "<p>bio</p>"));
    assert_eq!(a2.fields().len(), 1);
    assert_eq!(a2.emojis()[0].shortcode, "blob");
    assert!(a2.locked && a2.bot && !a2.discoverable && a2.indexable && a2.hide_collections);
    assert_eq!(a2.updated_at, now + 5);
    let u2 = tx.user_by_id(u.id).await.unwrap().unwrap();
    assert_eq!(u2.default_visibility, Visibility::Private);
    assert!(u2.default_sensitive);
    assert_eq!(u2.default_language.as_deref(), Some("de"));
    assert_eq!((u2.confirmed_at, u2.approved, u2.disabled), (None, false, true));
    assert_eq!(u2.role, Role::Admin);
    assert_eq!(u2.encrypted_password, "$2b$10$another");
    // Prefix search on username and display name, case-insensitively; `_` and `%` are literal.
    let found: Vec<Id> = tx.search_accounts("ALI", 10, 0).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!(found, vec![a.id]);
    let found: Vec<Id> = tx.search_accounts("alice ä", 10, 0).await.unwrap().iter().map(|a| a.id).collect();
    assert_eq!(found, vec![a.id]);
    assert!(tx.search_accounts("%", 10, 0).await.unwrap().is_empty());
    assert!(tx.search_accounts("_ob", 10, 0).await.unwrap().is_empty());
    assert_eq!(tx.search_accounts("b", 10, 0).await.unwrap().len(), 1);
});

both_databases!(statuses_round_trip_every_field, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let carol = account(&db, "carol").await;
    let parent = insert(&db, simple_status(bob, "parent", Visibility::Public)).await;

    let id = Id::generate();
    let created_at = now_ms() - 1000;
    let new = NewStatus {
        id,
        account_id: alice,
        uri: format!("{BASE}/users/alice/statuses/{id}"),
        url: format!("{BASE}/@alice/{id}"),
        text: "hello @bob #Tag #other 'quotes' \"double\" ünïcode 🎉".into(),
        content: "<p>hello &amp; ünïcode 🎉</p>".into(),
        spoiler_text: "cw".into(),
        sensitive: true,
        visibility: Visibility::Unlisted,
        language: Some("en".into()),
        in_reply_to_id: Some(parent.id),
        in_reply_to_account_id: Some(bob),
        reblog_of_id: None,
        conversation_id: parent.conversation_id,
        application_id: Some(Id(123_456_789)),
        created_at,
        mentions: vec![mentioned(bob, "bob")],
        tags: vec!["Tag".into(), "other".into()],
        poll: Some(NewPoll {
            id: Id::generate(),
            options: vec!["yes".into(), "no".into()],
            expires_at: created_at + 3_600_000,
            multiple: true,
            hide_totals: true,
        }),
        local: true,
        media: Vec::new(),
        emojis: Vec::new(),
    };
    let check = |s: &Status| {
        assert_eq!(s.id, new.id);
        assert_eq!(s.account_id, new.account_id);
        assert_eq!(s.uri, new.uri);
        assert_eq!(s.url, new.url);
        assert_eq!(s.text, new.text);
        assert_eq!(s.content, new.content);
        assert_eq!(s.spoiler_text, new.spoiler_text);
        assert_eq!(s.sensitive, new.sensitive);
        assert_eq!(s.visibility, new.visibility);
        assert_eq!(s.language, new.language);
        assert_eq!(s.in_reply_to_id, new.in_reply_to_id);
        assert_eq!(s.in_reply_to_account_id, new.in_reply_to_account_id);
        assert_eq!(s.reblog_of_id, None);
        assert_eq!(s.conversation_id, new.conversation_id);
        assert_eq!(s.application_id, new.application_id);
        assert!(s.local);
        assert_eq!(s.created_at, new.created_at);
        assert_eq!(s.edited_at, None);
        assert_eq!((s.replies_count, s.reblogs_count, s.favourites_count), (0, 0, 0));
        assert!(s.has_poll);
        assert_eq!(s.mentions(), new.mentions);
        assert!(s.mentions_account(bob) && !s.mentions_account(alice));
        assert_eq!(s.tags(), new.tags);
    };
    let mut tx = db.write().await.unwrap();
    let inserted = tx.insert_status(&new).await.unwrap();
    check(&inserted);
    tx.commit().await.unwrap();

    let mut tx = read(&db).await;
    let found = tx.statuses_by_ids(&[id, parent.id, Id(7)]).await.unwrap();
    assert_eq!(found.len(), 2);
    check(found.iter().find(|s| s.id == id).unwrap());
    check(&tx.status_by_id(id).await.unwrap().unwrap());
    assert!(tx.status_by_id(Id(7)).await.unwrap().is_none());
    let mentions = tx.mentions_of(&[id, parent.id]).await.unwrap();
    assert_eq!(mentions.len(), 1);
    assert_eq!((mentions[0].status_id, mentions[0].account_id), (id, bob));
    let tags: Vec<(Id, String)> = tx.tags_of(&[id]).await.unwrap().into_iter().map(|(s, t)| (s, t.name)).collect();
    assert_eq!(tags, vec![(id, "other".to_string()), (id, "Tag".to_string())], "ordered by lower-case name");
    assert_eq!(tx.tag_by_name("TAG").await.unwrap().unwrap().name, "Tag");
    let tags: Vec<String> = tx.search_tags("ta", 10, 0).await.unwrap().into_iter().map(|t| t.name).collect();
    assert_eq!(tags, vec!["Tag"]);
    let polls = tx.polls_of(&[id]).await.unwrap();
    assert_eq!(polls.len(), 1);
    let poll = &polls[0];
    assert_eq!(poll.status_id, id);
    assert_eq!(poll.account_id, alice);
    assert_eq!(poll.options(), vec!["yes", "no"]);
    assert_eq!(poll.votes(), vec![0, 0]);
    assert_eq!(poll.expires_at, created_at + 3_600_000);
    assert!(poll.multiple && poll.hide_totals);
    assert_eq!((poll.votes_count, poll.voters_count), (0, 0));
    assert_eq!(tx.poll_by_id(poll.id).await.unwrap().unwrap().status_id, id);
    // Counters: the author's statuses, the parent's replies.
    let author = tx.account_by_id(alice).await.unwrap().unwrap();
    assert_eq!(author.statuses_count, 1);
    assert_eq!(author.last_status_at, Some(created_at));
    assert_eq!(tx.status_by_id(parent.id).await.unwrap().unwrap().replies_count, 1);
    assert_eq!(tx.count_local_statuses().await.unwrap(), 2);
    let thread: Vec<Id> = tx.conversation(parent.conversation_id, 10).await.unwrap().iter().map(|s| s.id).collect();
    assert_eq!(thread, vec![parent.id, id], "a conversation is oldest first");
    let poll_id = poll.id;
    drop(tx);

    // Votes: counted once per voter.
    let mut tx = db.write().await.unwrap();
    tx.vote(poll_id, carol, &[0, 1], now_ms()).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.write().await.unwrap();
    assert!(tx.vote(poll_id, carol, &[1], now_ms()).await.is_err(), "one vote per account");
    drop(tx);
    let mut tx = read(&db).await;
    let poll = tx.poll_by_id(poll_id).await.unwrap().unwrap();
    assert_eq!(poll.votes(), vec![1, 1]);
    assert_eq!((poll.votes_count, poll.voters_count), (2, 1));
    let s = tx.status_by_id(id).await.unwrap().unwrap();
    let inter = tx.interactions(carol, &[&s]).await.unwrap();
    assert_eq!(inter[0].1.poll_votes, vec![0, 1]);
    assert_eq!(tx.poll_voters(poll_id).await.unwrap(), vec![carol]);
    drop(tx);

    // Counts a remote server reports replace ours.
    let mut tx = db.write().await.unwrap();
    tx.set_poll_counts(id, &[5, 2], 6).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = read(&db).await;
    let poll = tx.poll_by_id(poll_id).await.unwrap().unwrap();
    assert_eq!((poll.votes(), poll.votes_count, poll.voters_count), (vec![5, 2], 7, 6));
    drop(tx);

    // Edits keep the original as the first revision.
    let mut tx = db.write().await.unwrap();
    let edit = StatusEdit {
        text: "edited #fresh".into(),
        content: "<p>edited</p>".into(),
        spoiler_text: String::new(),
        sensitive: false,
        language: Some("de".into()),
        mentions: vec![mentioned(carol, "carol")],
        tags: vec!["fresh".into()],
        poll: None,
        edited_at: now_ms(),
        media: None,
    };
    tx.edit_status(id, &edit).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = read(&db).await;
    let s = tx.status_by_id(id).await.unwrap().unwrap();
    assert_eq!(s.text, "edited #fresh");
    assert_eq!(s.language.as_deref(), Some("de"));
    assert_eq!(s.edited_at, Some(edit.edited_at));
    let revisions = tx.status_revisions(id).await.unwrap();
    assert_eq!(revisions.len(), 2);
    assert_eq!(revisions[0].text, new.text);
    assert_eq!(revisions[0].created_at, created_at);
    assert_eq!(revisions[0].poll_options_json.as_deref(), Some(r#"["yes","no"]"#));
    assert_eq!(revisions[1].text, "edited #fresh");
    assert_eq!(revisions[1].poll_options_json, None);
    let mentioned: Vec<Id> = tx.mentions_of(&[id]).await.unwrap().iter().map(|m| m.account_id).collect();
    assert_eq!(mentioned, vec![carol]);
    let tags: Vec<String> = tx.tags_of(&[id]).await.unwrap().into_iter().map(|(_, t)| t.name).collect();
    assert_eq!(tags, vec!["fresh"]);
    assert!(tx.polls_of(&[id]).await.unwrap().is_empty(), "the poll was removed by the edit");
    drop(tx);

    // Reblogs, and deletion with everything hanging off a status.
    let mut reblog = simple_status(bob, "", Visibility::Public);
    reblog.reblog_of_id = Some(id);
    let reblog = insert(&db, reblog).await;
    let mut tx = read(&db).await;
    assert_eq!(tx.status_by_id(id).await.unwrap().unwrap().reblogs_count, 1);
    assert_eq!(tx.reblog_of(bob, id).await.unwrap().unwrap().id, reblog.id);
    assert!(tx.reblog_of(carol, id).await.unwrap().is_none());
    drop(tx);
    assert_eq!(counts(&db, bob).await.0, 2);
    let mut tx = db.write().await.unwrap();
    assert!(tx.add_mark(StatusMark::Favourite, Id::generate(), carol, id, now_ms()).await.unwrap());
    let removed: HashSet<Id> = tx.delete_status(id).await.unwrap().into_iter().collect();
    assert_eq!(removed, HashSet::from([id, reblog.id]));
    tx.commit().await.unwrap();
    let mut tx = read(&db).await;
    assert!(tx.statuses_by_ids(&[id, reblog.id]).await.unwrap().is_empty());
    assert!(tx.mentions_of(&[id]).await.unwrap().is_empty());
    assert!(tx.marked_statuses(StatusMark::Favourite, carol, &page(10)).await.unwrap().is_empty());
    assert_eq!(tx.status_by_id(parent.id).await.unwrap().unwrap().replies_count, 0);
    drop(tx);
    let mut tx = db.write().await.unwrap();
    assert_eq!(tx.delete_status(id).await.unwrap(), Vec::<Id>::new(), "deleting twice is a no-op");
    tx.commit().await.unwrap();
    assert_eq!(counts(&db, alice).await.0, 0);
    assert_eq!(counts(&db, bob).await.0, 1);
});

// The port: "Records votes; `Conflict` if the account already voted."
both_databases!(a_second_vote_is_a_conflict, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let mut new = simple_status(alice, "poll", Visibility::Public);
    let poll_id = Id::generate();
    new.poll = Some(NewPoll {
        id: poll_id,
        options: vec!["a".into(), "b".into()],
        expires_at: now_ms() + 60_000,
        multiple: false,
        hide_totals: false,
    });
    insert(&db, new).await;
    let mut tx = db.write().await.unwrap();
    tx.vote(poll_id, bob, &[1], now_ms()).await.unwrap();
    tx.commit().await.unwrap();
    let mut tx = db.write().await.unwrap();
    let err = tx.vote(poll_id, bob, &[0], now_ms()).await.unwrap_err();
    assert_eq!(err.kind, ErrorKind::Conflict, "{err}");
    drop(tx);
    let poll = read(&db).await.poll_by_id(poll_id).await.unwrap().unwrap();
    assert_eq!(poll.votes(), vec![0, 1]);
    assert_eq!((poll.votes_count, poll.voters_count), (1, 1));
});

both_databases!(relations_and_counters, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let carol = account(&db, "carol").await;
    let follow = |from: Id, to: Id| Follow {
        id: Id::generate(),
        account_id: from,
        target_account_id: to,
        show_reblogs: true,
        notify: false,
        languages: None,
        created_at: now_ms(),
    };

    let mut tx = db.write().await.unwrap();
    let first = follow(alice, bob);
    let (row, created) = tx.upsert_follow(RelationKind::Follow, &first).await.unwrap();
    assert!(created);
    assert_eq!(row.id, first.id);
    // Again: options change, the row and counters stay.
    let again = Follow { show_reblogs: false, notify: true, languages: Some("en,de".into()), ..follow(alice, bob) };
    let (row, created) = tx.upsert_follow(RelationKind::Follow, &again).await.unwrap();
    assert!(!created);
    assert_eq!(row.id, first.id);
    // A follow request does not count.
    let (_, created) = tx.upsert_follow(RelationKind::FollowRequest, &follow(carol, alice)).await.unwrap();
    assert!(created);
    tx.commit().await.unwrap();

    assert_eq!(counts(&db, alice).await, (0, 0, 1));
    assert_eq!(counts(&db, bob).await, (0, 1, 0));
    assert_eq!(counts(&db, carol).await, (0, 0, 0));
    let mut tx = read(&db).await;
    let stored = tx.get_follow(RelationKind::Follow, alice, bob).await.unwrap().unwrap();
    assert_eq!(stored.id, first.id);
    assert!(!stored.show_reblogs && stored.notify);
    assert_eq!(stored.languages.as_deref(), Some("en,de"));
    assert!(tx.get_follow(RelationKind::Follow, bob, alice).await.unwrap().is_none());
    assert!(tx.is_following(alice, bob).await.unwrap());
    assert!(!tx.is_following(bob, alice).await.unwrap());
    let rels = tx.relationships(alice, &[bob, carol], now_ms()).await.unwrap();
    assert_eq!(rels.len(), 2);
    assert_eq!(rels[0].target_id, bob);
    assert!(rels[0].following.is_some() && !rels[0].followed_by);
    assert_eq!(rels[1].target_id, carol);
    assert!(rels[1].following.is_none() && rels[1].requested_by && rels[1].requested.is_none());
    let rels = tx.relationships(bob, &[alice], now_ms()).await.unwrap();
    assert!(rels[0].followed_by && rels[0].following.is_none());
    let rels = tx.relationships(carol, &[alice], now_ms()).await.unwrap();
    assert!(rels[0].requested.is_some() && !rels[0].requested_by);
    let ids = |rows: Vec<ferrodon_domain::model::Keyed<ferrodon_domain::model::Account>>| {
        rows.into_iter().map(|r| r.item.id).collect::<Vec<_>>()
    };
    assert_eq!(ids(tx.list_related_accounts(RelatedAccounts::Followers(bob), &page(10)).await.unwrap()), vec![alice]);
    assert_eq!(ids(tx.list_related_accounts(RelatedAccounts::Following(alice), &page(10)).await.unwrap()), vec![bob]);
    assert_eq!(
        ids(tx.list_related_accounts(RelatedAccounts::FollowRequests(alice), &page(10)).await.unwrap()),
        vec![carol]
    );
    drop(tx);

    // Blocks and mutes.
    let mut tx = db.write().await.unwrap();
    tx.create_block(Id::generate(), alice, carol, now_ms()).await.unwrap();
    tx.create_block(Id::generate(), alice, carol, now_ms()).await.unwrap();
    let mute = Mute {
        id: Id::generate(),
        account_id: alice,
        target_account_id: bob,
        hide_notifications: true,
        expires_at: Some(now_ms() + 60_000),
    };
    tx.upsert_mute(&mute, now_ms()).await.unwrap();
    tx.upsert_mute(&Mute { id: Id::generate(), hide_notifications: false, expires_at: None, ..mute.clone() }, now_ms())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut tx = read(&db).await;
    assert!(tx.blocked_either_way(carol, alice).await.unwrap());
    assert!(tx.blocked_either_way(alice, carol).await.unwrap());
    assert!(!tx.blocked_either_way(alice, bob).await.unwrap());
    let rel = tx.relationships(carol, &[alice], now_ms()).await.unwrap().pop().unwrap();
    assert!(rel.blocked_by && !rel.blocking);
    let rel = tx.relationships(alice, &[bob], now_ms()).await.unwrap().pop().unwrap();
    let muting = rel.muting.expect("muting");
    assert!(!muting.hide_notifications && muting.expires_at.is_none(), "the second mute replaced the first");
    assert_eq!(ids(tx.list_related_accounts(RelatedAccounts::Blocks(alice), &page(10)).await.unwrap()), vec![carol]);
    assert_eq!(
        ids(tx.list_related_accounts(RelatedAccounts::Mutes(alice, now_ms()), &page(10)).await.unwrap()),
        vec![bob]
    );
    drop(tx);

    // Removing: counters go back, never below zero.
    let mut tx = db.write().await.unwrap();
    assert!(tx.delete_relation(RelationKind::Follow, alice, bob).await.unwrap());
    assert!(!tx.delete_relation(RelationKind::Follow, alice, bob).await.unwrap());
    assert!(tx.delete_relation(RelationKind::Block, alice, carol).await.unwrap());
    assert!(tx.delete_relation(RelationKind::Mute, alice, bob).await.unwrap());
    assert!(tx.delete_relation(RelationKind::FollowRequest, carol, alice).await.unwrap());
    tx.commit().await.unwrap();
    assert_eq!(counts(&db, alice).await, (0, 0, 0));
    assert_eq!(counts(&db, bob).await, (0, 0, 0));
    let mut tx = read(&db).await;
    assert!(!tx.blocked_either_way(alice, carol).await.unwrap());
    let rel = tx.relationships(alice, &[bob], now_ms()).await.unwrap().pop().unwrap();
    assert!(rel.following.is_none() && rel.muting.is_none());
    drop(tx);

    // Deleting an account fixes the counters of those it followed.
    let mut tx = db.write().await.unwrap();
    tx.upsert_follow(RelationKind::Follow, &follow(carol, bob)).await.unwrap();
    tx.upsert_follow(RelationKind::Follow, &follow(bob, carol)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(counts(&db, bob).await, (0, 1, 1));
    let mut tx = db.write().await.unwrap();
    tx.delete_account(carol).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(counts(&db, bob).await, (0, 0, 0));
    assert!(read(&db).await.account_by_id(carol).await.unwrap().is_none());
});

// A timed mute is in force until it expires, and then over everywhere: relationships, the
// mutes list, what is hidden from the account (and when that changes), notifications.
both_databases!(a_timed_mute_is_over_when_it_expires, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let carol = account(&db, "carol").await;
    let t = now_ms();
    let mut tx = db.write().await.unwrap();
    let timed = |target, expires_at| Mute {
        id: Id::generate(),
        account_id: alice,
        target_account_id: target,
        hide_notifications: true,
        expires_at,
    };
    tx.upsert_mute(&timed(bob, Some(t + 1_000)), t).await.unwrap();
    tx.upsert_mute(&timed(carol, Some(t + 5_000)), t).await.unwrap();
    tx.commit().await.unwrap();

    let ids = |rows: Vec<ferrodon_domain::model::Keyed<ferrodon_domain::model::Account>>| {
        rows.into_iter().map(|k| k.item.id).collect::<Vec<Id>>()
    };
    let mut tx = read(&db).await;
    let muting = |rels: Vec<ferrodon_domain::model::Relationship>| -> Vec<bool> {
        rels.iter().map(|r| r.muting.is_some()).collect()
    };
    assert_eq!(muting(tx.relationships(alice, &[bob, carol], t).await.unwrap()), vec![true, true]);
    assert_eq!(muting(tx.relationships(alice, &[bob, carol], t + 1_000).await.unwrap()), vec![false, true]);
    assert_eq!(muting(tx.relationships(alice, &[bob, carol], t + 5_001).await.unwrap()), vec![false, false]);
    let mutes = |at| RelatedAccounts::Mutes(alice, at);
    let listed: HashSet<Id> = ids(tx.list_related_accounts(mutes(t), &page(10)).await.unwrap()).into_iter().collect();
    assert_eq!(listed, HashSet::from([bob, carol]));
    assert_eq!(ids(tx.list_related_accounts(mutes(t + 2_000), &page(10)).await.unwrap()), vec![carol]);
    assert!(tx.list_related_accounts(mutes(t + 6_000), &page(10)).await.unwrap().is_empty());
    let hidden = tx.hidden_accounts(alice, t).await.unwrap();
    assert_eq!(
        (hidden.muted.iter().copied().collect::<HashSet<_>>(), hidden.mutes_end),
        (HashSet::from([bob, carol]), Some(t + 1_000))
    );
    let hidden = tx.hidden_accounts(alice, t + 2_000).await.unwrap();
    assert_eq!((hidden.muted, hidden.mutes_end), (vec![carol], Some(t + 5_000)));
    let hidden = tx.hidden_accounts(alice, t + 6_000).await.unwrap();
    assert_eq!((hidden.muted, hidden.mutes_end), (vec![], None));
    drop(tx);
    // Bob's notifications reach alice again once his mute is over.
    let mut tx = db.write().await.unwrap();
    let note = |id| Notification {
        id,
        account_id: alice,
        from_account_id: bob,
        kind: NotificationType::Follow,
        status_id: None,
        group_key: format!("ungrouped-{id}"),
        created_at: t,
    };
    assert!(!tx.create_notification_unless_hidden(&note(Id::generate()), t + 500).await.unwrap());
    assert!(tx.create_notification_unless_hidden(&note(Id::generate()), t + 1_500).await.unwrap());
    tx.commit().await.unwrap();
});

both_databases!(marks_and_their_counters, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let mut statuses = Vec::new();
    for i in 0..3 {
        statuses.push(insert(&db, simple_status(alice, &format!("s{i}"), Visibility::Public)).await);
    }
    let s = statuses[0].clone();

    let mut tx = db.write().await.unwrap();
    assert!(tx.add_mark(StatusMark::Favourite, Id::generate(), bob, s.id, now_ms()).await.unwrap());
    assert!(!tx.add_mark(StatusMark::Favourite, Id::generate(), bob, s.id, now_ms()).await.unwrap());
    assert!(tx.add_mark(StatusMark::Pin, Id::generate(), alice, s.id, now_ms()).await.unwrap());
    assert!(tx.add_mark(StatusMark::Mute, Id::generate(), bob, s.conversation_id, now_ms()).await.unwrap());
    let mut keys = Vec::new();
    for st in &statuses {
        let key = Id::generate();
        assert!(tx.add_mark(StatusMark::Bookmark, key, bob, st.id, now_ms()).await.unwrap());
        keys.push(key);
    }
    tx.commit().await.unwrap();

    let mut tx = read(&db).await;
    let fresh = tx.status_by_id(s.id).await.unwrap().unwrap();
    assert_eq!(fresh.favourites_count, 1);
    let inter = tx.interactions(bob, &[&fresh]).await.unwrap();
    assert_eq!(inter[0].0, s.id);
    let i = &inter[0].1;
    assert!(i.favourited && i.bookmarked && i.muted && !i.pinned && !i.reblogged);
    let mine = tx.interactions(alice, &[&fresh]).await.unwrap();
    assert!(mine[0].1.pinned && !mine[0].1.favourited);
    let by: Vec<Id> = tx
        .list_related_accounts(RelatedAccounts::FavouritedBy(s.id), &page(10))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.item.id)
        .collect();
    assert_eq!(by, vec![bob]);
    // Bookmarks page by the mark's id, newest mark first.
    let first = tx.marked_statuses(StatusMark::Bookmark, bob, &page(2)).await.unwrap();
    let got: Vec<(Id, Id)> = first.iter().map(|k| (k.key, k.item)).collect();
    assert_eq!(got, vec![(keys[2], statuses[2].id), (keys[1], statuses[1].id)]);
    let rest =
        tx.marked_statuses(StatusMark::Bookmark, bob, &PageRequest { max_id: Some(keys[1]), ..page(2) }).await.unwrap();
    assert_eq!(rest.iter().map(|k| k.item).collect::<Vec<_>>(), vec![statuses[0].id]);
    let above =
        tx.marked_statuses(StatusMark::Bookmark, bob, &PageRequest { min_id: Some(keys[0]), ..page(1) }).await.unwrap();
    assert_eq!(above.iter().map(|k| k.item).collect::<Vec<_>>(), vec![statuses[1].id]);
    drop(tx);

    let mut tx = db.write().await.unwrap();
    assert!(tx.remove_mark(StatusMark::Favourite, bob, s.id).await.unwrap());
    assert!(!tx.remove_mark(StatusMark::Favourite, bob, s.id).await.unwrap());
    assert!(tx.remove_mark(StatusMark::Mute, bob, s.conversation_id).await.unwrap());
    tx.commit().await.unwrap();
    let mut tx = read(&db).await;
    let fresh = tx.status_by_id(s.id).await.unwrap().unwrap();
    assert_eq!(fresh.favourites_count, 0, "never below zero");
    let i = &tx.interactions(bob, &[&fresh]).await.unwrap()[0].1;
    assert!(!i.favourited && !i.muted && i.bookmarked);
});

both_databases!(notifications_page_and_filter, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let carol = account(&db, "carol").await;
    let s = insert(&db, simple_status(alice, "x", Visibility::Public)).await;
    let kinds = [
        (NotificationType::Follow, bob, None),
        (NotificationType::Favourite, bob, Some(s.id)),
        (NotificationType::Favourite, carol, Some(s.id)),
        (NotificationType::Mention, carol, Some(s.id)),
        (NotificationType::Reblog, bob, Some(s.id)),
    ];
    let mut n = Vec::new();
    let mut tx = db.write().await.unwrap();
    for (kind, from, status_id) in kinds {
        let id = Id::generate();
        let note = Notification {
            id,
            account_id: alice,
            from_account_id: from,
            kind,
            status_id,
            group_key: format!("{}-{}", kind.as_str(), status_id.map_or(0, |s| s.0)),
            created_at: now_ms(),
        };
        tx.create_notification(&note).await.unwrap();
        n.push(id);
    }
    tx.commit().await.unwrap();
    // n[0] is the oldest.
    let list = |filter: NotificationFilter, req: PageRequest| {
        let db = db.clone();
        async move {
            let mut tx = db.read().await.unwrap();
            tx.notifications(alice, &filter, &req).await.unwrap().into_iter().map(|n| n.id).collect::<Vec<_>>()
        }
    };
    let all = NotificationFilter::default;
    assert_eq!(list(all(), page(10)).await, vec![n[4], n[3], n[2], n[1], n[0]]);
    assert_eq!(list(all(), page(2)).await, vec![n[4], n[3]]);
    assert_eq!(list(all(), PageRequest { max_id: Some(n[3]), ..page(2) }).await, vec![n[2], n[1]]);
    assert_eq!(list(all(), PageRequest { min_id: Some(n[0]), ..page(2) }).await, vec![n[2], n[1]]);
    assert_eq!(list(all(), PageRequest { since_id: Some(n[0]), ..page(2) }).await, vec![n[4], n[3]]);
    assert_eq!(
        list(all(), PageRequest { max_id: Some(n[4]), min_id: Some(n[0]), ..page(10) }).await,
        vec![n[3], n[2], n[1]]
    );
    assert_eq!(list(all(), PageRequest { min_id: Some(n[4]), ..page(10) }).await, Vec::<Id>::new());
    let only = |types: Vec<NotificationType>, exclude: Vec<NotificationType>, from: Option<Id>| NotificationFilter {
        types: (!types.is_empty()).then_some(types),
        exclude_types: exclude,
        account_id: from,
        ..Default::default()
    };
    assert_eq!(list(only(vec![NotificationType::Favourite], vec![], None), page(10)).await, vec![n[2], n[1]]);
    assert_eq!(
        list(only(vec![], vec![NotificationType::Favourite, NotificationType::Follow], None), page(10)).await,
        vec![n[4], n[3]]
    );
    assert_eq!(list(only(vec![], vec![], Some(carol)), page(10)).await, vec![n[3], n[2]]);
    assert_eq!(
        list(
            only(vec![NotificationType::Favourite], vec![], Some(carol)),
            PageRequest { min_id: Some(n[0]), ..page(1) }
        )
        .await,
        vec![n[2]]
    );

    let mut tx = read(&db).await;
    let one = tx.notification(alice, n[1]).await.unwrap().unwrap();
    assert_eq!(one.kind, NotificationType::Favourite);
    assert_eq!((one.from_account_id, one.status_id), (bob, Some(s.id)));
    assert_eq!(one.group_key, format!("favourite-{}", s.id.0));
    assert!(tx.notification(bob, n[1]).await.unwrap().is_none(), "only the recipient's");
    assert_eq!(tx.unread_notifications(alice, None, 100).await.unwrap(), 5);
    assert_eq!(tx.unread_notifications(alice, Some(n[2]), 100).await.unwrap(), 2);
    assert_eq!(tx.unread_notifications(alice, Some(n[2]), 1).await.unwrap(), 1);
    drop(tx);

    let mut tx = db.write().await.unwrap();
    assert!(tx.dismiss_notification(alice, n[0]).await.unwrap());
    assert!(!tx.dismiss_notification(alice, n[0]).await.unwrap());
    assert!(!tx.dismiss_notification(bob, n[1]).await.unwrap());
    tx.delete_notifications_for(alice, carol, Some(s.id), "favourite").await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(list(all(), page(10)).await, vec![n[4], n[3], n[1]]);
    let mut tx = db.write().await.unwrap();
    tx.clear_notifications(alice).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(list(all(), page(10)).await, Vec::<Id>::new());
});

both_databases!(markers_are_versioned, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let mut tx = db.write().await.unwrap();
    assert!(tx.markers(alice).await.unwrap().is_empty());
    let m = tx.set_marker(alice, "home", Id(100), 1_000).await.unwrap();
    assert_eq!((m.timeline.as_str(), m.last_read_id, m.version, m.updated_at), ("home", Id(100), 1, 1_000));
    let m = tx.set_marker(alice, "home", Id(200), 2_000).await.unwrap();
    assert_eq!((m.last_read_id, m.version, m.updated_at), (Id(200), 2, 2_000));
    let m = tx.set_marker(alice, "notifications", Id(5), 3_000).await.unwrap();
    assert_eq!(m.version, 1);
    let m = tx.set_marker(bob, "home", Id(1), 4_000).await.unwrap();
    assert_eq!(m.version, 1, "markers are per account");
    tx.commit().await.unwrap();
    let mut tx = read(&db).await;
    let mut markers = tx.markers(alice).await.unwrap();
    markers.sort_by(|a, b| a.timeline.cmp(&b.timeline));
    let got: Vec<(String, Id, i64)> = markers.into_iter().map(|m| (m.timeline, m.last_read_id, m.version)).collect();
    assert_eq!(got, vec![("home".into(), Id(200), 2), ("notifications".into(), Id(5), 1)]);
});

both_databases!(timelines_select_and_page, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let carol = account(&db, "carol").await;
    let mut tx = db.write().await.unwrap();
    tx.upsert_follow(
        RelationKind::Follow,
        &Follow {
            id: Id::generate(),
            account_id: alice,
            target_account_id: bob,
            show_reblogs: true,
            notify: false,
            languages: None,
            created_at: now_ms(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();

    let mut tagged = simple_status(bob, "#Rust", Visibility::Public);
    tagged.tags = vec!["Rust".into()];
    let b1 = insert(&db, tagged).await.id;
    let b2 = insert(&db, simple_status(bob, "unlisted", Visibility::Unlisted)).await.id;
    let c1 = insert(&db, simple_status(carol, "stranger", Visibility::Public)).await.id;
    let mut dm = simple_status(carol, "@alice dm", Visibility::Direct);
    dm.mentions = vec![mentioned(alice, "alice")];
    let c2 = insert(&db, dm).await.id;
    let mut reply = simple_status(bob, "@carol reply", Visibility::Public);
    reply.in_reply_to_id = Some(c1);
    reply.in_reply_to_account_id = Some(carol);
    reply.conversation_id = c1;
    let b3 = insert(&db, reply).await.id;
    let mut reblog = simple_status(bob, "", Visibility::Public);
    reblog.reblog_of_id = Some(c1);
    let b4 = insert(&db, reblog).await.id;
    let a1 = insert(&db, simple_status(alice, "own", Visibility::Private)).await.id;
    let mut pin_me = simple_status(alice, "#rust pinned", Visibility::Public);
    pin_me.tags = vec!["rust".into()];
    let a2 = insert(&db, pin_me).await.id;
    let mut tx = db.write().await.unwrap();
    tx.add_mark(StatusMark::Pin, Id::generate(), alice, a2, now_ms()).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = read(&db).await;
    // Home: own and followed; not replies to strangers; reblogs by followed accounts.
    assert_eq!(sids(tx.home_timeline(alice, &page(20)).await.unwrap()), vec![a2, a1, b4, b2, b1]);
    // Public: public originals that are not replies to others.
    let all = PublicFilter::default();
    assert_eq!(sids(tx.public_timeline(all, &page(20)).await.unwrap()), vec![a2, c1, b1]);
    assert_eq!(
        sids(tx.public_timeline(PublicFilter { local: true, ..all }, &page(20)).await.unwrap()),
        vec![a2, c1, b1]
    );
    assert!(sids(tx.public_timeline(PublicFilter { remote: true, ..all }, &page(20)).await.unwrap()).is_empty());
    assert_eq!(sids(tx.public_timeline(all, &PageRequest { min_id: Some(b1), ..page(1) }).await.unwrap()), vec![c1]);
    assert_eq!(sids(tx.public_timeline(all, &PageRequest { max_id: Some(a2), ..page(1) }).await.unwrap()), vec![c1]);
    // Tags, case-insensitively.
    assert_eq!(sids(tx.tag_timeline("RUST", all, &page(20)).await.unwrap()), vec![a2, b1]);
    // An account's statuses with each filter.
    let f = AccountStatusFilter::default;
    assert_eq!(sids(tx.account_statuses(bob, &f(), &page(20)).await.unwrap()), vec![b4, b3, b2, b1]);
    assert_eq!(
        sids(tx.account_statuses(bob, &AccountStatusFilter { exclude_replies: true, ..f() }, &page(20)).await.unwrap()),
        vec![b4, b2, b1]
    );
    assert_eq!(
        sids(tx.account_statuses(bob, &AccountStatusFilter { exclude_reblogs: true, ..f() }, &page(20)).await.unwrap()),
        vec![b3, b2, b1]
    );
    assert_eq!(
        sids(tx.account_statuses(alice, &AccountStatusFilter { pinned: true, ..f() }, &page(20)).await.unwrap()),
        vec![a2]
    );
    assert_eq!(
        sids(
            tx.account_statuses(bob, &AccountStatusFilter { tagged: Some("rust".into()), ..f() }, &page(20))
                .await
                .unwrap()
        ),
        vec![b1]
    );
    assert_eq!(
        sids(tx.account_statuses(bob, &f(), &PageRequest { min_id: Some(b1), ..page(2) }).await.unwrap()),
        vec![b3, b2]
    );
    let _ = c2;
});

both_databases!(oauth_records, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let user = read(&db).await.user_by_account(alice).await.unwrap().unwrap();
    let app = Application {
        id: Id::generate(),
        name: "app".into(),
        website: None,
        redirect_uris: "https://a.example/cb\nurn:ietf:wg:oauth:2.0:oob".into(),
        scopes: "read write".into(),
        client_id: "client-id".into(),
        client_secret: "client-secret".into(),
        created_at: now_ms(),
    };
    let grant = AccessGrant {
        id: Id::generate(),
        application_id: app.id,
        user_id: user.id,
        code_hash: "code-hash".into(),
        redirect_uri: "https://a.example/cb".into(),
        scopes: "read".into(),
        code_challenge: Some("challenge".into()),
        expires_at: now_ms() + 600_000,
        used_at: None,
    };
    let token = AccessToken {
        id: Id::generate(),
        application_id: app.id,
        user_id: Some(user.id),
        token_hash: "token-hash".into(),
        scopes: "read".into(),
        created_at: now_ms(),
        revoked_at: None,
    };
    let session = WebSession {
        id: Id::generate(),
        session_hash: "session-hash".into(),
        user_id: None,
        csrf_token: "csrf".into(),
        created_at: now_ms(),
    };
    let mut tx = db.write().await.unwrap();
    tx.create_application(&app).await.unwrap();
    tx.create_grant(&grant).await.unwrap();
    tx.create_token(&token).await.unwrap();
    tx.create_web_session(&session).await.unwrap();
    tx.commit().await.unwrap();

    let mut tx = db.write().await.unwrap();
    let a = tx.application_by_client_id("client-id").await.unwrap().unwrap();
    assert_eq!(a.redirect_uri_list(), vec!["https://a.example/cb", "urn:ietf:wg:oauth:2.0:oob"]);
    assert_eq!((a.id, a.scopes.as_str(), a.website.clone()), (app.id, "read write", None));
    assert_eq!(tx.application_by_id(app.id).await.unwrap().unwrap().client_secret, "client-secret");
    let g = tx.grant_by_code_hash("code-hash").await.unwrap().unwrap();
    assert_eq!(g.code_challenge.as_deref(), Some("challenge"));
    assert_eq!(g.used_at, None);
    assert!(tx.use_grant(g.id, now_ms()).await.unwrap());
    assert!(!tx.use_grant(g.id, now_ms()).await.unwrap(), "codes are single-use");
    assert_eq!(tx.reusable_token(app.id, user.id, "read").await.unwrap().unwrap().id, token.id);
    assert!(tx.reusable_token(app.id, user.id, "read write").await.unwrap().is_none());
    tx.revoke_token(token.id, 77).await.unwrap();
    assert_eq!(tx.token_by_hash("token-hash").await.unwrap().unwrap().revoked_at, Some(77));
    assert!(tx.reusable_token(app.id, user.id, "read").await.unwrap().is_none());
    tx.set_web_session_user(session.id, Some(user.id)).await.unwrap();
    assert_eq!(tx.web_session("session-hash").await.unwrap().unwrap().user_id, Some(user.id));
    tx.revoke_user_tokens(user.id, 88).await.unwrap();
    assert_eq!(tx.web_session("session-hash").await.unwrap().unwrap().user_id, None, "signed out everywhere");
    tx.commit().await.unwrap();
    assert!(read(&db).await.grant_by_code_hash("code-hash").await.unwrap().unwrap().used_at.is_some());

    // Idempotency keys remember a status for a while.
    let s = insert(&db, simple_status(alice, "x", Visibility::Public)).await;
    let mut tx = db.write().await.unwrap();
    assert_eq!(tx.claim_idempotency_key(alice, "k", s.id, 10_000, 0).await.unwrap(), None, "claimed");
    assert_eq!(tx.claim_idempotency_key(alice, "k", Id(1), 11_000, 5_000).await.unwrap(), Some(s.id), "still held");
    assert_eq!(
        tx.claim_idempotency_key(alice, "k", Id(2), 20_000, 10_000).await.unwrap(),
        None,
        "expired: claimed again"
    );
    assert_eq!(tx.claim_idempotency_key(alice, "other", Id(3), 20_000, 0).await.unwrap(), None);
});

both_databases!(dropped_transactions_roll_back, |db: Db| async move {
    let alice = account(&db, "alice").await;
    // A write that is never committed is gone.
    {
        let mut tx = db.write().await.unwrap();
        tx.create_local_account(&new_account("ghost"), now_ms()).await.unwrap();
        tx.insert_status(&simple_status(alice, "never", Visibility::Public)).await.unwrap();
        assert!(tx.account_by_username("ghost", "").await.unwrap().is_some(), "visible inside its transaction");
    }
    let mut tx = read(&db).await;
    assert!(tx.account_by_username("ghost", "").await.unwrap().is_none());
    assert!(tx.user_by_email("ghost@example.com").await.unwrap().is_none());
    assert!(tx.account_statuses(alice, &AccountStatusFilter::default(), &page(10)).await.unwrap().is_empty());
    assert_eq!(tx.account_by_id(alice).await.unwrap().unwrap().statuses_count, 0, "counters rolled back too");
    drop(tx);
    // The writer is free again afterwards, and the names can be taken.
    let ghost = account(&db, "ghost").await;
    assert_eq!(read(&db).await.account_by_username("ghost", "").await.unwrap().unwrap().id, ghost);
    // A failed step does not poison later transactions.
    {
        let mut tx = db.write().await.unwrap();
        let err = tx.create_local_account(&new_account("ghost"), now_ms()).await.unwrap_err();
        assert_eq!(err.kind, ErrorKind::Conflict);
    }
    let mut tx = db.write().await.unwrap();
    let s = tx.insert_status(&simple_status(ghost, "kept", Visibility::Public)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(read(&db).await.status_by_id(s.id).await.unwrap().is_some());
});

// Two transactions following at once (a double click served by two connections): both succeed,
// one follow exists, counters move once. PostgreSQL runs them truly concurrently.
both_databases!(concurrent_follow_upserts_both_succeed, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    for round in 0..6 {
        let attempt = || {
            let db = db.clone();
            async move {
                let mut tx = db.write().await?;
                let follow = Follow {
                    id: Id::generate(),
                    account_id: alice,
                    target_account_id: bob,
                    show_reblogs: true,
                    notify: false,
                    languages: None,
                    created_at: now_ms(),
                };
                let (_, created) = tx.upsert_follow(RelationKind::Follow, &follow).await?;
                tx.commit().await?;
                Ok::<bool, ferrodon_kernel::Error>(created)
            }
        };
        let (a, b) = tokio::join!(attempt(), attempt());
        let (a, b) =
            (a.unwrap_or_else(|e| panic!("round {round}: {e}")), b.unwrap_or_else(|e| panic!("round {round}: {e}")));
        assert!(a ^ b, "exactly one of them created the follow");
        assert_eq!(counts(&db, alice).await, (0, 0, 1));
        assert_eq!(counts(&db, bob).await, (0, 1, 0));
        let mut tx = db.write().await.unwrap();
        tx.delete_relation(RelationKind::Follow, alice, bob).await.unwrap();
        tx.commit().await.unwrap();
    }
});

/// A remote account as federation stores it; returns its id.
async fn remote_account(db: &Db, username: &str, domain: &str) -> Id {
    let uri = format!("https://{domain}/users/{username}");
    let mut tx = db.write().await.unwrap();
    let a = tx
        .upsert_remote_account(
            &RemoteAccount {
                uri: uri.clone(),
                url: uri.clone(),
                username: username.into(),
                domain: domain.into(),
                actor_type: "Person".into(),
                fields_json: "[]".into(),
                inbox_url: format!("{uri}/inbox"),
                ..Default::default()
            },
            now_ms(),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    a.id
}

/// `from` follows `to` with the given options.
async fn follow(db: &Db, from: Id, to: Id, show_reblogs: bool, languages: Option<&str>) {
    let mut tx = db.write().await.unwrap();
    let f = Follow {
        id: Id::generate(),
        account_id: from,
        target_account_id: to,
        show_reblogs,
        notify: false,
        languages: languages.map(str::to_string),
        created_at: now_ms(),
    };
    tx.upsert_follow(RelationKind::Follow, &f).await.unwrap();
    tx.commit().await.unwrap();
}

/// A list of `owner`'s with `members`.
async fn list_of(db: &Db, owner: Id, title: &str, replies_policy: &str, exclusive: bool, members: &[Id]) -> List {
    let list = List {
        id: Id::generate(),
        account_id: owner,
        title: title.into(),
        replies_policy: replies_policy.into(),
        exclusive,
        created_at: now_ms(),
        updated_at: now_ms(),
    };
    let mut tx = db.write().await.unwrap();
    tx.insert_list(&list).await.unwrap();
    tx.add_list_members(list.id, members).await.unwrap();
    tx.commit().await.unwrap();
    list
}

// The timelines as read and as distributed are one rule each: for every account and status of a
// world with every case the rules tell apart, a status is in an account's home timeline exactly
// when the distribution gives it to that account's home feed; the same for every list, and for
// the public, local, remote, `only_media` and hashtag timelines against the status' public reach.
both_databases!(timelines_read_what_distribution_delivers, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let carol = account(&db, "carol").await;
    let dave = account(&db, "dave").await;
    let erin = account(&db, "erin").await;
    let rita = remote_account(&db, "rita", "remote.example").await;
    let rob = remote_account(&db, "rob", "elsewhere.example").await;
    // rob's domain is silenced: he is limited.
    let mut tx = db.write().await.unwrap();
    let silence = DomainBlock {
        domain: "elsewhere.example".into(),
        severity: "silence".into(),
        reject_media: false,
        reject_reports: false,
        created_at: now_ms(),
    };
    tx.upsert_domain_block(&silence).await.unwrap();
    tx.commit().await.unwrap();
    let local = [alice, bob, carol, dave, erin];
    let everyone = [alice, bob, carol, dave, erin, rita, rob];
    let name = |id: Id| {
        ["alice", "bob", "carol", "dave", "erin", "rita", "rob"][everyone.iter().position(|a| *a == id).unwrap()]
    };

    // alice follows bob plainly, carol hiding her reblogs, rita in English and German only,
    // dave (on an exclusive list); bob follows alice and rita; dave follows bob in French only
    // and rob; erin follows no one.
    follow(&db, alice, bob, true, None).await;
    follow(&db, alice, carol, false, None).await;
    follow(&db, alice, rita, true, Some("en,de")).await;
    follow(&db, alice, dave, true, None).await;
    follow(&db, bob, alice, true, None).await;
    follow(&db, bob, rita, true, None).await;
    follow(&db, dave, bob, true, Some("fr")).await;
    follow(&db, dave, rob, true, None).await;
    follow(&db, carol, alice, true, None).await;
    let exclusive = list_of(&db, alice, "exclusive", "list", true, &[dave]).await;
    let followed = list_of(&db, alice, "followed", "followed", false, &[bob, rita]).await;
    let members = list_of(&db, alice, "members", "list", false, &[bob, rita]).await;
    let quiet = list_of(&db, alice, "none", "none", false, &[bob, carol]).await;
    let bobs = list_of(&db, bob, "bob's", "list", false, &[rita, alice]).await;
    let lists = [exclusive, followed, members, quiet, bobs];

    // Every author writes every kind of status in every visibility: plain (no language, tagged,
    // with an attachment), in English, in French, a reply to themself, and a reply to each
    // other account; direct ones without mentions, mentioning alice, mentioning bob.
    let languages = [None, Some("en"), Some("fr")];
    let mut statuses: Vec<Status> = Vec::new();
    let mut parents: Vec<(Id, Id)> = Vec::new(); // a public status of each account, to reply to
    for author in everyone {
        let mut s = simple_status(author, "parent", Visibility::Public);
        s.local = local.contains(&author);
        let parent = insert(&db, s).await;
        parents.push((author, parent.id));
        statuses.push(parent);
    }
    for author in everyone {
        for visibility in [Visibility::Public, Visibility::Unlisted, Visibility::Private, Visibility::Direct] {
            let mut kinds: Vec<(Option<&str>, Option<Id>)> = languages.iter().map(|l| (*l, None)).collect();
            kinds.extend(everyone.iter().map(|to| (None, Some(*to))));
            for (i, (language, reply_to)) in kinds.into_iter().enumerate() {
                let mention_sets: &[&[Id]] =
                    if visibility == Visibility::Direct { &[&[], &[alice], &[bob]] } else { &[&[]] };
                for mentions in mention_sets {
                    let mut s = simple_status(author, "#Rust status", visibility);
                    s.local = local.contains(&author);
                    s.language = language.map(str::to_string);
                    s.tags = vec!["Rust".into()];
                    if i == 0 {
                        s.media = vec![
                            serde_json::from_value(serde_json::json!({
                                "type": "image", "url": "https://example.test/a.png", "preview_url": null,
                                "description": null, "blurhash": null, "width": null, "height": null
                            }))
                            .unwrap(),
                        ];
                    }
                    if let Some(to) = reply_to {
                        let parent = parents.iter().find(|(a, _)| *a == to).unwrap().1;
                        s.in_reply_to_id = Some(parent);
                        s.in_reply_to_account_id = Some(to);
                        s.conversation_id = parent;
                    }
                    s.mentions = mentions.iter().map(|id| mentioned(*id, name(*id))).collect();
                    statuses.push(insert(&db, s).await);
                }
            }
        }
    }
    // Reblogs: everyone reblogs a public status of everyone else's.
    for author in everyone {
        for (of, parent) in parents.clone() {
            if of != author {
                let mut s = simple_status(author, "", Visibility::Public);
                s.local = local.contains(&author);
                s.reblog_of_id = Some(parent);
                statuses.push(insert(&db, s).await);
            }
        }
    }

    let mut tx = read(&db).await;
    let all = PageRequest { limit: 10_000, ..Default::default() };
    let ids = |rows: Vec<Status>| rows.into_iter().map(|s| s.id).collect::<HashSet<Id>>();
    let mut homes = std::collections::HashMap::new();
    for a in local {
        homes.insert(a, ids(tx.home_timeline(a, &all).await.unwrap()));
    }
    let mut list_timelines = std::collections::HashMap::new();
    for l in &lists {
        list_timelines.insert(l.id, ids(tx.list_timeline(l, &all).await.unwrap()));
    }
    let filters: Vec<PublicFilter> = [(false, false), (true, false), (false, true)]
        .into_iter()
        .flat_map(|(local, remote)| [false, true].map(|only_media| PublicFilter { local, remote, only_media }))
        .collect();
    let mut publics = Vec::new();
    let mut tagged = Vec::new();
    for f in &filters {
        publics.push(ids(tx.public_timeline(*f, &all).await.unwrap()));
        tagged.push(ids(tx.tag_timeline("rust", *f, &all).await.unwrap()));
    }

    let mut reached = std::collections::HashMap::new();
    for s in &statuses {
        let home = tx.home_feed_recipients(s).await.unwrap();
        let in_lists: HashSet<Id> = tx.list_recipients(s).await.unwrap().into_iter().map(|l| l.id).collect();
        let reach = tx.public_reach(s).await.unwrap();
        let what = format!(
            "status by {} ({:?}, language {:?}, reply to {:?}, reblog {}, mentions {:?})",
            name(s.account_id),
            s.visibility,
            s.language,
            s.in_reply_to_account_id.map(name),
            s.reblog_of_id.is_some(),
            s.mentions().iter().map(|m| m.username.clone()).collect::<Vec<_>>()
        );
        for r in &home {
            assert!(local.contains(r), "{what}: home feed of a remote account");
        }
        for a in local {
            assert_eq!(
                homes[&a].contains(&s.id),
                home.contains(&a),
                "{what}: in {}'s home timeline <=> distributed to it",
                name(a)
            );
        }
        for l in &lists {
            assert_eq!(
                list_timelines[&l.id].contains(&s.id),
                in_lists.contains(&l.id),
                "{what}: in list {:?} of {} <=> distributed to it",
                l.title,
                name(l.account_id)
            );
        }
        for (i, f) in filters.iter().enumerate() {
            let on_public = reach.public
                && (!f.local || s.local)
                && (!f.remote || !s.local)
                && (!f.only_media || !s.media().is_empty());
            assert_eq!(publics[i].contains(&s.id), on_public, "{what}: on the public timeline {f:?} <=> its reach");
            let on_tag = reach.hashtags
                && s.tags().iter().any(|t| t.eq_ignore_ascii_case("rust"))
                && (!f.local || s.local)
                && (!f.remote || !s.local)
                && (!f.only_media || !s.media().is_empty());
            assert_eq!(tagged[i].contains(&s.id), on_tag, "{what}: on #rust {f:?} <=> its reach");
        }
        reached.insert(s.id, (home, in_lists, reach));
    }

    // And the rules are Mastodon's; a few landmarks, so that the world above is not vacuous.
    let find =
        |author: Id, visibility: Visibility, language: Option<&str>, reply_to: Option<Id>, mention: Option<Id>| {
            statuses
                .iter()
                .find(|s| {
                    s.account_id == author
                        && s.visibility == visibility
                        && s.language.as_deref() == language
                        && s.in_reply_to_account_id == reply_to
                        && s.reblog_of_id.is_none()
                        && s.text != "parent"
                        && s.mentions().iter().map(|m| m.id).collect::<Vec<_>>()
                            == mention.into_iter().collect::<Vec<_>>()
                })
                .unwrap()
                .id
        };
    let reblog = |by: Id, of: Id| {
        statuses
            .iter()
            .find(|s| s.account_id == by && s.reblog_of_id == Some(parents.iter().find(|(a, _)| *a == of).unwrap().1))
            .unwrap()
            .id
    };
    let public = Visibility::Public;
    let home_of = |s: Id| reached[&s].0.clone();
    let lists_of = |s: Id| reached[&s].1.clone();
    // Home: the author's own (a reply to someone they don't follow too), followers, not replies
    // to strangers, not reblogs hidden, not languages left out, not an exclusive list's member.
    assert_eq!(home_of(find(alice, public, None, Some(rob), None)), vec![alice]);
    assert!(home_of(find(bob, public, None, Some(rita), None)).contains(&alice));
    assert!(!home_of(find(bob, public, None, Some(rob), None)).contains(&alice));
    assert!(home_of(find(bob, public, None, Some(alice), None)).contains(&alice));
    assert!(!home_of(reblog(carol, bob)).contains(&alice) && home_of(reblog(bob, carol)).contains(&alice));
    assert!(!home_of(find(rita, public, Some("fr"), None, None)).contains(&alice));
    assert!(home_of(find(rita, public, None, None, None)).contains(&alice));
    assert!(home_of(find(bob, public, Some("fr"), None, None)).contains(&dave));
    assert!(!home_of(find(bob, public, Some("en"), None, None)).contains(&dave));
    assert!(!home_of(find(dave, public, None, None, None)).contains(&alice), "dave is on an exclusive list");
    assert!(home_of(find(bob, Visibility::Direct, None, None, Some(alice))).contains(&alice));
    assert!(!home_of(find(bob, Visibility::Direct, None, None, None)).contains(&alice));
    assert!(home_of(find(bob, Visibility::Private, None, None, None)).contains(&alice));
    // Lists: an exclusive list has its members' posts; no direct ones; replies to the owner
    // under every policy; other replies as the policy says; the follow's options apply.
    let ids_of = |ls: &[&List]| ls.iter().map(|l| l.id).collect::<HashSet<Id>>();
    assert!(lists_of(find(dave, public, None, None, None)).contains(&lists[0].id));
    assert!(lists_of(find(bob, Visibility::Direct, None, None, Some(alice))).is_empty());
    assert_eq!(lists_of(find(bob, public, None, Some(alice), None)), ids_of(&[&lists[1], &lists[2], &lists[3]]));
    assert_eq!(lists_of(find(bob, public, None, Some(rita), None)), ids_of(&[&lists[1], &lists[2]]));
    assert_eq!(lists_of(find(bob, public, None, Some(carol), None)), ids_of(&[&lists[1]]));
    assert!(lists_of(find(bob, public, None, Some(rob), None)).is_empty());
    assert_eq!(lists_of(find(rita, public, Some("fr"), None, None)), ids_of(&[&lists[4]]));
    assert!(
        !lists_of(reblog(carol, bob)).contains(&lists[3].id) && lists_of(reblog(bob, carol)).contains(&lists[3].id)
    );
    // Public: no replies to others, no reblogs, public only; hashtags take replies too.
    let reach_of = |s: Id| reached[&s].2;
    assert_eq!(reach_of(find(bob, public, None, Some(bob), None)), PublicReach { public: true, hashtags: true });
    assert_eq!(reach_of(find(bob, public, None, Some(rob), None)), PublicReach { public: false, hashtags: true });
    assert_eq!(reach_of(reblog(bob, rita)), PublicReach { public: false, hashtags: false });
    assert_eq!(reach_of(find(rita, Visibility::Unlisted, None, None, None)), PublicReach::default());
    assert!(tagged[0].contains(&find(rita, public, None, Some(alice), None)));
    assert!(
        publics[4].contains(&find(rita, public, None, None, None))
            && !publics[2].contains(&find(rita, public, None, None, None))
    );
    // A limited account is off the public and hashtag timelines, not off its followers' homes.
    assert_eq!(reach_of(find(rob, public, None, None, None)), PublicReach::default());
    assert!(home_of(find(rob, public, None, None, None)).contains(&dave));
});

both_databases!(a_silenced_domains_accounts_are_limited, |db: Db| async move {
    let alice = account(&db, "alice").await;
    let bob = account(&db, "bob").await;
    let known = remote_account(&db, "known", "quiet.example").await;
    let sub = remote_account(&db, "sub", "a.quiet.example").await;
    let other = remote_account(&db, "other", "notquiet.example").await;
    follow(&db, alice, known, true, None).await;
    let limited = |id: Id| {
        let db = db.clone();
        async move { read(&db).await.account_by_id(id).await.unwrap().unwrap().silenced_at.is_some() }
    };
    let block = |severity: &str, at: i64| DomainBlock {
        domain: "quiet.example".into(),
        severity: severity.into(),
        reject_media: false,
        reject_reports: false,
        created_at: at,
    };
    let mut tx = db.write().await.unwrap();
    tx.upsert_domain_block(&block("silence", 1_000)).await.unwrap();
    tx.commit().await.unwrap();
    // The domain's accounts and its subdomains' are limited; another domain's are not; one
    // arriving later is limited as it arrives.
    assert!(limited(known).await && limited(sub).await && !limited(other).await);
    let late = remote_account(&db, "late", "quiet.example").await;
    assert!(limited(late).await);
    assert!(read(&db).await.account_by_id(late).await.unwrap().unwrap().suspended_at.is_none());

    // Their notifications reach only their followers.
    let mut tx = db.write().await.unwrap();
    let notification = |to: Id, from: Id| Notification {
        id: Id::generate(),
        account_id: to,
        from_account_id: from,
        kind: NotificationType::Mention,
        status_id: None,
        group_key: format!("ungrouped-{}", Id::generate()),
        created_at: now_ms(),
    };
    assert!(tx.create_notification_unless_hidden(&notification(alice, known), now_ms()).await.unwrap());
    assert!(!tx.create_notification_unless_hidden(&notification(bob, known), now_ms()).await.unwrap());
    assert!(tx.create_notification_unless_hidden(&notification(bob, other), now_ms()).await.unwrap());
    tx.commit().await.unwrap();

    // Made a suspension, the block lifts the silence it set; lifted, it lifts everything.
    let mut tx = db.write().await.unwrap();
    tx.upsert_domain_block(&block("suspend", 2_000)).await.unwrap();
    tx.commit().await.unwrap();
    let suspended = |id: Id| {
        let db = db.clone();
        async move { read(&db).await.account_by_id(id).await.unwrap().unwrap().suspended_at.is_some() }
    };
    assert!(!limited(known).await);
    // A suspension too covers the subdomains and the accounts arriving later.
    assert!(suspended(known).await && suspended(sub).await && !suspended(other).await);
    let later = remote_account(&db, "later", "b.quiet.example").await;
    assert!(suspended(later).await && !limited(later).await);
    let mut tx = db.write().await.unwrap();
    tx.upsert_domain_block(&block("silence", 3_000)).await.unwrap();
    tx.commit().await.unwrap();
    assert!(limited(known).await && !suspended(known).await && !suspended(later).await);
    let mut tx = db.write().await.unwrap();
    assert!(tx.delete_domain_block("quiet.example").await.unwrap());
    tx.commit().await.unwrap();
    for id in [known, sub, late, later] {
        assert!(!limited(id).await && !suspended(id).await);
    }
    let mut tx = db.write().await.unwrap();
    assert!(tx.create_notification_unless_hidden(&notification(bob, known), now_ms()).await.unwrap());
    tx.commit().await.unwrap();
});
