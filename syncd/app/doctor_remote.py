"""`syncd doctor`'s checks of the two systems: reachable, credentials accepted, the scopes and
permissions syncd's calls need, and the live mapping check. Each check returns its lines; a check
whose premise failed says what it needed (``skipped``) instead of failing again.

Exit codes (README "Exit codes"): a system that cannot be reached, a refused credential, a missing
scope or object permission: 5 (the system's side must change: its network, its token, its admin);
an API version or a field the mapping names that the integration user may not write, or an
External ID field that is not one: 4 (fix the config or the mapping, or grant the field).
"""

from __future__ import annotations

from connectors.errors import TIMEOUT, TLS_UNTRUSTED, UNREACHABLE
from connectors.hubspot import ContactProperties
from connectors.hubspot.scopes import NEEDED_BY, needed_scopes, token_scopes
from syncd.app.connectors import Connectors
from syncd.app.doctor_result import Line, failed, ok, skipped, warn
from syncd.app.mapping_check import check_mapping
from syncd.config import Settings
from syncd.core.errors import AuthenticationFailed, ExitCode, PermissionMissing, RemoteError
from syncd.mapping import Mapping
from syncd.mapping.live_check import objects_needed

_NO_CONNECTION = (UNREACHABLE, TIMEOUT, TLS_UNTRUSTED)
REMOTE = int(ExitCode.REMOTE_UNAVAILABLE)
CONFIG = int(ExitCode.CONFIG_ERROR)


def _unreached(check: str, url: str, exc: RemoteError) -> Line:
    if exc.code == TLS_UNTRUSTED:
        return failed(check, f"{url}: {exc}", "if a proxy re-signs HTTPS, add its CA with tls.ca_bundle", REMOTE)
    return failed(check, f"{url} unreachable: {exc}",
                  "check the URL in the config, DNS, the firewall or proxy between this machine and it", REMOTE)


def hubspot_checks(settings: Settings, mapping: Mapping, connectors: Connectors) -> tuple[list[Line], bool]:
    """connection, token, scopes; and whether the token works (the live mapping check needs it)."""
    url = str(settings.hubspot.base_url)
    token_fix = ("set hubspot.access_token_file (or SYNCD_HUBSPOT__ACCESS_TOKEN, or the systemd credential "
                 "hubspot_access_token) to the private app's current access token")
    try:
        scopes: list[str] | None = token_scopes(connectors.hubspot)
    except RemoteError as exc:
        if exc.code in _NO_CONNECTION or exc.status is None:
            return [_unreached("hubspot.connection", url, exc), skipped("hubspot.token", "hubspot.connection"),
                    skipped("hubspot.scopes", "hubspot.connection")], False
        if exc.status == 401:
            return [ok("hubspot.connection", url),
                    failed("hubspot.token", f"HubSpot private-app token refused (401): {exc}", token_fix, REMOTE),
                    skipped("hubspot.scopes", "hubspot.token")], False
        scopes = None           # no token introspection here (a proxy, an OAuth token): probe instead
    lines = [ok("hubspot.connection", url)]
    needed, setup_only = needed_scopes(back_leg=mapping.feedback is not None)
    if scopes is None:
        try:
            ContactProperties(connectors.hubspot).properties()
        except AuthenticationFailed as exc:
            return lines + [failed("hubspot.token", f"HubSpot private-app token refused (401): {exc}",
                                   token_fix, REMOTE), skipped("hubspot.scopes", "hubspot.token")], False
        except PermissionMissing as exc:
            return lines + [ok("hubspot.token", "accepted"),
                            failed("hubspot.scopes", str(exc), "add the scope to the private app", CONFIG)], False
        return lines + [ok("hubspot.token", "accepted"),
                        warn("hubspot.scopes", "HubSpot did not list the token's scopes; reading properties works, "
                             f"the others ({', '.join(s for s in needed if s != 'crm.schemas.contacts.read')}) "
                             "are not checked")], True
    lines.append(ok("hubspot.token", f"accepted ({len(scopes)} scopes)"))
    missing = [s for s in needed if s not in scopes]
    if missing:
        lines.append(failed("hubspot.scopes", "the private app lacks " + "; ".join(
            f"{s} (for {NEEDED_BY[s]})" for s in missing),
            f"in HubSpot: Settings > Integrations > Private apps > syncd's app > Scopes: add {', '.join(missing)}",
            CONFIG))
        return lines, _properties_readable(missing)
    setup_missing = [s for s in setup_only if s not in scopes]
    if setup_missing:
        lines.append(warn("hubspot.scopes", f"{', '.join(needed)} granted; lacks {', '.join(setup_missing)} "
                          f"({NEEDED_BY[setup_missing[0]]}; not needed once the properties exist)"))
    else:
        lines.append(ok("hubspot.scopes", ", ".join(needed + setup_only)))
    return lines, True


def _properties_readable(missing: list[str]) -> bool:
    """The live mapping check reads properties only: it can run without the contact scopes."""
    return "crm.schemas.contacts.read" not in missing


def salesforce_checks(settings: Settings, mapping: Mapping, connectors: Connectors) -> tuple[list[Line], bool]:
    """connection, login, api_version, objects, fields, external_id; and whether describe works."""
    sf = settings.salesforce
    url = str(sf.login_url)
    after_login = ("salesforce.api_version", "salesforce.objects", "salesforce.fields", "salesforce.external_id")
    try:
        user = connectors.salesforce.user_id          # logs in
    except RemoteError as exc:
        if exc.code in _NO_CONNECTION or exc.status is None and not isinstance(exc, AuthenticationFailed):
            return [_unreached("salesforce.connection", url, exc), skipped("salesforce.login", "salesforce.connection"),
                    *(skipped(c, "salesforce.connection") for c in after_login)], False
        fix = ("check salesforce.auth.client_id and the client secret (salesforce.auth.client_secret_file, "
               "SYNCD_SALESFORCE__AUTH__CLIENT_SECRET or the credential salesforce_client_secret), and that the "
               "app's client credentials flow has a run-as user" if sf.auth.flow == "client_credentials" else
               "check salesforce.auth.client_id, username and the private key (salesforce_private_key), and that "
               "the user is pre-authorised for the app")
        return [ok("salesforce.connection", url), failed("salesforce.login", f"login refused: {exc}", fix, REMOTE),
                *(skipped(c, "salesforce.login") for c in after_login)], False
    lines = [ok("salesforce.connection", url), ok("salesforce.login", f"{sf.auth.flow} as user {user or '?'}")]
    metadata = connectors.metadata
    try:
        versions = metadata.salesforce_versions()
        lines.append(ok("salesforce.api_version", sf.api_version) if sf.api_version in versions else failed(
            "salesforce.api_version", f"the org does not serve API version {sf.api_version}",
            f"set salesforce.api_version to one it serves (newest: {versions[-1] if versions else '?'})", CONFIG))
        if sf.api_version not in versions:
            return lines + [skipped(c, "salesforce.api_version") for c in after_login[1:]], False
        lines.append(_objects(mapping, metadata))
        lines += _fields(mapping, metadata)
    except RemoteError as exc:
        lines.append(failed("salesforce.describe", str(exc), "see the message", int(exc.exit_code)))
        return lines, False
    return lines, True


def _objects(mapping: Mapping, metadata) -> Line:  # noqa: ANN001 - connectors.metadata.Metadata
    needs = {mapping.salesforce.object: ("queryable", "createable", "updateable"), "Contact": ("updateable",),
             "Opportunity": ("queryable",), "Lead": ("queryable",)}
    lacking = []
    for sobject in objects_needed(mapping):
        allowed = metadata.salesforce_object(sobject)
        lacking += [f"{what.removesuffix('able')} {sobject}" for what in needs.get(sobject, ())
                    if not allowed.get(what)]
    if lacking:
        return failed("salesforce.objects", "the integration user may not " + ", ".join(lacking),
                      "grant those object permissions in the integration user's permission set", CONFIG)
    return ok("salesforce.objects", ", ".join(objects_needed(mapping)))


def _fields(mapping: Mapping, metadata) -> list[Line]:  # noqa: ANN001 - connectors.metadata.Metadata
    sobject, external = mapping.salesforce.object, mapping.salesforce.external_id_field
    described = {name.lower(): entry for name, entry in metadata.salesforce_fields(sobject).items()}
    locked = []
    for name in [*mapping.all_rules(), external]:
        entry = described.get(name.lower())
        if entry is not None and not (entry.get("createable") and entry.get("updateable")):
            locked.append(f"{sobject}.{entry.get('name', name)}")
    lines = [failed("salesforce.fields", f"the integration user may not write {', '.join(locked)}",
                    "give it Edit access to those fields (field-level security in its permission set), or take "
                    "them out of the mapping", CONFIG) if locked else
             ok("salesforce.fields", f"{len(mapping.all_rules())} mapped fields writable")]
    entry = described.get(external.lower())
    if entry is None or not entry.get("externalId"):
        lines.append(failed("salesforce.external_id", f"{sobject}.{external} "
                            + ("does not exist" if entry is None else "is not marked External ID"),
                            f"create {sobject}.{external} as a Text field marked External ID and Unique, or name "
                            "another in the mapping's salesforce.external_id_field", CONFIG))
    else:
        lines.append(ok("salesforce.external_id", f"{sobject}.{entry.get('name', external)}"))
    return lines


def live_mapping_check(mapping: Mapping, connectors: Connectors) -> Line:
    try:
        result = check_mapping(mapping, connectors.metadata)
    except RemoteError as exc:
        return failed("mapping.live", str(exc), "see the message", int(exc.exit_code))
    if result.blocking:
        return failed("mapping.live", f"{len(result.problems)} finding{'s' if len(result.problems) != 1 else ''} "
                      f"({len(result.blocking)} would refuse every record)",
                      "run `syncd mapping check` for each with file, line and fix", CONFIG)
    if result.warnings:
        return warn("mapping.live", f"{len(result.warnings)} finding{'s' if len(result.warnings) != 1 else ''} "
                    "that refuse only the records they concern; `syncd mapping check` lists them")
    return ok("mapping.live", "every field, property and value is accepted by both systems")
