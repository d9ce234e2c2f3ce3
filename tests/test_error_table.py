"""The one error table and the one retry policy: what each remote answer means, who acts, what is
tried again, and that an answer no API should give is a typed error, never a traceback."""

from __future__ import annotations

import pytest

from connectors.errors import HUBSPOT, SALESFORCE, UNEXPECTED, classify, record_retryable, remote_error
from connectors.retry import RetryPolicy
from syncd.core.errors import (
    AuthenticationFailed,
    ExitCode,
    MappingRefused,
    PermissionMissing,
    QuotaExhausted,
    RemoteUnavailable,
    RequestRejected,
    TransientError,
    UnexpectedResponse,
    WhoActs,
)
from tests.conftest import qualified


@pytest.mark.parametrize("system, status, code, message, error, who, retryable", [
    (SALESFORCE, 403, "REQUEST_LIMIT_EXCEEDED", "ConcurrentPerOrgLongTxn Limit exceeded", TransientError,
     WhoActs.TRANSIENT, True),
    (SALESFORCE, 403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", QuotaExhausted, WhoActs.TRANSIENT,
     False),
    (SALESFORCE, 400, "UNABLE_TO_LOCK_ROW", "unable to obtain exclusive access", TransientError, WhoActs.TRANSIENT,
     True),
    (SALESFORCE, 503, "SERVER_UNAVAILABLE", "", TransientError, WhoActs.TRANSIENT, True),
    (SALESFORCE, 401, "INVALID_SESSION_ID", "Session expired", TransientError, WhoActs.TRANSIENT, True),
    (SALESFORCE, 400, "invalid_client", "client_credentials login refused: invalid client credentials",
     AuthenticationFailed, WhoActs.CONFIG, False),
    (SALESFORCE, 400, "INVALID_FIELD", "No such column 'Titel' on entity 'Lead'", MappingRefused, WhoActs.CONFIG,
     False),
    (SALESFORCE, 400, "INVALID_TYPE", "sObject type 'Leed' is not supported", MappingRefused, WhoActs.CONFIG, False),
    (SALESFORCE, 400, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Rating. Please check the "
     "security settings of this field", MappingRefused, WhoActs.CONFIG, False),
    (HUBSPOT, 400, "VALIDATION_ERROR", 'Property values were not valid: [{"message":"Property \\"syncd_outcom\\" '
     'does not exist","error":"PROPERTY_DOESNT_EXIST"}]', MappingRefused, WhoActs.CONFIG, False),
    (SALESFORCE, 414, "URI_TOO_LONG", "", RequestRejected, WhoActs.CODE, False),
    (SALESFORCE, 400, "INVALID_QUERY_LOCATOR", "invalid query locator", RemoteUnavailable, WhoActs.TRANSIENT, False),
    (HUBSPOT, 429, "DAILY", "You have reached your daily limit.", QuotaExhausted, WhoActs.TRANSIENT, False),
    (HUBSPOT, 429, "TEN_SECONDLY_ROLLING", "", TransientError, WhoActs.TRANSIENT, True),
    (HUBSPOT, 423, None, "Locked", TransientError, WhoActs.TRANSIENT, True),
    (HUBSPOT, 401, "INVALID_AUTHENTICATION", "", AuthenticationFailed, WhoActs.CONFIG, False),
    (HUBSPOT, 403, "MISSING_SCOPES", "", PermissionMissing, WhoActs.CONFIG, False),
    (SALESFORCE, 403, "INSUFFICIENT_ACCESS_OR_READONLY", "insufficient access rights on object id",
     PermissionMissing, WhoActs.CONFIG, False),
    (HUBSPOT, 502, None, "", TransientError, WhoActs.TRANSIENT, True),
    (HUBSPOT, 400, "VALIDATION_ERROR", "", RequestRejected, WhoActs.CONFIG, False),
    (HUBSPOT, 200, UNEXPECTED, "an HTML page", UnexpectedResponse, WhoActs.SYSTEM, True),
    (SALESFORCE, None, "CERTIFICATE_VERIFY_FAILED", "unable to get local issuer certificate", RemoteUnavailable,
     WhoActs.CONFIG, False),
    (HUBSPOT, 418, None, "", RequestRejected, WhoActs.CONFIG, False),
], ids=["sf-concurrency-limit", "sf-daily-quota", "sf-lock", "sf-5xx", "sf-session", "sf-login-refused",
        "sf-unknown-field", "sf-unknown-object", "sf-field-not-writable", "hs-unknown-property", "sf-uri-too-long", "sf-query-locator-gone", "hs-daily", "hs-burst", "hs-locked", "hs-token", "hs-scope", "sf-permission",
        "hs-5xx", "hs-validation", "unexpected-answer", "untrusted-tls", "hs-undocumented-4xx"])
def test_one_table_says_what_each_answer_means(system, status, code, message, error, who, retryable):
    rule = classify(system, status, code, message)
    assert (rule.error, rule.who_acts, rule.retryable) == (error, who, retryable)
    raised = remote_error(system, "a call", status=status, code=code, message=message)
    assert type(raised) is error and raised.who_acts == who and isinstance(raised, TransientError) is retryable


@pytest.mark.parametrize("system, code, message", [
    (SALESFORCE, "INVALID_FIELD", "No such column 'Titel' on sobject of type Lead"),
    (SALESFORCE, "INVALID_FIELD_FOR_INSERT_UPDATE", "Unable to create/update fields: Rating."),
    (HUBSPOT, "VALIDATION_ERROR", 'Property "syncd_outcom" does not exist'),
], ids=["sf-unknown-field", "sf-field-not-writable", "hs-unknown-property"])
def test_an_error_whose_fix_is_in_the_mapping_exits_4_and_says_so(system, code, message):
    raised = remote_error(system, "write leads", status=400, code=code, message=message)
    assert raised.exit_code == ExitCode.CONFIG_ERROR == 4
    assert "fix the mapping" in str(raised) and message in str(raised)


def test_a_pause_the_server_asks_for_is_kept_and_the_table_sets_a_floor():
    assert remote_error(HUBSPOT, "search", status=429, code="SECONDLY", retry_after=7).retry_after == 7
    assert remote_error(HUBSPOT, "update", status=423).retry_after == 2.0           # "wait >= 2 s"


def test_per_record_refusals_that_pass_are_retried_next_run():
    assert record_retryable(SALESFORCE, "UNABLE_TO_LOCK_ROW") and record_retryable(HUBSPOT, "RATE_LIMITS")
    assert not record_retryable(SALESFORCE, "STRING_TOO_LONG") and not record_retryable(HUBSPOT, "INVALID_OPTION")


class Flaky:
    def __init__(self, failures: list[Exception], answer: str = "ok") -> None:
        self.failures, self.answer, self.calls = list(failures), answer, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.failures:
            raise self.failures.pop(0)
        return self.answer


def test_the_policy_retries_passing_failures_honouring_retry_after():
    pauses: list[float] = []
    policy = RetryPolicy(attempts=4, sleep=pauses.append)
    call = Flaky([remote_error(HUBSPOT, "search", status=429, retry_after=3.0), remote_error(HUBSPOT, "search",
                                                                                             status=503)])
    assert policy.call("search", call) == "ok" and call.calls == 3
    assert pauses[0] >= 3.0 and 0.5 <= pauses[1] <= 1.5                 # back-off with jitter otherwise


def test_the_policy_gives_up_as_remote_unavailable_with_the_last_code():
    policy = RetryPolicy(attempts=3, sleep=lambda _: None)
    call = Flaky([remote_error(SALESFORCE, "upsert", status=503, code="SERVER_UNAVAILABLE")] * 5)
    with pytest.raises(RemoteUnavailable) as caught:
        policy.call("upsert", call)
    assert call.calls == 3 and caught.value.code == "SERVER_UNAVAILABLE" and caught.value.status == 503
    assert "still failing after 3 attempts" in str(caught.value)
    assert caught.value.exit_code == ExitCode.REMOTE_UNAVAILABLE


def test_the_policy_never_retries_what_a_person_must_fix_nor_outlives_its_budget():
    policy = RetryPolicy(attempts=10, budget_seconds=5.0, sleep=lambda _: None, initial_seconds=4.0)
    refused = Flaky([remote_error(HUBSPOT, "search", status=401)])
    with pytest.raises(AuthenticationFailed):
        policy.call("search", refused)
    assert refused.calls == 1
    slow = Flaky([remote_error(HUBSPOT, "search", status=503)] * 10)
    with pytest.raises(RemoteUnavailable):
        policy.call("search", slow)
    assert slow.calls < 10                                             # the budget ran out first


def test_answers_no_api_should_give_are_retried_then_typed_never_a_traceback(syncd):
    syncd.hubspot.create_contacts(qualified(3))
    # a proxy's HTML page once, then a list where an object belongs: both retried, the run lands
    syncd.hubspot.inject_fault("POST", "/search", 200, "<html><body>Gateway</body></html>")
    syncd.hubspot.inject_fault("POST", "/batch/read", 200, ["not", "an", "object"])
    syncd.salesforce.inject_fault("PATCH", "/composite/sobjects", 200, {"not": "a list of results"})
    result = syncd.run()
    assert result.exit_code == ExitCode.OK and len(syncd.leads()) == 3
    # an OAuth endpoint answering a list (it crashed with AttributeError) keeps failing: a typed error
    syncd.salesforce.inject_fault("POST", "/oauth2/token", 400, [{"error": "odd"}], times=20)
    syncd.salesforce.expire_sessions()
    syncd.hubspot.create_contacts(qualified(1, start=10))
    failed = syncd.run(env={"SYNCD_SALESFORCE__MAX_RETRIES": "1"})
    assert failed.exit_code == ExitCode.REMOTE_UNAVAILABLE and failed.error.code == UNEXPECTED
    assert "not a JSON object" in str(failed.error)
