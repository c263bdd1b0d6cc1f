"""The Docker build context holds what the Dockerfile copies, and not the rest."""

import os
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]


def translate(pattern: str) -> re.Pattern[str]:
    """A .dockerignore pattern as a regex: `*` and `?` within a name, `**` across them."""
    regex = ""
    for token in re.split(r"(\*\*/|\*\*|\*|\?)", pattern.strip("/")):
        regex += {"**/": "(?:.*/)?", "**": ".*", "*": "[^/]*", "?": "[^/]"}.get(
            token, re.escape(token)
        )
    return re.compile(regex + "$")


def rules() -> list[tuple[bool, re.Pattern[str]]]:
    """The patterns of .dockerignore in order, each with whether it excludes."""
    found = []
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            found.append((not line.startswith("!"), translate(line.removeprefix("!"))))
    return found


def is_excluded(path: str) -> bool:
    """Docker's rule: the last pattern that matches the path, or one of its parents, decides."""
    parts = path.split("/")
    candidates = ["/".join(parts[:end]) for end in range(1, len(parts) + 1)]
    excluded = False
    for excludes, pattern in rules():
        if any(pattern.match(candidate) for candidate in candidates):
            excluded = excludes
    return excluded


def copied_sources() -> list[str]:
    """The source paths of every COPY of the Dockerfile (flags and destination left out)."""
    sources = []
    for line in (ROOT / "Dockerfile").read_text().splitlines():
        words = line.split()
        if words and words[0].upper() == "COPY":
            sources += [word for word in words[1:] if not word.startswith("--")][:-1]
    return sources


def test_the_context_keeps_every_file_the_dockerfile_copies() -> None:
    sources = copied_sources()

    assert sources, "no COPY found in the Dockerfile"
    for source in sources:
        assert (ROOT / source).exists(), source
        assert not is_excluded(source), f"{source} is copied but .dockerignore excludes it"
        for directory, names, files in os.walk(ROOT / source):
            names[:] = [name for name in names if name != "__pycache__"]
            for name in files:
                path = (Path(directory) / name).relative_to(ROOT).as_posix()
                assert not is_excluded(path), f"{path} is copied but .dockerignore excludes it"


@pytest.mark.parametrize(
    "path",
    [
        ".venv",
        ".venv/bin/python",
        "data",
        "data/reflexe.db",
        ".git",
        ".git/HEAD",
        ".env",
        ".pytest_cache",
        ".mypy_cache/3.11/app",
        "reflexe.egg-info/PKG-INFO",
        "app/__pycache__/main.cpython-311.pyc",
        "app/engine/__pycache__",
        "tests/test_cli.py",
        "bench/RESULTS.md",
    ],
)
def test_the_context_leaves_out(path: str) -> None:
    assert is_excluded(path)
