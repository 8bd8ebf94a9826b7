"""Values as JSON has them: shared by the documents the library builds and every renderer."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: The version of every JSON document's shape (SPEC §7).
SCHEMA_VERSION = 1


def clean(value: Any) -> Any:
    """JSON-safe value: NaN/Infinity → None, numpy scalars → Python, recursively."""
    if isinstance(value, Mapping):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
