"""Settings of the summary stage (mirrors the plugin's ``summary:`` sub-config)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Mapping, Optional, Union


@dataclass
class SummaryConfig:
    model: str = "gpt-4o-mini"
    base_url: Optional[str] = None  # any OpenAI-compatible server; None: api.openai.com
    api_key_env: str = "OPENAI_API_KEY"  # the key is read only from this environment variable
    temperature: float = 0.2
    max_tokens: int = 400
    timeout: float = 30.0  # seconds, per request
    retries: int = 2  # extra attempts after a 429, a 5xx, a timeout or a connection error
    enabled: bool = True

    @classmethod
    def coerce(cls, value: Union["SummaryConfig", Mapping[str, Any], None]) -> "SummaryConfig":
        """A SummaryConfig from itself, a mapping (the plugin's sub-config; unknown keys and
        ``None`` values are ignored) or None (the defaults)."""
        if isinstance(value, cls):
            return value
        if value is None:
            return cls()
        known = {f.name for f in dataclasses.fields(cls)}
        kwargs = {k: v for k, v in dict(value).items() if k in known and (v is not None or k == "base_url")}
        return cls(**kwargs)
