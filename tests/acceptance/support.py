"""Harness for the acceptance suite: runs the real ferrodon binary and drives it like a client would.

Nothing here knows how ferrodon works inside. It only uses the contract the binary promises:

* ``$FERRODON_BIN serve`` with FERRODON_DATA_DIR, BIND, PORT, LOCAL_DOMAIN (and DATABASE_URL for
  PostgreSQL after ``$FERRODON_BIN migrate``), ready when ``GET /health`` answers 200;
* ``$FERRODON_BIN accounts create NAME --email E --confirmed [--role R]`` printing
  ``New password: <password>``, and ``$FERRODON_BIN accounts modify NAME --confirm``;
* Mastodon's OAuth flow through server-rendered HTML forms (sign-in page, consent page).

Every response to ``/api/*`` (and to the OAuth JSON endpoints) that goes through a session made
here is checked against Mastodon's OpenAPI description, see :class:`OpenApiValidator`.
"""

from __future__ import annotations

import base64
import builtins
import dataclasses
import hashlib
import html.parser
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
from pathlib import Path
from typing import Any, Callable, Iterable, Optional, Sequence

import requests
from mastodon import Mastodon

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
DEFAULT_OPENAPI_PATH = REPO_ROOT.parent / "shared" / "reference" / "openapi" / "mastodon-openapi.json"

OOB = "urn:ietf:wg:oauth:2.0:oob"
# Nothing listens there: the test never follows this redirect, it only reads the Location header.
CALLBACK = "http://127.0.0.1:9/callback"
SCOPES = ["read", "write", "follow", "push"]
APP_NAME = "ferrodon acceptance"
APP_WEBSITE = "https://example.test/acceptance"

READY_TIMEOUT_S = 60.0
CLI_TIMEOUT_S = 120.0
HTTP_TIMEOUT_S = 30.0
# How long to wait for effects that Mastodon applies asynchronously (home feed fan-out,
# notifications, search indexing).
EVENTUAL_TIMEOUT_S = 15.0


def unique(prefix: str) -> str:
    """A fresh, valid Mastodon username (``[a-z0-9_]``, at most 30 characters)."""
    name = f"{prefix}{secrets.token_hex(4)}"
    assert re.fullmatch(r"[a-z0-9_]{1,30}", name), name
    return name


def wait_for(predicate: Callable[[], Any], message: str, timeout: float = EVENTUAL_TIMEOUT_S, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for: {message} (last value: {value!r})")
        time.sleep(interval)


def ids(items: Iterable[Any]) -> list[str]:
    return [str(item["id"]) for item in items]


def id_sort_key(value: Any) -> tuple[int, str]:
    """Mastodon's documented id order: a longer id is newer, then lexical order."""
    text = str(value)
    return (len(text), text)


def pkce_pair() -> tuple[str, str]:
    verifier = base64.urlsafe_b64encode(secrets.token_bytes(48)).rstrip(b"=").decode()
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tail(path: Path, lines: int = 80) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"<cannot read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# OpenAPI validation of every response
# --------------------------------------------------------------------------------------------

# Places where the OpenAPI description (generated from Mastodon's prose documentation) is wrong
# about what real Mastodon answers. Key: (HTTP method, path template as written in the spec, a
# substring of the validation message). Value: why real Mastodon differs, with a pointer.
# Keep it empty unless a difference with real Mastodon is shown; never add an entry only because
# ferrodon fails.
OPENAPI_ALLOWLIST: dict[tuple[str, str, str], str] = {
    ("GET", "/api/v1/filters", 'is not of type "object"'): (
        "Mastodon answers an array of V1::Filter (Api::V1::FiltersController#index renders "
        "@filters with each_serializer; the method page says 'Returns: Array of V1::Filter'); "
        "the description's schema is a single V1Filter"
    ),
}

# Responses to these paths are validated. /api/* is the client API; the OAuth JSON endpoints are
# described in the same document, so they are checked too.
_EXCEPTION_GROUP = getattr(builtins, "BaseExceptionGroup", ())

VALIDATED_PREFIXES = ("/api/", "/oauth/token", "/oauth/revoke", "/.well-known/oauth-authorization-server")


class OpenApiValidator:
    """Checks responses against Mastodon's OpenAPI description with schemathesis.

    Used as a ``requests`` response hook, so it sees exactly what Mastodon.py sees. A failure
    cannot be raised from the hook (Mastodon.py turns any exception raised inside
    ``Session.request`` into ``MastodonNetworkError``), so failures are collected and the
    pytest hooks in conftest.py fail the running test with them.
    """

    def __init__(self, spec_path: Path):
        import schemathesis  # imported here so that collection does not need the spec

        self.spec_path = spec_path
        self.schema = schemathesis.openapi.from_path(str(spec_path))
        paths = self.schema.raw_schema["paths"]
        self._templates: list[tuple[re.Pattern[str], tuple[bool, ...], str, set[str]]] = []
        for template, operations in paths.items():
            segments = template.strip("/").split("/")
            literal = tuple(not (seg.startswith("{") and seg.endswith("}")) for seg in segments)
            pattern = "^/" + "/".join(re.escape(seg) if lit else "[^/]+" for seg, lit in zip(segments, literal)) + "$"
            methods = {m.upper() for m in operations if m.lower() in {"get", "post", "put", "patch", "delete"}}
            self._templates.append((re.compile(pattern), literal, template, methods))
        self.failures: list[str] = []
        self.checked = 0
        self.undocumented: set[str] = set()

    def template_for(self, method: str, path: str) -> Optional[str]:
        candidates = [
            (literal, template)
            for pattern, literal, template, methods in self._templates
            if method in methods and pattern.match(path)
        ]
        if not candidates:
            return None
        # Prefer literal segments over parameters, left to right: /accounts/lookup beats /accounts/{id}.
        candidates.sort(key=lambda c: c[0], reverse=True)
        return candidates[0][1]

    def hook(self, response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        try:
            self._check(response)
        except Exception as exc:  # never let the validator break the request itself
            self.failures.append(f"{response.request.method} {response.url}: validator error {exc!r}")
        return response

    def _record(self, method: str, template: str, response: requests.Response, message: str) -> None:
        for (a_method, a_template, fragment), _reason in OPENAPI_ALLOWLIST.items():
            if a_method == method and a_template == template and fragment in message:
                return
        body = response.text[:600]
        self.failures.append(
            f"{method} {response.url} (spec path {template}) -> HTTP {response.status_code}\n"
            f"{message.strip()}\n--- response body (start) ---\n{body}"
        )

    def _check(self, response: requests.Response) -> None:
        request = response.request
        method = (request.method or "GET").upper()
        path = urllib.parse.urlsplit(response.url).path
        if not path.startswith(VALIDATED_PREFIXES):
            return
        normalized = path.rstrip("/") or "/"  # Mastodon.py asks for /api/v1/instance/ with a slash
        template = self.template_for(method, normalized)
        if template is None:
            self.undocumented.add(f"{method} {normalized}")
            return
        self.checked += 1
        if path.startswith("/api/"):
            # Mastodon answers JSON on every API route, errors included (an empty result is `{}`).
            content_type = response.headers.get("Content-Type", "")
            if "json" not in content_type.lower():
                self._record(method, template, response, f"Content-Type is {content_type!r}, expected application/json")
                return
            try:
                response.json()
            except ValueError:
                self._record(method, template, response, "body is not JSON")
                return
        try:
            self.schema[template][method].validate_response(response)
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # schemathesis raises AssertionError subclasses and groups of them
            parts = [exc]
            if isinstance(exc, _EXCEPTION_GROUP):
                parts = list(exc.exceptions)
            for part in parts:
                self._record(method, template, response, str(part) or repr(part))

    def drain(self) -> list[str]:
        failures, self.failures = self.failures, []
        return failures


# --------------------------------------------------------------------------------------------
# HTML forms (the OAuth pages are plain server-rendered HTML)
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str]]
    submits: list[tuple[str, str]]

    @property
    def action_path(self) -> str:
        return urllib.parse.urlsplit(self.action).path

    def get(self, name: str) -> Optional[str]:
        for key, value in self.fields:
            if key == name:
                return value
        return None

    def field_names(self) -> set[str]:
        return {key for key, _ in self.fields}

    def data(self, overrides: Optional[dict[str, str]] = None, drop: Iterable[str] = ()) -> list[tuple[str, str]]:
        """What a browser would send: every successful control, plus the first named submit button."""
        overrides = dict(overrides or {})
        dropped = set(drop)
        out: list[tuple[str, str]] = []
        for key, value in self.fields:
            if key in dropped:
                continue
            if key in overrides:
                out.append((key, overrides.pop(key)))
            else:
                out.append((key, value))
        out.extend(overrides.items())
        if self.submits:
            out.append(self.submits[0])
        return out


class _PageParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self.oauth_codes: list[str] = []
        self._form: Optional[Form] = None
        self._textarea: Optional[list[str]] = None
        self._textarea_name: Optional[str] = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        a = {k.lower(): (v if v is not None else "") for k, v in attrs}
        if tag == "form":
            self._form = Form(action=a.get("action", ""), method=(a.get("method") or "get").lower(), fields=[], submits=[])
            self.forms.append(self._form)
            return
        if tag == "input":
            if "oauth-code" in a.get("class", "").split():
                self.oauth_codes.append(a.get("value", ""))
            if self._form is None:
                return
            name = a.get("name")
            kind = a.get("type", "text").lower()
            if kind in ("submit", "image"):
                if name:
                    self._form.submits.append((name, a.get("value", "")))
                return
            if kind in ("button", "reset", "file") or not name:
                return
            if kind in ("checkbox", "radio") and "checked" not in a:
                return
            default = "on" if kind in ("checkbox", "radio") else ""
            self._form.fields.append((name, a.get("value", default)))
        elif tag == "button" and self._form is not None:
            if a.get("type", "submit").lower() == "submit" and a.get("name"):
                self._form.submits.append((a["name"], a.get("value", "")))
        elif tag == "textarea" and self._form is not None and a.get("name"):
            self._textarea = []
            self._textarea_name = a["name"]

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            self._form.fields.append((self._textarea_name or "", "".join(self._textarea)))
            self._textarea = None


@dataclasses.dataclass
class Page:
    forms: list[Form]
    oauth_codes: list[str]

    @classmethod
    def parse(cls, text: str) -> "Page":
        parser = _PageParser()
        parser.feed(text)
        parser.close()
        return cls(forms=parser.forms, oauth_codes=parser.oauth_codes)

    def post_forms(self, action_path: str) -> list[Form]:
        return [f for f in self.forms if f.method == "post" and f.action_path == action_path]


def describe(response: requests.Response) -> str:
    return (
        f"{response.request.method} {response.url} -> {response.status_code} "
        f"Location={response.headers.get('Location')!r}\n{response.text[:1500]}"
    )


def is_redirect(response: requests.Response) -> bool:
    return response.status_code in (301, 302, 303, 307, 308) and "Location" in response.headers


# --------------------------------------------------------------------------------------------
# The server under test
# --------------------------------------------------------------------------------------------


class Server:
    """One running ``ferrodon serve`` on loopback, with its own data directory and database.

    ``role`` runs another role instead (``web``, ``streaming``, ``worker …``); ``health`` is
    the path answered once it is ready (``None`` for a role without HTTP).
    """

    def __init__(
        self,
        binary: str,
        engine: str,
        workdir: Path,
        validator: OpenApiValidator,
        database_url: Optional[str] = None,
        host: str = "localhost",
        extra_env: Optional[dict[str, str]] = None,
        role: Sequence[str] = ("serve",),
        health: Optional[str] = "/health",
    ):
        self.role = list(role)
        self.health = health
        self.binary = binary
        self.engine = engine
        self.workdir = workdir
        self.validator = validator
        self.database_url = database_url
        self.host = host
        self.extra_env = extra_env or {}
        self.port = free_port()
        self.domain = f"{host}:{self.port}"
        self.base_url = f"http://{host}:{self.port}"
        self.data_dir = workdir / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.stdout_log = workdir / "server.stdout.log"
        self.stderr_log = workdir / "server.stderr.log"
        self.process: Optional[subprocess.Popen[bytes]] = None

    # -- environment and processes ------------------------------------------------------------

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL" and not k.startswith("DB_")}
        env.update(
            FERRODON_DATA_DIR=str(self.data_dir),
            BIND="127.0.0.1" if self.host == "localhost" else self.host,
            PORT=str(self.port),
            LOCAL_DOMAIN=self.domain,
        )
        env.update(self.extra_env)
        if self.database_url:
            env["DATABASE_URL"] = self.database_url
        return env

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        proc = subprocess.run(
            [self.binary, *args],
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_S,
            stdin=subprocess.DEVNULL,
        )
        if check and proc.returncode != 0:
            raise AssertionError(
                f"`ferrodon {' '.join(args)}` exited {proc.returncode}\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
            )
        return proc

    def log_tail(self, lines: int = 80) -> str:
        return (
            f"--- ferrodon stderr ({self.stderr_log}) ---\n{tail(self.stderr_log, lines)}\n"
            f"--- ferrodon stdout ({self.stdout_log}) ---\n{tail(self.stdout_log, lines // 4)}"
        )

    def start(self) -> None:
        if self.engine == "postgres":
            self.cli("migrate")
        with open(self.stdout_log, "ab") as out, open(self.stderr_log, "ab") as err:
            self.process = subprocess.Popen(
                [self.binary, *self.role],
                env=self.env(),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        last_error = "no answer yet"
        name = f"ferrodon {' '.join(self.role)} ({self.engine})"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{name} exited with {self.process.returncode} before it was ready\n" + self.log_tail()
                )
            if self.health is None:
                return
            try:
                response = requests.get(f"{self.base_url}{self.health}", timeout=2)
                if response.status_code == 200:
                    return
                last_error = f"GET /health -> {response.status_code}"
            except requests.RequestException as exc:
                last_error = repr(exc)
            time.sleep(0.25)
        self.stop()
        raise RuntimeError(
            f"{name} was not ready within {READY_TIMEOUT_S:.0f}s ({last_error})\n" + self.log_tail()
        )

    def died(self) -> bool:
        return self.process is not None and self.process.poll() is not None

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    # -- accounts through the CLI -------------------------------------------------------------

    def create_account(self, username: str, email: Optional[str] = None, role: Optional[str] = None) -> str:
        args = ["accounts", "create", username, "--email", email or f"{username}@example.test", "--confirmed"]
        if role:
            args += ["--role", role]
        proc = self.cli(*args)
        match = re.search(r"New password:\s*(\S+)", proc.stdout + "\n" + proc.stderr)
        if not match:
            raise AssertionError(
                f"`ferrodon {' '.join(args)}` printed no 'New password: ...' line\n"
                f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
            )
        return match.group(1)

    def confirm_account(self, username: str) -> None:
        self.cli("accounts", "modify", username, "--confirm")

    # -- HTTP clients ---------------------------------------------------------------------------

    def session(self) -> requests.Session:
        """A requests session whose responses are validated against the OpenAPI description."""
        session = requests.Session()
        session.hooks["response"].append(self.validator.hook)
        return session

    def url(self, path: str) -> str:
        return self.base_url + path

    def client(self, access_token: Optional[str] = None, client_id: Optional[str] = None, client_secret: Optional[str] = None) -> Mastodon:
        return Mastodon(
            client_id=client_id,
            client_secret=client_secret,
            access_token=access_token,
            api_base_url=self.base_url,
            session=self.session(),
            version_check_mode="none",
            ratelimit_method="throw",
            request_timeout=HTTP_TIMEOUT_S,
        )

    def http(self, token: Optional[str] = None) -> "Http":
        return Http(self, token)


class Http:
    """Plain HTTP against the server (for what Mastodon.py hides: status codes, raw bodies)."""

    def __init__(self, server: Server, token: Optional[str]):
        self.server = server
        self.session = server.session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", HTTP_TIMEOUT_S)
        kwargs.setdefault("allow_redirects", False)
        return self.session.request(method, self.server.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", path, **kwargs)


def assert_error(response: requests.Response, *statuses: int, message: Optional[str] = None) -> dict[str, Any]:
    """Assert a Mastodon-style error: one of ``statuses`` and a JSON body ``{"error": "<text>"}``."""
    assert response.status_code in statuses, f"expected HTTP {statuses}, got {describe(response)}"
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(f"error body is not JSON: {describe(response)}") from None
    assert isinstance(body, dict) and isinstance(body.get("error"), str) and body["error"], (
        f"error body is not {{'error': '<text>'}}: {body!r}"
    )
    if message is not None:
        assert body["error"] == message, f"error text {body['error']!r}, expected {message!r}"
    return body


# --------------------------------------------------------------------------------------------
# PostgreSQL throwaway databases (psql only, no Python driver)
# --------------------------------------------------------------------------------------------


def psql(admin_url: str, sql: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("psql") is None:
        raise RuntimeError("psql is not on PATH; it is needed to create the PostgreSQL test database")
    return subprocess.run(
        ["psql", admin_url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-c", sql],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


def database_url_for(admin_url: str, database: str) -> str:
    parts = urllib.parse.urlsplit(admin_url)
    return urllib.parse.urlunsplit(parts._replace(path="/" + database))


def create_database(admin_url: str) -> tuple[str, str]:
    name = f"ferrodon_acc_{secrets.token_hex(6)}"
    proc = psql(admin_url, f'CREATE DATABASE "{name}"')
    if proc.returncode != 0:
        raise RuntimeError(f"could not create database {name} through TEST_DATABASE_URL:\n{proc.stdout}{proc.stderr}")
    return name, database_url_for(admin_url, name)


def drop_database(admin_url: str, name: str) -> None:
    proc = psql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if proc.returncode != 0:  # servers before PostgreSQL 13 have no FORCE
        proc = psql(admin_url, f'DROP DATABASE IF EXISTS "{name}"')
    if proc.returncode != 0:
        raise RuntimeError(f"could not drop database {name}:\n{proc.stdout}{proc.stderr}")


# --------------------------------------------------------------------------------------------
# OAuth as a browser does it
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class App:
    client_id: str
    client_secret: str
    name: str = APP_NAME


@dataclasses.dataclass
class Authorization:
    """The outcome of submitting the consent page."""

    location: str  # Location header of the answer to the consent form
    code: Optional[str]
    state: Optional[str]
    error: Optional[str]
    browser: requests.Session
    consent_page: str
    approve_form: Form
    deny_form: Optional[Form]


class Browser:
    """A cookie-keeping HTTP client that signs in and answers the consent page like a person would."""

    def __init__(self, server: Server):
        self.server = server
        self.session = requests.Session()  # HTML pages: not part of the OpenAPI description

    def absolute(self, base: str, location: str) -> str:
        return urllib.parse.urljoin(base, location)

    def get(self, url: str) -> requests.Response:
        return self.session.get(url, allow_redirects=False, timeout=HTTP_TIMEOUT_S)

    def submit(self, page_url: str, form: Form, data: list[tuple[str, str]]) -> requests.Response:
        target = self.absolute(page_url, form.action or page_url)
        return self.session.post(target, data=data, allow_redirects=False, timeout=HTTP_TIMEOUT_S)

    def sign_in_page(self, url: str) -> tuple[requests.Response, Form]:
        response = self.get(url)
        assert response.status_code == 200, f"sign-in page: {describe(response)}"
        forms = Page.parse(response.text).post_forms("/auth/sign_in")
        assert forms, f"no <form method=post action=/auth/sign_in> on the sign-in page: {describe(response)}"
        form = forms[0]
        names = form.field_names()
        for required in ("authenticity_token", "user[email]", "user[password]"):
            assert required in names, f"sign-in form lacks input {required!r}; inputs: {sorted(names)}"
        return response, form

    def sign_in(self, sign_in_url: str, email: str, password: str) -> requests.Response:
        page, form = self.sign_in_page(sign_in_url)
        return self.submit(page.url, form, form.data({"user[email]": email, "user[password]": password}))

    def open_authorize(self, authorize_url: str, email: str, password: str) -> requests.Response:
        """GET the authorize URL, signing in first if the server asks; return the consent page."""
        response = self.get(authorize_url)
        if is_redirect(response):
            location = self.absolute(response.url, response.headers["Location"])
            assert urllib.parse.urlsplit(location).path == "/auth/sign_in", (
                f"unauthenticated GET /oauth/authorize should redirect to /auth/sign_in: {describe(response)}"
            )
            signed_in = self.sign_in(location, email, password)
            if signed_in.status_code == 429:
                raise AssertionError(f"sign-in was rate limited; the suite signs in many users: {describe(signed_in)}")
            assert is_redirect(signed_in), f"sign-in did not redirect (wrong password?): {describe(signed_in)}"
            back = self.absolute(signed_in.url, signed_in.headers["Location"])
            assert urllib.parse.urlsplit(back).path == "/oauth/authorize", (
                f"after sign-in the server should send the browser back to /oauth/authorize: {describe(signed_in)}"
            )
            response = self.get(back)
        assert response.status_code == 200, f"consent page: {describe(response)}"
        return response

    def authorize(
        self,
        app: App,
        email: str,
        password: str,
        *,
        redirect_uri: str = OOB,
        scopes: list[str] = SCOPES,
        state: Optional[str] = None,
        code_challenge: Optional[str] = None,
        approve: bool = True,
    ) -> Authorization:
        api = self.server.client(client_id=app.client_id, client_secret=app.client_secret)
        url = api.auth_request_url(redirect_uris=redirect_uri, scopes=scopes, state=state, allow_http=True)
        if code_challenge is not None:
            url += "&" + urllib.parse.urlencode({"code_challenge": code_challenge, "code_challenge_method": "S256"})
        consent = self.open_authorize(url, email, password)
        forms = Page.parse(consent.text).post_forms("/oauth/authorize")
        approve_forms = [f for f in forms if (f.get("_method") or "").lower() != "delete"]
        deny_forms = [f for f in forms if (f.get("_method") or "").lower() == "delete"]
        assert approve_forms, f"no approving <form method=post action=/oauth/authorize>: {describe(consent)}"
        form = approve_forms[0] if approve else (deny_forms[0] if deny_forms else None)
        assert form is not None, f"no deny form (with _method=delete) on the consent page: {describe(consent)}"
        answer = self.submit(consent.url, form, form.data())
        assert is_redirect(answer), f"consent form answer should be a redirect: {describe(answer)}"
        location = self.absolute(answer.url, answer.headers["Location"])
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        return Authorization(
            location=location,
            code=query.get("code", [None])[0],
            state=query.get("state", [None])[0],
            error=query.get("error", [None])[0],
            browser=self.session,
            consent_page=consent.text,
            approve_form=approve_forms[0],
            deny_form=deny_forms[0] if deny_forms else None,
        )


def oob_code(browser: Browser, authorization: Authorization) -> str:
    """Follow the out-of-band redirect and read the code shown on the page."""
    location = authorization.location
    assert urllib.parse.urlsplit(location).path == "/oauth/authorize/native", (
        f"an oob authorization should redirect to /oauth/authorize/native, got {location}"
    )
    page = browser.get(location)
    assert page.status_code == 200, f"oob code page: {describe(page)}"
    codes = Page.parse(page.text).oauth_codes
    assert codes, f'no <input class="oauth-code" value=...> on the oob page: {describe(page)}'
    return codes[0]


# --------------------------------------------------------------------------------------------
# Users
# --------------------------------------------------------------------------------------------


@dataclasses.dataclass
class User:
    username: str
    email: str
    password: str
    token: str
    api: Mastodon
    http: Http
    account: Any

    @property
    def id(self) -> str:
        return str(self.account["id"])

    @property
    def acct(self) -> str:
        return self.username


def sign_in_user(server: Server, app: App, username: str, password: str, email: Optional[str] = None, scopes: list[str] = SCOPES) -> str:
    """Get a user token through the HTML flow (oob redirect) and Mastodon.py's ``log_in``."""
    email = email or f"{username}@example.test"
    browser = Browser(server)
    authorization = browser.authorize(app, email, password, redirect_uri=OOB, scopes=scopes)
    code = oob_code(browser, authorization)
    api = server.client(client_id=app.client_id, client_secret=app.client_secret)
    return api.log_in(code=code, redirect_uri=OOB, scopes=scopes, allow_http=True)


class UserFactory:
    def __init__(self, server: Server, app: App):
        self.server = server
        self.app = app

    def __call__(self, prefix: str = "user", role: Optional[str] = None, scopes: list[str] = SCOPES) -> User:
        username = unique(prefix)
        email = f"{username}@example.test"
        password = self.server.create_account(username, email=email, role=role)
        token = sign_in_user(self.server, self.app, username, password, email=email, scopes=scopes)
        api = self.server.client(access_token=token)
        account = api.account_verify_credentials()
        assert account["username"] == username, f"signed in as {account['username']!r}, expected {username!r}"
        return User(username, email, password, token, api, self.server.http(token), account)


# --------------------------------------------------------------------------------------------
# Paging
# --------------------------------------------------------------------------------------------


def walk_next(api: Mastodon, first_page: Any, max_pages: int = 50) -> list[list[str]]:
    """Follow rel=next (Mastodon.py ``fetch_next``) until the server says there is no more."""
    pages = [ids(first_page)]
    page = first_page
    for _ in range(max_pages):
        if not page or getattr(page, "_pagination_next", None) is None:
            return pages
        page = api.fetch_next(page)
        if not page:
            return pages
        pages.append(ids(page))
    raise AssertionError(f"more than {max_pages} pages: rel=next never ends? pages so far: {pages}")


def walk_prev(api: Mastodon, last_page: Any, max_pages: int = 50) -> list[list[str]]:
    """Follow rel=prev (Mastodon.py ``fetch_previous``) until the server says there is nothing newer."""
    pages = [ids(last_page)]
    page = last_page
    for _ in range(max_pages):
        if not page or getattr(page, "_pagination_prev", None) is None:
            return pages
        page = api.fetch_previous(page)
        if not page:
            return pages
        pages.append(ids(page))
    raise AssertionError(f"more than {max_pages} pages: rel=prev never ends? pages so far: {pages}")


# --------------------------------------------------------------------------------------------
# Status HTML
# --------------------------------------------------------------------------------------------


class _AnchorParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.anchors: list[dict[str, Any]] = []
        self._stack: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, Optional[str]]]) -> None:
        if tag == "a":
            anchor = {k: (v or "") for k, v in attrs}
            anchor["_text"] = ""
            anchor["_classes"] = set(anchor.get("class", "").split())
            self.anchors.append(anchor)
            self._stack.append(anchor)

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._stack:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        for anchor in self._stack:
            anchor["_text"] += data


def anchors(content: str) -> list[dict[str, Any]]:
    """The <a> elements of a status' HTML: attributes, plus ``_text`` and the ``_classes`` set."""
    parser = _AnchorParser()
    parser.feed(content)
    parser.close()
    return parser.anchors


def text_of(content: str) -> str:
    """The visible text of a status' HTML (tags dropped, entities decoded)."""
    parts: list[str] = []

    class _Text(html.parser.HTMLParser):
        def handle_data(self, data: str) -> None:
            parts.append(data)

    parser = _Text(convert_charrefs=True)
    parser.feed(content)
    parser.close()
    return "".join(parts)
