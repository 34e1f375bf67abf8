"""Lists through Mastodon.py: lists of followed accounts with their timeline.

Mastodon's semantics: a list belongs to its owner (others get 404); members must be followed
(422 otherwise) and leave the list when unfollowed; the list timeline shows the members' posts,
replies to the owner, and other replies as ``replies_policy`` says (``list`` by default: replies
to members; ``followed``: to anyone the owner follows; ``none``: no others), as Mastodon's
``FeedManager#filter_from_list?``; an ``exclusive`` list's members leave the home timeline.
"""

from __future__ import annotations

import secrets

import pytest
from mastodon import MastodonNotFoundError

from support import assert_error, wait_for


def text(label: str) -> str:
    return f"{label} {secrets.token_hex(4)}"


def ids_of(statuses) -> list[str]:
    return [str(s["id"]) for s in statuses]


def test_lists_and_their_members(make_user, server):
    me = make_user("lister")
    friend, other, stranger = make_user("lfriend"), make_user("lother"), make_user("lstranger")
    me.api.account_follow(friend.id)
    me.api.account_follow(other.id)

    created = me.api.list_create("Friends")
    lid = str(created["id"])
    assert created["title"] == "Friends" and created["replies_policy"] == "list" and created["exclusive"] is False
    assert [str(l["id"]) for l in me.api.lists()] == [lid]
    assert me.api.list(lid)["title"] == "Friends"
    updated = me.api.list_update(lid, "Close friends", replies_policy="followed", exclusive=True)
    assert (updated["title"], updated["replies_policy"], updated["exclusive"]) == ("Close friends", "followed", True)

    me.api.list_accounts_add(lid, [friend.id, other.id])
    assert sorted(str(a["id"]) for a in me.api.list_accounts(lid)) == sorted([friend.id, other.id])
    assert sorted(str(a["id"]) for a in me.api.list_accounts(lid, limit=0)) == sorted([friend.id, other.id])
    assert [str(l["id"]) for l in me.api.account_lists(friend.id)] == [lid]
    assert me.api.account_lists(stranger.id) == []
    # Only followed accounts; nothing is added when one of them is not.
    assert_error(me.http.post(f"/api/v1/lists/{lid}/accounts", data={"account_ids[]": [stranger.id]}), 422)
    me.api.list_accounts_delete(lid, [other.id])
    assert [str(a["id"]) for a in me.api.list_accounts(lid)] == [friend.id]
    # Unfollowing removes the account from the lists.
    me.api.account_unfollow(friend.id)
    assert me.api.list_accounts(lid) == []

    # Others' lists do not exist for them; bad input is refused.
    for method, path in (("GET", f"/api/v1/lists/{lid}"), ("GET", f"/api/v1/timelines/list/{lid}"), ("DELETE", f"/api/v1/lists/{lid}")):
        assert_error(other.http.request(method, path), 404)
    assert_error(me.http.post("/api/v1/lists", data={"title": " "}), 400, 422)
    assert_error(me.http.post("/api/v1/lists", data={"title": "x", "replies_policy": "everyone"}), 422)
    assert_error(server.http().get("/api/v1/lists"), 401)

    me.api.list_delete(lid)
    assert me.api.lists() == []
    with pytest.raises(MastodonNotFoundError):
        me.api.list(lid)


@pytest.mark.parametrize("policy", ["list", "followed", "none"])
def test_the_list_timeline_follows_the_replies_policy(make_user, policy):
    me = make_user("ltl")
    member, followed, unfollowed = make_user("lmember"), make_user("lfollowed"), make_user("lunfollowed")
    for account in (member, followed):
        me.api.account_follow(account.id)
    lst = me.api.list_create(f"policy {policy}", replies_policy=policy)
    me.api.list_accounts_add(lst["id"], [member.id])

    post = member.api.status_post(text("a member's post"))
    thread = member.api.status_post(text("my own thread"), in_reply_to_id=post["id"])
    followed_post = followed.api.status_post(text("followed"))
    unfollowed_post = unfollowed.api.status_post(text("not followed"))
    to_followed = member.api.status_post(f"@{followed.username} {text('reply to followed')}", in_reply_to_id=followed_post["id"])
    to_unfollowed = member.api.status_post(f"@{unfollowed.username} {text('reply to stranger')}", in_reply_to_id=unfollowed_post["id"])
    to_me_post = me.api.status_post(text("mine"))
    to_me = member.api.status_post(f"@{me.username} {text('reply to me')}", in_reply_to_id=to_me_post["id"])
    not_member = followed.api.status_post(text("not in the list"))

    shown = set(ids_of(me.api.timeline_list(lst["id"], limit=40)))
    expected = {
        "list": {post["id"], thread["id"], to_me["id"]},
        "followed": {post["id"], thread["id"], to_followed["id"], to_me["id"]},
        "none": {post["id"], thread["id"], to_me["id"]},
    }[policy]
    assert shown == {str(i) for i in expected}, f"{policy}: {shown}"
    assert str(to_unfollowed["id"]) not in shown and str(not_member["id"]) not in shown


def test_an_exclusive_lists_members_leave_the_home_timeline(make_user):
    me = make_user("lexcl")
    member, other = make_user("lexm"), make_user("lexo")
    me.api.account_follow(member.id)
    me.api.account_follow(other.id)
    lst = me.api.list_create("Exclusive", exclusive=True)
    me.api.list_accounts_add(lst["id"], [member.id])
    hidden = member.api.status_post(text("only in the list"))
    shown = other.api.status_post(text("in home"))
    home = ids_of(me.api.timeline_home(limit=40))
    assert str(shown["id"]) in home and str(hidden["id"]) not in home
    assert ids_of(me.api.timeline_list(lst["id"])) == [str(hidden["id"])]
    me.api.list_update(lst["id"], "Not exclusive", exclusive=False)
    wait_for(lambda: str(hidden["id"]) in ids_of(me.api.timeline_home(limit=40)), "the member's post back in home")
