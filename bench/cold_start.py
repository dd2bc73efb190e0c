"""Cold start benchmark: each Lambda handler's import time, as `python -X importtime` reports it.

Every handler in functions/handlers/ is imported in a fresh interpreter, several times (round robin,
so load on the machine spreads over all handlers), from a copy of `functions/` compiled as the code
asset is and with PYTHONDONTWRITEBYTECODE, as on Lambda (read-only /var/task; the dependency layer is
pip-compiled like the virtualenv). The environment is a Lambda's: LAMBDA_TASK_ROOT, region,
function name and the Powertools variables the stack sets, so Powertools behaves as deployed.
Prints per handler the median total and its biggest contributors against the goal and a bare
`import boto3` (the runtime ships boto3: a floor), and writes key `cold_start` of bench/results.json.

    python -m bench.cold_start --runs 7
    python -m bench.cold_start --env POWERTOOLS_TRACE_DISABLED=true   # a variant, e.g. tracing off
"""

from __future__ import annotations

import argparse
import compileall
import importlib.metadata
import os
import platform
import py_compile
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GOAL_MS = 300.0
BASELINE = "import boto3"
STARTUP = "interpreter start-up"
# The Python runtime's own packages (its boto3); the rest come from the layer, lambda-requirements.txt.
RUNTIME_DISTRIBUTIONS = ["boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"]
# Module name prefixes, most specific first; a module matching none counts for the module that imported it.
GROUPS = [
    ("aws_xray_sdk", "xray"),
    ("boto3", "boto"),
    ("botocore", "boto"),
    ("s3transfer", "boto"),
    ("pydantic", "pydantic"),
    ("pydantic_core", "pydantic"),
    ("email_validator", "pydantic"),
    ("aws_lambda_powertools.tracing", "pt.tracing"),
    ("aws_lambda_powertools.logging", "pt.logging"),
    ("aws_lambda_powertools.metrics", "pt.metrics"),
    ("aws_lambda_powertools.event_handler", "pt.event_handler"),
    ("aws_lambda_powertools.utilities.parser", "pt.parser"),
    ("aws_lambda_powertools.utilities.idempotency", "pt.idempotency"),
    ("aws_lambda_powertools", "pt.other"),
    ("yaml", "yaml"),
    ("functions", "ours"),
]
COLUMNS = ["xray", "boto", "pydantic", "powertools", "yaml", "ours", "other"]


@dataclass
class Import:
    name: str
    self_us: int
    cumulative_us: int
    children: list[Import] = field(default_factory=list)


def parse_importtime(stderr: str) -> list[Import]:
    """The import tree printed by `-X importtime`, roots in order."""
    roots: list[Import] = []
    pending: list[tuple[int, Import]] = []  # children are printed before their parent, one level deeper
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        node = Import(name.strip(), int(self_us), int(cumulative_us))
        while pending and pending[-1][0] > depth:
            node.children.insert(0, pending.pop()[1])
        if depth == 0:
            roots.append(node)
        else:
            pending.append((depth, node))
    return roots


def group_of(name: str) -> str | None:
    for prefix, group in GROUPS:
        if name == prefix or name.startswith(prefix + "."):
            return group
    return None


def attribute(roots: list[Import]) -> dict[str, float]:
    """Milliseconds of self time per group; a module outside every group counts for its importer's group."""
    totals: dict[str, float] = defaultdict(float)

    def walk(node: Import, inherited: str) -> None:
        group = group_of(node.name) or inherited
        totals[group] += node.self_us / 1000
        for child in node.children:
            walk(child, group)

    for root in roots:
        walk(root, "other")
    return dict(totals)


def stage_code() -> Path:
    """`functions/` as the code asset ships it: fresh bytecode as infra/lambda_code.py compiles it."""
    stage = Path(tempfile.mkdtemp(prefix="cold-start-"))
    shutil.copytree(ROOT / "functions", stage / "functions", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # Not imported from infra/: that would load the CDK (seconds and a Node process) into the benchmark.
    compileall.compile_dir(
        stage / "functions", ddir="functions", quiet=1, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
    )
    return stage


def lambda_site(stage: Path) -> Path:
    """Only what a deployed function can import: the layer's pins and the runtime's boto3, linked from the venv.

    The virtualenv also holds test and CDK packages; X-Ray's patch_all imports any it can patch (requests,
    sqlite3, ...), so importing with the whole virtualenv on the path would overstate the Tracer's cost.
    """
    site = stage / "site"
    (site / "__pycache__").mkdir(parents=True)
    pins = (ROOT / "lambda-requirements.txt").read_text().splitlines()
    names = RUNTIME_DISTRIBUTIONS + [re.split(r"[\[=<>]", line)[0] for line in pins if line and line[0].isalnum()]
    for name in names:
        dist = importlib.metadata.distribution(name)
        for file in dist.files or []:
            parts = Path(file).parts
            if parts[0] == "..":
                continue
            if parts[0] == "__pycache__":  # a single-file module's bytecode (six, typing_extensions)
                target = site / "__pycache__" / parts[1]
            else:
                target = site / parts[0]
            if not target.exists():
                target.symlink_to(
                    Path(str(dist.locate_file(Path(*parts[:2] if parts[0] == "__pycache__" else parts[:1]))))
                )
    return site


def lambda_environment(stage: Path, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": f"{stage}{os.pathsep}{stage / 'site'}",
        "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only on Lambda
        "LAMBDA_TASK_ROOT": str(stage),
        "AWS_LAMBDA_FUNCTION_NAME": "cold-start-bench",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "512",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        # As infra/functions.py sets them for every function.
        "POWERTOOLS_SERVICE_NAME": "privacy-engine",
        "POWERTOOLS_METRICS_NAMESPACE": "PrivacyEngine",
        "POWERTOOLS_LOG_LEVEL": "INFO",
    }
    env.update(extra)
    return env


def measure(statement: str, stage: Path, env: dict[str, str]) -> tuple[list[Import], float]:
    """The import tree of one fresh interpreter, and the CPU milliseconds the whole process used."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", statement],  # -S: no virtualenv, see lambda_site
        cwd=stage,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SystemExit(f"`{statement}` failed:\n{done.stderr[-2000:]}")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_ms = (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) * 1000
    return parse_importtime(done.stderr), cpu_ms


def summarise(samples: list[list[Import]], cpu_ms: list[float], startup_cpu_ms: float) -> dict:
    """Medians over the runs: the total, each column, and CPU time (less interpreter start-up)."""
    totals = [sum(root.cumulative_us for root in roots) / 1000 for roots in samples]
    per_group = [attribute(roots) for roots in samples]
    groups = sorted({g for run in per_group for g in run})
    group_ms = {g: round(statistics.median(run.get(g, 0.0) for run in per_group), 1) for g in groups}
    columns = {
        "xray": group_ms.get("xray", 0.0),
        "boto": group_ms.get("boto", 0.0),
        "pydantic": group_ms.get("pydantic", 0.0),
        "powertools": round(sum(v for g, v in group_ms.items() if g.startswith("pt.")), 1),
        "yaml": group_ms.get("yaml", 0.0),
        "ours": group_ms.get("ours", 0.0),
        "other": group_ms.get("other", 0.0),
    }
    return {
        "total_ms": round(statistics.median(totals), 1),
        "min_ms": round(min(totals), 1),
        # Wall time inflates when other processes share the cores; CPU time much less so.
        "cpu_ms": round(statistics.median(cpu_ms) - startup_cpu_ms, 1),
        "columns": columns,
        "groups": group_ms,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh interpreters per handler (median taken)")
    parser.add_argument("--handler", action="append", default=[], help="only these handlers (repeatable)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=VALUE", help="extra environment")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--no-write", action="store_true", help="print only (for trying variants)")
    args = parser.parse_args()

    from bench.results import merge_results

    handlers = args.handler or sorted(
        p.stem for p in (ROOT / "functions" / "handlers").glob("*.py") if p.stem != "__init__"
    )
    extra = dict(item.split("=", 1) for item in args.env)
    stage = stage_code()
    lambda_site(stage)
    try:
        env = lambda_environment(stage, extra)
        statements = {
            STARTUP: "pass",
            "boto3 (baseline)": BASELINE,
            **{h: f"import functions.handlers.{h}" for h in handlers},
        }
        samples: dict[str, list[list[Import]]] = defaultdict(list)
        cpu: dict[str, list[float]] = defaultdict(list)
        for _ in range(args.runs):
            for label, statement in statements.items():
                roots, cpu_ms = measure(statement, stage, env)
                samples[label].append(roots)
                cpu[label].append(cpu_ms)
    finally:
        shutil.rmtree(stage, ignore_errors=True)

    startup_cpu_ms = statistics.median(cpu.pop(STARTUP))
    startup = {root.name for roots in samples.pop(STARTUP) for root in roots}  # imported before any statement
    samples = {
        label: [[r for r in roots if r.name not in startup] for roots in runs] for label, runs in samples.items()
    }
    summary = {label: summarise(runs, cpu[label], startup_cpu_ms) for label, runs in samples.items()}
    boto3 = summary.pop("boto3 (baseline)")
    baseline = boto3["total_ms"]
    print(
        f"cold start: median import ms of {args.runs} runs; goal {GOAL_MS:.0f} ms; "
        f"bare `import boto3` {baseline:.0f} ms (cpu {boto3['cpu_ms']:.0f})"
    )
    if extra:
        print(f"extra environment: {extra}")
    header = (
        f"{'handler':<20}{'total':>7}{'vs goal':>8}{'cpu':>6}"
        + "".join(f"{c:>10}" for c in COLUMNS)
        + "  powertools parts"
    )
    print(header)
    print("-" * len(header))
    for handler, figures in summary.items():
        over = figures["total_ms"] - GOAL_MS
        parts = sorted(
            ((g[3:], v) for g, v in figures["groups"].items() if g.startswith("pt.") and v >= 1), key=lambda p: -p[1]
        )
        print(
            f"{handler:<20}{figures['total_ms']:>7.0f}{over:>+8.0f}{figures['cpu_ms']:>6.0f}"
            + "".join(f"{figures['columns'][c]:>10.0f}" for c in COLUMNS)
            + "  "
            + ", ".join(f"{name} {ms:.0f}" for name, ms in parts)
        )
    worst = max(summary.values(), key=lambda f: f["total_ms"])["total_ms"]
    print(
        f"slowest {worst:.0f} ms; {sum(f['total_ms'] <= GOAL_MS for f in summary.values())}/{len(summary)} within goal"
    )

    if not args.no_write:
        merge_results(
            args.output,
            {
                "cold_start": {
                    "measured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "python": platform.python_version(),
                    "cpus": os.cpu_count(),
                    "runs": args.runs,
                    "extra_environment": extra,
                    "goal_ms": GOAL_MS,
                    "baseline_boto3_ms": baseline,
                    "baseline_boto3_cpu_ms": boto3["cpu_ms"],
                    "handlers": summary,
                }
            },
        )
        print(f"wrote key cold_start of {args.output}")


if __name__ == "__main__":
    main()
