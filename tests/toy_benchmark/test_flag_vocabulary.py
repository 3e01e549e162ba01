"""One flag vocabulary across the project's binaries (issue 9).

Every ``*_main`` module is imported in one subprocess (absl flags are process-global, and two binaries
define the same names), its flags are read from absl's registry, and the decided vocabulary is checked:
no ``--seed``/``--bias``/other retired names, no aliases, the vocabulary's names with their types, and
one meaning per name across binaries.
"""

import json
import os
import subprocess
import sys

import pytest

BINARIES = (
    "toy_benchmark.generate_main",
    "toy_benchmark.train_main",
    "toy_benchmark.evaluate_main",
    "toy_benchmark.sweep_main",
    "deeplab_utils.explain_main",
)
#: Names replaced by the vocabulary: ``--seed`` meant the dataset seed in one binary and the model seed
#: in another, ``--bias`` was an alias of ``--bias_strength``, and so on.
RETIRED = {
    "seed": "dataset_seed or model_seed",
    "seeds": "dataset_seeds",
    "bias": "bias_strength",
    "strengths": "bias_strengths",
    "textures": "texture_dir",
    "mnist": "mnist_path",
    "progress": "verbose",
}
LIST = "comma separated list of strings"  # absl's name of a DEFINE_list flag's type
#: The decided vocabulary: flag name -> absl flag type (and enum values where there are some).
VOCABULARY = {
    "bias_strength": ("string enum", ["none", "strong", "weak"]),
    "bias_digit": ("int", None),
    "bias_texture": ("int", None),
    "dataset_seed": ("int", None),
    "model_seed": ("int", None),
    "texture_dir": ("string", None),
    "mnist_path": ("string", None),
    "bias_strengths": (LIST, None),
    "bias_digits": (LIST, None),
    "bias_textures": (LIST, None),
    "dataset_seeds": (LIST, None),
    "output_dir": ("string", None),
    "runs_dir": ("string", None),
    "report_dir": ("string", None),
    "overwrite": ("bool", None),
    "verbose": ("int", None),
    "num_train": ("int", None),
    "num_test": ("int", None),
    "num_samples": ("int", None),
    "batch_size": ("int", None),
    "global_seed": ("int", None),
    "deterministic": ("bool", None),
}

_DUMP = r"""
import importlib, json, sys
from absl import flags

def plain(value):
    return value if value is None or isinstance(value, (bool, int, float, str, list)) else repr(value)

result = {}
for name in sys.argv[1:]:
    importlib.import_module(name)
    found = {}
    for key in list(flags.FLAGS):
        if flags.FLAGS.find_module_defining_flag(key) != name:
            continue
        flag = flags.FLAGS[key]
        found[key] = {"name": flag.name, "type": flag.flag_type(), "alias": type(flag).__name__ == "_FlagAlias",
                      "default": plain(flag.default), "help": flag.help,
                      "enum": sorted(getattr(flag.parser, "enum_values", None) or []) or None}
    result[name] = found
    for key in found:
        delattr(flags.FLAGS, key)
owners = sorted({flags.FLAGS.find_module_defining_flag(key) or "" for key in flags.FLAGS})
result["__other_definers__"] = [m for m in owners if m.split(".")[0] in ("toy_benchmark", "deeplab_utils",
                                                                          "grid_saliency_tf")]
print(json.dumps(result))
"""


@pytest.fixture(scope="module")
def registry():
    """What the subprocess found: per binary module its flags, and the other project modules defining flags."""
    result = subprocess.run([sys.executable, "-c", _DUMP, *BINARIES], capture_output=True, text=True,
                            env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}, cwd=os.getcwd())
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.fixture
def binaries(registry):
    """Per binary module, its flags: name -> {name, type, alias, default, help, enum}."""
    return {module: registry[module] for module in BINARIES}


def test_flags_are_defined_only_in_binaries(registry, binaries):
    assert registry["__other_definers__"] == []
    for module, found in binaries.items():
        assert found, f"{module} defines no flags"


@pytest.mark.parametrize("module", BINARIES)
def test_no_retired_names_and_no_aliases(binaries, module):
    flags = binaries[module]
    retired = {name: RETIRED[name] for name in flags if name in RETIRED}
    assert not retired, f"{module} still defines retired flags (use instead): {retired}"
    aliases = [name for name, flag in flags.items() if flag["alias"] or flag["name"] != name]
    assert not aliases, f"{module} defines aliases {aliases}"


@pytest.mark.parametrize("module", BINARIES)
def test_vocabulary_names_have_their_types(binaries, module):
    for name, flag in binaries[module].items():
        if name in VOCABULARY:
            kind, values = VOCABULARY[name]
            assert (flag["type"], flag["enum"]) == (kind, values), f"{module} --{name}"


@pytest.mark.parametrize("module", BINARIES)
def test_every_binary_has_verbose_and_overwrite_for_its_output(binaries, module):
    flags = binaries[module]
    assert "verbose" in flags, f"{module} has no --verbose"
    if {"output_dir", "runs_dir"} & set(flags):
        assert "overwrite" in flags, f"{module} writes a folder but has no --overwrite"


def test_same_name_same_meaning_across_binaries(binaries):
    definitions: dict[str, list[tuple[str, dict]]] = {}
    for module, flags in binaries.items():
        for name, flag in flags.items():
            definitions.setdefault(name, []).append((module, flag))
    for name, found in definitions.items():
        kinds = {(flag["type"], json.dumps(flag["enum"])) for _, flag in found}
        assert len(kinds) == 1, f"--{name} has different types across binaries: {[(m, f['type']) for m, f in found]}"
    # The seed that once had two meanings: the dataset seed draws the training set, the model seed the weights.
    for module, flag in definitions.get("model_seed", []):
        assert "weight" in flag["help"].lower(), f"{module} --model_seed: {flag['help']!r}"
    for module, flag in definitions.get("dataset_seed", []):
        assert "weight" not in flag["help"].lower(), f"{module} --dataset_seed: {flag['help']!r}"
