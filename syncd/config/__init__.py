"""syncd's configuration: ``syncd.yaml``, ``SYNCD_*`` variables and secret files, validated into
``Settings`` with every problem placed by file, line, column or variable.

- ``models``: the sections of ``Settings``; ``checks``: single-value checks in plain words.
- ``sources``: the layers (environment, file, systemd credentials, defaults) and their merge;
  ``secrets``: where each secret may come from; ``names``: keys and their variable names.
- ``load``: ``find_config`` and ``load_settings``.
- ``yamlfile``: YAML with positions (``load_yaml``), ``yamlsyntax``: its syntax errors in plain
  words; ``explain``: pydantic errors as problems (``validate``). The mapping loader uses these
  as well, through the names exported here.
"""

from .explain import (ErrorInfo, explain_validation_error, problems_from_validation_error, unknown_key_hint,
                      validate)
from .locs import Loc, render_loc
from .load import DEFAULT_SEARCH_PATH, find_config, load_settings, require_config, search_path
from .models import (HubSpotSettings, LoggingSettings, MetricsSettings, SalesforceAuth,
                     SalesforceSettings, ScheduleSettings, Settings, StateSettings, SyncSettings,
                     TlsSettings, default_mapping_path, default_state_directory,
                     settings_json_schema)
from .names import LEAVES, NON_SETTING_VARIABLES, env_var_name
from .secrets import SECRETS
from .yamlfile import YamlDocument, load_yaml, load_yaml_text

_LEAVES = LEAVES        # the name tests/test_systemd_units.py imports

__all__ = [
    "Settings", "HubSpotSettings", "SalesforceSettings", "SalesforceAuth", "TlsSettings",
    "StateSettings", "SyncSettings", "ScheduleSettings", "LoggingSettings", "MetricsSettings",
    "DEFAULT_SEARCH_PATH", "NON_SETTING_VARIABLES", "LEAVES", "SECRETS", "search_path",
    "find_config", "require_config", "load_settings", "settings_json_schema", "env_var_name",
    "default_mapping_path", "default_state_directory",
    "Loc", "YamlDocument", "ErrorInfo", "load_yaml", "load_yaml_text", "validate",
    "explain_validation_error", "problems_from_validation_error", "render_loc",
    "unknown_key_hint",
]
