"""Who may see what: public, unlisted, followers-only and direct statuses, and blocks.

Absence from a timeline is only meaningful once the timeline is known to be up to date, so each
check first waits for a later "sentinel" status to show up, then asserts the hidden one is not
there.
"""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from support import Server, User, assert_error, ids, unique, wait_for


@dataclasses.dataclass
class Circle:
    author: User
    follower: User
    stranger: User


@pytest.fixture(scope="module")
def circle(make_user) -> Circle:
    author = make_user("author")
    follower = make_user("follower")
    stranger = make_user("stranger")
    rel = follower.api.account_follow(author.id)
    assert rel["following"] is True, rel
    return Circle(author, follower, stranger)


def text(label: str, tag: str | None = None) -> str:
    return f"{label} {secrets.token_hex(4)}" + (f" #{tag}" if tag else "")


def public_ids(user: User, **kwargs) -> list[str]:
    return ids(user.api.timeline_public(limit=40, **kwargs))


def wait_in(fetch, status, what: str) -> list[str]:
    sid = str(status["id"])
    return wait_for(lambda: (found := fetch()) and sid in found and found, f"status {sid} in {what}")


def test_public_status_is_visible_everywhere(server: Server, circle: Circle, anonymous):
    tag = unique("vis")
    status = circle.author.api.status_post(text("public", tag), visibility="public")
    sid = str(status["id"])
    for viewer in (circle.follower, circle.stranger):
        assert str(viewer.api.status(sid)["id"]) == sid
    assert str(anonymous.status(sid)["id"]) == sid

    wait_in(lambda: public_ids(circle.stranger, local=True), status, "the local public timeline")
    wait_in(lambda: public_ids(circle.stranger), status, "the public timeline")
    wait_in(lambda: ids(circle.stranger.api.timeline_hashtag(tag)), status, "the tag timeline")
    assert sid in ids(anonymous.account_statuses(circle.author.id))
    wait_in(lambda: ids(circle.follower.api.timeline_home()), status, "the follower's home timeline")


def test_unlisted_is_on_the_profile_but_not_in_public_timelines(circle: Circle, anonymous):
    tag = unique("vis")
    unlisted = circle.author.api.status_post(text("unlisted", tag), visibility="unlisted")
    sentinel = circle.author.api.status_post(text("sentinel", tag), visibility="public")
    uid = str(unlisted["id"])

    assert uid not in wait_in(lambda: public_ids(circle.stranger, local=True), sentinel, "the local public timeline")
    assert uid not in wait_in(lambda: public_ids(circle.stranger), sentinel, "the public timeline")
    assert uid not in wait_in(lambda: ids(circle.stranger.api.timeline_hashtag(tag)), sentinel, "the tag timeline")

    assert str(circle.stranger.api.status(uid)["id"]) == uid
    assert str(anonymous.status(uid)["id"]) == uid
    assert uid in ids(circle.stranger.api.account_statuses(circle.author.id))
    assert uid in ids(anonymous.account_statuses(circle.author.id))
    wait_in(lambda: ids(circle.follower.api.timeline_home()), unlisted, "the follower's home timeline")


def test_private_is_for_followers_only(server: Server, circle: Circle, anonymous):
    private = circle.author.api.status_post(text("followers only"), visibility="private")
    sentinel = circle.author.api.status_post(text("sentinel"), visibility="public")
    pid = str(private["id"])

    assert circle.follower.api.status(pid)["visibility"] == "private"
    assert str(circle.author.api.status(pid)["id"]) == pid
    assert_error(circle.stranger.http.get(f"/api/v1/statuses/{pid}"), 404)
    assert_error(server.http().get(f"/api/v1/statuses/{pid}"), 404)
    assert_error(circle.stranger.http.get(f"/api/v1/statuses/{pid}/context"), 404)
    assert_error(circle.stranger.http.post(f"/api/v1/statuses/{pid}/favourite"), 404)
    assert_error(circle.stranger.http.get(f"/api/v1/statuses/{pid}/favourited_by"), 404)

    assert pid in ids(circle.follower.api.account_statuses(circle.author.id))
    assert pid not in ids(circle.stranger.api.account_statuses(circle.author.id))
    assert pid not in ids(anonymous.account_statuses(circle.author.id))

    for viewer in (circle.follower, circle.stranger):
        assert pid not in wait_in(lambda: public_ids(viewer, local=True), sentinel, "the local public timeline")
        assert pid not in public_ids(viewer)
    wait_in(lambda: ids(circle.follower.api.timeline_home()), private, "the follower's home timeline")


def test_direct_is_for_mentioned_accounts_only(server: Server, circle: Circle, anonymous):
    # The follower is NOT mentioned: following is not enough for a direct status.
    direct = circle.author.api.status_post(f"@{circle.stranger.username} {text('just for you')}", visibility="direct")
    sentinel = circle.author.api.status_post(text("sentinel"), visibility="public")
    did = str(direct["id"])

    assert circle.stranger.api.status(did)["visibility"] == "direct"
    assert_error(circle.follower.http.get(f"/api/v1/statuses/{did}"), 404)
    assert_error(server.http().get(f"/api/v1/statuses/{did}"), 404)

    assert did not in ids(circle.follower.api.account_statuses(circle.author.id))
    assert did not in ids(anonymous.account_statuses(circle.author.id))
    assert did not in wait_in(lambda: public_ids(circle.stranger, local=True), sentinel, "the local public timeline")
    assert did not in wait_in(lambda: ids(circle.follower.api.timeline_home()), sentinel, "the follower's home timeline")

    mention = wait_for(
        lambda: [n for n in circle.stranger.api.notifications(types=["mention"]) if n["status"] and str(n["status"]["id"]) == did],
        "a mention notification for the direct status",
    )[0]
    assert mention["status"]["visibility"] == "direct"
    assert str(mention["account"]["id"]) == circle.author.id


def test_blocked_user_sees_nothing_of_the_blocker(make_user, anonymous):
    blocker = make_user("blocker")
    blocked = make_user("blocked")
    tag = unique("blk")
    before = blocker.api.status_post(text("before the block", tag))
    blocker.api.account_block(blocked.id)
    after = blocker.api.status_post(text("after the block", tag))
    hidden = [str(before["id"]), str(after["id"])]

    for sid in hidden:
        assert str(anonymous.status(sid)["id"]) == sid  # public for everyone else
        assert_error(blocked.http.get(f"/api/v1/statuses/{sid}"), 404)
        assert_error(blocked.http.get(f"/api/v1/statuses/{sid}/context"), 404)
        assert_error(blocked.http.post(f"/api/v1/statuses/{sid}/favourite"), 404)
        assert_error(blocked.http.post(f"/api/v1/statuses/{sid}/reblog"), 404)

    assert not set(hidden) & set(ids(blocked.api.account_statuses(blocker.id)))

    sentinel = blocked.api.status_post(text("sentinel", tag))
    for what, fetch in (
        ("the local public timeline", lambda: public_ids(blocked, local=True)),
        ("the public timeline", lambda: public_ids(blocked)),
        ("the tag timeline", lambda: ids(blocked.api.timeline_hashtag(tag))),
    ):
        seen = wait_in(fetch, sentinel, what)
        assert not set(hidden) & set(seen), f"the blocked account sees the blocker's statuses in {what}"

    # The blocker does not see the blocked account either.
    mine = blocker.api.status_post(text("blocker sentinel", tag))
    seen = wait_in(lambda: ids(blocker.api.timeline_hashtag(tag)), mine, "the blocker's tag timeline")
    assert str(sentinel["id"]) not in seen
    seen = wait_in(lambda: public_ids(blocker, local=True), mine, "the blocker's local public timeline")
    assert str(sentinel["id"]) not in seen
