"""The comparison of the quick-start models (GaitSet, GaitPart, Local3DCNN, Local3DCNN without its local paths, GaitGL
and GaitGL with 3D local paths) on the same SynthGait: runs per seed, the table, the learning curves and their
files."""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..utils.atomic import atomic_write_text
from ..visuals.curves import write_learning_curves
from .quickstart import (CONDITIONS, PAPER_SIZE_DATA, SYNTH_DATA, SYNTH_MODELS, SynthRun, at_paper_size, carrying_optimizer,
                         prepare_data, run_model, warming_for)

__all__ = ["DEFAULT_MODELS", "compare", "format_comparison", "learning_curves", "comparison_title", "write_comparison"]


#: what ``compare`` runs unless told: the models of the paper's comparison and the ablation of its local paths
#: (the GaitGL runs take about three times as long on a CPU, so they are asked for by name)
DEFAULT_MODELS = ("GaitSet", "GaitPart", "Local3DCNN", "Local3DCNN-no-local")


def compare(out: Path, models: Sequence[str], seeds: int, total_iter: int | None = None,
            workers: int | None = None, size: int = 32, curves: bool = True,
            carry_optimizer: bool = False, warm_fraction: float | None = None) -> dict[str, list[SynthRun]]:
    """Train and test each model once per seed on the quick-start SynthGait; the runs per model.

    Every model trains ``total_iter`` iterations in all (a staged model's warm start included). Staged models run
    first, so that a model that is also another's warm start continues its shorter first-phase run to the total.
    ``size`` 64 runs the models :func:`~.quickstart.at_paper_size` on 64 px data in ``out``; ``carry_optimizer``
    runs the staged models :func:`~.quickstart.carrying_optimizer`; ``warm_fraction`` sets the share of the iterations
    of their first phase (:func:`~.quickstart.warming_for`; default: each model's, a half).
    """
    specs = {model: at_paper_size(SYNTH_MODELS[model]) if size == 64 else SYNTH_MODELS[model] for model in models}
    if carry_optimizer:
        specs = {model: carrying_optimizer(spec) for model, spec in specs.items()}
    if warm_fraction is not None:
        specs = {model: warming_for(spec, warm_fraction) for model, spec in specs.items()}
    data = prepare_data(out, workers, paper_size=size == 64)
    runs: dict[str, list[SynthRun]] = {model: [] for model in models}
    staged_first = sorted(models, key=lambda model: specs[model].warm_start is None)
    for seed in range(seeds):
        for model in staged_first:
            runs[model].append(run_model(specs[model], data, out, seed=seed, total_iter=total_iter, curve=curves))
    return runs


def format_comparison(runs: dict[str, list[SynthRun]], markdown: bool = False) -> str:
    """One row per model: rank-1 (%) per condition and their mean as ``mean ± std`` over seeds, and the
    median training minutes. ``markdown`` gives a markdown table, else aligned text."""
    header = ["Model", "Seeds", *CONDITIONS, "Mean", "Train min"]
    rows = []
    for model, model_runs in runs.items():
        scores = np.array([[run.rank1[c] for c in CONDITIONS] for run in model_runs])  # [seeds, conditions]
        scores = np.concatenate([scores, scores.mean(axis=1, keepdims=True)], axis=1)
        spread = scores.std(axis=0, ddof=1) if len(model_runs) > 1 else np.zeros(scores.shape[1])
        cells = [f"{m:.1f} ± {s:.1f}" for m, s in zip(scores.mean(axis=0), spread)]
        minutes = np.median([run.train_seconds for run in model_runs]) / 60
        rows.append([model, str(len(model_runs)), *cells, f"{minutes:.1f}"])
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
    widths = [max(len(r[k]) for r in [header, *rows]) for k in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) if k == 0 else cell.rjust(w) for k, (cell, w) in
                               enumerate(zip(row, widths))) for row in [header, *rows])


def _comparison_csv(runs: dict[str, list[SynthRun]]) -> str:
    lines = ["model,seed_run," + ",".join(CONDITIONS) + ",total_iterations,train_seconds,test_seconds,save_path"]
    for model, model_runs in runs.items():
        for index, run in enumerate(model_runs):
            scores = ",".join(f"{run.rank1[c]:.4f}" for c in CONDITIONS)
            lines.append(f"{model},{index},{scores},{run.total_iterations},{run.train_seconds:.1f},"
                         f"{run.test_seconds:.1f},{run.save_path}")
    return "\n".join(lines) + "\n"


def learning_curves(runs: dict[str, list[SynthRun]]) -> dict[str, dict[int, float]]:
    """Per model, the mean over seeds and conditions of rank-1 at each iteration every seed has tested."""
    curves = {}
    for model, model_runs in runs.items():
        shared = set.intersection(*(set(run.curve) for run in model_runs))
        curves[model] = {i: float(np.mean([[run.curve[i][c] for c in CONDITIONS] for run in model_runs]))
                         for i in sorted(shared)}
    return curves


def _curves_csv(runs: dict[str, list[SynthRun]]) -> str:
    lines = ["model,seed_run,iteration," + ",".join(CONDITIONS) + ",mean"]
    for model, model_runs in runs.items():
        for index, run in enumerate(model_runs):
            for iteration, rank1 in sorted(run.curve.items()):
                scores = [rank1[c] for c in CONDITIONS]
                lines.append(f"{model},{index},{iteration}," + ",".join(f"{v:.4f}" for v in scores)
                             + f",{np.mean(scores):.4f}")
    return "\n".join(lines) + "\n"


def comparison_title(size: int, carry_optimizer: bool = False, warm_fraction: float | None = None) -> str:
    """The title of the table of a comparison on the SynthGait of ``size`` px (32 or 64)."""
    data = PAPER_SIZE_DATA if size == 64 else SYNTH_DATA
    return (f"SynthGait ({data['size']} px{', ' + data['realism'] if 'realism' in data else ''}) cross-view rank-1 (%), "
            "CASIA-B protocol, identical views excluded (mean ± std over seeds)"
            + ("; staged models' phase 2 carrying the optimizer state" if carry_optimizer else "")
            + (f"; staged models' phase 1 {warm_fraction:g} of the iterations" if warm_fraction is not None else ""))


def write_comparison(out: Path, runs: dict[str, list[SynthRun]], title: str, curves: bool = True) -> list[Path]:
    """Write ``out/compare.md`` (``title`` and the table) and ``out/compare.csv``, and with ``curves``
    ``out/learning_curves.csv`` and ``out/learning_curves.png``; the files written."""
    atomic_write_text(out / "compare.md", f"{title}\n\n{format_comparison(runs, markdown=True)}\n")
    atomic_write_text(out / "compare.csv", _comparison_csv(runs))
    names = ["compare.md", "compare.csv"]
    if curves:
        atomic_write_text(out / "learning_curves.csv", _curves_csv(runs))
        write_learning_curves(out / "learning_curves.png", learning_curves(runs),
                              "SynthGait: mean rank-1 over NM/BG/CL and seeds (%)")
        names += ["learning_curves.csv", "learning_curves.png"]
    return [out / name for name in names]
