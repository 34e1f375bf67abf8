"""A real ActivityPub peer for the acceptance suite: Fedify (tests/fedify-peer/peer.mjs) driven over HTTP.

The peer is a Node process listening on a loopback address (127.0.0.2 by default, so it is a different
host from ferrodon on 127.0.0.1). It serves actors ``/users/<name>`` created on demand, WebFinger,
NodeInfo, the notes it posted, and verifies every incoming signature with Fedify (a bad one gets 401).
A JSON control API under ``/_test/`` lets a test make it act and read what it received; see
tests/fedify-peer/README.md.

Usage::

    from fedify_peer import fedify_peer

    with fedify_peer(first_knock="draft-cavage-http-signatures-12") as peer:
        peer.follow("alice", server.actor_uri("bob"))   # hypothetical helper on the ferrodon side
        peer.wait_for("Accept", actor="alice")

Fedify resolves ``acct:`` handles over https only, so give it actor URIs, never ``@user@host``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Union

import requests

PEER_DIR = Path(__file__).resolve().parents[1] / "fedify-peer"
FIRST_KNOCKS = ("rfc9421", "draft-cavage-http-signatures-12")
START_TIMEOUT_S = 30.0
NPM_TIMEOUT_S = 300.0
WAIT_TIMEOUT_S = 15.0

Predicate = Union[str, Callable[[dict], bool]]


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def ensure_installed(peer_dir: Path = PEER_DIR) -> None:
    """``npm ci`` in tests/fedify-peer when its node_modules is missing (about 5 s with a warm cache)."""
    if (peer_dir / "node_modules" / "@fedify" / "fedify").is_dir():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is not installed: the Fedify peer needs Node.js 20+ and npm")
    done = subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=peer_dir,
        capture_output=True,
        text=True,
        timeout=NPM_TIMEOUT_S,
    )
    if done.returncode != 0:
        raise RuntimeError(f"npm ci failed in {peer_dir} (exit {done.returncode}):\n{done.stdout}\n{done.stderr}")


class PeerError(RuntimeError):
    """A control endpoint answered an error (``.status`` is the HTTP status, ``.body`` the JSON)."""

    def __init__(self, method: str, path: str, status: int, body: Any):
        super().__init__(f"fedify peer {method} {path} -> HTTP {status}: {body}")
        self.status = status
        self.body = body


class FedifyPeer:
    """One Fedify peer process. ``start()`` it, drive it, ``stop()`` it (or use :func:`fedify_peer`)."""

    def __init__(self) -> None:
        self.host: Optional[str] = None
        self.port: Optional[int] = None
        self.first_knock: Optional[str] = None
        self.manual_approval = False
        self.process: Optional[subprocess.Popen] = None
        self.log_path: Optional[Path] = None
        self._log_file: Any = None
        self.http = requests.Session()  # not hooked into the OpenAPI validator: this is not ferrodon

    # ------------------------------------------------------------------ process
    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(
        self,
        host: str = "127.0.0.2",
        port: Optional[int] = None,
        first_knock: str = "rfc9421",
        manual_approval: bool = False,
        log_level: str = "warning",
        extra_env: Optional[dict[str, str]] = None,
    ) -> "FedifyPeer":
        if not host.startswith("127."):
            raise ValueError(f"the peer must listen on loopback, not {host}")
        if first_knock not in FIRST_KNOCKS:
            raise ValueError(f"first_knock must be one of {FIRST_KNOCKS}, not {first_knock!r}")
        ensure_installed()
        self.host, self.port = host, port or _free_port(host)
        self.first_knock, self.manual_approval = first_knock, manual_approval
        env = dict(os.environ)
        env.update(
            PEER_HOST=self.host,
            PEER_PORT=str(self.port),
            PEER_FIRST_KNOCK=first_knock,
            PEER_MANUAL_APPROVAL="1" if manual_approval else "0",
            PEER_LOG=log_level,
        )
        env.update(extra_env or {})
        fd, log_name = tempfile.mkstemp(prefix=f"fedify-peer-{self.host}-{self.port}-", suffix=".log")
        os.close(fd)
        self.log_path = Path(log_name)
        self._log_file = open(self.log_path, "wb")
        node = shutil.which("node") or "node"
        self.process = subprocess.Popen(
            [node, "peer.mjs"], cwd=PEER_DIR, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"fedify peer exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                if self.http.get(f"{self.origin}/_test/health", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() >= deadline:
                self.stop()
                raise RuntimeError(f"fedify peer did not answer on {self.origin} in {START_TIMEOUT_S:.0f}s:\n{self.log_tail()}")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def log_tail(self, lines: int = 60) -> str:
        if self.log_path is None:
            return "<no log>"
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"<cannot read {self.log_path}: {exc}>"

    def __enter__(self) -> "FedifyPeer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ control API
    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.http.request(method, f"{self.origin}/_test/{path}", timeout=60, **kwargs)
        try:
            body = response.json()
        except ValueError:
            body = response.text
        if response.status_code != 200:
            raise PeerError(method, path, response.status_code, body)
        return body

    def _post(self, path: str, **payload: Any) -> Any:
        return self._call("POST", path, json={k: v for k, v in payload.items() if v is not None})

    def actor_uri(self, name: str) -> str:
        return f"{self.origin}/users/{name}"

    def inbox_uri(self, name: Optional[str] = None) -> str:
        return f"{self.origin}/users/{name}/inbox" if name else f"{self.origin}/inbox"

    def acct(self, name: str) -> str:
        """The peer's handle as ferrodon should resolve it (WebFinger over http on 127.x)."""
        return f"{name}@{self.host}:{self.port}"

    def health(self) -> dict:
        return self._call("GET", "health")

    def received(self, actor: Optional[str] = None, type: Optional[str] = None, since: int = 0) -> list[dict]:
        """Activities that reached the peer's listeners (verified), oldest first.

        Each: seq, id, type, actor, object_type, object_id, to, cc, recipient (None for the shared
        inbox), for (local actors it concerns), inbox (path), signature {scheme, signature,
        signature-input, digest, content-digest}, request_seq, received_at, json (the body as sent).
        """
        params = {k: v for k, v in {"actor": actor, "type": type, "since": since or None}.items() if v}
        return self._call("GET", "received", params=params)

    def requests(self, all: bool = False) -> list[dict]:
        """Raw HTTP requests to the inboxes (``all=True``: every request outside /_test/), with the status Fedify answered."""
        return self._call("GET", "requests", params={"all": "1"} if all else None)

    def errors(self) -> list[dict]:
        return self._call("GET", "errors")

    def followers(self, actor: str) -> list[str]:
        return self._call("GET", "followers", params={"actor": actor})

    def follow_requests(self, actor: str) -> list[str]:
        return self._call("GET", "follow_requests", params={"actor": actor})

    def following(self, actor: str) -> list[dict]:
        """``[{"target", "follow_id", "state": "pending"|"accepted"|"rejected"}]``."""
        return self._call("GET", "following", params={"actor": actor})

    def reset(self) -> None:
        self._call("POST", "reset", json={})

    def follow(self, actor: str, target: str) -> str:
        return self._post("follow", actor=actor, target=target)["id"]

    def unfollow(self, actor: str, target: str) -> str:
        return self._post("unfollow", actor=actor, target=target)["id"]

    def accept(self, actor: str, follower: str) -> str:
        return self._post("accept", actor=actor, follower=follower)["id"]

    def reject(self, actor: str, follower: str) -> str:
        return self._post("reject", actor=actor, follower=follower)["id"]

    def post(
        self,
        actor: str,
        content: str,
        to: Union[str, list[str]] = "public",
        in_reply_to: Optional[str] = None,
        mentions: Optional[list[str]] = None,
        summary: Optional[str] = None,
        sensitive: Optional[bool] = None,
        attachments: Optional[list[tuple[str, str, bytes]]] = None,
    ) -> dict:
        """``to``: "public", "unlisted", "followers" or a list of actor URIs (direct); ``attachments``:
        (media type, alt text, content) of files the peer serves. Returns ``{"id", "activity"}``."""
        files = [
            {"mediaType": kind, "name": name, "data": base64.b64encode(data).decode()}
            for kind, name, data in attachments or []
        ]
        return self._post(
            "post", actor=actor, content=content, to=to, inReplyTo=in_reply_to,
            mentions=mentions, summary=summary, sensitive=sensitive, attachments=files,
        )

    def like(self, actor: str, object: str) -> str:
        return self._post("like", actor=actor, object=object)["id"]

    def announce(self, actor: str, object: str) -> str:
        return self._post("announce", actor=actor, object=object)["id"]

    def undo(self, actor: str, activity: str) -> str:
        return self._post("undo", actor=actor, activity=activity)["id"]

    def delete(self, actor: str, object: str) -> str:
        return self._post("delete", actor=actor, object=object)["id"]

    def update(self, actor: str, object: str, content: str) -> str:
        return self._post("update", actor=actor, object=object, content=content)["id"]

    def send(self, actor: str, activity: dict, to: list[str]) -> str:
        """Send any activity (JSON, ``id``/``actor`` filled in when missing) to the given actors' inboxes."""
        return self._post("send", actor=actor, activity=activity, to=to)["id"]

    # ------------------------------------------------------------------ polling
    def wait_for(
        self,
        what: Predicate,
        actor: Optional[str] = None,
        timeout: float = WAIT_TIMEOUT_S,
        since: int = 0,
        interval: float = 0.1,
    ) -> dict:
        """The first received activity (for ``actor``) of type ``what`` or matching the predicate ``what``."""
        match: Callable[[dict], bool] = (lambda r: r["type"] == what) if isinstance(what, str) else what
        deadline = time.monotonic() + timeout
        while True:
            for record in self.received(actor=actor, since=since):
                if match(record):
                    return record
            if time.monotonic() >= deadline:
                seen = [(r["type"], r["actor"]) for r in self.received(actor=actor)]
                raise AssertionError(
                    f"fedify peer {self.origin}: timed out after {timeout:.0f}s waiting for {what!r}"
                    f" (actor={actor}); received: {seen}\nrequests: "
                    + str([(r["method"], r["path"], r["status"]) for r in self.requests()])
                )
            time.sleep(interval)

    def wait_for_request(self, predicate: Callable[[dict], bool], timeout: float = WAIT_TIMEOUT_S) -> dict:
        """The first raw inbox request matching ``predicate`` (e.g. one answered 401)."""
        deadline = time.monotonic() + timeout
        while True:
            for record in self.requests():
                if predicate(record):
                    return record
            if time.monotonic() >= deadline:
                raise AssertionError(f"fedify peer {self.origin}: no matching inbox request after {timeout:.0f}s")
            time.sleep(0.1)


@contextlib.contextmanager
def fedify_peer(
    host: str = "127.0.0.2",
    port: Optional[int] = None,
    first_knock: str = "rfc9421",
    manual_approval: bool = False,
    **kwargs: Any,
) -> Iterator[FedifyPeer]:
    """A running peer for the duration of the ``with`` block (or of a yield-fixture that wraps it)."""
    peer = FedifyPeer()
    peer.start(host=host, port=port, first_knock=first_knock, manual_approval=manual_approval, **kwargs)
    try:
        yield peer
    finally:
        peer.stop()
