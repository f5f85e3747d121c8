"""Messages of a run: console and file logging, tensorboard summaries, progress bars.

Rank 0 does all of it; the other ranks log warnings and errors only. Log lines go through
``tqdm.write`` so that they do not break a progress bar.
"""
from __future__ import annotations

import logging
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch
from tqdm import tqdm

from ..errors import EngineError

__all__ = ["MessageManager", "get_msg_mgr", "LOGGER_NAME"]

LOGGER_NAME = "opengait_local3d"
#: frames of one ``image/...`` summary written to tensorboard (a batch can hold thousands)
MAX_IMAGES = 64
_FORMAT = logging.Formatter("[%(asctime)s] [%(levelname)s]: %(message)s", datefmt="%Y-%m-%d %H:%M:%S")


class _TqdmHandler(logging.Handler):
    def emit(self, record: logging.LogRecord) -> None:
        tqdm.write(self.format(record), file=sys.stderr)


class MessageManager:
    """OpenGait's message manager: ``log_info``, ``train_step`` (averages and logs every ``log_iter``),
    ``write_to_tensorboard`` (``scalar/...`` -> scalars, ``image/...`` -> images)."""

    def __init__(self) -> None:
        self.logger = logging.getLogger(LOGGER_NAME)
        self.is_main = True
        self.writer: Any = None
        self._summary: tuple[Path, int] | None = None  # where and from which step the writer writes, once needed
        self.iteration = 0
        self.log_iter = 100
        self.window: dict[str, list[float]] = defaultdict(list)
        self.last_means: dict[str, float] = {}
        self.last_means_since = 0
        self.time = time.time()
        self._handlers: list[logging.Handler] = []

    def init_logger(self, save_path: str | Path, log_to_file: bool, is_main: bool = True) -> None:
        """Log to the console, and to ``<save_path>/logs/<datetime>.txt`` with ``log_to_file`` (rank 0)."""
        self.close()
        self.is_main = is_main
        self.logger.setLevel(logging.INFO if is_main else logging.WARNING)
        self.logger.propagate = False
        console = _TqdmHandler()
        self._handlers.append(console)
        if log_to_file and is_main:
            folder = Path(save_path) / "logs"
            folder.mkdir(parents=True, exist_ok=True)
            self._handlers.append(logging.FileHandler(folder / f"{time.strftime('%Y-%m-%d-%H-%M-%S')}.txt"))
        for handler in self._handlers:
            handler.setFormatter(_FORMAT)
            self.logger.addHandler(handler)

    def init_manager(self, save_path: str | Path, log_to_file: bool, log_iter: int, iteration: int = 0,
                     is_main: bool = True) -> None:
        """As :meth:`init_logger`, plus tensorboard summaries in ``<save_path>/summary`` from ``iteration`` (the
        folder is made at the first summary, so a run that fails before training leaves none)."""
        self.init_logger(save_path, log_to_file, is_main)
        self.iteration, self.log_iter = iteration, log_iter
        self.window.clear()
        self.last_means, self.last_means_since = {}, iteration
        self._summary = (Path(save_path) / "summary", iteration) if is_main else None
        self.reset_time()

    def close(self) -> None:
        """Flush and detach everything this manager opened (runs in one process may follow each other)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self._summary = None
        for handler in self._handlers:
            self.logger.removeHandler(handler)
            handler.close()
        self._handlers.clear()
        self.logger.propagate = True

    def log_debug(self, *args: Any) -> None:
        self.logger.debug(*args)

    def log_info(self, *args: Any) -> None:
        self.logger.info(*args)

    def log_warning(self, *args: Any) -> None:
        self.logger.warning(*args)

    def progress(self, total: int, desc: str, initial: int = 0) -> tqdm:
        """A progress bar on rank 0 (disabled elsewhere)."""
        return tqdm(total=total, initial=initial, desc=desc, disable=not self.is_main, dynamic_ncols=True,
                    leave=False)

    def reset_time(self) -> None:
        self.time = time.time()

    def train_step(self, info: Mapping[str, Any], summary: Mapping[str, Any]) -> None:
        """Record one iteration; every ``log_iter`` iterations log the means and write ``summary``."""
        self.iteration += 1
        for key, value in info.items():
            self.window[key].append(_as_float(value))
        if self.iteration % self.log_iter == 0:
            self.log_training_info()
            self.write_to_tensorboard(summary)
            self.window.clear()

    def log_training_info(self) -> None:
        now = time.time()
        self.last_means = {k.replace("scalar/", "").replace("/", "_"): float(np.mean(v))
                           for k, v in self.window.items() if k.startswith("scalar/")}
        self.last_means_since = self.iteration - len(next(iter(self.window.values()), [])) + 1
        means = ", ".join(f"{name}={value:.4f}" for name, value in self.last_means.items())
        self.log_info(f"Iteration {self.iteration:05d}, Cost {now - self.time:.2f}s, {means}")
        self.reset_time()

    def flush(self) -> None:
        """Log the iterations since the last ``log_iter`` report (at the end of a training)."""
        if self.window:
            self.log_training_info()
            self.window.clear()

    def log_exception(self, error: BaseException) -> None:
        """Write an exception that ends the run to the log file only (the console shows it already): an
        :class:`~opengait_local3d.errors.EngineError` as its message, anything else with its traceback."""
        brief = isinstance(error, EngineError)
        record = self.logger.makeRecord(self.logger.name, logging.ERROR, __file__, 0,
                                        f"{'error' if brief else 'crashed'}: {error}", None,
                                        None if brief else (type(error), error, error.__traceback__))
        for handler in self._handlers:
            if isinstance(handler, logging.FileHandler):
                handler.handle(record)

    def write_to_tensorboard(self, summary: Mapping[str, Any], step: int | None = None) -> None:
        """``scalar/<name>`` -> ``add_scalar``, ``image/<name>`` ([N, 1, H, W] in [0, 1]) -> ``add_images``."""
        if self._summary is None:
            return
        if self.writer is None:
            from torch.utils.tensorboard import SummaryWriter  # imports tensorboard: only when training

            self.writer = SummaryWriter(str(self._summary[0]), purge_step=self._summary[1])
        step = self.iteration if step is None else step
        for key, value in summary.items():
            kind, _, name = key.partition("/")
            if kind == "scalar":
                self.writer.add_scalar(name, _as_float(value), step)
            elif kind == "image":
                images = value.detach()[:MAX_IMAGES].float().clamp(0, 1).cpu()
                self.writer.add_images(name, images, step, dataformats="NCHW")
            else:
                self.log_warning(f"visual_summary key {key!r}: expected 'scalar/...' or 'image/...'; not written")
        self.writer.flush()


def _as_float(value: Any) -> float:
    if torch.is_tensor(value):
        return float(value.detach().float().mean())
    return float(np.mean(value))


_msg_mgr = MessageManager()


def get_msg_mgr() -> MessageManager:
    """The message manager of this process."""
    return _msg_mgr
