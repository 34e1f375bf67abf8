"""Two ferrodon instances on loopback (127.0.0.2 and 127.0.0.3, each with its own domain and
data), driven through Mastodon.py, federating as two Mastodon servers would: resolving, following
(a locked account's approval included), posts of each visibility reaching exactly the right
people, replies threading, favourites / boosts / edits / deletes and profile changes propagating,
blocks, a remote poll, replies fetched, reports forwarded. The first instance runs on SQLite, the
second on PostgreSQL. A Fedify peer checks the same against an implementation not ours."""

from __future__ import annotations

import os
import time
from typing import Callable, Iterator

import pytest
from mastodon import Mastodon

from fedify_peer import FedifyPeer
from support import CALLBACK, OOB, SCOPES, App, Server, User, UserFactory, assert_error, create_database, drop_database

ALLOW = {"ALLOWED_PRIVATE_ADDRESSES": "127.0.0.0/8"}
WAIT_S = 20


def eventually(check: Callable[[], object], what: str, timeout: float = WAIT_S):
    """Polls until ``check()`` returns something truthy (deliveries are background jobs)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s: {what}")
        time.sleep(0.2)


class Instance:
    def __init__(self, server: Server):
        self.server = server
        cid, secret = Mastodon.create_app(
            "federation-test", scopes=SCOPES, redirect_uris=[OOB, CALLBACK], api_base_url=server.base_url, session=server.session()
        )
        self.users = UserFactory(server, App(str(cid), str(secret)))

    @property
    def domain(self) -> str:
        return self.server.domain


def _second_engine() -> str:
    """The first instance runs on SQLite, the second on PostgreSQL: every exchange has one engine
    sending and the other receiving. Without TEST_DATABASE_URL (outside CI) both use SQLite."""
    if os.environ.get("TEST_DATABASE_URL"):
        return "postgres"
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail("CI=true but TEST_DATABASE_URL is unset: federation must be tested on PostgreSQL", pytrace=False)
    print("note: TEST_DATABASE_URL is unset; the second federation instance runs on SQLite")
    return "sqlite"


@pytest.fixture(scope="module")
def pair(ferrodon_bin: str, openapi_validator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, Instance]]:
    servers = []
    databases = []
    admin_url = os.environ.get("TEST_DATABASE_URL", "")
    try:
        for host, engine in (("127.0.0.2", "sqlite"), ("127.0.0.3", _second_engine())):
            database_url = None
            if engine == "postgres":
                name, database_url = create_database(admin_url)
                databases.append(name)
            workdir = tmp_path_factory.mktemp(f"fed-{host}")
            srv = Server(ferrodon_bin, engine, workdir, openapi_validator, database_url, host=host, extra_env=ALLOW)
            servers.append(srv)
            srv.start()
        yield Instance(servers[0]), Instance(servers[1])
    finally:
        for srv in servers:
            srv.stop()
        for name in databases:
            drop_database(admin_url, name)


def resolve(viewer: User, other: User, instance: Instance) -> dict:
    """``viewer``'s view of ``other`` (of ``instance``), found through WebFinger."""
    found = viewer.api.search_v2(f"@{other.username}@{instance.domain}", resolve=True)["accounts"]
    assert found, f"@{other.username}@{instance.domain} was not resolved"
    return found[0]


def follow(viewer: User, other: User, instance: Instance) -> dict:
    account = resolve(viewer, other, instance)
    viewer.api.account_follow(account["id"])
    eventually(lambda: viewer.api.account_relationships(account["id"])[0]["following"], "the follow is accepted")
    return account


def status_gone(viewer: User, instance: Instance, status_id) -> bool:
    """False while ``viewer`` still sees the status, True once its running server answers
    Mastodon's 404. Any other answer (a 500, no answer, a server that died) fails the test."""
    response = viewer.http.get(f"/api/v1/statuses/{status_id}")
    if response.status_code == 200:
        return False
    assert not instance.server.died(), f"the server died\n{instance.server.log_tail()}"
    assert_error(response, 404, message="Record not found")
    return True


def in_home(user: User, text: str) -> dict | None:
    return next((s for s in user.api.timeline_home(limit=40) if text in (s["content"] or "")), None)


def test_following_across(pair):
    a_side, b_side = pair
    a, b = a_side.users("fa"), b_side.users("fb")
    account = resolve(a, b, b_side)
    assert account["acct"] == f"{b.username}@{b_side.domain}"
    rel = a.api.account_follow(account["id"])
    assert rel["requested"] or rel["following"]
    eventually(lambda: a.api.account_relationships(account["id"])[0]["following"], "the follow is accepted")
    # b's side: a follower and a notification.
    note = eventually(lambda: [n for n in b.api.notifications() if n["type"] == "follow"], "a follow notification")
    assert note[0]["account"]["acct"] == f"{a.username}@{a_side.domain}"
    me = b.api.me()
    assert [f["acct"] for f in b.api.account_followers(me["id"])] == [f"{a.username}@{a_side.domain}"]


def test_a_locked_account_approves_a_remote_follower(pair):
    a_side, b_side = pair
    a, b = a_side.users("la"), b_side.users("lb")
    b.api.account_update_credentials(locked=True)
    account = resolve(a, b, b_side)
    assert a.api.account_follow(account["id"])["requested"] is True
    requests = eventually(lambda: b.api.follow_requests(), "the follow request arrives")
    b.api.follow_request_authorize(requests[0]["id"])
    eventually(lambda: a.api.account_relationships(account["id"])[0]["following"], "the approval arrives")


def test_each_visibility_reaches_exactly_its_audience(pair):
    a_side, b_side = pair
    follower, stranger, author = a_side.users("vf"), a_side.users("vs"), b_side.users("va")
    follow(follower, author, b_side)
    resolve(stranger, author, b_side)
    texts = {v: f"{v} post {author.username}" for v in ("public", "unlisted", "private")}
    for visibility, text in texts.items():
        author.api.status_post(text, visibility=visibility)
    author.api.status_post(f"@{follower.username}@{a_side.domain} direct post", visibility="direct")
    for visibility, text in texts.items():
        status = eventually(lambda: in_home(follower, text), f"the {visibility} post reaches the follower")
        assert status["visibility"] == visibility
    mention = eventually(
        lambda: [n for n in follower.api.notifications() if n["type"] == "mention" and "direct post" in n["status"]["content"]],
        "the direct post reaches the mentioned follower",
    )
    assert mention[0]["status"]["visibility"] == "direct"
    # The stranger follows nobody there: nothing private shows, wherever it looks.
    account = resolve(stranger, author, b_side)
    seen = [s["content"] for s in stranger.api.account_statuses(account["id"])]
    assert not any("private post" in c or "direct post" in c for c in seen), seen
    assert not any("post" in (s["content"] or "") for s in stranger.api.timeline_home())


def test_replies_thread_on_both_sides(pair):
    a_side, b_side = pair
    a, b = a_side.users("ra"), b_side.users("rb")
    follow(a, b, b_side)
    original = b.api.status_post("a question for everyone")
    remote = eventually(lambda: in_home(a, "a question for everyone"), "the post reaches a")
    reply = a.api.status_post(f"@{b.username}@{b_side.domain} an answer", in_reply_to_id=remote["id"])
    assert a.api.status_context(reply["id"])["ancestors"][0]["id"] == remote["id"]
    descendants = eventually(lambda: b.api.status_context(original["id"])["descendants"], "the reply threads on b's side")
    assert "an answer" in descendants[0]["content"]
    eventually(lambda: [n for n in b.api.notifications() if n["type"] == "mention"], "b is notified of the reply")


def test_a_mention_of_an_account_never_seen_is_resolved_while_posting(pair):
    a_side, b_side = pair
    a, b = a_side.users("ma"), b_side.users("mb")
    # Nobody on a has looked b up: posting resolves the mention (WebFinger) as Mastodon does.
    posted = a.api.status_post(f"hello @{b.username}@{b_side.domain}, first contact")
    assert [m["acct"] for m in posted["mentions"]] == [f"{b.username}@{b_side.domain}"]
    assert 'class="u-url mention"' in posted["content"]
    notes = eventually(
        lambda: [n for n in b.api.notifications() if n["type"] == "mention" and "first contact" in n["status"]["content"]],
        "b is notified of the mention",
    )
    assert notes[0]["account"]["acct"] == f"{a.username}@{a_side.domain}"
    # A mention of an account that does not exist stays text.
    missing = a.api.status_post(f"hello @nobody{b.username}@{b_side.domain}")
    assert missing["mentions"] == []


def test_a_remote_threads_replies_are_fetched(pair):
    a_side, b_side = pair
    a, b, b2 = a_side.users("ta"), b_side.users("tb"), b_side.users("tb2")
    original = b.api.status_post("a thread started before anyone on a knew")
    b2.api.status_post("a reply a never received", in_reply_to_id=original["id"])
    b.api.status_post("a followers-only reply", in_reply_to_id=original["id"], visibility="private")
    # a finds the post by its URL: the post is fetched, and its replies on `pull`.
    found = a.api.search_v2(original["uri"], resolve=True)["statuses"]
    assert found and found[0]["uri"] == original["uri"]
    descendants = eventually(
        lambda: a.api.status_context(found[0]["id"])["descendants"], "the reply made on b is fetched to a"
    )
    assert [d["content"] for d in descendants if "never received" in d["content"]]
    assert not any("followers-only" in d["content"] for d in descendants), "only public replies are listed"


def test_a_report_is_forwarded_to_the_reported_accounts_server(pair):
    a_side, b_side = pair
    a, b = a_side.users("fa"), b_side.users("fb")
    follow(a, b, b_side)
    posted = b.api.status_post("something reportable")
    remote = eventually(lambda: in_home(a, "something reportable"), "the post reaches a")
    account = resolve(a, b, b_side)
    kept = a.api.report(account["id"], comment="kept on a")
    assert kept["forwarded"] is False
    report = a.api.report(account["id"], status_ids=[remote["id"]], comment="sent on to b", forward=True)
    assert report["forwarded"] is True and report["status_ids"] == [remote["id"]]

    def reports_on(instance: Instance) -> list[list[str]]:
        out = instance.server.cli("reports", "list").stdout
        return [line.split("\t") for line in out.splitlines() if line.strip()]

    mine = [r for r in reports_on(a_side) if r[3] == f"{b.username}@{b_side.domain}"]
    assert sorted(r[7] for r in mine) == ["kept on a", "sent on to b"]
    # b's moderators get a Flag from a's instance actor, with b's own status id.
    flags = eventually(lambda: [r for r in reports_on(b_side) if r[7] == "sent on to b"], "the report reaches b")
    assert flags[0][3] == b.username and flags[0][6] == posted["id"]
    assert flags[0][2].endswith(f"@{a_side.domain}") and flags[0][2] != f"{a.username}@{a_side.domain}"
    assert not [r for r in reports_on(b_side) if r[7] == "kept on a"]


def test_a_domain_block_removes_followers_and_hides_posts(pair):
    a_side, b_side = pair
    a, b, a_friend = a_side.users("da"), b_side.users("db"), a_side.users("df")
    follow(b, a, a_side)  # b (on b) follows a
    follow(a_friend, b, b_side)  # someone on a follows b, so b's posts reach a's public timeline
    before = b.api.status_post("before the domain block")
    eventually(lambda: [s for s in a.api.timeline_public(remote=True) if s["uri"] == before["uri"]], "b's post on a's public timeline")

    a.api.domain_block(b_side.domain)
    assert a.api.domain_blocks() == [b_side.domain]
    remote_b = resolve(a, b, b_side)
    assert a.api.account_relationships(remote_b["id"])[0]["domain_blocking"] is True
    assert not [s for s in a.api.timeline_public(remote=True) if s["uri"] == before["uri"]]
    assert [s for s in a_friend.api.timeline_public(remote=True) if s["uri"] == before["uri"]], "only a blocks it"
    # b's follow of a ends, on both sides (a's server sent a Reject).
    assert a.api.account(a.id)["followers_count"] == 0
    a_on_b = resolve(b, a, a_side)
    eventually(lambda: not b.api.account_relationships(a_on_b["id"])[0]["following"], "b no longer follows a")

    a.api.domain_unblock(b_side.domain)
    assert a.api.domain_blocks() == []
    assert [s for s in a.api.timeline_public(remote=True) if s["uri"] == before["uri"]]


def test_favourite_boost_undo_edit_delete_propagate(pair):
    a_side, b_side = pair
    a, b = a_side.users("pa"), b_side.users("pb")
    follow(a, b, b_side)
    original = b.api.status_post("propagate me")
    remote = eventually(lambda: in_home(a, "propagate me"), "the post reaches a")
    a.api.status_favourite(remote["id"])
    a.api.status_reblog(remote["id"])
    eventually(lambda: b.api.status(original["id"])["favourites_count"] == 1, "the favourite arrives")
    eventually(lambda: b.api.status(original["id"])["reblogs_count"] == 1, "the boost arrives")
    a.api.status_unfavourite(remote["id"])
    a.api.status_unreblog(remote["id"])
    eventually(lambda: b.api.status(original["id"])["favourites_count"] == 0, "the undone favourite arrives")
    eventually(lambda: b.api.status(original["id"])["reblogs_count"] == 0, "the undone boost arrives")
    b.api.status_update(original["id"], status="propagate me, edited")
    edited = eventually(lambda: (s := a.api.status(remote["id"]))["edited_at"] and s, "the edit arrives")
    assert "edited" in edited["content"]
    b.api.status_delete(original["id"])
    eventually(lambda: status_gone(a, a_side, remote["id"]), "the deletion arrives")


def test_profile_changes_propagate(pair):
    a_side, b_side = pair
    a, b = a_side.users("na"), b_side.users("nb")
    account = follow(a, b, b_side)
    b.api.account_update_credentials(display_name="A New Name", note="New bio")
    eventually(lambda: a.api.account(account["id"])["display_name"] == "A New Name", "the new name arrives")


def test_pins_propagate_as_add_and_remove(pair):
    a_side, b_side = pair
    a, b = a_side.users("pa"), b_side.users("pb")
    account = follow(a, b, b_side)
    post = b.api.status_post("a post worth pinning", visibility="public")
    remote = eventually(lambda: in_home(a, "a post worth pinning"), "the post arrives")

    def pinned_on_a() -> list[str]:
        return [s["uri"] for s in a.api.account_statuses(account["id"], pinned=True)]

    b.api.status_pin(post["id"])
    eventually(lambda: pinned_on_a() == [remote["uri"]], "the pin arrives (Add)")
    b.api.status_unpin(post["id"])
    eventually(lambda: pinned_on_a() == [], "the unpin arrives (Remove)")


def test_pins_of_an_account_met_later_are_read_from_its_featured_collection(pair):
    a_side, b_side = pair
    a, b = a_side.users("fca"), b_side.users("fcb")
    post = b.api.status_post("pinned before anyone there knew me", visibility="public")
    b.api.status_pin(post["id"])
    account = resolve(a, b, b_side)  # no follow: nothing was delivered to a's server
    pinned = eventually(
        lambda: a.api.account_statuses(account["id"], pinned=True), "the pinned post, read from the collection"
    )
    assert [s["uri"] for s in pinned] == [post["uri"]]
    assert "pinned before anyone there knew me" in pinned[0]["content"]


def test_a_remote_block_ends_the_follow(pair):
    a_side, b_side = pair
    a, b = a_side.users("ba"), b_side.users("bb")
    account = follow(a, b, b_side)
    a_on_b = eventually(lambda: b.api.account_followers(b.api.me()["id"]), "a follows b")[0]
    b.api.account_block(a_on_b["id"])
    eventually(lambda: not a.api.account_relationships(account["id"])[0]["following"], "the block ends a's follow")


def test_a_remote_poll_counts_a_vote(pair):
    a_side, b_side = pair
    a, b = a_side.users("qa"), b_side.users("qb")
    follow(a, b, b_side)
    poll = b.api.make_poll(["yes", "no"], expires_in=3600)
    original = b.api.status_post("a poll for all", poll=poll)
    remote = eventually(lambda: in_home(a, "a poll for all"), "the poll reaches a")
    assert [o["title"] for o in remote["poll"]["options"]] == ["yes", "no"]
    voted = a.api.poll_vote(remote["poll"]["id"], [0])
    assert voted["voted"] is True and voted["own_votes"] == [0] and voted["votes_count"] == 1
    eventually(lambda: b.api.status(original["id"])["poll"]["votes_count"] == 1, "the vote is counted on b's side")

    # A vote on b's side (and a's, already counted) reaches a's copy through Update(Question).
    b2 = b_side.users("qb2")
    b2_view = b2.api.status(original["id"])
    b2.api.poll_vote(b2_view["poll"]["id"], [1])

    def counts_on_a():
        poll = a.api.status(remote["id"])["poll"]
        return poll if poll["votes_count"] == 2 else None

    poll = eventually(counts_on_a, "a's copy of the poll shows both votes")
    assert [o["votes_count"] for o in poll["options"]] == [1, 1]
    assert poll["voted"] is True and poll["own_votes"] == [0]
    # A count update is not an edit: no history, no "edited" mark.
    assert a.api.status(remote["id"])["edited_at"] is None


@pytest.mark.parametrize("first_knock", ["rfc9421", "draft-cavage-http-signatures-12"])
def test_a_fedify_peer_follows_reads_and_interacts(pair, first_knock: str):
    a_side, _ = pair
    user = a_side.users("fed")
    actor = f"{a_side.server.base_url}/users/{user.username}"
    peer = FedifyPeer().start(host="127.0.0.6", first_knock=first_knock)
    try:
        # The peer follows us: its signature verifies, we accept, it gets our posts.
        peer.follow("alice", actor)
        peer.wait_for("Accept", actor="alice")
        assert [f["acct"] for f in user.api.account_followers(user.api.me()["id"])] == [f"alice@{peer.host}:{peer.port}"]
        ours = user.api.status_post("hello fedify")
        create = peer.wait_for(lambda r: r["type"] == "Create" and "hello fedify" in str(r["json"]))
        assert create["signature"]["scheme"] in ("draft-cavage", "rfc9421")
        # Like, Announce and their Undo arrive here.
        note_uri = ours["uri"]
        like = peer.like("alice", note_uri)
        announce = peer.announce("alice", note_uri)
        eventually(lambda: user.api.status(ours["id"])["favourites_count"] == 1, "the peer's like")
        eventually(lambda: user.api.status(ours["id"])["reblogs_count"] == 1, "the peer's announce")
        peer.undo("alice", like)
        peer.undo("alice", announce)
        eventually(lambda: user.api.status(ours["id"])["favourites_count"] == 0, "the peer's undone like")
        eventually(lambda: user.api.status(ours["id"])["reblogs_count"] == 0, "the peer's undone announce")
        # We follow the peer and see its posts; our like, boost and their undo reach it.
        found = user.api.search_v2(peer.actor_uri("alice"), resolve=True)["accounts"]
        assert found, "the peer's actor was not resolved"
        user.api.account_follow(found[0]["id"])
        eventually(lambda: user.api.account_relationships(found[0]["id"])[0]["following"], "the peer accepts")
        posted = peer.post("alice", "<p>news from fedify</p>", to="public")
        theirs = eventually(lambda: in_home(user, "news from fedify"), "the peer's post reaches our home timeline")
        # A post with two images and alt text: kept here, served from here.
        from test_media import png

        peer.post(
            "alice",
            "<p>photos from fedify</p>",
            to="public",
            attachments=[("image/png", "a red square", png(120, 120)), ("image/png", "a blue one", png(80, 60, (0, 0, 200)))],
        )

        def photos_kept():
            post = in_home(user, "photos from fedify")
            media = post["media_attachments"] if post else []
            local = [m for m in media if m["url"].startswith(a_side.server.base_url)]
            return media if len(local) == 2 else None

        media = eventually(photos_kept, "the peer's photos are kept here")
        assert [m["description"] for m in media] == ["a red square", "a blue one"], media
        assert all(m["remote_url"].startswith(f"http://{peer.host}:{peer.port}/media/") for m in media), media
        assert user.http.session.get(media[1]["url"], timeout=10).content[16:24] == (80).to_bytes(4, "big") + (60).to_bytes(4, "big")
        user.api.status_favourite(theirs["id"])
        peer.wait_for("Like")
        user.api.status_reblog(theirs["id"])
        peer.wait_for("Announce")
        user.api.status_unfavourite(theirs["id"])
        peer.wait_for(lambda r: r["type"] == "Undo" and r["object_type"] == "Like")
        # The peer deletes its post: it goes here too.
        peer.delete("alice", posted["id"])
        eventually(lambda: status_gone(user, a_side, theirs["id"]), "the peer's deletion")
        # We delete ours: the peer hears it.
        user.api.status_delete(ours["id"])
        peer.wait_for("Delete")
    finally:
        peer.stop()


def test_unsigned_and_forged_requests_leave_no_trace(pair):
    a_side, _ = pair
    user = a_side.users("forged")
    session = a_side.server.session()
    follow = {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": "http://127.0.0.9:1/follow/1",
        "type": "Follow",
        "actor": "http://127.0.0.9:1/users/mallory",
        "object": f"{a_side.server.base_url}/users/{user.username}",
    }
    headers = {"Content-Type": "application/activity+json"}
    for path in ("/inbox", f"/users/{user.username}/inbox"):
        r = session.post(a_side.server.base_url + path, json=follow, headers=headers)
        assert r.status_code == 401, r.text
        forged = dict(headers, Signature='keyId="http://127.0.0.9:1/users/mallory#main-key",algorithm="rsa-sha256",headers="(request-target) host date",signature="AAAA"')
        r = session.post(a_side.server.base_url + path, json=follow, headers=forged)
        assert r.status_code == 401, r.text
    time.sleep(1)
    assert user.api.account_followers(user.api.me()["id"]) == []
    assert user.api.notifications() == []


def test_attachments_arrive_and_are_served_from_the_receiving_side(pair):
    from test_media import png

    a_side, b_side = pair
    a, b = a_side.users("ma"), b_side.users("mb")
    follow(a, b, b_side)
    photos = [
        b.api.media_post(png(320, 200), mime_type="image/png", description="the red one"),
        b.api.media_post(png(200, 320, (40, 200, 40)), mime_type="image/png", description="the green one"),
    ]
    b.api.status_post("two photos", media_ids=photos, visibility="public")

    def kept():
        post = in_home(a, "two photos")
        media = post["media_attachments"] if post else []
        local = [m for m in media if m["url"].startswith(a_side.server.base_url)]
        return media if len(media) == 2 and len(local) == 2 else None

    media = eventually(kept, "the post arrives and its attachments are kept on the receiving side")
    assert [m["description"] for m in media] == ["the red one", "the green one"]
    assert [m["remote_url"] for m in media] == [p["url"] for p in photos]
    for m, size in zip(media, [(320, 200), (200, 320)]):
        served = a.http.session.get(m["url"], timeout=10)
        assert served.status_code == 200 and served.headers["content-type"] == "image/png", m
        assert served.content[16:24] == size[0].to_bytes(4, "big") + size[1].to_bytes(4, "big"), m
        assert "/system/cache/media_attachments/" in m["url"] and m["preview_url"] != m["url"], m


def test_avatars_and_headers_are_kept_by_the_receiving_side(pair):
    from test_media import png

    a_side, b_side = pair
    a, b = a_side.users("va"), b_side.users("vb")
    account = follow(a, b, b_side)
    me = b.api.account_update_credentials(
        avatar=png(300, 300), avatar_mime_type="image/png", header=png(900, 300), header_mime_type="image/png"
    )

    def kept():
        seen = a.api.account(account["id"])
        local = all(seen[k].startswith(f"{a_side.server.base_url}/system/cache/accounts/") for k in ("avatar", "header"))
        return seen if local else None

    seen = eventually(kept, "the new avatar and header are kept on the receiving side")
    served = a.http.session.get(seen["avatar"], timeout=10)
    assert served.status_code == 200 and served.content[16:24] == (400).to_bytes(4, "big") * 2, seen
    assert me["avatar"].startswith(b_side.server.base_url)
