"""Counting failed logins, so guessing passwords is slow (see ``bot.staff.auth``)."""
from __future__ import annotations

import time
from collections import defaultdict, deque
from typing import Deque, Dict

# Failures allowed within FAILURE_WINDOW: per account name (guessing one password), and
# per address, higher (an office behind one address shares it).
MAX_FAILURES_PER_ACCOUNT = 5
MAX_FAILURES_PER_ADDRESS = 20
FAILURE_WINDOW = 15 * 60.0


class FailedLogins:
    """Failures per account name and per address in a sliding window."""

    def __init__(self, window: float = FAILURE_WINDOW) -> None:
        self.window = window
        self._failures: Dict[str, Deque[float]] = defaultdict(deque)

    def _recent(self, key: str) -> Deque[float]:
        failures = self._failures[key]
        while failures and time.monotonic() - failures[0] > self.window:
            failures.popleft()
        return failures

    def blocked(self, account: str, address: str) -> bool:
        return (len(self._recent("account:" + account)) >= MAX_FAILURES_PER_ACCOUNT
                or len(self._recent("address:" + address)) >= MAX_FAILURES_PER_ADDRESS)

    def add(self, account: str, address: str) -> None:
        self._recent("account:" + account).append(time.monotonic())
        self._recent("address:" + address).append(time.monotonic())

    def succeeded(self, account: str) -> None:
        self._failures.pop("account:" + account, None)
