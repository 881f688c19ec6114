"""Failed logins are limited per account (a staff username) and per login link (a delegate's
token), never per IP address: a whole venue reaches the server from one address. After too
many failures in the window the account or link is refused for the rest of the window, with a
message that says how long; a success clears the count."""

from __future__ import annotations

import hashlib
import math
import time
from collections import deque
from collections.abc import Callable

from assembly.errors import DomainError
from assembly.i18n import t

STAFF_FAILURES = 10  # per username within the window
TOKEN_FAILURES = 10  # per login link within the window
WINDOW_S = 15 * 60
MAX_KEYS = 100_000  # how many accounts and links are tracked at once, oldest dropped first


class TooManyAttempts(DomainError):
    status = 429
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after_s: int) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class AttemptLimiter:
    """Counts failures per key in a sliding window (in this process)."""

    def __init__(
        self, limit: int, window_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.limit = limit
        self.window_s = window_s
        self.clock = clock
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str) -> deque[float]:
        now = self.clock()
        failures = self._failures.get(key)
        if failures is None:
            return deque()
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        if not failures:
            del self._failures[key]
        return failures

    def check(self, key: str, what: str) -> None:
        """Refuse when `key` has failed `limit` times in the window; `what` names it."""
        failures = self._recent(key)
        if len(failures) >= self.limit:
            wait = max(1, math.ceil(failures[0] + self.window_s - self.clock()))
            minutes = math.ceil(wait / 60)
            message = (
                t("Too many failed logins for {what}: try again in 1 minute.", what=what)
                if minutes == 1
                else t(
                    "Too many failed logins for {what}: try again in {minutes} minutes.",
                    what=what,
                    minutes=minutes,
                )
            )
            raise TooManyAttempts(
                message,
                wait,
            )

    def failed(self, key: str) -> None:
        if key not in self._failures and len(self._failures) >= MAX_KEYS:
            self._failures.pop(next(iter(self._failures)))
        self._failures.setdefault(key, deque()).append(self.clock())

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)


class LoginLimits:
    """The app's two limiters: staff accounts and delegates' login links."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.staff = AttemptLimiter(STAFF_FAILURES, WINDOW_S, clock)
        self.tokens = AttemptLimiter(TOKEN_FAILURES, WINDOW_S, clock)


def staff_key(username: str) -> str:
    return username.strip().casefold()


def token_key(token: str) -> str:
    """A link is tracked by a hash: the limiter never holds a usable token."""
    return hashlib.sha256(token.encode()).hexdigest()[:32]
