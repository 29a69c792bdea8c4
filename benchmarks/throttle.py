"""A stack's burst of Creates against SageMaker's CreateTrainingJob rate limit.

Every job's Create event is sent at once (as CloudFormation does for independent resources)
to the unmodified handler, one thread per invocation, against the fault-injection emulator
on 127.0.0.1 with a token bucket on CreateTrainingJob. The clock is scaled (``SPEED``), so
minutes of simulated deployment take seconds; the figures are in simulated seconds.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SPEED = 16.0


@dataclass
class Deployment:
    jobs: int
    rate: float
    seconds: float  # simulated, first event to last answer
    failed: int
    running: int
    create_attempts: int
    create_calls_per_job: float


def deploy(jobs: int, rate: float, speed: float = SPEED) -> Deployment:
    sys.path.insert(0, str(ROOT))
    from tests.fault_injection import TokenBucket, emulated
    from tests.handler_support import Context, event, handler

    with pytest.MonkeyPatch.context() as patch, emulated(patch, handler, speed=speed) as emulator:
        emulator.faults.throttle["CreateTrainingJob"] = TokenBucket(rate=rate, clock=emulator.clock)
        client = handler.make_client()
        events = [{**event("Create"), "ResponseURL": emulator.response_url()} for _ in range(jobs)]
        threads = [
            threading.Thread(target=handler.handler, args=(e, Context()), kwargs={"client": client}) for e in events
        ]
        started = emulator.clock.monotonic()
        with contextlib.redirect_stdout(io.StringIO()):  # the handler's JSON log lines
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        answers = emulator.answers
        creates = emulator.calls("CreateTrainingJob")
        return Deployment(
            jobs=jobs,
            rate=rate,
            seconds=max(at for at, _ in answers) - started,
            failed=sum(1 for _, body in answers if body["Status"] != "SUCCESS"),
            running=len(emulator.running()),
            create_attempts=len(creates),
            create_calls_per_job=len(creates) / jobs,
        )


def calls_per_operation() -> tuple[int, int]:
    """SageMaker calls of one clean Create and of one Delete of a running job."""
    sys.path.insert(0, str(ROOT))
    from tests.fault_injection import emulated
    from tests.handler_support import Context, event, handler

    with pytest.MonkeyPatch.context() as patch, emulated(patch, handler) as emulator:
        create = {**event("Create"), "ResponseURL": emulator.response_url()}
        with contextlib.redirect_stdout(io.StringIO()):
            handler.handler(create, Context())
            name = emulator.answers[-1][1]["PhysicalResourceId"]
            creates = len(emulator.received)
            handler.handler(
                {**create, "RequestType": "Delete", "PhysicalResourceId": name, "RequestId": "delete"}, Context()
            )
        return creates, len(emulator.received) - creates


def rows(sizes: tuple[int, ...] = (100, 400, 494), rates: tuple[float, ...] = (2.0, 5.0)) -> list[str]:
    lines = [
        "| jobs created at once | CreateTrainingJob limit | simulated deployment time | FAILED | jobs running "
        "| CreateTrainingJob attempts per job (throttled included) |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for jobs in sizes:
        for rate in rates:
            run = deploy(jobs, rate)
            lines.append(
                f"| {jobs} | {rate:g}/s | {run.seconds:.0f} s (at least {jobs / rate:.0f} s) | {run.failed} "
                f"| {run.running} | {run.create_calls_per_job:.1f} |"
            )
    return lines


if __name__ == "__main__":
    sizes = tuple(int(n) for n in sys.argv[1:]) or (100, 400)
    print("\n".join(rows(sizes)))
