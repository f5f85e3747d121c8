"""``opengait-local3d install-plugin`` / ``uninstall-plugin``: Local3DCNN and GaitGLLocal3D in an OpenGait checkout."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable

from ..opengait_plugin import OPENGAIT_ROOT_ENV, Action, PluginError, install, load_opengait_names, uninstall
from ..opengait_plugin.checkout import checkout_commit, resolve_opengait_root
from ..opengait_plugin.configs import INSTALL_DIR

_INSTALL_HELP = """\
Make Local3DCNN and GaitGLLocal3D (GaitGL with 3D local paths; OpenGait's own GaitGL stays OpenGait's)
visible to an OpenGait checkout's model registry and copy our OpenGait configs there.

Writes opengait/modeling/models/opengait_local3d_plugin.py (a shim that imports both from this installed
package; no model code is copied), configs/3dlocal/*.yaml (3dlocal_*.yaml and gaitgl_local3d_*.yaml) and
configs/3dlocal/ablations/*.yaml (dataset_partition pointing at OpenGait's own partition files; set
dataset_root yourself), and the paper's main configs (3dlocal_casiab.yaml and its first phase
3dlocal_casiab_phase1.yaml, 3dlocal_casiab_128.yaml, 3dlocal_oumvlp.yaml, 3dlocal_oumvlp_phase1.yaml) at configs/ too. Safe to run again: it never overwrites or removes a file it did not
write, and keeps configs you edited. Then, from the checkout's root and with this package installed in the
Python that runs OpenGait:

  torchrun --nproc_per_node=NGPU opengait/main.py --cfgs configs/3dlocal_casiab_phase1.yaml --phase train
  torchrun --nproc_per_node=NGPU opengait/main.py --cfgs configs/3dlocal_casiab.yaml --phase train
  torchrun --nproc_per_node=NGPU opengait/main.py --cfgs configs/3dlocal/gaitgl_local3d_casiab.yaml --phase train
"""

_UNINSTALL_HELP = """\
Remove what install-plugin wrote into an OpenGait checkout. Files you changed since (e.g. a config whose
dataset_root you set) are kept and listed.
"""


def _add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--opengait", metavar="PATH", default=None,
                        help=f"the OpenGait checkout (the folder holding opengait/ and configs/); "
                             f"default: ${OPENGAIT_ROOT_ENV}")
    parser.add_argument("--dry-run", action="store_true", help="say what would change, change nothing")


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``install-plugin`` and ``uninstall-plugin``."""
    install_parser = subparsers.add_parser(
        "install-plugin", help="make Local3DCNN and GaitGLLocal3D visible to an OpenGait checkout",
        description=_INSTALL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common_arguments(install_parser)
    install_parser.set_defaults(func=run_install)
    uninstall_parser = subparsers.add_parser(
        "uninstall-plugin", help="remove what install-plugin wrote",
        description=_UNINSTALL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    _add_common_arguments(uninstall_parser)
    uninstall_parser.set_defaults(func=run_uninstall)


def _run(step: Callable[[Path, bool], list[Action]], args: argparse.Namespace) -> tuple[int, Path | None]:
    """Run ``step(root, dry_run)`` and print its actions; exit status 2 with a message if it refuses."""
    try:
        root = resolve_opengait_root(args.opengait)
        actions = step(root, args.dry_run)
    except PluginError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2, None
    if args.dry_run:
        print("dry run (nothing changed); what would happen:")
    for action in actions:
        print(action.describe())
    return 0, root


def _commit_note(root: Path) -> str | None:
    """A warning when the checkout is at another commit than the one the plugin was tested against."""
    commit, pinned = checkout_commit(root), load_opengait_names().commit
    if commit is None or commit == pinned:
        return None
    return (f"note: {root} is at OpenGait {commit[:12]}; the plugin was tested against {pinned[:12]} "
            "(see third_party/README.md)")


def run_install(args: argparse.Namespace) -> int:
    status, root = _run(lambda root, dry_run: install(root, dry_run=dry_run), args)
    if root is not None:
        note = _commit_note(root)
        if note:
            print(note, file=sys.stderr)
        print(f"Next: set data_cfg.dataset_root in the configs you run ({root / 'configs'}/3dlocal_*.yaml, "
              f"{root / INSTALL_DIR}/), and install opengait-local3d in the Python that runs OpenGait; then, there: "
              "torchrun --nproc_per_node=NGPU opengait/main.py --cfgs configs/3dlocal_casiab_phase1.yaml --phase train, "
              "then the same with configs/3dlocal_casiab.yaml (the staged recipe's two phases)")
    return status


def run_uninstall(args: argparse.Namespace) -> int:
    return _run(lambda root, dry_run: uninstall(root, dry_run=dry_run), args)[0]
