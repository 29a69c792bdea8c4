"""``make bench``: resources, template bytes, synth time and memory per training job, side by
side with AwsCustomResource and the Step Functions task; plus the handler's own numbers.

Every synthesis runs in a fresh worker process (``--worker``) so that peak memory is that
run's own; runs of the variants are interleaved, and times are medians. Results are printed
and written to ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchmarks import throttle
from constructs_lib.handler_asset import blanked_copy

ROOT = Path(__file__).resolve().parent.parent
RESOURCE_LIMIT = 500
TEMPLATE_LIMIT = 1_000_000  # bytes of a template uploaded to S3
INLINE_POLICY_LIMIT = 10_240  # characters of all inline policies of one role
SIZES = (1, 10, 100)
REPEATS = int(os.environ.get("BENCH_REPEATS", "3"))
# The synth-time comparison that the README quotes: this many pairs of runs at 100 jobs.
PAIRS = int(os.environ.get("BENCH_PAIRS", "9"))
OURS, THEIRS = "TrainingJob, shared role/bucket/network", "AwsCustomResource (createTrainingJob)"


# ----- one synthesis, in a worker process ---------------------------------------------------


def _worker(variant: str, count: int) -> dict[str, Any]:
    import aws_cdk as cdk

    from benchmarks.variants import SCRIPT_MODE_VARIANTS, VARIANTS
    from tools.intrinsics import resolve_intrinsics

    def build(outdir: str, jobs: int) -> Any:
        app = cdk.App(outdir=outdir)
        stack = cdk.Stack(app, "Bench", env=cdk.Environment(account="111111111111", region="us-east-1"))
        {**VARIANTS, **SCRIPT_MODE_VARIANTS}[variant](stack, jobs)
        return app.synth()

    with tempfile.TemporaryDirectory() as warmup:
        build(warmup, 1)  # the runtime's first synthesis loads code lazily: keep it out of the timing
    with tempfile.TemporaryDirectory() as outdir:
        started = time.perf_counter()
        assembly = build(outdir, count)
        seconds = time.perf_counter() - started
        artifact = assembly.get_stack_by_name("Bench")
        template_bytes = (Path(outdir) / artifact.template_file).stat().st_size
        template = artifact.template
    per_role: dict[str, int] = {}
    for resource in template["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy":
            size = len(
                json.dumps(
                    resolve_intrinsics(resource["Properties"]["PolicyDocument"], template), separators=(",", ":")
                )
            )
            for role in resource["Properties"].get("Roles", []):
                key = json.dumps(role)
                per_role[key] = per_role.get(key, 0) + size
    return {
        "resources": len(template["Resources"]),
        "bytes": template_bytes,
        "seconds": seconds,
        "largest_role_policy": max(per_role.values(), default=0),
    }


def _run_worker(variant: str, count: int) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.run", "--worker", variant, str(count)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise RuntimeError(f"worker {variant} x {count} failed ({status})")
    result: dict[str, Any] = json.loads(output.strip().splitlines()[-1])
    result["peak_mib"] = usage.ru_maxrss / 1024  # the largest process of the worker's tree
    return result


# ----- the comparison ----------------------------------------------------------------------------


def _measure(variants: list[str], counts: dict[str, list[int]]) -> dict[tuple[str, int], list[dict[str, Any]]]:
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {}
    rounds = max(len(c) for c in counts.values())
    for index in range(rounds):
        for _ in range(REPEATS):
            for variant in variants:  # interleaved, so that drift hits every variant alike
                if index < len(counts[variant]):
                    count = counts[variant][index]
                    runs.setdefault((variant, count), []).append(_run_worker(variant, count))
                    print(f"  {variant} x {count}: {runs[(variant, count)][-1]}", file=sys.stderr)
    return runs


def _median(runs: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in runs))


def _largest_n(small: dict[str, Any], large: dict[str, Any], n_small: int, n_large: int) -> int:
    per_res = (large["resources"] - small["resources"]) / (n_large - n_small)
    per_bytes = (large["bytes"] - small["bytes"]) / (n_large - n_small)
    fixed_res = small["resources"] - per_res * n_small
    fixed_bytes = small["bytes"] - per_bytes * n_small
    return int(min((RESOURCE_LIMIT - fixed_res) // per_res, (TEMPLATE_LIMIT - fixed_bytes) // per_bytes))


def compare() -> tuple[list[str], dict[str, int]]:
    from benchmarks.variants import VARIANTS

    variants = list(VARIANTS)
    runs = _measure(variants, {v: list(SIZES) for v in variants})
    largest = {
        v: _largest_n(runs[(v, 1)][0], runs[(v, 100)][0], 1, 100)
        if runs[(v, 100)][0]["resources"] <= RESOURCE_LIMIT
        else _largest_n(runs[(v, 1)][0], runs[(v, 10)][0], 1, 10)
        for v in variants
    }
    runs.update(_measure(variants, {v: [largest[v]] for v in variants}))
    rows = [
        "| variant | N | resources | per extra job | template KiB | bytes per extra job | synth s (median) "
        "| peak MiB | largest role policy (of 10,240) | deployable (500 resources, 1 MB, IAM) |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for variant in variants:
        base = runs[(variant, 1)][0]
        for count in sorted({*SIZES, largest[variant]}):
            sample = runs[(variant, count)]
            first = sample[0]
            extra = (first["resources"] - base["resources"]) / (count - 1) if count > 1 else 0
            extra_bytes = (first["bytes"] - base["bytes"]) / (count - 1) if count > 1 else 0
            fits = (
                first["resources"] <= RESOURCE_LIMIT
                and first["bytes"] <= TEMPLATE_LIMIT
                and first["largest_role_policy"] <= INLINE_POLICY_LIMIT
            )
            rows.append(
                f"| {variant} | {count}{' (largest)' if count == largest[variant] else ''} | {first['resources']} "
                f"| {extra:.2f} | {first['bytes'] / 1024:.0f} | {extra_bytes:.0f} | {_median(sample, 'seconds'):.2f} "
                f"| {_median(sample, 'peak_mib'):.0f} | {first['largest_role_policy']} "
                f"| {'yes' if fits else 'NO'} |"
            )
    return rows, largest


def ratio_rows() -> tuple[list[str], float]:
    """Synth time of 100 jobs sharing role, bucket and network against AwsCustomResource: ``PAIRS``
    pairs of worker runs, each pair back to back (which variant goes first alternates), so that
    the machine's drift hits both sides of a pair alike. Returns the rows and the ratio of medians."""
    ours: list[float] = []
    theirs: list[float] = []
    for index in range(PAIRS):
        order = [OURS, THEIRS] if index % 2 == 0 else [THEIRS, OURS]
        seconds = {variant: _run_worker(variant, 100)["seconds"] for variant in order}
        ours.append(seconds[OURS])
        theirs.append(seconds[THEIRS])
        print(f"  pair {index}: {seconds[OURS]:.2f} s vs {seconds[THEIRS]:.2f} s", file=sys.stderr)
    ratios = sorted(o / t for o, t in zip(ours, theirs, strict=True))
    ratio = statistics.median(ours) / statistics.median(theirs)
    rows = [
        "| 100 jobs | TrainingJob (shared role/bucket/network) | AwsCustomResource | ratio |",
        "| --- | --- | --- | --- |",
        f"| median of {PAIRS} runs | {statistics.median(ours):.2f} s | {statistics.median(theirs):.2f} s "
        f"| {ratio:.2f}x |",
        f"| fastest run | {min(ours):.2f} s | {min(theirs):.2f} s | {min(ours) / min(theirs):.2f}x |",
        f"| ratio within a pair: median (range) | | | {statistics.median(ratios):.2f}x "
        f"({ratios[0]:.2f}x-{ratios[-1]:.2f}x) |",
    ]
    return rows, ratio


# ----- the handler -------------------------------------------------------------------------------


def script_mode_rows() -> list[str]:
    """Synth time and template size of a script-mode job (its code asset bundled at synth) against
    a plain image job."""
    from benchmarks.variants import SCRIPT_MODE_SIZES, SCRIPT_MODE_VARIANTS

    variants = list(SCRIPT_MODE_VARIANTS)
    runs = _measure(variants, {v: list(SCRIPT_MODE_SIZES) for v in variants})
    rows = ["| variant | N | resources | template KiB | synth s (median) |", "| --- | --- | --- | --- | --- |"]
    for variant in variants:
        for count in SCRIPT_MODE_SIZES:
            sample = runs[(variant, count)]
            rows.append(
                f"| {variant} | {count} | {sample[0]['resources']} | {sample[0]['bytes'] / 1024:.0f} "
                f"| {_median(sample, 'seconds'):.2f} |"
            )
    return rows


# The handler as deployed: its source with docstrings and comments blanked (constructs_lib.handler_asset).
ASSET = blanked_copy(ROOT / "lambda" / "training_job")


def _import_seconds(preload: str) -> float:
    code = f"{preload}\nimport time\nt = time.perf_counter()\nimport index\nprint(time.perf_counter() - t)"
    times = []
    for _ in range(20):
        out = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ASSET,
            capture_output=True,
            text=True,
            check=True,
            env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
        )
        times.append(float(out.stdout.strip()))
    return statistics.median(times)


def handler_rows() -> list[str]:
    with tempfile.TemporaryDirectory() as folder:
        archive = Path(folder) / "handler.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
            for path in sorted(ASSET.rglob("*.py")):
                zipped.write(path, path.relative_to(ASSET))
        zipped_bytes = archive.stat().st_size
    create_calls, delete_calls = throttle.calls_per_operation()
    with_boto3 = _import_seconds("")
    without_boto3 = _import_seconds("import boto3, botocore.session")
    return [
        "| handler metric | value |",
        "| --- | --- |",
        f"| cold import of the handler, boto3 included (median of 20 interpreters) | {with_boto3 * 1000:.0f} ms |",
        f"| cold import of the handler, boto3 already imported (median of 20) | {without_boto3 * 1000:.1f} ms |",
        f"| zipped code asset (as deployed: docstrings and comments blanked) | {zipped_bytes} bytes |",
        f"| SageMaker API calls per clean Create | {create_calls} |",
        f"| SageMaker API calls per Delete of a running job | {delete_calls} |",
    ]


def _machine() -> str:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, {memory:.0f} GiB, Python {platform.python_version()}, "
        f"Node {node}, {platform.platform()}"
    )


def main() -> None:
    started = time.time()
    rows, _ = compare()
    ratios, _ = ratio_rows()
    handler = handler_rows()
    scripts = script_mode_rows()
    deployments = throttle.rows()
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    report = "\n".join(
        [
            "# Benchmark: training jobs per CloudFormation stack",
            "",
            f"Measured {stamp} on {_machine()} by `make bench` ({REPEATS} interleaved runs per point; "
            f"{time.time() - started:.0f} s in all). Synth seconds: building the stack and `app.synth()` in a "
            "worker that has already synthesized the same variant once (jsii start-up and the runtime's "
            "first-synthesis loading excluded). Largest N: the most jobs within 500 resources and a 1 MB "
            "template, from the measured per-job slope, then synthesized to check. "
            "Peak memory: the worker's largest process (Python or the "
            "jsii Node.js runtime). Role policy: characters of all inline policies of the role with the largest "
            "ones, against IAM's 10,240.",
            "",
            *rows,
            "",
            "## Synth time against AwsCustomResource",
            "",
            f"The same synthesis of 100 jobs, {PAIRS} pairs of runs (one of each variant back to back, "
            "the first of a pair alternating); the machine's load varies from run to run, so the medians "
            "and the ratio within each pair are the figures to compare.",
            "",
            *ratios,
            "",
            *handler,
            "",
            "## Script mode: a local script as a code asset",
            "",
            "The same measurement for jobs that train `examples/script_mode/src` on a PyTorch image "
            "(`SourceCode`: the directory packed as a tar.gz asset at synth, the image resolved from the "
            "SDK's data) against jobs whose image already holds the code.",
            "",
            *scripts,
            "",
            "## A stack's Creates against SageMaker's CreateTrainingJob rate limit",
            "",
            "Every Create event at once to the unmodified handler (one thread per invocation, 900 s of Lambda "
            "time each) against the fault-injection emulator on 127.0.0.1, with a token bucket (burst 1) on "
            f"CreateTrainingJob; simulated clock {throttle.SPEED:g}x faster than the wall clock "
            "(`benchmarks/throttle.py`).",
            "",
            *deployments,
            "",
        ]
    )
    (ROOT / "benchmarks" / "RESULTS.md").write_text(report)
    print(report)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--worker":
        print(json.dumps(_worker(sys.argv[2], int(sys.argv[3]))))
    else:
        main()
