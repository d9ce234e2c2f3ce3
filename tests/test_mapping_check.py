"""`syncd mapping check`: the mapping against the live orgs (the emulators' describe and properties
API), each finding with file, line and fix, before any write; and the daemon's check before a cycle."""

from __future__ import annotations

import re

from syncd.core.errors import ExitCode
from tests.conftest import qualified

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
