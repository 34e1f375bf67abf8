#!/usr/bin/env python3
"""Timeline benchmark: home and public timeline throughput, latency and memory of `ferrodon serve`
on SQLite and on PostgreSQL.

For each engine it seeds a data set with `ferrodon seed` (or reuses one with --reuse), starts the
server on a free loopback port, measures its idle resident memory, then runs wrk against
GET /api/v1/timelines/home (every request a different seeded user, see rotate_tokens.lua) and
GET /api/v1/timelines/public while sampling the server's resident memory, and prints a table with
the targets of the issue next to the results. wrk runs on the same machine and takes CPU from the
server; the table says how the CPU was shared.

    python3 benches/timelines.py                                   # full size, both engines
    python3 benches/timelines.py --accounts 1000 --statuses 50000 --duration 5
    python3 benches/timelines.py --engines sqlite --reuse --json out.json

Python 3 standard library only; needs wrk (apt-get install wrk), and psql plus a PostgreSQL server
for the postgres engine. See benches/README.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

BENCH_DIR = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(BENCH_DIR)
LUA = os.path.join(BENCH_DIR, "rotate_tokens.lua")
PG_DATABASE = "ferrodon_bench"

TARGET_HOME_RPS = 3000.0
TARGET_P99_MS = 25.0
# The public profile page (HTML, anonymous): the most-hit page of an instance, and crawlers'.
TARGET_PROFILE_RPS = 2000.0
TARGET_PROFILE_P99_MS = 20.0
TARGET_IDLE_RSS_MB = 40.0
# Percent of one core used by other processes during a run above which the report warns.
BUSY_WARNING_PERCENT = 20.0

ENDPOINTS = {
    "home": "/api/v1/timelines/home",
    "public": "/api/v1/timelines/public",
    # `{user}`: the first seeded user (of the tokens file), whose page shows 20 posts.
    "profile": "/@{user}",
}


def endpoint_path(endpoint: str, tokens_file: str) -> str:
    path = ENDPOINTS[endpoint]
    if "{user}" in path:
        with open(tokens_file) as f:
            path = path.replace("{user}", f.readline().split()[0])
    return path


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# The binary


def build_binary() -> str:
    """`cargo build --release -p ferrodon-cli` in the repository; returns the executable's path."""
    log("building the release binary (cargo build --release --locked -p ferrodon-cli)")
    proc = subprocess.run(
        ["cargo", "build", "--release", "--locked", "-p", "ferrodon-cli", "--message-format=json-render-diagnostics"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        raise BenchError("cargo build failed (see the messages above)")
    executable = None
    for line in proc.stdout.splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("reason") == "compiler-artifact" and message.get("executable"):
            if message["target"]["name"] == "ferrodon":
                executable = message["executable"]
    if not executable:
        raise BenchError("cargo build did not report the ferrodon executable")
    return executable


def binary_version(binary: str) -> str:
    try:
        return subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except OSError as e:
        raise BenchError(f"cannot run {binary}: {e}") from e


def git_describe() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short=12", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=30
        )
        if head.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return head.stdout.strip() + ("-dirty" if dirty.stdout.strip() else "")
    except OSError:
        return None


def run_checked(cmd: list[str], env: dict[str, str], what: str, log_path: str) -> float:
    """Runs a command with its output going to log_path; returns its wall time in seconds."""
    started = time.monotonic()
    with open(log_path, "a") as out:
        out.write(f"$ {' '.join(cmd)}\n")
        out.flush()
        proc = subprocess.run(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if proc.returncode != 0:
        raise BenchError(f"{what} failed with exit code {proc.returncode}:\n{tail(log_path)}")
    return time.monotonic() - started


def tail(path: str, lines: int = 30) -> str:
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


# ---------------------------------------------------------------------------------------------
# Engines: where the data lives, how to seed it, how to point the server at it


class Engine:
    name = ""

    def __init__(self, args: argparse.Namespace, binary: str):
        self.args = args
        self.binary = binary
        self.dir = os.path.join(args.workdir, self.name)
        self.data_dir = os.path.join(self.dir, "data")
        self.tokens_file = os.path.join(self.dir, "tokens.txt")
        self.marker = os.path.join(self.dir, "seeded.json")
        self.seed_log = os.path.join(self.dir, "seed.log")

    def wanted(self) -> dict:
        a = self.args
        return {"accounts": a.accounts, "statuses": a.statuses, "follows": a.follows, "tokens": a.tokens}

    def env(self, port: int | None = None) -> dict[str, str]:
        env = dict(os.environ)
        for key in ("DATABASE_URL", "DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASS", "DB_SSLMODE"):
            env.pop(key, None)
        env["FERRODON_DATA_DIR"] = self.data_dir
        env["RUST_LOG"] = "warn"
        env["BIND"] = "127.0.0.1"
        if port is not None:
            env["PORT"] = str(port)
            env["LOCAL_DOMAIN"] = f"localhost:{port}"
        env.update(self.engine_env())
        for item in self.args.env:
            key, _, value = item.partition("=")
            env[key] = value
        return env

    def engine_env(self) -> dict[str, str]:
        return {}

    def existing_seed(self) -> dict | None:
        try:
            with open(self.marker) as f:
                marker = json.load(f)
        except (OSError, ValueError):
            return None
        if {k: marker.get(k) for k in self.wanted()} != self.wanted():
            return None
        if not os.path.exists(self.tokens_file) or not self.data_present(marker):
            return None
        return marker

    def prepare(self) -> dict:
        """Seeds the data set, or reuses the one there. Returns what the marker records."""
        if self.args.reuse:
            marker = self.existing_seed()
            if marker:
                log(f"{self.name}: reusing the data set in {self.dir} (seeded {marker.get('seeded_at')})")
                self.after_reuse()
                marker["reused"] = True
                return marker
            log(f"{self.name}: no matching data set to reuse; seeding")
        os.makedirs(self.dir, exist_ok=True)
        for path in (self.marker, self.tokens_file, self.seed_log):
            if os.path.exists(path):
                os.remove(path)
        self.reset()
        a = self.args
        log(f"{self.name}: seeding {a.accounts} accounts, {a.statuses} statuses, {a.follows} follows each")
        cmd = [
            self.binary,
            "seed",
            "--accounts", str(a.accounts),
            "--statuses", str(a.statuses),
            "--follows", str(a.follows),
            "--tokens", str(a.tokens),
            "--tokens-file", self.tokens_file,
        ]
        seconds = run_checked(cmd, self.env(), f"{self.name}: ferrodon seed", self.seed_log)
        marker = dict(self.wanted())
        marker["data_set_id"] = uuid.uuid4().hex
        seconds += self.after_seed(marker["data_set_id"])
        log(f"{self.name}: seeded in {seconds:.0f} s")
        marker.update(
            {
                "seeded_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
                "seed_seconds": round(seconds, 1),
                "binary_version": binary_version(self.binary),
            }
        )
        with open(self.marker, "w") as f:
            json.dump(marker, f, indent=2)
        marker["reused"] = False
        return marker

    # Overridden per engine.
    def data_present(self, marker: dict) -> bool:
        """Whether the data set the marker describes (and whose tokens are in tokens.txt) is there."""
        raise NotImplementedError

    def reset(self) -> None:
        raise NotImplementedError

    def after_seed(self, data_set_id: str) -> float:
        return 0.0

    def after_reuse(self) -> None:
        pass

    def database_size(self) -> int | None:
        return None


class Sqlite(Engine):
    name = "sqlite"

    def data_present(self, marker: dict) -> bool:
        # The database lives in this work directory, next to its marker and tokens.
        return os.path.isdir(self.data_dir) and any(n.endswith((".db", ".sqlite", ".sqlite3")) for n in os.listdir(self.data_dir))

    def reset(self) -> None:
        shutil.rmtree(self.data_dir, ignore_errors=True)
        os.makedirs(self.data_dir)

    def database_size(self) -> int | None:
        total = 0
        for root, _, files in os.walk(self.data_dir):
            for name in files:
                total += os.path.getsize(os.path.join(root, name))
        return total


class Postgres(Engine):
    name = "postgres"

    def __init__(self, args: argparse.Namespace, binary: str):
        super().__init__(args, binary)
        parts = urllib.parse.urlsplit(args.database_url)
        if parts.scheme not in ("postgres", "postgresql"):
            raise BenchError(f"--database-url must be a postgres:// URL, not {args.database_url}")
        self.admin_url = args.database_url
        self.url = urllib.parse.urlunsplit(parts._replace(path="/" + PG_DATABASE))

    def engine_env(self) -> dict[str, str]:
        return {"DATABASE_URL": self.url}

    def psql(self, url: str, sql: str) -> str:
        if not shutil.which("psql"):
            raise BenchError("psql is not installed (apt-get install postgresql-client)")
        proc = subprocess.run(
            ["psql", url, "-v", "ON_ERROR_STOP=1", "-qtAX", "-c", sql], capture_output=True, text=True
        )
        if proc.returncode != 0:
            raise BenchError(f"psql failed on {sql!r}: {proc.stderr.strip()}")
        return proc.stdout.strip()

    def data_present(self, marker: dict) -> bool:
        # One database for every work directory: it is this marker's data set (and tokens) only
        # if it carries the marker's identifier, which seeding put in the database's comment.
        comment = self.psql(
            self.admin_url,
            f"SELECT shobj_description(oid, 'pg_database') FROM pg_database WHERE datname = '{PG_DATABASE}'",
        )
        return bool(marker.get("data_set_id")) and comment == f"ferrodon-bench {marker['data_set_id']}"

    def reset(self) -> None:
        os.makedirs(self.data_dir, exist_ok=True)
        self.psql(self.admin_url, f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        self.psql(self.admin_url, f"CREATE DATABASE {PG_DATABASE}")
        run_checked([self.binary, "migrate"], self.env(), "postgres: ferrodon migrate", self.seed_log)

    def after_seed(self, data_set_id: str) -> float:
        log("postgres: VACUUM ANALYZE")
        started = time.monotonic()
        self.psql(self.url, "VACUUM ANALYZE")
        self.psql(self.admin_url, f"COMMENT ON DATABASE {PG_DATABASE} IS 'ferrodon-bench {data_set_id}'")
        return time.monotonic() - started

    def after_reuse(self) -> None:
        # A newer binary may bring migrations; `serve` refuses to start on PostgreSQL until applied.
        run_checked([self.binary, "migrate"], self.env(), "postgres: ferrodon migrate", self.seed_log)

    def database_size(self) -> int | None:
        try:
            return int(self.psql(self.admin_url, f"SELECT pg_database_size('{PG_DATABASE}')"))
        except (BenchError, ValueError):
            return None


# ---------------------------------------------------------------------------------------------
# /proc: memory and CPU


def rss_kb(pid: int) -> int | None:
    return proc_status_kb(pid, "VmRSS")


def proc_status_kb(pid: int, field: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_snapshot() -> tuple[float, dict[int, tuple[str, float]]]:
    """Busy CPU seconds of the whole machine, and the CPU seconds and role of every process:
    a PostgreSQL process is "database" when it serves the benchmark's database or the whole
    cluster (checkpointer, WAL writer...), "postgres-other" when it is another database's backend."""
    with open("/proc/stat") as f:
        fields = f.readline().split()[1:]
    # user nice system idle iowait irq softirq steal
    values = [int(v) for v in fields[:8]]
    busy = (values[0] + values[1] + values[2] + values[5] + values[6] + values[7]) / CLK_TCK
    procs: dict[int, tuple[str, float]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                raw = f.read()
            name = raw[raw.find("(") + 1 : raw.rfind(")")]
            if name == "postgres":
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    title = f.read().replace(b"\0", b" ").decode(errors="replace")
                # Backends are titled "postgres: [CLUSTER: ]USER DATABASE HOST(PORT) STATE".
                backend = re.match(r"postgres: (?:[^:]+: )?\S+ (\S+) (?:\S+\(\d+\)|\[local\])", title)
                if backend and backend.group(1) != PG_DATABASE:
                    name = "postgres-other"
        except OSError:
            continue
        rest = raw[raw.rfind(")") + 2 :].split()
        # After the name: state(3) ... utime(14) stime(15), counted from 1 with pid and comm.
        procs[int(entry)] = (name, (int(rest[11]) + int(rest[12])) / CLK_TCK)
    return busy, procs


def cpu_shares(before, after, seconds: float, server_pid: int, wrk_cpu: float) -> dict:
    """CPU used during a window, in percent of one core: the server, PostgreSQL, wrk (given, in
    CPU seconds) and everything else on the machine (other users' processes, this script)."""
    busy = after[0] - before[0]
    used = {"server": 0.0, "database": 0.0, "wrk": wrk_cpu}
    for pid, (name, total) in after[1].items():
        start = before[1].get(pid)
        delta = total - (start[1] if start and start[0] == name else 0.0)
        if pid == server_pid:
            used["server"] += delta
        elif name == "postgres":
            used["database"] += delta
    used["other"] = max(0.0, busy - sum(used.values()))
    return {k: round(100.0 * v / seconds, 1) for k, v in used.items()}


def other_load(server_pid: int, window: float = 2.0) -> float:
    """Percent of one core used by everything but the server and its database over `window` s."""
    before = cpu_snapshot()
    time.sleep(window)
    return cpu_shares(before, cpu_snapshot(), window, server_pid, 0.0)["other"]


def wait_quiet(server: "Server", limit: float, threshold: float = 15.0) -> tuple[float, float]:
    """Waits up to `limit` seconds until other processes use less than `threshold` percent of a
    core; returns the last reading and the seconds waited."""
    started = time.monotonic()
    load = other_load(server.pid)
    while load >= threshold and time.monotonic() - started < limit:
        server.check_alive("while waiting for a quiet machine")
        log(f"other processes use {load:.0f}% of a core; waiting for a quiet machine")
        load = other_load(server.pid, 5.0)
    return load, time.monotonic() - started


class RssSampler:
    """Samples a process's VmRSS every `interval` seconds in a thread; keeps the peak."""

    def __init__(self, pid: int, interval: float = 0.05):
        self.pid = pid
        self.interval = interval
        self.peak_kb = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            kb = rss_kb(self.pid)
            if kb is not None:
                self.peak_kb = max(self.peak_kb, kb)
                self.samples += 1
            self._stop.wait(self.interval)

    def __enter__(self) -> "RssSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------------------------------------
# The server


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, engine: Engine):
        self.engine = engine
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = os.path.join(engine.dir, "server.log")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120.0) -> None:
        log(f"{self.engine.name}: starting the server on port {self.port}")
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [self.engine.binary, "serve"],
            env=self.engine.env(self.port),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.engine.dir,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BenchError(
                    f"{self.engine.name}: the server exited with code {self.proc.returncode}:\n{tail(self.log_path)}"
                )
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=2) as r:
                    if r.status == 200:
                        return
            except (urllib.error.URLError, OSError):
                pass
            time.sleep(0.1)
        raise BenchError(f"{self.engine.name}: /health did not answer within {timeout:.0f} s:\n{tail(self.log_path)}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def check_alive(self, when: str) -> None:
        assert self.proc is not None
        code = self.proc.poll()
        if code is not None:
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            raise BenchError(f"the server {how} {when} (not stopped by this benchmark):\n{tail(self.log_path)}")

    def get(self, path: str, token: str | None = None) -> tuple[int, bytes]:
        request = urllib.request.Request(self.base + path)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        try:
            with urllib.request.urlopen(request, timeout=30) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                log(f"{self.engine.name}: the server did not stop within 30 s of SIGTERM; killing it")
                self.proc.kill()
                self.proc.wait()
        self._log.close()
        return self.proc.returncode


# ---------------------------------------------------------------------------------------------
# wrk


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0, "h": 3_600_000.0}


def parse_duration_ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not m:
        raise BenchError(f"cannot read the wrk time {text!r}")
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def parse_wrk(output: str) -> dict:
    """Reads wrk's --latency report: requests/s, latency percentiles, socket errors, non-2xx/3xx."""
    result: dict = {}
    m = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.M)
    if not m:
        raise BenchError(f"no Requests/sec in the wrk output:\n{output}")
    result["requests_per_second"] = float(m.group(1))
    m = re.search(r"^\s*(\d+) requests in ([\d.]+\w+),", output, re.M)
    if not m:
        raise BenchError(f"no request count in the wrk output:\n{output}")
    result["requests"] = int(m.group(1))
    result["wrk_seconds"] = round(parse_duration_ms(m.group(2)) / 1000.0, 2)
    percentiles = {}
    block = output.split("Latency Distribution", 1)
    if len(block) == 2:
        for p, value in re.findall(r"^\s+(\d+)%\s+(\S+)", block[1], re.M):
            percentiles[int(p)] = parse_duration_ms(value)
    if 50 not in percentiles or 99 not in percentiles:
        raise BenchError(f"no latency distribution in the wrk output (run with --latency):\n{output}")
    result["latency_ms"] = {f"p{p}": round(v, 3) for p, v in sorted(percentiles.items())}
    m = re.search(r"^\s+Latency\s+(\S+)\s+(\S+)\s+(\S+)", output, re.M)
    if m:
        result["latency_ms"]["mean"] = round(parse_duration_ms(m.group(1)), 3)
        result["latency_ms"]["max"] = round(parse_duration_ms(m.group(3)), 3)
    errors = {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    if m:
        errors = dict(zip(errors, map(int, m.groups())))
    result["socket_errors"] = errors
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    result["non_2xx_3xx"] = int(m.group(1)) if m else 0
    result["errors"] = sum(errors.values()) + result["non_2xx_3xx"]
    return result


def run_wrk(server: Server, endpoint: str, tokens_file: str, seconds: float, args: argparse.Namespace,
            measure: bool) -> dict | None:
    server.check_alive(f"before the {'measured' if measure else 'warm-up'} {endpoint} run")
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, int(round(seconds)))}s",
        "--timeout", f"{args.timeout}s",
        "--latency",
    ]
    if endpoint == "home":
        cmd += ["-s", LUA]
    cmd.append(server.base + endpoint_path(endpoint, tokens_file))
    if endpoint == "home":
        cmd += ["--", tokens_file]
    if not measure:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        server.check_alive(f"during the warm-up {endpoint} run")
        if proc.returncode != 0:
            raise BenchError(f"wrk failed:\n{proc.stdout}{proc.stderr}")
        return None

    before = cpu_snapshot()
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    with RssSampler(server.pid) as sampler:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = proc.communicate()
    elapsed = time.monotonic() - started
    after = cpu_snapshot()
    # wrk has exited and left /proc; its CPU time is in this process's children's rusage.
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    server.check_alive(f"during the measured {endpoint} run")
    if proc.returncode != 0:
        raise BenchError(f"wrk failed with exit code {proc.returncode}:\n{out}{err}")
    result = parse_wrk(out)
    result["command"] = " ".join(cmd)
    result["peak_rss_kb"] = sampler.peak_kb
    result["rss_samples"] = sampler.samples
    result["cpu_percent_of_one_core"] = cpu_shares(before, after, elapsed, server.pid, wrk_cpu)
    result["wrk_output"] = out
    if err.strip():
        result["wrk_stderr"] = err
    return result


# ---------------------------------------------------------------------------------------------
# One engine


def sanity_check(server: Server, tokens_file: str) -> dict:
    """One request per endpoint before the load: both must answer 200 with a non-empty page, or the
    numbers would measure an error page or an empty timeline."""
    with open(tokens_file) as f:
        first = f.readline().split()
    if len(first) != 2:
        raise BenchError(f"{tokens_file} has no `username token` line")
    checks = {}
    for endpoint, token in (("home", first[1]), ("public", None)):
        status, body = server.get(ENDPOINTS[endpoint], token)
        if status != 200:
            raise BenchError(f"GET {ENDPOINTS[endpoint]} answered {status}: {body[:500]!r}")
        try:
            items = json.loads(body)
        except ValueError as e:
            raise BenchError(f"GET {ENDPOINTS[endpoint]} did not return JSON: {body[:200]!r}") from e
        if not isinstance(items, list) or not items:
            raise BenchError(f"GET {ENDPOINTS[endpoint]} returned an empty timeline; the data set is not usable")
        checks[endpoint] = {"statuses_per_page": len(items), "response_bytes": len(body)}
    path = endpoint_path("profile", tokens_file)
    status, body = server.get(path, None)
    if status != 200:
        raise BenchError(f"GET {path} answered {status}: {body[:500]!r}")
    posts = body.count(b"<article")
    if posts < 20:
        raise BenchError(f"GET {path} shows {posts} posts; the benchmark wants a profile with 20")
    checks["profile"] = {"statuses_per_page": posts, "response_bytes": len(body)}
    return checks


def bench_engine(engine: Engine, args: argparse.Namespace) -> dict:
    data = engine.prepare()
    with open(engine.tokens_file) as f:
        token_count = sum(1 for line in f if line.strip())
    result: dict = {
        "engine": engine.name,
        "data_set": {k: data.get(k) for k in ("accounts", "statuses", "follows", "tokens", "seeded_at",
                                               "seed_seconds", "reused")},
        "tokens_rotated": token_count,
        "runs": {},
    }
    server = Server(engine)
    try:
        server.start()
        result["startup_rss_kb"] = rss_kb(server.pid)
        result["page"] = sanity_check(server, engine.tokens_file)
        # Let the server settle after start-up (pool connections, first queries) without load.
        time.sleep(args.warmup)
        result["idle_rss_kb"] = rss_kb(server.pid)
        log(f"{engine.name}: idle RSS {result['idle_rss_kb'] / 1024:.1f} MB")
        for endpoint in args.endpoints:
            log(f"{engine.name}: warm-up {endpoint} ({args.warmup:.0f} s)")
            run_wrk(server, endpoint, engine.tokens_file, args.warmup, args, measure=False)
            if args.wait_quiet > 0:
                load, waited = wait_quiet(server, args.wait_quiet)
                result.setdefault("quiet_wait", {})[endpoint] = {"other_load_percent": load, "waited_seconds": round(waited, 1)}
            log(f"{engine.name}: measuring {endpoint} ({args.duration:.0f} s, -t{args.threads} -c{args.connections})")
            run = run_wrk(server, endpoint, engine.tokens_file, args.duration, args, measure=True)
            assert run is not None
            result["runs"][endpoint] = run
            flag = f", {run['errors']} ERRORS" if run["errors"] else ""
            log(
                f"{engine.name}: {endpoint}: {run['requests_per_second']:.0f} req/s, "
                f"p50 {run['latency_ms']['p50']:.2f} ms, p99 {run['latency_ms']['p99']:.2f} ms, "
                f"peak RSS {run['peak_rss_kb'] / 1024:.1f} MB{flag}"
            )
        time.sleep(2)
        result["idle_rss_after_load_kb"] = rss_kb(server.pid)
        # Anonymous memory (heap, SQLite's page cache) versus mapped files (the binary itself).
        result["rss_breakdown_after_load_kb"] = {
            field: proc_status_kb(server.pid, field) for field in ("RssAnon", "RssFile", "RssShmem")
        }
        result["peak_rss_hwm_kb"] = proc_status_kb(server.pid, "VmHWM")
    finally:
        died = server.proc is not None and server.proc.poll() is not None
        code = server.stop()
        result["server_exit_code"] = code
        # After a clean stop, so SQLite's write-ahead log is checkpointed into the database file.
        result["database_bytes"] = engine.database_size()
        if code not in (0, None) and not died:
            log(f"{engine.name}: the server exited with code {code} after SIGTERM:\n{tail(server.log_path)}")
    return result


# ---------------------------------------------------------------------------------------------
# Report


def mb(kb: int | None) -> str:
    return "-" if kb is None else f"{kb / 1024:.1f}"


def evaluate(results: list[dict]) -> list[dict]:
    checks = []
    for r in results:
        home = r["runs"].get("home")
        if home is not None:
            value = home["requests_per_second"]
            ok = value >= TARGET_HOME_RPS and home["errors"] == 0
            checks.append({"engine": r["engine"], "target": f"home req/s >= {TARGET_HOME_RPS:.0f}",
                           "value": value, "pass": ok, "errors": home["errors"]})
        profile = r["runs"].get("profile")
        if profile is not None:
            value = profile["requests_per_second"]
            ok = value >= TARGET_PROFILE_RPS and profile["errors"] == 0
            checks.append({"engine": r["engine"], "target": f"profile req/s >= {TARGET_PROFILE_RPS:.0f}",
                           "value": value, "pass": ok, "errors": profile["errors"]})
        for endpoint, run in r["runs"].items():
            target = TARGET_PROFILE_P99_MS if endpoint == "profile" else TARGET_P99_MS
            value = run["latency_ms"]["p99"]
            ok = value <= target and run["errors"] == 0
            checks.append({"engine": r["engine"], "target": f"{endpoint} p99 <= {target:.0f} ms",
                           "value": value, "pass": ok, "errors": run["errors"]})
        value = r["idle_rss_kb"] / 1024 if r.get("idle_rss_kb") else None
        checks.append({"engine": r["engine"], "target": f"idle RSS <= {TARGET_IDLE_RSS_MB:.0f} MB",
                       "value": value, "pass": value is not None and value <= TARGET_IDLE_RSS_MB, "errors": 0})
    return checks


def render(report: dict) -> str:
    lines = []
    m = report["machine"]
    lines.append(
        f"ferrodon timelines benchmark, {report['date']}: {m['cpus']} CPUs ({m['cpu_model']}), "
        f"{m['memory_gb']} GB RAM, {report['binary_version']}"
        + (f" at {report['git']}" if report.get("git") else "")
    )
    lines.append(f"command: {report['command']}")
    lines.append(f"binary: {report['binary']}")
    a = report["settings"]
    lines.append(
        f"data set: {a['accounts']} accounts, {a['statuses']} statuses, {a['follows']} follows each; "
        f"wrk -t{a['threads']} -c{a['connections']} -d{a['duration']:.0f}s --latency, on the same machine as the server"
    )
    lines.append("")
    lines.append("| engine | endpoint | req/s | p50 ms | p99 ms | errors | idle RSS MB | peak RSS MB | CPU % server/db/wrk/other |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for r in report["results"]:
        if "error" in r:
            lines.append(f"| {r['engine']} | FAILED: {r['error'].splitlines()[0]} | | | | | | | |")
            continue
        for endpoint, run in r["runs"].items():
            cpu = run["cpu_percent_of_one_core"]
            errors = str(run["errors"])
            if run["errors"]:
                parts = [f"{k} {v}" for k, v in run["socket_errors"].items() if v]
                if run["non_2xx_3xx"]:
                    parts.append(f"non-2xx {run['non_2xx_3xx']}")
                errors = f"**{run['errors']}** ({', '.join(parts)})"
            lines.append(
                f"| {r['engine']} | {endpoint} | {run['requests_per_second']:.0f} | "
                f"{run['latency_ms']['p50']:.2f} | {run['latency_ms']['p99']:.2f} | {errors} | "
                f"{mb(r.get('idle_rss_kb'))} | {mb(run['peak_rss_kb'])} | "
                f"{cpu['server']:.0f}/{cpu['database']:.0f}/{cpu['wrk']:.0f}/{cpu['other']:.0f} |"
            )
    lines.append("")
    for r in report["results"]:
        if "error" in r:
            continue
        d = r["data_set"]
        size = f"{r['database_bytes'] / 2**20:.0f} MB" if r.get("database_bytes") else "?"
        how = "reused" if d.get("reused") else f"seeded in {d.get('seed_seconds')} s"
        lines.append(
            f"{r['engine']}: database {size} ({how}); RSS at start {mb(r.get('startup_rss_kb'))} MB, "
            f"idle {mb(r.get('idle_rss_kb'))} MB, idle after the load {mb(r.get('idle_rss_after_load_kb'))} MB, "
            f"high-water mark {mb(r.get('peak_rss_hwm_kb'))} MB; {r['tokens_rotated']} users' home timelines rotated"
        )
    busy = [
        f"{r['engine']} {endpoint} ({run['cpu_percent_of_one_core']['other']:.0f}%)"
        for r in report["results"]
        for endpoint, run in r["runs"].items()
        if run["cpu_percent_of_one_core"]["other"] > BUSY_WARNING_PERCENT
    ]
    if busy:
        lines.append("")
        lines.append(
            "WARNING: other processes on the machine used CPU during " + ", ".join(busy)
            + " (percent of one core); those runs understate the server."
        )
    lines.append("")
    lines.append("Targets (a run with errors fails its targets):")
    for c in report["checks"]:
        value = "-" if c["value"] is None else f"{c['value']:.1f}"
        note = f" ({c['errors']} errors)" if c["errors"] else ""
        lines.append(f"  {'PASS' if c['pass'] else 'FAIL'}  {c['engine']:<8} {c['target']:<24} measured {value}{note}")
    lines.append("")
    lines.append(
        "Note: wrk runs on the same machine and shares its CPUs with the server (and PostgreSQL); "
        "the CPU column is percent of one core during the run (server / PostgreSQL / wrk / everything else, "
        f"of {os.cpu_count() * 100}% in all)."
    )
    return "\n".join(lines)


def machine_info() -> dict:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    memory_gb = None
    try:
        with open("/proc/meminfo") as f:
            memory_gb = round(int(f.readline().split()[1]) / 2**20, 1)
    except (OSError, ValueError, IndexError):
        pass
    try:
        wrk = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.splitlines()[0].strip()
    except (OSError, IndexError):
        wrk = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": memory_gb,
        "kernel": platform.release(),
        "wrk": wrk,
        "load_average_at_start": os.getloadavg(),
    }


# ---------------------------------------------------------------------------------------------


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engines", default="sqlite,postgres", help="comma-separated: sqlite, postgres (default both)")
    p.add_argument("--endpoints", default="home,public,profile",
                   help="comma-separated: home, public, profile (the public HTML page of a seeded user; default all)")
    p.add_argument("--accounts", type=int, default=10_000, help="seeded accounts (default 10000)")
    p.add_argument("--statuses", type=int, default=1_000_000, help="seeded statuses (default 1000000)")
    p.add_argument("--follows", type=int, default=50, help="accounts each account follows (default 50)")
    p.add_argument("--tokens", type=int, default=1000, help="users with a token, rotated by wrk (default 1000)")
    p.add_argument("--duration", type=float, default=20, help="seconds per measurement (default 20)")
    p.add_argument("--warmup", type=float, default=3, help="seconds of warm-up load, and of idle settling (default 3)")
    p.add_argument("--connections", type=int, default=16, help="wrk connections (default 16)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2: the machine has 2 cores)")
    p.add_argument("--timeout", type=int, default=2, help="wrk request timeout in seconds (default 2)")
    p.add_argument("--workdir", default="/tmp/ferrodon-bench", help="data sets and logs (default /tmp/ferrodon-bench)")
    p.add_argument("--reuse", action="store_true", help="reuse a data set of the same size in --workdir if present")
    p.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/postgres",
                   help=f"PostgreSQL server to create and drop the database {PG_DATABASE} in")
    p.add_argument("--binary", help="the ferrodon binary (default: cargo build --release and use that)")
    p.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                   help="extra environment for seed and serve, e.g. DB_POOL=20 (repeatable)")
    p.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                   help="before each measurement, wait up to this long for other processes to go quiet "
                        "(under 15%% of a core); default 0: measure at once, and report their CPU")
    p.add_argument("--json", help="also write the results as JSON to this file")
    p.add_argument("--check", action="store_true", help="exit with 1 when a target fails (not only on errors)")
    args = p.parse_args(argv)
    args.engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    args.endpoints = [e.strip() for e in args.endpoints.split(",") if e.strip()]
    for e in args.engines:
        if e not in ("sqlite", "postgres"):
            p.error(f"unknown engine {e!r} (sqlite, postgres)")
    for e in args.endpoints:
        if e not in ENDPOINTS:
            p.error(f"unknown endpoint {e!r} ({', '.join(ENDPOINTS)})")
    for item in args.env:
        if "=" not in item:
            p.error(f"--env needs KEY=VALUE, not {item!r}")
    if args.accounts < 1 or args.statuses < 1 or args.tokens < 1:
        p.error("--accounts, --statuses and --tokens must be at least 1")
    if args.duration < 1:
        p.error("--duration must be at least 1 second")
    args.workdir = os.path.abspath(args.workdir)
    return args


def main(argv: list[str]) -> int:
    args = parse_args(argv)
    if not shutil.which("wrk"):
        print("wrk is not installed: apt-get install wrk", file=sys.stderr)
        return 2
    try:
        binary = os.path.abspath(args.binary) if args.binary else build_binary()
        version = binary_version(binary)
    except BenchError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    os.makedirs(args.workdir, exist_ok=True)
    report = {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "binary": binary,
        "binary_version": version,
        "git": git_describe() if not args.binary else None,
        "command": " ".join([os.path.relpath(__file__, os.getcwd())] + argv),
        "settings": {
            "accounts": args.accounts, "statuses": args.statuses, "follows": args.follows, "tokens": args.tokens,
            "duration": args.duration, "warmup": args.warmup, "connections": args.connections,
            "threads": args.threads, "timeout": args.timeout, "env": args.env,
            "load_generator": "wrk on the same machine as the server",
        },
        "targets": {"home_requests_per_second": TARGET_HOME_RPS, "p99_ms": TARGET_P99_MS,
                    "profile_requests_per_second": TARGET_PROFILE_RPS, "profile_p99_ms": TARGET_PROFILE_P99_MS,
                    "idle_rss_mb": TARGET_IDLE_RSS_MB},
        "results": [],
    }
    failed = False
    for name in args.engines:
        try:
            engine = Sqlite(args, binary) if name == "sqlite" else Postgres(args, binary)
            report["results"].append(bench_engine(engine, args))
        except BenchError as e:
            log(f"{name}: FAILED: {e}")
            report["results"].append({"engine": name, "error": str(e), "runs": {}})
            failed = True
    report["checks"] = evaluate([r for r in report["results"] if "error" not in r])
    text = render(report)
    print(text)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
        log(f"results written to {args.json}")
    errors = any(run["errors"] for r in report["results"] for run in r["runs"].values())
    if failed or errors:
        return 1
    if args.check and not all(c["pass"] for c in report["checks"]):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
