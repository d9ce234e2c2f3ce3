"""The agreement's alert Tasks in Salesforce: found by (WhoId, Subject), created through sObject
Collections, 200 a call.

A Task is created only after looking for one on the same Lead with the same Subject (the subject
names the alert's state): a crash between the create and syncd's commit finds it on the rerun
instead of creating a second. For the same reason a create is never retried within the call. One query per 200 Leads, only in a cycle that has alerts to raise.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simple_salesforce import format_soql

from connectors.errors import SALESFORCE
from connectors.salesforce.client import SalesforceClient
from connectors.salesforce.leads import _results
from connectors.salesforce.soql import soql_chunks
from syncd.core.ports import TaskWrite
from syncd.core.records import WriteResult

CREATE_PATH = "composite/sobjects"
COLLECTION_LIMIT = 200


def _record(task: TaskWrite) -> dict[str, Any]:
    record: dict[str, Any] = {"attributes": {"type": "Task"}, "WhoId": task.who_id, "Subject": task.subject,
                              "Priority": "High", "TaskSubtype": "Task"}
    for name, value in (("OwnerId", task.owner_id), ("Description", task.description),
                        ("ActivityDate", task.activity_date)):
        if value is not None:
            record[name] = value
    return record


class SalesforceTasks:
    system = SALESFORCE

    def __init__(self, client: SalesforceClient) -> None:
        self.client = client

    def find_tasks(self, who_ids: Sequence[str], subjects: Sequence[str]) -> dict[tuple[str, str], str]:
        found: dict[tuple[str, str], str] = {}
        subjects = sorted(set(subjects))

        def render(chunk: list[str]) -> str:
            return format_soql("SELECT Id, WhoId, Subject FROM Task WHERE WhoId IN {ids} AND Subject IN {subjects}",
                               ids=chunk, subjects=subjects)

        for soql in soql_chunks(sorted({w for w in who_ids if w}), render):
            for rows, _ in self.client.query_pages(soql, "find alert tasks"):
                found.update(((row["WhoId"], row["Subject"]), row["Id"]) for row in rows)
        return found

    def create_tasks(self, tasks: Sequence[TaskWrite]) -> list[WriteResult]:
        results: list[WriteResult] = []
        for start in range(0, len(tasks), COLLECTION_LIMIT):
            chunk = tasks[start:start + COLLECTION_LIMIT]
            body = {"allOrNone": False, "records": [_record(task) for task in chunk]}
            what = f"create {len(chunk)} tasks"
            # Creating is not idempotent: an answer lost after Salesforce created the Tasks, sent again,
            # would create them twice. One attempt; a failure leaves the alerts unrecorded, and the
            # next cycle's look-up (find_tasks) finds any Task that attempt did create.
            raw = self.client.call(what, lambda sf, body=body: sf.restful(CREATE_PATH, method="POST", json=body),
                                   retries=False)
            results += _results(raw, len(chunk), what)
        return results
