"""The benchmark wing: profiles, run specifications, the resumable runner, aggregation, effect checks
and the report (paper Sec. 4.2, Fig. 4, S10, S11)."""

from toy_benchmark.benchmark.aggregation import MEASURES, ROW_LABELS, aggregate, profile_summary
from toy_benchmark.benchmark.effects import CBL_THRESHOLD, EFFECT_MARGIN, GRADIENT_METHODS, MIN_CBL_IMAGES, effect_checks
from toy_benchmark.benchmark.intervals import ENTRIES, group_intervals
from toy_benchmark.benchmark.profiles import (NUM_TEXTURES, PAPER, PARAMETER_SWEEPS, PROFILES, Profile,
                                              grid_saliency_default)
from toy_benchmark.benchmark.reproducibility import environment_record, make_reproducible
from toy_benchmark.benchmark.report import REPORT_FILE, SUMMARY_FILE, sweep_table, write_report
from toy_benchmark.benchmark.runner import (REPORT_KIND, RESULT_FILE, RUN_KIND, BenchmarkResults, RunRecord,
                                           run_benchmark, run_one, run_sweeps, train_one)
from toy_benchmark.benchmark.specs import RunSpec, SweepSpec, plan_runs, plan_sweeps

__all__ = [
    "EFFECT_MARGIN",
    "CBL_THRESHOLD",
    "MIN_CBL_IMAGES",
    "ENTRIES",
    "GRADIENT_METHODS",
    "group_intervals",
    "MEASURES",
    "NUM_TEXTURES",
    "PAPER",
    "PARAMETER_SWEEPS",
    "PROFILES",
    "Profile",
    "REPORT_FILE",
    "ROW_LABELS",
    "REPORT_KIND",
    "RESULT_FILE",
    "RUN_KIND",
    "BenchmarkResults",
    "RunRecord",
    "RunSpec",
    "SUMMARY_FILE",
    "SweepSpec",
    "aggregate",
    "effect_checks",
    "environment_record",
    "grid_saliency_default",
    "make_reproducible",
    "plan_runs",
    "plan_sweeps",
    "profile_summary",
    "run_benchmark",
    "run_one",
    "run_sweeps",
    "train_one",
    "sweep_table",
    "write_report",
]
