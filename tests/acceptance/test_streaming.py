"""The streaming API: server-sent events through Mastodon.py's streaming, WebSocket through the
``websockets`` package.

Mastodon's semantics (streaming/index.js and the API documentation):

* WebSocket at ``/api/v1/streaming``, many streams on one socket; frames are
  ``{"stream": [name(, tag or list)], "event": …, "payload": "<JSON as a string>"}``, the payload
  of ``delete`` being the bare id; errors are ``{"error": …, "status": 400}`` on the socket.
* SSE at ``/api/v1/streaming/{user,user/notification,public,public/local,hashtag,…}``,
  ``event: <name>`` / ``data: <payload>`` frames, one stream per request.
* Every stream needs a user token with ``read`` or ``read:statuses`` (``read:notifications`` for
  ``user:notification``): a 401 over SSE; a WebSocket without a valid token is refused with a
  401, and one whose token lacks the scope gets a 401 error frame for the subscription.
* Revoking a token, or disabling its account, closes the connections opened with it.
* Status events on public and hashtag streams are dropped for a viewer who blocks, is blocked
  by, or mutes their author (or blocks or mutes an account they mention).

Readiness: an SSE stream is subscribed once its response headers have arrived (Mastodon.py sets
``handle.connection`` then). A WebSocket runs its client's messages in order, so after a
subscribe the test sends a subscription to a stream that does not exist and waits for its error
frame: by then the subscribe before it is in force.

Absence: a status that must not arrive is first seen by a "witness" connection that does get it
(so it has been published), then a later "control" status on the same stream is awaited: the
hidden one, had it been sent, would have come before the control.
"""

from __future__ import annotations

import dataclasses
import json
import secrets
import socket
import threading
import time
import urllib.parse
from typing import Any, Callable, Optional

import pytest
import requests
from mastodon import Mastodon, StreamListener
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect
from websockets.typing import Subprotocol

from support import HTTP_TIMEOUT_S, App, Server, User, describe, sign_in_user, unique, wait_for

# Issue 5: another user's post, edit, delete, favourite and follow arrive within 1 s (checked by
# arrived_within on the events the issue names).
REQUIRED_S = 1.0
# Other waits for an event that should come promptly (normally well under 100 ms) allow more, so
# that a loaded CI machine does not fail them; latency is measured by benches/, not here.
ARRIVAL_S = 2.0
# The longest any test waits for something that should happen.
WAIT_S = 5.0
# Read timeout of Mastodon.py's SSE connections (the server sends a heartbeat every 15 s).
SSE_READ_TIMEOUT_S = 30


def text(label: str, tag: Optional[str] = None) -> str:
    return f"{label} {secrets.token_hex(4)}" + (f" #{tag}" if tag else "")


def streaming_api(server: Server, token: Optional[str]) -> Mastodon:
    """A Mastodon.py client for the streaming endpoints.

    Its session has no OpenAPI response hook: the suite's validated sessions read the whole body
    in the hook (and expect JSON), which never ends on an open event stream.
    """
    return Mastodon(
        access_token=token,
        api_base_url=server.base_url,
        session=requests.Session(),
        version_check_mode="none",
        ratelimit_method="throw",
        request_timeout=HTTP_TIMEOUT_S,
    )


def ws_base(server: Server) -> str:
    return server.base_url.replace("http://", "ws://", 1) + "/api/v1/streaming"


# --------------------------------------------------------------------------------------------
# What a connection received
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Ev:
    event: str  # "update", "delete", …; "error" for a WebSocket error frame
    payload: Any  # a dict for statuses, notifications and conversations; the id (str) for delete
    stream: Optional[list]  # the WebSocket label; None over SSE
    raw: Any  # the WebSocket frame as received, or the SSE data as Mastodon.py parsed it
    at: float  # time.monotonic() of arrival


def is_status(event: str, sid: Any) -> Callable[[Ev], bool]:
    return lambda e: e.event == event and isinstance(e.payload, dict) and str(e.payload.get("id")) == str(sid)


def is_delete(sid: Any) -> Callable[[Ev], bool]:
    return lambda e: e.event == "delete" and str(e.payload) == str(sid)


def is_notification(kind: str, from_id: str) -> Callable[[Ev], bool]:
    return lambda e: (
        e.event == "notification"
        and isinstance(e.payload, dict)
        and e.payload.get("type") == kind
        and str(e.payload["account"]["id"]) == from_id
    )


def mentions_status(sid: Any) -> Callable[[Ev], bool]:
    """Any event about status ``sid`` (update, status.update, delete, conversation)."""
    sid = str(sid)

    def match(e: Ev) -> bool:
        if e.event == "delete":
            return str(e.payload) == sid
        if e.event == "error" or not isinstance(e.payload, dict):
            return False
        if str(e.payload.get("id")) == sid:
            return True
        nested = [e.payload.get("last_status"), e.payload.get("status")]
        return any(isinstance(n, dict) and str(n.get("id")) == sid for n in nested)

    return match


class Recorder:
    """Events of one connection, in arrival order, with waits."""

    def __init__(self, name: str):
        self.name = name
        self.events: list[Ev] = []
        self.errors: list[str] = []
        self.closed = threading.Event()
        self._cond = threading.Condition()

    def add(self, ev: Ev) -> None:
        with self._cond:
            self.events.append(ev)
            self._cond.notify_all()

    def snapshot(self) -> list[Ev]:
        with self._cond:
            return list(self.events)

    def describe(self) -> str:
        lines = [f"{self.name} received {len(self.events)} event(s):"]
        for e in self.snapshot():
            shown = e.raw if isinstance(e.raw, (dict, str, int)) else e.payload
            lines.append(f"  {e.event} stream={e.stream} {json.dumps(shown, default=str)[:300]}")
        if self.errors:
            lines.append(f"  errors: {self.errors}")
        return "\n".join(lines)

    def wait(self, predicate: Callable[[Ev], bool], what: str, timeout: float = WAIT_S) -> Ev:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for e in self.events:
                    if predicate(e):
                        return e
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        raise AssertionError(f"{self.name}: no {what} within {timeout:.1f}s\n{self.describe()}")

    def wait_all(self, predicate: Callable[[Ev], bool], count: int, what: str, timeout: float = WAIT_S) -> list[Ev]:
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                found = [e for e in self.events if predicate(e)]
                if len(found) >= count:
                    return found
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
        raise AssertionError(f"{self.name}: fewer than {count} {what} within {timeout:.1f}s\n{self.describe()}")

    def matching(self, predicate: Callable[[Ev], bool]) -> list[Ev]:
        return [e for e in self.snapshot() if predicate(e)]

    def assert_absent(self, predicate: Callable[[Ev], bool], what: str) -> None:
        found = self.matching(predicate)
        assert not found, f"{self.name}: got {what}, which it must not\n{self.describe()}"


# --------------------------------------------------------------------------------------------
# SSE through Mastodon.py
# --------------------------------------------------------------------------------------------


class RecordingListener(StreamListener):
    def __init__(self, recorder: Recorder):
        self.recorder = recorder

    def on_any_event(self, name, data=None, for_stream=None):  # noqa: D401 - Mastodon.py's callback
        payload = str(data) if name == "delete" else data  # Mastodon.py parses a bare id as a number
        self.recorder.add(Ev(name, payload, for_stream, data, time.monotonic()))

    def on_abort(self, err):
        self.recorder.errors.append(repr(err))


class Sse:
    """One SSE stream opened with Mastodon.py (``run_async=True``)."""

    def __init__(self, name: str, api: Mastodon, method: str, *args: Any, **kwargs: Any):
        self.recorder = Recorder(f"SSE {name}")
        self.listener = RecordingListener(self.recorder)
        self.handle = getattr(api, method)(
            *args, listener=self.listener, run_async=True, timeout=SSE_READ_TIMEOUT_S, **kwargs
        )
        deadline = time.monotonic() + WAIT_S
        # Mastodon.py sets `connection` once the response headers (HTTP 200) have arrived, and the
        # server answers them after it has subscribed.
        while getattr(self.handle, "connection", None) is None or self.handle.reconnecting:
            if time.monotonic() > deadline:
                self.handle.close()
                raise AssertionError(f"{name}: the SSE stream did not connect within {WAIT_S:.0f}s {self.recorder.errors}")
            time.sleep(0.01)

    def __getattr__(self, item: str) -> Any:
        return getattr(self.recorder, item)

    def close(self) -> None:
        # Mastodon.py's close() waits for the reading thread's pending read (up to the next
        # heartbeat, 15 s): shut the socket down first so that read ends at once.
        self.handle.closed = True
        connection = getattr(self.handle, "connection", None)
        sock = getattr(getattr(getattr(connection, "raw", None), "connection", None), "sock", None)
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.handle.close()


# --------------------------------------------------------------------------------------------
# WebSocket through the websockets package
# --------------------------------------------------------------------------------------------


class Ws:
    """One WebSocket; a thread reads its frames into a Recorder."""

    def __init__(self, name: str, conn: ClientConnection):
        self.conn = conn
        self.recorder = Recorder(f"WebSocket {name}")
        self.close_code: Optional[int] = None
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    @classmethod
    def open(
        cls,
        server: Server,
        token: Optional[str],
        *,
        via: str = "header",
        name: str = "",
        **query: str,
    ) -> "Ws":
        params = dict(query)
        headers = {}
        subprotocols = None
        if token is not None:
            if via == "header":
                headers["Authorization"] = f"Bearer {token}"
            elif via == "query":
                params["access_token"] = token
            elif via == "protocol":
                subprotocols = [Subprotocol(token)]
            else:
                raise ValueError(via)
        url = ws_base(server) + ("?" + urllib.parse.urlencode(params) if params else "")
        conn = ws_connect(url, additional_headers=headers, subprotocols=subprotocols, open_timeout=WAIT_S, close_timeout=1, legacy=True)
        ws = cls(name or via, conn)
        if query.get("stream"):
            ws.barrier()  # the ?stream= subscription is in force
        return ws

    def _read(self) -> None:
        try:
            while True:
                message = self.conn.recv()
                now = time.monotonic()
                try:
                    frame = json.loads(message)
                except ValueError:
                    self.recorder.errors.append(f"frame is not JSON: {message!r}")
                    continue
                if not isinstance(frame, dict):
                    self.recorder.errors.append(f"frame is not an object: {message!r}")
                    continue
                if "error" in frame:
                    self.recorder.add(Ev("error", frame, None, frame, now))
                    continue
                raw_payload = frame.get("payload")
                payload: Any = raw_payload
                if frame.get("event") != "delete" and isinstance(raw_payload, str):
                    try:
                        payload = json.loads(raw_payload)
                    except ValueError:
                        self.recorder.errors.append(f"payload is not JSON: {message!r}")
                self.recorder.add(Ev(str(frame.get("event")), payload, frame.get("stream"), frame, now))
        except ConnectionClosed as exc:
            self.close_code = exc.rcvd.code if exc.rcvd is not None else None
        except Exception as exc:  # noqa: BLE001 - recorded for the test to report
            self.recorder.errors.append(repr(exc))
        finally:
            self.recorder.closed.set()

    def __getattr__(self, item: str) -> Any:
        return getattr(self.recorder, item)

    def send(self, **message: Any) -> None:
        self.conn.send(json.dumps(message))

    def barrier(self) -> None:
        """Returns once the server has handled every message sent before (see the module doc).

        Callers wait for the error frames they expect before calling it.
        """
        is_error = lambda e: e.event == "error"  # noqa: E731
        before = len(self.recorder.matching(is_error))
        self.send(type="subscribe", stream=f"barrier-{secrets.token_hex(3)}")
        self.recorder.wait_all(is_error, before + 1, "error frame answering a subscription to an unknown stream (a barrier)")

    def subscribe(self, stream: str, **params: str) -> None:
        self.send(type="subscribe", stream=stream, **params)
        self.barrier()

    def unsubscribe(self, stream: str, **params: str) -> None:
        self.send(type="unsubscribe", stream=stream, **params)
        self.barrier()

    def close(self) -> None:
        try:
            self.conn.close()
        except Exception:  # noqa: BLE001
            pass


# --------------------------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------------------------


@pytest.fixture
def closing():
    """Collects connections and closes them after the test."""
    opened: list[Any] = []
    yield opened.append
    for c in opened:
        c.close()


@pytest.fixture
def sse(server: Server, closing):
    def open_(user_or_token: Any, method: str, *args: Any, name: Optional[str] = None, **kwargs: Any) -> Sse:
        token = user_or_token.token if isinstance(user_or_token, User) else user_or_token
        who = user_or_token.username if isinstance(user_or_token, User) else "token"
        stream = Sse(name or f"{who} {method}{args or ''}{kwargs or ''}", streaming_api(server, token), method, *args, **kwargs)
        closing(stream)
        return stream

    return open_


@pytest.fixture
def ws(server: Server, closing):
    def open_(user_or_token: Any, *, via: str = "header", name: Optional[str] = None, **query: str) -> Ws:
        token = user_or_token.token if isinstance(user_or_token, User) else user_or_token
        who = user_or_token.username if isinstance(user_or_token, User) else "token"
        conn = Ws.open(server, token, via=via, name=name or f"{who} ({via}) {query or ''}", **query)
        closing(conn)
        return conn

    return open_


def arrived_within(ev: Ev, since: float, limit: float = REQUIRED_S) -> None:
    took = ev.at - since
    assert took <= limit, f"{ev.event} arrived after {took:.3f}s, expected within {limit:.1f}s"


# --------------------------------------------------------------------------------------------
# 1. Events over SSE (Mastodon.py)
# --------------------------------------------------------------------------------------------


def test_followed_accounts_posts_edits_and_deletes_reach_the_user_stream(make_user, sse):
    author = make_user("author")
    follower = make_user("follower")
    assert follower.api.account_follow(author.id)["following"] is True
    home = sse(follower, "stream_user")

    start = time.monotonic()
    status = author.api.status_post(text("hello followers"), visibility="public")
    sid = str(status["id"])
    ev = home.wait(is_status("update", sid), f"update for status {sid}", timeout=ARRIVAL_S)
    arrived_within(ev, start)
    assert ev.stream is None
    assert str(ev.payload["account"]["id"]) == author.id
    assert ev.payload["content"] == status["content"]
    assert ev.payload["visibility"] == "public"

    start = time.monotonic()
    edited = author.api.status_update(sid, status=text("edited for followers"))
    ev = home.wait(is_status("status.update", sid), f"status.update for status {sid}", timeout=ARRIVAL_S)
    arrived_within(ev, start)
    assert ev.payload["content"] == edited["content"]
    assert ev.payload["edited_at"], ev.payload

    start = time.monotonic()
    author.api.status_delete(sid)
    ev = home.wait(is_delete(sid), f"delete of status {sid}", timeout=ARRIVAL_S)
    arrived_within(ev, start)
    assert home.errors == []


def test_own_posts_reach_the_own_user_stream(make_user, sse):
    me = make_user("self")
    home = sse(me, "stream_user")
    status = me.api.status_post(text("my own"), visibility="private")
    ev = home.wait(is_status("update", status["id"]), "update for my own status", timeout=ARRIVAL_S)
    assert str(ev.payload["account"]["id"]) == me.id


def test_public_posts_reach_public_local_public_and_hashtag_streams(make_user, sse):
    author = make_user("pub")
    viewer = make_user("viewer")  # follows no one: everything comes from the public streams
    tag = unique("streamtag")
    streams = {
        "public": sse(viewer, "stream_public"),
        "public:local": sse(viewer, "stream_local"),
        "public (local=True)": sse(viewer, "stream_public", local=True),
        "hashtag": sse(viewer, "stream_hashtag", tag),
        "hashtag:local": sse(viewer, "stream_hashtag", tag, local=True),
        # Tags match whatever their case.
        "hashtag (upper case)": sse(viewer, "stream_hashtag", tag.upper()),
    }
    home = sse(viewer, "stream_user")

    start = time.monotonic()
    status = author.api.status_post(text("public post", tag), visibility="public")
    sid = str(status["id"])
    for name, stream in streams.items():
        ev = stream.wait(is_status("update", sid), f"update for {sid} on {name}", timeout=ARRIVAL_S)
        arrived_within(ev, start)
        assert str(ev.payload["account"]["id"]) == author.id
        assert any(t["name"].lower() == tag for t in ev.payload["tags"]), ev.payload["tags"]

    author.api.status_update(sid, status=text("public post, edited", tag))
    for name, stream in streams.items():
        stream.wait(is_status("status.update", sid), f"status.update for {sid} on {name}", timeout=ARRIVAL_S)

    author.api.status_delete(sid)
    for name, stream in streams.items():
        stream.wait(is_delete(sid), f"delete of {sid} on {name}", timeout=ARRIVAL_S)

    # The viewer does not follow the author: nothing of this on their home stream. Control: the
    # viewer's own post, published after all of the above.
    own = viewer.api.status_post(text("control"), visibility="public")
    home.wait(is_status("update", own["id"]), "the viewer's own status (control)")
    home.assert_absent(mentions_status(sid), f"events about {sid} of an account the viewer does not follow")


def test_a_reply_to_someone_else_reaches_hashtag_streams_but_not_public_ones(make_user, sse):
    """As Mastodon's fan-out and its timelines: a public reply to someone else is on the hashtag
    timelines and streams (``TagFeed`` has no reply filter) and off the public ones, the streams
    deciding as the REST timelines do."""
    author, other, viewer = make_user("rep"), make_user("repto"), make_user("viewer")
    tag = unique("replytag")
    public, local = sse(viewer, "stream_public"), sse(viewer, "stream_local")
    hashtag, hashtag_local = sse(viewer, "stream_hashtag", tag), sse(viewer, "stream_hashtag", tag, local=True)
    parent = other.api.status_post(text("parent"), visibility="public")
    reply = author.api.status_post(
        f"@{other.username} " + text("a reply", tag), in_reply_to_id=parent["id"], visibility="public"
    )
    control = author.api.status_post(text("control", tag), visibility="public")
    rid = str(reply["id"])
    for name, stream in (("hashtag", hashtag), ("hashtag:local", hashtag_local)):
        stream.wait(is_status("update", rid), f"the reply on {name}", timeout=ARRIVAL_S)
    for stream in (public, local):
        stream.wait(is_status("update", control["id"]), "the later status (control)")
        stream.assert_absent(mentions_status(rid), "a reply to someone else")
    assert rid in [str(s["id"]) for s in viewer.api.timeline_hashtag(tag)]
    assert rid not in [str(s["id"]) for s in viewer.api.timeline_public(limit=40)]


def test_unlisted_posts_stay_off_public_streams(make_user, sse):
    author = make_user("unl")
    viewer = make_user("viewer")
    tag = unique("unltag")
    public = sse(viewer, "stream_public")
    local = sse(viewer, "stream_local")
    hashtag = sse(viewer, "stream_hashtag", tag)
    hidden = author.api.status_post(text("unlisted", tag), visibility="unlisted")
    control = author.api.status_post(text("public", tag), visibility="public")
    for stream in (public, local, hashtag):
        stream.wait(is_status("update", control["id"]), "the later public status (control)")
        stream.assert_absent(mentions_status(hidden["id"]), "an unlisted status")


def test_favourite_and_follow_arrive_as_notifications(make_user, sse):
    me = make_user("notified")
    other = make_user("fan")
    user = sse(me, "stream_user")
    notifications = sse(me, "stream_user_notifications")

    start = time.monotonic()
    other.api.account_follow(me.id)
    for stream in (user, notifications):
        ev = stream.wait(is_notification("follow", other.id), "follow notification", timeout=ARRIVAL_S)
        arrived_within(ev, start)
        assert ev.payload["id"], ev.payload

    status = me.api.status_post(text("like me"), visibility="public")
    start = time.monotonic()
    other.api.status_favourite(status["id"])
    for stream in (user, notifications):
        ev = stream.wait(is_notification("favourite", other.id), "favourite notification", timeout=ARRIVAL_S)
        arrived_within(ev, start)
        assert str(ev.payload["status"]["id"]) == str(status["id"])

    start = time.monotonic()
    mention = other.api.status_post(f"@{me.username} {text('hi')}", visibility="public")
    for stream in (user, notifications):
        ev = stream.wait(is_notification("mention", other.id), "mention notification", timeout=ARRIVAL_S)
        arrived_within(ev, start)
        assert str(ev.payload["status"]["id"]) == str(mention["id"])

    # The same notifications through the REST API.
    listed = me.api.notifications()
    assert {(n["type"], str(n["account"]["id"])) for n in listed} >= {("follow", other.id), ("favourite", other.id)}
    # user:notification carries notifications only.
    notifications.assert_absent(lambda e: e.event != "notification", "a non-notification event")


def test_sse_wire_format(server: Server, make_user):
    """The raw frames: ``event: update`` / ``data: <status JSON>``, ``event: delete`` / ``data: <id>``;
    the token may also come as ``access_token`` in the query (Mastodon's legacy way)."""
    author = make_user("raw")
    response = requests.get(
        server.url("/api/v1/streaming/public/local"),
        params={"access_token": author.token},
        stream=True,
        timeout=(HTTP_TIMEOUT_S, WAIT_S),
    )
    try:
        assert response.status_code == 200, describe(response)
        assert response.headers.get("Content-Type", "").startswith("text/event-stream"), response.headers
        lines = response.iter_lines(decode_unicode=True)

        def next_frame() -> dict[str, str]:
            frame: dict[str, str] = {}
            for line in lines:
                if line == "":
                    if frame:
                        return frame
                elif not line.startswith(":"):  # comments are heartbeats
                    key, sep, value = line.partition(": ")
                    assert sep, f"malformed SSE line {line!r}"
                    assert key not in frame, f"repeated field {key!r} in one frame"
                    frame[key] = value
            raise AssertionError("the stream ended")

        status = author.api.status_post(text("raw sse"), visibility="public")
        frame = next_frame()
        assert frame.get("event") == "update", frame
        assert json.loads(frame["data"])["id"] == status["id"]
        assert set(frame) == {"event", "data"}, frame

        author.api.status_delete(status["id"])
        frame = next_frame()
        assert frame == {"event": "delete", "data": str(status["id"])}, "the delete payload is the bare id"
    finally:
        response.close()


def test_reblogs_reach_the_boosters_followers(make_user, sse):
    author = make_user("orig")
    booster = make_user("boost")
    follower = make_user("bfollow")
    assert follower.api.account_follow(booster.id)["following"] is True
    home = sse(follower, "stream_user", name="follower user")
    public = sse(follower, "stream_public", name="follower public")
    notifications = sse(author, "stream_user_notifications", name="author user:notification")

    original = author.api.status_post(text("worth boosting"), visibility="public")
    public.wait(is_status("update", original["id"]), "the original status on public")
    reblog = booster.api.status_reblog(original["id"])
    ev = home.wait(is_status("update", reblog["id"]), "the reblog on the follower's user stream", timeout=ARRIVAL_S)
    assert str(ev.payload["reblog"]["id"]) == str(original["id"]), ev.payload
    assert str(ev.payload["account"]["id"]) == booster.id
    ev = notifications.wait(is_notification("reblog", booster.id), "reblog notification", timeout=ARRIVAL_S)
    assert str(ev.payload["status"]["id"]) == str(original["id"])

    # Reblogs are not on the public streams (Mastodon's public timelines leave them out).
    control = author.api.status_post(text("control"), visibility="public")
    public.wait(is_status("update", control["id"]), "the control status on public")
    public.assert_absent(is_status("update", reblog["id"]), "a reblog on the public stream")

    booster.api.status_unreblog(original["id"])
    home.wait(is_delete(reblog["id"]), "delete of the reblog", timeout=ARRIVAL_S)


def test_user_stream_payloads_are_rendered_for_their_recipient(make_user, sse):
    """Mastodon renders statuses on a user's stream for that user (PushUpdateWorker uses
    InlineRenderer with the account), so ``favourited``/``bookmarked`` are the recipient's."""
    author = make_user("rend")
    follower = make_user("rendf")
    assert follower.api.account_follow(author.id)["following"] is True
    status = author.api.status_post(text("to be liked"), visibility="public")
    follower.api.status_favourite(status["id"])
    follower.api.status_bookmark(status["id"])
    home = sse(follower, "stream_user")
    author.api.status_update(status["id"], status=text("liked and edited"))
    ev = home.wait(is_status("status.update", status["id"]), "status.update", timeout=ARRIVAL_S)
    assert ev.payload.get("favourited") is True, f"favourited on the follower's user stream: {ev.payload.get('favourited')!r}"
    assert ev.payload.get("bookmarked") is True, f"bookmarked on the follower's user stream: {ev.payload.get('bookmarked')!r}"


# --------------------------------------------------------------------------------------------
# 2. WebSocket
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("via", ["query", "header", "protocol"])
def test_websocket_token_and_initial_stream(make_user, ws, via):
    author = make_user("wsauth")
    viewer = make_user("wsview")
    conn = ws(viewer, via=via, stream="public:local")
    if via == "protocol":
        assert conn.conn.subprotocol == viewer.token, "the server must echo the Sec-WebSocket-Protocol it accepted"
        assert conn.conn.response.headers.get("Sec-WebSocket-Protocol") == viewer.token

    start = time.monotonic()
    status = author.api.status_post(text(f"ws via {via}"), visibility="public")
    ev = conn.wait(is_status("update", status["id"]), "update", timeout=ARRIVAL_S)
    arrived_within(ev, start)
    assert ev.stream == ["public:local"]
    assert isinstance(ev.raw["payload"], str), "the payload is JSON in a string"
    assert set(ev.raw) == {"stream", "event", "payload"}, ev.raw
    assert str(ev.payload["account"]["id"]) == author.id

    author.api.status_delete(status["id"])
    ev = conn.wait(is_delete(status["id"]), "delete", timeout=ARRIVAL_S)
    assert ev.raw["payload"] == str(status["id"]), "the delete payload is the bare id"
    assert ev.stream == ["public:local"]
    assert conn.errors == []


def test_websocket_subscribe_and_unsubscribe(make_user, ws):
    author = make_user("wssub")
    viewer = make_user("wssubv")
    witness = make_user("wswit")
    conn = ws(viewer)
    watcher = ws(witness, stream="public:local")

    # Nothing subscribed yet (Mastodon sends no event for an empty socket).
    first = author.api.status_post(text("before subscribing"), visibility="public")
    watcher.wait(is_status("update", first["id"]), "update (witness)")

    conn.subscribe("public:local")
    second = author.api.status_post(text("subscribed"), visibility="public")
    ev = conn.wait(is_status("update", second["id"]), "update after subscribe", timeout=ARRIVAL_S)
    assert ev.stream == ["public:local"]

    conn.unsubscribe("public:local")
    third = author.api.status_post(text("unsubscribed"), visibility="public")
    watcher.wait(is_status("update", third["id"]), "update (witness)")

    # Subscribing again: only what comes after arrives (and a repeated subscribe changes nothing).
    conn.subscribe("public:local")
    conn.subscribe("public:local")
    fourth = author.api.status_post(text("subscribed again"), visibility="public")
    conn.wait(is_status("update", fourth["id"]), "update after subscribing again", timeout=ARRIVAL_S)
    conn.assert_absent(mentions_status(first["id"]), "a status posted before the first subscribe")
    conn.assert_absent(mentions_status(third["id"]), "a status posted while unsubscribed")
    assert len(conn.matching(is_status("update", fourth["id"]))) == 1, conn.describe()


def test_websocket_multiplexes_streams_with_their_labels(make_user, ws):
    author = make_user("wsmux")
    viewer = make_user("wsmuxv")
    assert viewer.api.account_follow(author.id)["following"] is True
    tag = unique("muxtag")
    conn = ws(viewer)
    conn.subscribe("user")
    conn.subscribe("public:local")
    conn.subscribe("hashtag", tag=tag)
    # The label carries the tag as the client wrote it; tags match whatever their case.
    conn.subscribe("hashtag:local", tag=tag.upper())
    conn.subscribe("user:notification")

    status = author.api.status_post(text("everywhere", tag), visibility="public")
    events = conn.wait_all(is_status("update", status["id"]), 4, "updates (one per stream)", timeout=ARRIVAL_S)
    labels = sorted(json.dumps(e.stream) for e in events)
    assert labels == sorted(
        json.dumps(label) for label in (["user"], ["public:local"], ["hashtag", tag], ["hashtag:local", tag.upper()])
    ), conn.describe()

    # A status without the tag: user and public:local only.
    plain = author.api.status_post(text("no tag"), visibility="public")
    conn.wait_all(is_status("update", plain["id"]), 2, "updates of the untagged status")
    # Statuses are distributed by separate jobs: the control only bounds the wait for extras.
    control = author.api.status_post(text("control", tag), visibility="public")
    conn.wait_all(is_status("update", control["id"]), 4, "updates of the control status")
    plain_labels = sorted(json.dumps(e.stream) for e in conn.matching(is_status("update", plain["id"])))
    assert plain_labels == sorted([json.dumps(["user"]), json.dumps(["public:local"])]), conn.describe()

    # A notification goes out under user and under user:notification.
    other = make_user("wsmuxn")
    other.api.account_follow(viewer.id)
    events = conn.wait_all(is_notification("follow", other.id), 2, "follow notifications", timeout=ARRIVAL_S)
    assert sorted(json.dumps(e.stream) for e in events) == [json.dumps(["user"]), json.dumps(["user:notification"])]


def test_websocket_unknown_stream_is_an_error_on_the_socket(make_user, ws):
    viewer = make_user("wserr")
    author = make_user("wserra")
    conn = ws(viewer)
    conn.send(type="subscribe", stream="nonexistent")
    ev = conn.wait(lambda e: e.event == "error", "error frame for an unknown stream")
    assert ev.raw.get("status") == 400, ev.raw
    assert isinstance(ev.raw.get("error"), str) and ev.raw["error"], ev.raw

    conn.send(type="subscribe", stream="hashtag")
    errors = conn.wait_all(lambda e: e.event == "error", 2, "error frame for a hashtag stream without a tag")
    assert errors[1].raw.get("status") == 400, errors[1].raw
    assert isinstance(errors[1].raw.get("error"), str) and errors[1].raw["error"], errors[1].raw

    # The socket is still usable.
    conn.subscribe("public:local")
    status = author.api.status_post(text("after errors"), visibility="public")
    conn.wait(is_status("update", status["id"]), "update after the errors")
    assert not conn.closed.is_set()


def test_websocket_unknown_initial_stream_is_an_error_frame(server: Server, make_user):
    viewer = make_user("wserr")
    conn = ws_connect(
        ws_base(server) + "?stream=nonexistent",
        additional_headers={"Authorization": f"Bearer {viewer.token}"},
        open_timeout=WAIT_S,
        close_timeout=1,
        legacy=True,
    )
    try:
        frame = json.loads(conn.recv(timeout=WAIT_S))
        assert frame.get("status") == 400 and isinstance(frame.get("error"), str), frame
    finally:
        conn.close()
    conn = ws_connect(
        ws_base(server) + "?stream=hashtag",
        additional_headers={"Authorization": f"Bearer {viewer.token}"},
        open_timeout=WAIT_S,
        close_timeout=1,
        legacy=True,
    )
    try:
        frame = json.loads(conn.recv(timeout=WAIT_S))
        assert frame.get("status") == 400 and isinstance(frame.get("error"), str), frame
    finally:
        conn.close()


# --------------------------------------------------------------------------------------------
# 3. Authentication and scopes
# --------------------------------------------------------------------------------------------


def sse_status(server: Server, path: str, token: Optional[str] = None, **params: str) -> tuple[int, Any, requests.Response]:
    """GET an SSE endpoint without reading an open stream: (status, JSON body or None, response).

    A non-200 answer is read and checked against the OpenAPI description.
    """
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = requests.get(server.url(path), headers=headers, params=params, stream=True, timeout=(HTTP_TIMEOUT_S, WAIT_S))
    try:
        if response.status_code == 200:
            return 200, None, response
        response.content  # noqa: B018 - read the (small) error body
        server.validator.hook(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        return response.status_code, body, response
    finally:
        response.close()


def ws_refused(server: Server, token: Optional[str], *, via: str = "header", **query: str) -> tuple[int, Any]:
    params = dict(query)
    headers = {}
    subprotocols = None
    if token is not None:
        if via == "header":
            headers["Authorization"] = f"Bearer {token}"
        elif via == "query":
            params["access_token"] = token
        else:
            subprotocols = [Subprotocol(token)]
    url = ws_base(server) + ("?" + urllib.parse.urlencode(params) if params else "")
    try:
        conn = ws_connect(url, additional_headers=headers, subprotocols=subprotocols, open_timeout=WAIT_S, close_timeout=1, legacy=True)
    except InvalidStatus as exc:
        body = exc.response.body or b""
        try:
            parsed = json.loads(body)
        except ValueError:
            parsed = body
        return exc.response.status_code, parsed
    # Upgraded: report the first frame (an error frame for a refused ?stream=).
    first: Any
    try:
        first = conn.recv(timeout=WAIT_S)
        try:
            first = json.loads(first)
        except ValueError:
            pass
    except ConnectionClosed as exc:
        first = f"closed {exc}"
    except TimeoutError:
        first = "nothing"
    finally:
        conn.close()
    return 101, first


SSE_PATHS = [
    ("/api/v1/streaming/user", {}),
    ("/api/v1/streaming/user/notification", {}),
    ("/api/v1/streaming/public", {}),
    ("/api/v1/streaming/public/local", {}),
    ("/api/v1/streaming/hashtag", {"tag": "anything"}),
    ("/api/v1/streaming/direct", {}),
]


def test_health(server: Server):
    response = requests.get(server.url("/api/v1/streaming/health"), timeout=HTTP_TIMEOUT_S)
    assert response.status_code == 200, describe(response)
    assert response.text == "OK"
    assert streaming_api(server, None).stream_healthy() is True


def test_no_token_is_401(server: Server):
    for path, params in SSE_PATHS:
        status, body, response = sse_status(server, path, None, **params)
        assert status == 401, f"GET {path} without a token: {status} {body}"
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    # Mastodon refuses the upgrade itself (its body is empty, the reason in X-Error-Message).
    for stream in ("public:local", "user", None):
        status, body = ws_refused(server, None, **({"stream": stream} if stream else {}))
        assert status == 401, f"WebSocket without a token (stream={stream}): {status} {body!r}"


def test_wrong_token_is_401(server: Server):
    bad = secrets.token_urlsafe(32)
    for path, params in SSE_PATHS:
        status, body, _ = sse_status(server, path, bad, **params)
        assert status == 401, f"GET {path} with a wrong token: {status} {body}"
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    for via in ("header", "query", "protocol"):
        status, body = ws_refused(server, bad, via=via, stream="public:local")
        assert status == 401, f"WebSocket with a wrong token ({via}): {status} {body!r}"


def test_token_without_read_scope_is_401(server: Server, app: App, make_user):
    user = make_user("scoped")
    for scopes in (["write:statuses"], ["follow"], ["write", "follow", "push"]):
        token = sign_in_user(server, app, user.username, user.password, email=user.email, scopes=scopes)
        for path, params in SSE_PATHS:
            status, body, _ = sse_status(server, path, token, **params)
            assert status == 401, f"GET {path} with scopes {scopes}: {status} {body}"
            assert isinstance(body, dict) and isinstance(body.get("error"), str), body
        # Over a WebSocket, Mastodon checks scopes when subscribing (the upgrade only checks the
        # token, spec/system/streaming): an error frame with status 401. Refusing the upgrade
        # with a 401 refuses the same thing earlier; either is accepted.
        for stream in ("public:local", "user", "hashtag"):
            status, body = ws_refused(server, token, stream=stream, tag="anything")
            refused = status == 401 or (
                status == 101 and isinstance(body, dict) and body.get("status") == 401 and "event" not in body
            )
            assert refused, f"WebSocket ?stream={stream} with scopes {scopes}: {status} {body!r}"


def test_disabling_an_account_closes_its_streams(server: Server, make_user, ws, sse):
    """Mastodon (spec/system/streaming): a user disabled while connected is disconnected (1000)."""
    user = make_user("disconn")
    socket = ws(user, stream="public:local")
    stream = sse(user, "stream_user")
    server.cli("accounts", "modify", user.username, "--disable")
    assert socket.closed.wait(WAIT_S), "the WebSocket of a disabled account stayed open"
    wait_for(lambda: not stream.handle.is_alive(), "the SSE stream of a disabled account ends", timeout=WAIT_S, interval=0.05)


def test_disabled_account_is_401(server: Server, make_user):
    """Mastodon's streaming server does not find tokens of disabled accounts: 401."""
    user = make_user("disabled")
    assert sse_status(server, "/api/v1/streaming/user", user.token)[0] == 200
    server.cli("accounts", "modify", user.username, "--disable")
    status, body, _ = sse_status(server, "/api/v1/streaming/user", user.token)
    assert status == 401, f"SSE with the token of a disabled account: {status} {body}"
    status, body = ws_refused(server, user.token, stream="public:local")
    assert status == 401, f"WebSocket with the token of a disabled account: {status} {body!r}"


def test_app_token_is_401(server: Server, app: App):
    response = server.http().post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "scope": "read",
        },
    )
    assert response.status_code == 200, describe(response)
    app_token = response.json()["access_token"]
    status, body, _ = sse_status(server, "/api/v1/streaming/public", app_token)
    assert status == 401, f"an app token (no user) on the public stream: {status} {body}"
    status, body = ws_refused(server, app_token, stream="public")
    assert status == 401, f"an app token (no user) on a WebSocket: {status} {body!r}"


def test_notification_stream_needs_read_notifications(server: Server, app: App, make_user, sse, ws):
    user = make_user("scopedn")
    statuses_only = sign_in_user(server, app, user.username, user.password, email=user.email, scopes=["read:statuses"])
    status, body, _ = sse_status(server, "/api/v1/streaming/user/notification", statuses_only)
    assert status == 401, f"user:notification with read:statuses only: {status} {body}"
    assert isinstance(body, dict) and isinstance(body.get("error"), str), body
    # The statuses streams are open to it...
    for path, params in (("/api/v1/streaming/user", {}), ("/api/v1/streaming/public/local", {})):
        status, body, _ = sse_status(server, path, statuses_only, **params)
        assert status == 200, f"{path} with read:statuses: {status} {body}"
    # ... and over a WebSocket, user:notification is refused on the socket.
    conn = ws(statuses_only, name="read:statuses")
    conn.send(type="subscribe", stream="user:notification")
    ev = conn.wait(lambda e: e.event == "error", "error frame for user:notification without read:notifications")
    assert ev.raw.get("status") == 401, ev.raw

    # The user stream of a read:statuses token carries no notifications (Mastodon: they need
    # read or read:notifications); its statuses do arrive.
    user_stream = sse(statuses_only, "stream_user", name="user with read:statuses")
    other = make_user("follower")
    other.api.account_follow(user.id)
    own = user.api.status_post(text("control"), visibility="private")
    user_stream.wait(is_status("update", own["id"]), "own status (control)")
    wait_for(lambda: any(n["type"] == "follow" for n in user.api.notifications()), "the follow notification exists")
    user_stream.assert_absent(lambda e: e.event == "notification", "a notification without read:notifications")

    # read:notifications alone opens user:notification.
    notifications_only = sign_in_user(
        server, app, user.username, user.password, email=user.email, scopes=["read:notifications"]
    )
    status, body, _ = sse_status(server, "/api/v1/streaming/user/notification", notifications_only)
    assert status == 200, f"user:notification with read:notifications: {status} {body}"


def test_unknown_sse_channel_is_400(server: Server, make_user):
    user = make_user("unknown")
    for path in ("/api/v1/streaming/nonexistent", "/api/v1/streaming/public/elsewhere", "/api/v1/streaming/user/x"):
        status, body, response = sse_status(server, path, user.token)
        assert status == 400, f"GET {path}: {status} {body}"
        assert body == {"error": "Unknown channel requested"}, body


def test_unknown_sse_channel_is_400_before_authentication(server: Server):
    """Mastodon's authenticationMiddleware rejects an unknown channel before it looks for a token."""
    status, body, _ = sse_status(server, "/api/v1/streaming/nonexistent")
    assert status == 400, f"GET /api/v1/streaming/nonexistent without a token: {status} {body}"
    assert body == {"error": "Unknown channel requested"}, body


def test_hashtag_sse_without_tag_is_400(server: Server, make_user):
    user = make_user("notag")
    for path in ("/api/v1/streaming/hashtag", "/api/v1/streaming/hashtag/local"):
        status, body, _ = sse_status(server, path, user.token)
        # Mastodon 4.2 answered 404 Not found here, later versions 400.
        assert status in (400, 404), f"{path} without tag: {status} {body}"
        assert isinstance(body, dict) and isinstance(body.get("error"), str), body


# --------------------------------------------------------------------------------------------
# 4. Filtering
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("relation", ["block", "blocked_by", "mute"])
def test_blocked_and_muted_accounts_are_filtered_from_public_streams(make_user, sse, ws, relation):
    viewer = make_user("viewer")
    other = make_user("other")
    third = make_user("third")
    tag = unique("filt")
    streams = [
        sse(viewer, "stream_local", name="viewer public:local"),
        sse(viewer, "stream_public", name="viewer public"),
        sse(viewer, "stream_hashtag", tag, name="viewer hashtag"),
    ]
    socket = ws(viewer, name="viewer public:local + hashtag", stream="public:local")
    socket.subscribe("hashtag", tag=tag)
    streams.append(socket)
    witness = ws(third, name="witness public:local", stream="public:local")

    def hidden_then_control(hidden_posts: list[Any], what: str) -> None:
        for h in hidden_posts:
            witness.wait(is_status("update", h["id"]), "the hidden status, on the witness' stream")
        control = third.api.status_post(text("control", tag), visibility="public")
        for s in streams:
            s.wait(is_status("update", control["id"]), "the control status")
            for h in hidden_posts:
                s.assert_absent(mentions_status(h["id"]), what)

    # Before: the other account's posts arrive.
    before = other.api.status_post(text("before", tag), visibility="public")
    for s in streams:
        s.wait(is_status("update", before["id"]), "a status before the relation", timeout=ARRIVAL_S)

    if relation == "block":
        viewer.api.account_block(other.id)
    elif relation == "blocked_by":
        other.api.account_block(viewer.id)
    else:
        viewer.api.account_mute(other.id)

    hidden = [other.api.status_post(text(f"hidden ({relation})", tag), visibility="public")]
    if relation in ("block", "mute"):
        # A status mentioning a blocked or muted account is hidden too.
        hidden.append(third.api.status_post(text(f"@{other.username} mention ({relation})", tag), visibility="public"))
    hidden_then_control(hidden, f"a status of/mentioning an account with relation {relation}")

    # A connection opened while the relation exists hides them as well.
    fresh = sse(viewer, "stream_local", name="viewer public:local (opened after)")
    streams.append(fresh)
    later = other.api.status_post(text(f"hidden later ({relation})", tag), visibility="public")
    hidden_then_control([later], f"a later status of an account with relation {relation}")

    if relation == "block":
        viewer.api.account_unblock(other.id)
    elif relation == "blocked_by":
        other.api.account_unblock(viewer.id)
    else:
        viewer.api.account_unmute(other.id)

    start = time.monotonic()
    after = other.api.status_post(text("after", tag), visibility="public")
    for s in streams:
        ev = s.wait(is_status("update", after["id"]), f"a status after the {relation} was undone", timeout=ARRIVAL_S)
        arrived_within(ev, start)


def test_relation_changes_apply_while_the_client_sends_messages(make_user, ws):
    """A block or unblock must reach a WebSocket's filter even while its client keeps sending
    (here: unsubscribes from a stream it does not have, which the server answers with nothing).

    With a correct server this passes every time; a server that loses a filter reload when a
    client message arrives during it fails within a few rounds.
    """
    viewer = make_user("busy")
    other = make_user("busyo")
    third = make_user("busyt")
    conn = ws(viewer, stream="public:local")
    witness = ws(third, name="witness", stream="public:local")
    stop = threading.Event()

    def chatter() -> None:
        message = json.dumps({"type": "unsubscribe", "stream": "user"})
        while not stop.is_set():
            try:
                conn.conn.send(message)
            except Exception:  # noqa: BLE001 - the socket closed: the test reports it
                return

    sender = threading.Thread(target=chatter, daemon=True)
    sender.start()
    try:
        for round_ in range(15):
            viewer.api.account_block(other.id)
            hidden = other.api.status_post(text(f"hidden {round_}"), visibility="public")
            witness.wait(is_status("update", hidden["id"]), "the hidden status (witness)")
            control = third.api.status_post(text(f"control {round_}"), visibility="public")
            conn.wait(is_status("update", control["id"]), f"the control status (round {round_})")
            conn.assert_absent(mentions_status(hidden["id"]), f"a status of a blocked account (round {round_})")

            viewer.api.account_unblock(other.id)
            shown = other.api.status_post(text(f"shown {round_}"), visibility="public")
            # Once the witness has it, it was published: the viewer must get it promptly.
            witness.wait(is_status("update", shown["id"]), "the shown status (witness)")
            conn.wait(is_status("update", shown["id"]), f"a status after unblocking (round {round_})", timeout=ARRIVAL_S)
    finally:
        stop.set()
        sender.join(2)
    assert not conn.closed.is_set(), conn.describe()


def test_private_posts_reach_followers_only(make_user, sse, ws):
    author = make_user("priv")
    follower = make_user("privf")
    stranger = make_user("privs")
    assert follower.api.account_follow(author.id)["following"] is True
    tag = unique("privtag")
    follower_home = sse(follower, "stream_user", name="follower user")
    stranger_home = sse(stranger, "stream_user", name="stranger user")
    publics = [
        sse(stranger, "stream_public", name="stranger public"),
        sse(stranger, "stream_local", name="stranger public:local"),
        sse(stranger, "stream_hashtag", tag, name="stranger hashtag"),
        sse(follower, "stream_local", name="follower public:local"),
    ]
    follower_socket = ws(follower, name="follower public + hashtag", stream="public")
    follower_socket.subscribe("hashtag", tag=tag)
    publics.append(follower_socket)

    start = time.monotonic()
    private = author.api.status_post(text("followers only", tag), visibility="private")
    ev = follower_home.wait(is_status("update", private["id"]), "the followers-only status", timeout=ARRIVAL_S)
    arrived_within(ev, start)
    assert ev.payload["visibility"] == "private"

    # Controls, posted after the private status was published.
    own = stranger.api.status_post(text("stranger's own"), visibility="private")
    stranger_home.wait(is_status("update", own["id"]), "the stranger's own status (control)")
    stranger_home.assert_absent(mentions_status(private["id"]), "a followers-only status of an account not followed")
    control = author.api.status_post(text("public control", tag), visibility="public")
    for s in publics:
        s.wait(is_status("update", control["id"]), "the public control status")
        s.assert_absent(mentions_status(private["id"]), "a followers-only status on a public stream")

    # Deleting it tells the follower.
    author.api.status_delete(private["id"])
    follower_home.wait(is_delete(private["id"]), "delete of the followers-only status", timeout=ARRIVAL_S)


def test_direct_message_arrives_as_conversation(make_user, sse, ws):
    sender = make_user("dmsend")
    recipient = make_user("dmrecv")
    direct = sse(recipient, "stream_direct", name="recipient direct")
    sender_direct = sse(sender, "stream_direct", name="sender direct")
    socket = ws(recipient, name="recipient direct + public:local", stream="direct")
    socket.subscribe("public:local")

    start = time.monotonic()
    dm = sender.api.status_post(f"@{recipient.username} {text('psst')}", visibility="direct")
    sid = str(dm["id"])
    is_conversation = lambda e: (  # noqa: E731
        e.event == "conversation" and isinstance(e.payload, dict) and str(e.payload["last_status"]["id"]) == sid
    )
    ev = direct.wait(is_conversation, "conversation for the direct message", timeout=ARRIVAL_S)
    arrived_within(ev, start)
    assert [str(a["id"]) for a in ev.payload["accounts"]] == [sender.id], ev.payload
    assert ev.payload["unread"] is True
    assert ev.payload["last_status"]["visibility"] == "direct"
    assert ev.payload["id"], ev.payload

    ev = socket.wait(is_conversation, "conversation on the WebSocket", timeout=ARRIVAL_S)
    assert ev.stream == ["direct"]

    ev = sender_direct.wait(is_conversation, "conversation on the sender's direct stream", timeout=ARRIVAL_S)
    assert [str(a["id"]) for a in ev.payload["accounts"]] == [recipient.id], ev.payload
    assert ev.payload["unread"] is False, "the sender has read their own message"

    # Not on public streams.
    control = sender.api.status_post(text("public control"), visibility="public")
    socket.wait(is_status("update", control["id"]), "the public control status")
    socket.assert_absent(lambda e: e.stream == ["public:local"] and mentions_status(sid)(e), "a direct message on public:local")
    # The control is public: not a conversation.
    direct.assert_absent(lambda e: e.event == "conversation" and mentions_status(control["id"])(e), "a public status as a conversation")


# --------------------------------------------------------------------------------------------
# 5. Instance documents
# --------------------------------------------------------------------------------------------


def test_instance_documents_point_at_the_streaming_server(server: Server, make_user, sse, closing):
    v1 = server.http().get("/api/v1/instance")
    assert v1.status_code == 200, describe(v1)
    v2 = server.http().get("/api/v2/instance")
    assert v2.status_code == 200, describe(v2)
    expected = f"ws://{server.domain}"  # LOCAL_HTTPS is false for localhost
    assert v1.json()["urls"]["streaming_api"] == expected, v1.json()["urls"]
    assert v2.json()["configuration"]["urls"]["streaming"] == expected, v2.json()["configuration"]["urls"]

    # Mastodon.py derives its streaming URLs from the instance document and connects with them.
    viewer = make_user("inst")
    api = streaming_api(server, viewer.token)
    assert api._Mastodon__get_streaming_base() == server.base_url  # ws://host -> http://host
    ws_url = api._Mastodon__get_streaming_websocket_url()
    assert ws_url == f"ws://{server.domain}/api/v1/streaming"
    assert api.stream_healthy() is True

    stream = sse(viewer, "stream_local")
    conn = ws_connect(
        ws_url + "?stream=public:local", additional_headers={"Authorization": f"Bearer {viewer.token}"},
        open_timeout=WAIT_S,
        close_timeout=1,
        legacy=True,
    )
    socket = Ws("from the instance URL", conn)
    closing(socket)
    socket.barrier()
    status = viewer.api.status_post(text("via the advertised URL"), visibility="public")
    stream.wait(is_status("update", status["id"]), "update over SSE", timeout=ARRIVAL_S)
    socket.wait(is_status("update", status["id"]), "update over the WebSocket", timeout=ARRIVAL_S)


# --------------------------------------------------------------------------------------------
# 6. Revocation
# --------------------------------------------------------------------------------------------


def test_revoking_a_token_closes_its_connections(server: Server, app: App, make_user, ws, sse):
    user = make_user("revoked")
    other_token = sign_in_user(server, app, user.username, user.password, email=user.email)
    socket = ws(user, stream="public:local")
    stream = sse(user, "stream_user")
    survivor = ws(other_token, name="another token of the same user", stream="public:local")

    response = server.http().post(
        "/oauth/revoke",
        data={"client_id": app.client_id, "client_secret": app.client_secret, "token": user.token},
    )
    assert response.status_code == 200, describe(response)

    assert socket.closed.wait(WAIT_S), f"the WebSocket stayed open after its token was revoked\n{socket.describe()}"
    wait_for(lambda: not stream.handle.is_alive(), "the SSE stream ends after its token was revoked", timeout=WAIT_S, interval=0.05)

    # The user's other token still streams.
    other_api = server.client(access_token=other_token)
    status = other_api.status_post(text("still here"), visibility="public")
    survivor.wait(is_status("update", status["id"]), "update on the connection of the other token", timeout=ARRIVAL_S)
    assert not survivor.closed.is_set()

    # And the revoked token cannot connect again.
    status_code, body, _ = sse_status(server, "/api/v1/streaming/user", user.token)
    assert status_code == 401, body
    status_code, body = ws_refused(server, user.token, stream="public:local")
    assert status_code == 401, body

    # Mastodon closes the socket normally (spec/system/streaming: close code 1000).
    assert socket.close_code == 1000, f"close code of the revoked token's WebSocket: {socket.close_code}, expected 1000"


# --------------------------------------------------------------------------------------------
# Custom filters (v2): applied per connection in the stream's context
# --------------------------------------------------------------------------------------------


def test_custom_filters_hide_or_mark_statuses_in_their_context(make_user, sse, ws):
    author = make_user("fauthor")
    viewer = make_user("fviewer")
    witness = make_user("fwitness")
    assert viewer.api.account_follow(author.id)["following"] is True
    hide_word, warn_word, home_word = unique("hideme"), unique("warnme"), unique("homeonly")
    public = sse(viewer, "stream_local", name="viewer public:local")
    home = sse(viewer, "stream_user", name="viewer user")
    socket = ws(viewer, name="viewer user (WebSocket)", stream="user")
    seen = sse(witness, "stream_local", name="witness public:local")

    # Created while the streams are open: they reload, and the user stream is told.
    viewer.api.create_filter_v2("Hide", ["public", "home"], "hide", keywords_attributes=[{"keyword": hide_word}])
    warn = viewer.api.create_filter_v2("Warn", ["public"], "warn", keywords_attributes=[{"keyword": warn_word}])
    viewer.api.create_filter_v2("Home", ["home"], "warn", keywords_attributes=[{"keyword": home_word}])
    changed = socket.wait_all(lambda e: e.event == "filters_changed", 3, "filters_changed for each new filter")
    assert all(e.raw.get("payload") in (None, "") for e in changed), [e.raw for e in changed]

    hidden = author.api.status_post(text(f"now {hide_word}"), visibility="public")
    marked = author.api.status_post(text(f"now {warn_word}"), visibility="public")
    home_only = author.api.status_post(text(f"now {home_word}"), visibility="public")
    # The witness (no filters) gets every status, unmarked; then a control status follows them.
    for s in (hidden, marked, home_only):
        ev = seen.wait(is_status("update", s["id"]), "a status on the witness' stream", timeout=ARRIVAL_S)
        assert ev.payload.get("filtered") in (None, []), ev.payload
    control = author.api.status_post(text("control"), visibility="public")

    for stream in (public, home, socket):
        stream.wait(is_status("update", control["id"]), f"the control status on {stream.name}")
        stream.assert_absent(mentions_status(hidden["id"]), "a status a hide filter matches")

    on_public = public.wait(is_status("update", marked["id"]), "the warned status on public:local").payload
    assert [r["filter"]["id"] for r in on_public["filtered"]] == [warn["id"]], on_public["filtered"]
    assert on_public["filtered"][0]["keyword_matches"] == [warn_word]
    # The user stream carries what the viewer's REST API shows (every matching filter, with its
    # context for the client to check), as Mastodon renders home statuses for their reader.
    home.wait(is_status("update", marked["id"]), "the warned status on user")
    on_home = home.wait(is_status("update", home_only["id"]), "the home-filtered status on user").payload
    assert [r["keyword_matches"] for r in on_home["filtered"]] == [[home_word]], on_home["filtered"]
    plain = public.wait(is_status("update", home_only["id"]), "the home-filtered status on public:local").payload
    assert plain.get("filtered") in (None, []), plain

    # Deleted: the next status with the word arrives again.
    for f in viewer.api.filters_v2():
        viewer.api.delete_filter_v2(f["id"])
    again = author.api.status_post(text(f"again {hide_word}"), visibility="public")
    public.wait(is_status("update", again["id"]), "a status after the hide filter was deleted", timeout=ARRIVAL_S)


# --------------------------------------------------------------------------------------------
# Lists
# --------------------------------------------------------------------------------------------


def test_a_list_stream_gets_its_members_posts_and_is_its_owners_only(server: Server, make_user, sse, ws):
    owner = make_user("lsowner")
    member, outsider, nosy = make_user("lsmember"), make_user("lsout"), make_user("lsnosy")
    owner.api.account_follow(member.id)
    owner.api.account_follow(outsider.id)
    lst = owner.api.list_create("Streamed")
    owner.api.list_accounts_add(lst["id"], [member.id])
    over_sse = sse(owner, "stream_list", lst["id"], name="owner list (SSE)")
    socket = ws(owner, name="owner list (WebSocket)", stream="list", list=str(lst["id"]))

    home = sse(owner, "stream_user", name="owner user")
    start = time.monotonic()
    post = member.api.status_post(text("for the list"), visibility="private")
    outside = outsider.api.status_post(text("not a member"), visibility="public")
    home.wait(is_status("update", outside["id"]), "the outsider's post, on the owner's home stream")
    for stream in (over_sse, socket):
        ev = stream.wait(is_status("update", post["id"]), f"the member's post on {stream.name}", timeout=ARRIVAL_S)
        arrived_within(ev, start)
    assert socket.wait(is_status("update", post["id"]), "the member's post").stream == ["list", str(lst["id"])]
    member.api.status_delete(post["id"])
    control = member.api.status_post(text("control"), visibility="public")
    for stream in (over_sse, socket):
        stream.wait(is_delete(post["id"]), f"the delete on {stream.name}", timeout=ARRIVAL_S)
        stream.wait(is_status("update", control["id"]), f"the control on {stream.name}")
        stream.assert_absent(mentions_status(outside["id"]), "a post of an account not in the list")

    # Someone else's list is not found.
    status, body, _ = sse_status(server, "/api/v1/streaming/list", nosy.token, list=str(lst["id"]))
    assert status == 404 and body == {"error": "List not found"}, (status, body)


def test_a_follows_languages_apply_to_the_user_stream(make_user, sse):
    reader, author = make_user("slreader"), make_user("slauthor")
    response = reader.http.post(f"/api/v1/accounts/{author.id}/follow", data={"languages[]": ["de"]})
    assert response.status_code == 200 and response.json()["languages"] == ["de"], response.text
    witness = make_user("slwitness")
    witness.api.account_follow(author.id)
    home = sse(reader, "stream_user")
    seen = sse(witness, "stream_user", name="witness user")
    english = author.api.status_post(text("Hello"), language="en", visibility="public")
    seen.wait(is_status("update", english["id"]), "the English post, on the witness' stream", timeout=ARRIVAL_S)
    german = author.api.status_post(text("Hallo"), language="de", visibility="public")
    home.wait(is_status("update", german["id"]), "the German post (control)", timeout=ARRIVAL_S)
    home.assert_absent(mentions_status(english["id"]), "a post in a language the follow does not take")
