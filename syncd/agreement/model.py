"""The Sales–Marketing agreement file (``mappings/agreement.yaml``): a closed, versioned schema.

It says what a sales-qualified lead is (the definition's named parts, each one or more of the
mapping's conditions on HubSpot properties), how many Marketing owes a month, and what Sales owes
each one: a first contact within ``first_contact.within_hours`` (optionally business hours in the
agreement's time zone), at least ``attempts.minimum`` attempts before closing it as not converted.
``syncd agreement validate`` checks it; every problem names the file, line and field.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, ClassVar, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from syncd.core.ports import ActivityQuery
from syncd.mapping.base import PROPERTY_NAME
from syncd.mapping.base import Closed as _Closed
from syncd.mapping.model import Condition

PART_NAME = r"^[a-z][a-z0-9_]*$"
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")     # index = date.weekday()
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


class Target(_Closed):
    sqls_per_month: int = Field(ge=0, description="X: sales-qualified leads Marketing hands over per month.")


class BusinessHours(_Closed):
    """When the first-contact clock runs: these days, from ``start`` to ``end``, in the time zone."""

    days: list[Day] = Field(default_factory=lambda: ["mon", "tue", "wed", "thu", "fri"], min_length=1)
    start: dt.time = Field(dt.time(9), description='Local time the working day starts, "09:00".')
    end: dt.time = Field(dt.time(17), description='Local time it ends, "17:00".')

    @model_validator(mode="after")
    def _start_before_end(self) -> BusinessHours:
        if self.start >= self.end:
            raise ValueError("start must be before end (a working day that crosses midnight is not supported)")
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("write local times without an offset; the agreement's time_zone applies")
        return self

    @property
    def weekdays(self) -> frozenset[int]:
        return frozenset(DAYS.index(day) for day in self.days)


class FirstContact(_Closed):
    within_hours: float = Field(gt=0, le=24 * 366, description="Y: hours from hand-over to the first attempt.")
    due_soon_hours: float = Field(0, ge=0, description="Warn this many hours before the deadline (0: no warning).")
    business_hours: BusinessHours | None = Field(
        None, description="Count only these hours (and skip holidays); absent: every hour counts.")
    holidays: list[dt.date] = Field(default_factory=list, description="Days the clock stops (business hours only).")

    @model_validator(mode="after")
    def _consistent(self) -> FirstContact:
        if self.due_soon_hours >= self.within_hours:
            raise ValueError("due_soon_hours must be less than within_hours")
        if self.holidays and self.business_hours is None:
            raise ValueError("holidays need business_hours (without them every hour counts)")
        return self


class Counted(_Closed):
    """Which Salesforce activities on the Lead count as an attempt to reach it."""

    task_subtypes: list[str] = Field(default_factory=lambda: ["Call", "Email"],
                                     description="Tasks with these TaskSubtype values.")
    events: bool = Field(True, description="Events on the Lead.")
    working_statuses: list[str] = Field(default_factory=list,
                                        description="A Lead Status change to one of these.")


class Attempts(_Closed):
    minimum: int = Field(ge=1, le=100, description="Z: attempts before a lead may be closed as not converted.")
    count: Counted = Field(default_factory=Counted)


class SalesforceTask(_Closed):
    enabled: bool = False
    subject: str = Field("Agreement: contact this lead ({state})", min_length=1, max_length=200,
                         description="The Task's Subject; {state} is replaced by due soon / breached / ….")

    @field_validator("subject")
    @classmethod
    def _names_the_state(cls, value: str) -> str:
        # The Lead and the subject find a Task again after a crash: each state's must differ.
        if "{state}" not in value:
            raise ValueError("the subject must contain {state}, so each alert of a lead has its own Task")
        return value


class Alerts(_Closed):
    """A lead due soon, breached or closed with too few attempts is alerted once per state: a log
    event and a metric always; a Salesforce Task for its owner and a HubSpot property if set."""

    salesforce_task: SalesforceTask = Field(default_factory=SalesforceTask)
    hubspot_property: str | None = Field(None, pattern=PROPERTY_NAME,
                                         description="Contact property that gets the state (internal name).")


class Agreement(_Closed):
    UNKNOWN_KEY_HELP: ClassVar[str] = ("the agreement has version, time_zone, target, definition, "
                                       "first_contact, attempts, alerts")

    version: Literal[1] = 1
    description: str | None = None
    time_zone: str = Field("UTC", description="IANA time zone: month boundaries and business hours.")
    target: Target
    definition: dict[str, list[Condition]] = Field(
        default_factory=dict, description="Named parts of the lead definition; each a condition or a "
                                          "list of conditions that must all hold.")
    first_contact: FirstContact
    attempts: Attempts
    alerts: Alerts = Field(default_factory=Alerts)
    source: str | None = Field(None, exclude=True)      # the file it was loaded from

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError("not a time zone; write an IANA name like Europe/Berlin or America/New_York") from None
        return value

    @field_validator("definition", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if isinstance(value, dict):          # a single condition is a list of one
            return {name: [part] if isinstance(part, dict) else part for name, part in value.items()}
        return value

    @field_validator("definition")
    @classmethod
    def _part_names(cls, value: dict[str, list[Condition]]) -> dict[str, list[Condition]]:
        for name, conditions in value.items():
            if not re.match(PART_NAME, name):
                raise ValueError(f"part name {name!r}: use lower-case letters, digits and _")
            if not conditions:
                raise ValueError(f"part {name!r} has no condition")
        return value

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    def properties(self) -> list[str]:
        """The HubSpot properties the definition reads (the forward leg reads them with the contact)."""
        return sorted({c.property for conditions in self.definition.values() for c in conditions})

    def activity_query(self) -> ActivityQuery:
        count = self.attempts.count
        return ActivityQuery(task_subtypes=tuple(count.task_subtypes), events=count.events,
                             status_changes=bool(count.working_statuses),
                             working_statuses=tuple(count.working_statuses))
