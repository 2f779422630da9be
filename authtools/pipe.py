"""A reader that goes away (``python -m authtools ids | head -3``) ends the output quietly.

When the reading end of stdout closes, the next write or flush raises BrokenPipeError, and the
flush at interpreter exit prints "Exception ignored ... BrokenPipeError" and exits 120. Here the
rest of the output goes to /dev/null instead (as the Python documentation of SIGPIPE advises),
so the command finishes as it would have with its output discarded, with its own exit status.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any, TextIO


def discard_stdout() -> None:
    """Send whatever is still written to stdout, buffered or to come, to /dev/null."""
    with contextlib.suppress(OSError, ValueError):
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, sys.stdout.fileno())
        finally:
            os.close(devnull)


@contextlib.contextmanager
def closed_stdout_is_quiet(stream: TextIO | None = None) -> Iterator[None]:
    """Run the block and flush STREAM (stdout); a closed pipe discards the rest of the output."""
    try:
        yield
        (stream or sys.stdout).flush()
    except BrokenPipeError:
        discard_stdout()


def print_out(text: str) -> None:
    """print(TEXT), quietly discarded once the reader went away."""
    with closed_stdout_is_quiet():
        print(text)


def quiet_stdout(options: dict[str, Any]) -> None:
    """For a management command's execute(): write to a QuietStdout unless a stream was given
    (call_command(stdout=...))."""
    if not options.get("stdout"):
        options["stdout"] = QuietStdout(sys.stdout)


class QuietStdout:
    """sys.stdout for a management command's OutputWrapper: a closed pipe discards the rest."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        with closed_stdout_is_quiet(self._stream):
            self._stream.write(text)
        return len(text)

    def flush(self) -> None:
        with closed_stdout_is_quiet(self._stream):
            pass

    def isatty(self) -> bool:
        return self._stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
