"""The one error table: what each remote answer means, who must act, and whether to retry.

Every connector turns a failed call into ``(system, HTTP status, error code, message)`` and asks
``classify``; the first matching rule decides the error class, who acts and whether the retry
policy (``connectors.retry``) may try again, with at least how long a pause. A per-record error
(one record of a batch refused) is looked up in ``RECORD_RULES``: retryable ones go to the retry
queue, the others are rejections an admin has to fix.

Modelled on airbyte-cdk's default error mapping: status *and* error code, because Salesforce says
"quota" and "concurrency limit" with the same 403 ``REQUEST_LIMIT_EXCEEDED`` and "try again" with a
400 ``UNABLE_TO_LOCK_ROW``.
"""

from __future__ import annotations

import re
import ssl
from dataclasses import dataclass

import requests
import urllib3

from connectors.http import RefusedRedirect
from syncd.core.errors import (
    AuthenticationFailed,
    MappingRefused,
    PermissionMissing,
    QuotaExhausted,
    RemoteError,
    RemoteUnavailable,
    RequestRejected,
    TransientError,
    UnexpectedResponse,
    WhoActs,
)

HUBSPOT = "HubSpot"
SALESFORCE = "Salesforce"
ANY = "*"

# Codes connectors use for failures that never reached an HTTP answer, or whose answer made no sense.
UNREACHABLE = "CONNECTION_FAILED"
TIMEOUT = "TIMEOUT"
TLS_UNTRUSTED = "CERTIFICATE_VERIFY_FAILED"
UNEXPECTED = "UNEXPECTED_RESPONSE"
SESSION_EXPIRED = "INVALID_SESSION_ID"
QUERY_LOCATOR_GONE = "INVALID_QUERY_LOCATOR"
INSECURE_REDIRECT = "INSECURE_REDIRECT"


@dataclass(frozen=True)
class Rule:
    system: str                         # HUBSPOT, SALESFORCE or ANY
    status: range | int | None          # None: any status (or none at all)
    code: str | None                    # remote error code; None: any
    pattern: str | None                 # regular expression on the message; None: any
    error: type[RemoteError]
    who_acts: str
    retryable: bool
    backoff: float = 0.0                # the least pause before retrying (seconds)
    explain: str = ""                   # what to tell the person who acts ("" : the remote message)

    def matches(self, system: str, status: int | None, code: str | None, message: str) -> bool:
        if self.system not in (ANY, system):
            return False
        if isinstance(self.status, range) and (status is None or status not in self.status):
            return False
        if isinstance(self.status, int) and status != self.status:
            return False
        if self.code is not None and code != self.code:
            return False
        return self.pattern is None or re.search(self.pattern, message or "", re.IGNORECASE) is not None


CLIENT_ERRORS = range(400, 500)
_FIX_MAPPING = ("the request names a field or property the other system does not have, has with another type, or "
                "does not let syncd write: fix the mapping (`syncd mapping check` lists every such field)")
SERVER_ERRORS = range(500, 600)

RULES: tuple[Rule, ...] = (
    # -- no HTTP answer, or one that makes no sense -------------------------------------------------
    Rule(ANY, None, TLS_UNTRUSTED, None, RemoteUnavailable, WhoActs.CONFIG, False,
         explain="the server's TLS certificate is not trusted; if a proxy re-signs HTTPS traffic, add its CA "
                 "with tls.ca_bundle (verification is never switched off)"),
    Rule(ANY, None, INSECURE_REDIRECT, None, RequestRejected, WhoActs.SYSTEM, False,
         explain="the server redirected to plain http; syncd sends nothing unencrypted (check the configured "
                 "URL, or a proxy in the way)"),
    Rule(ANY, None, UNREACHABLE, None, TransientError, WhoActs.TRANSIENT, True),
    Rule(ANY, None, TIMEOUT, None, TransientError, WhoActs.TRANSIENT, True),
    Rule(ANY, None, UNEXPECTED, None, UnexpectedResponse, WhoActs.SYSTEM, True),
    # -- Salesforce ---------------------------------------------------------------------------------
    # A concurrency limit ("ConcurrentPerOrgLongTxn Limit exceeded") clears in seconds; the same
    # code without it is the org's rolling 24-hour allocation.
    Rule(SALESFORCE, 403, "REQUEST_LIMIT_EXCEEDED", r"concurrent|ConcurrentPerOrgLongTxn", TransientError,
         WhoActs.TRANSIENT, True, backoff=5.0),
    Rule(SALESFORCE, 403, "REQUEST_LIMIT_EXCEEDED", None, QuotaExhausted, WhoActs.TRANSIENT, False,
         explain="the org's API request limit is used up; the run stops and resumes after the rolling "
                 "24-hour window frees calls"),
    Rule(SALESFORCE, 401, SESSION_EXPIRED, None, TransientError, WhoActs.TRANSIENT, True,
         explain="the session expired"),
    Rule(SALESFORCE, None, "UNABLE_TO_LOCK_ROW", None, TransientError, WhoActs.TRANSIENT, True, backoff=1.0),
    Rule(SALESFORCE, None, "SERVER_UNAVAILABLE", None, TransientError, WhoActs.TRANSIENT, True),
    Rule(SALESFORCE, SERVER_ERRORS, None, None, TransientError, WhoActs.TRANSIENT, True),
    # The OAuth token endpoint answers errors as {"error": ..., "error_description": ...}.
    Rule(SALESFORCE, CLIENT_ERRORS, "invalid_client", None, AuthenticationFailed, WhoActs.CONFIG, False),
    Rule(SALESFORCE, CLIENT_ERRORS, "invalid_grant", None, AuthenticationFailed, WhoActs.CONFIG, False),
    Rule(SALESFORCE, CLIENT_ERRORS, "unsupported_grant_type", None, AuthenticationFailed, WhoActs.CONFIG, False),
    Rule(SALESFORCE, CLIENT_ERRORS, None, r"login refused", AuthenticationFailed, WhoActs.CONFIG, False),
    Rule(SALESFORCE, 401, None, None, AuthenticationFailed, WhoActs.CONFIG, False),
    Rule(SALESFORCE, 414, None, None, RequestRejected, WhoActs.CODE, False),
    # A query's next page asked for again (its answer was lost) or too late: the client runs the
    # query again (connectors.salesforce.client); repeating the same locator cannot help.
    Rule(SALESFORCE, 400, QUERY_LOCATOR_GONE, None, RemoteUnavailable, WhoActs.TRANSIENT, False,
         explain="the query's cursor is gone (a page asked for twice, or too late)"),
    # Field history the integration user may not read: the agreement's tracking step sees no status change.
    Rule(SALESFORCE, CLIENT_ERRORS, "INVALID_TYPE", r"LeadHistory", RequestRejected, WhoActs.CONFIG, False,
         explain="the integration user cannot read Lead field history (LeadHistory): give its profile or "
                 "permission set read access to Leads' history, or leave working_statuses out of the agreement's attempts.count"),
    # The request names a field the org does not have, of another type, or one this user may not
    # write (field-level security): every record would fail the same way until the mapping changes.
    *(Rule(SALESFORCE, CLIENT_ERRORS, code, None, MappingRefused, WhoActs.CONFIG, False, explain=_FIX_MAPPING)
      for code in ("INVALID_FIELD", "INVALID_TYPE", "INVALID_FIELD_FOR_INSERT_UPDATE")),
    # syncd's user may not do this at all (object permission, "API Enabled"): every call would fail.
    *(Rule(SALESFORCE, CLIENT_ERRORS, code, None, PermissionMissing, WhoActs.CONFIG, False,
           explain="grant it in the integration user's profile or permission set")
      for code in ("INSUFFICIENT_ACCESS", "INSUFFICIENT_ACCESS_OR_READONLY", "API_DISABLED_FOR_ORG",
                   "API_CURRENTLY_DISABLED")),
    Rule(SALESFORCE, CLIENT_ERRORS, None, None, RequestRejected, WhoActs.CONFIG, False),
    # -- HubSpot ------------------------------------------------------------------------------------
    Rule(HUBSPOT, 429, "DAILY", None, QuotaExhausted, WhoActs.TRANSIENT, False,
         explain="the account's daily API limit is used up"),
    Rule(HUBSPOT, 429, None, None, TransientError, WhoActs.TRANSIENT, True, backoff=1.0),
    Rule(HUBSPOT, 423, None, None, TransientError, WhoActs.TRANSIENT, True, backoff=2.0),   # "wait >= 2 s"
    Rule(HUBSPOT, 401, None, None, AuthenticationFailed, WhoActs.CONFIG, False,
         explain="the access token was refused; check the private app token"),
    # A property the mapping names is missing, or the private app may not write it.
    # HubSpot names the category (VALIDATION_ERROR); the property's own code is in the message.
    Rule(HUBSPOT, CLIENT_ERRORS, None, r"PROPERTY_DOESNT_EXIST|Property \S+ does not exist", MappingRefused,
         WhoActs.CONFIG, False, explain=_FIX_MAPPING),
    Rule(HUBSPOT, 403, None, None, PermissionMissing, WhoActs.CONFIG, False,
         explain="the private app lacks a scope; add it in HubSpot (Settings > Integrations > Private Apps)"),
    Rule(HUBSPOT, SERVER_ERRORS, None, None, TransientError, WhoActs.TRANSIENT, True),
    Rule(HUBSPOT, CLIENT_ERRORS, None, None, RequestRejected, WhoActs.CONFIG, False),
    # -- anything else: a status nobody documented ----------------------------------------------------
    Rule(ANY, None, None, None, RemoteUnavailable, WhoActs.SYSTEM, False),
)


@dataclass(frozen=True)
class RecordRule:
    system: str
    code: str
    retryable: bool             # True: retried next run even if the record did not change


# Per-record answers (one record of a batch). Anything not listed is a rejection to act on.
RECORD_RULES: tuple[RecordRule, ...] = (
    RecordRule(SALESFORCE, "UNABLE_TO_LOCK_ROW", True),
    RecordRule(SALESFORCE, "ALL_OR_NONE_OPERATION_ROLLED_BACK", True),
    RecordRule(SALESFORCE, "REQUEST_RUNNING_TOO_LONG", True),
    RecordRule(SALESFORCE, "SERVER_UNAVAILABLE", True),
    RecordRule(SALESFORCE, "ENTITY_IS_DELETED", True),
    RecordRule(SALESFORCE, "INVALID_CROSS_REFERENCE_KEY", True),
    RecordRule(HUBSPOT, "RATE_LIMITS", True),
    RecordRule(HUBSPOT, "INTERNAL_ERROR", True),
    RecordRule(HUBSPOT, "LOCKED", True),
    RecordRule(HUBSPOT, "TIMEOUT", True),
)
_RETRYABLE_RECORD_CODES = {(r.system, r.code) for r in RECORD_RULES if r.retryable}


def classify(system: str, status: int | None, code: str | None, message: str = "") -> Rule:
    """The first rule that matches (the table ends with a catch-all)."""
    return next(rule for rule in RULES if rule.matches(system, status, code, message))


def remote_error(system: str, what: str, *, status: int | None = None, code: str | None = None,
                 message: str = "", retry_after: float | None = None) -> RemoteError:
    """The exception for one failed call, as the table says. ``what`` names the call."""
    rule = classify(system, status, code, message)
    text = f"{what}: {rule.explain or message or 'request failed'}"
    if rule.explain and message and rule.error is not QuotaExhausted:
        text += f" ({message[:300]})"
    if issubclass(rule.error, TransientError):
        wait = max(rule.backoff, retry_after or 0.0) or None
        error: RemoteError = rule.error(system, text, status=status, code=code, retry_after=wait)
    else:
        error = rule.error(system, text, status=status, code=code)
    error.who_acts = rule.who_acts
    return error


def record_retryable(system: str, code: str) -> bool:
    return (system, code) in _RETRYABLE_RECORD_CODES


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and what it wraps (requests wraps urllib3, which wraps ssl and socket errors)."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [exc]
    while pending:
        current = pending.pop()
        if current is None or any(current is s for s in seen) or len(seen) > 20:
            continue
        seen.append(current)
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None), *getattr(current, "args", ())]
        pending += [link for link in linked if isinstance(link, BaseException)]
    return seen


def transport_error(system: str, what: str, exc: BaseException) -> RemoteError:
    """A call that got no HTTP answer: untrusted TLS, a timeout, or no connection."""
    causes = _causes(exc)
    refused = next((c for c in causes if isinstance(c, RefusedRedirect)), None)
    if refused is not None:
        return remote_error(system, what, code=INSECURE_REDIRECT, message=str(refused))
    if any(isinstance(c, ssl.SSLCertVerificationError) for c in causes):
        reason = next(str(c.verify_message) for c in causes if isinstance(c, ssl.SSLCertVerificationError))
        return remote_error(system, what, code=TLS_UNTRUSTED, message=reason)
    # urllib3's NewConnectionError is also a ConnectTimeoutError (for compatibility): a refused
    # connection is "cannot reach", not "too slow".
    refused = any(isinstance(c, (urllib3.exceptions.NewConnectionError, ConnectionRefusedError)) for c in causes)
    if not refused and any(isinstance(c, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError))
                           for c in causes):
        return remote_error(system, what, code=TIMEOUT, message=f"no answer from {system} in time "
                                                                f"({type(exc).__name__})")
    return remote_error(system, what, code=UNREACHABLE, message=f"cannot reach {system} ({type(exc).__name__})")
