"""Enrolment: embed known people's sequences with a trained model into a gallery file (appending to an existing one
of the same model)."""
from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from ..datasets.pretreatment import PretreatReport
from ..engine.config.loading import config_digest, config_source, load_config
from .embedding import embed_sequences
from .gallery import Gallery, GalleryModel, file_sha256, load_gallery, merge_galleries, save_gallery
from .sources import sequence_folder

__all__ = ["Enrolment", "enroll", "gallery_model"]


@dataclass(frozen=True)
class Enrolment:
    """What :func:`enroll` did: the gallery written, the sequences added, the earlier ones they replaced, and the
    conversion of silhouette frames (``None`` for pkl input)."""

    gallery: Gallery
    added: int
    replaced: int
    converted: PretreatReport | None


def gallery_model(cfgs: Mapping[str, Any], source: str, checkpoint: Path | None, iteration: int,
                  frame_sizes: tuple[tuple[int, int], ...]) -> GalleryModel:
    """The record of the model that embedded a gallery: ``cfgs`` as loaded for ``iteration``."""
    return GalleryModel(
        model=str(cfgs["model_cfg"]["model"]), config=dict(cfgs), config_source=source,
        config_sha256=config_digest(cfgs), checkpoint=None if checkpoint is None else str(Path(checkpoint).resolve()),
        checkpoint_sha256=None if checkpoint is None else file_sha256(checkpoint), iteration=iteration,
        metric=str(cfgs["evaluator_cfg"].get("metric", "euc")), frame_sizes=frame_sizes)


def enroll(cfgs: str | os.PathLike | Mapping[str, Any], iteration: int, data: str | os.PathLike,
           out: str | os.PathLike, device: str = "auto", size: int = 64) -> Enrolment | None:
    """Embed every sequence under ``data`` with checkpoint ``iteration`` of the run ``cfgs`` configures (as the test
    phase does) and write the gallery ``out``, appended to the gallery already there.

    Args:
        data: a folder in the pkl layout, or ``<id>/<type>/<view>/`` folders of silhouette frames (converted to
            ``size x size`` as ``pretreat`` does).

    Returns:
        What was done, on rank 0 (``None`` on the other ranks under torchrun).

    Raises:
        ConfigError, CheckpointError, DataError: naming the config key, checkpoint or file at fault; DataError too
            when ``out`` exists and is not a gallery. OutputError: ``out`` is a gallery of another model, config or
            checkpoint.
    """
    source = config_source(cfgs)
    cfgs = load_config(cfgs if isinstance(cfgs, Mapping) else Path(cfgs), restore_iteration=iteration)
    cfgs["evaluator_cfg"]["restore_hint"] = iteration  # 0 means untrained, whatever the config says
    out = Path(out)
    earlier = load_gallery(out) if out.exists() else None  # a file that is not a gallery fails before any work
    with tempfile.TemporaryDirectory() as workdir:
        folder = sequence_folder(data, workdir, size)
        embedded = embed_sequences(cfgs, folder.root, device=device)
    if embedded is None:
        return None
    model = gallery_model(cfgs, source, embedded.checkpoint, iteration, embedded.frame_sizes)
    gallery = Gallery(embedded.embeddings, embedded.ids, embedded.types, embedded.views, model)
    replaced = 0
    if earlier is not None:
        gallery, replaced = merge_galleries(earlier, gallery, out)
    save_gallery(gallery, out)
    return Enrolment(gallery, len(embedded.ids), replaced, folder.converted)
