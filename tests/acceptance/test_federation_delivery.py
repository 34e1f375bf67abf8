"""Deliveries survive a peer that is down: ferrodon retries with Sidekiq's backoff (the first
retry 15–25 s after the failure) and the peer gets each activity once when it is back.

Mastodon: ActivityPub::DeliveryWorker retries failed deliveries (``retry: 16``) and counts the
failure against the domain (DeliveryFailureTracker), which is forgotten once a delivery works.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Iterator

import pytest
from mastodon import Mastodon

from fedify_peer import FedifyPeer
from support import CALLBACK, OOB, SCOPES, App, Server, UserFactory, unique

ALLOW = {"ALLOWED_PRIVATE_ADDRESSES": "127.0.0.0/8"}
# The first retry comes 15–25 s after the failure; leave room for a slow machine.
RETRY_WAIT_S = 75


@pytest.fixture(scope="module")
def instance(ferrodon_bin: str, openapi_validator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = Server(ferrodon_bin, "sqlite", tmp_path_factory.mktemp("deliveries"), openapi_validator, host="127.0.0.4", extra_env=ALLOW)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def users(instance: Server) -> UserFactory:
    client_id, secret = Mastodon.create_app(
        "delivery-test", scopes=SCOPES, redirect_uris=[OOB, CALLBACK], api_base_url=instance.base_url, session=instance.session()
    )
    return UserFactory(instance, App(str(client_id), str(secret)))


def retrying(instance: Server) -> int:
    stats = json.loads(instance.cli("jobs", "stats", "--json").stdout)
    rows = stats if isinstance(stats, list) else stats.get("queues", [])
    return sum(int(r.get("retrying", 0)) for r in rows if r.get("queue") == "push")


def test_a_peer_that_was_down_gets_its_deliveries_once_it_is_back(instance: Server, users: UserFactory):
    author = users("patient")
    peer = FedifyPeer().start(host="127.0.0.5")
    port = peer.port
    try:
        peer.follow("reader", f"{instance.base_url}/users/{author.username}")
        peer.wait_for("Accept", actor="reader")
    finally:
        peer.stop()

    # The peer is down: the delivery fails and waits for its retry.
    marker = unique("away")
    author.api.status_post(f"posted {marker}")
    deadline = time.monotonic() + 30
    while retrying(instance) == 0:
        assert time.monotonic() < deadline, f"no delivery failed and waited for a retry\n{instance.log_tail()}"
        time.sleep(0.25)

    # Back on the same address: the retry arrives, once.
    peer = FedifyPeer().start(host="127.0.0.5", port=port)
    try:
        create = peer.wait_for(lambda r: r["type"] == "Create" and marker in json.dumps(r["json"]), timeout=RETRY_WAIT_S)
        assert create["signature"]["scheme"] in ("draft-cavage", "rfc9421")
        time.sleep(3)
        deliveries = [
            r for r in peer.requests() if r["method"] == "POST" and marker in (r.get("body") or "") and 200 <= r["status"] < 300
        ]
        assert len(deliveries) == 1, f"delivered {len(deliveries)} times"
        deadline = time.monotonic() + 10
        while retrying(instance) != 0:
            assert time.monotonic() < deadline, "a delivery is still waiting for a retry after it went through"
            time.sleep(0.25)
    finally:
        peer.stop()
