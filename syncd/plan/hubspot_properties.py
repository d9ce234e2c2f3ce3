"""Which HubSpot contact properties the feedback mapping needs, and what is missing: pure.

``plan_setup`` compares the mapping with the portal's property definitions and says what
`syncd setup hubspot` creates (the group, missing properties, missing enumeration options) and
what it cannot fix (a property of another type, a read-only one). ``check`` is the same
comparison as one list of problems: the back leg runs it before its first write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from syncd.mapping.feedback import DERIVED_SOURCES, Feedback, FeedbackProperty

# mapping type -> (HubSpot type, fieldType)
HUBSPOT_TYPES = {"string": ("string", "text"), "number": ("number", "number"), "date": ("date", "date"),
                 "datetime": ("datetime", "date"), "enumeration": ("enumeration", "select")}
GROUP_LABEL = "syncd (from Salesforce)"


def _label(name: str, prop: FeedbackProperty) -> str:
    if prop.label:
        return prop.label
    words = name.removeprefix("syncd_").replace("_", " ").strip()
    return words[:1].upper() + words[1:]


def definition(name: str, prop: FeedbackProperty, group: str) -> dict[str, Any]:
    """The property definition syncd creates for one feedback property."""
    hs_type, field_type = HUBSPOT_TYPES[prop.type]
    source = DERIVED_SOURCES.get(prop.from_, f"Salesforce {prop.from_}")
    return {"name": name, "label": _label(name, prop), "type": hs_type, "fieldType": field_type, "groupName": group,
            "description": f"Written by syncd from Salesforce: {source}. Edits here are overwritten.",
            "options": [{"label": label, "value": value, "displayOrder": i, "hidden": False}
                        for i, (value, label) in enumerate(prop.options())]}


@dataclass
class SetupPlan:
    create_group: bool = False
    create: list[dict[str, Any]] = field(default_factory=list)
    add_options: dict[str, list[dict[str, Any]]] = field(default_factory=dict)   # name -> full option list
    options_added: dict[str, list[str]] = field(default_factory=dict)            # name -> the new values
    existing: list[str] = field(default_factory=list)                              # already right
    problems: list[str] = field(default_factory=list)                              # not fixed automatically

    @property
    def changes(self) -> bool:
        return self.create_group or bool(self.create) or bool(self.add_options)


def _compatible(existing: dict[str, Any], wanted: str) -> bool:
    have = existing.get("type")
    return have == wanted or (wanted == "string" and have == "phone_number")


def plan_setup(feedback: Feedback, properties: dict[str, dict[str, Any]], groups: dict[str, Any]) -> SetupPlan:
    plan = SetupPlan(create_group=feedback.group not in groups)
    for name, prop in feedback.properties.items():
        wanted = definition(name, prop, feedback.group)
        existing = properties.get(name)
        if existing is None:
            plan.create.append(wanted)
            continue
        if not _compatible(existing, wanted["type"]):
            plan.problems.append(f"{name} exists as type {existing.get('type')}, the mapping writes "
                                 f"{wanted['type']}: use another property name in the mapping")
            continue
        if (existing.get("modificationMetadata") or {}).get("readOnlyValue"):
            plan.problems.append(f"{name} is read-only in HubSpot (calculated): use another property name")
            continue
        have = list(existing.get("options") or [])
        values = {o.get("value") for o in have}
        extra = [o for o in wanted["options"] if o["value"] not in values]
        if extra:
            plan.add_options[name] = have + [{**o, "displayOrder": len(have) + i} for i, o in enumerate(extra)]
            plan.options_added[name] = [o["value"] for o in extra]
        else:
            plan.existing.append(name)
    lifecycle = feedback.lifecycle
    if lifecycle is not None:
        existing = properties.get(lifecycle.property)
        if existing is None:
            plan.problems.append(f"{lifecycle.property} (feedback.lifecycle.property) does not exist in HubSpot")
        elif existing.get("type") == "enumeration":
            values = {o.get("value") for o in existing.get("options") or []}
            absent = sorted({s for s in lifecycle.moves.values() if s not in values})
            if absent:
                plan.problems.append(f"{lifecycle.property} has no option {', '.join(absent)}: add the stage in "
                                     "HubSpot or change feedback.lifecycle.moves")
    return plan


def check(feedback: Feedback, properties: dict[str, dict[str, Any]]) -> list[str]:
    """Why the back leg cannot write to this portal yet (empty: it can)."""
    plan = plan_setup(feedback, properties, {feedback.group: {}})
    problems: list[str] = []
    if plan.create:
        names = ", ".join(d["name"] for d in plan.create)
        problems.append(f"HubSpot has no contact propert{'y' if len(plan.create) == 1 else 'ies'} {names}")
    for name, added in plan.options_added.items():
        problems.append(f"{name} lacks the option{'s' if len(added) > 1 else ''} {', '.join(added)}")
    return problems + plan.problems
