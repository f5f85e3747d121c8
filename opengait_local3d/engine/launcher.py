"""Run a training or test phase from a config: the function behind ``python -m opengait_local3d.main``."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

import yaml

from . import distributed, summary
from ..utils.allocator import keep_freed_memory
from .config.loading import config_source, load_config
from .config.validation import check_config
from ..errors import ConfigError
from .messages import get_msg_mgr
from .host import NetworkHost
from .run_folder import RestoreHint, RunFolder, claim
from ..config.warm_start import check_warm_start

__all__ = ["run", "RunResult", "check_config"]


@dataclass
class RunResult:
    """What a phase leaves: the iteration reached, the run's folder and the test metrics (rank 0)."""

    phase: str
    iteration: int
    save_path: Path
    metrics: dict[str, Any] = field(default_factory=dict)


def run(cfgs: str | Path | Mapping[str, Any], phase: str = "train", *, iteration: int = 0,
        log_to_file: bool = False, device: str = "auto", restart: bool = False) -> RunResult:
    """Train or test as ``python -m opengait_local3d.main`` does, in this process.

    Args:
        cfgs: a yaml config path or a config dict (merged over ``configs/default.yaml``).
        phase: ``'train'`` or ``'test'``.
        iteration: restore this iteration (overrides both ``restore_hint`` keys, like ``--iter``).
        log_to_file: also log to ``<save_path>/logs/<datetime>.txt`` (an exception that ends the run included).
        device: ``'auto'`` (CUDA if present, else CPU), ``'cpu'``, ``'cuda'`` or ``'cuda:N'``.
        restart: train from scratch where checkpoints of the run's ``save_name`` exist, moving the old run's files
            to ``<save_path>.old-<date>`` (``--restart``); without it such a training refuses to start unless it
            resumes the newest checkpoint (see :mod:`.run_folder`).

    Under torchrun (its environment variables set) this process joins the process group, whose collectives wait
    ``collective_timeout`` seconds; rank 0 holds the run folder's lock. A training that torchrun restarts
    (``--max-restarts``) resumes from the newest good checkpoint.

    Raises:
        ConfigError, DataError, CheckpointError, OutputError: bad input or an output that would lose work, with a
            message naming the file or key.
    """
    if phase not in ("train", "test"):
        raise ConfigError(f"phase: expected 'train' or 'test', got {phase!r}")
    training = phase == "train"
    if restart and not training:
        raise ConfigError("--restart starts a training over; the test phase has nothing to restart")
    source = config_source(cfgs)
    cfgs = load_config(cfgs, restore_iteration=iteration)
    with _named_by(source):
        check_config(cfgs, training)
        folder = RunFolder.of(cfgs, training)
    if training:
        check_warm_start(cfgs, source)
    engine_cfg = cfgs["trainer_cfg" if training else "evaluator_cfg"]
    with contextlib.ExitStack() as stack:
        notes = _elastic_resume(cfgs, folder) if training else []
        hint = RestoreHint.parse(engine_cfg.get("restore_hint", 0))
        restart = restart and not notes  # a restarted worker resumes what its first attempt saved after --restart
        if training and distributed.launch_rank() == 0:
            notes += stack.enter_context(claim(folder, hint, cfgs["trainer_cfg"]["total_iter"], restart))
        context = stack.enter_context(distributed.session(device, engine_cfg["collective_timeout"]))
        stack.enter_context(_messages(cfgs, source, folder, hint, training, log_to_file, context))
        msg_mgr = get_msg_mgr()
        for note in notes:
            msg_mgr.log_warning(note)
        if context.device.type == "cpu" and cfgs["engine_cfg"]["keep_freed_memory"]:
            keep_freed_memory()
        with _named_by(source):
            model = NetworkHost(cfgs, training, folder=folder, hint=hint)
        model.config_source = source
        n_params = sum(p.numel() for p in model.parameters())
        msg_mgr.log_info(f"{cfgs['model_cfg']['model']}: {n_params / 1e6:.5f}M parameters ({n_params})")
        if not training:
            try:
                return RunResult(phase, model.iteration, folder.save_path, NetworkHost.run_test(model))
            except KeyboardInterrupt:
                msg_mgr.log_warning("Test interrupted: no result files were written; run the same command again")
                raise
        try:
            NetworkHost.run_train(model)
        except KeyboardInterrupt:
            msg_mgr.log_warning(summary.interrupted(folder, source, device))
            raise
        msg_mgr.flush()
        msg_mgr.log_info(summary.finished(cfgs, folder, model.iteration, msg_mgr.last_means,
                                          msg_mgr.last_means_since, source, device, model.nonfinite.skipped))
        return RunResult(phase, model.iteration, folder.save_path)


def _elastic_resume(cfgs: dict[str, Any], folder: RunFolder) -> list[str]:
    """When torchrun restarts the workers, resume the newest good checkpoint (it is newer than the command's
    ``restore_hint`` once the first attempt saved one); returns the note to log."""
    hint = RestoreHint.parse(cfgs["trainer_cfg"]["restore_hint"])
    restarts = distributed.elastic_restart()
    if not restarts or hint.path is not None:
        return []
    newest = folder.newest()
    if newest is None or newest <= hint.iteration:
        return []
    cfgs["trainer_cfg"]["restore_hint"] = cfgs["evaluator_cfg"]["restore_hint"] = newest
    return [f"torchrun restart {restarts}: resuming the newest good checkpoint, iteration {newest}"]


@contextlib.contextmanager
def _messages(cfgs: Mapping[str, Any], source: str, folder: RunFolder, hint: RestoreHint, training: bool,
              log_to_file: bool, context: distributed.DistributedContext) -> Iterator[None]:
    """Logging (and tensorboard when training, from the iteration ``hint`` resumes) for the block; the config is
    logged first."""
    msg_mgr = get_msg_mgr()
    if training:
        msg_mgr.init_manager(folder.save_path, log_to_file, int(cfgs["trainer_cfg"]["log_iter"]), hint.iteration,
                             is_main=context.is_main)
    else:
        msg_mgr.init_logger(folder.save_path, log_to_file, is_main=context.is_main)
    try:
        processes = f"{context.world_size} process{'es' if context.distributed else ''}"
        msg_mgr.log_info(f"Config {source} on {context.device} ({processes}):\n"
                         + yaml.safe_dump(dict(cfgs), sort_keys=False))
        yield
    except Exception as error:  # the log file keeps what ended the run (the console shows it anyway)
        msg_mgr.log_exception(error)
        raise
    finally:
        msg_mgr.close()


@contextlib.contextmanager
def _named_by(source: str) -> Iterator[None]:
    """Prefix config errors raised inside with the config's file."""
    try:
        yield
    except ConfigError as err:
        raise ConfigError(f"{source}: {err}") from None
