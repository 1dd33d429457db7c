"""The layout of a run's two drawings, computed here so that the templates only
draw (SVG) what they are given.

* The DAG: a layered layout, left to right. A step's layer is the longest path
  to it from a root (a step that waits for nothing), so every edge goes right;
  within a layer, steps are ordered by the mean row of what they wait for (fewer
  crossings), then by their position in the playbook.
* The Gantt chart: one row per step, one bar per attempt over the run's time,
  an attempt still going reaching to now; a time axis with round ticks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from dataflow_runner.store.records import AttemptRecord, StepRecord

# DAG sizes, in pixels.
NODE_W, NODE_H = 168, 38
GAP_X, GAP_Y = 56, 16
MARGIN = 8
#: The longest label a node shows whole.
LABEL = 22


@dataclass(frozen=True)
class Node:
    id: str
    label: str
    title: str
    state: str
    x: int
    y: int


@dataclass(frozen=True)
class Edge:
    path: str  # an SVG path's "d"


@dataclass(frozen=True)
class Dag:
    nodes: list[Node]
    edges: list[Edge]
    width: int
    height: int
    node_w: int = NODE_W
    node_h: int = NODE_H


def layers(steps: Sequence[StepRecord]) -> dict[str, int]:
    """Each step's layer: the length of the longest path to it from a root (a
    dependency on a step the run does not have is ignored)."""
    known = {s.step_id: s for s in steps}
    found: dict[str, int] = {}

    def layer(step_id: str, seen: frozenset[str]) -> int:
        if step_id in found:
            return found[step_id]
        ups = [d for d in known[step_id].depends_on if d in known and d not in seen]
        value = 1 + max((layer(d, seen | {step_id}) for d in ups), default=-1)
        found[step_id] = value
        return value

    for step in steps:
        layer(step.step_id, frozenset())
    return found


def dag(steps: Sequence[StepRecord]) -> Dag:
    ordered = sorted(steps, key=lambda s: s.position)
    layer_of = layers(ordered)
    columns: dict[int, list[StepRecord]] = {}
    row_of: dict[str, float] = {}
    for step in ordered:
        columns.setdefault(layer_of[step.step_id], []).append(step)
    for column in sorted(columns):
        members = columns[column]

        def weight(step: StepRecord) -> tuple[float, int]:
            ups = [row_of[d] for d in step.depends_on if d in row_of]
            return (sum(ups) / len(ups) if ups else float("inf"), step.position)

        if column:
            members.sort(key=weight)
        for row, step in enumerate(members):
            row_of[step.step_id] = row
    tallest = max((len(c) for c in columns.values()), default=0)
    height = MARGIN * 2 + tallest * NODE_H + max(0, tallest - 1) * GAP_Y
    where: dict[str, tuple[int, int]] = {}
    nodes = []
    for column, members in sorted(columns.items()):
        # A column shorter than the tallest is centred on it.
        offset = (tallest - len(members)) * (NODE_H + GAP_Y) // 2
        for row, step in enumerate(members):
            x = MARGIN + column * (NODE_W + GAP_X)
            y = MARGIN + offset + row * (NODE_H + GAP_Y)
            where[step.step_id] = (x, y)
            name = step.name or step.step_id
            label = name if len(name) <= LABEL else name[: LABEL - 1] + "…"
            title = f"{name} ({step.step_id}): {step.state.value}"
            nodes.append(Node(step.step_id, label, title, step.state.value, x, y))
    edges = []
    for step in ordered:
        for up in step.depends_on:
            if up not in where:
                continue
            (x1, y1), (x2, y2) = where[up], where[step.step_id]
            sx, sy = x1 + NODE_W, y1 + NODE_H // 2
            ex, ey = x2 - 2, y2 + NODE_H // 2
            bend = (ex - sx) // 2
            edges.append(Edge(f"M{sx},{sy} C{sx + bend},{sy} {ex - bend},{ey} {ex},{ey}"))
    width = MARGIN * 2 + (max(columns, default=0) + 1) * (NODE_W + GAP_X) - GAP_X
    return Dag(nodes, edges, width if nodes else 0, height if nodes else 0)


# --- the Gantt chart ------------------------------------------------------------------------

LABEL_W = 180
CHART_W = 820
ROW_H = 26
AXIS_H = 22
_TICKS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400)


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    y: int
    state: str
    title: str
    href: str


@dataclass(frozen=True)
class Row:
    label: str
    y: int


@dataclass(frozen=True)
class Tick:
    x: float
    label: str


@dataclass(frozen=True)
class Gantt:
    rows: list[Row]
    bars: list[Bar]
    ticks: list[Tick]
    width: int
    height: int
    label_w: int = LABEL_W
    row_h: int = ROW_H
    axis_h: int = AXIS_H


def _span(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:g}s"
    if seconds < 3600:
        return f"{seconds / 60:g}m"
    return f"{seconds / 3600:g}h"


def gantt(
    run_id: str, steps: Sequence[StepRecord], attempts: Sequence[AttemptRecord], now: float
) -> Gantt | None:
    """None when no attempt started yet."""
    started = [a for a in attempts if a.started_at is not None]
    if not started:
        return None
    t0 = min(a.started_at for a in started if a.started_at is not None)
    t1 = max((a.ended_at if a.ended_at is not None else now) for a in started)
    span = max(t1 - t0, 1.0)
    scale = CHART_W / span
    ordered = sorted(steps, key=lambda s: s.position)
    rows, bars = [], []
    for index, step in enumerate(ordered):
        y = AXIS_H + index * ROW_H
        name = step.name or step.step_id
        rows.append(Row(name if len(name) <= 26 else name[:25] + "…", y))
        for a in started:
            if a.step_id != step.step_id or a.started_at is None:
                continue
            end = a.ended_at if a.ended_at is not None else now
            seconds = max(0.0, end - a.started_at)
            exit_code = "" if a.exit_code is None else f", exit {a.exit_code}"
            bars.append(
                Bar(
                    x=round(LABEL_W + (a.started_at - t0) * scale, 1),
                    width=round(max(2.0, seconds * scale), 1),
                    y=y + 5,
                    state=a.state.value,
                    title=f"{name} attempt {a.attempt}: {a.state.value}, {seconds:.1f}s{exit_code}",
                    href=f"/runs/{run_id}/steps/{step.step_id}/logs?attempt={a.attempt}",
                )
            )
    every = next((t for t in _TICKS if span / t <= 8), _TICKS[-1])
    ticks = [
        Tick(round(LABEL_W + k * every * scale, 1), "0" if k == 0 else "+" + _span(k * every))
        for k in range(int(span // every) + 1)
    ]
    return Gantt(rows, bars, ticks, LABEL_W + CHART_W + 16, AXIS_H + len(rows) * ROW_H + 4)
