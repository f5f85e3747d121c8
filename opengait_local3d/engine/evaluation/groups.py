"""Probe groups (condition x probe view) and NaN-aware averages over them."""
from __future__ import annotations

import numpy as np

from .protocols import Protocol
from .testset import TestSet

__all__ = ["probe_groups", "nanmean", "percent", "group_mean"]


def probe_groups(test_set: TestSet, protocol: Protocol) -> tuple[np.ndarray, np.ndarray]:
    """The probes of ``protocol`` and their group codes.

    Returns:
        ``probes`` ``[n]`` indices into the test set (input order) and ``group`` ``[n]`` =
        ``condition * V + view``, with conditions numbered in ``protocol.conditions`` order.
    """
    condition = np.full(len(test_set.types), -1)
    for c, types in enumerate(protocol.conditions.values()):
        condition[test_set.of_types(types)] = c
    probes = np.flatnonzero(condition >= 0)
    return probes, condition[probes] * len(test_set.view_names) + test_set.views[probes]


def nanmean(values: np.ndarray, axis: int) -> np.ndarray:
    """Mean over the finite entries along ``axis``; NaN (without numpy's warning) where there are none."""
    defined = np.isfinite(values)
    counts = defined.sum(axis=axis)
    sums = np.where(defined, values, 0.0).sum(axis=axis)
    return np.divide(sums, counts, out=np.full(sums.shape, np.nan), where=counts > 0)


def percent(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """``100 * numerator / denominator``, NaN where the denominator is 0 (broadcasting)."""
    numerator, denominator = np.broadcast_arrays(np.asarray(numerator, float), denominator)
    return np.divide(100.0 * numerator, denominator, out=np.full(numerator.shape, np.nan),
                     where=denominator > 0)


def group_mean(values: np.ndarray, group: np.ndarray, num_groups: int) -> np.ndarray:
    """``[num_groups]``: mean of the finite ``values`` of each group; NaN for groups without any."""
    defined = np.isfinite(values)
    sums = np.bincount(group[defined], weights=values[defined], minlength=num_groups)
    counts = np.bincount(group[defined], minlength=num_groups)
    return np.divide(sums, counts, out=np.full(num_groups, np.nan), where=counts > 0)
