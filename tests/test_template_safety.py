"""Template mistakes are found by `syncd mapping validate`, offline, with file, line and field (exit 4)."""

from __future__ import annotations

import re

import pytest

from syncd.cli import main
from syncd.core.errors import ExitCode

_MAPPING = """version: 1
qualify: [{{property: lifecyclestage, in: [salesqualifiedlead]}}]
salesforce: {{external_id_field: HubSpot_Contact_Id__c}}
fields:
  LastName: {{from: lastname}}
  Title:
    template: "{field}"
brief:
  field: Description
  template: |
    Hello {{{{ firstname }}}}
    {brief}
"""


@pytest.mark.parametrize("field,brief,where,expected", [
    ("{{ lifecyclestage | humanise }}", "", r":7:\d+: fields\.Title\.template: .*unknown filter 'humanise' "
     r"\(did you mean 'humanize'\?\)", None),
    ("{% if jobtitle is defind %}x{% endif %}", "", r":7:\d+: fields\.Title\.template: .*unknown test 'defind' "
     r"\(did you mean 'defined'\?\)", None),
    ("{{ now }}", "", r":7:\d+: fields\.Title\.template: `now` is not available in templates", None),
    ("x", "{% if jobtitle %}{{ jobtitle | frobnicate }}{% endif %}",
     r":10:\d+: brief\.template: .*unknown filter 'frobnicate' \(line 2 of the template\)", "no-suggestion"),
    ("{{ jobtitle }", "", r":7:\d+: fields\.Title\.template: template syntax error", None),
], ids=["unknown-filter", "unknown-test", "now-refused", "brief-line", "syntax-error"])
def test_validate_finds_each_template_mistake_with_file_line_and_field(tmp_path, capsys, field, brief, where,
                                                                       expected):
    path = tmp_path / "m.yaml"
    path.write_text(_MAPPING.format(field=field.replace('"', '\\"'), brief=brief))
    assert main(["mapping", "validate", str(path)]) == ExitCode.CONFIG_ERROR == 4
    err = capsys.readouterr().err
    assert "Traceback" not in err

    assert re.search(r"m\.yaml" + where, err), err
    if expected == "no-suggestion":
        assert "did you mean" not in err


def test_known_filters_tests_and_reserved_names_still_validate(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(_MAPPING.format(
        field="{{ lifecyclestage | humanize }}{% if jobtitle is defined %}{{ contact_id }}{% endif %}",
        brief="{{ fields.Title }} {{ history.jobtitle | length }} {{ createdate | date }}"))
    assert main(["mapping", "validate", str(path)]) == 0, capsys.readouterr().err
