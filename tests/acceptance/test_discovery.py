"""Discovery, as other fediverse servers use it: WebFinger (by ``acct:`` and by actor URL),
host-meta, and NodeInfo 2.0 / 2.1 validated against the NodeInfo project's JSON schemas (with
jsonschema-rs, which schemathesis brings)."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema_rs
import pytest
import requests

SCHEMAS = Path(__file__).resolve().parents[3] / "shared" / "reference" / "nodeinfo"


def get(server, path: str, **params) -> requests.Response:
    return requests.get(server.base_url + path, params=params, timeout=10)


def test_webfinger_finds_a_local_account_by_acct_and_by_url(server, make_user):
    user = make_user("fingered")
    r = get(server, "/.well-known/webfinger", resource=f"acct:{user.username}@{server.domain}")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/jrd+json")
    assert r.headers.get("access-control-allow-origin") == "*"
    jrd = r.json()
    assert jrd["subject"] == f"acct:{user.username}@{server.domain}"
    actor = f"{server.base_url}/users/{user.username}"
    profile = f"{server.base_url}/@{user.username}"
    assert set(jrd["aliases"]) == {actor, profile}
    links = {link["rel"]: link for link in jrd["links"]}
    assert links["self"] == {"rel": "self", "type": "application/activity+json", "href": actor}
    assert links["http://webfinger.net/rel/profile-page"]["href"] == profile
    assert "{uri}" in links["http://ostatus.org/schema/1.0/subscribe"]["template"]

    # The same account by its actor URL, its profile URL, without `acct:`, and in other case.
    for resource in (actor, profile, f"{user.username}@{server.domain}", f"acct:{user.username.upper()}@{server.domain}"):
        r = get(server, "/.well-known/webfinger", resource=resource)
        assert r.status_code == 200, (resource, r.text)
        assert r.json()["subject"] == jrd["subject"]


@pytest.mark.parametrize(
    "resource",
    ["acct:nobody-here@{domain}", "acct:{user}@elsewhere.example", "https://elsewhere.example/users/{user}"],
)
def test_webfinger_does_not_find_what_is_not_here(server, make_user, resource):
    user = make_user("present")
    r = get(server, "/.well-known/webfinger", resource=resource.format(domain=server.domain, user=user.username))
    assert r.status_code == 404
    assert "error" in r.json()


def test_webfinger_without_resource_is_a_bad_request(server):
    r = get(server, "/.well-known/webfinger")
    assert r.status_code == 400
    assert r.json()["error"]


def test_host_meta_points_at_webfinger(server):
    r = get(server, "/.well-known/host-meta")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("application/xrd+xml")
    assert f'template="{server.base_url}/.well-known/webfinger?resource={{uri}}"' in r.text


@pytest.mark.parametrize("version", ["2.0", "2.1"])
def test_nodeinfo_is_valid_against_its_schema(server, make_user, version):
    poster = make_user("noder")
    poster.api.status_post("counted")
    links = get(server, "/.well-known/nodeinfo").json()["links"]
    href = {link["rel"]: link["href"] for link in links}[f"http://nodeinfo.diaspora.software/ns/schema/{version}"]
    assert href == f"{server.base_url}/nodeinfo/{version}"
    r = requests.get(href, timeout=10)
    assert r.status_code == 200
    assert f"schema/{version}#" in r.headers["content-type"]
    doc = r.json()
    schema = json.loads((SCHEMAS / f"schema-{version}.json").read_text())
    jsonschema_rs.validator_for(schema).validate(doc)
    assert doc["version"] == version
    assert doc["software"]["name"] == "ferrodon"
    assert doc["protocols"] == ["activitypub"]
    usage = doc["usage"]
    assert usage["users"]["total"] >= 1
    assert 1 <= usage["users"]["activeMonth"] <= usage["users"]["activeHalfyear"] <= usage["users"]["total"]
    assert usage["localPosts"] >= 1
    assert isinstance(doc["openRegistrations"], bool)


def test_unknown_nodeinfo_version_is_not_found(server):
    assert get(server, "/nodeinfo/9.9").status_code == 404
