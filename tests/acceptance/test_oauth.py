"""OAuth 2 as Mastodon does it: app registration, the HTML sign-in and consent pages, codes,
PKCE, client credentials, revocation, registration through the API."""

from __future__ import annotations

import secrets
import urllib.parse

import pytest
from mastodon import MastodonAPIError

from support import (
    APP_NAME,
    APP_WEBSITE,
    CALLBACK,
    OOB,
    SCOPES,
    App,
    Browser,
    Page,
    Server,
    assert_error,
    describe,
    is_redirect,
    pkce_pair,
    sign_in_user,
    unique,
)


@pytest.fixture
def credentials(server: Server) -> tuple[str, str, str]:
    """A confirmed user made with the CLI, not signed in anywhere yet: (username, email, password)."""
    username = unique("oauth")
    email = f"{username}@example.test"
    return username, email, server.create_account(username, email=email)


def authorize_url(server: Server, app: App, redirect_uri: str, scopes: list[str] = SCOPES, state: str | None = None) -> str:
    api = server.client(client_id=app.client_id, client_secret=app.client_secret)
    return api.auth_request_url(redirect_uris=redirect_uri, scopes=scopes, state=state, allow_http=True)


def token_request(server: Server, **fields: str):
    return server.http().post("/oauth/token", data=fields)


def test_well_known_oauth_authorization_server(server: Server):
    response = server.http().get("/.well-known/oauth-authorization-server")
    assert response.status_code == 200, describe(response)
    info = response.json()
    base = server.base_url
    assert info["issuer"].rstrip("/") == base
    assert info["authorization_endpoint"] == f"{base}/oauth/authorize"
    assert info["token_endpoint"] == f"{base}/oauth/token"
    assert info["revocation_endpoint"] == f"{base}/oauth/revoke"
    assert info["app_registration_endpoint"] == f"{base}/api/v1/apps"
    assert {"read", "write", "follow", "push", "read:statuses", "write:statuses"} <= set(info["scopes_supported"])
    assert info["response_types_supported"] == ["code"]
    assert info["code_challenge_methods_supported"] == ["S256"]
    assert {"authorization_code", "client_credentials"} <= set(info["grant_types_supported"])
    assert "password" not in info["grant_types_supported"], "Mastodon 4.4 removed the password grant"
    assert {"client_secret_basic", "client_secret_post"} <= set(info["token_endpoint_auth_methods_supported"])

    # Mastodon.py reads the same document.
    discovered = server.client().oauth_authorization_server_info()
    assert discovered["token_endpoint"] == f"{base}/oauth/token"


def test_create_app_returns_credentials(server: Server):
    response = server.http().post(
        "/api/v1/apps",
        data={
            "client_name": "acceptance app check",
            "redirect_uris": CALLBACK,
            "scopes": "read write",
            "website": APP_WEBSITE,
        },
    )
    assert response.status_code == 200, describe(response)
    created = response.json()
    assert created["name"] == "acceptance app check"
    assert created["website"] == APP_WEBSITE
    assert created["redirect_uris"] == [CALLBACK]
    assert created["scopes"] == ["read", "write"]
    assert created["client_id"] and created["client_secret"]
    assert created["client_id"] != created["client_secret"]


def test_create_app_without_name_is_rejected(server: Server):
    response = server.http().post("/api/v1/apps", data={"redirect_uris": OOB})
    assert_error(response, 400, 422)


def test_oob_flow_through_sign_in_and_consent_pages(server: Server, app: App, credentials):
    username, email, password = credentials
    state = secrets.token_urlsafe(8)
    url = authorize_url(server, app, OOB, state=state)
    browser = Browser(server)

    first = browser.get(url)
    assert is_redirect(first), f"unauthenticated authorize must redirect to sign in: {describe(first)}"
    sign_in_url = browser.absolute(first.url, first.headers["Location"])
    assert urllib.parse.urlsplit(sign_in_url).path == "/auth/sign_in"

    page, form = browser.sign_in_page(sign_in_url)
    assert form.get("authenticity_token"), "the sign-in form must carry a non-empty authenticity_token"
    signed_in = browser.submit(page.url, form, form.data({"user[email]": email, "user[password]": password}))
    assert is_redirect(signed_in), describe(signed_in)
    back = browser.absolute(signed_in.url, signed_in.headers["Location"])
    assert urllib.parse.urlsplit(back).path == "/oauth/authorize"
    back_query = urllib.parse.parse_qs(urllib.parse.urlsplit(back).query)
    assert back_query.get("client_id") == [app.client_id], f"the redirect after sign-in lost the request: {back}"

    consent = browser.get(back)
    assert consent.status_code == 200, describe(consent)
    assert APP_NAME in consent.text, "the consent page should name the application asking for access"
    forms = Page.parse(consent.text).post_forms("/oauth/authorize")
    approve = [f for f in forms if f.get("_method") is None]
    deny = [f for f in forms if (f.get("_method") or "").lower() == "delete"]
    assert len(approve) == 1 and len(deny) == 1, f"expected an Authorize and a Deny form: {forms}"
    for f in (approve[0], deny[0]):
        assert f.get("authenticity_token")
        assert f.get("client_id") == app.client_id
        assert f.get("redirect_uri") == OOB
        assert f.get("state") == state
        assert f.get("response_type") == "code"
        assert f.get("scope") == " ".join(SCOPES)
        assert {"code_challenge", "code_challenge_method"} <= f.field_names()

    answer = browser.submit(consent.url, approve[0], approve[0].data())
    assert is_redirect(answer), describe(answer)
    location = browser.absolute(answer.url, answer.headers["Location"])
    assert urllib.parse.urlsplit(location).path == "/oauth/authorize/native"
    code_in_url = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)["code"][0]

    native = browser.get(location)
    assert native.status_code == 200, describe(native)
    codes = Page.parse(native.text).oauth_codes
    assert codes == [code_in_url], f"the oob page must show the code in input.oauth-code: {codes}"

    api = server.client(client_id=app.client_id, client_secret=app.client_secret)
    token = api.log_in(code=code_in_url, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
    assert token
    me = server.client(access_token=token).account_verify_credentials()
    assert me["username"] == username


def test_redirect_uri_flow_returns_code_and_state(server: Server, app: App, credentials):
    username, email, password = credentials
    state = secrets.token_urlsafe(12)
    browser = Browser(server)
    result = browser.authorize(app, email, password, redirect_uri=CALLBACK, state=state)

    assert result.location.startswith(CALLBACK + "?"), result.location
    assert result.code, result.location
    assert result.state == state
    assert result.error is None

    api = server.client(client_id=app.client_id, client_secret=app.client_secret)
    token = api.log_in(code=result.code, redirect_uri=CALLBACK, scopes=SCOPES, allow_http=True)
    me = server.client(access_token=token).account_verify_credentials()
    assert me["username"] == username

    # A code is good for one exchange only.
    again = token_request(
        server,
        grant_type="authorization_code",
        code=result.code,
        redirect_uri=CALLBACK,
        client_id=app.client_id,
        client_secret=app.client_secret,
    )
    assert again.status_code == 400, describe(again)
    assert again.json()["error"] == "invalid_grant"


def test_token_exchange_checks_redirect_uri(server: Server, app: App, credentials):
    _, email, password = credentials
    result = Browser(server).authorize(app, email, password, redirect_uri=CALLBACK)
    response = token_request(
        server,
        grant_type="authorization_code",
        code=result.code,
        redirect_uri=OOB,  # not the one the code was issued for
        client_id=app.client_id,
        client_secret=app.client_secret,
    )
    assert response.status_code == 400, describe(response)
    assert response.json()["error"] == "invalid_grant"


def test_token_exchange_checks_client_secret(server: Server, app: App, credentials):
    _, email, password = credentials
    result = Browser(server).authorize(app, email, password, redirect_uri=CALLBACK)
    response = token_request(
        server,
        grant_type="authorization_code",
        code=result.code,
        redirect_uri=CALLBACK,
        client_id=app.client_id,
        client_secret="not-the-secret",
    )
    assert response.status_code in (400, 401), describe(response)
    assert response.json()["error"] == "invalid_client"


def test_deny_redirects_with_access_denied(server: Server, app: App, credentials):
    _, email, password = credentials
    state = secrets.token_urlsafe(8)
    result = Browser(server).authorize(app, email, password, redirect_uri=CALLBACK, state=state, approve=False)
    assert result.location.startswith(CALLBACK + "?"), result.location
    assert result.error == "access_denied"
    assert result.code is None
    assert result.state == state


def test_wrong_password_rerenders_sign_in_without_session(server: Server, app: App, credentials):
    _, email, _ = credentials
    url = authorize_url(server, app, OOB)
    browser = Browser(server)
    first = browser.get(url)
    sign_in_url = browser.absolute(first.url, first.headers["Location"])

    page, form = browser.sign_in_page(sign_in_url)
    answer = browser.submit(page.url, form, form.data({"user[email]": email, "user[password]": "wrong password 123"}))
    assert answer.status_code in (200, 422), f"a wrong password re-renders the sign-in page: {describe(answer)}"
    assert Page.parse(answer.text).post_forms("/auth/sign_in"), "the sign-in form should be shown again"
    assert "invalid" in answer.text.lower(), "the re-rendered page should say the credentials were invalid"

    again = browser.get(url)
    assert is_redirect(again) and urllib.parse.urlsplit(again.headers["Location"]).path == "/auth/sign_in", (
        f"a failed sign-in must not create a session: {describe(again)}"
    )


@pytest.mark.parametrize("token", [None, "forged-authenticity-token"], ids=["missing", "forged"])
def test_sign_in_requires_authenticity_token(server: Server, app: App, credentials, token):
    _, email, password = credentials
    url = authorize_url(server, app, OOB)
    browser = Browser(server)
    first = browser.get(url)
    page, form = browser.sign_in_page(browser.absolute(first.url, first.headers["Location"]))
    fields = {"user[email]": email, "user[password]": password}
    if token is None:
        data = form.data(fields, drop=["authenticity_token"])
    else:
        data = form.data({**fields, "authenticity_token": token})
    answer = browser.submit(page.url, form, data)
    assert answer.status_code in (403, 422), f"sign-in without the right authenticity_token must fail: {describe(answer)}"

    again = browser.get(url)
    assert is_redirect(again) and urllib.parse.urlsplit(again.headers["Location"]).path == "/auth/sign_in", (
        f"a rejected sign-in must not create a session: {describe(again)}"
    )


def test_sign_in_token_from_another_browser_is_rejected(server: Server, app: App, credentials):
    _, email, password = credentials
    url = authorize_url(server, app, OOB)
    victim, attacker = Browser(server), Browser(server)
    first = attacker.get(url)
    page, form = attacker.sign_in_page(attacker.absolute(first.url, first.headers["Location"]))
    victim.get(url)  # the victim has a session cookie of its own
    answer = victim.submit(page.url, form, form.data({"user[email]": email, "user[password]": password}))
    assert answer.status_code in (403, 422), f"an authenticity_token is bound to its session: {describe(answer)}"


def test_consent_requires_authenticity_token(server: Server, app: App, credentials):
    _, email, password = credentials
    browser = Browser(server)
    consent = browser.open_authorize(authorize_url(server, app, CALLBACK), email, password)
    form = [f for f in Page.parse(consent.text).post_forms("/oauth/authorize") if f.get("_method") is None][0]

    for data in (form.data(drop=["authenticity_token"]), form.data({"authenticity_token": "forged"})):
        answer = browser.submit(consent.url, form, data)
        assert answer.status_code in (403, 422), f"consent without the right authenticity_token must fail: {describe(answer)}"
        assert "code=" not in answer.headers.get("Location", ""), "no code may be issued without CSRF protection"

    # The same form with its real token still works: the failures above were about the token.
    answer = browser.submit(consent.url, form, form.data())
    assert is_redirect(answer) and answer.headers["Location"].startswith(CALLBACK + "?code="), describe(answer)


def test_unregistered_redirect_uri_is_refused(server: Server, app: App, credentials):
    _, email, password = credentials
    browser = Browser(server)
    browser.open_authorize(authorize_url(server, app, CALLBACK), email, password)  # signs in
    evil = "http://evil.example/callback"
    response = browser.get(authorize_url(server, app, evil))
    assert 400 <= response.status_code < 500, f"an unregistered redirect_uri must be refused: {describe(response)}"
    assert "evil.example" not in response.headers.get("Location", "")


def test_unknown_client_is_refused(server: Server, app: App, credentials):
    _, email, password = credentials
    browser = Browser(server)
    browser.open_authorize(authorize_url(server, app, CALLBACK), email, password)  # signs in
    bogus = App(client_id="no-such-client", client_secret="x")
    response = browser.get(authorize_url(server, bogus, CALLBACK))
    assert 400 <= response.status_code < 500, describe(response)
    assert not response.headers.get("Location", "").startswith(CALLBACK)


def test_pkce_s256(server: Server, app: App, credentials):
    username, email, password = credentials
    browser = Browser(server)

    def authorized_code(challenge: str) -> str:
        result = browser.authorize(app, email, password, redirect_uri=CALLBACK, code_challenge=challenge)
        assert result.approve_form.get("code_challenge") == challenge
        assert result.approve_form.get("code_challenge_method") == "S256"
        assert result.code, result.location
        return result.code

    def exchange(code: str, verifier: str | None):
        fields = dict(
            grant_type="authorization_code",
            code=code,
            redirect_uri=CALLBACK,
            client_id=app.client_id,
            client_secret=app.client_secret,
        )
        if verifier is not None:
            fields["code_verifier"] = verifier
        return token_request(server, **fields)

    verifier, challenge = pkce_pair()

    wrong = exchange(authorized_code(challenge), pkce_pair()[0])
    assert wrong.status_code == 400, describe(wrong)
    assert wrong.json()["error"] == "invalid_grant"

    missing = exchange(authorized_code(challenge), None)
    assert missing.status_code == 400, describe(missing)
    assert missing.json()["error"] in ("invalid_grant", "invalid_request")

    right = exchange(authorized_code(challenge), verifier)
    assert right.status_code == 200, describe(right)
    body = right.json()
    assert body["access_token"]
    assert body["token_type"].lower() == "bearer"
    assert body["scope"] == " ".join(SCOPES)
    assert isinstance(body["created_at"], int)
    me = server.client(access_token=body["access_token"]).account_verify_credentials()
    assert me["username"] == username


def test_client_credentials_token(server: Server, app: App, alice):
    response = token_request(
        server,
        grant_type="client_credentials",
        client_id=app.client_id,
        client_secret=app.client_secret,
        scope="read write",
    )
    assert response.status_code == 200, describe(response)
    body = response.json()
    assert body["token_type"].lower() == "bearer"
    assert body["scope"] == "read write"
    app_token = body["access_token"]

    info = server.client(access_token=app_token).app_verify_credentials()
    assert info["name"] == APP_NAME
    assert info["website"] == APP_WEBSITE
    assert "client_secret" not in info, "verify_credentials must not give the secret back"

    # A user token knows its application too.
    assert alice.api.app_verify_credentials()["name"] == APP_NAME

    # An app token has no user: Mastodon answers 422 on user endpoints.
    no_user = server.http(app_token).get("/api/v1/accounts/verify_credentials")
    assert_error(no_user, 422, message="This method requires an authenticated user")
    # Public data stays readable with it.
    assert server.http(app_token).get(f"/api/v1/accounts/{alice.id}").status_code == 200


def test_revoked_token_gets_401(server: Server, app: App, make_user):
    user = make_user("revoke")
    assert server.http(user.token).get("/api/v1/accounts/verify_credentials").status_code == 200

    api = server.client(access_token=user.token, client_id=app.client_id, client_secret=app.client_secret)
    api.revoke_access_token(allow_http=True)

    response = server.http(user.token).get("/api/v1/accounts/verify_credentials")
    assert_error(response, 401)
    with pytest.raises(MastodonAPIError):
        server.client(access_token=user.token).account_verify_credentials()


def test_revoke_through_plain_request(server: Server, app: App, make_user):
    user = make_user("revoke")
    response = server.http().post(
        "/oauth/revoke",
        data={"client_id": app.client_id, "client_secret": app.client_secret, "token": user.token},
    )
    assert response.status_code == 200, describe(response)
    assert_error(server.http(user.token).get("/api/v1/accounts/verify_credentials"), 401)


def test_read_only_token_cannot_write(server: Server, app: App, make_user):
    user = make_user("readonly")
    read_token = sign_in_user(server, app, user.username, user.password, email=user.email, scopes=["read"])
    http = server.http(read_token)
    assert http.get("/api/v1/accounts/verify_credentials").status_code == 200
    assert http.get("/api/v1/timelines/home").status_code == 200
    response = http.post("/api/v1/statuses", data={"status": "this must not be posted"})
    assert_error(response, 403, message="This action is outside the authorized scopes")
    response = http.post(f"/api/v1/accounts/{user.id}/follow")
    assert_error(response, 403, message="This action is outside the authorized scopes")
    # Nothing was posted.
    assert user.api.account_statuses(user.id) == []


def test_registration_through_api_needs_confirmation(server: Server, app: App):
    username = unique("reg")
    email = f"{username}@example.test"
    password = "correct horse battery staple 42"
    registrar = server.client(client_id=app.client_id, client_secret=app.client_secret)
    token = registrar.create_account(username, password, email, agreement=True, locale="en")
    assert token

    unconfirmed = server.http(token)
    assert_error(unconfirmed.get("/api/v1/accounts/verify_credentials"), 403)
    assert_error(unconfirmed.post("/api/v1/statuses", data={"status": "too early"}), 403)

    server.confirm_account(username)
    api = server.client(access_token=token)
    me = api.account_verify_credentials()
    assert me["username"] == username
    assert me["acct"] == username
    status = api.status_post("first post after confirmation")
    assert status["account"]["id"] == me["id"]

    # The username is now taken; Mastodon explains why in `details`.
    again_token, error = server.client(client_id=app.client_id, client_secret=app.client_secret).create_account(
        username, password, f"other-{email}", agreement=True, locale="en", return_detailed_error=True
    )
    assert again_token is None
    assert error["details"]["username"][0]["error"] == "ERR_TAKEN"


def test_email_addresses_are_checked_as_mastodon_does(server: Server, app: App):
    # Devise's format (Mastodon's): something@something, no whitespace; a dotless domain is fine.
    username = unique("cli")
    proc = server.cli("accounts", "create", username, "--email", f"{username}@localhost", "--confirmed")
    assert "New password:" in proc.stdout + proc.stderr
    refused = server.cli("accounts", "create", unique("cli"), "--email", "no-at-sign.localhost", check=False)
    assert refused.returncode != 0, refused.stdout
    assert "Email is invalid" in refused.stdout + refused.stderr, refused.stderr

    registrar = server.client(client_id=app.client_id, client_secret=app.client_secret)
    username = unique("reg")
    password = "correct horse battery staple 42"
    assert registrar.create_account(username, password, f"{username}@localhost", agreement=True, locale="en")
    token, error = server.client(client_id=app.client_id, client_secret=app.client_secret).create_account(
        unique("reg"), password, "two words@localhost", agreement=True, locale="en", return_detailed_error=True
    )
    assert token is None
    assert error["details"]["email"][0]["error"] == "ERR_INVALID", error


def test_registrations_close_as_tootctl_spells_it(server: Server, app: App, anonymous):
    # `tootctl settings registrations close` is Mastodon's registrations mode "none".
    assert server.cli("settings", "registrations").stdout.strip() == "open"
    try:
        assert server.cli("settings", "registrations", "close").stdout.strip() == "none"
        assert anonymous.instance_v2()["registrations"]["enabled"] is False
        registrar = server.client(client_id=app.client_id, client_secret=app.client_secret)
        username = unique("closed")
        token, error = registrar.create_account(
            username, "correct horse battery staple 42", f"{username}@example.test", agreement=True, locale="en",
            return_detailed_error=True,
        )
        assert token is None, "registrations are closed"
    finally:
        assert server.cli("settings", "registrations", "open").stdout.strip() == "open"
    assert anonymous.instance_v2()["registrations"]["enabled"] is True


def test_registration_requires_agreement(server: Server, app: App):
    username = unique("reg")
    token, error = server.client(client_id=app.client_id, client_secret=app.client_secret).create_account(
        username, "correct horse battery staple 42", f"{username}@example.test", agreement=False,
        locale="en", return_detailed_error=True,
    )
    assert token is None
    assert error["details"]["agreement"][0]["error"] == "ERR_ACCEPTED"
