"""The bench's one table: each row printed as it is measured, the whole table at the end."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class Row:
    measure: str
    value: float
    unit: str
    text: str
    key: str | None = None
    of: str | None = None
    note: str | None = None


class Table:
    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(
        self,
        measure: str,
        value: float,
        unit: str,
        *,
        text: str | None = None,
        base: str | None = None,
        key: str | None = None,
        of: str | None = None,
        note: str | None = None,
    ) -> Row:
        """A row; ``base`` names it as a baseline, ``of`` takes its ratio to one."""
        row = Row(measure, value, unit, text or f"{value:,.0f} {unit}", key or base, of, note)
        if base:
            row.of = base
        self.rows.append(row)
        print(f"  {row.measure}: {row.text}" + (f"  [{row.note}]" if row.note else ""), flush=True)
        return row

    def ratio(self, key: str, base: str) -> None:
        for row in self.rows:
            if row.key == key:
                row.of = base

    def _ratio(self, row: Row) -> str:
        if row.of is None:
            return ""
        base = next((r for r in self.rows if r.key == row.of), None)
        if base is None or not base.value:
            return ""
        if base is row:
            return "1.00"
        ratio = row.value / base.value
        figure = f"{ratio:.1f}x" if ratio >= 10 else f"{ratio:.2f}"
        return f"{figure} of {base.measure.split(' (')[0]}"

    def print(self) -> None:
        print("\n| measure | value | ratio (same run) |\n|---|---|---|")
        for row in self.rows:
            note = f" ({row.note})" if row.note else ""
            print(f"| {row.measure} | {row.text}{note} | {self._ratio(row)} |")
