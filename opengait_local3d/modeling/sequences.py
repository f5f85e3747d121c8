"""OpenGait's network input tuple, and packed variable-length sequences.

At training time OpenGait feeds fixed-length clips ``[n, s, h, w]`` with ``seqL = None``. At test time it
packs whole sequences along the frame axis, ``[1, sum(s), h, w]``, with ``seqL = [[s_1, ..., s_n]]``.
:func:`encode_sequences` runs a clip encoder on packed input without letting any temporal operation cross a
sequence boundary: sequences of equal length are stacked into one fixed-length batch, encoded together, and
the results are put back in input order.
"""
from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import torch
from torch import Tensor


class GaitInputs(NamedTuple):
    """The unpacked input tuple.

    Attributes:
        sils: silhouettes ``[n, s, h, w]`` (or ``[1, sum(s), h, w]`` when ``lengths`` is set).
        labels: int64 ``[n]``.
        lengths: the packed sequence lengths, or ``None`` for fixed-length clips.
    """

    sils: Tensor
    labels: Tensor
    lengths: list[int] | None


def unpack_inputs(inputs: Sequence, model: str) -> GaitInputs:
    """Check and unpack OpenGait's ``(ipts, labs, typs, vies, seqL)``.

    Raises:
        ValueError: if the tuple, the silhouette tensor or ``seqL`` do not have OpenGait's layout.
    """
    if not isinstance(inputs, (tuple, list)) or len(inputs) != 5:
        raise ValueError(f"{model}.forward expects (ipts, labs, typs, vies, seqL), got {type(inputs).__name__}")
    ipts, labels, _, _, seq_lengths = inputs
    if not isinstance(ipts, (tuple, list)) or not ipts or not torch.is_tensor(ipts[0]):
        raise ValueError(f"{model}.forward: ipts must be a list holding the silhouette tensor")
    sils = ipts[0]
    if sils.dim() != 4 or not sils.is_floating_point():
        raise ValueError(
            f"{model}.forward: silhouettes must be a float tensor [n, s, h, w], "
            f"got {sils.dtype} of shape {tuple(sils.shape)}"
        )
    lengths = None if seq_lengths is None else _check_lengths(seq_lengths, sils, model)
    return GaitInputs(sils, labels, lengths)


def _check_lengths(seq_lengths, sils: Tensor, model: str) -> list[int]:
    lengths = torch.as_tensor(seq_lengths).reshape(-1).tolist()
    if sils.shape[0] != 1:
        raise ValueError(f"{model}.forward: packed input (seqL given) must be [1, sum(s), h, w], got {tuple(sils.shape)}")
    if not lengths or min(lengths) < 1 or sum(lengths) != sils.shape[1]:
        raise ValueError(
            f"{model}.forward: seqL {lengths} must be positive lengths summing to the {sils.shape[1]} packed frames"
        )
    return [int(length) for length in lengths]


def encode_sequences(encode: Callable[[Tensor], Tensor], sils: Tensor, lengths: list[int] | None) -> Tensor:
    """Apply a clip encoder to fixed-length clips or to packed variable-length sequences.

    Convention:
        ``encode`` maps clips ``[g, s, h, w]`` to one feature per clip ``[g, ...]``, each clip depending only
        on itself. For packed input each group of equal-length sequences is one call, so a sequence gets the
        embedding it gets alone (up to the floating-point effects of batch size on kernels).

    Args:
        encode: the clip encoder.
        sils: ``[n, s, h, w]``, or ``[1, sum(s), h, w]`` packed.
        lengths: ``None`` for fixed-length clips, else the ``n`` packed sequence lengths.

    Returns:
        ``[n, ...]`` in input order.
    """
    if lengths is None:
        return encode(sils)
    frames = sils[0]
    if _all_equal(lengths):
        return encode(frames.view(len(lengths), lengths[0], *frames.shape[1:]))
    length_of = torch.tensor(lengths, device=sils.device)
    starts = torch.cumsum(length_of, 0) - length_of
    order, outputs = [], []
    for length in sorted(set(lengths)):
        members = torch.nonzero(length_of == length).flatten()
        frame_index = starts[members, None] + torch.arange(length, device=sils.device)
        outputs.append(encode(frames[frame_index]))
        order.append(members)
    return torch.cat(outputs)[torch.argsort(torch.cat(order))]


def _all_equal(lengths: list[int]) -> bool:
    """Equal lengths need no gather: the packed frames are already a fixed-length batch."""
    return len(set(lengths)) == 1
