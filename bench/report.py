"""docs/benchmarks.md and its chart, from bench/run's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

TARGETS = """\
| target | figure | met |
|---|---|---|
"""


def _fmt(seconds: float) -> str:
    return f"{seconds:.3f}" if seconds < 10 else f"{seconds:.1f}"


def chart(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = list(results["workloads"])
    tools = list(next(iter(results["workloads"].values())))
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(tools)
    for i, tool in enumerate(tools):
        values = [results["workloads"][w][tool].get("wall", 0.0) for w in workloads]
        ax.bar([x + i * width for x in range(len(workloads))], values, width, label=tool)
    ax.set_xticks([x + width * (len(tools) - 1) / 2 for x in range(len(workloads))], workloads)
    ax.set_yscale("log")
    ax.set_ylabel("wall time, seconds (log scale)")
    ax.set_title(f"Wall time per workload ({results['date']}, {results['cores']} cores)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def write_report(results: dict[str, Any], docs: Path) -> None:
    docs.mkdir(exist_ok=True)
    chart(results, docs / "benchmarks.png")
    lines = [
        "# Benchmarks",
        "",
        f"Measured on {results['date']} on this machine ({results['cores']} cores, "
        f"{results['machine']}) by `bench/run`: medians of several runs after a warm-up, "
        "every tool in the same session. Each step runs `true`; ratios are to GNU make, "
        "the physical baseline.",
        "",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items()) + ".",
        "",
        "![wall time per workload](benchmarks.png)",
        "",
    ]
    workloads = results["workloads"]
    if workloads:
        tools = list(next(iter(workloads.values())))
        lines += [
            "## Workloads (wall seconds, and x make)",
            "",
            "| workload | " + " | ".join(tools) + " |",
            "|---|" + "---:|" * len(tools),
        ]
        for name, row in workloads.items():
            base = row.get("make", {}).get("wall")
            cells = []
            for tool in tools:
                wall = row[tool].get("wall")
                if wall is None:
                    cells.append("failed")
                    continue
                ratio = f" ({wall / base:.1f}x)" if base else ""
                cells.append(f"{_fmt(wall)}{ratio}")
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines += [
            "",
            "Peak RSS (MiB):",
            "",
            "| workload | " + " | ".join(tools) + " |",
            "|---|" + "---:|" * len(tools),
        ]
        for name, row in workloads.items():
            lines.append(
                f"| {name} | "
                + " | ".join(
                    f"{row[t]['rss_kib'] / 1024:.0f}" if "rss_kib" in row[t] else "-" for t in tools
                )
                + " |"
            )
        lines.append("")
    if "start" in results:
        base = results["start"]["python -c pass"]
        lines += [
            "## Start-up",
            "",
            "| command | seconds | x `python -c pass` |",
            "|---|---:|---:|",
        ]
        for label, value in results["start"].items():
            lines.append(f"| `{label}` | {value:.4f} | {value / base:.2f} |")
        lines.append("")
    if "plan" in results:
        lines += ["## Plan scale (a 10,000-step DAG)", "", "| command | seconds |", "|---|---:|"]
        for label, value in results["plan"].items():
            lines.append(f"| `{label}` | {value:.3f} |")
        lines.append("")
    if "emr" in results:
        e = results["emr"]
        lines += [
            "## EMR monitoring cost (moto's server, calls counted)",
            "",
            f"- {e['steps']} steps: {e['status_calls_per_poll']} status calls per poll "
            f"(the Go tool: {e['steps']}, one DescribeStep per step)",
            f"- about **{e['calls_per_hour']} EMR calls an hour** at the default poll "
            f"schedule, against {e['go_tool_calls_per_hour']:.0f} for the Go tool",
            f"- completions noticed within {e['max_notice_lag_polls']} poll intervals",
            "",
        ]
    (docs / "benchmarks.md").write_text("\n".join(lines) + "\n")
