"""The mapping against the live metadata of both systems: pure, on plain data.

``check`` takes what Salesforce's ``describe`` says of each object's fields (the raw ``fields[]``
entries: name, type, length, picklistValues with ``active``, restrictedPicklist, createable,
updateable, nillable, defaultedOnCreate) and what HubSpot's properties API says of each contact
property (name, type, options), and lists every way the mapping would fail against them. Each
``Finding`` is located at the key that has to change (``load.locate`` turns that into file and
line) and says how to fix it.

A finding ``blocks`` when every record would be refused the same way (an unknown field, a value
the picklist never accepts, a field syncd may not write): the daemon and ``run --once`` stop
before the first write. The others (text that *can* be longer than the field, a required field
some contacts leave empty) refuse only the records they concern, so the run goes on and those
records are rejected one by one, as before; ``syncd mapping check`` lists both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from syncd.mapping import templates
from syncd.mapping.model import FieldRule, Mapping
from syncd.mapping.templates import did_you_mean

Describe = dict[str, dict[str, Any]]        # field name -> describe entry, for one object

# Salesforce types, as describe reports them, by what a mapping `type` sends.
_SF_NUMBER = {"int", "double", "currency", "percent"}
_SF_TEXT = {"string", "textarea", "email", "phone", "url", "picklist", "multipicklist", "combobox",
            "encryptedstring"}
_SF_WANTS = {"boolean": "boolean", "date": "date", "datetime": "datetime"}
# HubSpot types a text value of unbounded length comes from (HubSpot stores up to 65,536 characters).
# Text whose value is an address or a number: cutting it (max_length) would write a wrong one, so
# a value too long for the field is left to be refused and listed in `syncd rejected`.
_SF_STRUCTURED = {"email", "phone", "url"}
_HS_TEXT = {"string", "phone_number"}
_HS_UNBOUNDED = 65536
# HubSpot property type each feedback `type` needs (a phone_number property takes text too).
_HS_FEEDBACK = {"string": {"string", "phone_number"}, "number": {"number"}, "date": {"date"},
                "datetime": {"datetime"}, "enumeration": {"enumeration"}}


@dataclass(frozen=True)
class Finding:
    loc: tuple[str | int, ...]      # the mapping key to change, e.g. ("fields", "Titel")
    message: str                    # what is wrong and how to fix it
    blocks: bool = True             # every record would fail: no write may start


def _field(describe: Describe, name: str) -> dict[str, Any] | None:
    """Salesforce matches field names case-insensitively."""
    wanted = name.lower()
    return next((f for n, f in describe.items() if n.lower() == wanted), None)


def _active(entry: dict[str, Any]) -> set[str]:
    return {str(v.get("value")) for v in entry.get("picklistValues") or [] if v.get("active", True)}


def _inactive(entry: dict[str, Any]) -> set[str]:
    return {str(v.get("value")) for v in entry.get("picklistValues") or [] if not v.get("active", True)}


def _unknown(kind: str, name: str, known: Any, where: str) -> str:
    return f"{where} has no {kind} '{name}'{did_you_mean(name, known)}: correct the name, or create the {kind}"


class _Check:
    def __init__(self, mapping: Mapping, salesforce: dict[str, Describe], hubspot: dict[str, dict[str, Any]]) -> None:
        self.mapping, self.salesforce, self.hubspot = mapping, salesforce, hubspot
        self.findings: list[Finding] = []

    def add(self, loc: tuple[str | int, ...], message: str, blocks: bool = True) -> None:
        self.findings.append(Finding(loc, message, blocks))

    def sf_field(self, sobject: str, name: str, loc: tuple[str | int, ...]) -> dict[str, Any] | None:
        describe = self.salesforce.get(sobject)
        if describe is None:
            return None
        entry = _field(describe, name)
        if entry is None:
            self.add(loc, _unknown("field", name, describe, f"Salesforce's {sobject}"))
        return entry

    def hs_property(self, name: str, loc: tuple[str | int, ...]) -> dict[str, Any] | None:
        entry = self.hubspot.get(name)
        if entry is None:
            self.add(loc, _unknown("property", name, self.hubspot, "HubSpot's contacts"))
        return entry

    # -- forward: HubSpot properties -> Lead fields ----------------------------------------------
    def forward(self) -> None:
        mapping = self.mapping
        sobject = mapping.salesforce.object
        for index, condition in enumerate(mapping.qualify):
            self.hs_property(condition.property, ("qualify", index, "property"))
        for name, rule in mapping.all_rules().items():
            is_brief = mapping.brief is not None and name == mapping.brief.field and name not in mapping.fields
            loc: tuple[str | int, ...] = ("brief", "field") if is_brief else ("fields", name)
            for prop in self._reads(rule):
                self.hs_property(prop, ("brief", "template") if is_brief else (*loc, "template"))
            for prop in (rule.from_, rule.history):
                if prop is not None:
                    self.hs_property(prop, (*loc, "from" if prop == rule.from_ else "history"))
            entry = self.sf_field(sobject, name, loc)
            if entry is not None:
                self.field_rule(sobject, name, rule, entry, loc)
        ext = self.sf_field(sobject, mapping.salesforce.external_id_field, ("salesforce", "external_id_field"))
        if ext is not None and not ext.get("externalId", False):
            self.add(("salesforce", "external_id_field"), f"{ext['name']} is not marked External ID in Salesforce, so "
                     "syncd cannot upsert on it: tick External ID (and Unique) on the field")
        self.required(sobject)
        self.converted()

    def _reads(self, rule: FieldRule) -> list[str]:
        if rule.template is None:
            return []
        info = templates.analyse(rule.template)
        return sorted(info.properties | info.history_properties)

    def field_rule(self, sobject: str, name: str, rule: FieldRule, entry: dict[str, Any],
                   loc: tuple[str | int, ...]) -> None:
        label = f"{sobject}.{entry['name']}"
        if not entry.get("createable", True) or not entry.get("updateable", True):
            can = "created nor updated" if not entry.get("createable", True) and not entry.get("updateable", True) \
                else "created" if not entry.get("createable", True) else "updated"
            self.add(loc, f"{label} cannot be {can} by syncd's user (read-only, calculated, or hidden by field-level "
                     "security): remove it from the mapping, or make it editable for the integration user")
            return
        sf_type = entry.get("type", "string")
        wanted = _SF_WANTS.get(sf_type) or ("number" if sf_type in _SF_NUMBER else None)
        if wanted is not None and rule.type != wanted:
            self.add((*loc, "type") if rule.type != "string" else loc,
                     f"{label} is a {sf_type} field and the mapping sends {rule.type}: set `type: {wanted}`")
            return
        if sf_type in ("picklist", "multipicklist"):
            self.picklist(label, rule, entry, loc)
        if sf_type in _SF_TEXT:
            self.length(label, rule, entry, loc)

    def picklist(self, label: str, rule: FieldRule, entry: dict[str, Any], loc: tuple[str | int, ...]) -> None:
        active, inactive = _active(entry), _inactive(entry)
        restricted = bool(entry.get("restrictedPicklist"))
        sent: list[tuple[tuple[str | int, ...], str]] = []
        for source, target in (rule.values or {}).items():
            if target is not None:
                sent.append(((*loc, "values", source), target))
        for key in ("default", "value"):
            if getattr(rule, key) is not None:
                sent.append(((*loc, key), str(getattr(rule, key))))
        for where, value in sent:
            if value in active:
                continue
            if value in inactive:
                self.add(where, f"'{value}' is an inactive value of the {label} picklist{' (restricted)' if restricted else ''}: "
                         f"use an active one{did_you_mean(value, active)}, or activate it in Salesforce")
            else:
                self.add(where, f"'{value}' is not a value of the {label} picklist{did_you_mean(value, active)}: "
                         f"use one of {', '.join(sorted(active))}, or add it to the picklist")
        if restricted and rule.from_ is not None and rule.values is None:
            options = self._options(rule.from_)
            refused = sorted(options - active) if options is not None else None
            if refused is None or refused:
                what = (f"HubSpot values {', '.join(refused)} are" if refused else "HubSpot's text values are")
                self.add(loc, f"{label} is a restricted picklist and {what} not among its values, so those records "
                         "are refused: translate them with `values` (HubSpot value: picklist value) and a `default`",
                         blocks=False)

    def _options(self, prop: str) -> set[str] | None:
        entry = self.hubspot.get(prop)
        if entry is None or entry.get("type") != "enumeration":
            return None
        return {str(o.get("value")) for o in entry.get("options") or []}

    def length(self, label: str, rule: FieldRule, entry: dict[str, Any], loc: tuple[str | int, ...]) -> None:
        length = int(entry.get("length") or 0)
        if not length:
            return
        if rule.max_length is not None:
            if rule.max_length > length:
                self.add((*loc, "max_length"), f"max_length {rule.max_length} is more than {label} holds ({length}): "
                         f"set `max_length: {length}`")
            return
        if entry.get("type") in _SF_STRUCTURED:
            return      # cut, an address or a number is wrong: better refused (and listed) than cut
        longest = self._longest(rule)
        if longest is not None and longest > length:
            self.add(loc, f"{label} holds {length} characters and its value can be longer "
                     f"({'up to ' + str(longest) if longest < _HS_UNBOUNDED else 'HubSpot text has no such limit'}); "
                     f"Salesforce refuses such records (STRING_TOO_LONG): set `max_length: {length}` to cut it instead",
                     blocks=False)

    def _longest(self, rule: FieldRule) -> int | None:
        """The longest value the rule can produce (None: it cannot be known to overflow)."""
        if rule.value is not None:
            return len(str(rule.value))
        if rule.values is not None:
            targets = [len(str(v)) for v in rule.values.values() if v is not None]
            return max(targets + [len(str(rule.default or ""))])
        if rule.from_ is not None:
            entry = self.hubspot.get(rule.from_)
            if entry is None:
                return None
            if entry.get("type") == "enumeration":
                return max([len(str(o.get("value"))) for o in entry.get("options") or []] + [0])
            return _HS_UNBOUNDED if entry.get("type") in _HS_TEXT else None
        return _HS_UNBOUNDED            # history and templates join any number of values

    def required(self, sobject: str) -> None:
        describe = self.salesforce.get(sobject)
        if describe is None:
            return
        rules = {n.lower(): r for n, r in self.mapping.all_rules().items()}
        for name, entry in describe.items():
            if entry.get("nillable", True) or entry.get("defaultedOnCreate") or not entry.get("createable", True) \
                    or entry.get("type") == "boolean":
                continue
            if name.lower() == self.mapping.salesforce.external_id_field.lower():
                continue
            rule = rules.get(name.lower())
            if rule is None:
                self.add(("fields",), f"{sobject}.{name} is required and the mapping gives it no value, so every "
                         f"new Lead is refused: add `{name}:` under fields with a `from` and a `default`")
            elif rule.from_ is not None and rule.default is None and not rule.values:
                self.add(("fields", name), f"{sobject}.{name} is required: a contact without {rule.from_} is "
                         f"refused (REQUIRED_FIELD_MISSING); add a `default`", blocks=False)

    def converted(self) -> None:
        converted = self.mapping.salesforce.converted
        if converted.action != "update_contact":
            return
        for lead_field, contact_field in converted.contact_fields.items():
            loc = ("salesforce", "converted", "contact_fields", lead_field)
            entry = self.sf_field("Contact", contact_field, loc)
            if entry is not None and not entry.get("updateable", True):
                self.add(loc, f"Contact.{entry['name']} cannot be updated by syncd's user: remove it from "
                         "contact_fields, or make it editable for the integration user")

    # -- back: Lead and Opportunity fields -> HubSpot properties --------------------------------
    def back(self) -> None:
        feedback = self.mapping.feedback
        if feedback is None:
            return
        if feedback.lead.reason_field:
            self.sf_field("Lead", feedback.lead.reason_field, ("feedback", "lead", "reason_field"))
        if feedback.opportunity.loss_reason_field:
            self.sf_field("Opportunity", feedback.opportunity.loss_reason_field,
                          ("feedback", "opportunity", "loss_reason_field"))
        for name, prop in feedback.properties.items():
            loc = ("feedback", "properties", name)
            sobject, _, field = prop.from_.partition(".")
            if field:
                self.sf_field(sobject, field, (*loc, "from"))
            entry = self.hubspot.get(name)
            if entry is None:
                self.add(loc, f"HubSpot has no contact property '{name}'{did_you_mean(name, self.hubspot)}: "
                         "run `syncd setup hubspot` to create it")
                continue
            if entry.get("type") not in _HS_FEEDBACK[prop.type]:
                self.add((*loc, "type"), f"HubSpot's {name} is of type {entry.get('type')}, the mapping writes "
                         f"{prop.type}: use another property name, or `type: {entry.get('type')}` if that fits")
                continue
            if (entry.get("modificationMetadata") or {}).get("readOnlyValue"):
                self.add(loc, f"HubSpot's {name} is read-only (calculated): use another property")
                continue
            have = {str(o.get("value")) for o in entry.get("options") or []}
            missing = [value for value, _ in prop.options() if value not in have]
            if missing:
                self.add(loc, f"HubSpot's {name} has no option {', '.join(missing)}: run `syncd setup hubspot` "
                         "to add it")
        lifecycle = feedback.lifecycle
        if lifecycle is not None:
            entry = self.hs_property(lifecycle.property, ("feedback", "lifecycle", "property"))
            if entry is not None and entry.get("type") == "enumeration":
                have = {str(o.get("value")) for o in entry.get("options") or []}
                for outcome, stage in lifecycle.moves.items():
                    if stage not in have:
                        self.add(("feedback", "lifecycle", "moves", str(outcome)),
                                 f"{lifecycle.property} has no option '{stage}'{did_you_mean(stage, have)}")


def objects_needed(mapping: Mapping) -> list[str]:
    """The Salesforce objects whose describe the check reads."""
    needed = {mapping.salesforce.object}
    if mapping.salesforce.converted.action == "update_contact" and mapping.salesforce.converted.contact_fields:
        needed.add("Contact")
    if mapping.feedback is not None:
        needed.add("Lead")
        if mapping.feedback.opportunity_fields():
            needed.add("Opportunity")
    return sorted(needed)


def check(mapping: Mapping, salesforce: dict[str, Describe], hubspot: dict[str, dict[str, Any]]) -> list[Finding]:
    """Every finding, in file order of the checks (forward, then feedback); one per key and problem."""
    run = _Check(mapping, salesforce, hubspot)
    run.forward()
    run.back()
    seen: set[tuple[tuple[str | int, ...], str]] = set()
    unique = []
    for finding in run.findings:
        if (finding.loc, finding.message) not in seen:
            seen.add((finding.loc, finding.message))
            unique.append(finding)
    return unique
