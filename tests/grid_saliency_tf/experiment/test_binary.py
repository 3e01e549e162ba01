"""run_binary, end to end: a tiny absl binary run as a subprocess, one case per exit path.

Most cases load ``binary.py`` by its file path (it imports only absl), so that a subprocess starts in
a fraction of a second instead of importing TensorFlow through ``grid_saliency_tf``; one case runs the
binary as the project's binaries do, through the package.
"""

import os
import signal
import subprocess
import sys
import textwrap

from grid_saliency_tf.experiment.binary import error_line
from grid_saliency_tf.experiment.run_folder import RunFolderError

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BINARY_PY = os.path.join(REPO_ROOT, "grid_saliency_tf", "experiment", "binary.py")
LIGHT_IMPORT = textwrap.dedent(f'''
    import importlib.util
    _spec = importlib.util.spec_from_file_location("experiment_binary", {BINARY_PY!r})
    _module = importlib.util.module_from_spec(_spec)
    _spec.loader.exec_module(_module)
    run_binary = _module.run_binary
    class RunFolderMismatch(ValueError):
        pass
''')
PACKAGE_IMPORT = "from grid_saliency_tf.experiment import RunFolderMismatch, run_binary\n"

BINARY = textwrap.dedent('''
    """A tiny binary: --mode picks how main ends."""
    import sys
    import time

    from absl import app, flags

    IMPORTS

    _MODE = flags.DEFINE_enum("mode", "ok", ["ok", "value_error", "missing_file", "mismatch", "interrupt",
                                             "wait", "bug", "usage"], "How main ends.")
    _COUNT = flags.DEFINE_integer("count", 1, "A number.")
    _OUT = flags.DEFINE_string("out", None, "Required.", required=True)


    def main(argv):
        mode = _MODE.value
        if mode == "value_error":
            raise ValueError("Argument `count` must be even;\\n   received 3.")
        if mode == "missing_file":
            open("/no/such/file.json")
        if mode == "mismatch":
            raise RunFolderMismatch("'runs/a' holds another run (settings.epochs: recorded 6, requested 12)", [])
        if mode == "interrupt":
            raise KeyboardInterrupt
        if mode == "usage":
            raise app.UsageError("--out must name a file")
        if mode == "wait":
            print("ready", flush=True)
            time.sleep(120)
        if mode == "bug":
            return 1 / 0
        print(f"done {_COUNT.value} {_OUT.value}", flush=True)


    if __name__ == "__main__":
        run_binary(main, name="tiny")
''')


def _start(tmp_path, *arguments, imports=LIGHT_IMPORT):
    script = tmp_path / ("light.py" if imports is LIGHT_IMPORT else "package.py")
    if not script.exists():
        script.write_text(BINARY.replace("IMPORTS\n", imports))
    return subprocess.Popen([sys.executable, str(script), *arguments], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PYTHONPATH": REPO_ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"})


def _finish(process):
    """Exit status, stdout and the stderr lines (without TensorFlow's C++ start-up lines)."""
    stdout, stderr = process.communicate(timeout=300)
    native = ("WARNING: All log messages before absl::InitializeLog", "To enable the following instructions")
    lines = [line for line in stderr.splitlines()
             if line.strip() and not line.startswith(native) and not (line[:1] in "IWEF" and line[1:5].isdigit())]
    return process.returncode, stdout, lines


def test_exit_codes_and_one_line_messages(tmp_path):
    cases = {
        "ok": (["--out=x", "--count=3"], 0, []),
        "bad flag value": (["--out=x", "--count=abc"], 2,
                           ["tiny: error: flag --count=abc: invalid literal for int() with base 10: 'abc' "
                            "(--help lists the flags)"]),
        "unknown flag": (["--out=x", "--colour=red"], 2,
                         ["tiny: error: Unknown command line flag 'colour' (--help lists the flags)"]),
        "missing required flag": ([], 2, ["tiny: error: flag --out=None: Flag --out must have a value other "
                                          "than None. (--help lists the flags)"]),
        "positional": (["--out=x", "extra"], 2, ["tiny: error: unexpected arguments: extra"]),
        "value error": (["--out=x", "--mode=value_error"], 2,
                        ["tiny: error: Argument `count` must be even; received 3."]),
        "missing file": (["--out=x", "--mode=missing_file"], 2,
                         ["tiny: error: No such file or directory: '/no/such/file.json'"]),
        "usage error": (["--out=x", "--mode=usage"], 2, ["tiny: error: --out must name a file"]),
        "interrupt": (["--out=x", "--mode=interrupt"], 130,
                      ["tiny: interrupted; run the same command again to resume"]),
    }
    processes = {name: _start(tmp_path, *arguments) for name, (arguments, _, _) in cases.items()}
    for name, (_, status, lines) in cases.items():
        code, stdout, own = _finish(processes[name])
        assert (code, own) == (status, lines), name
        assert stdout == ("done 3 x\n" if name == "ok" else "")


def test_ctrl_c_ends_with_one_line_and_status_130(tmp_path):
    process = _start(tmp_path, "--out=x", "--mode=wait")
    try:
        assert process.stdout.readline() == "ready\n"
        process.send_signal(signal.SIGINT)
        code, _, own = _finish(process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert code == 130
    assert own == ["tiny: interrupted; run the same command again to resume"]


def test_a_bug_keeps_its_traceback(tmp_path):
    code, stdout, own = _finish(_start(tmp_path, "--out=x", "--mode=bug"))
    assert code == 1
    assert own[0] == "Traceback (most recent call last):" and own[-1] == "ZeroDivisionError: division by zero"


def test_through_the_package_a_run_folder_error_is_one_line_with_status_2(tmp_path):
    assert issubclass(RunFolderError, ValueError)
    code, stdout, own = _finish(_start(tmp_path, "--out=x", "--mode=mismatch", imports=PACKAGE_IMPORT))
    assert (code, stdout) == (2, "")
    assert own == ["tiny: error: 'runs/a' holds another run (settings.epochs: recorded 6, requested 12)"]


def test_error_line():
    assert error_line(ValueError("a\n  b\tc")) == "a b c"
    assert error_line(FileNotFoundError(2, "No such file or directory", "x.json")) == \
        "No such file or directory: 'x.json'"
    assert error_line(KeyError()) == "KeyError"
