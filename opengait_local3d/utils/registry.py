"""Named factories built from config entries, their keys checked against the factory's signature.

OpenGait looks a class up by name (``model``, ``type``, ``solver``, ``scheduler``) and passes it the config
keys its signature accepts, silently dropping the others. Here a key of an entry is

* passed on if the factory accepts it;
* ignored with a note if it is ``tolerated`` (e.g. ``momentum`` beside ``solver: Adam`` in OpenGait's
  ``gaitpart.yaml``: OpenGait's own configs use it there and OpenGait ignores it);
* an error otherwise, naming the key and the closest accepted one (a misspelt key must not vanish).

A required parameter that the entry lacks is an error too, and so is a value that does not fit the parameter's
annotation (:mod:`.typecheck`: ``channels: 16`` where a list of integers is expected, ``prob: 5`` where a
:data:`~.typecheck.Probability` is). The error type is the caller's: ``ValueError`` in
host-free code (the networks), the engine's ``ConfigError`` for its config sections.
"""
from __future__ import annotations

import inspect
import logging
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, TypeVar

from .suggestions import did_you_mean
from .typecheck import mismatch, type_hints

__all__ = ["Registry", "checked_arguments", "build_from_cfg"]

logger = logging.getLogger(__name__)

T = TypeVar("T")


def _signature(factory: Callable[..., Any]) -> tuple[list[str], list[str], bool]:
    """(required, optional keyword-passable parameter names of ``factory``, whether it takes ``**kwargs``)."""
    required, optional, takes_any = [], [], False
    for name, param in inspect.signature(factory).parameters.items():
        if param.kind == param.VAR_KEYWORD:
            takes_any = True
        elif param.kind in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY) and name != "self":
            (required if param.default is param.empty else optional).append(name)
    return required, optional, takes_any


def checked_arguments(factory: Callable[..., Any], cfg: Mapping[str, Any], where: str, *, owner: str = "",
                      supplied: Iterable[str] = (), reserved: Iterable[str] = (), tolerated: Iterable[str] = (),
                      error: type[Exception] = ValueError) -> dict[str, Any]:
    """The keyword arguments of ``factory`` that the config entry ``cfg`` (found at ``where``) gives.

    Args:
        owner: what the entry builds, for messages (``"optimizer Adam"``).
        supplied: parameters the caller passes itself (never from the config).
        reserved: keys someone else reads (accepted, not passed on).
        tolerated: keys accepted and ignored with a logged note.

    Raises:
        ``error``: ``cfg`` is not a mapping, has a key that is none of the above (with a "did you mean"),
            lacks a required parameter, or gives a value its annotation does not allow (``where.key: expected ...``).

    >>> import torch.nn as nn
    >>> checked_arguments(nn.Linear, {'in_features': 2, 'out_fetures': 3}, 'fc')
    Traceback (most recent call last):
    ...
    ValueError: fc: unknown key 'out_fetures'; did you mean 'out_features'? (accepted: bias, device, dtype, in_features, out_features)
    >>> checked_arguments(nn.Linear, {'in_features': [2], 'out_features': 3}, 'fc')
    Traceback (most recent call last):
    ...
    ValueError: fc.in_features: expected an integer, got [2]
    """
    if not isinstance(cfg, Mapping):
        raise error(f"{where}: expected a mapping of keys to values, got {cfg!r}")
    supplied, reserved, tolerated = set(supplied), set(reserved), set(tolerated)
    required, optional, takes_any = _signature(factory)
    accepted = set(required + optional) - supplied
    kwargs, ignored = {}, []
    for key, value in cfg.items():
        if key in reserved:
            continue
        if key in accepted or (takes_any and key not in supplied):
            kwargs[key] = value
        elif key in tolerated:
            ignored.append(key)
        else:
            raise error(f"{where}: unknown key '{key}'{f' for {owner}' if owner else ''}{did_you_mean(key, accepted)} "
                        f"(accepted: {', '.join(sorted(accepted)) or 'none'})")
    missing = [name for name in required if name not in supplied and name not in kwargs]
    if missing:
        raise error(f"{where}: missing required key(s) {', '.join(missing)}{f' of {owner}' if owner else ''}")
    hints = type_hints(factory)
    for key, value in kwargs.items():
        problem = mismatch(value, hints[key]) if key in hints else None
        if problem:
            raise error(f"{where}.{key}: {problem}")
    if ignored:
        logger.info("%s: %s does not take %s; ignored (as OpenGait does)", where, owner or "it", ", ".join(ignored))
    return kwargs


def build_from_cfg(factory: Callable[..., T], cfg: Mapping[str, Any], where: str) -> T:
    """``factory(**cfg)`` after checking ``cfg``'s keys against ``factory``'s signature (``ValueError``).

    >>> import torch.nn as nn
    >>> build_from_cfg(nn.Linear, {'in_features': 2, 'out_features': 3}, 'fc').weight.shape
    torch.Size([3, 2])
    """
    return factory(**checked_arguments(factory, cfg, where))


@dataclass(frozen=True)
class Registry:
    """Factories of one kind, looked up by the value of ``type_key`` in a config entry.

    Args:
        kind: what the factories make, for messages (``"optimizer"``).
        type_key: the config key that names the factory (``"solver"``).
        entries: name -> class or function.
        tolerated: keys accepted and ignored (those OpenGait's own configs use in this section).
        supplied: parameters the caller supplies itself (e.g. ``params``); never from the config.
        reserved: config keys read by someone else (e.g. ``log_prefix``); accepted, not passed on.
        error: the exception raised for a bad entry.
    """

    kind: str
    type_key: str
    entries: Mapping[str, Callable[..., Any]]
    tolerated: frozenset[str] = field(default_factory=frozenset)
    supplied: frozenset[str] = field(default_factory=frozenset)
    reserved: frozenset[str] = field(default_factory=frozenset)
    error: type[Exception] = ValueError

    def __contains__(self, name: object) -> bool:
        return name in self.entries

    def __iter__(self) -> Iterator[str]:
        """The names, in registration order."""
        return iter(self.entries)

    def lookup(self, name: Any, where: str) -> Callable[..., Any]:
        """The factory called ``name``; ``where`` names the config key for the error message."""
        if not isinstance(name, str) or name not in self.entries:
            raise self.error(f"{where}: unknown {self.kind} {name!r}{did_you_mean(name, self.entries)} "
                             f"(known: {', '.join(sorted(self.entries))})")
        return self.entries[name]

    def known_keys(self) -> frozenset[str]:
        """Every key a config entry of this kind may hold, whatever its type."""
        keys = {self.type_key, *self.reserved, *self.tolerated}
        for factory in self.entries.values():
            required, optional, _ = _signature(factory)
            keys |= set(required + optional) - self.supplied
        return frozenset(keys)

    def resolve(self, cfg: Any, where: str) -> tuple[Callable[..., Any], dict[str, Any]]:
        """(factory, keyword arguments) for the config entry ``cfg`` found at ``where``."""
        if not isinstance(cfg, Mapping):
            raise self.error(f"{where}: expected a mapping with a '{self.type_key}' key, got {cfg!r}")
        if self.type_key not in cfg:
            raise self.error(f"{where}: missing '{self.type_key}' (the {self.kind} to use)")
        name = cfg[self.type_key]
        factory = self.lookup(name, f"{where}.{self.type_key}")
        kwargs = checked_arguments(factory, cfg, where, owner=f"{self.kind} {name}", supplied=self.supplied,
                                   reserved={self.type_key, *self.reserved}, tolerated=self.tolerated,
                                   error=self.error)
        return factory, kwargs

    def build(self, cfg: Any, where: str, **supplied: Any) -> Any:
        """Call the factory that ``cfg`` names with its config arguments and the ``supplied`` ones.

        The factory's own ``error`` (e.g. from a nested entry) is prefixed with ``where``; its ``TypeError``
        or ``ValueError`` becomes ``error`` saying which entry could not be built.
        """
        factory, kwargs = self.resolve(cfg, where)
        try:
            return factory(**supplied, **kwargs)
        except self.error as err:
            raise self.error(f"{where}: {err}") from None
        except (TypeError, ValueError) as err:
            raise self.error(f"{where}: cannot build {self.kind} {cfg[self.type_key]}: {err}") from err
