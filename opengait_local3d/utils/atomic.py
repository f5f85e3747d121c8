"""Atomic file writes (a temporary file beside the target, renamed over it once complete), of one file or of a
set of files that appear together, and setting an earlier file aside rather than replacing it."""
from __future__ import annotations

import contextlib
import os
import tempfile
import time
from pathlib import Path
from typing import IO, Iterator, Mapping

__all__ = ["atomic_write", "atomic_write_text", "atomic_write_texts", "set_aside"]

_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike, mode: str = "wb") -> Iterator[IO]:
    """Open a temporary file in ``path``'s folder; when the block ends normally, flush it to disk and
    rename it to ``path`` (readers see the old file or the new one, never half of one). If the block raises
    (Ctrl-C included), the temporary file is removed and ``path`` is untouched.

    Example:
        >>> import tempfile, pathlib
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_write(target, "w") as handle:
        ...     _ = handle.write("done")
        >>> target.read_text()
        'done'
    """
    path = Path(path)
    with _staged(path, mode) as (handle, tmp):
        yield handle
    os.replace(tmp, path)


@contextlib.contextmanager
def _staged(path: Path, mode: str) -> Iterator[tuple[IO, Path]]:
    """A temporary file beside ``path``, flushed to disk when the block ends; removed if the block raises."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the mode open() would
        with os.fdopen(fd, mode) as handle:
            yield handle, Path(tmp)
            handle.flush()
            os.fsync(handle.fileno())
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write ``text`` (UTF-8, newlines as given) to ``path`` atomically; returns ``path``."""
    with atomic_write(path, "wb") as handle:
        handle.write(text.encode("utf-8"))
    return Path(path)


def atomic_write_texts(texts: Mapping[str | os.PathLike, str], keep_earlier: bool = False) -> dict[Path, Path]:
    """Write every file of ``texts`` (path -> UTF-8 text) or none: all are written to temporary files first and
    renamed into place only once all are on disk (an interruption before leaves none of them). With
    ``keep_earlier`` an existing file is first :func:`set_aside`; returns ``{path: where its earlier file is kept}``.

    Example:
        >>> import tempfile, pathlib
        >>> folder = pathlib.Path(tempfile.mkdtemp())
        >>> _ = atomic_write_texts({folder / "a.md": "A", folder / "a.csv": "1"})
        >>> sorted(p.name for p in folder.iterdir())
        ['a.csv', 'a.md']
    """
    staged: dict[Path, Path] = {}
    try:
        for path, text in texts.items():
            with _staged(Path(path), "wb") as (handle, tmp):
                staged[Path(path)] = tmp
                handle.write(text.encode("utf-8"))
    except BaseException:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)
        raise
    kept = {path: earlier for path in staged if keep_earlier and (earlier := set_aside(path))}
    for path, tmp in staged.items():
        os.replace(tmp, path)
    return kept


def set_aside(path: str | os.PathLike) -> Path | None:
    """Rename an existing ``path`` to ``<stem>.<its modification time><suffix>`` (a counter added if taken), so that
    a file about to be written there does not replace it; returns the new name (``None`` if ``path`` is absent).

    Example:
        >>> import tempfile, pathlib
        >>> target = atomic_write_text(pathlib.Path(tempfile.mkdtemp()) / "table.md", "earlier")
        >>> kept = set_aside(target)
        >>> target.exists(), kept.read_text(), set_aside(target)
        (False, 'earlier', None)
    """
    path = Path(path)
    if not path.exists():
        return None
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(path.stat().st_mtime))
    candidates = (path.with_name(f"{path.stem}.{stamp}{'' if n == 0 else f'-{n}'}{path.suffix}") for n in range(1000))
    target = next(c for c in candidates if not c.exists())
    path.rename(target)
    return target
