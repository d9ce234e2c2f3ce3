"""The one retry policy for every remote call (tenacity).

A call that fails with a ``TransientError`` (the error table's retryable rows) is tried again
after an exponential pause with jitter, never shorter than what the server asked for
(``Retry-After``) or the table's least back-off, until it succeeds, the attempts run out or the
next pause would overrun the call's total time budget. Then it ends as ``RemoteUnavailable``
carrying the last failure's status and code, and the run stops (what it committed stays).

The transports under the SDKs retry nothing themselves (``connectors.http``), so there is one
retry loop, and the rate limiter (``connectors.limits``) is the only other brake. Every write
syncd sends is idempotent (upsert by external id, update by id), so repeating one whose answer
was lost cannot duplicate it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
from tenacity import RetryCallState, RetryError, Retrying, retry_if_exception_type, stop_after_attempt
from tenacity import stop_before_delay, wait_exponential, wait_random

from syncd.core.errors import RemoteUnavailable, TransientError

T = TypeVar("T")
log = structlog.get_logger("syncd.retry")


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6                   # the first try and five retries
    budget_seconds: float = 300.0       # per call, pauses included
    initial_seconds: float = 0.5
    max_pause_seconds: float = 30.0
    jitter_seconds: float = 0.5
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)

    def _pause(self, state: RetryCallState) -> float:
        backoff = (wait_exponential(multiplier=self.initial_seconds, max=self.max_pause_seconds)
                   + wait_random(0, self.jitter_seconds))(state)
        error = state.outcome.exception() if state.outcome else None
        asked = getattr(error, "retry_after", None) or 0.0
        return max(backoff, min(asked, self.max_pause_seconds * 4))

    def call(self, what: str, fn: Callable[[], T],
             on_exhausted: Callable[[TransientError], T | None] | None = None) -> T:
        """``fn()``, retried as the policy says; ``what`` names the call in logs and errors.
        ``on_exhausted`` may turn the last failure into a result (e.g. records still locked come
        back refused) instead of ending the run; when it returns None, the run ends."""

        def before_sleep(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            log.warning("remote.retry", call=what, attempt=state.attempt_number,
                        wait_seconds=round(state.upcoming_sleep, 2), system=getattr(error, "system", None),
                        status=getattr(error, "status", None), code=getattr(error, "code", None),
                        error=str(error))

        retrying = Retrying(retry=retry_if_exception_type(TransientError),
                            stop=stop_after_attempt(self.attempts) | stop_before_delay(self.budget_seconds),
                            wait=self._pause, sleep=self.sleep, before_sleep=before_sleep)
        try:
            return retrying(fn)
        except RetryError as exhausted:
            last = exhausted.last_attempt.exception()
            assert isinstance(last, TransientError)
            salvaged = on_exhausted(last) if on_exhausted is not None else None
            if salvaged is not None:
                return salvaged
            tries = exhausted.last_attempt.attempt_number
            raise RemoteUnavailable(last.system, f"{last.message} (still failing after {tries} attempts)",
                                    status=last.status, code=last.code) from None


NO_RETRY = RetryPolicy(attempts=1)
