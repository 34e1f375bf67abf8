"""Accounts and relationships: credentials, profiles, lookups, follows, blocks, mutes, follow requests."""

from __future__ import annotations

import datetime
import secrets
import time

import pytest
from mastodon import MastodonAPIError, MastodonNotFoundError

from support import Server, assert_error, ids, wait_for

RELATIONSHIP_FLAGS = (
    "following",
    "showing_reblogs",
    "notifying",
    "followed_by",
    "blocking",
    "blocked_by",
    "muting",
    "muting_notifications",
    "requested",
    "requested_by",
    "domain_blocking",
    "endorsed",
)


def relationship(user, other):
    rels = user.api.account_relationships(other.id)
    assert len(rels) == 1 and str(rels[0]["id"]) == other.id, rels
    return rels[0]


def assert_relationship(rel, **expected):
    for flag in RELATIONSHIP_FLAGS:
        assert isinstance(rel[flag], bool), f"{flag} should be a boolean: {rel!r}"
    for flag, value in expected.items():
        assert rel[flag] is value, f"relationship.{flag} is {rel[flag]!r}, expected {value!r}: {rel!r}"


def test_verify_credentials_has_source(server: Server, alice):
    me = alice.api.account_verify_credentials()
    assert str(me["id"]) == alice.id
    assert me["username"] == alice.username
    assert me["acct"] == alice.username  # local accounts have no domain part
    assert me["url"] == f"{server.base_url}/@{alice.username}"
    assert me["uri"].startswith(server.base_url + "/")
    assert me["locked"] is False and me["bot"] is False and me["group"] is False
    assert isinstance(me["created_at"], datetime.datetime)
    for key in ("followers_count", "following_count", "statuses_count"):
        assert isinstance(me[key], int) and me[key] >= 0, key
    assert me["avatar"].startswith("http") and me["avatar_static"].startswith("http")
    assert me["header"].startswith("http") and me["header_static"].startswith("http")

    source = me["source"]
    assert source["privacy"] in ("public", "unlisted", "private", "direct")
    assert isinstance(source["sensitive"], bool)
    assert source["language"] is None or isinstance(source["language"], str)
    assert isinstance(source["note"], str)
    assert isinstance(source["fields"], list)
    assert source["follow_requests_count"] == 0

    # Other people see no `source`.
    assert alice.api.account(alice.id).get("source") is None


def test_update_credentials(server: Server, make_user, bob):
    user = make_user("profile")
    note = f"Hello, I test things {secrets.token_hex(3)}."
    updated = user.api.account_update_credentials(
        display_name="Profile Tester",
        note=note,
        locked=True,
        bot=True,
        fields=[("Pronouns", "they/them"), ("Website", "https://example.com/me")],
    )
    assert updated["display_name"] == "Profile Tester"
    assert note in updated["note"] and updated["note"].startswith("<p>"), updated["note"]
    assert updated["locked"] is True
    assert updated["bot"] is True
    assert [f["name"] for f in updated["fields"]] == ["Pronouns", "Website"]
    assert updated["fields"][0]["value"] == "they/them"
    assert 'href="https://example.com/me"' in updated["fields"][1]["value"], "URLs in fields are rendered as links"
    assert all(f["verified_at"] is None for f in updated["fields"])
    assert updated["source"]["note"] == note  # the plain text the user typed
    assert [(f["name"], f["value"]) for f in updated["source"]["fields"]] == [
        ("Pronouns", "they/them"),
        ("Website", "https://example.com/me"),
    ]

    seen = bob.api.account(user.id)
    assert seen["display_name"] == "Profile Tester"
    assert note in seen["note"]
    assert seen["locked"] is True and seen["bot"] is True
    assert [f["name"] for f in seen["fields"]] == ["Pronouns", "Website"]

    unlocked = user.api.account_update_credentials(locked=False, bot=False)
    assert unlocked["locked"] is False and unlocked["bot"] is False
    assert unlocked["display_name"] == "Profile Tester", "fields not sent must stay as they were"


def test_update_credentials_rejects_too_long_display_name(alice):
    response = alice.http.patch("/api/v1/accounts/update_credentials", data={"display_name": "x" * 31})
    assert_error(response, 422)
    assert alice.api.account_verify_credentials()["display_name"] != "x" * 31


def test_lookup(server: Server, alice, bob, anonymous):
    assert str(alice.api.account_lookup(bob.username)["id"]) == bob.id
    assert str(anonymous.account_lookup(bob.username)["id"]) == bob.id
    assert str(alice.api.account_lookup(f"{bob.username}@{server.domain}")["id"]) == bob.id
    with pytest.raises(MastodonNotFoundError):
        alice.api.account_lookup("nobody" + secrets.token_hex(4))


def test_account_get(server: Server, alice, bob, anonymous):
    seen = bob.api.account(alice.id)
    assert str(seen["id"]) == alice.id
    assert seen["username"] == alice.username
    assert seen["acct"] == alice.username
    assert seen["url"] == f"{server.base_url}/@{alice.username}"
    assert str(anonymous.account(alice.id)["id"]) == alice.id
    assert_error(bob.http.get("/api/v1/accounts/99999999999999999"), 404)


def test_relationships_of_several_accounts(alice, bob, carol):
    rels = alice.api.account_relationships([bob.id, carol.id])
    assert [str(r["id"]) for r in rels] == [bob.id, carol.id]
    for rel in rels:
        assert_relationship(rel, following=False, followed_by=False, blocking=False, muting=False, requested=False)


def test_account_statuses_filters(make_user):
    author = make_user("filters")
    other = make_user("filters")
    foreign_root = other.api.status_post("someone else's post")

    plain = author.api.status_post("a plain post")
    self_reply = author.api.status_post("my thread continues", in_reply_to_id=plain["id"])
    foreign_reply = author.api.status_post(f"@{other.username} replying to you", in_reply_to_id=foreign_root["id"])
    to_pin = author.api.status_post("pin me")
    author.api.status_pin(to_pin["id"])
    reblog = author.api.status_reblog(foreign_root["id"])

    everything = ids(author.api.account_statuses(author.id))
    assert everything == [str(reblog["id"]), str(to_pin["id"]), str(foreign_reply["id"]), str(self_reply["id"]), str(plain["id"])]

    # exclude_replies drops replies to other accounts; a reply to oneself (a thread) stays.
    assert ids(author.api.account_statuses(author.id, exclude_replies=True)) == [
        str(reblog["id"]),
        str(to_pin["id"]),
        str(self_reply["id"]),
        str(plain["id"]),
    ]
    assert str(reblog["id"]) not in ids(author.api.account_statuses(author.id, exclude_reblogs=True))

    pinned = author.api.account_statuses(author.id, pinned=True)
    assert ids(pinned) == [str(to_pin["id"])]
    assert pinned[0]["pinned"] is True

    media_only = author.api.account_statuses(author.id, only_media=True)
    assert media_only == [], "none of these statuses has media"

    # Another viewer sees the same public statuses.
    assert ids(other.api.account_statuses(author.id)) == everything
    assert author.api.account(author.id)["statuses_count"] == 5


def test_follow_and_unfollow(make_user):
    followed = make_user("followed")
    follower = make_user("follower")

    rel = follower.api.account_follow(followed.id)
    assert str(rel["id"]) == followed.id
    assert_relationship(rel, following=True, requested=False, showing_reblogs=True, notifying=False, followed_by=False)
    assert_relationship(relationship(followed, follower), followed_by=True, following=False)

    assert ids(follower.api.account_following(follower.id)) == [followed.id]
    assert ids(followed.api.account_followers(followed.id)) == [follower.id]
    assert followed.api.account(followed.id)["followers_count"] == 1
    assert follower.api.account(follower.id)["following_count"] == 1

    # Following again changes nothing.
    again = follower.api.account_follow(followed.id)
    assert_relationship(again, following=True)
    assert followed.api.account(followed.id)["followers_count"] == 1

    rel = follower.api.account_unfollow(followed.id)
    assert_relationship(rel, following=False, requested=False)
    assert_relationship(relationship(followed, follower), followed_by=False)
    assert followed.api.account_followers(followed.id) == []
    assert follower.api.account_following(follower.id) == []
    assert followed.api.account(followed.id)["followers_count"] == 0
    assert follower.api.account(follower.id)["following_count"] == 0


def test_block_and_unblock(make_user):
    blocker = make_user("blocker")
    blocked = make_user("blocked")
    blocked.api.account_follow(blocker.id)
    blocker.api.account_follow(blocked.id)

    rel = blocker.api.account_block(blocked.id)
    assert_relationship(rel, blocking=True, following=False, followed_by=False)
    assert_relationship(relationship(blocked, blocker), blocked_by=True, following=False, followed_by=False)
    assert ids(blocker.api.blocks()) == [blocked.id]
    assert blocker.api.account_followers(blocker.id) == [], "a block removes the follow in both directions"
    assert blocker.api.account_following(blocker.id) == []

    # The blocked account cannot follow again.
    response = blocked.http.post(f"/api/v1/accounts/{blocker.id}/follow")
    assert_error(response, 403)

    rel = blocker.api.account_unblock(blocked.id)
    assert_relationship(rel, blocking=False, following=False)
    assert_relationship(relationship(blocked, blocker), blocked_by=False)
    assert blocker.api.blocks() == []


def test_mute_and_unmute(make_user):
    muter = make_user("muter")
    muted = make_user("muted")
    muter.api.account_follow(muted.id)

    rel = muter.api.account_mute(muted.id)
    assert_relationship(rel, muting=True, muting_notifications=True, following=True)
    assert ids(muter.api.mutes()) == [muted.id]
    assert_relationship(relationship(muted, muter), muting=False)  # a mute is invisible to the muted account

    hidden = muted.api.status_post("you will not see this at home")
    sentinel = muter.api.status_post("my own later post")
    home = wait_for(
        lambda: (h := ids(muter.api.timeline_home())) and str(sentinel["id"]) in h and h,
        "the muter's own post in the home timeline",
    )
    assert str(hidden["id"]) not in home, "statuses of a muted account stay out of the home timeline"

    rel = muter.api.account_unmute(muted.id)
    assert_relationship(rel, muting=False, muting_notifications=False)
    assert muter.api.mutes() == []
    visible = muted.api.status_post("now you see me")
    wait_for(lambda: str(visible["id"]) in ids(muter.api.timeline_home()), "the unmuted account's post at home")

    # Muting only the timeline, not the notifications.
    rel = muter.api.account_mute(muted.id, notifications=False)
    assert_relationship(rel, muting=True, muting_notifications=False)


def test_a_timed_mute_is_over_once_it_expires(make_user):
    muter = make_user("tmuter")
    muted = make_user("tmuted")
    muter.api.account_follow(muted.id)
    rel = muter.api.account_mute(muted.id, duration=1)
    assert_relationship(rel, muting=True, muting_notifications=True)
    assert rel["muting_expires_at"] is not None
    hidden = muted.api.status_post("posted during a one-second mute")
    assert ids(muter.api.mutes()) == [muted.id]

    time.sleep(1.5)
    rel = relationship(muter, muted)
    assert_relationship(rel, muting=False, muting_notifications=False)
    assert rel["muting_expires_at"] is None, rel
    assert muter.api.mutes() == []
    wait_for(lambda: str(hidden["id"]) in ids(muter.api.timeline_home()), "the formerly muted account's post at home")


def test_remove_from_followers(make_user):
    user = make_user("owner")
    follower = make_user("fan")
    follower.api.account_follow(user.id)
    assert ids(user.api.account_followers(user.id)) == [follower.id]

    rel = user.api.account_remove_from_followers(follower.id)
    assert str(rel["id"]) == follower.id
    assert_relationship(rel, followed_by=False)
    assert_relationship(relationship(follower, user), following=False, requested=False)
    assert user.api.account_followers(user.id) == []


def test_locked_account_follow_requests(make_user):
    owner = make_user("locked")
    accepted = make_user("asker")
    rejected = make_user("asker")
    assert owner.api.account_update_credentials(locked=True)["locked"] is True

    for asker in (accepted, rejected):
        rel = asker.api.account_follow(owner.id)
        assert_relationship(rel, requested=True, following=False)

    assert set(ids(owner.api.follow_requests())) == {accepted.id, rejected.id}
    assert_relationship(relationship(owner, accepted), requested_by=True, followed_by=False)
    assert owner.api.account_verify_credentials()["source"]["follow_requests_count"] == 2
    assert owner.api.account_followers(owner.id) == []

    notifications = wait_for(
        lambda: [n for n in owner.api.notifications(types=["follow_request"]) if str(n["account"]["id"]) in (accepted.id, rejected.id)],
        "follow_request notifications",
    )
    assert all(n["type"] == "follow_request" for n in notifications)

    rel = owner.api.follow_request_authorize(accepted.id)
    assert str(rel["id"]) == accepted.id
    assert_relationship(rel, followed_by=True, requested_by=False)
    assert_relationship(relationship(accepted, owner), following=True, requested=False)

    rel = owner.api.follow_request_reject(rejected.id)
    assert str(rel["id"]) == rejected.id
    assert_relationship(rel, followed_by=False, requested_by=False)
    assert_relationship(relationship(rejected, owner), following=False, requested=False)

    assert owner.api.follow_requests() == []
    assert ids(owner.api.account_followers(owner.id)) == [accepted.id]
    assert owner.api.account_verify_credentials()["source"]["follow_requests_count"] == 0

    # Authorizing someone who did not ask is an error.
    with pytest.raises(MastodonAPIError):
        owner.api.follow_request_authorize(rejected.id)
