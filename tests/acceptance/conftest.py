"""Fixtures for the acceptance suite: one real ferrodon server per database engine.

Environment:
  FERRODON_BIN         path of the ferrodon binary (required)
  TEST_DATABASE_URL    an admin URL of a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/postgres.
                       Unset: the postgres engine is skipped, except with CI=true, where that is an error.
  FERRODON_OPENAPI_SPEC  optional; defaults to ../shared/reference/openapi/mastodon-openapi.json
                       beside the repository.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator, Optional

import pytest
from mastodon import Mastodon

from support import (
    APP_NAME,
    APP_WEBSITE,
    CALLBACK,
    DEFAULT_OPENAPI_PATH,
    OOB,
    SCOPES,
    App,
    OpenApiValidator,
    Server,
    User,
    UserFactory,
    create_database,
    drop_database,
)

PG_SKIP_REASON = (
    "postgres engine skipped: TEST_DATABASE_URL is not set "
    "(set it to an admin URL such as postgres://postgres@127.0.0.1:5432/postgres)"
)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def _engine_params() -> list:
    postgres_marks = []
    if not os.environ.get("TEST_DATABASE_URL") and not _in_ci():
        postgres_marks.append(pytest.mark.skip(reason=PG_SKIP_REASON))
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=postgres_marks),
    ]


def pytest_report_header(config: pytest.Config) -> list[str]:
    lines = [f"ferrodon binary (FERRODON_BIN): {os.environ.get('FERRODON_BIN') or '<unset>'}"]
    if os.environ.get("TEST_DATABASE_URL"):
        lines.append("postgres engine: enabled (TEST_DATABASE_URL is set)")
    elif _in_ci():
        lines.append("postgres engine: TEST_DATABASE_URL is unset and CI=true: the postgres runs will FAIL")
    else:
        lines.append(PG_SKIP_REASON)
    return lines


# --------------------------------------------------------------------------------------------
# OpenAPI validation: responses are checked in a requests hook; failures fail the running test.
# --------------------------------------------------------------------------------------------

_VALIDATOR: Optional[OpenApiValidator] = None


@pytest.fixture(scope="session")
def openapi_validator() -> OpenApiValidator:
    global _VALIDATOR
    path = Path(os.environ.get("FERRODON_OPENAPI_SPEC") or DEFAULT_OPENAPI_PATH)
    if not path.is_file():
        pytest.fail(
            f"Mastodon's OpenAPI description is missing at {path} "
            "(expected ../shared/reference/openapi/mastodon-openapi.json beside the repository, "
            "or set FERRODON_OPENAPI_SPEC)",
            pytrace=False,
        )
    _VALIDATOR = OpenApiValidator(path)
    return _VALIDATOR


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item):
    if _VALIDATOR is not None:
        _VALIDATOR.drain()  # whatever the previous test's teardown caused is not this test's fault
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    try:
        result = yield
    except BaseException:
        failures = _VALIDATOR.drain() if _VALIDATOR is not None else []
        if failures:
            item.add_report_section("call", "OpenAPI mismatches", "\n\n".join(failures))
        raise
    failures = _VALIDATOR.drain() if _VALIDATOR is not None else []
    if failures:
        pytest.fail(
            f"{len(failures)} response(s) do not match Mastodon's OpenAPI description "
            "(see OPENAPI_ALLOWLIST in support.py for documented exceptions):\n\n" + "\n\n".join(failures),
            pytrace=False,
        )
    return result


def pytest_terminal_summary(terminalreporter) -> None:
    if _VALIDATOR is None:
        return
    terminalreporter.write_line(f"OpenAPI: {_VALIDATOR.checked} responses validated against {_VALIDATOR.spec_path.name}")
    if _VALIDATOR.undocumented:
        terminalreporter.write_line(
            "OpenAPI: not in the description, so not validated: " + ", ".join(sorted(_VALIDATOR.undocumented))
        )


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    report = yield
    if report.failed:
        server = getattr(item, "funcargs", {}).get("server")
        if isinstance(server, Server):
            report.sections.append((f"ferrodon log tail ({server.engine})", server.log_tail(60)))
    return report


# --------------------------------------------------------------------------------------------
# The server, one per engine
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def ferrodon_bin() -> str:
    value = os.environ.get("FERRODON_BIN")
    if not value:
        pytest.fail(
            "FERRODON_BIN is not set: point it at the ferrodon binary to test, "
            "e.g. FERRODON_BIN=$PWD/target/debug/ferrodon pytest tests/acceptance",
            pytrace=False,
        )
    path = shutil.which(value) or value
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"FERRODON_BIN={value!r} is not an executable file", pytrace=False)
    return os.path.abspath(path)


@pytest.fixture(scope="session", params=_engine_params())
def server(request: pytest.FixtureRequest, ferrodon_bin: str, openapi_validator: OpenApiValidator, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    engine: str = request.param
    workdir = tmp_path_factory.mktemp(f"ferrodon-{engine}")
    admin_url: Optional[str] = None
    database: Optional[str] = None
    database_url: Optional[str] = None
    failure: Optional[str] = None
    if engine == "postgres":
        admin_url = os.environ.get("TEST_DATABASE_URL")
        if not admin_url:
            pytest.fail("CI=true but TEST_DATABASE_URL is unset: the PostgreSQL engine must be tested in CI", pytrace=False)
        try:
            database, database_url = create_database(admin_url)
        except Exception as exc:
            failure = str(exc)
        if failure:
            pytest.fail(failure, pytrace=False)

    srv = Server(ferrodon_bin, engine, workdir, openapi_validator, database_url)
    try:
        srv.start()
    except Exception as exc:  # the message carries the server's log
        failure = f"could not start ferrodon ({engine}): {exc}"
        srv.stop()
        if database and admin_url:
            drop_database(admin_url, database)
    if failure:
        pytest.fail(failure, pytrace=False)

    yield srv

    died = srv.died()
    srv.stop()
    if database and admin_url:
        drop_database(admin_url, database)
    if died:
        raise RuntimeError(f"ferrodon serve ({engine}) exited during the run\n{srv.log_tail()}")


@pytest.fixture(scope="session")
def app(server: Server) -> App:
    """One OAuth app per server, registered through Mastodon.py with both redirect URIs."""
    client_id, client_secret = Mastodon.create_app(
        APP_NAME,
        scopes=SCOPES,
        redirect_uris=[OOB, CALLBACK],
        website=APP_WEBSITE,
        api_base_url=server.base_url,
        session=server.session(),
    )
    return App(str(client_id), str(client_secret))


@pytest.fixture(scope="session")
def make_user(server: Server, app: App) -> UserFactory:
    """``make_user("prefix")`` creates a confirmed user with the CLI and signs it in through the HTML flow."""
    return UserFactory(server, app)


# Users shared by the tests of one module. Tests that change relationships make their own.
@pytest.fixture(scope="module")
def alice(make_user: UserFactory) -> User:
    return make_user("alice")


@pytest.fixture(scope="module")
def bob(make_user: UserFactory) -> User:
    return make_user("bob")


@pytest.fixture(scope="module")
def carol(make_user: UserFactory) -> User:
    return make_user("carol")


@pytest.fixture
def anonymous(server: Server) -> Mastodon:
    return server.client()
