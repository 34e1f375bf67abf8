"""Timelines (home, public, tag, bookmarks, favourites) and paging through them with Mastodon.py's
``fetch_next`` / ``fetch_previous``, which follow the Link header."""

from __future__ import annotations

import dataclasses
import secrets

import pytest

from support import User, id_sort_key, ids, unique, wait_for, walk_next, walk_prev

PAGE = 2
COUNT = 7


def text(label: str, tag: str | None = None) -> str:
    return f"{label} {secrets.token_hex(4)}" + (f" #{tag}" if tag else "")


def newest_first(values) -> list[str]:
    return sorted((str(v) for v in values), key=id_sort_key, reverse=True)


def assert_newest_first(page_ids: list[str]) -> None:
    assert page_ids == newest_first(page_ids), f"not newest first: {page_ids}"


def test_home_has_own_and_followed_posts(make_user):
    reader = make_user("reader")
    followed = make_user("followed")
    other = make_user("other")
    reader.api.account_follow(followed.id)

    from_followed = followed.api.status_post(text("from someone I follow"))
    from_other = other.api.status_post(text("from someone I do not follow"))
    own = reader.api.status_post(text("my own"))

    home = wait_for(
        lambda: (h := ids(reader.api.timeline_home())) and {str(own["id"]), str(from_followed["id"])} <= set(h) and h,
        "own and followed statuses in the home timeline",
    )
    assert str(from_other["id"]) not in home
    assert_newest_first(home)
    assert home[:2] == [str(own["id"]), str(from_followed["id"])]

    # Reblogs by followed accounts arrive as reblogs.
    reblog = followed.api.status_reblog(from_other["id"])
    home = wait_for(
        lambda: (h := reader.api.timeline_home()) and str(h[0]["id"]) == str(reblog["id"]) and h,
        "the reblog at the top of the home timeline",
    )
    assert str(home[0]["reblog"]["id"]) == str(from_other["id"])


def test_a_follows_languages_choose_what_reaches_home(make_user):
    reader, author = make_user("langreader"), make_user("langauthor")
    # Mastodon.py has no `languages` for follows: the form Mastodon takes.
    response = reader.http.post(f"/api/v1/accounts/{author.id}/follow", data={"languages[]": ["de", "FR"]})
    assert response.status_code == 200, response.text
    assert sorted(response.json()["languages"]) == ["de", "fr"]
    german = author.api.status_post(text("Guten Tag"), language="de")
    french = author.api.status_post(text("Bonjour"), language="fr")
    english = author.api.status_post(text("Hello"), language="en")
    home = ids(reader.api.timeline_home(limit=40))
    assert str(german["id"]) in home and str(french["id"]) in home
    assert str(english["id"]) not in home, "a language the follow does not take"
    # Following again without languages takes every language.
    response = reader.http.post(f"/api/v1/accounts/{author.id}/follow", json={"languages": []})
    assert response.json()["languages"] is None, response.text
    assert str(english["id"]) in ids(reader.api.timeline_home(limit=40))


def test_public_timeline_local_remote_and_media(alice, bob):
    public = alice.api.status_post(text("public"), visibility="public")
    sid = str(public["id"])
    everything = wait_for(lambda: (t := ids(bob.api.timeline_public(limit=40))) and sid in t and t, "status in the public timeline")
    assert_newest_first(everything)
    assert sid in ids(bob.api.timeline_public(local=True, limit=40))
    assert sid in ids(bob.api.timeline_local(limit=40))
    assert sid not in ids(bob.api.timeline_public(remote=True, limit=40)), "a local status is not remote"
    media = bob.api.timeline_public(only_media=True, limit=40)
    assert sid not in ids(media)
    assert all(s["media_attachments"] for s in media)


def test_tag_timeline(alice, bob):
    tag = unique("tl")
    first = alice.api.status_post(text("lower", tag))
    second = bob.api.status_post(text("upper", tag.upper()))
    untagged = alice.api.status_post(text("no tag here"))
    unlisted = alice.api.status_post(text("unlisted", tag), visibility="unlisted")
    expected = [str(second["id"]), str(first["id"])]

    got = wait_for(lambda: (t := ids(bob.api.timeline_hashtag(tag))) == expected and t, f"#{tag} timeline == {expected}")
    assert str(untagged["id"]) not in got and str(unlisted["id"]) not in got
    assert ids(bob.api.timeline_hashtag(tag.upper())) == expected, "hashtags are case-insensitive"
    assert ids(bob.api.timeline_hashtag(tag, local=True)) == expected
    assert ids(bob.api.timeline_hashtag(tag, remote=True)) == []


def test_favourites_and_bookmarks_are_ordered_by_action(alice, bob):
    older, middle, newer = (bob.api.status_post(text(label)) for label in ("older", "middle", "newer"))

    alice.api.status_favourite(older["id"])
    alice.api.status_favourite(newer["id"])
    assert ids(alice.api.favourites(limit=2)) == [str(newer["id"]), str(older["id"])]

    # Bookmarked in the opposite order of posting: the list follows the bookmarking order.
    alice.api.status_bookmark(middle["id"])
    alice.api.status_bookmark(older["id"])
    assert ids(alice.api.bookmarks(limit=2)) == [str(older["id"]), str(middle["id"])]

    alice.api.status_unfavourite(newer["id"])
    assert ids(alice.api.favourites(limit=1)) == [str(older["id"])]
    alice.api.status_unbookmark(older["id"])
    assert ids(alice.api.bookmarks(limit=1)) == [str(middle["id"])]

    # Favourites and bookmarks of others are not shown.
    assert str(older["id"]) not in ids(bob.api.favourites())


# ------------------------------------------------------------------------------------------
# Paging
# ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Seven:
    user: User
    expected: list[str]  # newest first


@pytest.fixture(scope="module")
def seven(make_user) -> Seven:
    user = make_user("pager")
    posted = [str(user.api.status_post(text(f"page item {i}"))["id"]) for i in range(COUNT)]
    expected = newest_first(posted)
    wait_for(lambda: ids(user.api.timeline_home(limit=40)) == expected, "all seven statuses in the home timeline")
    return Seven(user, expected)


def check_paging(api, first_page, expected: list[str]) -> None:
    forward = walk_next(api, first_page)
    for page in forward:
        assert len(page) <= PAGE, f"a page is longer than limit={PAGE}: {forward}"
        assert_newest_first(page)
    flat = [sid for page in forward for sid in page]
    assert len(flat) == len(set(flat)), f"duplicates across pages: {forward}"
    assert flat == expected, f"paging with rel=next lost or reordered items:\n got {forward}\nwant {expected}"
    assert len([p for p in forward if p]) == -(-len(expected) // PAGE)

    # Back again with rel=prev from the last non-empty page.
    last = first_page
    page = first_page
    while getattr(page, "_pagination_next", None) is not None:
        page = api.fetch_next(page)
        if not page:
            break
        last = page
    backward = walk_prev(api, last)
    for page_ids in backward:
        assert len(page_ids) <= PAGE
        assert_newest_first(page_ids)
    flat_back = [sid for page_ids in reversed(backward) for sid in page_ids]
    assert flat_back == expected, f"paging with rel=prev lost or reordered items:\n got {backward}\nwant {expected}"


def test_paging_home_timeline(seven: Seven):
    api = seven.user.api
    first = api.timeline_home(limit=PAGE)
    assert ids(first) == seven.expected[:PAGE]
    check_paging(api, first, seven.expected)


def test_paging_account_statuses(seven: Seven, bob):
    first = bob.api.account_statuses(seven.user.id, limit=PAGE)
    assert ids(first) == seven.expected[:PAGE]
    check_paging(bob.api, first, seven.expected)


def test_paging_tag_timeline(alice):
    tag = unique("pg")
    posted = [str(alice.api.status_post(text(f"tagged {i}", tag))["id"]) for i in range(COUNT)]
    expected = newest_first(posted)
    wait_for(lambda: ids(alice.api.timeline_hashtag(tag, limit=40)) == expected, "all tagged statuses")
    first = alice.api.timeline_hashtag(tag, limit=PAGE)
    check_paging(alice.api, first, expected)


def test_paging_bookmarks_follows_link_header(make_user, bob):
    """Bookmarks page by bookmark, not by status id: only the Link header knows the cursor."""
    user = make_user("bookmarks")
    statuses = [str(bob.api.status_post(text(f"to bookmark {i}"))["id"]) for i in range(5)]
    order = [statuses[i] for i in (2, 0, 4, 1, 3)]
    for sid in order:
        user.api.status_bookmark(sid)
    expected = list(reversed(order))  # most recently bookmarked first

    first = user.api.bookmarks(limit=PAGE)
    pages = walk_next(user.api, first)
    flat = [sid for page in pages for sid in page]
    assert flat == expected, f"bookmark pages {pages}, want {expected}"


def test_fetch_previous_returns_newer_statuses(alice):
    tag = unique("pv")
    for i in range(3):
        alice.api.status_post(text(f"old {i}", tag))
    first = wait_for(lambda: (p := alice.api.timeline_hashtag(tag, limit=PAGE)) and len(p) == PAGE and p, "a first page")
    assert getattr(first, "_pagination_prev", None) is not None, "a non-empty page should carry rel=prev in its Link header"
    assert not alice.api.fetch_previous(first), "nothing is newer than the first page yet"

    newer = [str(alice.api.status_post(text(f"new {i}", tag))["id"]) for i in range(3)]
    # min_id pages return the statuses right above the cursor, newest first.
    wait_for(lambda: len(ids(alice.api.timeline_hashtag(tag, limit=40))) == 6, "all six tagged statuses")
    above = alice.api.fetch_previous(first)
    assert ids(above) == newest_first(newer)[-PAGE:], f"got {ids(above)}, newer statuses are {newer}"
