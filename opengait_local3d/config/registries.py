"""The engine's registries: config entries checked like OpenGait's configs use them, errors as ConfigError."""
from __future__ import annotations

from typing import Any, Callable, Iterable, Mapping

from ..utils.registry import Registry
from .opengait_keys import OPENGAIT_KEYS
from ..errors import ConfigError

__all__ = ["section_registry"]


def section_registry(kind: str, type_key: str, entries: Mapping[str, Callable[..., Any]], section: str, *,
                     supplied: Iterable[str] = (), reserved: Iterable[str] = ()) -> Registry:
    """A :class:`~opengait_local3d.utils.registry.Registry` of config entries of OpenGait's ``section``
    (``"optimizer_cfg"``, ``"sampler"``, ...): the keys OpenGait's own configs use there are tolerated, and a
    bad entry is a :class:`ConfigError`."""
    return Registry(kind, type_key, entries, tolerated=OPENGAIT_KEYS.get(section, frozenset()),
                    supplied=frozenset(supplied), reserved=frozenset(reserved), error=ConfigError)
