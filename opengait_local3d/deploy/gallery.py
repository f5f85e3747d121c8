"""A gallery: the embeddings of known people's sequences and what produced them, in one ``.npz`` file.

The file holds ``embeddings`` ``[N, c, p]`` float32, the str arrays ``ids``, ``types``, ``views`` and ``meta``, a
JSON record: the format's name and version, the model, the merged config (its file and sha256, the hash the test
phase's result tables print), the checkpoint (path, iteration, sha256 of the file), the evaluator's metric and the
frame size of the enrolled silhouettes. Identification re-embeds probes with exactly that config and checkpoint.
"""
from __future__ import annotations

import hashlib
import json
import os
import zipfile
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError, OutputError
from ..utils.atomic import atomic_write

__all__ = ["FORMAT", "GalleryModel", "Gallery", "load_gallery", "save_gallery", "merge_galleries", "file_sha256"]

#: ``meta['format']`` of a gallery file
FORMAT = "opengait-local3d gallery"
VERSION = 1
_ARRAYS = ("embeddings", "ids", "types", "views")


@dataclass(frozen=True)
class GalleryModel:
    """What produced a gallery's embeddings: the same model embeds its probes.

    Attributes:
        model: ``model_cfg.model``.
        config: the merged config, as loaded for the checkpoint (its ``restore_hint`` is the iteration).
        config_source: the config's file.
        config_sha256: :func:`~opengait_local3d.engine.config.loading.config_digest` of ``config``.
        checkpoint: the checkpoint's absolute path (``None``: the untrained network).
        checkpoint_sha256: the sha256 of the checkpoint file (``None`` when untrained).
        iteration: the checkpoint's iteration.
        metric: the evaluator's distance (``'euc'`` or ``'cos'``), averaged over parts.
        frame_sizes: ``(h, w)`` of the enrolled frames, per input.
    """

    model: str
    config: dict[str, Any]
    config_source: str
    config_sha256: str
    checkpoint: str | None
    checkpoint_sha256: str | None
    iteration: int
    metric: str
    frame_sizes: tuple[tuple[int, int], ...]

    def describe(self) -> str:
        """One line naming the model, config and checkpoint."""
        checkpoint = self.checkpoint or "none (the untrained network)"
        return (f"{self.model} (config {self.config_source}, sha256 {self.config_sha256[:12]}; checkpoint "
                f"{checkpoint}, iteration {self.iteration})")

    def same_model(self, other: GalleryModel) -> bool:
        """Whether embeddings of both are comparable: same model, config and checkpoint content."""
        return ((self.model, self.config_sha256, self.checkpoint_sha256)
                == (other.model, other.config_sha256, other.checkpoint_sha256))


@dataclass(frozen=True)
class Gallery:
    """Embeddings ``[N, c, p]`` of ``N`` sequences with their ``ids``, ``types`` and ``views`` (``[N]`` str)."""

    embeddings: np.ndarray
    ids: np.ndarray
    types: np.ndarray
    views: np.ndarray
    model: GalleryModel

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, keep: np.ndarray) -> Gallery:
        """The sequences where the bool ``[N]`` mask ``keep`` holds (or of the indices ``keep``)."""
        return replace(self, embeddings=self.embeddings[keep], ids=self.ids[keep], types=self.types[keep],
                       views=self.views[keep])

    def keys(self) -> list[tuple[str, str, str]]:
        """``(id, type, view)`` of every sequence."""
        return list(zip(self.ids.tolist(), self.types.tolist(), self.views.tolist()))


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_gallery(gallery: Gallery, path: str | os.PathLike) -> None:
    """Write ``gallery`` to ``path`` (``.npz``) atomically."""
    meta = {"format": FORMAT, "version": VERSION, **asdict(gallery.model)}
    with atomic_write(path) as handle:
        np.savez(handle, embeddings=gallery.embeddings.astype(np.float32), ids=gallery.ids.astype(str),
                 types=gallery.types.astype(str), views=gallery.views.astype(str), meta=np.array(json.dumps(meta, default=str)))


def load_gallery(path: str | os.PathLike) -> Gallery:
    """The gallery in ``path``.

    Raises:
        DataError: naming ``path``: missing, not an npz, or an npz that is not a gallery of this format.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: gallery file not found (write one with opengait-local3d enroll)")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in (*_ARRAYS, "meta") if key in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a gallery file (not an npz archive: {str(err).splitlines()[0]})") from None
    meta = _meta(arrays.get("meta"))
    missing = [key for key in _ARRAYS if key not in arrays]
    if meta is None or missing:
        raise DataError(f"{path}: not a gallery file (an npz without the gallery's "
                        f"{', '.join(missing) if missing else 'meta record'}; write one with opengait-local3d enroll)")
    if meta["version"] != VERSION:
        raise DataError(f"{path}: a gallery of format version {meta['version']}; this version reads {VERSION}")
    embeddings, columns = arrays["embeddings"], [arrays[key] for key in _ARRAYS[1:]]
    if embeddings.ndim != 3 or any(c.shape != (len(embeddings),) for c in columns):
        raise DataError(f"{path}: damaged gallery (embeddings {list(embeddings.shape)}, ids/types/views "
                        f"{[list(c.shape) for c in columns]})")
    fields = {key: meta[key] for key in GalleryModel.__dataclass_fields__}
    fields["frame_sizes"] = tuple(tuple(size) for size in fields["frame_sizes"])
    return Gallery(embeddings, *columns, GalleryModel(**fields))


def _meta(array: np.ndarray | None) -> dict[str, Any] | None:
    if array is None or array.shape != () or array.dtype.kind != "U":
        return None
    try:
        meta = json.loads(str(array))
    except json.JSONDecodeError:
        return None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        return None
    if not set(GalleryModel.__dataclass_fields__) <= set(meta):
        return None
    return meta


def merge_galleries(old: Gallery, new: Gallery, path: str | os.PathLike) -> tuple[Gallery, int]:
    """``new``'s sequences appended to ``old`` (the gallery in ``path``); a sequence ``old`` holds already (same id,
    type and view) is replaced by ``new``'s.

    Returns:
        The merged gallery and how many of ``old``'s sequences were replaced.

    Raises:
        OutputError: ``old`` comes from another model, config or checkpoint, or from frames of another size
            (both named).
    """
    if not old.model.same_model(new.model) or old.model.frame_sizes != new.model.frame_sizes:
        def sizes(model: GalleryModel) -> str:
            return ", ".join("x".join(map(str, size)) for size in model.frame_sizes)
        raise OutputError(f"{path}: a gallery of {old.model.describe()} from {sizes(old.model)} frames; these "
                          f"sequences are embedded by {new.model.describe()} from {sizes(new.model)} frames. "
                          "Embeddings of different models, configs, checkpoints or frame sizes are not comparable: "
                          "enroll into another gallery file")
    new_keys = set(new.keys())
    kept = np.array([key not in new_keys for key in old.keys()], dtype=bool)
    old = old.subset(kept)
    merged = Gallery(np.concatenate([old.embeddings, new.embeddings]), np.concatenate([old.ids, new.ids]),
                     np.concatenate([old.types, new.types]), np.concatenate([old.views, new.views]), new.model)
    return merged, int((~kept).sum())
