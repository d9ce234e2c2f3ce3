"""`syncd run`: the service. Runs the sync cycle on a schedule until told to stop.

One module per concern; ``daemon`` composes them:

- ``schedule``: the schedule as an APScheduler 3 trigger, due times counted from it, and the one
  scheduler job. Cycles never overlap; a due time that finds the cycle running starts the next
  cycle as soon as it ends (a slow cycle delays the next, it does not stack); missed due times
  are coalesced. A cycle that fails is logged and counted, and the next due time runs again.
- ``signals``: the first SIGTERM/SIGINT asks the cycle to stop after the batch in flight (the
  runner commits it and leaves the cursor); the service then exits 0 within
  ``schedule.shutdown_timeout_seconds``. A second signal, or the bound running out, exits at once
  with 128 + the signal. The same rules for ``run --once`` (``graceful_stop``). The service asks
  systemd for that bound plus a margin (EXTEND_TIMEOUT_USEC) when the stop begins.
- ``reload``: SIGHUP loads and validates config and mapping; only a fully valid set replaces the
  running one (``service.reloaded``), otherwise ``service.reload_failed`` and no change.
- ``health``: liveness and readiness (``/healthz``, ``/readyz``, systemd's watchdog), served with
  the Prometheus metrics (``metrics``) and the status page (``status_page``: runs, rejected
  records, the closed loop by source, the agreement's month, from state) by ``endpoint``.
- ``progress``: whether the cycle in flight moves (pages read, batches written, API requests
  sent) within the stall bound; a stalled cycle stops the watchdog pings, so systemd restarts it.
- ``connections``: the connectors the cycles share, replaced after a reload and closed once no
  cycle uses them.
- ``notify``: sd_notify (READY, STATUS, WATCHDOG, RELOADING, STOPPING with EXTEND_TIMEOUT_USEC).
- ``daemon``: the ``Service`` and ``serve``. The daemon takes the pipeline's lease
  (``state.lease``) before anything else and holds it for its life, heartbeating from a thread; a
  second daemon or a ``run --once`` is refused with exit code 6 and a message naming the holder.
"""

from syncd.service.daemon import Service, serve
from syncd.service.schedule import describe_schedule, due_times_between, make_trigger
from syncd.service.signals import graceful_stop

__all__ = ["Service", "describe_schedule", "due_times_between", "graceful_stop", "make_trigger", "serve"]
