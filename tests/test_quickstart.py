"""The quick start and compare plumbing, on a tiny SynthGait and tiny configs (not the full run)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from opengait_local3d.cli import main as cli_main
from opengait_local3d.engine.checkpoint import load_checkpoint
from opengait_local3d.experiments import compare as compare_tool
from opengait_local3d.experiments import quickstart as quickstart_tool
import dataclasses

from opengait_local3d.experiments.quickstart import CONDITIONS, SYNTH_MODELS, SynthRun

TINY_DATA = {"subjects": 4, "size": 32, "frames": 8, "seed": 0, "views": (0, 90)}

TINY_MODELS = {
    "Local3DCNN": {"channels": [4, 4, 8, 8, 8, 8], "focal_halving": [0, 1, 1], "part_dim": 8, "compact_dim": 8, "class_num": 2},
    "GaitPart": {"backbone_cfg": {"in_channels": 1, "type": "Plain",
                                  "layers_cfg": ["BC-4", "M", "FC-8-2", "M", "FC-8-3"]},
                 "SeparateFCs": {"in_channels": 8, "out_channels": 4, "parts_num": 8}},
}


@pytest.fixture
def tiny_synth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Point the quick start at a tiny SynthGait (4 ids, 2 views, 8-10 frames) and tiny model configs."""
    monkeypatch.setattr(quickstart_tool, "SYNTH_DATA", TINY_DATA)
    configs = {}
    for model, overrides in TINY_MODELS.items():
        cfgs = yaml.safe_load(SYNTH_MODELS[model].config.read_text())
        cfgs["model_cfg"].update(overrides)
        cfgs["trainer_cfg"].update({"total_iter": 2, "save_iter": 1, "log_iter": 1})
        cfgs["trainer_cfg"]["sampler"].update({"batch_size": [2, 2], "frames_num_fixed": 8})
        cfgs["evaluator_cfg"]["sampler"]["batch_size"] = 4
        cfgs["data_cfg"]["cache"] = False
        path = tmp_path / "configs" / SYNTH_MODELS[model].config.name
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(cfgs))
        configs[model] = path
    def tiny(spec):
        warm_start = spec.warm_start and dataclasses.replace(spec.warm_start, model=tiny(spec.warm_start.model))
        return dataclasses.replace(spec, config=configs[{"3dlocal_synth": "Local3DCNN"}.get(spec.config.stem, "GaitPart")],
                                   warm_start=warm_start)

    models = {name: tiny(spec) for name, spec in SYNTH_MODELS.items() if name.split("-")[0] in configs}
    monkeypatch.setattr(quickstart_tool, "SYNTH_MODELS", models)
    monkeypatch.setattr(compare_tool, "SYNTH_MODELS", models)
    return configs


@pytest.fixture
def phases(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, object]]:
    """Every engine phase the quick start runs, as ``("train", trainer_cfg.restore_hint)`` or ``("test",
    iteration)``: the record that proves what was reused (file times cannot: coarse filesystems give equal
    stamps to a rewrite)."""
    calls: list[tuple[str, object]] = []
    run = quickstart_tool.run

    def recording(cfgs, phase="train", **kwargs):
        calls.append((phase, cfgs["trainer_cfg"].get("restore_hint") if phase == "train" else kwargs.get("iteration")))
        return run(cfgs, phase, **kwargs)

    monkeypatch.setattr(quickstart_tool, "run", recording)
    return calls


def test_quickstart_trains_tests_visualises_and_reuses_its_work(tiny_synth, tmp_path, phases):
    """The quick start's Local3DCNN is staged: the network without local paths trains the first half (1 of 2
    iterations), then Local3DCNN starts from its checkpoint and trains the rest."""
    out = tmp_path / "qs"
    result, pictures = quickstart_tool.quickstart(out, workers=1)

    assert set(result.rank1) == set(CONDITIONS)
    assert all(0.0 <= v <= 100.0 for v in result.rank1.values())
    assert result.save_path.name == "3DLocal_synth_warm1" and (result.iteration, result.total_iterations) == (1, 2)
    checkpoint = result.save_path / "checkpoints" / "3DLocal_synth_warm1-00001.pt"
    assert load_checkpoint(checkpoint)["iteration"] == 1
    assert (result.save_path / "rank1_CASIA-B_euc-3DLocal_synth_warm1-00001.md").is_file()  # named by its checkpoint
    written = yaml.safe_load(result.config_path.read_text())  # the config the user can rerun by hand
    assert Path(written["data_cfg"]["dataset_root"]) == (out / "data" / "SynthGait").resolve()
    assert json.loads(Path(written["data_cfg"]["dataset_partition"]).read_text())["TEST_SET"] == ["003", "004"]
    assert pictures and all(p.is_file() and p.parent == out / "visualization" for p in pictures)

    first = out / "output" / "SynthGait" / "Local3DCNN" / "3DLocal_synth_nolocal" / "checkpoints" / "3DLocal_synth_nolocal-00001.pt"
    assert phases == [("train", 0), ("train", str(first.resolve())), ("test", 1)]
    phases.clear()
    again, _ = quickstart_tool.quickstart(out, workers=1)
    assert phases == []  # the finished training and its checkpoint's test results are reused, not redone
    assert again.rank1 == result.rank1


def test_quickstart_resumes_an_interrupted_training(tiny_synth, tmp_path, phases):
    out = tmp_path / "qs"
    first, _ = quickstart_tool.quickstart(out, total_iter=4, workers=1)
    checkpoints = first.save_path / "checkpoints"
    (checkpoints / "3DLocal_synth_warm2-00002.pt").unlink()  # as if stopped after the second phase's first save
    phases.clear()

    resumed, _ = quickstart_tool.quickstart(out, total_iter=4, workers=1)
    assert resumed.iteration == 2
    assert load_checkpoint(checkpoints / "3DLocal_synth_warm2-00002.pt")["iteration"] == 2
    assert phases == [("train", 1)]  # training resumed from iteration 1, not restarted, and it wrote the same
    assert resumed.rank1 == first.rank1  # checkpoint as before, whose test figures are found by its content


def test_compare_runs_each_model_per_seed_and_writes_the_table(tiny_synth, tmp_path, capsys):
    out = tmp_path / "cmp"
    code = cli_main(["compare", "--out", str(out), "--seeds", "2", "--models", "GaitPart", "--workers", "1"])
    assert code == 0
    table = (out / "compare.md").read_text()
    assert "| GaitPart | 2 |" in table
    rows = (out / "compare.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[1].startswith("GaitPart,0,") and rows[2].startswith("GaitPart,1,")
    seeds = {load_checkpoint(p)["sampler"]["seed"] for p in out.glob("output/**/GaitPart_synth_seed*-00002.pt")}
    assert seeds == {0, 1}
    assert "GaitPart" in capsys.readouterr().out


def _run(rank1: tuple[float, float, float], minutes: float) -> SynthRun:
    return SynthRun(Path("c.yaml"), Path("out"), 1, dict(zip(CONDITIONS, rank1)), minutes * 60, 1.0)


def test_comparison_table_shows_mean_and_sample_std_over_seeds():
    runs = {"GaitPart": [_run((60, 50, 40), 2), _run((70, 40, 20), 4)], "Local3DCNN": [_run((90, 80, 70), 3)]}
    text = compare_tool.format_comparison(runs, markdown=True).splitlines()
    # NM: mean 65, sample std |70 - 60| / sqrt(2); mean of conditions per seed 50 and 43.33
    nm_std = np.std([60, 70], ddof=1)
    mean_std = np.std([50, 130 / 3], ddof=1)
    assert text[2] == (f"| GaitPart | 2 | 65.0 ± {nm_std:.1f} | 45.0 ± {np.std([50, 40], ddof=1):.1f} | "
                       f"30.0 ± {np.std([40, 20], ddof=1):.1f} | {np.mean([50, 130 / 3]):.1f} ± {mean_std:.1f} | 3.0 |")
    assert text[3] == "| Local3DCNN | 1 | 90.0 ± 0.0 | 80.0 ± 0.0 | 70.0 ± 0.0 | 80.0 ± 0.0 | 3.0 |"


@pytest.mark.parametrize("argv, message", [
    (["quickstart", "--iter", "0"], "expected an integer >= 1, got 0"),
    (["compare", "--seeds", "0"], "expected an integer >= 1, got 0"),
    (["compare", "--models", "GaitSett"], "invalid choice"),
])
def test_bad_arguments_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_main(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_an_output_folder_that_is_not_synthgait_is_refused(tiny_synth, tmp_path, capsys):
    out = tmp_path / "qs"
    (out / "data" / "SynthGait").mkdir(parents=True)
    (out / "data" / "SynthGait" / "thesis.tex").write_text("mine")
    assert cli_main(["quickstart", "--out", str(out), "--workers", "1"]) == 2
    assert "SynthGait" in capsys.readouterr().err
    assert (out / "data" / "SynthGait" / "thesis.tex").read_text() == "mine"


def test_compare_has_local3dcnn_without_local_paths_and_learning_curves(tiny_synth, tmp_path, monkeypatch):
    out = tmp_path / "cmp"
    assert cli_main(["compare", "--out", str(out), "--models", "Local3DCNN-no-local", "GaitPart",
                     "--workers", "1"]) == 0
    written = yaml.safe_load((out / "configs" / "3dlocal_synth_nolocal_seed0.yaml").read_text())
    assert written["model_cfg"]["local_blocks"] == [] and written["trainer_cfg"]["save_name"] == "3DLocal_synth_nolocal_seed0"
    with_local, _ = quickstart_tool.synth_config(quickstart_tool.SYNTH_MODELS["Local3DCNN"],
                                                 quickstart_tool.prepare_data(out), out, seed=0)
    assert with_local["model_cfg"].get("local_blocks") != [] and with_local["trainer_cfg"]["save_name"] == "3DLocal_synth_warm1_seed0"
    lines = (out / "learning_curves.csv").read_text().splitlines()
    assert lines[0] == "model,seed_run,iteration,NM,BG,CL,mean"
    assert [line.split(",")[:3] for line in lines[1:]] == [["Local3DCNN-no-local", "0", "1"],
                                                           ["Local3DCNN-no-local", "0", "2"],
                                                           ["GaitPart", "0", "1"], ["GaitPart", "0", "2"]]
    for line in lines[1:]:
        values = [float(v) for v in line.split(",")[3:]]
        assert values[3] == pytest.approx(np.mean(values[:3]), abs=1e-4)
    final = {row.split(",")[0]: row.split(",")[2:5] for row in (out / "compare.csv").read_text().splitlines()[1:]}
    assert [line.split(",")[3:6] for line in lines[1:] if line.split(",")[2] == "2"] == list(final.values())
    assert (out / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"

    tested = []  # a second compare finds every checkpoint's figures by content and tests nothing
    monkeypatch.setattr(quickstart_tool, "run", lambda cfgs, phase, **kw: tested.append(phase))
    assert cli_main(["compare", "--out", str(out), "--models", "Local3DCNN-no-local", "--workers", "1"]) == 0
    assert tested == []


def test_learning_curves_average_seeds_and_conditions_at_iterations_every_seed_has():
    def run(curve):
        return dataclasses.replace(_run((0, 0, 0), 1), curve={i: dict(zip(CONDITIONS, v)) for i, v in curve.items()})

    runs = {"A": [run({100: (10, 20, 30), 200: (40, 50, 60)}), run({100: (30, 40, 50)})]}
    assert compare_tool.learning_curves(runs) == {"A": {100: pytest.approx((20 + 40) / 2)}}


@pytest.mark.parametrize("carry", [False, True])
def test_a_staged_model_counts_its_warm_start_and_continues_from_its_checkpoint(tiny_synth, tmp_path, monkeypatch,
                                                                                carry):
    """Local3DCNN warm-started from the no-local network at half of 2 iterations: the first phase trains 1 iteration,
    the second restores its checkpoint non-strictly with a fresh optimizer (``--carry-optimizer``: the restored
    parameters' Adam state carried, the runs under the suffix ``carry``) and trains 1; both rows count 2 in all, and
    the no-local run, compared too, continues its first-phase run to 2."""
    models = dict(compare_tool.SYNTH_MODELS)
    models["Local3DCNN"] = dataclasses.replace(models["Local3DCNN"],
                                               warm_start=quickstart_tool.WarmStart(models["Local3DCNN-no-local"]))
    monkeypatch.setattr(compare_tool, "SYNTH_MODELS", models)
    out = tmp_path / "cmp"
    argv = ["compare", "--out", str(out), "--models", "Local3DCNN-no-local", "Local3DCNN", "--workers", "1"]
    assert cli_main(argv + ["--carry-optimizer"] * carry) == 0

    name = "3dlocal_synth_carry_warm1_seed0" if carry else "3dlocal_synth_warm1_seed0"
    second = yaml.safe_load((out / "configs" / f"{name}.yaml").read_text())["trainer_cfg"]
    first = out / "output" / "SynthGait" / "Local3DCNN" / "3DLocal_synth_nolocal_seed0" / "checkpoints"
    assert second["restore_hint"] == str((first / "3DLocal_synth_nolocal_seed0-00001.pt").resolve())
    assert (second["total_iter"], second["restore_ckpt_strict"], second["optimizer_reset"]) == (1, False, not carry)
    carried = load_checkpoint(out / "output" / "SynthGait" / "Local3DCNN" / name.replace("3dlocal", "3DLocal") /
                              "checkpoints" / f"{name.replace('3dlocal', '3DLocal')}-00001.pt")["optimizer"]["state"]
    assert {int(state["step"]) for state in carried.values()} == ({1, 2} if carry else {1})  # restored ones: 1 + 1
    assert load_checkpoint(first / "3DLocal_synth_nolocal_seed0-00002.pt")["iteration"] == 2  # continued to the total
    rows = [row.split(",") for row in (out / "compare.csv").read_text().splitlines()]
    assert rows[0][5] == "total_iterations" and [row[5] for row in rows[1:]] == ["2", "2"]
    assert ("carrying the optimizer" in (out / "compare.md").read_text()) is carry
    curves = [line.split(",")[:3] for line in (out / "learning_curves.csv").read_text().splitlines()[1:]]
    assert ["Local3DCNN", "0", "1"] in curves and ["Local3DCNN", "0", "2"] in curves  # phase 1, then phase 2


def test_warm_fraction_sets_the_first_phase_of_the_staged_models_only(tmp_path, monkeypatch, capsys):
    """``--warm-fraction 0.25``: the staged models' first phase is a quarter of the iterations (the split schedule
    of 100 + 300: the schedule test below), the others are untouched, and the title says so; a fraction outside
    (0, 1) is refused before any data is made."""
    specs = {}

    def fake_run_model(model, data, out, *, seed=None, total_iter=None, curve=False):
        specs[model.config.stem + model.suffix] = model
        return SynthRun(Path("c.yaml"), Path("s"), 400, {c: 50.0 for c in CONDITIONS}, 1.0, 1.0, {}, 400)

    monkeypatch.setattr(compare_tool, "prepare_data", lambda *args, **kwargs: None)
    monkeypatch.setattr(compare_tool, "run_model", fake_run_model)
    compare_tool.compare(tmp_path, ["GaitPart", "Local3DCNN"], 1, warm_fraction=0.25, curves=False)
    assert specs["gaitpart_synth"].warm_start is None
    assert specs["3dlocal_synth"].warm_start.fraction == 0.25
    assert "phase 1 0.25 of the iterations" in compare_tool.comparison_title(32, warm_fraction=0.25)
    assert cli_main(["compare", "--out", str(tmp_path / "bad"), "--warm-fraction", "1", "--models", "Local3DCNN"]) == 2
    assert "between 0 and 1, got 1" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("warm, milestones, lr, carry",
                         [(200, [100], 2.0e-3, False), (100, [200], 2.0e-3, True), (350, [], 2.0e-4, True)])
def test_the_second_phase_keeps_the_schedule_of_one_run(warm, milestones, lr, carry):
    """A 400-iteration schedule with a x0.1 step at 300, split at ``warm``: the step moves to 300 - warm, or, if
    passed, the second phase starts at the reduced rate; the optimizer starts afresh unless carried."""
    cfgs = {"trainer_cfg": {"total_iter": 400}, "scheduler_cfg": {"milestones": [300], "gamma": 0.1},
            "optimizer_cfg": {"lr": 2.0e-3}}
    first = {"trainer_cfg": {"total_iter": warm, "save_name": "first"}, "data_cfg": {"dataset_name": "D"},
             "model_cfg": {"model": "M"}, "engine_cfg": {"output_root": "out"}}
    quickstart_tool._second_phase(cfgs, first, carry_optimizer=carry)
    assert cfgs["trainer_cfg"]["total_iter"] == 400 - warm and cfgs["scheduler_cfg"]["milestones"] == milestones
    assert cfgs["trainer_cfg"]["optimizer_reset"] is not carry and cfgs["trainer_cfg"]["restore_ckpt_strict"] is False
    assert cfgs["optimizer_cfg"]["lr"] == pytest.approx(lr)
    assert cfgs["trainer_cfg"]["restore_hint"].endswith(f"first-{warm:05d}.pt")


def test_at_the_papers_size_silhouettes_are_cut_as_opengait_cuts_64_px_and_parts_measured_on_the_grown_maps():
    staged = dataclasses.replace(SYNTH_MODELS["Local3DCNN"], warm_start=quickstart_tool.WarmStart(SYNTH_MODELS["Local3DCNN-no-local"]))
    model = quickstart_tool.at_paper_size(staged)
    assert model.overrides["model_cfg"]["local3d"]["write_resolution"] == [16, 11]
    trainer = model.overrides["trainer_cfg"]["transform"][0]["trf_cfg"]
    assert trainer[0] == {"type": "BaseSilCuttingTransform", "cutting": 10} and trainer[1]["type"] == "RandomHorizontalFlip"
    assert model.overrides["evaluator_cfg"]["transform"] == [{"type": "BaseSilCuttingTransform", "cutting": 10}]
    first = model.warm_start.model
    assert first.overrides["model_cfg"]["local_blocks"] == [] and first.suffix == "nolocal"
    assert first.overrides["evaluator_cfg"]["transform"] == [{"type": "BaseSilCuttingTransform", "cutting": 10}]
    gaitgl_local = quickstart_tool.at_paper_size(SYNTH_MODELS["GaitGL-Local3D"])  # GaitGL's last stage: 32x22 at 64x44
    assert gaitgl_local.overrides["model_cfg"]["local3d"]["write_resolution"] == [32, 22]
    assert yaml.safe_load(SYNTH_MODELS["Local3DCNN"].config.read_text())["trainer_cfg"]["transform"][0]["trf_cfg"][0] == \
        {"type": "BaseSilCuttingTransform", "cutting": 4}  # the quick start's own config untouched


def test_compare_final_only_tests_the_last_checkpoints_and_writes_no_curves(tiny_synth, tmp_path, phases):
    out = tmp_path / "cmp"
    assert cli_main(["compare", "--out", str(out), "--models", "GaitPart", "--workers", "1", "--final-only"]) == 0
    assert [phase for phase in phases if phase[0] == "test"] == [("test", 2)]  # not checkpoint 1
    assert (out / "compare.csv").is_file() and not (out / "learning_curves.png").exists()
