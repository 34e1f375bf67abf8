"""Mail over real SMTP: aiosmtpd receivers on loopback with a test certificate authority, one
speaking STARTTLS with a login (as a relay on 587 does), one speaking TLS from the first byte (465).

Through Mastodon.py and the HTML forms: an account made with an app token gets its confirmation
mail, the link confirms it, and it signs in; a forgotten password is reset through the mailed link.
"""

from __future__ import annotations

import email
import os
import re
import ssl
import subprocess
import threading
import time
from email import policy
from pathlib import Path
from typing import Iterator, Optional

import pytest
import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from mastodon import Mastodon

from conftest import _engine_params
from support import APP_NAME, APP_WEBSITE, CALLBACK, OOB, SCOPES, App, Browser, Page, Server, create_database, drop_database, free_port, sign_in_user, unique

SMTP_LOGIN = "ferrodon"
SMTP_PASSWORD = "relay secret"
MAIL_TIMEOUT_S = 30


class Inbox:
    """What an aiosmtpd receiver got: each message with how it came (TLS, login)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], email.message.EmailMessage, bool, bool]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope) -> str:
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        # After STARTTLS, or TLS from the first byte (the listener's own).
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        with self.lock:
            self.received.append((envelope.mail_from, list(envelope.rcpt_tos), message, tls, bool(session.authenticated)))
        return "250 OK"

    def wait_for(self, to: str, subject_part: str) -> tuple[email.message.EmailMessage, bool, bool]:
        deadline = time.monotonic() + MAIL_TIMEOUT_S
        while time.monotonic() < deadline:
            with self.lock:
                for _, rcpts, message, tls, authenticated in self.received:
                    if to in rcpts and subject_part in message["Subject"]:
                        self.received.remove((_, rcpts, message, tls, authenticated))
                        return message, tls, authenticated
            time.sleep(0.1)
        raise AssertionError(f"no mail to {to} about {subject_part!r} within {MAIL_TIMEOUT_S}s; got {[(r[1], r[2]['Subject']) for r in self.received]}")


def authenticate(server, session, envelope, mechanism, auth_data) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == SMTP_LOGIN.encode() and auth_data.password == SMTP_PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True)


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A test CA and a certificate it signed for 127.0.0.1."""
    d = tmp_path_factory.mktemp("smtp-tls")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ferrodon test CA", "-keyout", str(d / "ca.key"), "-out", str(d / "ca.pem"))
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", str(d / "server.key"), "-out", str(d / "server.csr"))
    (d / "san.ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("x509", "-req", "-in", str(d / "server.csr"), "-CA", str(d / "ca.pem"), "-CAkey", str(d / "ca.key"), "-CAcreateserial", "-days", "2", "-extfile", str(d / "san.ext"), "-out", str(d / "server.pem"))
    return d


def tls_context(certificates: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificates / "server.pem", certificates / "server.key")
    return context


@pytest.fixture(scope="module")
def starttls_relay(certificates: Path) -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port, tls_context=tls_context(certificates), require_starttls=True,
        authenticator=authenticate, auth_require_tls=True,
    )
    controller.start()
    yield port, inbox
    controller.stop()


@pytest.fixture(scope="module")
def tls_relay(certificates: Path) -> Iterator[tuple[int, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=tls_context(certificates))
    controller.start()
    yield port, inbox
    controller.stop()


def start_server(ferrodon_bin: str, engine: str, workdir: Path, validator, extra_env: dict[str, str]) -> tuple[Server, Optional[str]]:
    database: Optional[str] = None
    database_url: Optional[str] = None
    if engine == "postgres":
        admin_url = os.environ.get("TEST_DATABASE_URL")
        if not admin_url:
            pytest.fail("CI=true but TEST_DATABASE_URL is unset: the PostgreSQL engine must be tested in CI", pytrace=False)
        database, database_url = create_database(admin_url)
    srv = Server(ferrodon_bin, engine, workdir, validator, database_url, extra_env=extra_env)
    srv.start()
    return srv, database


@pytest.fixture(scope="module", params=_engine_params())
def mail_server(request, ferrodon_bin: str, openapi_validator, tmp_path_factory, certificates: Path, starttls_relay) -> Iterator[tuple[Server, Inbox]]:
    port, inbox = starttls_relay
    env = {
        "SMTP_SERVER": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_LOGIN": SMTP_LOGIN,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "SMTP_ENABLE_STARTTLS": "always",
        "SMTP_CA_FILE": str(certificates / "ca.pem"),
        "SMTP_FROM_ADDRESS": "Ferrodon <notifications@ferrodon.test>",
        "SMTP_REPLY_TO": "admin@ferrodon.test",
    }
    srv, database = start_server(ferrodon_bin, request.param, tmp_path_factory.mktemp(f"mail-{request.param}"), openapi_validator, env)
    yield srv, inbox
    srv.stop()
    if database:
        drop_database(os.environ["TEST_DATABASE_URL"], database)


def register_app(srv: Server) -> App:
    client_id, client_secret = Mastodon.create_app(APP_NAME, scopes=SCOPES, redirect_uris=[OOB, CALLBACK], website=APP_WEBSITE, api_base_url=srv.base_url, session=srv.session())
    return App(str(client_id), str(client_secret))


def link_in(message: email.message.EmailMessage, path: str) -> str:
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    match = re.search(r"https?://\S+" + re.escape(path) + r"\S*", text)
    assert match, f"no {path} link in:\n{text}"
    assert match.group(0).replace("&", "&amp;") in html or match.group(0) in html, html
    return match.group(0)


def test_an_account_made_with_an_app_token_confirms_by_mail_and_signs_in(mail_server):
    srv, inbox = mail_server
    app = register_app(srv)
    username = unique("mailed")
    address = f"{username}@example.test"
    password = "correct horse battery staple 42"
    registrar = srv.client(client_id=app.client_id, client_secret=app.client_secret)
    token = registrar.create_account(username, password, address, agreement=True, locale="en")
    unconfirmed = srv.http(token)
    assert unconfirmed.get("/api/v1/accounts/verify_credentials").status_code == 403

    message, tls, authenticated = inbox.wait_for(address, "Confirm your e-mail address")
    assert tls and authenticated, "the mail came over STARTTLS, signed in to the relay"
    assert message["From"] == "Ferrodon <notifications@ferrodon.test>"
    assert message["Reply-To"] == "admin@ferrodon.test"
    assert message.get_content_type() == "multipart/alternative"
    link = link_in(message, "/auth/confirmation?confirmation_token=")
    assert link.startswith(srv.base_url), link
    confirmed = requests.get(link, timeout=10)
    assert confirmed.status_code == 200, confirmed.text
    assert "confirmed" in confirmed.text

    me = srv.client(access_token=token).account_verify_credentials()
    assert me["username"] == username
    signed_in = srv.client(access_token=sign_in_user(srv, app, username, password, email=address))
    assert signed_in.account_verify_credentials()["id"] == me["id"]


def test_a_forgotten_password_is_reset_through_the_mailed_link(mail_server):
    srv, inbox = mail_server
    app = register_app(srv)
    username = unique("forgot")
    address = f"{username}@example.test"
    old_password = srv.create_account(username, email=address)
    old_token = sign_in_user(srv, app, username, old_password, email=address)

    browser = Browser(srv)
    page_url = srv.url("/auth/password/new")
    page = browser.get(page_url)
    assert page.status_code == 200
    form = Page.parse(page.text).post_forms("/auth/password")[0]
    sent = browser.submit(page_url, form, form.data({"user[email]": address}))
    assert sent.status_code == 200, sent.text

    message, tls, _ = inbox.wait_for(address, "Reset password instructions")
    assert tls
    link = link_in(message, "/auth/password/edit?reset_password_token=")
    edit = browser.get(link)
    assert edit.status_code == 200, edit.text
    form = Page.parse(edit.text).post_forms("/auth/password")[0]
    new_password = "a brand new password for " + username
    done = browser.submit(link, form, form.data({"user[password]": new_password, "user[password_confirmation]": new_password}))
    assert done.status_code == 200, done.text
    inbox.wait_for(address, "Password changed")

    assert srv.http(old_token).get("/api/v1/accounts/verify_credentials").status_code == 401
    token = sign_in_user(srv, app, username, new_password, email=address)
    assert srv.client(access_token=token).account_verify_credentials()["username"] == username


def test_mail_goes_over_implicit_tls(ferrodon_bin, openapi_validator, tmp_path_factory, certificates: Path, tls_relay):
    port, inbox = tls_relay
    env = {
        "SMTP_SERVER": "127.0.0.1",
        "SMTP_PORT": str(port),
        "SMTP_TLS": "true",
        "SMTP_CA_FILE": str(certificates / "ca.pem"),
    }
    srv, _ = start_server(ferrodon_bin, "sqlite", tmp_path_factory.mktemp("mail-tls"), openapi_validator, env)
    try:
        assert "(TLS)" in srv.cli("config", "check").stdout
        app = register_app(srv)
        username = unique("tls")
        address = f"{username}@example.test"
        registrar = srv.client(client_id=app.client_id, client_secret=app.client_secret)
        registrar.create_account(username, "correct horse battery staple 42", address, agreement=True, locale="en")
        message, tls, _ = inbox.wait_for(address, "Confirm your e-mail address")
        assert tls
        assert message["From"] == f"notifications@{srv.domain.split(':')[0]}"
    finally:
        srv.stop()


def test_without_a_relay_mail_is_logged_and_config_check_says_so(server: Server, app: App):
    check = server.cli("config", "check").stdout
    assert re.search(r"^MAIL=off", check, re.M), check
    username = unique("logged")
    registrar = server.client(client_id=app.client_id, client_secret=app.client_secret)
    registrar.create_account(username, "correct horse battery staple 42", f"{username}@example.test", agreement=True, locale="en")

    def logged() -> Optional[str]:
        log = Path(server.stdout_log).read_text() + Path(server.stderr_log).read_text()
        for line in log.splitlines():
            if f"{username}@example.test" in line:
                match = re.search(r"https?://\S+/auth/confirmation\?confirmation_token=[A-Za-z0-9_-]+", line)
                if match:
                    return match.group(0)
        return None

    deadline = time.monotonic() + MAIL_TIMEOUT_S
    while not logged() and time.monotonic() < deadline:
        time.sleep(0.2)
    link = logged()
    assert link, "the confirmation link is in the log"
    assert requests.get(link, timeout=10).status_code == 200
