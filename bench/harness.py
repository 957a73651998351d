"""What every benchmark needs: the bot started on its own ports, the memory of its
processes, and locust run headless against it with every request's latency recorded."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterable, List, Optional

import psutil

from bot.config import ROOT
from bot.launcher import answers

BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
BASELINE = ROOT / "bench" / "baseline"
LOCUSTFILE = ROOT / "bench" / "locustfile.py"
RASA_PORT, ACTION_PORT = 16005, 16055
# Honest training times: Rasa's training cache would reuse earlier work.
NO_CACHE = {**os.environ, "RASA_MAX_CACHE_SIZE": "0", "TF_CPP_MIN_LOG_LEVEL": "2"}


def resident_mb(processes: Iterable[psutil.Process]) -> float:
    """Resident memory of these processes together, in MB."""
    return round(sum(p.memory_info().rss for p in processes) / 2 ** 20, 1)


def bench_environment(state: Path) -> Dict[str, str]:
    """The bot on bench ports, with its tracker database, endpoints and logs in ``state``."""
    return {**os.environ, "RASA_PORT": str(RASA_PORT), "ACTION_PORT": str(ACTION_PORT),
            "WEB_PORT": str(RASA_PORT + 3000), "BOT_STATE_DIR": str(state),
            "TRACKER_DB_URL": f"sqlite:///{state / 'tracker.db'}", "PYTHONPATH": str(ROOT)}


class RunningBot:
    """``make run``'s launcher on bench ports with a fresh tracker database."""

    def __init__(self) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="bench-"))
        self.env = bench_environment(self.state)
        self.launcher: Optional[subprocess.Popen] = None
        self.ready_after = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{RASA_PORT}"

    def __enter__(self) -> "RunningBot":
        started = time.monotonic()
        self.launcher = subprocess.Popen([sys.executable, "-m", "bot.launcher"], cwd=ROOT,
                                         env=self.env, stdout=subprocess.PIPE,
                                         stderr=subprocess.STDOUT, text=True)
        first = self.launcher.stdout.readline()
        if not first.startswith("ready"):
            self.launcher.kill()
            raise RuntimeError(f"the bot did not start: {first}{self.launcher.stdout.read()}")
        self.ready_after = time.monotonic() - started
        return self

    def __exit__(self, *_: object) -> None:
        self.launcher.send_signal(signal.SIGINT)
        self.launcher.communicate(timeout=60)

    def memory_mb(self) -> Dict[str, float]:
        """Resident memory of each process the launcher started (with its children)."""
        names = {"rasa_sdk": "action server", "rasa": "Rasa", "bot.web.app": "web app"}
        found: Dict[str, float] = {}
        for child in psutil.Process(self.launcher.pid).children():
            module = child.cmdline()[2] if len(child.cmdline()) > 2 else child.name()
            found[names.get(module, module)] = resident_mb(
                [child, *child.children(recursive=True)])
        return found


class BaselineBot:
    """A bare Rasa bot (bench/baseline: one rule, a fixed text, no actions, in-memory
    tracker) on Rasa's own REST channel: what our latency is compared with."""

    PORT = 16105

    def __init__(self) -> None:
        self.process: Optional[subprocess.Popen] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.PORT}"

    @staticmethod
    def model() -> Path:
        """The baseline model, trained once per version of its files."""
        digest = hashlib.sha256()
        for path in sorted(BASELINE.rglob("*.yml")):
            digest.update(path.read_bytes())
        model = ROOT / "models" / f"baseline-{digest.hexdigest()[:12]}.tar.gz"
        if not model.exists():
            subprocess.run([sys.executable, "-m", "rasa", "train", "--out", str(model.parent),
                            "--fixed-model-name", model.name.removesuffix(".tar.gz")],
                           cwd=BASELINE, check=True, stdout=subprocess.DEVNULL)
        return model

    def __enter__(self) -> "BaselineBot":
        self.process = subprocess.Popen(
            [sys.executable, "-m", "rasa", "run", "--model", str(self.model()),
             "--credentials", "credentials.yml", "--interface", "127.0.0.1",
             "--port", str(self.PORT)], cwd=BASELINE, stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 180
        while not answers(f"{self.url}/webhooks/rest/"):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the baseline bot did not start")
            time.sleep(0.5)
        return self

    def __exit__(self, *_: object) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=60)

    def memory_mb(self) -> float:
        process = psutil.Process(self.process.pid)
        return resident_mb([process, *process.children(recursive=True)])


class MemorySampler:
    """The bot's total resident memory every ``every`` seconds while the block runs."""

    def __init__(self, bot: RunningBot, every: float) -> None:
        self.bot, self.every = bot, every
        self.totals: List[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(self.every):
            self.totals.append(round(sum(self.bot.memory_mb().values()), 1))

    def __enter__(self) -> "MemorySampler":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class LoadResult:
    requests: int
    failures: int
    status_5xx: int
    p50_ms: float
    p95_ms: float
    p99_ms: float
    throughput: float  # answered requests per second
    latencies: List[tuple]  # (time, ms, status, ok)

    def summary(self) -> Dict[str, float]:
        return {"requests": self.requests, "failures": self.failures,
                "status_5xx": self.status_5xx, "p50_ms": self.p50_ms, "p95_ms": self.p95_ms,
                "p99_ms": self.p99_ms, "throughput_per_s": self.throughput}


def percentile(values: List[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(share * len(ordered)))], 1)


def run_locust(url: str, users: int, seconds: int, user_rate: float = 0.0) -> LoadResult:
    """Locust headless against ``url`` on loopback, bounded to ``seconds``."""
    if not BENCH_PYTHON.exists():
        raise RuntimeError("locust is not installed: run `make bench`, which installs it")
    with tempfile.TemporaryDirectory() as scratch:
        log = Path(scratch) / "latency.csv"
        subprocess.run(
            [str(BENCH_PYTHON), "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
             "--host", url, "--users", str(users), "--spawn-rate", str(users),
             "--run-time", f"{seconds}s", "--stop-timeout", "10", "--only-summary",
             "--loglevel", "WARNING", "--exit-code-on-error", "0"],
            env={**os.environ, "BENCH_LATENCY_LOG": str(log), "BENCH_USER_RATE": str(user_rate)},
            check=True, stdout=subprocess.DEVNULL, timeout=seconds + 120)
        rows = [tuple(float(v) for v in line.split(","))
                for line in log.read_text().splitlines() if line]
    ok_ms = [ms for _, ms, _, ok in rows if ok]
    span = (max(t for t, *_ in rows) - min(t for t, *_ in rows)) if rows else 0
    return LoadResult(
        requests=len(rows), failures=sum(1 for *_, ok in rows if not ok),
        status_5xx=sum(1 for _, _, status, _ in rows if status >= 500),
        p50_ms=percentile(ok_ms, 0.50), p95_ms=percentile(ok_ms, 0.95),
        p99_ms=percentile(ok_ms, 0.99),
        throughput=round(len(ok_ms) / span, 1) if span else 0.0, latencies=rows)


def windowed_p95(rows: List[tuple], window: float = 60.0) -> List[float]:
    """p95 of the answered requests in each ``window`` seconds of the run."""
    if not rows:
        return []
    start = min(t for t, *_ in rows)
    buckets: Dict[int, List[float]] = {}
    for t, ms, _, ok in rows:
        if ok:
            buckets.setdefault(int((t - start) // window), []).append(ms)
    return [percentile(buckets[k], 0.95) for k in sorted(buckets)]


def machine() -> Dict[str, object]:
    """What the figures were measured on."""
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               "unknown")
    return {"cpus": os.cpu_count(), "cpu": cpu,
            "memory_gb": round(psutil.virtual_memory().total / 2 ** 30, 1),
            "python": sys.version.split()[0], "load_average_1m": os.getloadavg()[0],
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
