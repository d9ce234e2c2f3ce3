"""Behaviour of syncd.config's YAML loading and error explaining (``yamlfile``, ``explain``):
plain data, positions, and messages an admin can act on."""

from __future__ import annotations

import io
import math
from typing import Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, Field, SecretStr
from ruamel.yaml import YAML

from syncd.config import (load_yaml, load_yaml_text, problems_from_validation_error, render_loc,
                          validate)
from syncd.core.errors import ConfigError, Problem


def load_error(text: str, source: str = "t.yaml") -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_yaml_text(text, source)
    return info.value


def only(error: ConfigError) -> Problem:
    assert len(error.problems) == 1, error.render()
    return error.problems[0]


# ---------------------------------------------------------------------------------------------
# Plain data and YAML 1.2 scalars


@pytest.mark.parametrize("text, expected", [
    ("v: on", "on"),
    ("v: yes", "yes"),
    ("v: NO", "NO"),
    ("v: true", True),
    ("v: False", False),
    ("v: 010", 10),
    ("v: 0o10", 8),
    ("v: 0x1F", 31),
    ("v: -7", -7),
    ("v: 1.5", 1.5),
    ("v: 62.0", 62.0),
    ("v: .inf", math.inf),
    ("v: ~", None),
    ("v:", None),
    ("v: null", None),
    ("v: 2024-01-31", "2024-01-31"),
    ("v: '12'", "12"),
    ("v: !!str 12", "12"),
    ("v: 12:30", "12:30"),
    ("v: [a, 1]", ["a", 1]),
    ("v: {a: 1}", {"a": 1}),
], ids=["on-is-text", "yes-is-text", "NO-is-text", "true", "False", "010-is-decimal", "octal",
        "hex", "negative", "float", "float-62", "inf", "tilde-null", "empty-null", "null",
        "date-stays-text", "quoted-number", "explicit-str-tag", "time-is-text", "flow-list",
        "flow-map"])
def test_scalars_follow_yaml_1_2(text: str, expected: object) -> None:
    value = load_yaml_text(text, "t.yaml").data["v"]
    assert value == expected and type(value) is type(expected)


def test_yaml_1_1_directive_opts_back_into_old_booleans() -> None:
    assert load_yaml_text("%YAML 1.1\n---\nv: on\n", "t.yaml").data == {"v": True}


def test_keys_are_text_as_written() -> None:
    assert load_yaml_text("1: a\ntrue: b\nnull: c\n010: d\n", "t.yaml").data == {
        "1": "a", "true": "b", "null": "c", "010": "d"}


def test_explicit_core_tags_give_plain_values() -> None:
    doc = load_yaml_text("a: !!str 12\nb: !!int '7'\nc: !!timestamp 2024-01-31\n"
                         "d: !!int seven\n", "t.yaml")
    assert doc.data == {"a": "12", "b": 7, "c": "2024-01-31", "d": "seven"}   # d: the model says


def test_empty_or_comment_only_file_is_an_empty_mapping() -> None:
    doc = load_yaml_text("# nothing here\n", "t.yaml")
    assert doc.data == {}
    assert doc.position(("a",)) == (None, None)


def test_anchors_aliases_and_merge_keys() -> None:
    doc = load_yaml_text(
        "defaults: &d\n  timeout: 5\n  retries: 2\n"
        "a:\n  <<: *d\n  retries: 9\n"
        "b: *d\n", "t.yaml")
    assert doc.data["a"] == {"timeout": 5, "retries": 9}     # explicit keys win over merged
    assert doc.data["b"] == {"timeout": 5, "retries": 2}
    assert doc.position(("a", "timeout")) == (2, 12)        # merged: where it was written
    assert doc.position(("a", "retries")) == (6, 12)


def test_result_is_plain_python_types() -> None:
    doc = load_yaml_text("a:\n  - {b: 1, c: [x, 2.5, true, null]}\n", "t.yaml")
    seen = []

    def walk(value: object) -> None:
        seen.append(type(value))
        if isinstance(value, dict):
            assert all(type(k) is str for k in value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    walk(doc.data)
    assert set(seen) <= {dict, list, str, int, float, bool, type(None)}


# ---------------------------------------------------------------------------------------------
# Positions

DOC = """\
hubspot:
  access_token: abc
fields:
  - from: email
    to: Email
  - from: company
    to: Company
"""


@pytest.mark.parametrize("loc, expected", [
    (("hubspot",), (2, 3)),
    (("hubspot", "access_token"), (2, 17)),
    (("fields", 1), (6, 5)),
    (("fields", 1, "to"), (7, 9)),
    (("fields", 1, "nope"), (6, 5)),            # missing: nearest existing parent
    (("fields", 7, "to"), (4, 3)),
    (("missing", "deeper"), (1, 1)),
    ((), (1, 1)),
], ids=["section", "scalar", "list-item", "nested", "missing-key", "missing-index",
        "missing-top", "root"])
def test_position(loc: tuple, expected: tuple) -> None:
    assert load_yaml_text(DOC, "t.yaml").position(loc) == expected


def test_key_position_points_at_the_key() -> None:
    doc = load_yaml_text(DOC, "t.yaml")
    assert doc.key_position(("hubspot", "access_token")) == (2, 3)
    assert doc.key_position(("fields", 1, "to")) == (7, 5)
    assert doc.key_position(("fields", 0)) == doc.position(("fields", 0))


@pytest.mark.parametrize("loc, text", [
    (("fields", 3, "to"), "fields[3].to"),
    (("a", "b"), "a.b"),
    (("values", "Closed Won"), 'values["Closed Won"]'),
    ((), ""),
], ids=["list", "dotted", "odd-key", "empty"])
def test_render_loc(loc: tuple, text: str) -> None:
    assert render_loc(loc) == text


def test_big_file_loads_and_positions_stay_exact() -> None:
    """Correctness only: how fast a file parses is a benchmark's business, not a test's."""
    items = "".join(f"  - name: field{i}\n    from: prop_{i}\n    to: Field{i}__c\n"
                    for i in range(1200))
    text = "fields:\n" + items                    # 3,601 lines
    doc = load_yaml_text(text, "big.yaml")
    assert len(doc.data["fields"]) == 1200
    assert doc.data["fields"][1199] == {"name": "field1199", "from": "prop_1199",
                                        "to": "Field1199__c"}
    assert doc.position(("fields", 1199, "to")) == (3 + 3 * 1199 + 1, 9)


# ---------------------------------------------------------------------------------------------
# Loading errors: file, line, column and plain words

@pytest.mark.parametrize("text, line, column, field, words", [
    ("a:\n\tb: 1\n", 2, 1, "", "tab character"),
    ("a:\n  b: 1\n  \tc: 2\n", 3, 3, "", "tab character"),
    ("a: b: c\n", 1, 5, "", "put quotes around a value that contains ': '"),
    ("a:\n  b: 1\n c: 2\n", 3, 2, "", "indentation"),
    ("a: 1\nb\nc: 2\n", 2, 1, "", "is the ':' missing?"),
    ("a: 'abc\nb: 2\n", 1, 4, "", "never closed"),
    ("a: [1, 2\nb: 3\n", 2, 2, "", "[ ] that opens on line 1"),
    ("a: 1\n---\nb: 2\n", 2, 1, "", "only one YAML document"),
    ("a: *nope\n", 1, 4, "", "'*nope' refers to an anchor"),
    ("a: @x\n", 1, 4, "", "cannot start with '@'"),
    ("a: \x07\n", 1, 4, "", "control character (U+0007)"),
    ("a:\n  b: 1\n  b: 2\n", 3, 3, "a.b", "duplicate key 'b' (first written on line 2)"),
    ("- a\n- b\n", 1, 1, "", "top level must be a mapping"),
    ("x: hello\n", None, None, None, None),
    ("a: !!binary aGk=\n", 1, 4, "a", "unsupported YAML tag '!!binary'"),
    ("a: !env HOME\n", 1, 4, "a", "unsupported YAML tag '!env'"),
    ("? [a, b]\n: 1\n", 1, 3, "", "a key must be plain text"),
    ("a: !!set {x, y}\n", 1, 4, "a", "unsupported YAML tag '!!set'"),
    ("a: !custom {x: 1}\n", 1, 4, "a", "unsupported YAML tag '!custom'"),
    ("a: &x\n  b: *x\n", 1, 4, "a.b", "an alias refers to the mapping or list that contains it"),
    ("--- &x\na: *x\n", 1, 5, "a", "an alias refers to the mapping or list that contains it"),
    ("<<: 5\n", 1, 5, "", "'<<' must be followed by a mapping or a list of mappings"),
], ids=["tab-indent", "tab-after-spaces", "colon-in-value", "bad-dedent", "missing-colon",
        "unclosed-quote", "unclosed-flow-list", "two-documents", "undefined-alias",
        "reserved-char", "control-char", "duplicate-key", "top-level-list", "valid-control",
        "binary-tag", "custom-tag", "complex-key", "set-tag", "custom-tag-on-mapping",
        "alias-inside-its-anchor", "alias-to-the-top-level", "merge-of-a-scalar"])
def test_load_errors(text: str, line: int | None, column: int | None, field: str | None,
                     words: str | None) -> None:
    if words is None:
        load_yaml_text(text, "t.yaml")            # control: a valid document loads
        return
    problem = only(load_error(text))
    assert (problem.source, problem.line, problem.column, problem.field) == (
        "t.yaml", line, column, field)
    assert words in problem.message
    assert str(problem).startswith(f"t.yaml:{line}:{column}: ")


def test_every_duplicate_key_is_reported_at_once() -> None:
    error = load_error("a: 1\na: 2\nb:\n  c: 1\n  d: 2\n  c: 3\nb: 4\n")
    assert [(p.field, p.line, p.column) for p in error.problems] == [
        ("a", 2, 1), ("b.c", 6, 3), ("b", 7, 1)]


def test_duplicate_key_message_does_not_echo_the_value() -> None:
    error = load_error("hubspot:\n  access_token: pat-na1-SECRET\n  access_token: pat-na1-OTHER\n")
    assert "SECRET" not in str(error) and "OTHER" not in str(error)


def test_syntax_error_on_a_secret_line_does_not_echo_it() -> None:
    error = load_error("access_token: pat: SECRETVALUE\n")
    assert "SECRETVALUE" not in str(error)


def test_file_errors(tmp_path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_yaml(missing)
    assert str(info.value) == f"{missing}: file not found"

    with pytest.raises(ConfigError, match="is a directory"):
        load_yaml(tmp_path)

    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"a: 1\nname: caf\xe9\n")
    with pytest.raises(ConfigError) as info:
        load_yaml(latin1)
    assert (only(info.value).line, only(info.value).column) == (2, 10)
    assert "not UTF-8" in str(info.value)


def test_load_yaml_reads_files_with_bom_and_names_them(tmp_path) -> None:
    path = tmp_path / "c.yaml"
    path.write_bytes(b"\xef\xbb\xbfa:\n  b: [1]\n")
    doc = load_yaml(path)
    assert doc.data == {"a": {"b": [1]}} and doc.path == path and doc.source == str(path)
    assert doc.position(("a", "b", 0)) == (2, 7)


# ---------------------------------------------------------------------------------------------
# Validation errors


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Hub(Strict):
    access_token: SecretStr
    timeout_seconds: float = 30


class Field_(Strict):
    from_: str = Field(alias="from")
    to: str
    mode: Literal["copy", "lower", "upper"] = "copy"


class Copy(Strict):
    kind: Literal["copy"]
    source: str


class Const(Strict):
    kind: Literal["constant"]
    value: int


class Root(Strict):
    hubspot: Hub
    fields: list[Field_] = []
    steps: list[Copy | Const] = Field(default_factory=list)        # smart union
    transform: Copy | Const | None = Field(None, discriminator="kind")


def validation_error(text: str, model: type[BaseModel] = Root) -> ConfigError:
    doc = load_yaml_text(text, "m.yaml")
    with pytest.raises(ConfigError) as info:
        validate(model, doc)
    return info.value


GOOD = "hubspot:\n  access_token: t\n"


@pytest.mark.parametrize("text, where, message", [
    (GOOD + "  acess_token: x\n", "m.yaml:3:3: hubspot.acess_token",
     "unknown key 'acess_token' (did you mean 'access_token'?)"),
    (GOOD + "  timeout_seconds: soon\n", "m.yaml:3:20: hubspot.timeout_seconds",
     "expected a number, got text"),
    (GOOD + "fields:\n  - from: a\n    to: A\n  - from: b\n    to: [B]\n",
     "m.yaml:7:9: fields[1].to", "expected text, got a list"),
    (GOOD + "fields:\n  - from: a\n", "m.yaml:4:5: fields[0].to", "required key is missing"),
    ("{}\n", "m.yaml:1:1: hubspot", "required key is missing"),
    (GOOD + "fields:\n  - {from: a, to: A, mode: title}\n", "m.yaml:4:28: fields[0].mode",
     "must be one of 'copy', 'lower' or 'upper'"),
    (GOOD + "fields:\n  - {from: a, to: A, fro: x}\n", "m.yaml:4:22: fields[0].fro",
     "unknown key 'fro' (did you mean 'from'?)"),
    (GOOD + "transform:\n  kind: shout\n", "m.yaml:4:9: transform.kind",
     "must be one of 'copy', 'constant'"),
    (GOOD + "transform:\n  source: x\n", "m.yaml:4:3: transform.kind",
     "required key is missing"),
    (GOOD + "transform:\n  kind: constant\n  value: x\n", "m.yaml:5:10: transform.value",
     "expected a whole number, got text"),
    (GOOD + "steps:\n  - kind: copy\n    source: [x]\n", "m.yaml:5:13: steps[0].source",
     "expected text, got a list"),
    (GOOD + "hubspot: 5\n", None, None),
], ids=["unknown-key-suggestion", "wrong-type", "nested-list-item", "missing-in-list-item",
        "missing-top-level", "literal-lists-allowed", "alias-suggestion", "tag-invalid",
        "tag-missing", "inside-tagged-union", "smart-union-best-branch", "duplicate-is-load-error"])
def test_validation_errors(text: str, where: str | None, message: str | None) -> None:
    if where is None:
        assert "duplicate key" in str(load_error(text))
        return
    problem = only(validation_error(text))
    assert str(problem) == f"{where}: {message}"


def test_all_problems_are_reported_at_once() -> None:
    error = validation_error(
        "hubspot:\n  acess_token: x\n  timeout_seconds: never\n"
        "fields:\n  - from: a\n  - to: [b]\n  - nonsense\n")
    fields = {p.field for p in error.problems}
    assert fields == {"hubspot.access_token", "hubspot.acess_token", "hubspot.timeout_seconds",
                      "fields[0].to", "fields[1].from", "fields[1].to", "fields[2]"}
    assert error.render().startswith(f"{len(fields)} problems:\n  m.yaml:")


def test_smart_union_with_scalars_joins_the_alternatives() -> None:
    class Model(Strict):
        size: int | list[int]
    problem = only(validation_error("size: big\n", Model))
    assert problem.message == "expected a whole number, got text; or expected a list, got text"
    assert (problem.field, problem.line, problem.column) == ("size", 1, 7)


def test_validation_message_never_echoes_the_value() -> None:
    class Model(Strict):
        token: SecretStr
        level: Literal["a", "b"]
        count: int
    error = validation_error("token: [SECRET-1]\nlevel: SECRET-2\ncount: SECRET-3\n", Model)
    assert len(error.problems) == 3
    assert "SECRET" not in str(error)


def test_validate_with_separate_data_and_context() -> None:
    class Model(Strict):
        n: int
    doc = load_yaml_text("outer:\n  n: 1\n", "m.yaml")
    assert validate(Model, doc, data=doc.data["outer"], context={"x": 1}).n == 1


def test_problems_from_validation_error_with_prefix_loc() -> None:
    from pydantic import ValidationError

    doc = load_yaml_text("pipelines:\n  main:\n    hubspot:\n      timeout_seconds: x\n", "p.yaml")
    with pytest.raises(ValidationError) as info:
        Root.model_validate(doc.data["pipelines"]["main"])
    problems = problems_from_validation_error(info.value, doc, prefix_loc=("pipelines", "main"),
                                              model=Root)
    assert [str(p) for p in problems] == [
        "p.yaml:4:7: pipelines.main.hubspot.access_token: required key is missing",
        "p.yaml:4:24: pipelines.main.hubspot.timeout_seconds: expected a number, got text"]


def test_without_a_model_union_labels_are_still_skipped() -> None:
    from pydantic import ValidationError

    doc = load_yaml_text(GOOD + "transform:\n  kind: constant\n  value: x\n", "m.yaml")
    with pytest.raises(ValidationError) as info:
        Root.model_validate(doc.data)
    [problem] = problems_from_validation_error(info.value, doc)
    assert str(problem) == "m.yaml:5:10: transform.value: expected a whole number, got text"


# ---------------------------------------------------------------------------------------------
# Property: whatever ruamel writes, we read back as the same plain data

# Printable text (ruamel's own emitter mishandles a few exotic control characters and keys
# such as ':0' in flow style, which is not what this property is about).
printable = st.characters(min_codepoint=0x20, max_codepoint=0x24F, exclude_characters="\x7f\x85")
keys = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_ .-]{0,7}", fullmatch=True)
scalars = (st.none() | st.booleans() | st.integers() |
           st.floats(allow_nan=False, allow_infinity=True) |
           st.text(printable, max_size=12))
trees = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) |
                     st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(keys, trees, max_size=5))
def test_round_trip_through_ruamel_dump(data: dict) -> None:
    out = io.StringIO()
    dumper = YAML(typ="safe", pure=True)
    dumper.default_flow_style, dumper.width = False, 10_000   # its line folding has bugs
    dumper.dump(data, out)
    assert load_yaml_text(out.getvalue(), "gen.yaml").data == data
