"""What a training says when it ends: where its checkpoints are, its last losses, and the command that tests it;
when interrupted, the command that resumes it."""
from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import Any, Mapping

from .checkpoint import checkpoint_path, saved_iterations
from .distributed import launched_by_torchrun

__all__ = ["command", "finished", "interrupted"]


def command(source: str, phase: str, iteration: int, device: str = "auto") -> str:
    """The command line that runs ``phase`` of the config ``source`` from checkpoint ``iteration``, as this process
    was launched (plain Python or torchrun); for an in-memory config, the :func:`~.launcher.run` call."""
    if source == "<dict>":
        return f"run(cfgs, {phase!r}, iteration={iteration})"
    launcher = "python -m opengait_local3d.main"
    if launched_by_torchrun():
        per_node = int(os.environ.get("LOCAL_WORLD_SIZE", 1))
        one_node = int(os.environ.get("WORLD_SIZE", 1)) == per_node
        options = f"--nproc_per_node={per_node}" if one_node else "<your torchrun options>"
        launcher = f"torchrun {options} -m opengait_local3d.main"
    device_option = f" --device {device}" if device != "auto" else ""
    return f"{launcher} --cfgs {shlex.quote(source)} --phase {phase} --iter {iteration}{device_option}"


def finished(cfgs: Mapping[str, Any], save_path: Path, iteration: int, losses: Mapping[str, float],
             losses_since: int, source: str, device: str = "auto", skipped: int = 0) -> str:
    """The summary logged at the end of a training (``skipped``: batches skipped for a non-finite loss)."""
    trainer, evaluator = cfgs["trainer_cfg"], cfgs["evaluator_cfg"]
    saved = saved_iterations(save_path, trainer["save_name"])
    lines = [f"Training done at iteration {iteration}.",
             f"  checkpoints: {save_path / 'checkpoints'} ({_listed(saved, trainer['save_name'])})"]
    if losses:
        means = ", ".join(f"{name} {value:.4f}" for name, value in losses.items())
        lines.append(f"  last losses (mean of iterations {losses_since}-{iteration}): {means}")
    if skipped:
        lines.append(f"  batches skipped for a non-finite loss (trainer_cfg.nonfinite: skip): {skipped}")
    lines.append(f"  test it: {command(source, 'test', iteration, device)}")
    if evaluator["save_name"] != trainer["save_name"]:
        lines.append(f"  (the test phase reads the checkpoints of evaluator_cfg.save_name '{evaluator['save_name']}': "
                     f"set it to '{trainer['save_name']}' to test this run)")
    return "\n".join(lines)


def interrupted(cfgs: Mapping[str, Any], save_path: Path, source: str, device: str = "auto") -> str:
    """The message logged when a training is interrupted: its newest checkpoint and how to resume from it."""
    save_name = cfgs["trainer_cfg"]["save_name"]
    saved = saved_iterations(save_path, save_name)
    if not saved:
        return "Interrupted before any checkpoint was saved; run the same command again to start over."
    newest = saved[-1]
    return (f"Interrupted; the newest checkpoint is {checkpoint_path(save_path, save_name, newest)}. Resume: "
            f"{command(source, 'train', newest, device)}")


def _listed(saved: list[int], save_name: str) -> str:
    if not saved:
        return "none"
    names = [f"{save_name}-{i:05d}.pt" for i in saved]
    return ", ".join(names if len(names) <= 4 else [names[0], "...", *names[-2:]])
