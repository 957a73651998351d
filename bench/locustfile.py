"""Citizens asking the bot over the REST channel, for locust (runs in .venv-bench).

Each simulated citizen holds short conversations of up to three questions, each
conversation under a new sender id (as many citizens would). ``BENCH_USER_RATE`` > 0
paces each citizen at that many messages a second (steady load for the soak); 0 sends
the next question as soon as the answer arrives (closed loop, for latency under load).
Every request is appended to ``BENCH_LATENCY_LOG`` as ``time,ms,status,ok`` so the
runner can compute its own windows (p95 drift) and count 5xx.
"""
from __future__ import annotations

import os
import random
import time
import uuid
from typing import Any, Optional, TextIO

import gevent
from locust import HttpUser, events, task

QUESTIONS = [
    "転入届はオンラインでできますか", "出生届の期限は?", "児童手当の申請に必要なものは?",
    "引っ越しをしたら何をすればいいですか", "マイナンバーカードを失くしました",
    "住民票の写しはコンビニで取れますか", "国民健康保険に入るには", "婚姻届は夜でも出せますか",
    "印鑑登録の手数料はいくら", "転出届はいつからできますか", "死亡届はどこに出しますか",
    "パスポートの申請に必要なもの", "期限は?", "必要なものは?", "オンラインでできる?",
]
APOLOGY_MARK = "回答を用意できませんでした"
TURNS_PER_CONVERSATION = 3
RATE = float(os.environ.get("BENCH_USER_RATE", "0"))

_log: Optional[TextIO] = None


@events.test_start.add_listener
def open_log(**_: Any) -> None:
    global _log
    path = os.environ.get("BENCH_LATENCY_LOG")
    _log = open(path, "a", encoding="utf-8") if path else None


@events.test_stop.add_listener
def close_log(**_: Any) -> None:
    if _log:
        _log.close()


@events.request.add_listener
def record(response_time: float, response: Any = None, exception: Any = None,
           **_: Any) -> None:
    if _log:
        status = getattr(response, "status_code", 0) or 0
        _log.write(f"{time.time():.3f},{response_time:.1f},{status},{int(exception is None)}\n")


class Citizen(HttpUser):
    def on_start(self) -> None:
        self.new_conversation()
        # Paced citizens start at random points of one period, not all together, and
        # keep to their own schedule (locust's constant_throughput lets them fall in step).
        self.next_at = time.time() + (random.uniform(0, 1 / RATE) if RATE > 0 else 0)
        gevent.sleep(max(0.0, self.next_at - time.time()))

    def wait_time(self) -> float:
        if RATE <= 0:
            return 0.0
        self.next_at += 1 / RATE
        return max(0.0, self.next_at - time.time())

    def new_conversation(self) -> None:
        self.sender = f"bench-{uuid.uuid4().hex[:12]}"
        self.turns = 0

    @task
    def ask(self) -> None:
        with self.client.post("/webhooks/rest/webhook", name="ask", catch_response=True,
                              json={"sender": self.sender,
                                    "message": random.choice(QUESTIONS)}) as answer:
            if answer.status_code != 200:
                answer.failure(f"HTTP {answer.status_code}")
            elif not answer.text.strip().startswith("[{") or APOLOGY_MARK in answer.text:
                answer.failure("no answer")
        self.turns += 1
        if self.turns >= TURNS_PER_CONVERSATION:
            self.new_conversation()
