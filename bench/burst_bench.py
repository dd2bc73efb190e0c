"""Local API burst benchmark: filings per second when many clients file at once, on the local cloud only.

Deploys the synthesized app into the in-process local cloud, serves its REST API (local/api.py) and files
``--filings`` distinct requests from ``--threads`` threads, plus ``--keys`` Idempotency-Keys retried ``--retries``
times each, all at once. Prints filings per second and the answers' status codes; writes them to bench/results.json
under ``local_api_burst`` (next to the retention figures). A figure for the local cloud only: on AWS the limits are
the stage throttle and the WAF rule (see README), not this process.

    python -m bench.burst_bench --filings 100
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")


def file_request(url: str, body: dict[str, Any], key: str | None) -> tuple[int, float]:
    headers = {"Idempotency-Key": key} if key else {}
    started = time.monotonic()
    try:
        status = requests.post(f"{url}/requests", json=body, headers=headers, timeout=300).status_code
    except requests.ConnectionError:
        status = 0  # reset or refused
    return status, time.monotonic() - started


def burst(url: str, filings: int, threads: int, keys: int, retries: int) -> dict[str, Any]:
    run = uuid.uuid4().hex[:8]
    jobs: list[tuple[dict[str, Any], str | None]] = [
        ({"type": "access", "email": f"bench-{run}-{n}@example.org"}, None) for n in range(filings)
    ]
    for k in range(keys):
        jobs += [({"type": "access", "email": f"bench-{run}-key-{k}@example.org"}, f"bench-{run}-{k}")] * retries
    started = time.monotonic()
    with ThreadPoolExecutor(threads) as pool:
        answers = list(pool.map(lambda job: file_request(url, *job), jobs))
    seconds = time.monotonic() - started
    latencies = sorted(latency for _, latency in answers)
    return {
        "filings": len(jobs),
        "threads": threads,
        "seconds": round(seconds, 2),
        "filings_per_second": round(len(jobs) / seconds, 1),
        "latency_p50_seconds": round(latencies[len(latencies) // 2], 2),
        "latency_p95_seconds": round(latencies[int(len(latencies) * 0.95) - 1], 2),
        "status_codes": {str(k): v for k, v in sorted(Counter(status for status, _ in answers).items())},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--filings", type=int, default=100, help="distinct requests filed at once")
    parser.add_argument("--threads", type=int, default=20, help="concurrent clients")
    parser.add_argument("--keys", type=int, default=5, help="Idempotency-Keys retried concurrently")
    parser.add_argument("--retries", type=int, default=4, help="attempts per Idempotency-Key")
    parser.add_argument("--output", type=Path, default=ROOT / "bench" / "results.json")
    args = parser.parse_args()

    from bench.results import merge_results
    from functions.privacy.core.timestamps import format_utc
    from functions.privacy.core.timestamps import now as timestamps_now
    from local.api import LocalApi, rest_api_id_from_url
    from local.cloud import LocalCloud
    from local.synth import synthesize

    state_dir = Path(tempfile.mkdtemp(prefix="burst-bench-"))
    cdk_out = synthesize(state_dir / "cdk.out")
    with LocalCloud(port=0, state_dir=state_dir) as cloud:
        outputs: dict[str, str] = {}
        for stack_outputs in cloud.deploy(cdk_out).values():
            outputs.update(stack_outputs)
        with LocalApi(cloud.client, rest_api_id=rest_api_id_from_url(outputs["ApiUrl"]), port=0) as api:
            cold = burst(api.url, args.filings, args.threads, args.keys, args.retries)
            warm = burst(api.url, args.filings, args.threads, args.keys, args.retries)
    figures = {
        "ran_at": format_utc(timestamps_now()),
        "machine": f"{platform.machine()} {os.cpu_count()} cpus, Python {platform.python_version()}, moto local cloud",
        "note": "the local cloud only; on AWS the stage throttle and the WAF rule limit filings",
        "cold": cold,  # the first burst starts the intake function's execution environments
        "warm": warm,
    }
    merge_results(args.output, {"local_api_burst": figures})  # keeps the other benchmarks' keys
    for name, figures in (("cold", cold), ("warm", warm)):
        print(
            f"local API burst ({name}): {figures['filings']} filings from {figures['threads']} threads in "
            f"{figures['seconds']}s = {figures['filings_per_second']} filings/s "
            f"(p50 {figures['latency_p50_seconds']}s, p95 {figures['latency_p95_seconds']}s); "
            f"status codes {figures['status_codes']}"
        )


if __name__ == "__main__":
    main()
