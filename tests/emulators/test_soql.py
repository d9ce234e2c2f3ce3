"""Unit tests of the SOQL subset the Salesforce emulator understands (emulators/salesforce/soql/)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from simple_salesforce import format_soql

from emulators.salesforce import soql
from emulators.salesforce.demo_org import demo_schema
from emulators.salesforce.ids import id_checksum, make_id, normalize_id

SCHEMA = demo_schema()
UTC = dt.timezone.utc
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=80)


def _lead(n: int, **fields: Any) -> dict[str, Any]:
    rec = {"Id": make_id("00Q", n), "IsDeleted": False, "IsConverted": False}
    rec.update(fields)
    return rec


class World:
    """A tiny in-memory record set and the resolver soql needs for relationship paths."""

    def __init__(self, *records: tuple[str, dict[str, Any]]) -> None:
        self.by_object: dict[str, list[dict[str, Any]]] = {}
        self.by_id: dict[str, dict[str, Any]] = {}
        for sobject, rec in records:
            self.by_object.setdefault(sobject, []).append(rec)
            self.by_id[rec["Id"]] = rec

    def resolve(self, sobject: str, rid: str) -> dict[str, Any] | None:
        return self.by_id.get(rid)

    def run(self, text: str) -> soql.QueryResult:
        bound = soql.compile_query(text, SCHEMA)
        return bound.run(self.by_object.get(bound.sobject.name, []), self.resolve,
                         lambda s, i: f"/services/data/v62.0/sobjects/{s}/{i}")

    def ids(self, text: str) -> list[str]:
        return [r["Id"] for r in self.run(text).records]


def error_of(text: str) -> soql.SoqlError:
    with pytest.raises(soql.SoqlError) as info:
        soql.compile_query(text, SCHEMA)
    return info.value


# --- tokenizer: string escapes ------------------------------------------------------------

@pytest.mark.parametrize("escaped, expected", [
    (r"'a\nb'", "a\nb"), (r"'a\Nb'", "a\nb"), (r"'a\rb'", "a\rb"), (r"'a\Rb'", "a\rb"),
    (r"'a\tb'", "a\tb"), (r"'a\Tb'", "a\tb"), (r"'a\bb'", "a\bb"), (r"'a\Bb'", "a\bb"),
    (r"'a\fb'", "a\fb"), (r"'a\Fb'", "a\fb"), (r"'a\"b'", 'a"b'), (r"'o\'brien'", "o'brien"),
    (r"'back\\slash'", "back\\slash"), (r"'caf\u00e9'", "café"),
])
def test_tokenizer_decodes_every_documented_escape_sequence(escaped: str, expected: str) -> None:
    tokens = soql.tokenize(escaped)
    assert [t.kind for t in tokens] == ["STRING", "EOF"]
    assert tokens[0].value == expected


@pytest.mark.parametrize("literal", [r"'bad\q'", r"'bad\x41'", r"'trailing\'", "'open",
                                     r"'a\'", r"'\u12'"])
def test_invalid_escape_or_unterminated_string_is_malformed_query(literal: str) -> None:
    err = error_of(f"SELECT Id FROM Lead WHERE Company = {literal}")
    assert err.error_code == "MALFORMED_QUERY"


def test_like_only_escapes_are_rejected_outside_like() -> None:
    for literal in (r"'50\%'", r"'a\_b'"):
        assert error_of(f"SELECT Id FROM Lead WHERE Company = {literal}").error_code \
            == "MALFORMED_QUERY"
        soql.compile_query(f"SELECT Id FROM Lead WHERE Company LIKE {literal}", SCHEMA)


def test_double_quoted_strings_are_malformed_query() -> None:
    assert error_of('SELECT Id FROM Lead WHERE Company = "Acme"').error_code == "MALFORMED_QUERY"


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_format_soql_quoting_round_trips_through_the_tokenizer(value: str) -> None:
    tokens = soql.tokenize(format_soql("{}", value))
    assert [t.kind for t in tokens] == ["STRING", "EOF"]
    assert tokens[0].value == value


@settings(max_examples=300, deadline=None)
@given(TEXT)
def test_escape_literal_matches_format_soql(value: str) -> None:
    assert soql.escape_literal(value) == format_soql("{}", value)


@settings(max_examples=400, deadline=None)
@given(TEXT)
def test_arbitrary_text_spliced_into_a_query_fails_only_with_soql_errors(raw: str) -> None:
    for text in (f"SELECT Id FROM Lead WHERE Company = '{raw}'",
                 f"SELECT Id FROM Lead WHERE {raw}", raw):
        try:
            soql.compile_query(text, SCHEMA)
        except soql.SoqlError as e:
            assert e.error_code in {"MALFORMED_QUERY", "INVALID_FIELD", "INVALID_TYPE",
                                    "INVALID_QUERY_FILTER_OPERATOR",
                                    "NUMBER_OUTSIDE_VALID_RANGE"}


def test_unescaped_quote_in_value_is_malformed_query() -> None:
    assert error_of("SELECT Id FROM Lead WHERE Email = 'o'brien@example.com'").error_code \
        == "MALFORMED_QUERY"


# --- parser -------------------------------------------------------------------------------

def test_keywords_and_field_names_are_case_insensitive_but_output_is_canonical() -> None:
    world = World(("Lead", _lead(1, Email="a@example.com", Company="Acme")))
    result = world.run("select id, EMAIL, company FROM lead wHeRe email = 'A@EXAMPLE.COM'")
    assert result.records == [{
        "attributes": {"type": "Lead", "url": f"/services/data/v62.0/sobjects/Lead/"
                                              f"{make_id('00Q', 1)}"},
        "Id": make_id("00Q", 1), "Email": "a@example.com", "Company": "Acme"}]


def test_mixing_and_with_or_without_parentheses_is_malformed() -> None:
    assert error_of("SELECT Id FROM Lead WHERE Company = 'a' AND City = 'b' OR City = 'c'"
                    ).error_code == "MALFORMED_QUERY"
    soql.compile_query("SELECT Id FROM Lead WHERE Company = 'a' AND (City = 'b' OR City = 'c')",
                       SCHEMA)


def test_boolean_logic_with_not_and_parentheses() -> None:
    world = World(*[("Lead", _lead(i, Company=c, City=city))
                    for i, (c, city) in enumerate([("a", "x"), ("a", "y"), ("b", "x")], 1)])
    ids = world.ids
    assert ids("SELECT Id FROM Lead WHERE Company = 'a' AND (City = 'x' OR City = 'y')") \
        == [make_id("00Q", 1), make_id("00Q", 2)]
    assert ids("SELECT Id FROM Lead WHERE NOT (Company = 'a' AND City = 'x')") \
        == [make_id("00Q", 2), make_id("00Q", 3)]
    assert ids("SELECT Id FROM Lead WHERE NOT Company = 'a' OR City = 'y'") \
        == [make_id("00Q", 2), make_id("00Q", 3)]


@pytest.mark.parametrize("where, expected", [
    ("NumberOfEmployees = 10", [1]),
    ("NumberOfEmployees != 10", [2, 3]),
    ("NumberOfEmployees <> 10", [2, 3]),
    ("NumberOfEmployees < 20", [1]),
    ("NumberOfEmployees <= 20", [1, 2]),
    ("NumberOfEmployees > 10", [2]),
    ("NumberOfEmployees >= 10", [1, 2]),
    ("NumberOfEmployees = null", [3]),
    ("NumberOfEmployees != null", [1, 2]),
    ("NumberOfEmployees IN (10, 30)", [1]),
    ("NumberOfEmployees NOT IN (10, 30)", [2, 3]),
    ("NumberOfEmployees = 10.0", [1]),
    ("Company IN ('ACME', 'other')", [1, 3]),
    ("Company NOT IN ('acme')", [2, 3]),
    ("Company LIKE 'ac%'", [1]),
    ("Company LIKE '%_o%'", [2]),
    ("Company LIKE 'b\\_o%'", [2]),
    ("Company LIKE 'b\\%%'", []),
    ("Company LIKE '_cme'", [1]),
    ("IsConverted = true", [3]),
    ("IsConverted = false", [1, 2]),
])
def test_comparison_operators(where: str, expected: list[int]) -> None:
    world = World(
        ("Lead", _lead(1, Company="Acme", NumberOfEmployees=10)),
        ("Lead", _lead(2, Company="b_ox", NumberOfEmployees=20)),
        ("Lead", _lead(3, Company="Other", IsConverted=True)),
    )
    assert world.ids(f"SELECT Id FROM Lead WHERE {where}") == [make_id("00Q", i)
                                                               for i in expected]


def test_datetimes_compare_as_instants_whatever_the_offset() -> None:
    created = dt.datetime(2024, 1, 31, 10, 0, tzinfo=UTC)
    world = World(("Lead", _lead(1, CreatedDate=created)))
    assert world.ids("SELECT Id FROM Lead WHERE CreatedDate = 2024-01-31T11:00:00+01:00")
    assert world.ids("SELECT Id FROM Lead WHERE CreatedDate = 2024-01-31T10:00:00Z")
    assert world.ids("SELECT Id FROM Lead WHERE CreatedDate = 2024-01-31T10:00:00.000+0000")
    assert not world.ids("SELECT Id FROM Lead WHERE CreatedDate > 2024-01-31T10:30:00+01:00"
                         " AND CreatedDate < 2024-01-31T09:00:00Z")
    assert world.ids("SELECT Id FROM Lead WHERE CreatedDate > 2024-01-31T10:30:00+01:00")
    assert world.ids("SELECT Id FROM Lead WHERE CreatedDate < 2024-01-31T05:30:00-05:00")


def test_date_literals_compare_with_date_fields() -> None:
    world = World(("Lead", _lead(1, ConvertedDate=dt.date(2024, 2, 1))))
    assert world.ids("SELECT Id FROM Lead WHERE ConvertedDate >= 2024-02-01")
    assert not world.ids("SELECT Id FROM Lead WHERE ConvertedDate < 2024-02-01")


@pytest.mark.parametrize("where", [
    "CreatedDate > 2024-01-31",            # date literal for a datetime field
    "ConvertedDate > 2024-01-31T00:00:00Z",  # datetime literal for a date field
    "Company = 5",                          # number for a text field
    "NumberOfEmployees = '5'",              # quoted number
    "IsConverted = 'true'",                 # quoted boolean
    "CreatedDate > '2024-01-31T00:00:00Z'",  # quoted datetime
])
def test_literal_of_the_wrong_type_is_invalid_field(where: str) -> None:
    err = error_of(f"SELECT Id FROM Lead WHERE {where}")
    assert err.error_code == "INVALID_FIELD"
    assert "value of filter criterion" in err.message


def test_unknown_field_object_and_relationship_errors() -> None:
    err = error_of("SELECT Id, Bogus__c FROM Lead")
    assert err.error_code == "INVALID_FIELD"
    assert "No such column 'Bogus__c' on entity 'Lead'" in err.message
    err = error_of("SELECT Id FROM Lead WHERE Nope = 'x'")
    assert err.error_code == "INVALID_FIELD"
    assert error_of("SELECT Id FROM Leads").error_code == "INVALID_TYPE"
    err = error_of("SELECT ConvertedOpp.StageName FROM Lead")
    assert err.error_code == "INVALID_FIELD" and "relationship 'ConvertedOpp'" in err.message
    err = error_of("SELECT ConvertedOpportunity.Bogus FROM Lead")
    assert "No such column 'Bogus' on entity 'Opportunity'" in err.message


@pytest.mark.parametrize("text", [
    "SELECT FROM Lead", "SELECT Id Lead", "SELECT Id FROM", "SELECT Id, FROM Lead",
    "SELECT Id FROM Lead WHERE", "SELECT Id FROM Lead WHERE Company =",
    "SELECT Id FROM Lead WHERE Company 'x'", "SELECT Id FROM Lead WHERE (Company = 'x'",
    "SELECT Id FROM Lead LIMIT x", "SELECT Id FROM Lead ORDER Company",
    "SELECT Id FROM Lead WHERE Company IN ()", "SELECT Id FROM Lead extra tokens",
    "SELECT Id FROM Lead WHERE Company = 'x' garbage", "", "   ",
    "SELECT Id FROM Lead WHERE Company = 'a' OR City = 'b' AND City = 'c'",
    "SELECT COUNT(), Id FROM Lead", "SELECT Id FROM Lead WHERE Company == 'x'",
    "SELECT Id FROM Lead WHERE Company = :name",
])
def test_syntax_errors_are_malformed_query(text: str) -> None:
    assert error_of(text).error_code == "MALFORMED_QUERY"


def test_malformed_query_message_names_row_and_column() -> None:
    err = error_of("SELECT Id FROM Lead WHERE Company 'x'")
    assert "ERROR at Row:1:Column:35" in err.message
    assert "unexpected token: ''x''" in err.message


def test_query_longer_than_100000_characters_is_malformed() -> None:
    padding = " OR ".join(["Company = 'aaaaaaaaaa'"] * 5000)
    text = f"SELECT Id FROM Lead WHERE {padding}"
    assert len(text) > soql.MAX_QUERY_LENGTH
    assert error_of(text).error_code == "MALFORMED_QUERY"


def test_string_literal_over_4000_characters_in_where_is_rejected() -> None:
    soql.compile_query(f"SELECT Id FROM Lead WHERE Company = '{'a' * 4000}'", SCHEMA)
    err = error_of(f"SELECT Id FROM Lead WHERE Company = '{'a' * 4001}'")
    assert err.error_code == "MALFORMED_QUERY"
    assert "4000" in err.message


def test_long_text_areas_can_be_neither_filtered_nor_sorted() -> None:
    assert "can not be filtered" in error_of(
        "SELECT Id FROM Lead WHERE Description = 'x'").message
    assert "can not be sorted" in error_of("SELECT Id FROM Lead ORDER BY Description").message


def test_id_literals_must_be_valid_ids_and_15_char_ids_match_18_char_ids() -> None:
    rid = make_id("00Q", 7)
    world = World(("Lead", _lead(7)))
    assert world.ids(f"SELECT Id FROM Lead WHERE Id = '{rid[:15]}'") == [rid]
    assert world.ids(f"SELECT Id FROM Lead WHERE Id IN ('{rid}')") == [rid]
    assert error_of("SELECT Id FROM Lead WHERE Id = 'nope'").error_code \
        == "INVALID_QUERY_FILTER_OPERATOR"


def test_order_by_multiple_keys_with_direction_and_nulls_placement() -> None:
    world = World(
        ("Lead", _lead(1, Company="b", City="x")),
        ("Lead", _lead(2, Company="A", City=None)),
        ("Lead", _lead(3, Company=None, City="y")),
        ("Lead", _lead(4, Company="a", City="z")),
    )
    def ns(clause: str) -> list[int]:
        return [next(n for n in range(1, 5) if make_id("00Q", n) == i)
                for i in world.ids(f"SELECT Id FROM Lead ORDER BY {clause}")]

    assert ns("Company") == [3, 2, 4, 1]                     # ASC: nulls first, case-insensitive
    assert ns("Company ASC NULLS LAST") == [2, 4, 1, 3]
    assert ns("Company DESC") == [1, 2, 4, 3]                # DESC: nulls last
    assert ns("Company DESC NULLS FIRST") == [3, 1, 2, 4]
    assert ns("Company ASC NULLS LAST, City DESC") == [4, 2, 1, 3]
    assert ns("City DESC NULLS LAST, Company") == [4, 3, 1, 2]


def test_limit_offset_and_count() -> None:
    world = World(*[("Lead", _lead(i, Company=f"c{i}")) for i in range(1, 8)])
    assert world.ids("SELECT Id FROM Lead ORDER BY Company LIMIT 2 OFFSET 3") \
        == [make_id("00Q", 4), make_id("00Q", 5)]
    result = world.run("SELECT COUNT() FROM Lead WHERE Company != 'c1'")
    assert (result.total_size, result.records) == (6, [])
    assert error_of("SELECT Id FROM Lead OFFSET 2001").error_code == "NUMBER_OUTSIDE_VALID_RANGE"


def test_parent_relationship_paths_are_nested_and_null_without_parent() -> None:
    opp_id = make_id("006", 1)
    acc_id = make_id("001", 2)
    world = World(
        ("Account", {"Id": acc_id, "Name": "Acme", "IsDeleted": False}),
        ("Opportunity", {"Id": opp_id, "StageName": "Closed Won", "AccountId": acc_id,
                         "Amount": 1200.0, "IsDeleted": False}),
        ("Lead", _lead(1, ConvertedOpportunityId=opp_id, IsConverted=True)),
        ("Lead", _lead(2)),
    )
    records = world.run("SELECT Id, ConvertedOpportunity.StageName, ConvertedOpportunity.Amount,"
                        " ConvertedOpportunity.Account.Name FROM Lead ORDER BY Id").records
    assert records[0]["ConvertedOpportunity"] == {
        "attributes": {"type": "Opportunity",
                       "url": f"/services/data/v62.0/sobjects/Opportunity/{opp_id}"},
        "StageName": "Closed Won", "Amount": 1200.0,
        "Account": {"attributes": {"type": "Account",
                                   "url": f"/services/data/v62.0/sobjects/Account/{acc_id}"},
                    "Name": "Acme"},
    }
    assert records[1]["ConvertedOpportunity"] is None
    assert world.ids("SELECT Id FROM Lead WHERE ConvertedOpportunity.StageName = 'closed won'") \
        == [make_id("00Q", 1)]


def test_object_name_and_alias_prefixes_are_accepted() -> None:
    world = World(("Lead", _lead(1, Company="Acme")))
    assert world.ids("SELECT Lead.Id FROM Lead WHERE Lead.Company = 'Acme'")
    assert world.ids("SELECT l.Id FROM Lead l WHERE l.Company = 'Acme' ORDER BY l.Company")


def test_group_is_an_object_name_after_from_though_group_is_a_keyword() -> None:
    queue = {"Id": make_id("00G", 1), "IsDeleted": False, "Name": "Inbound queue", "Type": "Queue"}
    world = World(("Group", queue))
    assert world.ids(format_soql("SELECT Id, Name FROM Group WHERE Id IN {ids}", ids=[queue["Id"]])) == [queue["Id"]]
    assert error_of("SELECT Id FROM Lead GROUP BY Id").error_code == "MALFORMED_QUERY"


def test_duplicate_selected_field_is_rejected() -> None:
    assert error_of("SELECT Id, id FROM Lead").error_code == "MALFORMED_QUERY"


# --- ids ----------------------------------------------------------------------------------

def test_id_checksum_matches_the_known_salesforce_example() -> None:
    # Documented example pair: 001A0000006Vm9r <-> 001A0000006Vm9rIAC.
    assert id_checksum("001A0000006Vm9r") == "IAC"
    assert normalize_id("001A0000006Vm9r") == "001A0000006Vm9rIAC"
    assert normalize_id("001A0000006Vm9rIAC") == "001A0000006Vm9rIAC"
    assert normalize_id("001A0000006Vm9rXXX") is None
    assert normalize_id("bogus") is None
