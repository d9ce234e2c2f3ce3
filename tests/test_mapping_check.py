"""`syncd mapping check`: the mapping against the live orgs (the emulators' describe and properties
API), each finding with file, line and fix, before any write; and the daemon's check before a cycle."""

from __future__ import annotations

import re
import signal
from collections import Counter

from connectors.metadata import Metadata
from emulators.salesforce.demo_org import with_overrides
from syncd import app
from syncd.app.connectors import Connectors
from syncd.core.errors import ExitCode
from syncd.core.records import Rejection
from syncd.run.result import RunResult
from tests.conftest import qualified
from tests.daemon import Daemon, assert_logs_are_documented_json_without_secrets, configure, gated_stack

# Acceptance 1 of issue #9: five mistakes, one finding each. Every other text field has its
# max_length and every required field a default, so these five are all there is to find.
_BROKEN = """version: 1
qualify:
  - property: lifecyclestage
    in: [marketingqualifiedlead]
salesforce:
  external_id_field: HubSpot_Contact_Id__c
fields:
  LastName: {from: lastname, default: "[not provided]", max_length: 80}
  Company: {from: company, default: "[not provided]", max_length: 255}
  Email: {from: email, max_length: 80}
  Titel: {from: jobtitle, max_length: 128}
  LeadSource:
    from: hs_analytics_source
    values:
      ORGANIC_SEARCH: Organic Search
    default: Other
  HubSpot_Source_Detail__c:
    from: hs_analytics_source_data_1
  HubSpot_Lifecycle_Stage__c:
    template: "{{ lifecyclestage | humanise }}"
    max_length: 100
  First_Conversion__c:
    template: "{% if first_conversion_event_name is defind %}{{ first_conversion_event_name }}{% endif %}"
    max_length: 255
"""

_FIXED = (_BROKEN.replace("Titel:", "Title:").replace("Organic Search", "Search")
          .replace("from: hs_analytics_source_data_1", "from: hs_analytics_source_data_1\n    max_length: 255")
          .replace("humanise", "humanize").replace("is defind", "is defined"))


def _line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def _api_writes(syncd) -> int:
    return syncd.salesforce_writes() + syncd.hubspot.requests.count(method="POST", path_contains="/batch/update")


def test_each_mistake_is_one_finding_with_file_line_and_fix_and_after_the_fixes_the_run_writes_cleanly(
        syncd, capsys):
    contacts = qualified(3)
    contacts[1]["hs_analytics_source_data_1"] = "d" * 300          # a 300-character source, a 255-character field
    syncd.hubspot.create_contacts(contacts)
    path = syncd.tmp / "broken.yaml"
    path.write_text(_BROKEN)
    syncd.write_config(mapping=path)

    assert syncd.cli("mapping", "check") == ExitCode.CONFIG_ERROR
    err = capsys.readouterr().err
    findings = [line for line in err.splitlines() if line.startswith(str(path))]
    expected = [
        (_line(_BROKEN, "Titel:"), r"fields\.Titel: Salesforce's Lead has no field 'Titel' \(did you mean 'Title'\?\)"),
        (_line(_BROKEN, "ORGANIC_SEARCH:"), r"fields\.LeadSource\.values\.ORGANIC_SEARCH: 'Organic Search' is not a "
         r"value of the Lead\.LeadSource picklist: use one of Advertisement, .*, Search, Social Media, Web"),
        (_line(_BROKEN, "HubSpot_Source_Detail__c:"), r"fields\.HubSpot_Source_Detail__c: Lead\.HubSpot_Source_Detail__c "
         r"holds 255 characters .* set `max_length: 255`"),
        (_line(_BROKEN, "humanise"), r"fields\.HubSpot_Lifecycle_Stage__c\.template: unknown filter 'humanise' "
         r"\(did you mean 'humanize'\?\)"),
        (_line(_BROKEN, "defind"), r"fields\.First_Conversion__c\.template: unknown test 'defind' "
         r"\(did you mean 'defined'\?\)"),
    ]
    assert len(findings) == len(expected), err
    for line, pattern in expected:
        assert any(re.match(re.escape(str(path)) + rf":{line}:\d+: {pattern}", f) for f in findings), (pattern, err)
    assert "5 findings" in err
    assert _api_writes(syncd) == 0

    # The same mapping stops `run --once` before any write (the template problems already offline).
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    assert _api_writes(syncd) == 0 and syncd.leads() == []

    path.write_text(_FIXED)
    assert syncd.cli("mapping", "check") == ExitCode.OK, capsys.readouterr().err
    assert syncd.cli("run", "--once") == ExitCode.OK
    leads = syncd.leads_by_hubspot_id()
    assert len(leads) == 3 and syncd.store().list_rejections("hubspot-to-salesforce") == []
    assert sorted(len(lead["HubSpot_Source_Detail__c"] or "") for lead in leads.values()) == [6, 6, 255]
    assert {lead["LeadSource"] for lead in leads.values()} == {"Search"}


def test_the_service_refuses_a_reload_the_live_check_fails_and_keeps_syncing_on_the_last_good_mapping(tmp_path):
    """A misspelt field validates offline; the reload's live check refuses it, and the cycles go
    on with the previous mapping (nothing refused by Salesforce, nothing written twice)."""
    with gated_stack(tmp_path) as stack:
        mapping = tmp_path / "mapping.yaml"
        mapping.write_text(_FIXED)
        stack.hubspot.create_contacts(qualified(2))
        with Daemon(configure(stack, interval=1, mapping=mapping)) as daemon:
            daemon.wait_for("service.cycle_finished")
            assert len(stack.leads()) == 2

            mapping.write_text(_FIXED.replace("Title:", "Titel:"))
            daemon.signal(signal.SIGHUP)
            (failed,) = daemon.wait_for("service.reload_failed")
            assert len(failed["problems"]) == 1
            assert re.match(re.escape(str(mapping)) + rf":{_line(_FIXED, 'Title:')}:3: fields\.Titel: Salesforce's "
                            r"Lead has no field 'Titel' \(did you mean 'Title'\?\)", failed["problems"][0]), failed
            cycles = len(daemon.events("service.cycle_finished"))
            daemon.wait_for("service.cycle_finished", count=cycles + 2)     # still syncing, on the old mapping
            assert all(e["status"] == "ok" for e in daemon.events("service.cycle_finished"))
            assert daemon.stop() == 0
        assert_logs_are_documented_json_without_secrets(daemon, stack)


def test_run_once_stops_before_any_write_on_a_field_the_org_does_not_have_with_exit_4(syncd, capsys):
    syncd.hubspot.create_contacts(qualified(2))
    path = syncd.tmp / "m.yaml"
    path.write_text(_FIXED.replace("Title:", "Titel:"))
    syncd.write_config(mapping=path)
    assert syncd.cli("mapping", "validate", str(path)) == ExitCode.OK        # offline it is fine
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    err = capsys.readouterr().err
    assert re.search(re.escape(str(path)) + rf":{_line(_FIXED, 'Title:')}:3: fields\.Titel: Salesforce's Lead has "
                     r"no field 'Titel' \(did you mean 'Title'\?\)", err), err
    assert _api_writes(syncd) == 0 and syncd.leads() == []


def test_metadata_is_read_once_per_object_per_ttl(syncd):
    connectors = Connectors.build(app.load(syncd.stack.config_path, env={}))
    now = [0.0]
    metadata = Metadata(connectors.salesforce, connectors.hubspot, ttl=300, clock=lambda: now[0])

    def reads() -> tuple[int, int]:
        return (syncd.salesforce.requests.count(method="GET", path_contains="/sobjects/Lead/describe"),
                syncd.hubspot.requests.count(method="GET", path_contains="/crm/v3/properties/contacts"))
    try:
        for _ in range(3):
            metadata.salesforce_fields("Lead")
            metadata.hubspot_properties()
        assert reads() == (1, 1)
        now[0] = 299.0
        metadata.salesforce_fields("Lead")
        assert reads() == (1, 1)
        now[0] = 300.0
        fields = metadata.salesforce_fields("Lead")
        metadata.hubspot_properties()
        assert reads() == (2, 2)
    finally:
        connectors.close()
    assert fields["LeadSource"]["restrictedPicklist"] is True and fields["Name"]["createable"] is False
    assert fields["Company"]["length"] == 255 and fields["Company"]["nillable"] is False


def test_the_emulator_describes_inactive_picklist_values_and_refuses_them_in_a_restricted_picklist(syncd, capsys):
    lead = syncd.salesforce.schema.get("Lead")
    syncd.salesforce.add_field("Lead", with_overrides(lead.field("LeadSource"), inactive_picklist_values=("Trade Show",)))
    connectors = Connectors.build(app.load(syncd.stack.config_path, env={}))
    try:
        leadsource = connectors.metadata.salesforce_fields("Lead")["LeadSource"]
    finally:
        connectors.close()
    described = {v["value"]: v["active"] for v in leadsource["picklistValues"]}
    assert described["Trade Show"] is False and described["Web"] is True
    syncd.hubspot.create_contacts(qualified(1, hs_analytics_source="OFFLINE"))
    path = syncd.tmp / "m.yaml"
    path.write_text(_FIXED.replace("ORGANIC_SEARCH: Search", "OFFLINE: Trade Show"))
    syncd.write_config(mapping=path)
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR and syncd.leads() == []
    assert "fields.LeadSource.values.OFFLINE: 'Trade Show' is an inactive value of the Lead.LeadSource picklist " \
           "(restricted)" in capsys.readouterr().err


def test_a_restricted_picklist_refusing_every_record_exits_4_saying_fix_the_mapping_and_the_fix_lands_them(
        syncd, capsys):
    contacts = qualified(3)
    syncd.hubspot.create_contacts(contacts)
    path = syncd.tmp / "m.yaml"
    raw = _FIXED.replace("    values:\n      ORGANIC_SEARCH: Search\n    default: Other\n", "")
    assert "LeadSource:\n    from: hs_analytics_source\n  HubSpot_Source_Detail__c" in raw
    path.write_text(raw)
    syncd.write_config(mapping=path)
    assert syncd.cli("run", "--once") == ExitCode.CONFIG_ERROR
    err = capsys.readouterr().err
    assert "error: Salesforce refused every record this run sent (INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST: " in err
    assert "fix the mapping" in err and syncd.leads() == []

    path.write_text(_FIXED)                       # the mapping changed: the refused records are sent again
    assert syncd.cli("run", "--once") == ExitCode.OK
    assert {lead["LeadSource"] for lead in syncd.leads()} == {"Search"} and len(syncd.leads()) == 3


def test_only_a_run_where_nothing_landed_and_every_refusal_is_the_mappings_exits_4():
    picklist = Rejection("1", "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST", "Lead Source: bad value", None)
    too_long = Rejection("2", "STRING_TOO_LONG", "Company: data value too large", None)
    assert RunResult("r", "partial", Counter(rejected=1), rejections=[picklist]).exit_code == ExitCode.CONFIG_ERROR
    assert RunResult("r", "partial", Counter(rejected=1, created=1), rejections=[picklist]).exit_code == \
        ExitCode.RECORDS_REJECTED
    assert RunResult("r", "partial", Counter(rejected=2), rejections=[picklist, too_long]).exit_code == \
        ExitCode.RECORDS_REJECTED


def test_the_bundled_mapping_checks_clean_against_the_demo_org_once_hubspot_is_set_up(syncd, capsys):
    """What a new admin starts from must check clean: every text field is cut to what its Lead field
    holds, except Company (the demo shows its refusal) and an email, a phone or a URL (cut, they
    would be wrong: left to be refused). A finding that refuses only some records exits 0, or 4
    with --strict."""
    assert syncd.cli("mapping", "check") == ExitCode.CONFIG_ERROR
    err = capsys.readouterr().err
    assert "11 findings" in err and err.count("run `syncd setup hubspot` to create it") == 10
    assert syncd.cli("setup", "hubspot") == ExitCode.OK
    capsys.readouterr()
    assert syncd.cli("mapping", "check") == ExitCode.OK
    err = capsys.readouterr().err.replace("\n", " ")
    assert "fields.Company: Lead.Company holds 255 characters" in err and "1 finding in" in err
    assert syncd.cli("mapping", "check", "--strict") == ExitCode.CONFIG_ERROR
