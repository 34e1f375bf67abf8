"""Instance information, preferences, markers, search and Mastodon's error format, through
Mastodon.py and plain HTTP."""

from __future__ import annotations

import datetime
import re
import secrets

import pytest
from mastodon import Mastodon, MastodonNotFoundError, MastodonUnauthorizedError

from support import Server, assert_error, describe, ids, unique, wait_for

VERSION_RE = re.compile(r"^\d+\.\d+\.\d+\S* \(compatible; ferrodon \d+\.\d+\.\d+[^)]*\)$")
UNKNOWN_ID = "99999999999999999"


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------------------------------------
# Instance
# ------------------------------------------------------------------------------------------


def test_instance_v2(server: Server, anonymous: Mastodon):
    instance = anonymous.instance_v2()
    assert instance["domain"] == server.domain
    assert VERSION_RE.match(instance["version"]), instance["version"]
    assert is_int(instance["api_versions"]["mastodon"]) and instance["api_versions"]["mastodon"] >= 1
    assert isinstance(instance["title"], str) and instance["title"]
    assert isinstance(instance["source_url"], str) and instance["source_url"]
    assert isinstance(instance["registrations"]["enabled"], bool)
    assert isinstance(instance["registrations"]["approval_required"], bool)
    assert is_int(instance["usage"]["users"]["active_month"])
    # The same count as NodeInfo's activeMonth (local accounts that posted in the last 30 days).
    nodeinfo = server.http().get("/nodeinfo/2.0").json()
    assert instance["usage"]["users"]["active_month"] == nodeinfo["usage"]["users"]["activeMonth"], nodeinfo

    configuration = instance["configuration"]
    assert configuration["urls"]["streaming"].startswith(("ws://", "wss://"))
    assert configuration["statuses"]["max_characters"] == 500
    assert configuration["statuses"]["max_media_attachments"] == 4
    assert configuration["statuses"]["characters_reserved_per_url"] == 23
    polls = configuration["polls"]
    assert polls["max_options"] == 4
    assert polls["max_characters_per_option"] == 50
    assert polls["min_expiration"] == 300
    assert polls["max_expiration"] == 2629746


def test_instance_v1(server: Server, anonymous: Mastodon):
    instance = anonymous.instance_v1()
    assert instance["uri"] == server.domain
    assert VERSION_RE.match(instance["version"]), instance["version"]
    assert instance["version"] == anonymous.instance_v2()["version"]
    assert instance["urls"]["streaming_api"].startswith(("ws://", "wss://"))
    for key in ("user_count", "status_count", "domain_count"):
        assert is_int(instance["stats"][key]), key
    assert instance["stats"]["user_count"] >= 1
    assert instance["configuration"]["statuses"]["max_characters"] == 500
    assert instance["configuration"]["polls"]["max_options"] == 4
    for key in ("registrations", "approval_required", "invites_enabled"):
        assert isinstance(instance[key], bool), key

    # Without the trailing slash Mastodon.py adds, too.
    response = server.http().get("/api/v1/instance")
    assert response.status_code == 200, describe(response)


def test_the_images_the_instance_and_accounts_advertise_are_served(server: Server, anonymous: Mastodon, alice):
    urls = [anonymous.instance_v2()["thumbnail"]["url"]]
    account = anonymous.account(alice.id)  # no avatar or header of its own
    urls += [account[key] for key in ("avatar", "avatar_static", "header", "header_static")]
    for url in urls:
        assert url.startswith(server.base_url + "/"), url
        response = server.http().get(url[len(server.base_url):])
        assert response.status_code == 200, describe(response)
        assert response.headers["Content-Type"] == "image/png", describe(response)
        assert re.search(r"\bmax-age=\d{6,}", response.headers.get("Cache-Control", "")), response.headers
        assert response.content[:8] == b"\x89PNG\r\n\x1a\n", f"{url} is not a PNG"


def test_mastodon_py_detects_version(server: Server):
    api = server.client()
    version = api.retrieve_mastodon_version(fail_hard=True)
    assert re.fullmatch(r"\d+\.\d+\.\d+", version), version
    assert api.verify_minimum_version("4.0.0", cached=True), f"{version} should be at least 4.0.0"
    assert api.mastodon_api_version >= 1


def test_custom_emojis(server: Server, anonymous: Mastodon, alice):
    # The instance has no custom emoji of its own (there is no way to add one yet), and Mastodon
    # lists only its own: the list is empty, for anyone, signed in or not.
    assert anonymous.custom_emojis() == []
    assert alice.api.custom_emojis() == []
    response = server.http().get("/api/v1/custom_emojis")
    assert response.status_code == 200, describe(response)
    assert response.headers["Content-Type"].startswith("application/json"), describe(response)
    assert response.json() == []


# ------------------------------------------------------------------------------------------
# Preferences and markers
# ------------------------------------------------------------------------------------------


def test_preferences_follow_account_source(make_user):
    user = make_user("prefs")
    prefs = user.api.preferences()
    assert prefs["posting:default:visibility"] == "public"
    assert prefs["posting:default:sensitive"] is False
    assert prefs["reading:expand:media"] in ("default", "show_all", "hide_all")
    assert isinstance(prefs["reading:expand:spoilers"], bool)

    updated = user.api.account_update_credentials(default_privacy="unlisted", default_sensitive=True, default_language="de")
    assert updated["source"]["privacy"] == "unlisted"
    assert updated["source"]["sensitive"] is True
    assert updated["source"]["language"] == "de"

    prefs = user.api.preferences()
    assert prefs["posting:default:visibility"] == "unlisted"
    assert prefs["posting:default:sensitive"] is True
    assert prefs["posting:default:language"] == "de"

    # A status posted without a visibility uses the default.
    status = user.api.status_post("default visibility applies")
    assert status["visibility"] == "unlisted"


def test_markers_set_and_read(make_user, bob):
    user = make_user("markers")
    assert user.api.markers_get(["home", "notifications"]) == {}

    first = user.api.status_post("marker one")
    second = user.api.status_post("marker two")
    bob.api.status_favourite(first["id"])
    notification = wait_for(lambda: user.api.notifications(), "a favourite notification")[0]

    result = user.api.markers_set(["home", "notifications"], [first["id"], notification["id"]])
    assert str(result["home"]["last_read_id"]) == str(first["id"])
    assert str(result["notifications"]["last_read_id"]) == str(notification["id"])
    home_version = result["home"]["version"]
    assert is_int(home_version)
    assert isinstance(result["home"]["updated_at"], datetime.datetime)

    read = user.api.markers_get(["home", "notifications"])
    assert str(read["home"]["last_read_id"]) == str(first["id"])
    assert str(read["notifications"]["last_read_id"]) == str(notification["id"])

    only_home = user.api.markers_get("home")
    assert set(only_home) == {"home"}

    moved = user.api.markers_set("home", second["id"])
    assert str(moved["home"]["last_read_id"]) == str(second["id"])
    assert moved["home"]["version"] > home_version
    assert str(user.api.markers_get("home")["home"]["last_read_id"]) == str(second["id"])


# ------------------------------------------------------------------------------------------
# Search
# ------------------------------------------------------------------------------------------


def test_search_accounts_by_username(alice, bob):
    for query in (bob.username, "@" + bob.username, bob.username[:-2]):
        found = wait_for(
            lambda: bob.id in ids(alice.api.search_v2(query, resolve=False)["accounts"]),
            f"search {query!r} to find {bob.username}",
        )
        assert found
    result = alice.api.search_v2(bob.username, resolve=False, result_type="accounts")
    assert bob.id in ids(result["accounts"])
    assert result["statuses"] == [] and result["hashtags"] == []
    account = next(a for a in result["accounts"] if str(a["id"]) == bob.id)
    assert account["acct"] == bob.username


def test_search_hashtags(server: Server, alice):
    tag = unique("srch")
    alice.api.status_post(f"searchable #{tag}")

    def hashtag_found():
        result = alice.api.search_v2(tag, resolve=False)
        return [h for h in result["hashtags"] if h["name"].lower() == tag]

    hashtag = wait_for(hashtag_found, f"search to find #{tag}")[0]
    assert hashtag["url"] == f"{server.base_url}/tags/{tag}"
    assert isinstance(hashtag["history"], list)

    with_hash = alice.api.search_v2("#" + tag, resolve=False, result_type="hashtags")
    assert [h["name"].lower() for h in with_hash["hashtags"]] == [tag]
    assert with_hash["accounts"] == []


def test_search_without_match(alice):
    result = alice.api.search_v2("zz" + secrets.token_hex(8), resolve=False)
    assert result["accounts"] == [] and result["hashtags"] == [] and result["statuses"] == []


# ------------------------------------------------------------------------------------------
# Errors, in Mastodon's format
# ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", "/api/v1/accounts/verify_credentials"),
        ("GET", "/api/v1/timelines/home"),
        ("GET", "/api/v1/notifications"),
        ("POST", "/api/v1/statuses"),
        ("GET", "/api/v1/preferences"),
    ],
)
def test_401_without_token(server: Server, method, path):
    assert_error(server.http().request(method, path, data={"status": "x"} if method == "POST" else None), 401)


def test_401_with_unknown_token(server: Server):
    assert_error(server.http("not-a-real-token").get("/api/v1/accounts/verify_credentials"), 401)
    with pytest.raises(MastodonUnauthorizedError):
        server.client(access_token="not-a-real-token").account_verify_credentials()


@pytest.mark.parametrize(
    "method,path",
    [
        ("GET", f"/api/v1/statuses/{UNKNOWN_ID}"),
        ("GET", f"/api/v1/accounts/{UNKNOWN_ID}"),
        ("GET", f"/api/v1/accounts/{UNKNOWN_ID}/statuses"),
        ("GET", f"/api/v1/statuses/{UNKNOWN_ID}/context"),
        ("POST", f"/api/v1/statuses/{UNKNOWN_ID}/favourite"),
        ("POST", f"/api/v1/accounts/{UNKNOWN_ID}/follow"),
        ("GET", f"/api/v1/polls/{UNKNOWN_ID}"),
        ("GET", f"/api/v1/notifications/{UNKNOWN_ID}"),
        ("GET", "/api/v1/statuses/not-a-number"),
    ],
)
def test_404_for_unknown_ids(alice, method, path):
    assert_error(alice.http.request(method, path), 404, message="Record not found")


def test_404_through_mastodon_py(alice):
    with pytest.raises(MastodonNotFoundError):
        alice.api.status(UNKNOWN_ID)
    with pytest.raises(MastodonNotFoundError):
        alice.api.account_lookup("nobody" + secrets.token_hex(4))


def test_status_length_limit(alice):
    exactly = "a" * 500
    ok = alice.http.post("/api/v1/statuses", data={"status": exactly})
    assert ok.status_code == 200, describe(ok)

    assert_error(alice.http.post("/api/v1/statuses", data={"status": "a" * 501}), 422)

    # Characters are counted, not bytes.
    elephants = "\N{ELEPHANT}" * 500
    ok = alice.http.post("/api/v1/statuses", data={"status": elephants})
    assert ok.status_code == 200, describe(ok)

    # Every URL counts as 23 characters.
    with_url = "b" * 470 + " https://example.com/" + "c" * 200  # counts as 470 + 1 + 23 = 494
    assert len(with_url) > 500
    ok = alice.http.post("/api/v1/statuses", data={"status": with_url})
    assert ok.status_code == 200, describe(ok)


@pytest.mark.parametrize(
    "options,expires_in",
    [
        (["a", "b", "c", "d", "e"], 3600),  # more than max_options (4)
        (["only one"], 3600),  # fewer than two
        (["a", "b"], 60),  # shorter than min_expiration (300 s)
        (["a", "x" * 51], 3600),  # an option over max_characters_per_option (50)
    ],
    ids=["five-options", "one-option", "too-short", "option-too-long"],
)
def test_invalid_poll_is_422(alice, options, expires_in):
    response = alice.http.post(
        "/api/v1/statuses",
        json={"status": "bad poll", "poll": {"options": options, "expires_in": expires_in}},
    )
    assert_error(response, 422)


def test_missing_required_parameters(alice, bob):
    # A status needs text, media or a poll.
    assert_error(alice.http.post("/api/v1/statuses", data={}), 400, 422)
    # A vote needs choices.
    poll_status = bob.api.status_post("vote?", poll=bob.api.make_poll(["yes", "no"], expires_in=3600))
    assert_error(alice.http.post(f"/api/v1/polls/{poll_status['poll']['id']}/votes", data={}), 400, 422)
    # An app needs a name and redirect URIs.
    assert_error(alice.http.post("/api/v1/apps", data={"client_name": "no redirect"}), 400, 422)
