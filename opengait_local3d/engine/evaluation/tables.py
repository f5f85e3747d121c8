"""Result tables: aligned text for the log, markdown and CSV, and the record of what produced them.

A :class:`Table` is a titled grid of percentages (rows x columns); NaN marks an undefined cell and
prints as ``-`` (empty in CSV).
"""
from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import PurePath

import numpy as np

__all__ = ["Table", "Provenance", "format_text", "format_markdown", "format_csv"]


@dataclass(frozen=True)
class Table:
    """A grid of numbers with labels.

    Attributes:
        name: short key of the table, the first CSV column when several tables share a file.
        title: one line above the text and markdown forms.
        corner: label of the row-name column, e.g. ``'Probe'``.
        rows: row names.
        columns: column names.
        values: ``[len(rows), len(columns)]`` float; NaN = undefined.
    """

    name: str
    title: str
    corner: str
    rows: Sequence[str]
    columns: Sequence[str]
    values: np.ndarray

    def __post_init__(self):
        if np.shape(self.values) != (len(self.rows), len(self.columns)):
            raise ValueError(f"table {self.name!r}: values of shape {np.shape(self.values)} do not fit "
                             f"{len(self.rows)} rows x {len(self.columns)} columns")


@dataclass(frozen=True)
class Provenance:
    """What produced a set of tables: the checkpoint (``None``: the untrained network), its iteration, the config
    and the date. :attr:`tag` names their files, :meth:`fields` fills their header and CSV columns."""

    checkpoint: str | None
    iteration: int
    config: str
    date: str

    @property
    def tag(self) -> str:
        """The checkpoint's file name without ``.pt`` (``tiny-00004``), or ``untrained``."""
        return PurePath(self.checkpoint).stem if self.checkpoint else "untrained"

    def fields(self) -> dict[str, str]:
        return {"checkpoint": self.checkpoint or "none (the untrained network)", "iteration": str(self.iteration),
                "config": self.config, "date": self.date}


def _cells(table: Table, decimals: int, undefined: str) -> list[list[str]]:
    return [[undefined if not np.isfinite(v) else f"{v:.{decimals}f}" for v in row] for row in table.values]


def format_text(table: Table, decimals: int = 2) -> str:
    """The table as aligned plain text (title line, header line, one line per row).

    Example:
        >>> print(format_text(Table('t', 'Rank-1 (%)', 'Probe', ['NM'], ['000', 'Mean'],
        ...                         np.array([[97.5, np.nan]]))))
        Rank-1 (%)
        Probe    000  Mean
        NM     97.50     -
    """
    cells = _cells(table, decimals, "-")
    label_width = max(len(table.corner), *(len(r) for r in table.rows))
    widths = [max(len(col), *(len(row[k]) for row in cells)) for k, col in enumerate(table.columns)]
    header = "  ".join([table.corner.ljust(label_width)] + [c.rjust(w) for c, w in zip(table.columns, widths)])
    lines = ["  ".join([name.ljust(label_width)] + [v.rjust(w) for v, w in zip(row, widths)])
             for name, row in zip(table.rows, cells)]
    return "\n".join([table.title, header, *lines])


def format_markdown(table: Table, decimals: int = 2) -> str:
    """The table as a markdown section: a bold title line, then a pipe table."""
    cells = _cells(table, decimals, "-")
    lines = [f"**{table.title}**", "",
             "| " + " | ".join([table.corner, *table.columns]) + " |",
             "|" + "---|" + "---:|" * len(table.columns)]
    lines += ["| " + " | ".join([name, *row]) + " |" for name, row in zip(table.rows, cells)]
    return "\n".join(lines)


def format_csv(tables: Sequence[Table], key: str, decimals: int = 4, extra: Mapping[str, str] | None = None) -> str:
    """Tables with the same columns stacked into one CSV: ``key, <corner>, <columns...>``, then one column per
    ``extra`` entry holding its value on every row (e.g. the :class:`Provenance` fields).

    Raises:
        ValueError: when the tables' columns differ.
    """
    if any(list(t.columns) != list(tables[0].columns) for t in tables):
        raise ValueError("format_csv: all tables must have the same columns")
    extra = extra or {}
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([key, tables[0].corner, *tables[0].columns, *extra])
    for table in tables:
        writer.writerows([table.name, name, *row, *extra.values()]
                         for name, row in zip(table.rows, _cells(table, decimals, "")))
    return buffer.getvalue()
