"""The evaluator's input (OpenGait's ``data`` dict), checked and encoded once."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch

from .protocols import sorted_views

__all__ = ["TestSet", "as_test_set"]

_KEYS = ("embeddings", "labels", "types", "views")


@dataclass(frozen=True)
class TestSet:
    """A test set's embeddings with integer codes for subjects and views.

    Attributes:
        embeddings: ``[N, c, p]`` float32 or float64 tensor (the caller's memory when it already was one).
        subjects: ``[N]`` int64 subject codes (equal codes = same label).
        types: ``[N]`` sequence types as str, e.g. ``'nm-05'``.
        views: ``[N]`` int64 codes into ``view_names``.
        view_names: the distinct views, sorted by angle.
    """

    embeddings: torch.Tensor
    subjects: np.ndarray
    types: np.ndarray
    views: np.ndarray
    view_names: list[str]

    def of_types(self, types: tuple[str, ...]) -> np.ndarray:
        """Indices of the sequences whose type is one of ``types``, in input order."""
        return np.flatnonzero(np.isin(self.types, types))


def _as_tensor(embeddings) -> torch.Tensor:
    """``[N, c, p]`` floating tensor; half precision is widened to float32 for the matrix products."""
    if isinstance(embeddings, torch.Tensor):
        tensor = embeddings.detach()
    else:
        array = np.asarray(embeddings)
        if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
            raise ValueError(f"data['embeddings'] must be a float array, got dtype {array.dtype}")
        tensor = torch.from_numpy(np.ascontiguousarray(array))
    if tensor.dim() != 3:
        raise ValueError(f"data['embeddings'] must be [N, c, p] (sequences, features, parts), "
                         f"got shape {tuple(tensor.shape)}")
    if tensor.dtype not in (torch.float32, torch.float64):
        tensor = tensor.float()
    # A row sum is finite unless the row holds NaN or inf (or overflows, hence the exact re-check):
    # one cheap reduction instead of a boolean copy of the whole array.
    suspects = torch.nonzero(~torch.isfinite(tensor.sum(dim=(1, 2)))).flatten()
    rows = suspects[~torch.isfinite(tensor[suspects]).flatten(1).all(dim=1)]
    if len(rows):
        raise ValueError(f"data['embeddings'] has NaN or infinite values in {len(rows)} sequence(s), "
                         f"e.g. rows {rows[:5].tolist()}")
    return tensor


def as_test_set(data: Mapping) -> TestSet:
    """Check OpenGait's evaluator input and encode it.

    Args:
        data: ``{'embeddings': [N, c, p] (numpy or torch), 'labels': N subject ids,
            'types': N sequence types, 'views': N views}``.

    Raises:
        ValueError: for a missing key, embeddings that are not a finite ``[N, c, p]`` array, or
            labels/types/views whose lengths differ from N.
    """
    missing = [k for k in _KEYS if k not in data]
    if missing:
        raise ValueError(f"evaluation data lacks {', '.join(repr(k) for k in missing)}; "
                         f"expected keys {', '.join(_KEYS)}")
    embeddings = _as_tensor(data["embeddings"])
    columns = {k: np.asarray([str(x) for x in data[k]]) for k in _KEYS[1:]}
    wrong = [f"{k} has {len(v)}" for k, v in columns.items() if len(v) != len(embeddings)]
    if wrong:
        raise ValueError(f"data['embeddings'] has {len(embeddings)} sequences but {', '.join(wrong)}")
    _, subjects = np.unique(columns["labels"], return_inverse=True)
    view_names = sorted_views(columns["views"])
    view_codes = {name: code for code, name in enumerate(view_names)}
    views = np.fromiter((view_codes[v] for v in columns["views"]), dtype=np.int64, count=len(embeddings))
    return TestSet(embeddings, subjects.astype(np.int64), columns["types"], views, view_names)
