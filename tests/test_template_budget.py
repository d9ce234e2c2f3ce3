"""Bounded templates (issue #8): a template over its render budget (CPU time, output, the size of
what it builds) or failing in any way rejects only its own record with SYNCD_TEMPLATE_ERROR; the
others land; a stop request ends a run even while a runaway template renders.

No test here needs a limit to be reached quickly: the pure ones drive the budget with a clock that
moves only when read, and the runaway templates of the end-to-end ones would run for hours, so
the budget (or the stop) is the only way they end."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from jinja2 import StrictUndefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

from state.lease import current_lease
from syncd.core.errors import ConfigError, ExitCode
from syncd.core.records import Rejection
from syncd.mapping import bundled_mapping_path, load_mapping, templates
from syncd.mapping.budget import CHECK_EVERY, RenderStopped
from syncd.mapping.transform import FieldError, render_fields
from syncd.plan import forward
from tests.conftest import qualified
from tests.daemon import Daemon, assert_logs_are_documented_json_without_secrets
from tests.factories import contact, mapping

PIPELINE = "hubspot-to-salesforce"
CURSOR = "hubspot.contacts.lastmodifieddate"
NESTED = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"   # 10^10 steps
# 9 million steps: seconds unmetered (so a broken meter fails a test instead of hanging it), past
# any budget metered; the tests that use it count the budget's seconds with TickingClock.
NESTED_FINITE = "{% for i in range(3000) %}{% for j in range(3000) %}{% endfor %}{% endfor %}"


class TickingClock:
    """A clock that moves one second each time it is read: the budget's seconds are its reads."""

    def __init__(self) -> None:
        self.now = 0.0
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += 1.0
        return self.now


# -- pure: the budget ---------------------------------------------------------------------------
def test_a_runaway_nested_loop_is_stopped_by_the_time_budget_after_a_few_looks_at_the_clock():
    clock = TickingClock()
    m = mapping(brief={"field": "Description", "template": "{{ firstname }}" + NESTED_FINITE},
                template_budget={"seconds": 2})
    with pytest.raises(FieldError) as caught:
        render_fields(contact(), m, clock=clock)
    assert caught.value.code == "SYNCD_TEMPLATE_ERROR" and caught.value.field == "Description"
    assert str(caught.value) == ("Description: the brief template ran out of time: over 2 s of CPU time for one "
                                 "contact (template_budget.seconds)")
    assert clock.reads == 4          # started at the first look, then 1, 2, 3 s: over 2 s


def test_loops_over_a_property_s_characters_are_metered_as_well():
    clock = TickingClock()
    m = mapping(fields={**mapping().fields, "Title": {"template": "{% for a in company %}{% for b in company %}"
                                                                  "{% endfor %}{% endfor %}"}})
    with pytest.raises(FieldError) as caught:
        render_fields(contact(company="x" * 3000), m, clock=clock)
    assert "the fields.Title template ran out of time" in str(caught.value)


def test_the_budget_is_one_per_contact_shared_by_its_templates():
    """Two templates of 40 steps each: 80 steps, past one look at the clock, for the same contact."""
    loop = "{% for i in range(40) %}{% endfor %}"
    m = mapping(fields={**mapping().fields, "Title": {"template": loop}},
                brief={"field": "Description", "template": loop})
    clock = TickingClock()
    render_fields(contact(), m, clock=clock)
    assert clock.reads == 80 // CHECK_EVERY == 1


@pytest.mark.parametrize("source, message", [
    ("{{ range(10**9) | length }}", "OverflowError: Range too big"),
    ("{{ company + 1 }}", "TypeError: can only concatenate str"),
    ("{{ fields.Missing.value }}", "'dict object' has no attribute 'Missing'"),
    ("{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}", "RecursionError"),
    ("{{ company.split('') }}", "ValueError: empty separator"),
    ("{{ 'x' * 10**10 }}", "would build a value of 10,000,000,000 characters or items, over 1,048,576"),
    ("{{ 7 ** 1000000000 }}", "would build a number of 3,000,000,000 bits"),
    ("{{ '%0999999999d' % 1 }}", "would build a value of 999,999,999"),
    ("{{ company | center(10**9) }}", "would build a value of 1,000,000,000"),
    ("{{ company.ljust(10**9) }}", "would build a value of 1,000,000,000"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(64) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
     "would build a value of 2,097,152"),
], ids=["range-1e9", "type-error", "undefined", "recursion", "value-error", "repeat", "power", "printf-width",
        "center", "ljust", "doubling"])
def test_any_failure_while_rendering_rejects_the_record_with_the_cause(source, message):
    with pytest.raises(FieldError) as caught:
        render_fields(contact(), mapping(brief={"field": "Description", "template": source}))
    assert caught.value.code == "SYNCD_TEMPLATE_ERROR"
    assert str(caught.value).startswith("Description: the brief template ")
    assert message in str(caught.value)


def test_output_over_the_limit_is_rejected_and_a_field_with_max_length_is_cut_as_before():
    endless = "{% for i in range(100000) %}{{ company }} {% endfor %}"
    with pytest.raises(FieldError) as caught:
        render_fields(contact(), mapping(fields={**mapping().fields, "Title": {"template": endless}}))
    assert str(caught.value) == ("Title: the fields.Title template wrote more than 65,536 characters "
                                 "(template_budget.output_characters)")
    # With max_length the rest would be cut anyway: rendering stops once there is enough, and the
    # value is the same as cutting the whole text.
    cut = mapping(fields={**mapping().fields, "Title": {"template": endless, "max_length": 1000}})
    full = ImmutableSandboxedEnvironment().from_string(endless).render(company="Acme")
    assert render_fields(contact(), cut)["Title"] == full[:999].rstrip() + "…"


def test_a_longer_max_length_raises_the_output_limit_for_its_field():
    m = mapping(brief={"field": "Description", "max_length": 100000,
                       "template": "{% for i in range(20000) %}{{ company }}{% endfor %}"})
    assert render_fields(contact(), m)["Description"] == "Acme" * 20000        # 80,000 characters, kept


def test_a_property_bigger_than_the_value_limit_may_still_pass_through_a_template():
    big = "p" * 2_000_000                            # over 16 x 65,536: a value as big as the contact's own is fine
    m = mapping(fields={**mapping().fields, "Title": {"template": "{% set p = company %}{{ p }}", "max_length": 50}})
    assert render_fields(contact(company=big), m)["Title"] == "p" * 49 + "…"


def test_a_stop_request_interrupts_a_runaway_template_and_the_plan_is_empty_not_rejected():
    m = mapping(brief={"field": "Description", "template": NESTED})
    asked: list[int] = []

    def stop() -> bool:
        asked.append(1)
        return len(asked) >= 3

    with pytest.raises(RenderStopped):
        render_fields(contact(), m, stop=stop)
    asked.clear()
    plan = forward.plan([contact("1"), contact("2")], forward.ForwardFacts(), m, stop=stop)
    assert plan.stopped and plan.writes == [] and plan.rejections == [] and len(asked) == 3


def test_a_record_the_mapping_rejected_is_not_rendered_again_while_it_and_the_mapping_are_unchanged():
    m = mapping(brief={"field": "Description", "template": NESTED})
    asked: list[int] = []

    def stop() -> bool:                              # asked only while a template renders
        asked.append(1)
        return False

    c = contact("1")
    before = {"1": Rejection("1", "SYNCD_TEMPLATE_ERROR", "ran out of time", forward.input_hash(c, m))}
    plan = forward.plan([c], forward.ForwardFacts(rejections=before), m, stop=stop)
    assert plan.still_rejected == ["1"] and asked == []


# -- pure: templates render as they did ------------------------------------------------------------
SAME_AS_BEFORE = [
    ("{% for h in history[:5] %}{{ loop.index }}/{{ loop.length }} {{ h.value }}{% if not loop.last %}; "
     "{% endif %}{% else %}none{% endfor %}"),
    "{% for k, v in fields|dictsort %}{{ k }}={{ v }}{{ loop.cycle(',', ';') }}{% endfor %}",
    "{% for c in company if c != 'c' %}{{ c|upper }}{% endfor %} {{ company|reverse }} {{ range(3)|list }}",
    "{% set total %}{% for i in range(3) %}{{ i }}{% endfor %}{% endset %}{{ total }} {{ total|length }}",
    ("{% macro line(x) %}[{{ x }}]{% endmacro %}{{ line(company) }} "
     "{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% call wrap() %}inner{% endcall %}"),
    "{% for node in tree recursive %}{{ node.name }}({{ loop(node.children) }}){% endfor %}",
    "{{ '%05.1f|%-6s|' % (3.14159, company) }}{{ '{:>8}'.format(company) }}{{ 2 ** 10 }} {{ 3 * 'ab' }}",
    ("{{ company|center(12) }}|{{ 'a\nb'|indent(2, true) }}|{{ range(7)|batch(3, 0)|list }}"
     "|{{ range(7)|slice(3)|list }}|{{ company|replace('c', 'k') }}|{{ '%s-%s'|format(1, 2) }}"),
    "{{ history|map(attribute='value')|select('ne', 'b')|join(',') }} {{ [1, 2, 3]|sum }}\n\n  \n{{ firstname }}  ",
]


@pytest.mark.parametrize("source", SAME_AS_BEFORE)
def test_a_normal_template_renders_exactly_as_in_a_plain_sandbox(source):
    variables: dict[str, Any] = {
        "company": "Acme corp", "firstname": "Mai", "fields": {"b": 2, "a": 1},
        "history": [{"value": v, "timestamp": "2026-01-01T00:00:00Z"} for v in "abc"],
        "tree": [{"name": "r", "children": [{"name": "c", "children": []}]}]}
    plain = ImmutableSandboxedEnvironment(undefined=StrictUndefined, lstrip_blocks=True).from_string(source)
    expected = "\n".join(line.rstrip() for line in plain.render(**variables).splitlines() if line.strip())
    assert templates.render(source, variables) == expected


def test_the_budget_can_be_set_in_the_mapping_and_changes_its_fingerprint(tmp_path):
    assert mapping().budget.seconds == 1.0 and mapping().budget.output_characters == 65_536
    assert mapping(template_budget={"seconds": 1}).fingerprint != mapping().fingerprint
    bad = tmp_path / "bad.yaml"
    bad.write_text(bundled_mapping_path().read_text() + "template_budget:\n  seconds: 0\n  output: 10\n")
    with pytest.raises(ConfigError) as caught:
        load_mapping(bad)
    assert "template_budget.seconds" in str(caught.value) and "template_budget.output" in str(caught.value)


# -- end to end ----------------------------------------------------------------------------------
def write_mapping(tmp_path: Path, brief: str, budget: dict[str, Any] | None = None, **fields: Any) -> Path:
    """A small mapping (JSON is YAML) whose brief is ``brief``."""
    doc: dict[str, Any] = {
        "version": 1,
        "qualify": [{"property": "lifecyclestage", "in": ["marketingqualifiedlead"]}],
        "salesforce": {"external_id_field": "HubSpot_Contact_Id__c"},
        "fields": {"FirstName": {"from": "firstname"}, "LastName": {"from": "lastname"},
                   "Company": {"from": "company"}, "Email": {"from": "email"}, **fields},
        "brief": {"field": "Description", "template": brief}}
    if budget:
        doc["template_budget"] = budget
    path = tmp_path / "budget-mapping.yaml"
    path.write_text(json.dumps(doc, indent=2))
    return path


def rejected_lines(out: str) -> dict[str, dict[str, Any]]:
    return {e["hubspot_id"]: e for e in map(json.loads, out.splitlines()) if e.get("event") == "record.rejected"}


# 10^9 steps each: a minute or more metered, over the default budget of 1 s; were the meter broken
# they would end by themselves (and the test fail) rather than hang.
BY_JOBTITLE = ("{% if jobtitle == 'loop' %}{% for i in range(100000) %}{% for j in range(10000) %}"
               "{% endfor %}{% endfor %}"
               "{% elif jobtitle == 'range' %}{{ range(10**9)|length }}"
               "{% elif jobtitle == 'type' %}{{ company + 1 }}"
               "{% elif jobtitle == 'chars' %}{% for a in company %}{% for b in company %}{% endfor %}{% endfor %}"
               "{% elif jobtitle == 'memory' %}{{ 'x' * 10**12 }}"
               "{% endif %}{{ firstname }} {{ lastname }} at {{ company }}")


def test_runaway_and_failing_templates_reject_only_their_records_and_the_others_become_leads(syncd, tmp_path,
                                                                                           capsys):
    contacts = qualified(7)
    for contact_, title in zip(contacts, ["loop", "range", "type", "chars", "memory"]):
        contact_["jobtitle"] = title
    contacts[3]["company"] = "c" * 31623             # 10^9 steps over its characters
    contacts[6]["jobtitle"] = "output"
    ids = syncd.hubspot.create_contacts(contacts)
    syncd.write_config(mapping=write_mapping(
        tmp_path, BY_JOBTITLE, Title={"template": "{% if jobtitle == 'output' %}{% for i in range(100000) %}"
                                                  "{{ company }}{% endfor %}{% endif %}"}))

    assert syncd.cli("run", "--once") == ExitCode.RECORDS_REJECTED
    rejected = rejected_lines(capsys.readouterr().out)
    assert sorted(rejected) == sorted(ids[:5] + ids[6:])
    assert {e["code"] for e in rejected.values()} == {"SYNCD_TEMPLATE_ERROR"}
    messages = {title: rejected[ids[i]]["message"] for i, title in enumerate(["loop", "range", "type", "chars",
                                                                             "memory"])}
    assert messages["loop"].startswith("Description: the brief template ran out of time: over 1 s")
    assert messages["chars"].startswith("Description: the brief template ran out of time")
    assert "OverflowError: Range too big" in messages["range"]
    assert "TypeError" in messages["type"]
    assert "would build a value of 1,000,000,000,000 characters" in messages["memory"]
    assert rejected[ids[6]]["message"].startswith("Title: the fields.Title template wrote more than 65,536")
    lead = syncd.leads_by_hubspot_id()
    assert sorted(lead) == [ids[5]] and lead[ids[5]]["Description"] == "First5 Last5 at Company 5"
    store = syncd.store()
    try:
        assert {r.code for r in store.list_rejections(PIPELINE)} == {"SYNCD_TEMPLATE_ERROR"}
    finally:
        store.close()
    # Unchanged, they stay rejected (and are not rendered again, see the planner's test above).
    again = syncd.run()
    assert again.counts["still_rejected"] == 6 and again.exit_code == ExitCode.OK


def test_the_first_sigterm_stops_run_once_while_a_runaway_template_renders(syncd, tmp_path):
    """Each contact's brief would render for the whole budget (60 s of CPU time, 10 contacts, one
    page): without the stop reaching the renders the run could not end before the guard."""
    ids = syncd.hubspot.create_contacts(qualified(10))
    config = syncd.write_config(mapping=write_mapping(tmp_path, "{{ firstname }}" + NESTED, {"seconds": 60}))
    with Daemon(config, args=("--once",)) as run:
        run.wait_for("hubspot.page_read")            # the page is read: its plan renders next
        run.signal(signal.SIGTERM)
        code = run.wait(timeout=45)                   # a guard against a hang, not a speed requirement
    assert code == ExitCode.OK, run.transcript()
    (requested,) = run.events("run.stop_requested")
    assert requested["signal"] == "SIGTERM"
    assert run.events("run.stopping") and not run.events("run.killed") and not run.events("record.rejected")
    (finished,) = run.events("run.finished")
    assert (finished["status"], finished["created"], finished["rejected"]) == ("interrupted", 0, 0)
    store = syncd.store()
    try:
        assert store.count_links(PIPELINE) == 0 and store.get_cursor(PIPELINE, CURSOR) is None
        assert current_lease(store, PIPELINE) is None
    finally:
        store.close()
    assert syncd.leads_by_hubspot_id() == {} and len(ids) == 10
    assert_logs_are_documented_json_without_secrets(run, syncd)


def test_templates_spending_their_budget_count_as_progress_for_the_watchdog(syncd, tmp_path):
    """A page of contacts whose templates each run their whole budget takes minutes with no read
    or write; the service's stall judgement (``CycleProgress``) must hear from the rendering, or
    such a mapping would get the service restarted over and over by its watchdog."""
    from syncd import app
    from syncd.app.connectors import Connectors
    from syncd.app.cycle import run_forward
    from syncd.service.progress import CycleProgress

    class Clock:
        now = 0.0

        def __call__(self) -> float:
            return self.now

    clock = Clock()
    watched = CycleProgress(10, clock=clock)
    heard: list[float] = []
    rendering = watched.working

    def working() -> None:
        heard.append(clock.now)
        rendering()
        clock.now += 1.0                 # every look from the renderer: one more second of silence otherwise

    watched.working = working            # type: ignore[method-assign]
    syncd.hubspot.create_contacts(qualified(2))
    syncd.write_config(mapping=write_mapping(tmp_path, NESTED_FINITE + "{{ firstname }}", {"seconds": 60}))
    loaded = app.load(syncd.stack.config_path, env={})
    store = app.open_store(loaded.settings)
    connectors = Connectors.build(loaded)
    try:
        watched.begin()
        result = run_forward(loaded, store, connectors, progress=watched)
        assert result.counts["created"] == 2
        assert len(heard) > 20                                  # the renderer's looks reached the watcher
        assert watched.stalled_for() is None                    # ... each one restarting the silence
    finally:
        connectors.close()
        store.close()
