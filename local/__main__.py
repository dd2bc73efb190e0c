"""Command line of the local cloud: `python -m local up` runs it in the foreground, `python -m local demo` the demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import sys
import threading
import warnings
from pathlib import Path
from typing import Any

from .adapters import lambda_logs
from .api import LocalApi, rest_api_id_from_url
from .cloud import LocalCloud

log = logging.getLogger("local")


def seed_subjects() -> list[dict[str, str]]:
    """Seed the sample subjects with `local.seed` if that module exists; its absence means no seeding."""
    try:
        from local import seed
    except ModuleNotFoundError as exc:
        if exc.name == "local.seed":
            return []
        raise
    from functions.privacy.core.clients import Clients

    from .inspect import local_datamap

    return seed.seed_sample_subjects(local_datamap(), Clients())


def flatten_outputs(deployed: dict[str, dict[str, str]]) -> dict[str, str]:
    """Every stack's outputs in one mapping (stacks are deployed in order; a clash is reported, last one wins)."""
    flat: dict[str, str] = {}
    for stack, outputs in deployed.items():
        for key, value in outputs.items():
            if key in flat and flat[key] != value:
                log.warning("output %s of stack %s hides the value of an earlier stack", key, stack)
            flat[key] = value
    return flat


def describe(cloud: LocalCloud, deployed: dict[str, dict[str, str]], subjects: list[dict[str, str]]) -> dict[str, Any]:
    """The content of outputs.json: how scripts and tests outside the project find the local cloud."""
    return {
        "aws_endpoint": cloud.endpoint,
        "region": cloud.region,
        "account": "123456789012",
        **flatten_outputs(deployed),
        "stacks": deployed,
        "sample_subjects": subjects,
        "outbox": str(cloud.state_dir / "outbox"),
    }


def write_json(path: Path, content: dict[str, Any]) -> None:
    partial = path.with_name(f".{path.name}.partial")  # readers never see a half-written file
    partial.write_text(json.dumps(content, indent=2) + "\n")
    partial.replace(path)


def up(cdk_out: Path, state_dir: Path, seed: bool) -> int:
    """Run the local cloud in the foreground until Ctrl-C (or SIGTERM)."""
    port = int(os.environ.get("AWS_PORT", "4566"))
    if not (cdk_out / "manifest.json").exists():
        print(f"{cdk_out}/manifest.json not found: synthesize first (make synth)", file=sys.stderr)
        return 2
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    outputs_file = state_dir / "outputs.json"
    outputs_file.unlink(missing_ok=True)  # a stale file would say "ready" before this run is
    # The foreground cloud shows what its functions log, as a developer watching it expects (also in logs/).
    with LocalCloud(port=port, state_dir=state_dir, echo_function_logs=True) as cloud:
        deployed = cloud.deploy(cdk_out)
        subjects = seed_subjects() if seed else []
        api_url = flatten_outputs(deployed).get("ApiUrl")
        # A cdk.out without the privacy stack's API (e.g. a test fixture app) runs without the local API.
        with (
            LocalApi(
                cloud.client, rest_api_id=rest_api_id_from_url(api_url), port=int(os.environ.get("API_PORT", "8080"))
            )
            if api_url
            else contextlib.nullcontext() as api
        ):
            extra = {"api_url": api.url} if api else {}
            write_json(outputs_file, {**describe(cloud, deployed, subjects), **extra})
            where = f", API and request form at {api.url}" if api else ""
            print(f"Local cloud ready: AWS endpoint {cloud.endpoint}{where}, outputs in {outputs_file}", flush=True)
            try:
                while not stop.wait(0.5):
                    pass
            except KeyboardInterrupt:
                pass
            print("Stopping the local cloud", flush=True)
    outputs_file.unlink(missing_ok=True)
    return 0


def configure_logging(state_dir: Path, console: bool) -> None:
    """The local cloud's own log lines go to ``<state_dir>/logs/local-cloud.log`` and, if ``console``, to stderr."""
    folder = state_dir / "logs"
    folder.mkdir(parents=True, exist_ok=True)
    handlers: list[logging.Handler] = [logging.FileHandler(folder / "local-cloud.log", encoding="utf-8")]
    if console:
        handlers.append(logging.StreamHandler())
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", handlers=handlers)
    for handler in handlers[1:]:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for noisy in ("botocore", "boto3", "urllib3", "moto"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    # A function's warnings go to its own log (its stderr); anything else's to the local cloud's log.
    logging.captureWarnings(True)
    to_logging = warnings.showwarning

    def showwarning(message: Any, category: Any, filename: str, lineno: int, file: Any = None, line: Any = None):  # noqa: ANN202
        if lambda_logs.in_function():
            sys.stderr.write(warnings.formatwarning(message, category, filename, lineno, line))
        else:
            to_logging(message, category, filename, lineno, file, line)

    warnings.showwarning = showwarning


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("up", help="run the local cloud in the foreground (AWS_PORT, SEED=0)")
    run.add_argument("--cdk-out", type=Path, default=Path("cdk.out"), help="synthesized cloud assembly")
    run.add_argument("--state-dir", type=Path, default=Path(".local"), help="outputs.json, outbox, code cache")
    run.add_argument("--no-seed", action="store_true", help="do not seed sample subjects (also SEED=0)")
    demo = commands.add_parser("demo", help="deploy, seed, erase one subject and report (make demo)")
    demo.add_argument("-v", "--verbose", action="store_true", help="also show the logs kept in .local/logs/")
    args = parser.parse_args(argv)
    if args.command == "demo":
        from .demo import main as run_demo

        configure_logging(Path(".local"), console=args.verbose)
        return run_demo(verbose=args.verbose)
    configure_logging(args.state_dir, console=True)
    args.state_dir.mkdir(parents=True, exist_ok=True)
    seed = not args.no_seed and os.environ.get("SEED", "1") != "0"
    return up(args.cdk_out, args.state_dir, seed)


if __name__ == "__main__":
    sys.exit(main())
