"""Runs command lines of one binary one after the other in a single child process.

A binary's absl flags must stay out of the test process (binaries define flags of the same names), so its
tests start a child; importing TensorFlow there costs about 6 s of CPU on the CI machine, once per child.
`run_cases` starts one child for all the command lines of a test and runs each through
`grid_saliency_tf.experiment.run_binary(main, ...)`, the binaries' own entry point, so every case gets the
exit status, stdout and stderr a user would (flags parsed afresh per case). Tests keep a real process per
binary where the process itself is under test (Ctrl-C, spawned workers, the interpreter's exit).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

_RUNNER = """
import contextlib, importlib, importlib.util, io, json, sys
from absl import flags
from grid_saliency_tf.experiment import run_binary
target, name, cases = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
if target.endswith(".py"):
    spec = importlib.util.spec_from_file_location("binary_under_test", target)
    binary = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(binary)
else:
    binary = importlib.import_module(target)
def case(args):
    flags.FLAGS.unparse_flags()
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
        try:
            run_binary(binary.main, name=name, argv=[name, *args])
        except SystemExit as exit:
            return {"code": exit.code or 0, "stdout": out.getvalue(), "stderr": err.getvalue()}
print("RESULTS" + json.dumps([case(args) for args in cases]))
"""


def run_cases(target: str, name: str, cases: Sequence[Sequence[str]], *, env: dict[str, str] | None = None,
              timeout: float = 600) -> list[dict]:
    """Runs each command line of `cases` through the binary's main in one child process.

    Args:
        target: The binary's module (``"toy_benchmark.generate_main"``) or the path of a script.
        name: The program name its messages start with (as the binary passes it to `run_binary`).
        cases: The command lines, flags only.
        env: The child's environment (default: this one, the repository on the path, TensorFlow's C++ log
            quiet).
        timeout: Seconds for all the cases together.

    Returns:
        Per case, in order: ``{"code": exit status, "stdout": str, "stderr": str}``.
    """
    if env is None:
        env = {**os.environ, "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
               "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run([sys.executable, "-c", _RUNNER, target, name, json.dumps([list(c) for c in cases])],
                          capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)
    if done.returncode != 0 or "RESULTS" not in done.stdout:
        raise AssertionError(f"the cases' process failed (exit {done.returncode}): {done.stderr[-3000:]}")
    return json.loads(done.stdout.split("RESULTS", 1)[1])
