"""Statuses: posting in every visibility, content warnings, polls, replies, rendering, idempotency,
favourites, reblogs, bookmarks, pins, conversation mutes, edits and deletion."""

from __future__ import annotations

import datetime
import secrets
import uuid

import pytest
from mastodon import MastodonAPIError, MastodonNotFoundError

from support import APP_NAME, Server, anchors, assert_error, ids, text_of, unique, wait_for


def fresh_text(label: str) -> str:
    return f"{label} {secrets.token_hex(4)}"


def refetch(user, status):
    return user.api.status(status["id"])


@pytest.mark.parametrize("visibility", ["public", "unlisted", "private", "direct"])
def test_post_in_each_visibility(server: Server, alice, bob, visibility):
    text = fresh_text(f"visibility {visibility}")
    if visibility == "direct":
        text = f"@{bob.username} {text}"
    status = alice.api.status_post(text, visibility=visibility)

    assert status["visibility"] == visibility
    assert str(status["account"]["id"]) == alice.id
    assert text.split(" ", 1)[-1] in text_of(status["content"])
    assert status["content"].startswith("<p>"), status["content"]
    assert status["url"] == f"{server.base_url}/@{alice.username}/{status['id']}"
    assert status["uri"].startswith(server.base_url + "/")
    assert isinstance(status["created_at"], datetime.datetime)
    assert status["in_reply_to_id"] is None and status["reblog"] is None and status["poll"] is None
    assert status["media_attachments"] == []
    assert (status["replies_count"], status["reblogs_count"], status["favourites_count"]) == (0, 0, 0)
    assert status["favourited"] is False and status["reblogged"] is False and status["bookmarked"] is False
    assert status["muted"] is False
    if visibility != "direct":  # Mastodon sends `pinned` only where pinning is possible
        assert status["pinned"] is False
    assert status["sensitive"] is False and status["spoiler_text"] == ""
    assert status["application"]["name"] == APP_NAME, "the author sees which app posted"

    again = refetch(alice, status)
    assert str(again["id"]) == str(status["id"])
    assert again["visibility"] == visibility
    assert again["content"] == status["content"]


def test_content_warning(alice, bob):
    status = alice.api.status_post(fresh_text("behind a warning"), spoiler_text="Spoilers ahead", sensitive=True)
    assert status["spoiler_text"] == "Spoilers ahead"
    assert status["sensitive"] is True
    seen = refetch(bob, status)
    assert seen["spoiler_text"] == "Spoilers ahead" and seen["sensitive"] is True


def test_spoiler_text_makes_a_status_sensitive(alice):
    status = alice.api.status_post(fresh_text("implied"), spoiler_text="CW")
    assert status["spoiler_text"] == "CW"
    assert status["sensitive"] is True, "Mastodon marks a status with a content warning as sensitive"


def test_poll_and_votes(alice, bob, carol):
    before = datetime.datetime.now(datetime.timezone.utc)
    status = alice.api.status_post(
        "Which colour?", poll=alice.api.make_poll(["red", "green", "blue"], expires_in=3600, multiple=True)
    )
    poll = status["poll"]
    assert [o["title"] for o in poll["options"]] == ["red", "green", "blue"]
    assert [o["votes_count"] for o in poll["options"]] == [0, 0, 0]
    assert poll["votes_count"] == 0
    assert poll["multiple"] is True
    assert poll["expired"] is False
    expires_at = poll["expires_at"]
    assert abs((expires_at - before).total_seconds() - 3600) < 120, expires_at

    voted = bob.api.poll_vote(poll["id"], [0, 2])
    assert [o["votes_count"] for o in voted["options"]] == [1, 0, 1]
    assert voted["votes_count"] == 2
    assert voted["voters_count"] == 1
    assert voted["voted"] is True
    assert sorted(voted["own_votes"]) == [0, 2]

    carol.api.poll_vote(poll["id"], [2])
    seen = alice.api.poll(poll["id"])
    assert [o["votes_count"] for o in seen["options"]] == [1, 0, 2]
    assert seen["votes_count"] == 3
    assert seen["voters_count"] == 2
    assert refetch(alice, status)["poll"]["votes_count"] == 3

    carol_view = carol.api.poll(poll["id"])
    assert carol_view["voted"] is True and carol_view["own_votes"] == [2]


def test_single_choice_poll_accepts_one_vote(alice, bob):
    status = alice.api.status_post("Yes or no?", poll=alice.api.make_poll(["yes", "no"], expires_in=3600))
    poll_id = status["poll"]["id"]
    voted = bob.api.poll_vote(poll_id, 1)
    assert [o["votes_count"] for o in voted["options"]] == [0, 1]
    assert voted["multiple"] is False
    assert_error(bob.http.post(f"/api/v1/polls/{poll_id}/votes", data={"choices[]": "0"}), 422)
    assert_error(bob.http.post(f"/api/v1/polls/{poll_id}/votes", data={"choices[]": ["0", "1"]}), 422)
    assert [o["votes_count"] for o in alice.api.poll(poll_id)["options"]] == [0, 1]


def test_reply_and_context(alice, bob):
    root = alice.api.status_post(fresh_text("root"))
    reply = bob.api.status_post(f"@{alice.username} {fresh_text('reply')}", in_reply_to_id=root["id"])
    assert str(reply["in_reply_to_id"]) == str(root["id"])
    assert str(reply["in_reply_to_account_id"]) == alice.id
    assert alice.id in ids(reply["mentions"])
    nested = alice.api.status_post(f"@{bob.username} {fresh_text('nested')}", in_reply_to_id=reply["id"])

    context = bob.api.status_context(root["id"])
    assert context["ancestors"] == []
    assert ids(context["descendants"]) == [str(reply["id"]), str(nested["id"])]

    context = alice.api.status_context(reply["id"])
    assert ids(context["ancestors"]) == [str(root["id"])]
    assert ids(context["descendants"]) == [str(nested["id"])]

    context = alice.api.status_context(nested["id"])
    assert ids(context["ancestors"]) == [str(root["id"]), str(reply["id"])]
    assert context["descendants"] == []

    assert refetch(alice, root)["replies_count"] == 1
    assert refetch(alice, reply)["replies_count"] == 1


def test_mention_and_hashtag_rendering(server: Server, alice, bob):
    tag = unique("tag")
    status = alice.api.status_post(f"Hello @{bob.username}, have a look at #{tag} and https://example.com/some/path")

    links = anchors(status["content"])
    bob_url = f"{server.base_url}/@{bob.username}"
    mention_links = [a for a in links if {"u-url", "mention"} <= a["_classes"]]
    assert len(mention_links) == 1, status["content"]
    assert mention_links[0]["href"] == bob_url
    assert mention_links[0]["_text"] == f"@{bob.username}"

    tag_links = [a for a in links if {"mention", "hashtag"} <= a["_classes"]]
    assert len(tag_links) == 1, status["content"]
    assert tag_links[0]["href"] == f"{server.base_url}/tags/{tag}"
    assert tag_links[0]["_text"] == f"#{tag}"
    assert "tag" in tag_links[0].get("rel", "").split()

    web_links = [a for a in links if a.get("href") == "https://example.com/some/path"]
    assert len(web_links) == 1, f"plain URLs become links: {status['content']}"

    assert [(str(m["id"]), m["username"], m["acct"], m["url"]) for m in status["mentions"]] == [
        (bob.id, bob.username, bob.username, bob_url)
    ]
    assert [(t["name"], t["url"]) for t in status["tags"]] == [(tag, f"{server.base_url}/tags/{tag}")]


def test_unknown_mention_stays_text_and_html_is_escaped(alice):
    ghost = "ghost" + secrets.token_hex(4)
    status = alice.api.status_post(f"Hi @{ghost} <script>alert(1)</script> & <b>bold</b>")
    assert status["mentions"] == []
    assert not [a for a in anchors(status["content"]) if "mention" in a["_classes"]]
    assert "<script" not in status["content"] and "<b>" not in status["content"]
    assert f"@{ghost} <script>alert(1)</script> & <b>bold</b>" in text_of(status["content"])


def test_idempotency_key(alice, bob):
    key = str(uuid.uuid4())
    text = fresh_text("idempotent")
    first = alice.api.status_post(text, idempotency_key=key)
    second = alice.api.status_post(text, idempotency_key=key)
    assert str(second["id"]) == str(first["id"]), "the same Idempotency-Key must give back the same status"

    other_key = alice.api.status_post(text, idempotency_key=str(uuid.uuid4()))
    assert str(other_key["id"]) != str(first["id"])

    # Keys belong to one account.
    bobs = bob.api.status_post(text, idempotency_key=key)
    assert str(bobs["id"]) != str(first["id"])
    assert str(bobs["account"]["id"]) == bob.id

    mine = ids(alice.api.account_statuses(alice.id, limit=40))
    assert mine.count(str(first["id"])) == 1


def test_favourite_and_unfavourite(alice, bob, carol):
    status = alice.api.status_post(fresh_text("favourite me"))

    faved = bob.api.status_favourite(status["id"])
    assert str(faved["id"]) == str(status["id"])
    assert faved["favourited"] is True
    assert faved["favourites_count"] == 1

    # Favouriting twice changes nothing.
    assert bob.api.status_favourite(status["id"])["favourites_count"] == 1

    seen = refetch(alice, status)
    assert seen["favourites_count"] == 1 and seen["favourited"] is False
    assert refetch(bob, status)["favourited"] is True
    assert refetch(carol, status)["favourited"] is False
    assert ids(alice.api.status_favourited_by(status["id"])) == [bob.id]
    assert str(status["id"]) in ids(bob.api.favourites())

    unfaved = bob.api.status_unfavourite(status["id"])
    assert unfaved["favourited"] is False
    wait_for(lambda: refetch(alice, status)["favourites_count"] == 0, "favourites_count back to 0")
    assert alice.api.status_favourited_by(status["id"]) == []
    assert str(status["id"]) not in ids(bob.api.favourites())


def test_reblog_and_unreblog(alice, bob):
    status = alice.api.status_post(fresh_text("boost me"))

    wrapper = bob.api.status_reblog(status["id"])
    assert str(wrapper["account"]["id"]) == bob.id
    assert str(wrapper["reblog"]["id"]) == str(status["id"])
    assert wrapper["reblog"]["reblogged"] is True
    assert wrapper["reblogged"] is True, "Mastodon marks the new reblog as reblogged too"
    assert str(wrapper["id"]) != str(status["id"])

    assert refetch(alice, status)["reblogs_count"] == 1
    assert refetch(bob, status)["reblogged"] is True
    assert ids(alice.api.status_reblogged_by(status["id"])) == [bob.id]
    assert str(bob.api.status(wrapper["id"])["reblog"]["id"]) == str(status["id"])
    top = bob.api.account_statuses(bob.id, limit=1)[0]
    assert str(top["id"]) == str(wrapper["id"]) and str(top["reblog"]["id"]) == str(status["id"])

    original = bob.api.status_unreblog(status["id"])
    assert str(original["id"]) == str(status["id"])
    assert original["reblogged"] is False
    wait_for(lambda: refetch(alice, status)["reblogs_count"] == 0, "reblogs_count back to 0")
    assert alice.api.status_reblogged_by(status["id"]) == []
    assert_error(bob.http.get(f"/api/v1/statuses/{wrapper['id']}"), 404)


def test_bookmark_and_unbookmark(alice, bob):
    status = alice.api.status_post(fresh_text("bookmark me"))
    marked = bob.api.status_bookmark(status["id"])
    assert marked["bookmarked"] is True
    assert refetch(bob, status)["bookmarked"] is True
    assert refetch(alice, status)["bookmarked"] is False, "bookmarks are private to who made them"
    assert ids(bob.api.bookmarks())[0] == str(status["id"])

    unmarked = bob.api.status_unbookmark(status["id"])
    assert unmarked["bookmarked"] is False
    assert str(status["id"]) not in ids(bob.api.bookmarks())


def test_pin_and_unpin(alice, bob):
    status = alice.api.status_post(fresh_text("pin me"))
    pinned = alice.api.status_pin(status["id"])
    assert pinned["pinned"] is True
    assert str(status["id"]) in ids(bob.api.account_statuses(alice.id, pinned=True))

    unpinned = alice.api.status_unpin(status["id"])
    assert unpinned["pinned"] is False
    assert str(status["id"]) not in ids(bob.api.account_statuses(alice.id, pinned=True))

    # Only one's own statuses can be pinned, and never a direct one; a followers-only one can.
    assert_error(bob.http.post(f"/api/v1/statuses/{status['id']}/pin"), 422,
                 message="Validation failed: Someone else's post cannot be pinned")
    direct = alice.api.status_post(f"@{bob.username} {fresh_text('direct')}", visibility="direct")
    assert_error(alice.http.post(f"/api/v1/statuses/{direct['id']}/pin"), 422,
                 message="Validation failed: Posts that are only visible to mentioned users cannot be pinned")
    private = alice.api.status_post(fresh_text("followers only"), visibility="private")
    assert alice.api.status_pin(private["id"])["pinned"] is True
    assert str(private["id"]) in ids(alice.api.account_statuses(alice.id, pinned=True))
    assert alice.api.status_unpin(private["id"])["pinned"] is False


def test_mute_and_unmute_conversation(alice):
    status = alice.api.status_post(fresh_text("a thread to mute"))
    muted = alice.api.status_mute(status["id"])
    assert muted["muted"] is True
    assert refetch(alice, status)["muted"] is True
    unmuted = alice.api.status_unmute(status["id"])
    assert unmuted["muted"] is False
    assert refetch(alice, status)["muted"] is False


def test_edit_history_and_source(alice, bob):
    first_text = fresh_text("first version")
    status = alice.api.status_post(first_text)
    assert status["edited_at"] is None

    second_text = fresh_text("second version")
    edited = alice.api.status_update(status["id"], second_text, spoiler_text="now with a warning")
    assert str(edited["id"]) == str(status["id"])
    assert second_text in text_of(edited["content"])
    assert edited["spoiler_text"] == "now with a warning"
    assert isinstance(edited["edited_at"], datetime.datetime)

    seen = refetch(bob, status)
    assert second_text in text_of(seen["content"]) and first_text not in text_of(seen["content"])

    history = alice.api.status_history(status["id"])
    assert len(history) == 2
    assert first_text in text_of(history[0]["content"])
    assert second_text in text_of(history[-1]["content"])
    assert history[-1]["spoiler_text"] == "now with a warning"
    assert all(str(h["account"]["id"]) == alice.id for h in history)
    assert history[0]["created_at"] <= history[-1]["created_at"]

    source = alice.api.status_source(status["id"])
    assert str(source["id"]) == str(status["id"])
    assert source["text"] == second_text
    assert source["spoiler_text"] == "now with a warning"

    # Nobody else may edit it.
    assert_error(bob.http.put(f"/api/v1/statuses/{status['id']}", data={"status": "hijacked"}), 404)
    assert second_text in text_of(refetch(alice, status)["content"])


def test_delete_returns_source_for_redraft(alice, bob):
    text = fresh_text("delete me #redraft")
    status = alice.api.status_post(text, spoiler_text="cw")
    count_before = alice.api.account_verify_credentials()["statuses_count"]

    assert_error(bob.http.delete(f"/api/v1/statuses/{status['id']}"), 404)

    deleted = alice.api.status_delete(status["id"])
    assert str(deleted["id"]) == str(status["id"])
    assert deleted["text"] == text, "DELETE answers with the source text so clients can redraft"
    assert deleted["spoiler_text"] == "cw"

    with pytest.raises(MastodonNotFoundError):
        alice.api.status(status["id"])
    assert_error(bob.http.get(f"/api/v1/statuses/{status['id']}"), 404)
    assert_error(alice.http.delete(f"/api/v1/statuses/{status['id']}"), 404)
    assert str(status["id"]) not in ids(alice.api.account_statuses(alice.id))
    wait_for(
        lambda: alice.api.account_verify_credentials()["statuses_count"] == count_before - 1,
        "statuses_count to drop after the deletion",
    )


def test_reblog_of_private_status_is_refused(make_user):
    author = make_user("private")
    follower = make_user("follower")
    follower.api.account_follow(author.id)
    status = author.api.status_post(fresh_text("followers only"), visibility="private")
    assert follower.api.status(status["id"])["visibility"] == "private"
    with pytest.raises(MastodonAPIError) as error:
        follower.api.status_reblog(status["id"])
    assert error.value.args[1] in (403, 404, 422), error.value.args
