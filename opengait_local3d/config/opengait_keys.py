"""Config keys that OpenGait's own configs use (generated: do not edit).

Regenerate with ``python third_party/opengait_facts.py --opengait PATH``.
Source: 107 engine configs under ``configs/`` at the pinned commit, :data:`OPENGAIT_COMMIT`; skipped
(no model_cfg): ``configs/skeletongait/pretreatment_heatmap.yaml``.
"""

import json
from pathlib import Path

#: the generated names file (``third_party/opengait_facts.py``), which records the pinned commit
OPENGAIT_NAMES_FILE = Path(__file__).with_name("opengait_names.json")
#: the OpenGait commit the plugin, these keys and names, and the golden fixtures are of
OPENGAIT_COMMIT: str = json.loads(OPENGAIT_NAMES_FILE.read_text(encoding="utf-8"))["opengait_commit"]

#: section ("" = top level, "sampler", "transform") -> keys used there
OPENGAIT_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({
        "data_cfg",
        "evaluator_cfg",
        "loss_cfg",
        "model_cfg",
        "optimizer_cfg",
        "scheduler_cfg",
        "trainer_cfg",
    }),
    "data_cfg": frozenset({
        "cache",
        "data_in_use",
        "dataset_name",
        "dataset_partition",
        "dataset_root",
        "frame_threshold",
        "num_workers",
        "remove_no_gallery",
        "self_supervised",
        "test_dataset_name",
        "train_data_preload",
    }),
    "evaluator_cfg": frozenset({
        "cross_view_gallery",
        "enable_distributed",
        "enable_float16",
        "eval_func",
        "metric",
        "rerank",
        "restore_ckpt_strict",
        "restore_hint",
        "sampler",
        "save_name",
        "transform",
    }),
    "loss_cfg": frozenset({
        "label_smooth",
        "lazy",
        "log_accuracy",
        "log_prefix",
        "loss_term_weight",
        "loss_term_weights",
        "margin",
        "scale",
        "temperature",
        "type",
    }),
    "optimizer_cfg": frozenset({
        "lr",
        "momentum",
        "solver",
        "weight_decay",
    }),
    "sampler": frozenset({
        "batch_shuffle",
        "batch_size",
        "frames_all_limit",
        "frames_num_fixed",
        "frames_num_max",
        "frames_num_min",
        "frames_skip_num",
        "points_in_use",
        "sample_type",
        "type",
    }),
    "scheduler_cfg": frozenset({
        "T_max",
        "div_factor",
        "eta_min",
        "final_div_factor",
        "gamma",
        "max_lr",
        "milestones",
        "pct_start",
        "scheduler",
        "three_phase",
        "total_steps",
    }),
    "trainer_cfg": frozenset({
        "T_max_iter",
        "enable_distributed",
        "enable_float16",
        "find_unused_parameters",
        "fix_BN",
        "fix_layers",
        "log_iter",
        "optimizer_reset",
        "restore_ckpt_strict",
        "restore_hint",
        "sampler",
        "save_iter",
        "save_name",
        "scheduler_reset",
        "sync_BN",
        "total_iter",
        "transform",
        "with_test",
    }),
    "transform": frozenset({
        "cutting",
        "destination",
        "flip_prob",
        "img_w",
        "joint_format",
        "prob",
        "probability",
        "random_r",
        "scale_aware",
        "scale_prob",
        "sequence_length",
        "source",
        "std",
        "trf_cfg",
        "type",
        "xyz_only",
    }),
}
