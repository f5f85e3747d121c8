"""Named factories chosen by a config entry's type key, with their arguments checked by signature.

OpenGait looks a class up by name (``type``, ``solver``, ``scheduler``) and passes it the config keys its
signature accepts, silently dropping the others. Here a key is

* passed on if the factory accepts it;
* ignored with a note if the factory does not take it but OpenGait's own configs use it in that section
  (e.g. ``momentum`` beside ``solver: Adam`` in OpenGait's ``gaitpart.yaml``), as OpenGait ignores it;
* an error otherwise (a misspelt key must not vanish silently).
"""
from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .config.opengait_keys import OPENGAIT_KEYS
from .errors import ConfigError, did_you_mean

__all__ = ["Registry"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Registry:
    """Factories of one kind, looked up by the value of ``type_key`` in a config entry.

    Args:
        kind: what the factories make, for messages ("optimizer").
        type_key: the config key that names the factory ("solver").
        entries: name -> class or function.
        opengait_section: section of :data:`OPENGAIT_KEYS` whose keys are tolerated.
        engine_args: parameters the engine supplies itself (e.g. ``params``); never from the config.
        reserved: config keys read by someone else (e.g. ``log_prefix``); accepted, not passed on.
    """

    kind: str
    type_key: str
    entries: Mapping[str, Callable[..., Any]]
    opengait_section: str
    engine_args: frozenset[str] = field(default_factory=frozenset)
    reserved: frozenset[str] = field(default_factory=frozenset)

    def lookup(self, name: Any, where: str) -> Callable[..., Any]:
        """The factory called ``name``; ``where`` names the config key for the error message."""
        if not isinstance(name, str) or name not in self.entries:
            raise ConfigError(
                f"{where}: unknown {self.kind} {name!r}{did_you_mean(str(name), self.entries)} "
                f"(known: {', '.join(sorted(self.entries))})")
        return self.entries[name]

    def parameters(self, factory: Callable[..., Any]) -> tuple[frozenset[str], bool]:
        """(config-settable parameter names of ``factory``, whether it takes ``**kwargs``)."""
        signature = inspect.signature(factory)
        names = {name for name, p in signature.parameters.items()
                 if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"}
        takes_any = any(p.kind == p.VAR_KEYWORD for p in signature.parameters.values())
        return frozenset(names - self.engine_args), takes_any

    def known_keys(self) -> frozenset[str]:
        """Every key a config entry of this kind may hold, whatever its type."""
        keys = {self.type_key, *self.reserved, *OPENGAIT_KEYS.get(self.opengait_section, ())}
        for factory in self.entries.values():
            keys |= self.parameters(factory)[0]
        return frozenset(keys)

    def resolve(self, cfg: Mapping[str, Any], where: str) -> tuple[Callable[..., Any], dict[str, Any]]:
        """(factory, keyword arguments) for the config entry ``cfg`` found at ``where``."""
        if not isinstance(cfg, Mapping):
            raise ConfigError(f"{where}: expected a mapping with a '{self.type_key}' key, got {cfg!r}")
        if self.type_key not in cfg:
            raise ConfigError(f"{where}: missing '{self.type_key}' (the {self.kind} to use)")
        name = cfg[self.type_key]
        factory = self.lookup(name, f"{where}.{self.type_key}")
        accepted, takes_any = self.parameters(factory)
        tolerated = OPENGAIT_KEYS.get(self.opengait_section, frozenset())
        kwargs, ignored = {}, []
        for key, value in cfg.items():
            if key == self.type_key or key in self.reserved:
                continue
            if key in accepted or (takes_any and key not in self.engine_args):
                kwargs[key] = value
            elif key in tolerated:
                ignored.append(key)
            else:
                raise ConfigError(
                    f"{where}: unknown key '{key}' for {self.kind} {name}{did_you_mean(key, accepted)} "
                    f"({name} accepts: {', '.join(sorted(accepted)) or 'no arguments'})")
        if ignored:
            logger.info("%s: %s does not take %s; ignored (as OpenGait does)", where, name, ", ".join(ignored))
        return factory, kwargs

    def build(self, cfg: Mapping[str, Any], where: str, **engine_kwargs: Any) -> Any:
        """Call the factory named by ``cfg`` with its config arguments and ``engine_kwargs``."""
        factory, kwargs = self.resolve(cfg, where)
        try:
            return factory(**engine_kwargs, **kwargs)
        except ConfigError as err:  # from a nested entry (e.g. Compose's trf_cfg): prefix our path
            raise ConfigError(f"{where}.{err}") from None
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: cannot build {self.kind} {cfg[self.type_key]}: {err}") from err

