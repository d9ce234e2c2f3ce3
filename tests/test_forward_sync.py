"""Forward sync end to end: HubSpot emulator -> syncd (real SDKs) -> Salesforce emulator.

Each test states one acceptance point of issue #2.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from simple_salesforce import format_soql

from syncd.core.errors import ExitCode
from tests.conftest import qualified

UTC = dt.timezone.utc


def test_qualified_contacts_become_leads_with_context_and_a_brief_and_others_are_not_sent(syncd):
    ids = syncd.hubspot.create_contacts(qualified(4) + [
        {"firstname": "Sub", "lastname": "Scriber", "email": "sub@example.com", "lifecyclestage": "subscriber"},
        {"firstname": "No", "lastname": "Email", "lifecyclestage": "marketingqualifiedlead"},
    ])
    syncd.hubspot.update_contact(ids[0], {"recent_conversion_event_name": "Pricing: request a demo",
                                          "utm_campaign": "q3-pipeline"})
    result = syncd.run()
    assert result.exit_code == ExitCode.OK
    leads = syncd.leads_by_hubspot_id()
    assert sorted(leads) == sorted(ids[:4])
    lead = leads[ids[0]]
    assert (lead["FirstName"], lead["LastName"], lead["Company"], lead["Email"]) == \
        ("First0", "Last0", "Company 0", "lead0@example.com")
    assert lead["LeadSource"] == "Search" and lead["HubSpot_Source__c"] == "ORGANIC_SEARCH"
    assert lead["UTM_Campaign__c"] == "q3-pipeline"
    assert lead["Content_Consumed__c"] == "Pricing: request a demo\nEbook"     # newest first
    assert lead["Pain_Points__c"] == "slow handoff"
    brief = lead["Description"]
    assert brief.splitlines()[0].startswith("First0 Last0 at Company 0 (MQL")
    assert "Came from: Organic search (Google), campaign q3-pipeline" in brief
    assert "Converted on: Pricing: request a demo" in brief and "Pain points: slow handoff" in brief


def test_second_run_with_nothing_changed_writes_nothing_and_three_edits_write_three(syncd):
    ids = syncd.hubspot.create_contacts(qualified(20))
    syncd.run()
    before = syncd.salesforce_writes()
    second = syncd.run()
    assert syncd.salesforce_writes() == before
    assert second.counts["unchanged"] == 20 and second.counts["created"] + second.counts["updated"] == 0
    for contact_id in ids[:3]:
        syncd.hubspot.update_contact(contact_id, {"jobtitle": "CFO"})
    third = syncd.run()
    assert (third.counts["updated"], third.counts["created"]) == (3, 0)
    assert syncd.salesforce_writes() == before + 1          # the 3 updates went in one call
    assert all(syncd.leads_by_hubspot_id()[i]["Title"] == "CFO" for i in ids[:3])


def test_a_contact_whose_email_already_has_a_lead_is_linked_not_duplicated(syncd):
    existing = syncd.salesforce.insert("Lead", {"LastName": "Typed In", "Company": "Acme",
                                                "Email": "LEAD1@example.com"})
    ids = syncd.hubspot.create_contacts(qualified(3))
    result = syncd.run()
    assert result.counts["linked_by_email"] == 1 and result.counts["created"] == 2
    leads = syncd.leads_by_hubspot_id()
    assert len(syncd.leads()) == 3
    assert leads[ids[1]]["Id"] == existing and leads[ids[1]]["LastName"] == "Last1"


# Salesforce accepts quotes in an email's local part but not backslashes; names take both.
@pytest.mark.parametrize("email,lastname", [
    ("o'brien@example.com", "O'Brien"),
    ("jo'anne.o'neil@example.com", "Back\\slash \\' O\\\\Neil"),
    ("x'or'1'='1@example.com", "Inject' OR LastName != '"),
], ids=["quote", "backslash", "injection"])
def test_quotes_and_backslashes_sync_and_cannot_alter_a_soql_query(syncd, email, lastname):
    # Another Lead exists: a query altered by the value would match (and link) it.
    other = syncd.salesforce.insert("Lead", {"LastName": "Other", "Company": "Z", "Email": "other@example.com"})
    syncd.salesforce.insert("Lead", {"LastName": "Existing", "Company": "Z", "Email": "exact@example.com"})
    (contact_id,) = syncd.hubspot.create_contacts([{**qualified(1)[0], "email": email, "lastname": lastname}])
    result = syncd.run()
    assert result.error is None and result.counts["rejected"] == 0
    lead = syncd.leads_by_hubspot_id()[contact_id]
    assert lead["Id"] != other and lead["LastName"] == lastname and lead["Email"] == email
    soql = format_soql("SELECT Id FROM Lead WHERE Email = {}", email)
    assert [r["Id"] for r in syncd.soql(soql)] == [lead["Id"]]


def test_a_rejected_record_is_reported_with_its_code_and_the_others_land(syncd):
    contacts = qualified(5)
    contacts[2]["company"] = "C" * 300
    ids = syncd.hubspot.create_contacts(contacts)
    result = syncd.run()
    assert result.exit_code == ExitCode.RECORDS_REJECTED
    (rejection,) = result.rejections
    assert (rejection.hubspot_id, rejection.code) == (ids[2], "STRING_TOO_LONG")
    assert sorted(syncd.leads_by_hubspot_id()) == sorted(ids[:2] + ids[3:])
    store = syncd.store()
    assert [r.code for r in store.list_rejections("hubspot-to-salesforce")] == ["STRING_TOO_LONG"]
    store.close()
    # Unchanged: not retried. Changed: retried, lands, and the rejection is cleared.
    writes = syncd.salesforce_writes()
    again = syncd.run()
    assert syncd.salesforce_writes() == writes and again.counts["still_rejected"] == 1
    assert again.exit_code == ExitCode.OK
    syncd.hubspot.update_contact(ids[2], {"company": "Short Name Ltd"})
    fixed = syncd.run()
    assert fixed.counts["created"] == 1 and ids[2] in syncd.leads_by_hubspot_id()
    store = syncd.store()
    assert store.count_rejections("hubspot-to-salesforce") == 0
    store.close()


def test_the_cli_prints_the_rejected_record_and_exits_with_the_documented_code(syncd, capsys):
    contacts = qualified(2)
    contacts[0]["company"] = "C" * 300                  # Lead.Company holds 255 characters
    ids = syncd.hubspot.create_contacts(contacts)
    assert syncd.cli("run", "--once") == ExitCode.RECORDS_REJECTED
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"record.rejected"' in line]
    assert [(e["hubspot_id"], e["code"]) for e in lines] == [(ids[0], "STRING_TOO_LONG")]


def test_a_converted_lead_updates_its_contact_and_never_fails_the_batch(syncd):
    ids = syncd.hubspot.create_contacts(qualified(3))
    syncd.run()
    lead = syncd.leads_by_hubspot_id()[ids[0]]
    converted = syncd.salesforce.convert_lead(lead["Id"])
    for contact_id in ids:
        syncd.hubspot.update_contact(contact_id, {"pain_points": "needs ROI proof"})
    result = syncd.run()
    assert result.exit_code == ExitCode.OK and result.counts["rejected"] == 0
    assert result.counts["updated"] == 2 and result.counts["contact_updates"] == 1
    contact = syncd.salesforce.get("Contact", converted["contact_id"])
    assert contact["Pain_Points__c"] == "needs ROI proof"
    # Next time state knows it is converted and goes straight to the Contact.
    syncd.hubspot.update_contact(ids[0], {"pain_points": "budget approved"})
    before = syncd.salesforce.requests.count(path_contains="/query")
    assert syncd.run().counts["contact_updates"] == 1
    assert syncd.salesforce.requests.count(path_contains="/query") == before
    assert syncd.salesforce.get("Contact", converted["contact_id"])["Pain_Points__c"] == "budget approved"


def test_a_converted_lead_is_skipped_when_the_mapping_says_skip(syncd, tmp_path):
    from mappings import __file__ as mappings_init
    from pathlib import Path

    text = (Path(mappings_init).parent / "hubspot-to-salesforce.yaml").read_text()
    custom = tmp_path / "skip.yaml"
    custom.write_text(text.replace("action: update_contact", "action: skip"))
    syncd.write_config(mapping=custom)
    ids = syncd.hubspot.create_contacts(qualified(2))
    syncd.run()
    converted = syncd.salesforce.convert_lead(syncd.leads_by_hubspot_id()[ids[0]]["Id"])
    syncd.hubspot.update_contact(ids[0], {"pain_points": "changed"})
    result = syncd.run()
    assert result.exit_code == ExitCode.OK and result.counts["skipped_converted"] == 1
    assert syncd.salesforce.get("Contact", converted["contact_id"])["Pain_Points__c"] != "changed"


def test_dry_run_plans_but_writes_nothing_anywhere(syncd):
    syncd.hubspot.create_contacts(qualified(5))
    result = syncd.run(dry_run=True)
    assert len(result.planned) == 5 and syncd.salesforce_writes() == 0
    store = syncd.store()
    assert store.recent_runs("hubspot-to-salesforce") == [] and store.cursors("hubspot-to-salesforce") == []
    store.close()
    assert syncd.run().counts["created"] == 5


def test_after_the_mapping_changes_rejected_records_are_retried_without_a_contact_edit(syncd, tmp_path):
    from pathlib import Path

    from mappings import __file__ as mappings_init

    contacts = qualified(3)
    contacts[1]["company"] = "C" * 300
    ids = syncd.hubspot.create_contacts(contacts)
    assert syncd.run().counts["rejected"] == 1
    assert syncd.run().counts["still_rejected"] == 1           # unchanged mapping: not retried
    text = (Path(mappings_init).parent / "hubspot-to-salesforce.yaml").read_text()
    fixed = tmp_path / "fixed.yaml"
    fixed.write_text(text.replace('''    default: "[not provided]"
  Email:''', '''    default: "[not provided]"
    max_length: 255
  Email:'''))
    assert fixed.read_text() != text
    syncd.write_config(mapping=fixed)
    syncd.hubspot.requests.clear()
    result = syncd.run(env={"SYNCD_SYNC__LOOKBACK_MINUTES": "0"})
    assert result.counts["created"] == 1 and result.exit_code == ExitCode.OK
    assert len(syncd.leads_by_hubspot_id()[ids[1]]["Company"]) == 255
    assert syncd.hubspot.requests.count(path_contains="/batch/read") >= 1


def test_email_lookups_for_long_addresses_stay_under_salesforces_uri_limit(syncd):
    """200 long emails in one IN (...) would make a 20 KB request URI; Salesforce answers 414."""
    contacts = qualified(200)
    for i, contact in enumerate(contacts):
        contact["email"] = f"firstname.lastname.department.team.{i:03d}@subsidiary.example-enterprise.com"
    ids = syncd.hubspot.create_contacts(contacts)
    result = syncd.run()
    assert result.exit_code == ExitCode.OK and sorted(syncd.leads_by_hubspot_id()) == sorted(ids)
    assert syncd.salesforce.requests.count(status=414) == 0
    assert syncd.salesforce.requests.count(path_contains="/query") >= 2      # split by length, not count
