"""Custom filters through Mastodon.py: v2 filters with keywords and statuses, the v1 filters
(one keyword each), and the ``filtered`` results statuses carry.

Mastodon's semantics: a filter has a title, contexts (home, notifications, public, thread,
account), an action (warn, hide, blur) and an optional expiry; REST responses list every
matching filter in ``Status.filtered`` (the client decides by context); whole-word keywords
match only whole words; another user's filter is not found.
"""

from __future__ import annotations

import secrets

import pytest
from mastodon import MastodonNotFoundError

from support import assert_error, wait_for


def word() -> str:
    return "kw" + secrets.token_hex(4)


def test_v2_filters_keywords_and_statuses_round_trip(make_user):
    me = make_user("filterer")
    k1, k2 = word(), word()
    created = me.api.create_filter_v2(
        "Spoilers",
        ["home", "public"],
        "warn",
        expires_in=3600,
        keywords_attributes=[{"keyword": k1, "whole_word": True}, {"keyword": k2, "whole_word": False}],
    )
    fid = str(created["id"])
    assert created["title"] == "Spoilers"
    assert sorted(created["context"]) == ["home", "public"]
    assert created["filter_action"] == "warn"
    assert created["expires_at"] is not None
    assert {(k["keyword"], k["whole_word"]) for k in created["keywords"]} == {(k1, True), (k2, False)}
    assert [str(f["id"]) for f in me.api.filters_v2()] == [fid]
    assert str(me.api.filter_v2(fid)["id"]) == fid

    # Keywords: added, changed and removed through keywords_attributes and their own endpoints.
    kept = next(k for k in created["keywords"] if k["keyword"] == k1)
    dropped = next(k for k in created["keywords"] if k["keyword"] == k2)
    k3 = word()
    updated = me.api.update_filter_v2(
        fid,
        title="Spoilers!",
        context=["thread"],
        filter_action="hide",
        keywords_attributes=[{"id": dropped["id"], "_destroy": True}, {"keyword": k3}],
    )
    assert updated["title"] == "Spoilers!" and updated["context"] == ["thread"] and updated["filter_action"] == "hide"
    assert sorted(k["keyword"] for k in updated["keywords"]) == sorted([k1, k3])
    added = me.api.add_filter_keyword_v2(fid, "another one", whole_word=False)
    assert added["keyword"] == "another one" and added["whole_word"] is False
    assert len(me.api.filter_keywords_v2(fid)) == 3
    me.api.delete_filter_keyword_v2(kept["id"])
    assert sorted(k["keyword"] for k in me.api.filter_keywords_v2(fid)) == sorted([k3, "another one"])

    # Statuses.
    status = me.api.status_post(f"a status to filter {word()}")
    fs = me.api.add_filter_status_v2(fid, status["id"])
    assert str(fs["status_id"]) == str(status["id"])
    assert str(me.api.filter_status_v2(fs["id"])["status_id"]) == str(status["id"])
    assert [str(s["id"]) for s in me.api.filter_statuses_v2(fid)] == [str(fs["id"])]
    assert_error(me.http.post(f"/api/v2/filters/{fid}/statuses", data={"status_id": status["id"]}), 422)
    me.api.delete_filter_status_v2(fs["id"])
    assert me.api.filter_statuses_v2(fid) == []

    me.api.delete_filter_v2(fid)
    assert me.api.filters_v2() == []
    with pytest.raises(MastodonNotFoundError):
        me.api.filter_v2(fid)


def test_filters_are_private_and_validated(make_user, server):
    me = make_user("owner")
    other = make_user("other")
    f = me.api.create_filter_v2("Mine", ["home"], "warn", keywords_attributes=[{"keyword": word()}])
    fid = str(f["id"])
    for path in (f"/api/v2/filters/{fid}", f"/api/v2/filters/{fid}/keywords", f"/api/v2/filters/keywords/{f['keywords'][0]['id']}"):
        assert_error(other.http.get(path), 404)
    assert_error(other.http.delete(f"/api/v2/filters/{fid}"), 404)
    assert len(me.api.filters_v2()) == 1

    assert_error(me.http.post("/api/v2/filters", data={"title": "", "context[]": "home"}), 422)
    assert_error(me.http.post("/api/v2/filters", data={"title": "x"}), 422)
    assert_error(me.http.post("/api/v2/filters", data={"title": "x", "context[]": "nowhere"}), 422)
    assert_error(me.http.post("/api/v2/filters", data={"title": "x", "context[]": "home", "filter_action": "zap"}), 422)
    assert_error(me.http.post(f"/api/v2/filters/{fid}/keywords", data={"keyword": " "}), 422)
    assert_error(me.http.post("/api/v2/filters", data={"title": "x" * 257, "context[]": "home"}), 422)
    assert len(me.api.filters_v2()) == 1, "rejected requests leave nothing behind"
    assert_error(server.http().get("/api/v2/filters"), 401)


def test_v1_filters_are_keywords_of_v2_filters(make_user):
    me = make_user("v1")
    phrase = word()
    v1 = me.api.filter_create(phrase, ["home", "notifications"], irreversible=True, whole_word=False)
    assert v1["phrase"] == phrase and v1["irreversible"] is True and v1["whole_word"] is False
    assert sorted(v1["context"]) == ["home", "notifications"]
    [v2] = me.api.filters_v2()
    assert v2["title"] == phrase and v2["filter_action"] == "hide"
    assert str(v2["keywords"][0]["id"]) == str(v1["id"])
    assert [f["phrase"] for f in me.api.filters()] == [phrase]

    changed = me.api.filter_update(v1["id"], phrase="changed", context=["public"], irreversible=False)
    assert changed["phrase"] == "changed" and changed["context"] == ["public"] and changed["irreversible"] is False
    assert me.api.filter(v1["id"])["phrase"] == "changed"
    me.api.filter_delete(v1["id"])
    assert me.api.filters() == [] and me.api.filters_v2() == []


def test_statuses_carry_the_filters_that_match_them(make_user):
    author = make_user("author")
    reader = make_user("reader")
    reader.api.account_follow(author.id)
    k = word()
    f = reader.api.create_filter_v2(
        "Words", ["home"], "warn", keywords_attributes=[{"keyword": k, "whole_word": True}]
    )
    hit = author.api.status_post(f"this says {k.upper()} loudly")
    longer = author.api.status_post(f"this says {k}s only")
    warned = author.api.status_post("a plain one", spoiler_text=f"cw: {k}")
    listed = author.api.status_post("listed by id")
    reader.api.add_filter_status_v2(f["id"], listed["id"])

    def home() -> dict:
        items = {str(s["id"]): s for s in reader.api.timeline_home(limit=40)}
        return items if str(listed["id"]) in items else {}

    items = wait_for(home, "the author's statuses in the reader's home timeline")
    by_keyword = items[str(hit["id"])]["filtered"]
    assert len(by_keyword) == 1 and str(by_keyword[0]["filter"]["id"]) == str(f["id"])
    assert by_keyword[0]["keyword_matches"] == [k]
    assert by_keyword[0]["filter"]["filter_action"] == "warn"
    assert items[str(longer["id"])]["filtered"] == [], "a whole-word keyword inside a longer word"
    assert items[str(warned["id"])]["filtered"][0]["keyword_matches"] == [k], "the content warning counts"
    assert items[str(listed["id"])]["filtered"][0]["status_matches"] == [str(listed["id"])]
    # Anyone else sees no results, and an expired filter matches nothing.
    assert author.api.status(hit["id"])["filtered"] == []
    reader.api.update_filter_v2(f["id"], expires_in=1)
    wait_for(lambda: reader.api.status(hit["id"])["filtered"] == [], "the filter to expire", timeout=10)
