"""How problems read: location first, then the field, then plain words; nothing empty."""

import pytest

from syncd.core.errors import ConfigError, Problem


@pytest.mark.parametrize(("problem", "text"), [
    (Problem("syncd.yaml", "hubspot.base_url", "must be https", 3, 5), "syncd.yaml:3:5: hubspot.base_url: must be https"),
    (Problem("environment", "sync.pipeline", "bad name"), "environment: sync.pipeline: bad name"),
    (Problem("map.yaml", "", "YAML syntax error", 2), "map.yaml:2: YAML syntax error"),
], ids=["file-line-column", "environment", "no-field"])
def test_a_problem_names_where_what_and_why(problem, text):
    assert str(problem) == text


def test_a_bare_message_has_no_dangling_separator():
    assert str(ConfigError("no config file found")) == "no config file found"


def test_several_problems_are_listed_one_per_line():
    error = ConfigError([Problem("a.yaml", "x", "bad", 1), Problem("a.yaml", "y", "worse", 2)])
    assert str(error).splitlines() == ["2 problems:", "  a.yaml:1: x: bad", "  a.yaml:2: y: worse"]
