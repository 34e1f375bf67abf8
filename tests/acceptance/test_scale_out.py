"""The roles run apart, as a scaled-out instance runs them: ``ferrodon web``, ``ferrodon
streaming`` and ``ferrodon worker`` as three processes on one PostgreSQL database, their events
carried by Redis (``REDIS_URL``, with a ``REDIS_NAMESPACE`` of the test's own).

Mastodon.py finds the streaming process the way every client does: the web process advertises
it (``STREAMING_API_BASE_URL`` → the instance's ``urls.streaming_api``). What is posted through
the web process, and what its jobs do in the worker, reaches the streams of the streaming
process; revoking a token in the web process closes the streams opened with it.

Needs TEST_DATABASE_URL and TEST_REDIS_URL: skipped without them, except with CI=true.
"""

from __future__ import annotations

import os
import secrets
from typing import Iterator

import pytest
from mastodon import Mastodon

import requests

from support import OOB, SCOPES, App, OpenApiValidator, Server, UserFactory, create_database, drop_database, free_port
from test_streaming import Sse, Ws, is_delete, is_notification, is_status, streaming_api, text

ROLES_S = 5.0  # events cross two processes and Redis; allow a loaded CI machine some slack


class Instance:
    def __init__(self, web: Server, streaming: Server, worker: Server):
        self.web = web
        self.streaming = streaming
        self.worker = worker

    def servers(self) -> list[Server]:
        return [self.web, self.streaming, self.worker]


@pytest.fixture(scope="module")
def instance(ferrodon_bin: str, openapi_validator: OpenApiValidator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    admin_url = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    missing = [name for name, value in (("TEST_DATABASE_URL", admin_url), ("TEST_REDIS_URL", redis_url)) if not value]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {', '.join(missing)} unset: the roles must be tested apart in CI", pytrace=False)
        pytest.skip(f"{', '.join(missing)} not set")
    assert admin_url and redis_url
    database, database_url = create_database(admin_url)
    workdir = tmp_path_factory.mktemp("ferrodon-roles")
    web_port, streaming_port = free_port(), free_port()
    shared = {
        "LOCAL_DOMAIN": f"localhost:{web_port}",
        "SECRET_KEY_BASE": secrets.token_hex(64),
        "FERRODON_DATA_DIR": str(workdir / "data"),
        "REDIS_URL": redis_url,
        "REDIS_NAMESPACE": f"ferrodon-acc-{secrets.token_hex(4)}",
        "STREAMING_API_BASE_URL": f"ws://localhost:{streaming_port}",
    }

    def role(name: str, args: tuple[str, ...], port: int, health: str | None) -> Server:
        srv = Server(ferrodon_bin, "postgres", workdir / name, openapi_validator, database_url, extra_env=shared, role=args, health=health)
        srv.port = port
        srv.base_url = f"http://localhost:{port}"
        return srv

    web = role("web", ("web",), web_port, "/health")
    streaming = role("streaming", ("streaming",), streaming_port, "/api/v1/streaming/health")
    worker = role("worker", ("worker", "--queues", "default,ingress,push,pull"), free_port(), None)
    inst = Instance(web, streaming, worker)
    started: list[Server] = []
    try:
        for srv in inst.servers():
            srv.start()
            started.append(srv)
    except Exception as exc:
        for srv in started:
            srv.stop()
        drop_database(admin_url, database)
        pytest.fail(f"could not start the roles: {exc}", pytrace=False)

    yield inst

    died = [srv for srv in inst.servers() if srv.died()]
    for srv in inst.servers():
        srv.stop()
    drop_database(admin_url, database)
    if died:
        raise RuntimeError("a role exited during the run\n" + "\n".join(srv.log_tail() for srv in died))


@pytest.fixture(scope="module")
def users(instance: Instance) -> UserFactory:
    client_id, client_secret = Mastodon.create_app(
        "ferrodon roles", scopes=SCOPES, redirect_uris=[OOB], api_base_url=instance.web.base_url, session=instance.web.session()
    )
    return UserFactory(instance.web, App(str(client_id), str(client_secret)))


def logs(instance: Instance) -> str:
    return "\n".join(f"== {' '.join(s.role)}\n{s.log_tail(30)}" for s in instance.servers())


def test_clients_find_the_streaming_process_through_the_web_process(instance: Instance, users: UserFactory) -> None:
    alice = users("alice")
    api = streaming_api(instance.web, alice.token)
    advertised = f"ws://localhost:{instance.streaming.port}"
    assert instance.web.http().get("/api/v1/instance").json()["urls"]["streaming_api"] == advertised
    assert instance.web.http().get("/api/v2/instance").json()["configuration"]["urls"]["streaming"] == advertised
    # So every stream in these tests is opened on the streaming process.
    assert api._Mastodon__get_streaming_base().rstrip("/") == instance.streaming.base_url


def test_posts_edits_deletes_and_notifications_cross_the_processes(instance: Instance, users: UserFactory) -> None:
    alice, bob = users("alice"), users("bob")
    bob.api.account_follow(alice.account["id"])
    home = Sse("bob home", streaming_api(instance.web, bob.token), "stream_user")
    local = Sse("bob local", streaming_api(instance.web, bob.token), "stream_local")
    try:
        status = alice.api.status_post(text("from the web process"))
        try:
            home.wait(is_status("update", status["id"]), "alice's post on bob's home stream", ROLES_S)
            local.wait(is_status("update", status["id"]), "alice's post on the local stream", ROLES_S)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{logs(instance)}") from None

        alice.api.status_update(status["id"], text("edited"))
        home.wait(is_status("status.update", status["id"]), "the edit", ROLES_S)

        mine = bob.api.status_post(text("bob's own"))
        alice.api.status_favourite(mine["id"])
        home.wait(is_notification("favourite", alice.account["id"]), "alice's favourite", ROLES_S)

        alice.api.status_delete(status["id"])
        home.wait(is_delete(status["id"]), "the delete on home", ROLES_S)
        local.wait(is_delete(status["id"]), "the delete on the local stream", ROLES_S)
    finally:
        home.close()
        local.close()


def test_a_token_revoked_in_the_web_process_closes_its_streams(instance: Instance, users: UserFactory) -> None:
    carol = users("carol")
    ws = Ws.open(instance.streaming, carol.token, stream="user")
    try:
        revoked = instance.web.http().post(
            "/oauth/revoke", data={"token": carol.token, "client_id": users.app.client_id, "client_secret": users.app.client_secret}
        )
        assert revoked.status_code == 200
        assert ws.closed.wait(ROLES_S), f"the WebSocket stayed open after its token was revoked\n{ws.describe()}"
    finally:
        ws.conn.close()


def test_the_streaming_process_needs_a_valid_token(instance: Instance) -> None:
    response = requests.get(f"{instance.streaming.base_url}/api/v1/streaming/public/local", params={"access_token": "nope"}, timeout=5, stream=True)
    assert response.status_code == 401
    assert response.json()["error"]
