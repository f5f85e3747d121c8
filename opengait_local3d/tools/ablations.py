"""Generate the ablation configs of the paper's Tables 3-5 from ``configs/3dlocal_casiab.yaml``.

Each table row becomes one complete config under ``configs/ablations/`` (complete, because OpenGait merges a
config over its own defaults, not over ours) that differs from the base config only in the row's
``model_cfg`` settings and its ``save_name``. ``tests/test_configs.py`` checks that the committed files equal
what this module generates; after editing the base config run::

    python -m opengait_local3d.tools.ablations
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from ..local3d import PART_NAMES
from ..resources import CONFIG_DIR

MODULE = "opengait_local3d.tools.ablations"
BASE_CONFIG = CONFIG_DIR / "3dlocal_casiab.yaml"
ABLATION_DIR = CONFIG_DIR / "ablations"


@dataclass(frozen=True)
class Row:
    """One row of a table: the file stem, what the paper reports (NM, BG, CL) and the model_cfg changes."""

    stem: str
    caption: str
    reported: tuple[float, float, float]
    local_blocks: tuple[int, ...] = (1, 2, 3)
    parts: tuple[str, ...] = PART_NAMES
    mode: str = "mixture"
    feature_extraction: bool = True


_LIMBS = ("head", "left_arm", "right_arm")
ROWS: tuple[Row, ...] = (
    Row("table3_a", "Table 3 row a: no 3D local block (the backbone alone)", (94.3, 90.4, 76.7), local_blocks=()),
    Row("table3_b", "Table 3 row b: 3D local block on block 1", (95.0, 91.9, 77.7), local_blocks=(1,)),
    Row("table3_c", "Table 3 row c: 3D local block on block 2", (95.7, 92.6, 79.5), local_blocks=(2,)),
    Row("table3_d", "Table 3 row d: 3D local block on block 3", (96.4, 93.1, 81.6), local_blocks=(3,)),
    Row("table3_e", "Table 3 row e: 3D local blocks on blocks 2 and 3", (97.1, 93.8, 82.7), local_blocks=(2, 3)),
    Row("table3_f", "Table 3 row f: 3D local blocks on all three blocks", (97.5, 94.3, 83.7)),
    Row("table4_gaussian", "Table 4: Gaussian sampling in x, y and t", (97.4, 94.0, 83.2), mode="gaussian"),
    Row("table4_trilinear", "Table 4: trilinear sampling", (96.2, 93.7, 82.9), mode="trilinear"),
    Row("table4_mixture", "Table 4: mixture sampling (Gaussian in x, y; linear in t)", (97.5, 94.3, 83.7)),
    Row("table5_a", "Table 5 row a: the global path only", (94.3, 90.4, 76.7), local_blocks=()),
    Row("table5_b", "Table 5 row b: global + head, no feature extraction", (94.7, 91.0, 77.9),
        parts=("head",), feature_extraction=False),
    Row("table5_c", "Table 5 row c: global + head and arms, no feature extraction", (95.5, 91.7, 79.8),
        parts=_LIMBS, feature_extraction=False),
    Row("table5_d", "Table 5 row d: global + head, arms and torso, no feature extraction", (96.5, 92.6, 81.2),
        parts=("head", "torso", "left_arm", "right_arm"), feature_extraction=False),
    Row("table5_e", "Table 5 row e: all six local paths, no feature extraction", (96.9, 93.2, 81.9),
        feature_extraction=False),
    Row("table5_f", "Table 5 row f: all six local paths with feature extraction", (97.5, 94.3, 83.7)),
)


def _flow(values: tuple) -> str:
    return "[" + ", ".join(str(v) for v in values) + "]"


def _replace_once(text: str, pattern: str, replacement: str) -> str:
    new, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
    if count != 1:
        raise ValueError(f"{BASE_CONFIG}: no line matches {pattern!r}; update {MODULE}")
    return new


def render(row: Row, base_text: str) -> str:
    """The config text of ``row``: the base config with the row's header, save_name and model_cfg."""
    body = base_text[base_text.index("\ndata_cfg:") + 1:]
    body = body.replace("save_name: 3DLocal\n", f"save_name: 3DLocal_{row.stem}\n")
    body = _replace_once(body, r"^  local_blocks: .*$", f"  local_blocks: {_flow(row.local_blocks)}")
    body = _replace_once(body, r"^    parts: .*$", f"    parts: {_flow(row.parts)}")
    body = _replace_once(body, r"^    mode: .*$", f"    mode: {row.mode}")
    body = _replace_once(body, r"^    feature_extraction: .*$",
                         f"    feature_extraction: {str(row.feature_extraction).lower()}")
    nm, bg, cl = row.reported
    header = (f"# Ablation, {row.caption}.\n"
              f"# The paper reports NM/BG/CL {nm}/{bg}/{cl} (CASIA-B, 64x44). Not yet verified on real data.\n"
              f"# Like the base config, the second phase of the staged recipe: every row starts from the same\n"
              f"# checkpoint of {BASE_CONFIG.stem}_phase1.yaml (no local paths) and trains the same iterations.\n"
              f"# Generated from {BASE_CONFIG.name} by `python -m {MODULE}`: edit the base config or the\n"
              f"# generator, not this file.\n\n")
    return header + body


def generate() -> dict[Path, str]:
    """Path -> text of every ablation config."""
    base_text = BASE_CONFIG.read_text()
    return {ABLATION_DIR / f"3dlocal_{row.stem}.yaml": render(row, base_text) for row in ROWS}


def main() -> None:
    ABLATION_DIR.mkdir(exist_ok=True)
    for path, text in generate().items():
        path.write_text(text)
        print(f"wrote {path.relative_to(CONFIG_DIR.parent)}")


if __name__ == "__main__":
    main()
