"""Your own 2-D points as a Dataset: a CSV file of rows x1, x2, label, or arrays; and their standardisation.

The playground reads its csv= and data= settings with these; toy_2d (actlab.data) makes the built-in sets.
"""
from __future__ import annotations

import csv as csv_module
import math

import numpy as np
import torch

from .checks import check_number
from .data import Dataset

CSV_COLUMNS = ("x1", "x2", "label")


def _csv_number(path, line: int, column: int, cell: str) -> float:
    """One cell of a data row as a finite float; ValueError naming the file, line and column otherwise."""
    where = f"csv {path}: line {line}, column {column} ({CSV_COLUMNS[column - 1]})"
    if not cell.strip():
        raise ValueError(f"{where}: the value is missing")
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{where}: {cell!r} is not a finite number")
    return value


def _is_header(row: list[str]) -> bool:
    """A first row is a header when none of its cells is a number (e.g. x1,x2,label)."""
    def number(cell: str) -> bool:
        try:
            float(cell)
        except ValueError:
            return False
        return True

    return not any(number(cell) for cell in row)


def read_csv(path) -> tuple[np.ndarray, np.ndarray]:
    """(x of shape (n, 2), y of n labels) from a CSV file of rows x1, x2, label (float, float, integer).

    Read with the standard library's csv module as UTF-8, with or without a byte-order mark ('utf-8-sig': a
    spreadsheet's "CSV UTF-8"). The first non-blank row is a header when none of its cells is a number, and is
    then skipped; every other row is data and is checked alike: exactly three values (trailing empty cells are
    ignored), finite numbers, an integer label. Blank lines are skipped. Raises ValueError naming the line
    (1-based, in the file) and column of a bad or missing value, or a file with no data rows.
    """
    rows, first = [], True
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:
            reader = csv_module.reader(handle)
            for row in reader:
                while row and not row[-1].strip():
                    row = row[:-1]  # trailing empty cells (a spreadsheet's unused columns)
                if not row:
                    continue
                if first and _is_header(row):
                    first = False
                    continue
                first = False
                rows.append(_csv_row(path, reader.line_num, row))
    except UnicodeDecodeError as exc:
        raise ValueError(f"csv {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    if not rows:
        raise ValueError(f"csv {path}: no data rows (need rows of x1, x2, label)")
    table = np.array(rows)
    return table[:, :2], table[:, 2]


def _csv_row(path, line: int, row: list[str]) -> list[float]:
    """[x1, x2, label] from one data row; ValueError naming the line and column of what is wrong."""
    if len(row) > 3:
        raise ValueError(f"csv {path}: line {line}, column 4: {len(row)} values; need three (x1, x2, label)")
    values = [_csv_number(path, line, column, cell)
              for column, cell in enumerate(row + [""] * (3 - len(row)), 1)]
    if values[2] != round(values[2]) or values[2] < 0:
        raise ValueError(f"csv {path}: line {line}, column 3 (label): {row[2]!r} is not an integer >= 0")
    return values


def arrays_dataset(x, y, test_fraction: float = 0.25, seed: int = 0, source: str = "your data") -> Dataset:
    """A Dataset from user arrays: x of shape (n, 2), y of n integer labels 0..K-1 (K <= 10, each of them present),
    split at random with `seed`. Raises ValueError naming what is wrong (labels {1, 2} are refused, not remapped)."""
    x = torch.as_tensor(np.asarray(x, dtype=np.float32))
    y_float = np.asarray(y, dtype=np.float64).ravel()
    if x.dim() != 2 or x.shape[1] != 2:
        raise ValueError(f"data: x must have shape (n, 2) (two features), got {tuple(x.shape)}")
    if len(y_float) != len(x):
        raise ValueError(f"data: x has {len(x)} rows but y has {len(y_float)} labels")
    if len(x) < 8:
        raise ValueError(f"data: need at least 8 points, got {len(x)}")
    if not np.isfinite(x.numpy()).all() or not np.isfinite(y_float).all():
        raise ValueError("data: x and y must be finite")
    if (y_float != np.round(y_float)).any() or y_float.min() < 0 or y_float.max() > 9:
        raise ValueError("data: labels must be integers 0..9")
    y = torch.as_tensor(y_float.astype(np.int64))
    found = torch.unique(y).tolist()
    if len(found) < 2:
        raise ValueError(f"data: labels must contain at least two classes; found only {found}")
    if found != list(range(len(found))):  # {1, 2} would build a 3-class net with a class that never occurs
        raise ValueError(f"data: labels must be 0..K-1 with every class present (K = number of classes); found "
                         f"{found}: renumber them, e.g. y = np.unique(y, return_inverse=True)[1]")
    check_number("test_fraction", test_fraction, 0, 1, low_open=True, high_open=True)
    order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))
    x, y = x[order], y[order]
    n_test = max(1, int(len(x) * test_fraction))
    classes = tuple(str(k) for k in range(int(y.max()) + 1))
    return Dataset(x[n_test:], y[n_test:], x[:n_test], y[:n_test], classes, source)


def standardise(train: torch.Tensor, test: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, test) of shape (n, features), each feature standardised with the training mean and (unbiased)
    standard deviation, computed in float64, returned as float32.

    A feature whose training spread is within its dtype's rounding of its magnitude (std <= eps * max |x|, eps
    the machine epsilon of the input dtype, 2^-23 for float32) is constant up to rounding: it becomes 0 in both
    parts (it carries nothing, and gives no NaN). The floor is relative to the data's scale, so features of size
    1e-9 standardise to std 1 like those of size 1 (Dataset.channel_stats applies the same rule in float32 for the
    image sets; here the 2-D sets are small, so float64 rounds each value once).
    """
    x = train.double()
    mean, std = x.mean(0), x.std(0)
    eps = torch.finfo(train.dtype).eps if train.is_floating_point() else 0.0
    varies = std > eps * x.abs().amax(0)
    spread = torch.where(varies, std, torch.ones_like(std))
    return tuple(torch.where(varies, (t.double() - mean) / spread, 0.0).float() for t in (train, test))
