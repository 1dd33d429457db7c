"""A small generic DAG: validation, topological order and cycle paths.

Nodes are strings (step ids); ``edges[n]`` are the nodes ``n`` waits for.

>>> order = topological_order({"a": (), "b": ("a",), "c": ("a",), "d": ("b", "c")})
>>> order
['a', 'b', 'c', 'd']
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence

from dataflow_runner.errors import CycleError, DagError


def check(edges: Mapping[str, Sequence[str]]) -> None:
    """Raise DagError for an unknown upstream node, CycleError for a cycle."""
    for node, ups in edges.items():
        for up in ups:
            if up not in edges:
                raise DagError(f"step '{node}' depends on unknown step '{up}'")
            if up == node:
                raise CycleError(f"step '{node}' depends on itself")
    topological_order(edges)


def topological_order(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Nodes in an order where each comes after everything it waits for.

    Ties keep the mapping's order, so a serial playbook keeps its file order.
    Raises CycleError naming one cycle (``a -> b -> a``).
    """
    downstream: dict[str, list[str]] = {n: [] for n in edges}
    pending = dict.fromkeys(edges, 0)
    for node, ups in edges.items():
        for up in dict.fromkeys(ups):  # a repeated dependency counts once
            if up in downstream:
                downstream[up].append(node)
                pending[node] += 1
    position = {n: i for i, n in enumerate(edges)}

    ready = [(position[n], n) for n, count in pending.items() if count == 0]
    heapq.heapify(ready)
    order: list[str] = []
    while ready:
        _, node = heapq.heappop(ready)
        order.append(node)
        for down in downstream[node]:
            pending[down] -= 1
            if pending[down] == 0:
                heapq.heappush(ready, (position[down], down))
    if len(order) != len(edges):
        cycle = find_cycle({n: edges[n] for n in edges if pending[n] > 0})
        raise CycleError("steps form a cycle: " + " -> ".join(cycle))
    return order


def find_cycle(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """One cycle among ``edges`` as a closed path (first node repeated at the end)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in edges:
        if state.get(start):
            continue
        path: list[str] = []
        stack: list[tuple[str, int]] = [(start, 0)]
        while stack:
            node, i = stack.pop()
            if i == 0:
                state[node] = 1
                path.append(node)
            ups = [u for u in edges.get(node, ()) if u in edges]
            if i < len(ups):
                stack.append((node, i + 1))
                up = ups[i]
                if state.get(up) == 1:
                    cycle = [*path[path.index(up) :], up]
                    # Report it in the direction work flows: upstream first.
                    return cycle[::-1]
                if not state.get(up):
                    stack.append((up, 0))
            else:
                state[node] = 2
                path.pop()
    return []


def descendants(edges: Mapping[str, Sequence[str]], node: str) -> set[str]:
    """Every node that (transitively) waits for ``node``."""
    downstream: dict[str, list[str]] = {n: [] for n in edges}
    for n, ups in edges.items():
        for up in ups:
            if up in downstream:
                downstream[up].append(n)
    seen: set[str] = set()
    todo = [node]
    while todo:
        for down in downstream[todo.pop()]:
            if down not in seen:
                seen.add(down)
                todo.append(down)
    return seen
