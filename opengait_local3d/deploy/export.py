"""Export a trained network for inference outside this package: TorchScript or ONNX, the frame count dynamic.

The exported function is the test phase's: silhouettes ``[n, s, h, w]`` float32 as stored in the pkls (0..255,
the frame size of the data) -> the evaluator's transform (``evaluator_cfg.transform``, e.g. dividing by 255 and
cutting columns) -> the network's inference embeddings ``[n, c, p]``. ``n`` and ``s`` are dynamic; ``h`` and ``w``
are fixed. Every export is checked against PyTorch on sequences of several lengths before it is kept.

ONNX goes through ``torch.onnx.export(dynamo=True)`` (``torch.export`` with symbolic frame counts), which needs the
optional packages ``onnx`` and ``onnxscript``; the check runs the file in ``onnxruntime`` (``pip install
"opengait-local3d[export]"``). ONNX has no adaptive pooling: torch's exporters (``dynamo=True`` and the legacy
one alike) translate ``nn.AdaptiveMaxPool2d`` into ``MaxPool`` only when the input's sides are multiples of the
output's (equal, disjoint bins) and refuse it otherwise, e.g. the 3D local block's localization pooling a 1 x 1
or 3 x 3 map to 2 x 2 on small frames. The ONNX export therefore runs on a copy of the network whose adaptive max
poolings are :class:`BinMaxPool2d` (the same bins, as slices and maxima); the check compares it with the network
as it is. TorchScript is traced (``torch.jit.trace``): sizes that depend on the frame count are recorded as
operations on the input's shape, which the check on other lengths confirms.
"""
from __future__ import annotations

import copy
import importlib.util
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..datasets.silhouette import sequence_shape
from ..engine.config.loading import load_config
from ..engine.data import get_transform
from ..errors import ConfigError, DataError, EngineError
from ..engine.host import load_network

__all__ = ["FORMATS", "TOLERANCE", "CHECK_FRAMES", "EXPORT_PACKAGES", "ExportError", "InferenceNetwork",
           "ExportCheck", "BinMaxPool2d", "onnx_exportable", "export_network", "relative_error"]

FORMATS = ("onnx", "torchscript")
#: the largest relative error (:func:`relative_error`) an export may have on a checked sequence
TOLERANCE = 1e-4
#: the sequence lengths an export is checked on (the example it is traced with has :data:`EXAMPLE_FRAMES`)
CHECK_FRAMES = (10, 37)
EXAMPLE_FRAMES = 20
#: the optional packages ONNX export needs (the ``export`` extra)
EXPORT_PACKAGES = ("onnx", "onnxscript", "onnxruntime")
INPUT_NAME, OUTPUT_NAME = "silhouettes", "embeddings"


class ExportError(EngineError):
    """An export that cannot be made, or whose output differs from PyTorch's beyond :data:`TOLERANCE`."""


class InferenceNetwork(nn.Module):
    """The test phase's inference: ``[n, s, h, w]`` silhouettes (0..255) -> ``[n, c, p]`` embeddings.

    Args:
        network: a network of :mod:`opengait_local3d.modeling`, in eval mode.
        transform: the evaluator's transform of the one input (deterministic).
    """

    def __init__(self, network: nn.Module, transform: Any):
        super().__init__()
        self.network = network
        self.transform = transform

    def forward(self, silhouettes: Tensor) -> Tensor:
        sils = self.transform(silhouettes, None, None)
        labels = torch.zeros(sils.shape[0], dtype=torch.long, device=sils.device)
        return self.network(([sils], labels, None, None, None))["inference_feat"]["embeddings"]


class BinMaxPool2d(nn.Module):
    """:class:`torch.nn.AdaptiveMaxPool2d`'s values from slices and maxima, which ONNX has:
    ``[N, c, H, W] -> [N, c, oh, ow]``.

    Bin ``i`` of ``o`` along a side of ``L`` covers ``floor(i L / o) .. ceil((i + 1) L / o) - 1``, PyTorch's bins:
    they overlap where ``o`` does not divide ``L`` and repeat inputs where ``o > L``. Each bin's maximum is one of
    its inputs, so the output equals PyTorch's exactly. Sides are read from the input, fixed when exported.

    Args:
        output_size: ``(oh, ow)``; ``None`` keeps that side's size (as in :class:`torch.nn.AdaptiveMaxPool2d`).
    """

    def __init__(self, output_size: int | None | tuple[int | None, int | None]):
        super().__init__()
        self.output_size = (output_size, output_size) if output_size is None or isinstance(output_size, int) \
            else tuple(output_size)

    def forward(self, x: Tensor) -> Tensor:
        for dim, bins in zip((-2, -1), self.output_size):
            length = x.shape[dim]
            bins = length if bins is None else bins
            starts = [i * length // bins for i in range(bins)]
            ends = [-(-(i + 1) * length // bins) for i in range(bins)]
            x = torch.cat([x.narrow(dim, start, end - start).amax(dim, keepdim=True)
                           for start, end in zip(starts, ends)], dim)
        return x


def onnx_exportable(module: nn.Module) -> nn.Module:
    """A copy of ``module`` with every :class:`torch.nn.AdaptiveMaxPool2d` that returns no indices replaced by
    :class:`BinMaxPool2d` (``module`` itself unchanged)."""
    module = copy.deepcopy(module)
    for name, child in list(module.named_modules()):
        if isinstance(child, nn.AdaptiveMaxPool2d) and not child.return_indices:
            parent, _, attribute = name.rpartition(".")
            setattr(module.get_submodule(parent), attribute, BinMaxPool2d(child.output_size))
    return module


@dataclass(frozen=True)
class ExportCheck:
    """The export's error on one sequence length: ``relative_error`` (see :func:`relative_error`)."""

    frames: int
    relative_error: float


def relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    """``max |actual - expected| / max |expected|``: the largest deviation relative to the embeddings' scale."""
    return float(np.abs(actual - expected).max() / max(float(np.abs(expected).max()), np.finfo(np.float32).tiny))


def export_network(cfgs: str | os.PathLike | Mapping[str, Any], iteration: int, fmt: str, out: str | os.PathLike,
                   frame_size: Sequence[int] | None = None,
                   check_frames: Sequence[int] = CHECK_FRAMES) -> list[ExportCheck]:
    """Export checkpoint ``iteration`` of the run ``cfgs`` configures as ``fmt`` to ``out``, checked on sequences
    of ``check_frames`` frames (random silhouettes, seeded) against the PyTorch network.

    Args:
        frame_size: ``(h, w)`` of the input frames; default: those of the config's ``data_cfg.dataset_root``.

    Returns:
        The error of each checked length (all within :data:`TOLERANCE`: ``out`` is written only then).

    Raises:
        ConfigError, CheckpointError, DataError: the config, checkpoint or frame size at fault (a frame size the
            network does not run on included).
        ExportError: a missing optional package, an operation the exporter cannot take, or a check beyond
            :data:`TOLERANCE` (each length's error named).
    """
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {fmt!r}")
    if fmt == "onnx":
        missing = [name for name in EXPORT_PACKAGES if importlib.util.find_spec(name) is None]
        if missing:
            raise ExportError(f"ONNX export needs the optional package(s) {', '.join(missing)}: "
                              "pip install \"opengait-local3d[export]\"")
    cfgs = load_config(cfgs if isinstance(cfgs, Mapping) else Path(cfgs), restore_iteration=iteration)
    transforms = get_transform(cfgs["evaluator_cfg"].get("transform"), "evaluator_cfg.transform")
    if len(transforms) != 1:
        raise ConfigError(f"evaluator_cfg.transform: {len(transforms)} inputs; export takes networks of one input")
    height, width = frame_size or _data_frame_size(cfgs)
    module = InferenceNetwork(load_network(cfgs, iteration), transforms[0]).eval()
    generator = torch.Generator().manual_seed(0)
    example = _silhouettes(2, EXAMPLE_FRAMES, height, width, generator)
    inputs = [_silhouettes(1, frames, height, width, generator) for frames in check_frames]
    try:
        with torch.no_grad():
            expected = [module(x).numpy() for x in inputs]
    except (ValueError, RuntimeError) as err:  # a layer's own check, or torch's on a map too small for a kernel
        raise DataError(f"frames of {height} x {width} px: {type(module.network).__name__} does not run on them "
                        f"({str(err).splitlines()[0]}); give the frame size it was trained on") from None
    out = Path(out)
    with tempfile.TemporaryDirectory(dir=out.parent if out.parent.is_dir() else None) as tmp:
        exported = Path(tmp) / out.name
        run = _export_onnx(module, example, exported) if fmt == "onnx" else _export_torchscript(module, example,
                                                                                                  exported)
        checks = [ExportCheck(len(x[0]), relative_error(run(x), y)) for x, y in zip(inputs, expected)]
        failed = [c for c in checks if not c.relative_error <= TOLERANCE]
        if failed:
            raise ExportError(f"{out}: the {fmt} export differs from PyTorch beyond {TOLERANCE:g} (relative): " +
                              ", ".join(f"{c.frames} frames {c.relative_error:.2e}" for c in failed) + "; not written")
        out.parent.mkdir(parents=True, exist_ok=True)
        os.replace(exported, out)
    return checks


def _silhouettes(n: int, frames: int, height: int, width: int, generator: torch.Generator) -> Tensor:
    """Random binary silhouettes ``[n, frames, h, w]`` (0 or 255) as float32."""
    return torch.randint(0, 2, (n, frames, height, width), generator=generator).float() * 255


def _data_frame_size(cfgs: Mapping[str, Any]) -> tuple[int, int]:
    """The frame size of the first pkl under ``data_cfg.dataset_root``."""
    root = Path(cfgs["data_cfg"]["dataset_root"]).expanduser()
    first = next(iter(sorted(root.glob("*/*/*/*.pkl"))), None) if root.is_dir() else None
    if first is None:
        raise DataError(f"data_cfg.dataset_root: no pkl under {root} to take the frame size from; give it "
                        "(--frame-size H W)")
    try:
        return tuple(sequence_shape(first)[1:])
    except ValueError as err:
        raise DataError(str(err)) from None


def _export_torchscript(module: nn.Module, example: Tensor, path: Path):
    with warnings.catch_warnings():  # the tracer's notes on Python values; the check on other lengths decides
        warnings.simplefilter("ignore")
        try:
            traced = torch.jit.trace(module, example, check_trace=False)
        except Exception as err:  # the tracer raises many types on an operation it cannot record
            raise ExportError(f"torch.jit.trace cannot trace {type(module.network).__name__}: "
                              f"{type(err).__name__}: {err}") from None
    traced.save(str(path))
    loaded = torch.jit.load(str(path))

    def run(x: Tensor) -> np.ndarray:
        with torch.no_grad():
            return loaded(x).numpy()
    return run


def _export_onnx(module: nn.Module, example: Tensor, path: Path):
    import onnxruntime

    dynamic = {INPUT_NAME: {0: torch.export.Dim.AUTO, 1: torch.export.Dim.AUTO}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            program = torch.onnx.export(onnx_exportable(module), (example,), dynamo=True, dynamic_shapes=dynamic,
                                        input_names=[INPUT_NAME], output_names=[OUTPUT_NAME], verbose=False)
        except Exception as err:  # torch.export and the ONNX translation raise many types
            raise ExportError(f"torch.onnx.export cannot export {type(module.network).__name__}: "
                              f"{type(err).__name__}: {str(err).splitlines()[0]}") from None
    program.save(str(path))
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

    def run(x: Tensor) -> np.ndarray:
        return session.run(None, {INPUT_NAME: x.numpy()})[0]
    return run
