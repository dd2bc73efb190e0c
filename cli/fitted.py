"""Tables that keep what an operator copies (ids, statuses) whole on a narrow terminal.

Rich shrinks every column of a table wider than the terminal, so at 80 columns an id and a status became
``ac…``. A table that does not fit is printed with only its key columns, whole, and each row's other columns
as one wrapped line beneath it, labelled by column name (the legend is the labels themselves).
"""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text


def print_fitted(
    console: Console,
    title: str,
    columns: Sequence[str],
    rows: Sequence[Sequence[str]],
    keep: Sequence[str],
) -> None:
    """Print ``rows`` (Rich markup cells) as a table, or, if it is wider than the console, the ``keep``
    columns whole with the rest folded into a dim line under each row."""
    wide = Table(title=title)
    for column in columns:
        wide.add_column(column, no_wrap=column in keep, overflow="fold")
    for row in rows:
        wide.add_row(*row)
    # Measured unconstrained: against the console's own options Rich clamps the answer to its width.
    if Measurement.get(console, console.options.update_width(10_000), wide).maximum <= console.width:
        console.print(wide)
        return
    compact = Table(
        title=title,
        caption=f"Narrow terminal: {', '.join(c for c in columns if c not in keep)} are on the line under each row.",
    )
    # Each key column exactly as wide as its longest value; the first also takes what is left of the line, where
    # the folded details wrap. Borders and padding cost 3 cells a column, plus 1.
    widths = [max([4, *(Text.from_markup(row[columns.index(c)]).cell_len for row in rows)]) for c in keep]
    widths[0] = max(widths[0], console.width - sum(widths[1:]) - 3 * len(keep) - 1)
    for column, width in zip(keep, widths, strict=True):
        header = Text(column, no_wrap=False, overflow="fold")  # a header may wrap; the values under it may not
        compact.add_column(header, no_wrap=True, min_width=width, max_width=width)
    for row in rows:
        values = dict(zip(columns, row, strict=True))
        compact.add_row(*(values[c] for c in keep))
        details = "; ".join(f"{c}: {values[c]}" for c in columns if c not in keep and values[c])
        line = Text.from_markup(details, style="dim", overflow="fold")
        line.no_wrap = False  # wraps although its column does not
        compact.add_row(line, *([""] * (len(keep) - 1)), end_section=True)
    console.print(compact)
