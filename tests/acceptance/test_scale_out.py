"""The roles run apart, as a scaled-out instance runs them: ``ferrodon web``, ``ferrodon
streaming`` and ``ferrodon worker`` as three processes on one PostgreSQL database, their events
carried by Redis over TLS (``REDIS_URL=rediss://…``; a ``redis-server`` of the test's own with a
certificate from a test CA that the processes trust through ``SSL_CERT_FILE``), as a managed
Redis is reached without stunnel.

Mastodon.py finds the streaming process the way every client does: the web process advertises
it (``STREAMING_API_BASE_URL`` → the instance's ``urls.streaming_api``). What is posted through
the web process, and what its jobs do in the worker, reaches the streams of the streaming
process; revoking a token in the web process closes the streams opened with it.

Needs TEST_DATABASE_URL, redis-server and openssl: skipped without them, except with CI=true.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import time
from pathlib import Path
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
        self.shared: dict[str, str] = {}

    def servers(self) -> list[Server]:
        return [self.web, self.streaming, self.worker]


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A test CA, and a certificate it signed for localhost: (CA, certificate, key)."""
    directory.mkdir(parents=True, exist_ok=True)

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True, timeout=60)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=ferrodon test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "redis.key", "-out", "redis.csr", "-subj", "/CN=localhost")
    (directory / "san.ext").write_text("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "redis.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "redis.crt", "-days", "2", "-extfile", "san.ext")
    return directory / "ca.crt", directory / "redis.crt", directory / "redis.key"


def start_tls_redis(directory: Path, port: int) -> subprocess.Popen[bytes]:
    ca, cert, key = make_certificates(directory)
    process = subprocess.Popen(
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1", "--tls-cert-file", str(cert),
         "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca), "--tls-auth-clients", "no", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process
        except OSError:
            time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"redis-server with TLS did not listen on {port}")


@pytest.fixture(scope="module")
def instance(ferrodon_bin: str, openapi_validator: OpenApiValidator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    admin_url = os.environ.get("TEST_DATABASE_URL")
    missing = [] if admin_url else ["TEST_DATABASE_URL"]
    missing += [tool for tool in ("redis-server", "openssl") if shutil.which(tool) is None]
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {', '.join(missing)} missing: the roles must be tested apart in CI", pytrace=False)
        pytest.skip(f"{', '.join(missing)} missing")
    assert admin_url
    workdir = tmp_path_factory.mktemp("ferrodon-roles")
    redis_port = free_port()
    redis = start_tls_redis(workdir / "tls", redis_port)
    database, database_url = create_database(admin_url)
    web_port, streaming_port = free_port(), free_port()
    shared = {
        "LOCAL_DOMAIN": f"localhost:{web_port}",
        "SECRET_KEY_BASE": secrets.token_hex(64),
        "FERRODON_DATA_DIR": str(workdir / "data"),
        "REDIS_URL": f"rediss://localhost:{redis_port}",
        "SSL_CERT_FILE": str(workdir / "tls" / "ca.crt"),
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
        redis.kill()
        drop_database(admin_url, database)
        pytest.fail(f"could not start the roles: {exc}", pytrace=False)
    inst.shared = shared

    yield inst

    died = [srv for srv in inst.servers() if srv.died()]
    for srv in inst.servers():
        srv.stop()
    redis.kill()
    redis.wait(timeout=10)
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


def test_a_redis_whose_certificate_is_not_trusted_is_refused(instance: Instance) -> None:
    env = {k: v for k, v in instance.streaming.env().items() if k != "SSL_CERT_FILE"}
    proc = subprocess.run(
        [instance.streaming.binary, "streaming"], env={**env, "PORT": str(free_port())},
        capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )
    assert proc.returncode != 0
    assert "cannot connect to Redis" in proc.stderr, proc.stderr
