"""Experiment I/O shared by the binaries: atomic files, typed JSON records, run folders, figures.

Nothing here is needed by the maths: ``grid_saliency_tf`` does not import this package, and this
package imports matplotlib only inside the functions that draw with it. See docs/experiment.md.

- `files`: `atomic_path`, `write_bytes`, `write_text`, `write_json` (no NaN), `read_json`.
- `records`: `Record`, a frozen dataclass stored as JSON with a schema name and version.
- `run_folder`: `RunFolder`, a locked folder that records its run, resumes it, refuses another.
- `binary`: `run_binary`, one-line errors with exit status 2 and Ctrl-C with 130 for absl binaries.
- `figures`: `overlay` (saliency in red, request in blue), `tile`, PNG files, matplotlib figures.
- `progress`: `Progress`, a tqdm bar that is silent at verbose 0.
- `bootstrap`: `bootstrap_interval`, seeded percentile intervals over images (`Interval`).
"""

from grid_saliency_tf.experiment.binary import EXIT_ERROR, EXIT_INTERRUPTED, USER_ERRORS, error_line, run_binary
from grid_saliency_tf.experiment.bootstrap import (
    DEFAULT_CONFIDENCE,
    DEFAULT_NUM_RESAMPLES,
    Interval,
    bootstrap_interval,
    mean_statistic,
)
from grid_saliency_tf.experiment.figures import (
    REQUEST_COLOR,
    SALIENCY_COLOR,
    decode_png,
    encode_png,
    new_figure,
    overlay,
    panel_figure,
    save_figure,
    tile,
    to_uint8_rgb,
    write_png,
)
from grid_saliency_tf.experiment.files import (
    TEMPORARY_PREFIX,
    atomic_path,
    copy_file,
    read_json,
    remove_stale_temporaries,
    to_json_value,
    write_bytes,
    write_json,
    write_text,
)
from grid_saliency_tf.experiment.progress import Progress
from grid_saliency_tf.experiment.records import Record, RecordError
from grid_saliency_tf.experiment.run_folder import (
    LOCK_FILE,
    RUN_FILE,
    RunFolder,
    RunFolderBusy,
    RunFolderError,
    RunFolderMismatch,
    differences,
)

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_NUM_RESAMPLES",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "Interval",
    "LOCK_FILE",
    "REQUEST_COLOR",
    "RUN_FILE",
    "Progress",
    "Record",
    "RecordError",
    "RunFolder",
    "RunFolderBusy",
    "RunFolderError",
    "RunFolderMismatch",
    "SALIENCY_COLOR",
    "TEMPORARY_PREFIX",
    "USER_ERRORS",
    "atomic_path",
    "bootstrap_interval",
    "copy_file",
    "decode_png",
    "differences",
    "encode_png",
    "error_line",
    "mean_statistic",
    "new_figure",
    "overlay",
    "panel_figure",
    "read_json",
    "remove_stale_temporaries",
    "run_binary",
    "save_figure",
    "tile",
    "to_uint8_rgb",
    "to_json_value",
    "write_bytes",
    "write_json",
    "write_png",
    "write_text",
]
