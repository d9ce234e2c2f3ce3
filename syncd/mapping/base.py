"""What every part of the mapping file shares: closed models and the shapes of names."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from syncd.mapping import templates

PROPERTY_NAME = r"^[a-z0-9_]+$"             # a HubSpot property's internal name
SF_FIELD_NAME = r"^[A-Za-z][A-Za-z0-9_]*$"  # a Salesforce field's API name


class Closed(BaseModel):
    """Unknown keys are errors (a typo must not be silently ignored); loaded mappings are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def check_template(source: str | None) -> str | None:
    """Reject a template that does not parse, saying on which of its lines."""
    if source is not None:
        try:
            templates.analyse(source)
        except templates.TemplateProblem as exc:
            where = f" (line {exc.lineno} of the template)" if exc.lineno and "\n" in source else ""
            raise ValueError(f"{exc}{where}") from None
    return source
