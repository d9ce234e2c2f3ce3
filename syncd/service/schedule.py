"""When cycles run: the schedule as an APScheduler 3 trigger, due times counted from it, and a thin
wrapper around the one ``BackgroundScheduler`` job that runs the cycle.

- ``max_instances=1``: cycles never overlap. A due time that finds the cycle still running is
  remembered, and the next cycle starts as soon as that one ends: a slow cycle delays the next,
  it does not stack.
- ``coalesce=True``: many missed due times make one run, and a due time missed by less than one
  period still runs (``misfire_grace_time``).
- The listener reports scheduler events in our own words and never raises into the scheduler.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import structlog
from apscheduler.events import (EVENT_JOB_ERROR, EVENT_JOB_EXECUTED, EVENT_JOB_MAX_INSTANCES,
                                EVENT_JOB_MISSED, JobExecutionEvent, JobSubmissionEvent)
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from syncd.config import ScheduleSettings

log = structlog.get_logger("syncd.service")

UTC = dt.timezone.utc
JOB_ID = "sync-cycle"

Clock = Callable[[], dt.datetime]


def make_trigger(schedule: ScheduleSettings, now: dt.datetime | None = None) -> BaseTrigger:
    """The schedule as an APScheduler trigger; an interval's grid starts at ``now`` (the service's
    clock, so a test that fixes the clock fixes the grid too)."""
    if schedule.cron:
        return CronTrigger.from_crontab(schedule.cron, timezone=UTC)
    seconds = schedule.interval_seconds or (schedule.interval_minutes or 15) * 60
    return IntervalTrigger(seconds=seconds, timezone=UTC, start_date=now)


def describe_schedule(schedule: ScheduleSettings) -> str:
    if schedule.cron:
        return f"cron '{schedule.cron}' (UTC)"
    if schedule.interval_seconds:
        return f"every {schedule.interval_seconds}s"
    return f"every {schedule.interval_minutes} min"


def period_seconds(trigger: BaseTrigger, now: dt.datetime) -> float:
    """The gap between the next two due times: the nominal interval, also for cron."""
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + dt.timedelta(microseconds=1)) if first else None
    return (second - first).total_seconds() if first and second else 3600.0


def due_times_between(trigger: BaseTrigger, since: dt.datetime, now: dt.datetime, limit: int) -> int:
    """How many due times fall in (since, now], counting at most ``limit``."""
    if isinstance(trigger, IntervalTrigger):
        # An interval trigger only knows due times after start-up, so a success restored from
        # before this start-up would count nothing: extend its grid (start + k * interval)
        # backwards and count the grid points in (since, now].
        step = trigger.interval.total_seconds()
        first = (since - trigger.start_date).total_seconds() // step + 1
        last = (now - trigger.start_date).total_seconds() // step
        return int(min(limit, max(0, last - first + 1)))
    count, moment = 0, since
    while count < limit:
        due = trigger.get_next_fire_time(None, moment + dt.timedelta(microseconds=1))
        if due is None or due > now:
            break
        count, moment = count + 1, due
    return count


def iso(moment: dt.datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment else None


def at(moment: dt.datetime | None) -> str:
    """A due time for systemd's STATUS= line."""
    return moment.astimezone(UTC).strftime("at %Y-%m-%d %H:%M:%S UTC") if moment else "not scheduled"


def quiet_scheduler_logs() -> None:
    # The listener below reports scheduler events in our own words (service.cycle_delayed, ...);
    # APScheduler's own INFO/WARNING lines would only repeat them. configure_logging leaves this
    # logger alone, so once per process is enough.
    logging.getLogger("apscheduler").setLevel(logging.ERROR)


class CycleSchedule:
    """One APScheduler job, ``cycle``, on ``trigger``.

    ``stopping`` says the service is on its way out (no rescheduling then); ``on_scheduled`` hears
    the next due time after each cycle, before ``service.cycle_scheduled`` is logged, so that
    whoever reads that line finds the due time already recorded (``syncd status``, the gauge).
    """

    def __init__(self, trigger: BaseTrigger, cycle: Callable[[], None], *, clock: Clock,
                 stopping: Callable[[], bool], on_scheduled: Callable[[dt.datetime | None], None]) -> None:
        self.trigger = trigger
        self._cycle = cycle
        self._clock = clock
        self._stopping = stopping
        self._on_scheduled = on_scheduled
        self._due_while_running = False
        self.scheduler = BackgroundScheduler(timezone=UTC, executors={"default": ThreadPoolExecutor(1)},
                                             job_defaults={"coalesce": True, "max_instances": 1})
        self.scheduler.add_listener(self._on_event, EVENT_JOB_EXECUTED | EVENT_JOB_ERROR
                                    | EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    @property
    def running(self) -> bool:
        return self.scheduler.running

    def add(self, *, at_once: bool) -> dt.datetime | None:
        """Add the job; returns its first due time. ``at_once``: now (an interval schedule runs a
        cycle at start-up); otherwise the trigger's first due time (cron waits for its first
        matching time). ``next_run_time=None`` would add the job paused, so it is left out."""
        now = self._clock()
        first = {"next_run_time": now} if at_once else {}
        self.scheduler.add_job(self._cycle, self.trigger, id=JOB_ID, name="sync cycle",
                               misfire_grace_time=self._grace(), **first)
        return now if at_once else self.trigger.get_next_fire_time(None, now)

    def start(self) -> None:
        self.scheduler.start()

    def next_run_time(self) -> dt.datetime | None:
        job = self.scheduler.get_job(JOB_ID)
        return job.next_run_time if job is not None else None

    def replace_trigger(self, trigger: BaseTrigger) -> None:
        self.trigger = trigger
        self.scheduler.reschedule_job(JOB_ID, trigger=trigger)
        self.scheduler.modify_job(JOB_ID, misfire_grace_time=self._grace())

    def shutdown(self) -> None:
        # wait=False: the service waits for the cycle itself, bounded by shutdown_timeout_seconds.
        self.scheduler.shutdown(wait=False)

    def _grace(self) -> int:
        """A due time missed by less than one period still runs (once, coalesced)."""
        return max(1, int(period_seconds(self.trigger, self._clock())))

    def _on_event(self, event: JobExecutionEvent | JobSubmissionEvent) -> None:
        try:
            if event.code == EVENT_JOB_MAX_INSTANCES:
                self._due_while_running = True
                log.info("service.cycle_delayed", reason="the previous cycle is still running",
                         due_at=iso(max(event.scheduled_run_times, default=None)))
                return
            if event.code == EVENT_JOB_MISSED:
                log.warning("service.cycle_missed", due_at=iso(event.scheduled_run_time),
                            reason="the scheduler woke up too late (machine suspended or overloaded)")
                return
            if event.code == EVENT_JOB_ERROR:      # the cycle catches everything; belt and braces
                log.error("service.cycle_crashed", error_type=type(event.exception).__name__,
                          error=str(event.exception))
            if self._stopping():
                return
            if self._due_while_running:            # run the delayed cycle now, once
                self._due_while_running = False
                self.scheduler.modify_job(JOB_ID, next_run_time=self._clock())
            next_run = self.next_run_time()
            self._on_scheduled(next_run)
            log.info("service.cycle_scheduled", next_run_at=iso(next_run))
        except Exception as exc:  # noqa: BLE001 - a listener must never break the scheduler
            log.error("service.listener_failed", error=f"{type(exc).__name__}: {exc}")
