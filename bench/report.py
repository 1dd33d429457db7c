"""docs/benchmarks.md and its chart, from bench/run's results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ORCHESTRATORS = ("luigi", "dagster", "prefect")
CLI_PLAN = "dataflow-runner backfill --dry-run"
INNER_PLAN = "dataflow-runner Engine.preview"
ANALYSIS = Path(__file__).resolve().parent / "analysis.md"


def slope(row_small: dict[str, Any], row_large: dict[str, Any], steps: int) -> float | None:
    """Seconds per step between two workloads ``steps`` steps apart."""
    if "wall" not in row_small or "wall" not in row_large:
        return None
    return (row_large["wall"] - row_small["wall"]) / steps


def targets(results: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """The issues' targets: (target, the figure measured, met?)."""
    out: list[tuple[str, str, bool | None]] = []
    me = "dataflow-runner"
    workloads = results.get("workloads", {})
    for name in ("W1", "W2", "W3"):
        row = workloads.get(name, {})
        wall = row.get(me, {}).get("wall")
        if wall is None:
            continue
        out.append((f"{name} total wall < 0.45 s", f"{wall:.3f} s", wall < 0.45))
        peers = [(row[t]["wall"], t) for t in ORCHESTRATORS if "wall" in row.get(t, {})]
        if peers:
            best, who = min(peers)
            ratio = best / wall
            out.append(
                (
                    f"{name} >= 2.5x faster than the fastest Python orchestrator",
                    f"{ratio:.1f}x ({who}: {best:.2f} s)",
                    ratio >= 2.5,
                )
            )
    if "W2" in workloads and "W4" in workloads:
        steps = 2000 - 200
        mine = slope(workloads["W2"].get(me, {}), workloads["W4"].get(me, {}), steps)
        make = slope(workloads["W2"].get("make", {}), workloads["W4"].get("make", {}), steps)
        if mine is not None and make:
            out.append(
                (
                    "per-step slope W2->W4 within 2.5x make's",
                    f"{mine * 1000:.2f} ms/step vs make {make * 1000:.2f} ({mine / make:.1f}x)",
                    mine / make <= 2.5,
                )
            )
    peaks = [row[me]["rss_kib"] for row in workloads.values() if "rss_kib" in row.get(me, {})]
    if peaks:
        peak = max(peaks) / 1024
        out.append(("peak RSS of every workload < 60 MiB", f"{peak:.0f} MiB", peak < 60))
    start = results.get("start")
    if start:
        ratio = start["dataflow-runner --help"] / start["python -c pass"]
        out.append(("`--help` within 3x `python -c pass`", f"{ratio:.2f}x", ratio <= 3))
    plan = results.get("plan")
    if plan:
        each = {k: v for k, v in plan.items() if k in ("validate", "run-transient --dry-run")}
        total = sum(each.values())
        out.append(
            (
                "validate + --dry-run of 10,000 steps <= 1 s",
                " + ".join(f"{v:.3f}" for v in each.values()) + f" = {total:.3f} s",
                total <= 1,
            )
        )
    data = results.get("data")
    if data and data.get("partitions") == 365:
        wall = data["wall"][CLI_PLAN]
        out.append(
            (
                "plan a backfill of 365 days x 10 steps (3,650 output checks) < 1 s",
                f"{wall:.3f} s (the plan alone {data['inner'][INNER_PLAN]:.3f} s)",
                wall < 1,
            )
        )
    s3 = results.get("data_s3")
    if s3:
        calls = s3["list_calls"] + s3["head_calls"]
        out.append(
            (
                f"S3 calls for {s3['outputs']:,} output checks <= one tenth",
                f"{calls} ({s3['list_calls']} ListObjectsV2, {s3['head_calls']} HeadObject)",
                calls <= s3["outputs"] / 10,
            )
        )
    emr = results.get("emr")
    if emr:
        out.append(
            (
                "EMR calls per hour, 50 steps <= 300",
                f"{emr['calls_per_hour']}",
                emr["calls_per_hour"] <= 300,
            )
        )
    return out


def data_section(data: dict[str, Any], s3: dict[str, Any] | None) -> list[str]:
    """The data-aware case (``bench/data_aware.py``)."""
    base = data["wall"].get("make -n")
    lines = [
        f"## Data-aware planning ({data['partitions']} daily partitions x {data['steps']} "
        f"steps, {data['outputs']:,} outputs, half present)",
        "",
        "| command | wall seconds | x make | the plan alone | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, wall in data["wall"].items():
        ratio = f"{wall / base:.1f}x" if base else "-"
        alone = data["inner"].get(label)
        shown = f"{alone:.3f}" if alone is not None else "-"
        peak = data["rss_kib"].get(label, 0) / 1024
        lines.append(f"| `{label}` | {wall:.3f} | {ratio} | {shown} | {peak:.0f} |")
    lines.append("")
    if s3:
        lines += [
            f"On moto's S3 (over HTTP), the same plan with S3 directory outputs "
            f"({s3['objects']:,} objects): **{s3['list_calls']} ListObjectsV2** and "
            f"{s3['head_calls']} HeadObject calls for {s3['outputs']:,} checks "
            f"({s3['wall_on_moto']:.2f} s end to end on moto, whose listings are slow).",
            "",
        ]
    return lines


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
    met = targets(results)
    if met:
        lines += ["## Targets", "", "| target | measured | met |", "|---|---|---|"]
        lines += [f"| {t} | {figure} | {'yes' if ok else '**no**'} |" for t, figure, ok in met]
        lines.append("")
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
        rss = results.get("plan_rss_kib", {})
        lines += [
            "## Plan scale (a 10,000-step DAG)",
            "",
            "| command | seconds | peak RSS (MiB) |",
            "|---|---:|---:|",
        ]
        for label, value in results["plan"].items():
            peak = f"{rss[label] / 1024:.0f}" if label in rss else "-"
            lines.append(f"| `{label}` | {value:.3f} | {peak} |")
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
            f"- completions noticed at most {e['max_notice_lag_s']:.3f} s after they happened, "
            f"with polls every {e['poll_s']} s (the run is time-scaled {e['scale']:g}x: "
            f"one poll interval plus {e['max_processing_s'] * 1000:.0f} ms of HTTP and "
            "processing, which is constant, not scaled)",
            "",
        ]
    if "data" in results:
        lines += data_section(results["data"], results.get("data_s3"))
    if "server" in results:
        from server import report_section

        lines += report_section(results["server"], results["date"])
    if ANALYSIS.exists():
        lines += [ANALYSIS.read_text().rstrip(), ""]
    (docs / "benchmarks.md").write_text("\n".join(lines) + "\n")
