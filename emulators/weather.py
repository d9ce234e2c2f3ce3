"""Weather: a seeded, per-request mix of the faults a bad day brings, for either emulator.

Where ``emulators.faults`` arms one named fault ("the next 2 upserts get 503"), weather is a
climate: every API request may meet a fault with probability ``rate``, the kind drawn from
``mix`` (relative weights). The kinds:

``429``          rate limited (HubSpot's ``TEN_SECONDLY_ROLLING``; Salesforce's REST API has no 429)
``503``          the service is unavailable for a moment
``concurrency``  Salesforce's 403 ``REQUEST_LIMIT_EXCEEDED`` "ConcurrentPerOrgLongTxn Limit exceeded"
``drop``         the TCP connection closes with no answer: half the drops come before the request
                 is handled (``drop-before``: nothing happened), half after (``drop-after``: the
                 write was applied and its answer lost, the hard case for "nothing duplicated")

Each emulator deals only the kinds it has (``kinds``), so the same mix can be sent to both and
each still sees faults at ``rate``. How a kind is answered is the emulator's dialect (its
``weather`` module); drops are the same everywhere. Control endpoints never meet weather.

Deterministic for a seed. Whether a request meets a fault depends only on the seed, its method
and path and how many requests with that method and path came before it, not on how requests
from different threads interleave. The kinds are dealt from a deck shuffled for the seed, in
which each kind has cards in proportion to its weight (a unit of ``drop`` is one drop-before
card and one drop-after card): the sequence of kinds an emulator deals is fixed for a seed, and
a run that meets as many faults as the deck has cards has met every kind. (Which of two
concurrent requests gets which card may vary.)

Every request that met weather is marked in the emulator's request log (``LoggedRequest.weather``);
a request dropped before it was handled is logged with status 0, one dropped after with the
status it would have had.

Control, on both emulators: ``POST /__emulator/weather {"seed": 7, "rate": 0.2, "mix": {"429": 1,
"503": 1, "drop": 1, "concurrency": 1}}`` (``mix`` defaults to every kind, equally);
``{"rate": 0}`` or ``DELETE`` clears the sky; ``GET`` answers the forecast in force and how many
faults of each kind were dealt.
"""

from __future__ import annotations

import errno
import json
import random
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

RATE_LIMITED, UNAVAILABLE, CONCURRENCY, DROP = "429", "503", "concurrency", "drop"
KINDS = (RATE_LIMITED, UNAVAILABLE, CONCURRENCY, DROP)
DROP_BEFORE, DROP_AFTER = "drop-before", "drop-after"


class Dropped(ConnectionResetError):
    """Raised out of the WSGI app to make the server close the connection without an answer
    (cheroot closes quietly on ECONNRESET and writes nothing)."""

    def __init__(self) -> None:
        super().__init__(errno.ECONNRESET, "weather: connection dropped")


@dataclass(frozen=True)
class Forecast:
    seed: int
    rate: float
    mix: dict[str, float] = field(default_factory=lambda: {kind: 1.0 for kind in KINDS})

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"rate must be between 0 and 1, not {self.rate}")
        unknown = set(self.mix) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown weather kinds {sorted(unknown)}; known: {list(KINDS)}")
        if any(weight < 0 for weight in self.mix.values()):
            raise ValueError("mix weights must not be negative")

    def as_json(self) -> dict[str, Any]:
        return {"seed": self.seed, "rate": self.rate, "mix": dict(self.mix)}


class Weather:
    """One emulator's sky: the forecast in force, and the per-endpoint counts that make each
    decision independent of thread interleaving. Thread-safe on its own."""

    def __init__(self, kinds: tuple[str, ...]) -> None:
        self.kinds = kinds
        self._lock = threading.Lock()
        self._forecast: Forecast | None = None
        self._seen: Counter[str] = Counter()
        self._deck: list[str] = []
        self._decks = 0
        self.dealt: Counter[str] = Counter()

    @property
    def forecast(self) -> Forecast | None:
        return self._forecast

    def set(self, forecast: Forecast | None) -> None:
        """A new forecast (None: clear skies); the per-endpoint counts and tallies start over."""
        with self._lock:
            self._forecast = forecast if forecast is not None and forecast.rate > 0 else None
            self._seen.clear()
            self._deck, self._decks = [], 0
            self.dealt.clear()

    def deck(self) -> list[str]:
        """One deck's cards for the forecast in force, unshuffled (empty: no kind to deal)."""
        forecast = self._forecast
        weights = {k: forecast.mix.get(k, 0.0) for k in self.kinds} if forecast else {}
        weights = {k: w for k, w in weights.items() if w > 0}
        if not weights:
            return []
        least = min(weights.values())
        cards: list[str] = []
        for kind, weight in weights.items():
            copies = max(1, round(weight / least))
            cards += [DROP_BEFORE, DROP_AFTER] * copies if kind == DROP else [kind] * copies
        return cards

    def draw(self, method: str, path: str) -> str | None:
        """The fault this request meets (``429``, ``503``, ``concurrency``, ``drop-before``,
        ``drop-after``), or None."""
        with self._lock:
            forecast = self._forecast
            if forecast is None:
                return None
            endpoint = f"{method} {path}"
            nth = self._seen[endpoint]
            self._seen[endpoint] += 1
            if random.Random(f"{forecast.seed}|{endpoint}|{nth}").random() >= forecast.rate:
                return None
            if not self._deck:
                self._deck = self.deck()
                random.Random(f"{forecast.seed}|deck|{self._decks}").shuffle(self._deck)
                self._decks += 1
                if not self._deck:
                    return None
            kind = self._deck.pop()
            self.dealt[kind] += 1
            return kind

    def control(self, request: Request) -> Response:
        """``/__emulator/weather``: GET reads, POST sets, DELETE clears."""
        if request.method == "DELETE":
            self.set(None)
        elif request.method == "POST":
            try:
                body = json.loads(request.get_data(as_text=True) or "{}")
                mix = body.get("mix")
                forecast = Forecast(int(body.get("seed", 0)), float(body["rate"]),
                                    {str(k): float(v) for k, v in mix.items()} if mix is not None
                                    else Forecast(0, 0.0).mix)
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                return _json(400, {"status": "error", "message": f"expected {{\"seed\", \"rate\", \"mix\"}}: {exc}"})
            self.set(forecast)
        with self._lock:
            forecast = self._forecast
            return _json(200, {"forecast": forecast.as_json() if forecast else None, "kinds": list(self.kinds),
                               "dealt": dict(self.dealt)})


def _json(status: int, body: Any) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")
