"""Config values checked against type annotations: what a factory's signature says each argument takes.

A config comes from YAML, so its values are ``bool``, ``int``, ``float``, ``str``, ``None``, lists and mappings.
:func:`mismatch` says, in words, why a value does not fit an annotation (``int``, ``float``, ``bool``, ``str``,
``None``, unions, ``Literal``, sequences, tuples, mappings, and ``Annotated[..., Bounds(...)]`` for ranges);
another class (a tensor, a module) fits only its instances, which no config value is, and what it cannot judge
(a callable, a type variable) is left to the factory. :data:`Probability`, :data:`PositiveInt` and
:data:`NonNegativeInt` are the ranges configs use most.

>>> mismatch(16, typing.Sequence[int])
'expected a list of integers, got 16'
>>> print(mismatch("2e-3", float))
expected a number, got '2e-3' (a string: YAML 1.1 reads exponent notation without a decimal point as text;
write 0.002)
>>> mismatch(5, Probability)
'expected a number in [0, 1], got 5'
"""
from __future__ import annotations

import collections.abc
import inspect
import math
import sys
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Callable

__all__ = ["Bounds", "Probability", "PositiveInt", "NonNegativeInt", "type_hints", "mismatch", "describe"]


@dataclass(frozen=True)
class Bounds:
    """An inclusive range for a number: ``Annotated[float, Bounds(0, 1)]``."""

    minimum: float | None = None
    maximum: float | None = None

    def holds(self, value: float) -> bool:
        return (self.minimum is None or value >= self.minimum) and (self.maximum is None or value <= self.maximum)

    def describe(self) -> str:
        if self.maximum is None:
            return f">= {self.minimum}"
        if self.minimum is None:
            return f"<= {self.maximum}"
        return f"in [{self.minimum}, {self.maximum}]"


Probability = Annotated[float, Bounds(0, 1)]
PositiveInt = Annotated[int, Bounds(1)]
NonNegativeInt = Annotated[int, Bounds(0)]

_SEQUENCES = (collections.abc.Sequence, collections.abc.Iterable, collections.abc.Collection, list, tuple,
              collections.abc.MutableSequence, set, frozenset, collections.abc.Set)
_MAPPINGS = (collections.abc.Mapping, collections.abc.MutableMapping, dict)


def type_hints(factory: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``factory``'s parameters (its ``__init__`` for a class), ``Annotated`` kept.

    An annotation that cannot be resolved (a name its module does not define at run time) is left out.
    """
    target = factory.__init__ if inspect.isclass(factory) else factory
    try:
        return typing.get_type_hints(target, include_extras=True)
    except Exception:  # one unresolvable name spoils them all: resolve parameter by parameter
        pass
    namespace = vars(sys.modules.get(getattr(target, "__module__", ""), types.ModuleType("_")))
    hints = {}
    for name, annotation in getattr(target, "__annotations__", {}).items():
        try:
            hints[name] = eval(annotation, namespace) if isinstance(annotation, str) else annotation  # noqa: S307
        except Exception:
            continue
    return hints


def mismatch(value: Any, annotation: Any) -> str | None:
    """``None`` if ``value`` fits ``annotation``, else ``"expected <what>, got <value>"`` (with the likely cause
    when a number arrives as a string)."""
    if _fits(value, annotation):
        return None
    message = f"expected {describe(annotation)}, got {value!r}"
    spelling = _spelling(value, annotation)
    if spelling is None:
        return message
    if "e" in value.lower():
        return (f"{message} (a string: YAML 1.1 reads exponent notation without a decimal point as text; "
                f"write {spelling})")
    return f"{message} (a string: write {spelling} without quotes)"


def describe(annotation: Any) -> str:
    """``annotation`` in words, as an error message says what is allowed (``'a list of integers'``)."""
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Annotated:
        bounds = [a for a in annotation.__metadata__ if isinstance(a, Bounds)]
        text = describe(args[0])
        return f"{text} {bounds[0].describe()}" if bounds else text
    if origin in (typing.Union, types.UnionType):
        givable = [a for a in args if not _foreign_class(a)] or args  # "a number", not "a number or Tensor"
        return " or ".join(dict.fromkeys(describe(a) for a in givable))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in _MAPPINGS or annotation in _MAPPINGS or annotation is typing.Mapping:
        return "a mapping"
    if origin is tuple and args and args[-1] is not Ellipsis:
        return f"a list of {len(args)} values ({', '.join(describe(a) for a in args)})"
    if origin in _SEQUENCES:
        return f"a list of {_plural(args[0])}" if args else "a list"
    if annotation in _SEQUENCES or annotation is typing.Sequence:
        return "a list"
    return {int: "an integer", float: "a number", bool: "true or false", str: "a string",
            type(None): "null"}.get(annotation, getattr(annotation, "__name__", str(annotation)))


def _plural(annotation: Any) -> str:
    return {int: "integers", float: "numbers", bool: "booleans", str: "strings"}.get(annotation,
                                                                                      describe(annotation))


def _fits(value: Any, annotation: Any) -> bool:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if annotation is Any or isinstance(annotation, typing.TypeVar):
        return True
    if origin is Annotated:
        if not _fits(value, args[0]):
            return False
        return all(b.holds(value) for b in annotation.__metadata__ if isinstance(b, Bounds)
                   and isinstance(value, (int, float)) and not isinstance(value, bool))
    if origin in (typing.Union, types.UnionType):
        return any(_fits(value, a) for a in args)
    if origin is typing.Literal:
        return value in args
    if origin in _MAPPINGS or annotation in _MAPPINGS or annotation is typing.Mapping:
        return isinstance(value, collections.abc.Mapping) and (
            len(args) != 2 or all(_fits(v, args[1]) for v in value.values()))
    if origin is tuple and args and args[-1] is not Ellipsis:
        return isinstance(value, (list, tuple)) and len(value) == len(args) and all(map(_fits, value, args))
    if origin in _SEQUENCES or annotation in _SEQUENCES or annotation is typing.Sequence:
        item = args[0] if args else Any
        return isinstance(value, (list, tuple)) and all(_fits(v, item) for v in value)
    if annotation is bool:
        return isinstance(value, bool) or (type(value) is int and value in (0, 1))
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if annotation is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if annotation is str:
        return isinstance(value, str)
    if annotation is None or annotation is type(None):
        return value is None
    if _foreign_class(annotation):  # a tensor, a module...: a config value never is one
        return isinstance(value, annotation)
    return True  # callables, type variables...: the factory decides


def _foreign_class(annotation: Any) -> bool:
    """A plain class other than those config values are (``Tensor``, ``nn.Module``...)."""
    return (inspect.isclass(annotation) and typing.get_origin(annotation) is None
            and annotation not in (int, float, bool, str, type(None)) and annotation not in _SEQUENCES + _MAPPINGS)


def _spelling(value: Any, annotation: Any) -> str | None:
    """How YAML must spell the number the string ``value`` holds for ``annotation`` to take it (``'2e-3'`` ->
    ``0.002``, ``'1e5'`` -> ``100000`` where an integer is wanted), or ``None`` if it is no such number."""
    number = _number_in(value)
    if number is None:
        return None
    candidates = [number, int(number)] if number.is_integer() else [number]
    return next((repr(candidate) for candidate in candidates if _fits(candidate, annotation)), None)


def _number_in(value: Any) -> float | None:
    """The finite number a string spells (``'2e-3'`` -> 0.002), else ``None``."""
    if not isinstance(value, str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None
