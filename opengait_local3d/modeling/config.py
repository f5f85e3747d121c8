"""Checked construction from OpenGait-style ``model_cfg`` dicts.

A misspelt key in a yaml file must not be silently dropped nor surface as a ``TypeError`` from deep
inside a constructor: :func:`build_from_cfg` names the key, where it was found, and the closest
accepted key.
"""
from __future__ import annotations

import difflib
import inspect
from typing import Any, Callable, Iterable, Mapping, TypeVar

T = TypeVar("T")


def accepted_keys(factory: Callable[..., Any]) -> tuple[list[str], list[str]]:
    """Return ``(required, optional)`` keyword names of ``factory``'s signature."""
    required, optional = [], []
    for name, param in inspect.signature(factory).parameters.items():
        if param.kind not in (param.POSITIONAL_OR_KEYWORD, param.KEYWORD_ONLY):
            continue
        (required if param.default is param.empty else optional).append(name)
    return required, optional


def check_keys(cfg: Mapping[str, Any], accepted: Iterable[str], where: str, required: Iterable[str] = ()) -> None:
    """Raise ``ValueError`` if ``cfg`` has a key outside ``accepted`` or lacks one of ``required``.

    Args:
        cfg: the user's dict.
        accepted: every key the consumer understands.
        where: what ``cfg`` is, for the message (e.g. ``"model_cfg of GaitSet"``).
        required: keys that must be present.

    Raises:
        ValueError: naming the first unknown key (with a "did you mean" suggestion) or the missing keys.
    """
    if not isinstance(cfg, Mapping):
        raise ValueError(f"{where} must be a mapping of keys to values, got {type(cfg).__name__}")
    accepted = list(accepted)
    for key in cfg:
        if key not in accepted:
            close = difflib.get_close_matches(str(key), accepted, n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise ValueError(f"unknown key '{key}' in {where}{hint} (accepted: {', '.join(sorted(accepted))})")
    missing = [key for key in required if key not in cfg]
    if missing:
        raise ValueError(f"{where} lacks the required key(s): {', '.join(missing)}")


def build_from_cfg(factory: Callable[..., T], cfg: Mapping[str, Any], where: str) -> T:
    """Call ``factory(**cfg)`` after checking ``cfg``'s keys against ``factory``'s signature.

    >>> import torch.nn as nn
    >>> build_from_cfg(nn.Linear, {'in_features': 2, 'out_features': 3}, 'fc').weight.shape
    torch.Size([3, 2])
    """
    required, optional = accepted_keys(factory)
    check_keys(cfg, required + optional, where, required)
    return factory(**cfg)


def require(condition: bool, message: str) -> None:
    """Raise ``ValueError(message)`` unless ``condition`` holds (configuration consistency checks)."""
    if not condition:
        raise ValueError(message)
