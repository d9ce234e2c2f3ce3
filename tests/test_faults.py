"""Faults: whatever breaks, state stays consistent and a rerun converges to exactly one Lead per
contact with nothing lost. Each test injects one fault into the emulators (or kills the run
between a Salesforce write and the state commit) and checks the result."""

from __future__ import annotations

import pytest

from state.store import StateStore
from syncd import app
from syncd.app.connectors import Connectors
from syncd.app.cycle import run_forward
from syncd.core.window import CONTACTS_CURSOR
from syncd.core.errors import ExitCode
from tests.conftest import qualified

PIPELINE = "hubspot-to-salesforce"


class KilledAfterWrite(StateStore):
    """A store whose process 'dies' (BaseException, like SIGKILL) right after Salesforce
    accepted the n-th batch and before that batch is committed."""

    def __init__(self, url: str, die_on_batch: int) -> None:
        super().__init__(url)
        self.batches = 0
        self.die_on_batch = die_on_batch

    def commit_batch(self, *args, **kwargs) -> None:
        # Only a Salesforce answer's batch counts: the archived scan's cursor (a commit with no
        # links) may come before or between them, as the pipeline's threads run.
        if kwargs.get("links"):
            self.batches += 1
            if self.batches == self.die_on_batch:
                raise KeyboardInterrupt("killed between the Salesforce write and the commit")
        super().commit_batch(*args, **kwargs)


def store_links(syncd) -> int:
    store = syncd.store()
    try:
        return store.count_links(PIPELINE)
    finally:
        store.close()


def _cursor(syncd) -> str | None:
    store = syncd.store()
    try:
        return store.get_cursor(PIPELINE, CONTACTS_CURSOR)
    finally:
        store.close()


def test_killed_between_salesforce_write_and_commit_rerun_converges_to_one_lead_per_contact(syncd):
    ids = syncd.hubspot.create_contacts(qualified(450))
    loaded = app.load(syncd.stack.config_path, env={})
    store = KilledAfterWrite(loaded.settings.state.database_url.get_secret_value(), die_on_batch=2)
    store.migrate()
    connectors = Connectors.build(loaded)
    with pytest.raises(KeyboardInterrupt):
        run_forward(loaded, store, connectors)
    connectors.close()
    store.close()
    # Writes overlap and are committed as their answers come back: two answers came (the second
    # commit died), so at least 250 Leads reached Salesforce, but only the first answer's batch
    # (200 Leads, or the last 50 when their answer came first) was recorded.
    in_salesforce = len(syncd.leads())
    recorded = store_links(syncd)
    assert recorded in (200, 50) and in_salesforce >= 250 and in_salesforce > recorded
    assert _cursor(syncd) is None             # the window was not confirmed
    rerun = syncd.run()
    assert rerun.exit_code == ExitCode.OK
    assert sorted(syncd.leads_by_hubspot_id()) == sorted(ids)     # no duplicate, nothing missing
    assert len(syncd.leads()) == 450
    assert rerun.counts["unchanged"] == recorded
    assert rerun.counts["created"] == 450 - in_salesforce
    assert rerun.counts["updated"] == in_salesforce - recorded      # unrecorded writes go again, harmlessly


def test_an_expired_session_mid_run_logs_in_again_once_and_the_write_goes_through(syncd):
    syncd.hubspot.create_contacts(qualified(3))
    syncd.salesforce.inject_fault("PATCH", "/composite/sobjects", 401,
                                  [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    result = syncd.run()
    assert result.exit_code == ExitCode.OK and len(syncd.leads()) == 3
    assert syncd.salesforce.requests.count(path_contains="/oauth2/token") == 2


def test_a_real_session_expiry_between_calls_is_recovered(syncd):
    syncd.hubspot.create_contacts(qualified(3, start=0))
    loaded = app.load(syncd.stack.config_path, env={})
    store = app.open_store(loaded.settings)
    connectors = Connectors.build(loaded)                    # one client, as the service keeps it
    run_forward(loaded, store, connectors)
    syncd.salesforce.expire_sessions()                       # the token the connector holds dies
    syncd.hubspot.create_contacts(qualified(2, start=10))
    result = run_forward(loaded, store, connectors)
    connectors.close()
    store.close()
    assert result.exit_code == ExitCode.OK and len(syncd.leads()) == 5


def test_gateway_errors_are_retried_with_backoff_inside_the_run(syncd):
    syncd.hubspot.create_contacts(qualified(5))
    syncd.salesforce.inject_fault("PATCH", "/composite/sobjects", 503, [{"message": "down", "errorCode": "SERVER_UNAVAILABLE"}],
                                  times=2)
    result = syncd.run()
    assert result.exit_code == ExitCode.OK and len(syncd.leads()) == 5
    assert syncd.salesforce.requests.count(method="PATCH", status=503) == 2


def test_hubspot_rate_limit_is_waited_out_not_fatal(syncd):
    syncd.hubspot.create_contacts(qualified(5))
    syncd.hubspot.inject_fault("POST", "/search", 429, {
        "status": "error", "message": "You have reached your secondly limit.", "errorType": "RATE_LIMIT",
        "policyName": "SECONDLY", "correlationId": "x"})
    result = syncd.run()
    assert result.exit_code == ExitCode.OK and len(syncd.leads()) == 5


def test_salesforce_quota_exhausted_stops_the_run_keeps_the_cursor_and_the_next_run_finishes(syncd):
    ids = syncd.hubspot.create_contacts(qualified(450))
    syncd.salesforce.set_api_limit(syncd.salesforce.api_usage + 3)   # query + 2 upserts, then 403
    result = syncd.run(env={"SYNCD_SALESFORCE__QUOTA_RESERVE_PERCENT": "0"})   # the org's own refusal
    assert result.exit_code == ExitCode.REMOTE_UNAVAILABLE
    assert result.error.code == "REQUEST_LIMIT_EXCEEDED"
    assert _cursor(syncd) is None
    syncd.salesforce.set_api_limit(100_000)
    assert syncd.run().exit_code == ExitCode.OK
    assert sorted(syncd.leads_by_hubspot_id()) == sorted(ids)


def test_a_refused_hubspot_token_fails_the_run_with_exit_5_and_writes_nothing(syncd):
    syncd.hubspot.create_contacts(qualified(2))
    syncd.hubspot.revoke_token(syncd.stack.hubspot_token)
    result = syncd.run()
    assert result.exit_code == ExitCode.REMOTE_UNAVAILABLE
    assert "access token was refused" in str(result.error)
    assert syncd.salesforce_writes() == 0


def test_a_refused_salesforce_secret_fails_with_the_oauth_error_and_no_secret_in_the_message(syncd):
    syncd.hubspot.create_contacts(qualified(2))
    secret_file = syncd.stack.directory / "secrets" / "salesforce_client_secret"
    secret_file.write_text("wrong-secret-value\n")
    result = syncd.run()
    assert result.exit_code == ExitCode.REMOTE_UNAVAILABLE
    assert result.error.code == "invalid_client" and "wrong-secret-value" not in str(result.error)


def test_salesforce_down_ends_the_run_as_unavailable_and_keeps_the_cursor(syncd):
    syncd.hubspot.create_contacts(qualified(2))
    syncd.stack.salesforce_server.stop()
    result = syncd.run(env={"SYNCD_SALESFORCE__MAX_RETRIES": "1"})   # fewer back-off rounds
    assert "cannot reach" in str(result.error)
    assert result.exit_code == ExitCode.REMOTE_UNAVAILABLE
    assert _cursor(syncd) is None


def test_a_retryable_failure_is_retried_next_run_once_even_when_also_in_the_search_window(syncd):
    ids = syncd.hubspot.create_contacts(qualified(3))
    store = syncd.store()
    from syncd.core.records import Rejection
    store.commit_batch(PIPELINE, rejections=[Rejection(ids[0], "UNABLE_TO_LOCK_ROW", "locked", "h", retryable=True)])
    store.close()
    result = syncd.run()                  # ids[0] comes from the retry queue and from the search
    assert result.exit_code == ExitCode.OK and result.counts["read"] == 3
    assert sorted(syncd.leads_by_hubspot_id()) == sorted(ids)
    store = syncd.store()
    assert store.count_rejections(PIPELINE) == 0
    store.close()
