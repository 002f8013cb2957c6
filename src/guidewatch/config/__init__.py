"""`guidewatch.toml`: one schema (schema.py) that loading (load.py), the `init` template and the
README's configuration table (docs.py) are all derived from.

Names are loaded on first use: the crawl child imports `config.fetch` (its `[fetch]` table)
through this package, and needs neither the loader nor the other tables (~10 ms of its start).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from guidewatch.config.docs import CONFIG_TEMPLATE, config_template, markdown_table
    from guidewatch.config.load import (
        CONFIG_NAME,
        MAX_CONFIG_BYTES,
        hide_password,
        load_config,
        parse_config,
        schedule_problem,
    )
    from guidewatch.config.schema import (
        DAY,
        DIGEST_FORMATS,
        INTERVAL,
        MAX_DURATION,
        SEVERITIES,
        AlertsConfig,
        CheckConfig,
        Config,
        ConfigError,
        DurationTooLong,
        EmailConfig,
        FetchConfig,
        GuideConfig,
        GuideSourceConfig,
        Range,
        ScheduleConfig,
        ServeConfig,
        SourceConfig,
        WebhookConfig,
        parse_duration,
    )

_HOME = {
    **dict.fromkeys(("CONFIG_TEMPLATE", "config_template", "markdown_table"), "docs"),
    **dict.fromkeys(("CONFIG_NAME", "MAX_CONFIG_BYTES", "hide_password", "load_config", "parse_config",
                     "schedule_problem"), "load"),
    **dict.fromkeys(("DAY", "DIGEST_FORMATS", "INTERVAL", "MAX_DURATION", "SEVERITIES", "AlertsConfig", "CheckConfig",
                     "Config", "ConfigError", "DurationTooLong", "EmailConfig", "FetchConfig", "GuideConfig",
                     "GuideSourceConfig", "Range", "ScheduleConfig", "ServeConfig", "SourceConfig", "WebhookConfig",
                     "parse_duration"), "schema"),
}


def __getattr__(name: str) -> Any:
    """`name` from the module that defines it (imported now, once)."""
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value


__all__ = [
    "CONFIG_NAME", "CONFIG_TEMPLATE", "DAY", "DIGEST_FORMATS", "INTERVAL", "MAX_CONFIG_BYTES", "MAX_DURATION",
    "SEVERITIES", "AlertsConfig", "CheckConfig", "Config", "ConfigError", "DurationTooLong", "EmailConfig",
    "FetchConfig", "GuideConfig", "GuideSourceConfig", "Range", "ScheduleConfig", "ServeConfig", "SourceConfig",
    "WebhookConfig", "config_template", "hide_password", "load_config", "markdown_table", "parse_config",
    "parse_duration", "schedule_problem",
]  # fmt: skip
