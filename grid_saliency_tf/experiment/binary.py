"""The wrapper every absl binary of the project runs under: one-line errors, exit codes, no tracebacks.

Usage, in a binary module that defines its flags::

    def main(argv: list[str]) -> None:
        ...  # hands the flag values to library code

    if __name__ == "__main__":
        run_binary(main, name="toy-train")

and as a console-script entry point ``def run() -> None: run_binary(main, name="toy-train")``.

What the user sees:

- a bad flag (unknown, wrong type, failed validator, required flag missing) or unexpected positional
  arguments: ``NAME: error: <message>`` on stderr, exit status 2; no usage dump;
- an expected error raised by the binary or the library (`USER_ERRORS`: ValueError, TypeError,
  OSError - which covers FileNotFoundError, FileExistsError, NotADirectoryError, PermissionError and a
  full disk - and `RunFolderError`, a ValueError): ``NAME: error: <message>`` on one line, exit 2;
- Ctrl-C (`KeyboardInterrupt`): ``NAME: interrupted; run the same command again to resume``, exit 130;
- success: exit 0 (or ``main``'s return value, passed to `sys.exit` as absl does);
- any other exception is a bug: it keeps its traceback (and absl's exit status 1).

``--help``/``--helpfull`` behave as in absl. TensorFlow prints a few C++ start-up lines when imported
(TF 2.21 prints them whatever ``TF_CPP_MIN_LOG_LEVEL`` says); they are not this wrapper's to hide.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from absl import app, flags

__all__ = ["EXIT_ERROR", "EXIT_INTERRUPTED", "USER_ERRORS", "error_line", "run_binary"]

#: Exit status of a bad flag or an expected error, and of an interruption by Ctrl-C (128 + SIGINT).
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
#: Exceptions reported as one line with exit status 2 (RunFolderError is a ValueError).
USER_ERRORS: tuple[type[BaseException], ...] = (ValueError, TypeError, OSError)


def error_line(error: BaseException) -> str:
    """The message of `error` on one line (whitespace runs collapsed; OSError as "reason: 'file'")."""
    if isinstance(error, OSError) and error.strerror and error.filename is not None:
        text = f"{error.strerror}: {error.filename!r}"
    else:
        text = str(error) or type(error).__name__
    return " ".join(text.split())


def _exit(name: str, message: str, status: int) -> NoReturn:
    print(f"{name}: {message}", file=sys.stderr, flush=True)
    sys.exit(status)


def run_binary(main: Callable[[list[str]], Any], *, name: str,
               user_errors: Sequence[type[BaseException]] = USER_ERRORS,
               allow_positional: bool = False,
               interrupted_message: str = "interrupted; run the same command again to resume",
               argv: list[str] | None = None) -> NoReturn:
    """Parses the flags and runs `main(argv)` with the project's error conventions (module docstring).

    Args:
        main: The binary's main; receives the arguments left after flag parsing, program name first.
        name: The program name that starts every message (e.g. ``"toy-train"``).
        user_errors: Exception types reported as one line with exit status 2.
        allow_positional: Pass positional arguments to `main` instead of refusing them.
        interrupted_message: The line printed after Ctrl-C (after ``NAME: ``).
        argv: The command line, program name first; None for `sys.argv`.

    Raises:
        SystemExit: Always: 0 on success, 2 on a bad flag or expected error, 130 on Ctrl-C.
    """
    errors = tuple(user_errors)

    def parse(arguments: list[str]) -> list[str]:
        try:
            return flags.FLAGS(arguments)
        except flags.Error as error:
            _exit(name, f"error: {error_line(error)} (--help lists the flags)", EXIT_ERROR)

    def wrapped(arguments: list[str]) -> Any:
        if len(arguments) > 1 and not allow_positional:
            _exit(name, f"error: unexpected arguments: {' '.join(arguments[1:])}", EXIT_ERROR)
        try:
            return main(arguments)
        except app.UsageError as error:
            _exit(name, f"error: {error_line(error)}", EXIT_ERROR)
        except errors as error:
            _exit(name, f"error: {error_line(error)}", EXIT_ERROR)

    try:
        app.run(wrapped, argv=argv, flags_parser=parse)
    except KeyboardInterrupt:  # raised by main, or during flag parsing and absl's start-up
        _exit(name, interrupted_message, EXIT_INTERRUPTED)
    sys.exit(0)  # app.run always exits; this keeps the NoReturn promise if it ever does not
