"""The five secrets, where each may come from, and which ones a command needs.

For each secret ``x``: env ``x`` > env ``x_FILE`` > YAML ``x`` > YAML ``x_file`` >
``$CREDENTIALS_DIRECTORY/<section>_<x>`` (systemd ``LoadCredential=``). Each layer hands over
the pair (``x``, ``x_file``) as one (``pair_secrets``), so the pydantic-settings merge lets the
highest layer that mentions a secret win whole; the winner's file is read afterwards
(``read_secret_files``), once the auth flow in use is known.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .locs import Loc, render_loc
from .names import env_var_name, owner_loc, section

__all__ = ["SecretSpec", "SECRETS", "read_secret_file", "pair_secrets", "read_secret_files",
           "flow_in", "missing_credentials", "DEFAULT_FLOW"]

_MAX_SECRET_FILE_BYTES = 1 << 20


@dataclass(frozen=True)
class SecretSpec:
    section: Loc
    name: str
    credential: str                 # file name in $CREDENTIALS_DIRECTORY
    flow: str | None = None         # a Salesforce secret only needed by this auth flow

    @property
    def loc(self) -> Loc:
        return self.section + (self.name,)

    @property
    def file_name(self) -> str:
        return self.name + "_file"

    @property
    def file_loc(self) -> Loc:
        return self.section + (self.file_name,)

    def applies(self, flow: Any) -> bool:
        """False for the other flow's secret: left for the model to reject if it is set."""
        return self.flow is None or flow is None or flow == self.flow


SECRETS = (
    SecretSpec(("hubspot",), "access_token", "hubspot_access_token"),
    SecretSpec(("salesforce", "auth"), "client_secret", "salesforce_client_secret",
               "client_credentials"),
    SecretSpec(("salesforce", "auth"), "private_key", "salesforce_private_key", "jwt_bearer"),
    SecretSpec(("state",), "database_url", "state_database_url"),
    SecretSpec(("metrics",), "status_token", "metrics_status_token"),
)


def read_secret_file(path: Path) -> tuple[str | None, str | None]:
    """(text, None) or (None, what went wrong). Trailing newlines are stripped."""
    try:
        if path.stat().st_size > _MAX_SECRET_FILE_BYTES:
            return None, f"{path} is too large to be a secret (over 1 MiB)"
        text = path.read_bytes().decode("utf-8-sig")
    except FileNotFoundError:
        return None, f"file not found: {path}"
    except IsADirectoryError:
        return None, f"{path} is a directory, not a file"
    except PermissionError:
        return None, f"permission denied reading {path} (the user running syncd needs " \
                     "read access)"
    except OSError as exc:
        return None, f"cannot read {path}: {exc.strerror or exc}"
    except UnicodeDecodeError:
        return None, f"{path} is not UTF-8 text"
    text = text.rstrip("\r\n")
    if not text.strip():
        return None, f"{path} is empty"
    return text, None


DEFAULT_FLOW = "client_credentials"     # the README's default: most connected apps use it


def flow_in(*layers: dict[str, Any]) -> Any:
    """The Salesforce auth flow the first of these layers sets, else the default flow."""
    for data in layers:
        flow = (section(data, ("salesforce", "auth")) or {}).get("flow")
        if flow is not None:
            return flow
    return DEFAULT_FLOW


def pair_secrets(data: dict[str, Any], conflict: Callable[[SecretSpec], None]) -> None:
    """Within one layer: each secret it mentions becomes the pair (x, x_file), one of them None,
    so the merge lets the highest layer that mentions a secret win whole. Both given at once is
    a ``conflict`` (the value is kept)."""
    for spec in SECRETS:
        here = section(data, spec.section)
        if here is None or (here.get(spec.name) is None and here.get(spec.file_name) is None):
            continue
        if here.get(spec.name) is None:
            here[spec.name] = None
        else:
            if here.get(spec.file_name) is not None:
                conflict(spec)
            here[spec.file_name] = None


def read_secret_files(data: dict[str, Any]) -> tuple[dict[Loc, Loc], list[tuple[SecretSpec, str]]]:
    """After the merge: read each secret whose winning layer named a file (path resolved by that
    layer) - unless it belongs to the auth flow not in use, which the model then rejects.
    Returns {x: x_file} for the values read, so a problem with one can point at its file, and
    (spec, what went wrong) for the files that could not be read."""
    flow, read, errors = flow_in(data), {}, []
    for spec in SECRETS:
        here = section(data, spec.section) or {}
        file = here.get(spec.file_name)
        if here.get(spec.name) is not None or not isinstance(file, str) or not spec.applies(flow):
            continue                    # not a str: the model says what is wrong with it
        value, error = read_secret_file(Path(file))
        if error:
            errors.append((spec, error))
        else:
            here[spec.name], read[spec.loc] = value, spec.file_loc
    return read, errors


def _how_to_set(spec: SecretSpec | None, loc: Loc) -> str:
    ways = [env_var_name(loc)]
    if spec is not None:
        ways[0] += f" (or {env_var_name(spec.file_loc)})"
        ways += [f"{render_loc(spec.file_loc)} in the config file",
                 f"a systemd credential named '{spec.credential}' (LoadCredential=)"]
    else:
        ways.append(f"{render_loc(loc)} in the config file")
    return "set " + ", or ".join(ways)


_AUTH = ("salesforce", "auth")
_NEEDED: tuple[tuple[Loc, str | None, str], ...] = (   # loc, for which flow (None: any), what
    (("hubspot", "access_token"), None, "no HubSpot access token"),
    (_AUTH + ("client_id",), None, "no Salesforce client id (consumer key)"),
    (_AUTH + ("client_secret",), "client_credentials", "no Salesforce client secret"),
    (_AUTH + ("username",), "jwt_bearer", "no Salesforce username for the JWT bearer flow"),
    (_AUTH + ("private_key",), "jwt_bearer", "no Salesforce private key"),
)


def missing_credentials(data: dict[str, Any]) -> list[tuple[Loc, str]]:
    """What a command that calls HubSpot and Salesforce lacks in the merged settings data, each
    with how to provide it. A secret whose file is named is not missing: a file that cannot be
    read, or a wrong value, is reported as such; so is a section that is not a mapping."""
    flow = flow_in(data)
    missing = []
    by_loc = {spec.loc: spec for spec in SECRETS}
    for loc, needed_by, what in _NEEDED:
        if needed_by in (None, flow) and _absent(data, loc):
            missing.append((loc, f"{what}: {_how_to_set(by_loc.get(loc), loc)}"))
    return missing


def _absent(data: dict[str, Any], loc: Loc) -> bool:
    here = section(data, loc[:-1])
    if here is None:
        return owner_loc(data, loc[:-1]) is None    # else: a section that is not a mapping
    return here.get(loc[-1]) is None and here.get(loc[-1] + "_file") is None
