"""What a training says when it ends: where its checkpoints are, its last losses, and the command that tests it;
when interrupted, the command that resumes it."""
from __future__ import annotations

import os
import shlex
from typing import Any, Mapping

from .distributed import launched_by_torchrun
from .run_folder import RunFolder

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


def finished(cfgs: Mapping[str, Any], folder: RunFolder, iteration: int, losses: Mapping[str, float],
             losses_since: int, source: str, device: str = "auto", skipped: int = 0) -> str:
    """The summary logged at the end of a training in ``folder`` (``skipped``: batches skipped for a non-finite
    loss)."""
    trainer, evaluator = cfgs["trainer_cfg"], cfgs["evaluator_cfg"]
    lines = [f"Training done at iteration {iteration}.",
             f"  checkpoints: {folder.save_path / 'checkpoints'} ({_listed(folder)})"]
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


def interrupted(folder: RunFolder, source: str, device: str = "auto") -> str:
    """The message logged when the training in ``folder`` is interrupted: its newest checkpoint and how to resume
    from it."""
    saved = folder.saved()
    if not saved:
        return "Interrupted before any checkpoint was saved; run the same command again to start over."
    newest = saved[-1]
    return (f"Interrupted; the newest checkpoint is {folder.checkpoint(newest)}. Resume: "
            f"{command(source, 'train', newest, device)}")


def _listed(folder: RunFolder) -> str:
    """The names of the saved checkpoints, the first and the last two of a long list."""
    names = [folder.checkpoint(i).name for i in folder.saved()]
    if not names:
        return "none"
    return ", ".join(names if len(names) <= 4 else [names[0], "...", *names[-2:]])
