"""`guidewatch.toml`: one schema (schema.py) that loading (load.py), the `init` template and the
README's configuration table (docs.py) are all derived from."""

from typing import Any

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


def __getattr__(name: str) -> Any:
    """The template and table are built on first use: the crawl child imports this package too."""
    if name in ("CONFIG_TEMPLATE", "config_template", "markdown_table"):
        from guidewatch.config import docs

        return getattr(docs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CONFIG_NAME", "CONFIG_TEMPLATE", "DAY", "DIGEST_FORMATS", "INTERVAL", "MAX_CONFIG_BYTES", "MAX_DURATION",
    "SEVERITIES", "AlertsConfig", "CheckConfig", "Config", "ConfigError", "DurationTooLong", "EmailConfig",
    "FetchConfig", "GuideConfig", "GuideSourceConfig", "Range", "ScheduleConfig", "ServeConfig", "SourceConfig",
    "WebhookConfig", "config_template",
    "hide_password", "load_config", "markdown_table", "parse_config", "parse_duration",
    "schedule_problem",
]
