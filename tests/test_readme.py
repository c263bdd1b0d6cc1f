"""The README, walked top to bottom: every example runs as written and gives what it shows.

Every ```sh block runs, in order, in one bash session (variables carry from block to block),
with `curl` and `jq`, as a reader would after `make run`. A ```json block right after a sh
block is what that block prints: the same JSON values, except the ones that differ on every
run (ids, timestamps, keys), which only need the same type. A block without one must get no
error at all (the server's access log has each request's status); none may get a 5xx.

The blocks that start a server are served by this test instead: `make run` (before the first
block) and `reflexe serve` (re)start one on a free port, with the session's environment, and
`localhost:8000` becomes that port. A block under `<!-- readme: not run (why) -->` is
skipped; each says why (Docker, a PostgreSQL of its own).
"""

import json
import os
import re
import shutil
import subprocess
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.db.servers import free_port

ROOT = Path(__file__).parents[1]
README = ROOT / "README.md"
SKIP = re.compile(r"<!-- readme: not run \((.+?)\) -->\s*$")
# Values that differ on every run: only their type is compared.
VARIABLE = frozenset(
    {
        "id",
        "created_at",
        "key",
        "revoked_at",
        "archived_at",
        "next_cursor",
        "api_key_id",
        "previous_id",
        "request_id",
    }
)


@dataclass
class Block:
    line: int
    code: str
    expected: list[Any] | None  # the JSON values shown after it, if any


def blocks() -> Iterator[Block]:
    """The sh blocks of the README that run, each with the JSON shown right after it."""
    lines = README.read_text().splitlines()
    index = 0
    while index < len(lines):
        if lines[index] != "```sh":
            index += 1
            continue
        start = index
        end = lines.index("```", start + 1)
        skipped = start > 0 and SKIP.search(lines[start - 1])
        after = end + 1
        while after < len(lines) and not lines[after].strip():
            after += 1
        expected = None
        if after < len(lines) and lines[after] == "```json":
            close = lines.index("```", after + 1)
            expected = json_values("\n".join(lines[after + 1 : close]), after + 1)
        if not skipped:
            yield Block(start + 1, "\n".join(lines[start + 1 : end]), expected)
        index = end + 1


def json_values(text: str, line: int = 0) -> list[Any]:
    """Every JSON value in `text`, one after the other (jq prints several)."""
    decoder, values, position = json.JSONDecoder(), [], 0
    text = text.strip()
    while position < len(text):
        try:
            value, position = decoder.raw_decode(text, position)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"README line {line}: not JSON: {exc}") from None
        values.append(value)
        while position < len(text) and text[position].isspace():
            position += 1
    return values


def matches(expected: Any, actual: Any, key: str | None = None) -> bool:
    if key in VARIABLE and isinstance(expected, str):
        return isinstance(actual, str)
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and expected.keys() == actual.keys()
            and all(matches(value, actual[name], name) for name, value in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(expected) == len(actual)
            and all(matches(e, a, key) for e, a in zip(expected, actual, strict=True))
        )
    return bool(type(expected) is type(actual) and expected == actual)


# Runs before the README's blocks: `make run` and `reflexe serve` become a server of the
# test's own, started in the background with the session's environment.
PRELUDE = """
set -u -o pipefail
serve() {
    if [ -n "${SERVER_PID:-}" ]; then kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null; fi
    .venv/bin/reflexe serve --port "$PORT" "$@" >>server.log 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 150); do
        curl -s -o /dev/null "localhost:$PORT/readyz" && return 0
        sleep 0.2
    done
    echo "the server did not start:" >&2; cat server.log >&2; return 1
}
"""


def rewrite(code: str, port: int) -> str:
    code = code.replace("localhost:8000", f"localhost:{port}")
    return re.sub(r"^\.venv/bin/reflexe serve\b", "serve", code, flags=re.MULTILINE)


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """A fresh place to run from, as a new clone would be: the repository's venv, no data."""
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    return tmp_path


@dataclass
class Run:
    status: int  # 0 when no command of the block failed
    printed: str
    errors: str  # the end of what the session wrote to stderr
    answered: list[int]  # the HTTP statuses the server gave the block's requests


ACCESS = re.compile(r'"[A-Z]+ [^"]* HTTP/1\.1" (\d{3})')


def walk(workdir: Path) -> Iterator[tuple[Block, Run]]:
    """Run every block in one bash session, in order."""
    port = free_port()
    env = {key: value for key, value in os.environ.items() if not key.startswith("REFLEXE_")}
    env |= {"PORT": str(port), "REFLEXE_LOG_LEVEL": "info"}  # the access log has the statuses
    errors = workdir / "stderr.log"
    with errors.open("w") as stderr:
        shell = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            cwd=workdir,
            env=env,
            text=True,
        )
    assert shell.stdin is not None
    assert shell.stdout is not None
    shell.stdin.write(PRELUDE + "\nserve --dev\n")  # what `make run` does first
    try:
        for number, block in enumerate(blocks()):
            marker = f"::block-{number}-done::"
            script = textwrap.dedent(rewrite(block.code, port))
            # Any command that fails counts, not only the block's last one.
            shell.stdin.write(
                f"__failed=0; trap '__failed=1' ERR\n{script}\ntrap - ERR\n"
                f"echo\necho {marker} $__failed\n"
            )
            shell.stdin.flush()
            log = workdir / "server.log"
            seen = log.stat().st_size if log.exists() else 0
            output: list[str] = []
            for line in shell.stdout:
                if line.startswith(marker):
                    time.sleep(0.1)  # the server logs a request once it has answered it
                    with log.open("rb") as server_log:
                        server_log.seek(seen)
                        access = server_log.read().decode(errors="replace")
                    answered = [int(status) for status in ACCESS.findall(access)]
                    status = int(line.split()[-1])
                    yield block, Run(status, "".join(output), errors.read_text()[-2000:], answered)
                    break
                output.append(line)
            else:
                raise AssertionError(f"README line {block.line}: the shell ended")
    finally:
        shell.stdin.write('[ -n "${SERVER_PID:-}" ] && kill "$SERVER_PID"\nexit\n')
        shell.stdin.close()
        shell.wait(timeout=30)
        shell.stdout.close()


def test_every_readme_example_runs_as_written(workdir: Path) -> None:
    assert shutil.which("jq"), "the README's examples need jq"
    assert shutil.which("curl"), "the README's examples need curl"
    walked = 0
    for block, run in walk(workdir):
        where = (
            f"README line {block.line}:\n{block.code}\n--- printed:\n{run.printed}"
            f"--- answered: {run.answered}\n--- stderr (end):\n{run.errors}"
        )
        assert run.status == 0, where
        assert all(status < 500 for status in run.answered), where
        if block.expected is not None:
            actual = json_values(run.printed)
            assert len(actual) == len(block.expected), where
            for shown, got in zip(block.expected, actual, strict=True):
                assert matches(shown, got), f"{where}\n--- shown:\n{shown}"
        else:
            # Without output to compare, an example must not meet an error at all.
            assert all(status < 400 for status in run.answered), where
        walked += 1
    runnable = len(list(blocks()))
    assert walked == runnable
    assert runnable >= 15  # the README's examples, not a parsing slip
