"""What the checks on a whole body cost before it is parsed: `jsonvalues.nests_deeper`
(every JSON body of a gated route, and every batch) and a batch's lone-surrogate scan.

Method. Each body is checked many times in a row (distinct bodies: each round builds its own,
with a counter in it, so that nothing is served from a cache), and the CPU time per check
is reported, the median of `--rounds` rounds, beside the cost of `json.loads` on the same
body (what the check precedes) as a ratio. Bodies: a typical single evaluation (about 300
bytes), a batch of 1,000 items (about 2.5 MB), and the worst a 4 MiB batch body can be for
the nesting check (brackets opened and closed in turn, so that none is removed early).

    .venv/bin/python -m bench.body_checks [--rounds 5]
"""

import argparse
import json
import statistics
import time
from collections.abc import Callable

from app.evaluations.batch_body import _has_lone_surrogate
from app.jsonvalues import nests_deeper


def single(n: int) -> bytes:
    return json.dumps(
        {
            "subject": {"ref": f"https://www.linkedin.com/in/someone-{n}", "name": "Ada L"},
            "attributes": {
                "headline": "CTO at Acme | building things",
                "industry": "Software",
                "mutual_connections": n % 40,
                "skills": ["python", "go", "rust"],
                "message": "Hello, I would like to connect [x] {y}",
            },
        }
    ).encode()


def batch(n: int) -> bytes:
    items = [json.loads(single(n * 1000 + i)) for i in range(1000)]
    for item in items:
        item["attributes"]["message"] = "Hello \\ud83d\\ude00 " * 80  # escapes the scan reads
    return json.dumps({"items": items}).encode()


def adversarial(n: int) -> bytes:
    piece = b"[" * 256 + b"]" * 255 + b"["  # climbs 256, falls 255: never a full pair
    count = (4 * 1024 * 1024 - 64) // len(piece)
    return b'{"items": [' + piece * count + b"]" * count + b", %d]}" % n


def cpu_per_call(
    check: Callable[[bytes], object], make: Callable[[int], bytes], calls: int
) -> float:
    bodies = [make(n) for n in range(calls)]
    started = time.process_time()
    for body in bodies:
        check(body)
    return (time.process_time() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    cases = [("single evaluation", single, 20_000), ("batch of 1,000", batch, 5)]
    print(f"{'body':<22} {'check':<16} {'µs per check':>14} {'json.loads µs':>14} {'ratio':>7}")
    for name, make, calls in cases:
        parse = statistics.median(cpu_per_call(json.loads, make, calls) for _ in range(rounds))
        for label, check in (
            ("nests_deeper", nests_deeper),
            ("lone surrogate", _has_lone_surrogate),
        ):
            if label == "lone surrogate" and make is single:
                continue  # a batch's check alone
            spent = statistics.median(cpu_per_call(check, make, calls) for _ in range(rounds))
            print(
                f"{name:<22} {label:<16} {spent * 1e6:>14,.1f} {parse * 1e6:>14,.1f} "
                f"{spent / parse:>7.3f}"
            )
    worst = statistics.median(cpu_per_call(nests_deeper, adversarial, 3) for _ in range(rounds))
    print(f"{'adversarial 4 MiB':<22} {'nests_deeper':<16} {worst * 1e6:>14,.1f} {'(refused)':>14}")


if __name__ == "__main__":
    main()
