"""`syncd mapping check` and the check before each cycle: the mapping against both systems' live
metadata (``connectors.metadata``, cached a few minutes), compared by ``syncd.mapping.live_check``."""

from __future__ import annotations

from dataclasses import dataclass, field

from connectors.metadata import Metadata
from syncd.core.errors import ConfigError, Problem
from syncd.mapping import Mapping, locate
from syncd.mapping.live_check import Finding, check, objects_needed


@dataclass
class LiveCheck:
    blocking: list[Problem] = field(default_factory=list)   # every record would be refused
    warnings: list[Problem] = field(default_factory=list)   # only some records may be refused

    @property
    def problems(self) -> list[Problem]:
        return self.blocking + self.warnings


def live_findings(mapping: Mapping, metadata: Metadata) -> list[Finding]:
    """Reads each object's describe and HubSpot's properties (a RemoteError when a system fails)."""
    salesforce = {sobject: metadata.salesforce_fields(sobject) for sobject in objects_needed(mapping)}
    return check(mapping, salesforce, metadata.hubspot_properties())


def check_mapping(mapping: Mapping, metadata: Metadata) -> LiveCheck:
    findings = live_findings(mapping, metadata)
    located = locate(mapping, [(f.loc, f.message) for f in findings])
    result = LiveCheck()
    for finding, problem in zip(findings, located):
        (result.blocking if finding.blocks else result.warnings).append(problem)
    return result


def before_writing(mapping: Mapping, metadata: Metadata) -> None:
    """What must stop a cycle before its first write: the forward leg's blocking findings (the back
    leg checks its own HubSpot properties before it writes, ``syncd.run.back``). Raises ConfigError."""
    findings = [f for f in live_findings(mapping, metadata) if f.blocks and f.loc[:1] != ("feedback",)]
    if findings:
        raise ConfigError(locate(mapping, [(f.loc, f.message) for f in findings]))
