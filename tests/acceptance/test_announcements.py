"""Announcements: made by an admin (with the CLI, where Mastodon has its admin web UI), read,
dismissed and reacted to through Mastodon.py, and pushed on the user stream.

Mastodon's semantics (Api::V1::AnnouncementsController, Api::V1::Announcements::ReactionsController,
Announcement, ReactionValidator, PublishAnnouncementWorker and friends):

* ``GET /api/v1/announcements`` needs a user token (401 without one) and lists every *published*
  announcement, oldest first by ``COALESCE(starts_at, scheduled_at, published_at, created_at)``;
  ``read`` is true once the caller dismissed it, and ``reactions`` are ``{name, count, me}``
  grouped by name. The content is the text as HTML: in a ``<p>``, escaped, URLs linked.
* An announcement scheduled for later is not published (nor listed) until then; ``publish!``
  and ``unpublish!`` both clear ``scheduled_at``, so an unpublished one is a draft.
* ``POST /api/v1/announcements/:id/dismiss`` (``write:accounts``) answers ``{}`` and is
  idempotent; an unknown or unpublished announcement is a 404, for reactions too.
* ``PUT /api/v1/announcements/:id/reactions/:name`` (``write:favourites``) answers ``{}``; the
  name must be a Unicode emoji (422 "Validation failed: Name is not a recognized emoji"); an
  announcement takes at most 8 different names (422 "Validation failed: Limit of different
  reactions reached" for a 9th, while an existing name can still be used). ``DELETE`` removes
  the caller's reaction (404 if they have none with that name).
* Every connected local user's ``user`` stream gets ``announcement`` (the Announcement) when one
  is published or edited, ``announcement.reaction`` (``{name, count, announcement_id}``, the
  count after the change) when a reaction is added or removed, and ``announcement.delete`` (the
  bare id) when one is unpublished or deleted.

Announcements are instance-wide and the server is shared by the whole session: tests find their
own announcements by the id the CLI printed, never assume the list is empty, and delete what
they created (the ``announce`` fixture does it at teardown).
"""

from __future__ import annotations

import json
import re
import secrets
import urllib.parse
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Optional

import pytest

from support import App, Server, User, anchors, assert_error, describe, sign_in_user, text_of
from test_streaming import ARRIVAL_S, WAIT_S, Ev, closing, sse, text, ws  # noqa: F401 - closing, sse, ws are fixtures

# Events caused by an API call come within ARRIVAL_S; those caused by the CLI (another process)
# may take a little longer to reach the server's streams.
CLI_EVENT_S = WAIT_S

ID_LINE = re.compile(r"^ID:\s*(\S+)\s*$", re.MULTILINE)
# An id no announcement has (Mastodon ids are numeric strings; this one still fits a bigint).
UNKNOWN_ID = "999999999999999999"
OUT_OF_SCOPE = "This action is outside the authorized scopes"
NOT_AN_EMOJI = "Validation failed: Name is not a recognized emoji"
LIMIT_REACHED = "Validation failed: Limit of different reactions reached"
ENTITY_KEYS = {
    "id", "content", "starts_at", "ends_at", "all_day", "published_at", "updated_at", "read",
    "mentions", "statuses", "tags", "emojis", "reactions",
}


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def instant(value: str) -> datetime:
    """An RFC 3339 timestamp as an aware datetime (fractions beyond microseconds dropped)."""
    assert isinstance(value, str) and re.fullmatch(
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})", value
    ), f"not an RFC 3339 timestamp: {value!r}"
    value = re.sub(r"(\.\d{6})\d+", r"\1", value).replace("Z", "+00:00")
    return datetime.fromisoformat(value)


def recent(value: str, slack: timedelta = timedelta(minutes=10)) -> bool:
    return abs(datetime.now(timezone.utc) - instant(value)) < slack


@pytest.fixture
def announce(server: Server):
    """``announce(text, *options)`` runs ``ferrodon announcements create`` and returns the new id;
    every announcement made so is deleted after the test."""
    created: list[str] = []

    def create(body: str, *options: str) -> str:
        proc = server.cli("announcements", "create", body, *options)
        match = ID_LINE.search(proc.stdout)
        assert match, f"`announcements create` printed no 'ID: <id>' line\n--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        assert "OK" in [line.strip() for line in proc.stdout.splitlines()], f"`announcements create` printed no OK line:\n{proc.stdout}"
        created.append(match.group(1))
        return match.group(1)

    yield create
    for aid in created:
        server.cli("announcements", "delete", aid, check=False)  # some tests delete their own


def cli_rows(server: Server) -> dict[str, list[str]]:
    """``ferrodon announcements list``: id -> [id, state, starts_at, ends_at, text]."""
    rows: dict[str, list[str]] = {}
    for line in server.cli("announcements", "list").stdout.splitlines():
        parts = line.split("\t", 4)
        if len(parts) == 5:
            rows[parts[0]] = parts
    return rows


def assert_cli_fails(server: Server, *args: str) -> None:
    proc = server.cli(*args, check=False)
    if proc.returncode == 0 and args[:2] == ("announcements", "create"):
        match = ID_LINE.search(proc.stdout)
        if match:  # do not leave it behind for the other modules
            server.cli("announcements", "delete", match.group(1), check=False)
    assert proc.returncode != 0, f"`ferrodon {' '.join(args)}` should fail, it exited 0\n--- stdout ---\n{proc.stdout}"
    assert proc.stderr.strip(), f"`ferrodon {' '.join(args)}` exited {proc.returncode} with nothing on stderr"


def listed(user: User) -> list[dict[str, Any]]:
    """The raw JSON of GET /api/v1/announcements for ``user``."""
    response = user.http.get("/api/v1/announcements")
    assert response.status_code == 200, describe(response)
    body = response.json()
    assert isinstance(body, list), body
    return body


def listed_ids(user: User) -> list[str]:
    return [str(a["id"]) for a in listed(user)]


def entry(user: User, aid: str) -> dict[str, Any]:
    found = [a for a in listed(user) if str(a["id"]) == aid]
    assert len(found) == 1, f"announcement {aid} listed {len(found)} times for {user.username}: {listed_ids(user)}"
    return found[0]


def reactions_of(user: User, aid: str) -> dict[str, dict[str, Any]]:
    reactions = entry(user, aid)["reactions"]
    names = [r["name"] for r in reactions]
    assert len(names) == len(set(names)), f"reactions are not grouped by name: {reactions}"
    return {r["name"]: r for r in reactions}


def reaction_path(aid: str, name: str) -> str:
    return f"/api/v1/announcements/{aid}/reactions/{urllib.parse.quote(name, safe='')}"


def assert_empty_ok(response) -> None:
    assert response.status_code == 200, describe(response)
    assert response.json() == {}, describe(response)


def is_announcement(aid: str, content_text: Optional[str] = None) -> Callable[[Ev], bool]:
    return lambda e: (
        e.event == "announcement"
        and isinstance(e.payload, dict)
        and str(e.payload.get("id")) == aid
        and (content_text is None or text_of(e.payload.get("content") or "") == content_text)
    )


def is_reaction(aid: str, name: Optional[str] = None, count: Optional[int] = None) -> Callable[[Ev], bool]:
    return lambda e: (
        e.event == "announcement.reaction"
        and isinstance(e.payload, dict)
        and str(e.payload.get("announcement_id")) == aid
        and (name is None or e.payload.get("name") == name)
        and (count is None or e.payload.get("count") == count)
    )


def is_announcement_delete(aid: str) -> Callable[[Ev], bool]:
    # Mastodon.py (SSE) and the WebSocket reader both decode the bare id as JSON, i.e. a number.
    return lambda e: e.event == "announcement.delete" and str(e.payload) == aid


def about(aid: str) -> Callable[[Ev], bool]:
    """Any announcement event about ``aid``."""
    return lambda e: is_announcement(aid)(e) or is_reaction(aid)(e) or is_announcement_delete(aid)(e)


# --------------------------------------------------------------------------------------------
# Listing
# --------------------------------------------------------------------------------------------


def test_published_announcements_are_listed_oldest_first_with_their_fields(server: Server, alice: User, announce):
    # (a real TLD: like Mastodon's formatter, ferrodon only links hosts under known TLDs, not .test)
    url = f"https://example.com/notes/{secrets.token_hex(4)}"
    late_text = text("All-day event")
    soon_text = text("Maintenance window")
    first_text = text(f"Welcome, see {url} for <b>details</b> & more")
    second_text = text("Another note")
    # Created in another order than they sort in: starts_at wins over published_at.
    late = announce(late_text, "--starts-at", "2030-01-02T00:00:00Z", "--ends-at", "2030-01-03T00:00:00Z", "--all-day")
    soon = announce(soon_text, "--starts-at", "2029-06-01T12:30:00Z", "--ends-at", "2029-06-01T14:00:00Z")
    first = announce(first_text)
    second = announce(second_text)
    ours = {late, soon, first, second}
    assert len(ours) == 4, "the CLI printed the same id twice"

    body = listed(alice)
    assert [str(a["id"]) for a in body if str(a["id"]) in ours] == [first, second, soon, late]
    by_id = {str(a["id"]): a for a in body}

    for aid in ours:
        a = by_id[aid]
        assert ENTITY_KEYS <= set(a), f"missing fields: {ENTITY_KEYS - set(a)} in {a}"
        assert isinstance(a["id"], str), a
        assert a["read"] is False, a
        assert (a["mentions"], a["statuses"], a["tags"], a["emojis"], a["reactions"]) == ([], [], [], [], []), a
        assert recent(a["published_at"]), a
        instant(a["updated_at"])
        assert a["content"].startswith("<p>") and a["content"].endswith("</p>"), a["content"]

    plain = by_id[second]
    assert plain["content"] == f"<p>{second_text}</p>"
    assert (plain["starts_at"], plain["ends_at"], plain["all_day"]) == (None, None, False), plain

    linked = by_id[first]
    assert text_of(linked["content"]) == first_text, linked["content"]
    assert "<b>" not in linked["content"], f"the text must be escaped, not taken as HTML: {linked['content']}"
    assert [a["href"] for a in anchors(linked["content"])] == [url], linked["content"]

    timed = by_id[soon]
    assert timed["all_day"] is False
    assert instant(timed["starts_at"]) == datetime(2029, 6, 1, 12, 30, tzinfo=timezone.utc), timed
    assert instant(timed["ends_at"]) == datetime(2029, 6, 1, 14, 0, tzinfo=timezone.utc), timed

    all_day = by_id[late]
    assert all_day["all_day"] is True
    assert instant(all_day["starts_at"]).date() == date(2030, 1, 2), all_day
    assert instant(all_day["ends_at"]).date() == date(2030, 1, 3), all_day

    # Through Mastodon.py too, in the same order.
    through_client = [str(a["id"]) for a in alice.api.announcements() if str(a["id"]) in ours]
    assert through_client == [first, second, soon, late]

    # The CLI lists them: id, state, starts_at, ends_at, text.
    rows = cli_rows(server)
    for aid, words in ((first, first_text), (second, second_text), (soon, soon_text), (late, late_text)):
        assert aid in rows, f"{aid} is not in `announcements list`: {rows}"
        assert rows[aid][1] == "published" and rows[aid][4] == words, rows[aid]
    assert rows[second][2:4] == ["-", "-"], rows[second]
    assert instant(rows[soon][2]) == datetime(2029, 6, 1, 12, 30, tzinfo=timezone.utc), rows[soon]
    assert instant(rows[soon][3]) == datetime(2029, 6, 1, 14, 0, tzinfo=timezone.utc), rows[soon]


def test_a_scheduled_announcement_waits_until_it_is_published(server: Server, alice: User, announce, sse):
    home = sse(alice, "stream_user", name="alice user")
    later = announce(text("Scheduled for later"), "--scheduled-at", "2099-01-01T00:00:00Z")
    past = announce(text("Scheduled in the past"), "--scheduled-at", "2001-01-01T00:00:00Z")
    # The one scheduled in the past is published at once; the other one would have come first.
    home.wait(is_announcement(past), "the announcement scheduled in the past", timeout=CLI_EVENT_S)
    home.assert_absent(about(later), "an event for an announcement scheduled for 2099")

    shown = listed_ids(alice)
    assert past in shown and later not in shown, shown
    rows = cli_rows(server)
    assert rows[later][1] == "scheduled", rows[later]
    assert rows[past][1] == "published", rows[past]
    # Not published: nobody can dismiss or react to it.
    assert_error(alice.http.post(f"/api/v1/announcements/{later}/dismiss"), 404)
    assert_error(alice.http.put(reaction_path(later, "👍")), 404)

    # The admin publishes it now.
    server.cli("announcements", "publish", later)
    home.wait(is_announcement(later), "the announcement published by hand", timeout=CLI_EVENT_S)
    published = entry(alice, later)
    assert recent(published["published_at"]), published
    assert cli_rows(server)[later][1] == "published"

    # Unpublished, it is a draft: publishing cleared the schedule.
    server.cli("announcements", "unpublish", later)
    home.wait(is_announcement_delete(later), "announcement.delete after unpublish", timeout=CLI_EVENT_S)
    assert later not in listed_ids(alice)
    assert cli_rows(server)[later][1] == "draft"


# --------------------------------------------------------------------------------------------
# Dismissing
# --------------------------------------------------------------------------------------------


def test_dismissing_marks_an_announcement_read_for_that_user_only(alice: User, bob: User, announce):
    aid = announce(text("Please read"))
    assert entry(alice, aid)["read"] is False
    assert entry(bob, aid)["read"] is False

    assert_empty_ok(alice.http.post(f"/api/v1/announcements/{aid}/dismiss"))
    assert entry(alice, aid)["read"] is True, "a dismissed announcement is still listed, as read"
    assert entry(bob, aid)["read"] is False
    # Again: nothing changes.
    assert_empty_ok(alice.http.post(f"/api/v1/announcements/{aid}/dismiss"))
    assert entry(alice, aid)["read"] is True

    bob.api.announcement_dismiss(aid)
    assert entry(bob, aid)["read"] is True
    assert [a["read"] for a in bob.api.announcements() if str(a["id"]) == aid] == [True]

    assert_error(alice.http.post(f"/api/v1/announcements/{UNKNOWN_ID}/dismiss"), 404)


# --------------------------------------------------------------------------------------------
# Reactions
# --------------------------------------------------------------------------------------------


def test_reactions_are_counted_per_name_with_the_callers_own_marked(alice: User, bob: User, carol: User, announce):
    aid = announce(text("React to me"))

    assert_empty_ok(alice.http.put(reaction_path(aid, "👍")))
    bob.api.announcement_reaction_create(aid, "👍")
    bob.api.announcement_reaction_create(aid, "🎉")
    # Reacting twice with the same name is harmless.
    assert_empty_ok(alice.http.put(reaction_path(aid, "👍")))

    mine = reactions_of(alice, aid)
    assert set(mine) == {"👍", "🎉"}, mine
    assert (mine["👍"]["count"], mine["👍"]["me"]) == (2, True), mine
    assert (mine["🎉"]["count"], mine["🎉"]["me"]) == (1, False), mine
    theirs = reactions_of(bob, aid)
    assert (theirs["👍"]["count"], theirs["👍"]["me"]) == (2, True), theirs
    assert (theirs["🎉"]["count"], theirs["🎉"]["me"]) == (1, True), theirs
    outsider = reactions_of(carol, aid)
    assert {n: (r["count"], r["me"]) for n, r in outsider.items()} == {"👍": (2, False), "🎉": (1, False)}
    # Through Mastodon.py.
    [through_client] = [a for a in alice.api.announcements() if str(a["id"]) == aid]
    assert {r["name"]: (r["count"], r["me"]) for r in through_client["reactions"]} == {"👍": (2, True), "🎉": (1, False)}

    # Removing.
    assert_empty_ok(alice.http.delete(reaction_path(aid, "👍")))
    mine = reactions_of(alice, aid)
    assert (mine["👍"]["count"], mine["👍"]["me"]) == (1, False), mine
    # Alice has no 🎉 (bob has): 404, and bob's stays.
    assert_error(alice.http.delete(reaction_path(aid, "🎉")), 404)
    assert_error(alice.http.delete(reaction_path(aid, "👍")), 404)
    assert reactions_of(bob, aid)["🎉"]["count"] == 1
    # A name nobody reacts with any more is gone.
    bob.api.announcement_reaction_delete(aid, "🎉")
    assert set(reactions_of(bob, aid)) == {"👍"}

    # Not an emoji.
    for name in ("notanemoji", "thumbsup", ":+1:"):
        assert_error(alice.http.put(reaction_path(aid, name)), 422, message=NOT_AN_EMOJI)
    assert set(reactions_of(alice, aid)) == {"👍"}

    # An announcement that does not exist.
    assert_error(alice.http.put(reaction_path(UNKNOWN_ID, "👍")), 404)
    assert_error(alice.http.delete(reaction_path(UNKNOWN_ID, "👍")), 404)


def test_an_announcement_takes_at_most_eight_different_reactions(alice: User, bob: User, announce):
    aid = announce(text("So many feelings"))
    eight = ["👍", "🎉", "❤️", "😀", "🚀", "👀", "🙏", "🔥"]
    for name in eight:
        assert_empty_ok(alice.http.put(reaction_path(aid, name)))
    assert set(reactions_of(alice, aid)) == set(eight)

    assert_error(alice.http.put(reaction_path(aid, "🤔")), 422, message=LIMIT_REACHED)
    assert_error(bob.http.put(reaction_path(aid, "🤔")), 422, message=LIMIT_REACHED)
    # A name already there is still fine, for anyone.
    assert_empty_ok(bob.http.put(reaction_path(aid, "🔥")))
    assert_empty_ok(alice.http.put(reaction_path(aid, "❤️")))

    reactions = reactions_of(bob, aid)
    assert set(reactions) == set(eight), reactions
    assert (reactions["🔥"]["count"], reactions["🔥"]["me"]) == (2, True), reactions
    assert (reactions["❤️"]["count"], reactions["❤️"]["me"]) == (1, False), reactions


# --------------------------------------------------------------------------------------------
# Authorization
# --------------------------------------------------------------------------------------------


def test_announcements_need_a_user_token_and_the_write_scopes(server: Server, app: App, make_user, announce):
    user = make_user("annscope")
    aid = announce(text("Scopes"))

    anonymous = server.http()
    assert_error(anonymous.get("/api/v1/announcements"), 401)
    assert_error(anonymous.post(f"/api/v1/announcements/{aid}/dismiss"), 401)
    assert_error(anonymous.put(reaction_path(aid, "👍")), 401)
    assert_error(anonymous.delete(reaction_path(aid, "👍")), 401)

    read_only = server.http(sign_in_user(server, app, user.username, user.password, email=user.email, scopes=["read"]))
    response = read_only.get("/api/v1/announcements")
    assert response.status_code == 200 and aid in [str(a["id"]) for a in response.json()], describe(response)
    assert_error(read_only.post(f"/api/v1/announcements/{aid}/dismiss"), 403, message=OUT_OF_SCOPE)
    assert_error(read_only.put(reaction_path(aid, "👍")), 403, message=OUT_OF_SCOPE)
    assert_error(read_only.delete(reaction_path(aid, "👍")), 403, message=OUT_OF_SCOPE)
    untouched = entry(user, aid)
    assert (untouched["read"], untouched["reactions"]) == (False, []), untouched

    # Each write needs its own scope: write:favourites reacts, write:accounts dismisses.
    favourites = server.http(
        sign_in_user(server, app, user.username, user.password, email=user.email, scopes=["read", "write:favourites"])
    )
    assert_empty_ok(favourites.put(reaction_path(aid, "👍")))
    assert_error(favourites.post(f"/api/v1/announcements/{aid}/dismiss"), 403, message=OUT_OF_SCOPE)
    accounts = server.http(
        sign_in_user(server, app, user.username, user.password, email=user.email, scopes=["read", "write:accounts"])
    )
    assert_error(accounts.delete(reaction_path(aid, "👍")), 403, message=OUT_OF_SCOPE)
    assert_empty_ok(accounts.post(f"/api/v1/announcements/{aid}/dismiss"))
    done = entry(user, aid)
    assert done["read"] is True, done
    assert [(r["name"], r["count"], r["me"]) for r in done["reactions"]] == [("👍", 1, True)], done
    assert_empty_ok(favourites.delete(reaction_path(aid, "👍")))


# --------------------------------------------------------------------------------------------
# Streaming
# --------------------------------------------------------------------------------------------


def test_announcement_events_reach_every_user_stream_over_sse(server: Server, make_user, announce, sse):
    reader, other = make_user("annsse"), make_user("annsse")
    mine = sse(reader, "stream_user", name="reader user")
    theirs = sse(other, "stream_user", name="other user")

    words = text("Streamed announcement")
    aid = announce(words)
    for stream in (mine, theirs):
        ev = stream.wait(is_announcement(aid), "the new announcement", timeout=CLI_EVENT_S)
        assert ev.stream is None
        assert text_of(ev.payload["content"]) == words, ev.payload
        assert {"id", "content", "published_at", "updated_at", "all_day", "reactions"} <= set(ev.payload), ev.payload
    before = entry(reader, aid)

    # Edited: sent again, with the new content.
    edited = text("Streamed announcement, edited")
    server.cli("announcements", "update", aid, "--text", edited)
    for stream in (mine, theirs):
        stream.wait(is_announcement(aid, edited), "the edited announcement", timeout=CLI_EVENT_S)
    after = entry(reader, aid)
    assert after["content"] == f"<p>{edited}</p>", after
    assert instant(after["published_at"]) == instant(before["published_at"]), (before, after)
    assert instant(after["updated_at"]) >= instant(before["updated_at"]), (before, after)

    # Reactions, with the count after each change.
    other.api.announcement_reaction_create(aid, "🎉")
    ev = mine.wait(is_reaction(aid, "🎉", 1), "announcement.reaction with count 1", timeout=ARRIVAL_S)
    assert set(ev.payload) == {"name", "count", "announcement_id"}, ev.payload
    assert str(ev.payload["announcement_id"]) == aid
    reader.api.announcement_reaction_create(aid, "🎉")
    mine.wait(is_reaction(aid, "🎉", 2), "announcement.reaction with count 2", timeout=ARRIVAL_S)
    theirs.wait(is_reaction(aid, "🎉", 2), "announcement.reaction with count 2 (other user)", timeout=ARRIVAL_S)
    other.api.announcement_reaction_delete(aid, "🎉")
    mine.wait_all(is_reaction(aid, "🎉", 1), 2, "announcement.reaction with count 1 after a removal", timeout=ARRIVAL_S)

    # Deleted.
    server.cli("announcements", "delete", aid)
    for stream in (mine, theirs):
        stream.wait(is_announcement_delete(aid), "announcement.delete", timeout=CLI_EVENT_S)
    assert aid not in listed_ids(reader)
    assert aid not in cli_rows(server)
    assert mine.errors == [] and theirs.errors == []


def test_announcement_events_on_a_websocket_user_stream(server: Server, make_user, announce, ws):
    user = make_user("annws")
    socket = ws(user, name="user (WebSocket)", stream="user")

    words = text("Over the socket")
    aid = announce(words)
    ev = socket.wait(is_announcement(aid), "the announcement", timeout=CLI_EVENT_S)
    assert ev.stream == ["user"], ev.raw
    assert isinstance(ev.raw["payload"], str), f"the payload must be JSON in a string: {ev.raw}"
    payload = json.loads(ev.raw["payload"])
    assert payload["id"] == aid and text_of(payload["content"]) == words, payload

    user.api.announcement_reaction_create(aid, "❤️")
    ev = socket.wait(is_reaction(aid, "❤️", 1), "announcement.reaction", timeout=ARRIVAL_S)
    assert ev.stream == ["user"], ev.raw
    assert isinstance(ev.raw["payload"], str), ev.raw
    assert json.loads(ev.raw["payload"]) == {"name": "❤️", "count": 1, "announcement_id": aid}, ev.raw
    user.api.announcement_reaction_delete(aid, "❤️")
    ev = socket.wait(is_reaction(aid, "❤️", 0), "announcement.reaction after the last one was removed", timeout=ARRIVAL_S)
    assert json.loads(ev.raw["payload"]) == {"name": "❤️", "count": 0, "announcement_id": aid}, ev.raw

    server.cli("announcements", "delete", aid)
    ev = socket.wait(is_announcement_delete(aid), "announcement.delete", timeout=CLI_EVENT_S)
    assert ev.stream == ["user"], ev.raw
    assert ev.raw["payload"] == aid, f"the payload of announcement.delete is the bare id: {ev.raw}"
    assert socket.errors == []


def test_unpublishing_withdraws_an_announcement_and_publishing_brings_it_back(server: Server, make_user, announce, sse):
    reader = make_user("annunpub")
    home = sse(reader, "stream_user", name="reader user")
    aid = announce(text("Withdrawn soon"))
    home.wait(is_announcement(aid), "the announcement", timeout=CLI_EVENT_S)
    reader.api.announcement_dismiss(aid)
    reader.api.announcement_reaction_create(aid, "👍")
    home.wait(is_reaction(aid, "👍", 1), "announcement.reaction", timeout=ARRIVAL_S)

    server.cli("announcements", "unpublish", aid)
    home.wait(is_announcement_delete(aid), "announcement.delete after unpublish", timeout=CLI_EVENT_S)
    assert aid not in listed_ids(reader)
    assert cli_rows(server)[aid][1] == "draft"
    assert_error(reader.http.post(f"/api/v1/announcements/{aid}/dismiss"), 404)
    assert_error(reader.http.put(reaction_path(aid, "🎉")), 404)
    assert_error(reader.http.delete(reaction_path(aid, "👍")), 404)

    # Published again: announced again, and what the reader did is still there.
    server.cli("announcements", "publish", aid)
    home.wait_all(is_announcement(aid), 2, "the announcement, published again", timeout=CLI_EVENT_S)
    back = entry(reader, aid)
    assert back["read"] is True, back
    assert [(r["name"], r["count"], r["me"]) for r in back["reactions"]] == [("👍", 1, True)], back
    assert cli_rows(server)[aid][1] == "published"


# --------------------------------------------------------------------------------------------
# The CLI refuses bad input
# --------------------------------------------------------------------------------------------


def test_the_cli_refuses_unknown_ids_and_bad_times(server: Server, alice: User, announce):
    for args in (
        ("update", UNKNOWN_ID, "--text", "nothing to update"),
        ("publish", UNKNOWN_ID),
        ("unpublish", UNKNOWN_ID),
        ("delete", UNKNOWN_ID),
    ):
        assert_cli_fails(server, "announcements", *args)

    refused = [text("Refused"), text("Refused"), text("Refused"), text("Refused")]
    assert_cli_fails(server, "announcements", "create", refused[0], "--starts-at", "tomorrow", "--ends-at", "2030-01-02T00:00:00Z")
    assert_cli_fails(server, "announcements", "create", refused[1], "--starts-at", "2030-01-01T00:00:00Z", "--ends-at", "2030-01-02 10:00")
    assert_cli_fails(server, "announcements", "create", refused[2], "--starts-at", "2030-01-02T00:00:00Z", "--ends-at", "2030-01-01T00:00:00Z")
    assert_cli_fails(server, "announcements", "create", refused[3], "--scheduled-at", "next week")
    texts = [row[4] for row in cli_rows(server).values()]
    shown = [text_of(a["content"]) for a in listed(alice)]
    for words in refused:
        assert words not in texts and words not in shown, f"a refused announcement was made: {words!r}"

    # Deleted once, it is unknown.
    aid = announce(text("Short-lived"))
    server.cli("announcements", "delete", aid)
    assert aid not in cli_rows(server)
    assert aid not in listed_ids(alice)
    assert_cli_fails(server, "announcements", "delete", aid)
    assert_cli_fails(server, "announcements", "update", aid, "--text", "too late")
