"""The front door in a real browser: Debian's Chromium, headless, driven by Selenium.

Sign up through the pages, open the link of the mail an SMTP receiver got, sign in, enable
two-factor authentication (codes computed by pyotp, as an authenticator app would), sign out and
back in with a code, and authorize a Mastodon.py app in the same browser session. A screenshot of
each page is kept (the directory is printed, and in FERRODON_SCREENSHOTS when set).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import struct
import time
import zlib
from pathlib import Path
from typing import Iterator

import pyotp
import pytest
import requests
from aiosmtpd.controller import Controller
from mastodon import Mastodon
from selenium import webdriver
from selenium.webdriver.chrome.service import Service as ChromeService
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from support import APP_NAME, APP_WEBSITE, CALLBACK, OOB, SCOPES, App, Server, free_port, sign_in_user, unique
from test_mail import Inbox, link_in

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
        if _in_ci():
            pytest.fail("Chromium and ChromeDriver are needed (apt-get install chromium chromium-driver)", pytrace=False)
        pytest.skip("Chromium or ChromeDriver is not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1000,1300"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=ChromeService(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = os.environ.get("FERRODON_SCREENSHOTS")
    path = Path(where) if where else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {path}")
    return path


@pytest.fixture(scope="module")
def site(ferrodon_bin, openapi_validator, tmp_path_factory) -> Iterator[tuple[Server, Inbox]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    env = {"SMTP_SERVER": "127.0.0.1", "SMTP_PORT": str(port), "SMTP_ENABLE_STARTTLS": "never"}
    srv = Server(ferrodon_bin, "sqlite", tmp_path_factory.mktemp("browser"), openapi_validator, extra_env=env)
    srv.start()
    yield srv, inbox
    srv.stop()
    controller.stop()


def fill(driver: webdriver.Chrome, values: dict[str, str]) -> None:
    for element_id, value in values.items():
        field = driver.find_element(By.ID, element_id)
        field.clear()
        field.send_keys(value)


def png(path: Path, width: int = 96, height: int = 64) -> Path:
    """A small PNG (a gradient) written with the standard library."""
    raw = b"".join(b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 160)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def submit(driver: webdriver.Chrome, by: str, selector: str) -> None:
    """Clicks a form's button and waits for the page it leads to."""
    WebDriverWait(driver, 15).until(lambda d: d.execute_script("return document.readyState") == "complete")
    page = driver.find_element(By.TAG_NAME, "html")
    for attempt in range(3):
        try:
            driver.find_element(by, selector).click()
            break
        except WebDriverException:
            # Chromium sometimes loses the node between finding and clicking it; click again
            # only while the page is still the same one (never submit a form twice).
            if attempt == 2 or expected_conditions.staleness_of(page)(driver):
                raise
            time.sleep(0.2)
    WebDriverWait(driver, 15).until(expected_conditions.staleness_of(page))


def test_sign_up_confirm_sign_in_two_factor_and_authorize_an_app(site, browser: webdriver.Chrome, screenshots: Path):
    srv, inbox = site
    username = unique("browser")
    address = f"{username}@example.test"
    password = "correct horse battery staple 42"

    def shot(name: str) -> None:
        browser.save_screenshot(str(screenshots / f"{len(list(screenshots.iterdir())):02d}-{name}.png"))

    # Sign up.
    browser.get(srv.url("/auth/sign_up"))
    shot("sign-up")
    fill(browser, {
        "user_account_attributes_username": username,
        "user_email": address,
        "user_password": password,
        "user_password_confirmation": password,
    })
    browser.find_element(By.ID, "user_agreement").click()
    submit(browser, By.CSS_SELECTOR, "form[action='/auth'] button[type=submit]")
    assert "Check your inbox" in browser.page_source, browser.find_element(By.TAG_NAME, "main").text
    shot("check-your-inbox")

    # The link of the mail the receiver got.
    message, _, _ = inbox.wait_for(address, "Confirm your e-mail address")
    browser.get(link_in(message, "/auth/confirmation?confirmation_token="))
    assert "confirmed" in browser.page_source
    shot("confirmed")

    # Sign in.
    browser.get(srv.url("/auth/sign_in"))
    fill(browser, {"user_email": address, "user_password": password})
    shot("sign-in")
    submit(browser, By.CSS_SELECTOR, "form[action='/auth/sign_in'] button[type=submit]")
    assert "Log in" not in browser.title, browser.page_source

    # Two-factor authentication, set up with the QR code's secret.
    browser.get(srv.url("/settings/two_factor_authentication"))
    shot("two-factor-off")
    fill(browser, {"current_password": password})
    submit(browser, By.CSS_SELECTOR, "form[action='/settings/otp_authentication'] button")
    assert browser.find_element(By.CSS_SELECTOR, "figure.qr svg")
    shot("two-factor-qr-code")
    totp = pyotp.TOTP(browser.find_element(By.ID, "otp_secret").text)
    fill(browser, {"otp_attempt": totp.now()})
    submit(browser, By.CSS_SELECTOR, "form[action='/settings/two_factor_authentication/confirmation'] button")
    codes = browser.find_elements(By.CSS_SELECTOR, "ul.codes code")
    assert len(codes) == 10, browser.page_source
    shot("recovery-codes")
    inbox.wait_for(address, "Two-factor authentication enabled")

    # Sign out, and back in: the password, then a code (the next one: each is taken once).
    submit(browser, By.ID, "sign_out")
    browser.get(srv.url("/auth/sign_in"))
    fill(browser, {"user_email": address, "user_password": password})
    submit(browser, By.CSS_SELECTOR, "form[action='/auth/sign_in'] button[type=submit]")
    assert browser.find_elements(By.ID, "user_otp_attempt"), browser.find_element(By.TAG_NAME, "body").text
    shot("two-factor-step")
    fill(browser, {"user_otp_attempt": totp.at(time.time() + 30)})
    submit(browser, By.CSS_SELECTOR, "form[action='/auth/sign_in'] button[type=submit]")
    assert not browser.find_elements(By.ID, "user_otp_attempt"), browser.page_source

    # A new name and avatar through the profile page.
    browser.get(srv.url("/settings/profile"))
    fill(browser, {"display_name": "Browser Person"})
    browser.find_element(By.ID, "avatar").send_keys(str(png(screenshots.parent / f"{username}-avatar.png")))
    submit(browser, By.CSS_SELECTOR, "form[action='/settings/profile'] button[type=submit]")
    assert "Changes saved" in browser.page_source, browser.find_element(By.TAG_NAME, "main").text
    shot("profile-settings")

    # An app authorized in the same browser session, then used through Mastodon.py.
    client_id, client_secret = Mastodon.create_app(
        APP_NAME, scopes=SCOPES, redirect_uris=[OOB, CALLBACK], website=APP_WEBSITE, api_base_url=srv.base_url, session=srv.session()
    )
    api = srv.client(client_id=client_id, client_secret=client_secret)
    browser.get(api.auth_request_url(redirect_uris=OOB, scopes=SCOPES, allow_http=True))
    shot("consent")
    submit(browser, By.XPATH, "//form[@action='/oauth/authorize'][not(input[@name='_method'])]//button")
    code = browser.find_element(By.CSS_SELECTOR, "input.oauth-code").get_attribute("value")
    shot("authorization-code")
    api.log_in(code=code, redirect_uri=OOB, scopes=SCOPES, allow_http=True)
    me = api.account_verify_credentials()
    assert me["username"] == username
    assert me["display_name"] == "Browser Person"
    assert not me["avatar"].endswith("missing.png"), me["avatar"]
    assert requests.get(me["avatar"], timeout=10).headers["content-type"].startswith("image/")

    # The public pages of the new account.
    api.status_post("my first post, from a browser-authorized app")
    browser.get(srv.url(f"/@{username}"))
    assert "my first post" in browser.page_source
    shot("profile")


WEB_CHECKS = Path(__file__).resolve().parent.parent / "web-checks" / "node_modules"
VNU_JAR = WEB_CHECKS / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = WEB_CHECKS / "axe-core" / "axe.min.js"


def test_pages_are_valid_html_and_accessible(site, browser: webdriver.Chrome, tmp_path: Path):
    """Every kind of page passes the Nu HTML Checker and axe-core with no serious or critical
    violation, as an anonymous visitor and signed in."""
    if not (VNU_JAR.is_file() and AXE_JS.is_file() and shutil.which("java")):
        if _in_ci():
            pytest.fail("the web checks need `npm ci` in tests/web-checks and Java", pytrace=False)
        pytest.skip("run `npm ci` in tests/web-checks (vnu-jar, axe-core) and install Java for the web checks")
    srv, _ = site
    username = unique("pages")
    address = f"{username}@example.test"
    password = srv.create_account(username, email=address)
    # Content for the pages: a post with a hashtag, a link and a content warning, and a reply.
    browser.delete_all_cookies()
    browser.get(srv.url("/auth/sign_in"))
    fill(browser, {"user_email": address, "user_password": password})
    submit(browser, By.CSS_SELECTOR, "form[action='/auth/sign_in'] button[type=submit]")
    client_id, client_secret = Mastodon.create_app(APP_NAME, scopes=SCOPES, redirect_uris=[OOB, CALLBACK], website=APP_WEBSITE, api_base_url=srv.base_url, session=srv.session())
    token = sign_in_user(srv, App(str(client_id), str(client_secret)), username, password, email=address)
    api = srv.client(access_token=token)
    first = api.status_post("Checking the pages of #ferrodon: https://example.com/a-page")
    api.status_post("a reply to myself", in_reply_to_id=first["id"])
    api.status_post("behind a warning", spoiler_text="spoilers")

    anonymous = [
        "/",
        f"/@{username}",
        f"/@{username}/{first['id']}",
        "/tags/ferrodon",
        "/about",
        "/privacy-policy",
        "/auth/sign_in",
        "/auth/sign_up",
        "/auth/password/new",
        "/@nobody-here",
    ]
    signed_in = ["/settings/profile", "/settings/two_factor_authentication", "/auth/edit", "/oauth/authorized_applications", "/settings/export", "/settings/preferences", "/invites"]
    documents: list[Path] = []
    for i, path in enumerate(anonymous):
        body = requests.get(srv.url(path), timeout=10).text
        documents.append(tmp_path / f"{i:02d}.html")
        documents[-1].write_text(body)
    violations: list[str] = []
    axe = AXE_JS.read_text()

    def audit(path: str) -> None:
        browser.get(srv.url(path))
        browser.execute_script(axe)
        result = browser.execute_async_script(
            "const done = arguments[arguments.length - 1];"
            "axe.run(document, {runOnly: ['wcag2a', 'wcag2aa', 'best-practice']}).then(done, e => done({error: String(e)}));"
        )
        assert "error" not in result, result
        assert result["passes"], f"axe-core checked nothing on {path}"
        for v in result["violations"]:
            if v["impact"] in ("serious", "critical"):
                targets = [n["target"] for n in v["nodes"]][:3]
                violations.append(f"{path}: {v['id']} ({v['impact']}): {v['help']} {targets}")

    for path in signed_in:
        audit(path)
        documents.append(tmp_path / f"signed-in-{len(documents):02d}.html")
        documents[-1].write_text("<!DOCTYPE html>\n" + browser.page_source)
    browser.delete_all_cookies()
    for path in anonymous:
        audit(path)

    checked = subprocess.run(
        ["java", "-jar", str(VNU_JAR), "--errors-only", "--format", "text", *map(str, documents)],
        capture_output=True, text=True, timeout=300,
    )
    assert checked.returncode == 0, f"the Nu HTML Checker found errors:\n{checked.stdout}{checked.stderr}"
    assert not violations, "axe-core: serious or critical violations:\n" + "\n".join(violations)
