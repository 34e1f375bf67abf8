"""Notifications: v1 (types, filters, one, dismiss, clear) and v2 grouped notifications.

Mastodon creates notifications asynchronously, so every check waits for them to appear.
(`poll` notifications are not covered: a poll ends at the earliest 5 minutes after posting.)
"""

from __future__ import annotations

import datetime
import secrets

from support import assert_error, id_sort_key, ids, wait_for


def text(label: str) -> str:
    return f"{label} {secrets.token_hex(4)}"


def types_of(notifications) -> set[str]:
    return {n["type"] for n in notifications}


def test_notification_types_and_filters(make_user, bob, carol):
    me = make_user("notified")
    status = me.api.status_post(text("notify me"))
    bob.api.account_follow(me.id)
    mention = bob.api.status_post(f"@{me.username} {text('hello')}")
    bob.api.status_favourite(status["id"])
    bob.api.status_reblog(status["id"])

    expected = {"follow", "mention", "favourite", "reblog"}
    notes = wait_for(
        lambda: (n := me.api.notifications()) and types_of(n) >= expected and n,
        f"notifications of types {sorted(expected)}",
    )
    assert len(notes) == 4, [(n["type"], str(n["account"]["id"])) for n in notes]
    note_ids = ids(notes)
    assert note_ids == sorted(note_ids, key=id_sort_key, reverse=True), "newest first"
    by_type = {n["type"]: n for n in notes}
    for n in notes:
        assert str(n["account"]["id"]) == bob.id
        assert isinstance(n["created_at"], datetime.datetime)
        assert isinstance(n["group_key"], str) and n["group_key"]
    assert by_type["follow"].get("status") is None
    assert str(by_type["mention"]["status"]["id"]) == str(mention["id"])
    assert str(by_type["favourite"]["status"]["id"]) == str(status["id"])
    assert str(by_type["reblog"]["status"]["id"]) == str(status["id"])

    only_mentions = me.api.notifications(types=["mention"])
    assert ids(only_mentions) == [str(by_type["mention"]["id"])]

    without = me.api.notifications(exclude_types=["favourite", "reblog"])
    assert types_of(without) == {"follow", "mention"}

    carol.api.status_favourite(status["id"])
    wait_for(
        lambda: any(str(n["account"]["id"]) == carol.id for n in me.api.notifications(types=["favourite"])),
        "carol's favourite notification",
    )
    from_bob = me.api.notifications(account_id=bob.id)
    assert len(from_bob) == 4 and all(str(n["account"]["id"]) == bob.id for n in from_bob)

    one = me.api.notifications(id=by_type["mention"]["id"])
    assert str(one["id"]) == str(by_type["mention"]["id"])
    assert one["type"] == "mention"
    assert str(one["status"]["id"]) == str(mention["id"])


def test_dismiss_and_clear(make_user, bob):
    me = make_user("inbox")
    first = bob.api.status_post(f"@{me.username} {text('one')}")
    second = bob.api.status_post(f"@{me.username} {text('two')}")
    notes = wait_for(lambda: (n := me.api.notifications()) and len(n) == 2 and n, "two mention notifications")
    target = next(n for n in notes if str(n["status"]["id"]) == str(first["id"]))
    keep = next(n for n in notes if str(n["status"]["id"]) == str(second["id"]))

    # Nobody else can dismiss it.
    assert_error(bob.http.post(f"/api/v1/notifications/{target['id']}/dismiss"), 404)
    assert str(me.api.notifications(id=target["id"])["id"]) == str(target["id"])

    me.api.notifications_dismiss(target["id"])
    assert_error(me.http.get(f"/api/v1/notifications/{target['id']}"), 404)
    assert ids(me.api.notifications()) == [str(keep["id"])]

    me.api.notifications_clear()
    assert me.api.notifications() == []
    assert_error(me.http.get(f"/api/v1/notifications/{keep['id']}"), 404)


def test_muted_and_blocked_accounts_do_not_notify(make_user, bob, carol):
    me = make_user("quiet")
    me.api.account_mute(bob.id)  # notifications muted too (the default)
    me.api.account_block(carol.id)
    bob.api.status_post(f"@{me.username} {text('muted mention')}")
    carol_mention = carol.http.post("/api/v1/statuses", data={"status": f"@{me.username} {text('blocked mention')}"})
    assert carol_mention.status_code == 200

    sentinel_author = make_user("sentinel")
    sentinel = sentinel_author.api.status_post(f"@{me.username} {text('sentinel')}")
    notes = wait_for(
        lambda: (n := me.api.notifications()) and any(x.get("status") and str(x["status"]["id"]) == str(sentinel["id"]) for x in n) and n,
        "the sentinel mention",
    )
    assert {str(n["account"]["id"]) for n in notes} == {sentinel_author.id}


def get_v2(user, path: str = "/api/v2/notifications", **params):
    response = user.http.get(path, params=params)
    assert response.status_code == 200, f"{path}: {response.status_code} {response.text[:500]}"
    return response.json()


def test_grouped_notifications_v2(make_user, bob, carol):
    me = make_user("grouped")
    status = me.api.status_post(text("group my favourites"))
    bob.api.status_favourite(status["id"])
    carol.api.status_favourite(status["id"])
    bob.api.account_follow(me.id)
    carol.api.account_follow(me.id)
    mention = bob.api.status_post(f"@{me.username} {text('not grouped')}")

    def ready():
        body = get_v2(me)
        groups = body["notification_groups"]
        counts = {g["type"]: g["notifications_count"] for g in groups}
        if counts.get("favourite") == 2 and counts.get("follow") == 2 and "mention" in counts:
            return body
        return None

    body = wait_for(ready, "two favourites, two follows and a mention, grouped")
    groups = body["notification_groups"]
    assert sorted(g["type"] for g in groups) == ["favourite", "follow", "mention"], groups
    assert len({g["group_key"] for g in groups}) == len(groups)

    favourites = next(g for g in groups if g["type"] == "favourite")
    assert favourites["notifications_count"] == 2
    assert {str(a) for a in favourites["sample_account_ids"]} == {bob.id, carol.id}
    assert str(favourites["status_id"]) == str(status["id"])
    assert favourites["most_recent_notification_id"] is not None

    follows = next(g for g in groups if g["type"] == "follow")
    assert follows["notifications_count"] == 2
    assert {str(a) for a in follows["sample_account_ids"]} == {bob.id, carol.id}

    mention_group = next(g for g in groups if g["type"] == "mention")
    assert mention_group["notifications_count"] == 1
    assert [str(a) for a in mention_group["sample_account_ids"]] == [bob.id]
    assert str(mention_group["status_id"]) == str(mention["id"])

    # Everything a group refers to is included once, in full.
    account_ids = [str(a["id"]) for a in body["accounts"]]
    status_ids = [str(s["id"]) for s in body["statuses"]]
    assert len(account_ids) == len(set(account_ids)) and len(status_ids) == len(set(status_ids))
    for group in groups:
        assert {str(a) for a in group["sample_account_ids"]} <= set(account_ids)
        if group.get("status_id") is not None:
            assert str(group["status_id"]) in status_ids
    assert {bob.id, carol.id} <= set(account_ids)
    assert {str(status["id"]), str(mention["id"])} <= set(status_ids)

    # One group by its key.
    single = get_v2(me, f"/api/v2/notifications/{favourites['group_key']}")
    assert [g["group_key"] for g in single["notification_groups"]] == [favourites["group_key"]]
    assert single["notification_groups"][0]["notifications_count"] == 2

    # Only reblogs may be grouped: the two favourites come apart.
    ungrouped = get_v2(me, **{"grouped_types[]": ["reblog"]})
    favourite_groups = [g for g in ungrouped["notification_groups"] if g["type"] == "favourite"]
    assert len(favourite_groups) == 2 and all(g["notifications_count"] == 1 for g in favourite_groups)

    # Filters work on v2 too.
    only_mentions = get_v2(me, **{"types[]": ["mention"]})
    assert [g["type"] for g in only_mentions["notification_groups"]] == ["mention"]

    # v1 still lists every notification on its own.
    assert len(me.api.notifications(types=["favourite"])) == 2
