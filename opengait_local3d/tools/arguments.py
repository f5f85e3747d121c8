"""Command-line arguments the tools share: which run and checkpoint, and checked integer types."""
from __future__ import annotations

import argparse

from ..utils.checks import require

__all__ = ["at_least", "add_checkpoint_arguments"]


def at_least(minimum: int):
    """An argparse ``type``: an int >= ``minimum``, else a usage error saying so."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        require(value >= minimum, f"expected an integer >= {minimum}, got {value}", argparse.ArgumentTypeError)
        return value

    parse.__name__ = f"int >= {minimum}"
    return parse


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """``--cfgs CFG`` (the run's config) and ``--iter N`` (its checkpoint; 0 = the untrained network)."""
    parser.add_argument("--cfgs", required=True, metavar="CFG", help="the run's yaml config")
    parser.add_argument("--iter", type=at_least(0), required=True, metavar="N",
                        help="checkpoint iteration of the run, as the test phase finds it (0: the untrained "
                             "network, as the engine initialises it)")
