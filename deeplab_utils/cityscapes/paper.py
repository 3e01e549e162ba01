"""The paper's Cityscapes numbers, to put a run's results beside them (Hoyer et al., NeurIPS 2019).

Table 1 (main paper), Tables S1 and S2 (supplement S2.1), transcribed from the paper's text; Fig. 6/S14
is a figure without printed numbers, so only its stated findings (Sec. 5) are listed, each as a
comparison a run can check.
"""

from __future__ import annotations

__all__ = ["TABLE_S1", "TABLE_S2", "TABLE_1", "FIG6_FINDINGS", "SAMPLES"]

#: The validation images the paper analyses.
SAMPLES = 500

#: Table S1: images with a counted model-prediction request, per class.
TABLE_S1: dict[str, int] = {
    "rider": 39, "car": 249, "person": 45, "bicycle": 105, "motorcycle": 16, "pole": 162, "traffic sign": 81,
}

#: Table S2: images with a counted error request, per (ground truth, prediction).
TABLE_S2: dict[tuple[str, str], int] = {
    ("rider", "rider"): 160, ("rider", "person"): 67,
    ("person", "person"): 217, ("person", "rider"): 45, ("person", "car"): 29,
    ("bicycle", "bicycle"): 262, ("bicycle", "motorcycle"): 12,
    ("car", "car"): 323, ("car", "motorcycle"): 8, ("car", "person"): 33,
    ("motorcycle", "motorcycle"): 44, ("motorcycle", "bicycle"): 18, ("motorcycle", "car"): 9,
    ("pole", "pole"): 410, ("pole", "building"): 324, ("pole", "vegetation"): 145,
}

#: Table 1: share of the context saliency per context class (columns: TABLE_1_CONTEXT_CLASSES, i.e. road,
#: bicycle, motorcycle, car, vegetation, building, sidewalk, rider, person, pole), per (GT, prediction).
TABLE_1: dict[tuple[str, str], tuple[float, ...]] = {
    ("rider", "rider"): (0.17, 0.22, 0.03, 0.07, 0.09, 0.11, 0.10, 0.07, 0.02, 0.02),
    ("rider", "person"): (0.13, 0.10, 0.01, 0.05, 0.10, 0.24, 0.05, 0.08, 0.11, 0.04),
    ("person", "person"): (0.12, 0.03, 0.00, 0.09, 0.15, 0.22, 0.13, 0.01, 0.05, 0.05),
    ("person", "rider"): (0.09, 0.18, 0.02, 0.04, 0.10, 0.13, 0.07, 0.08, 0.15, 0.03),
    ("person", "car"): (0.19, 0.01, 0.00, 0.32, 0.05, 0.11, 0.03, 0.01, 0.19, 0.01),
    ("bicycle", "bicycle"): (0.18, 0.06, 0.01, 0.05, 0.09, 0.15, 0.19, 0.05, 0.04, 0.04),
    ("bicycle", "motorcycle"): (0.19, 0.27, 0.13, 0.01, 0.02, 0.11, 0.13, 0.03, 0.01, 0.04),
    ("car", "car"): (0.39, 0.02, 0.00, 0.06, 0.11, 0.10, 0.08, 0.01, 0.04, 0.04),
    ("car", "motorcycle"): (0.07, 0.06, 0.22, 0.17, 0.14, 0.07, 0.02, 0.01, 0.00, 0.04),
    ("car", "person"): (0.14, 0.01, 0.00, 0.28, 0.03, 0.14, 0.07, 0.01, 0.22, 0.02),
    ("motorcycle", "motorcycle"): (0.18, 0.04, 0.10, 0.04, 0.07, 0.14, 0.18, 0.05, 0.03, 0.06),
    ("motorcycle", "bicycle"): (0.13, 0.10, 0.07, 0.10, 0.10, 0.14, 0.11, 0.01, 0.05, 0.03),
    ("motorcycle", "car"): (0.16, 0.01, 0.18, 0.10, 0.10, 0.10, 0.11, 0.05, 0.04, 0.06),
    ("pole", "pole"): (0.04, 0.02, 0.00, 0.05, 0.28, 0.23, 0.10, 0.00, 0.03, 0.04),
    ("pole", "building"): (0.04, 0.01, 0.00, 0.04, 0.07, 0.57, 0.02, 0.00, 0.01, 0.05),
    ("pole", "vegetation"): (0.03, 0.00, 0.00, 0.03, 0.63, 0.08, 0.03, 0.00, 0.00, 0.07),
}

#: Sec. 5 on Fig. 6: (requested class, context class, compared with, statement). ``"baseline"`` compares
#: the grid-saliency share with the baseline's share of the same context class (saliency larger when
#: the statement says "more", smaller for "less"); a class name compares two grid-saliency shares.
FIG6_FINDINGS: tuple[tuple[str, str, str, str], ...] = (
    ("rider", "bicycle", "baseline", "more"),
    ("rider", "road", "baseline", "less"),
    ("rider", "vegetation", "baseline", "less"),
    ("rider", "building", "baseline", "less"),
    ("car", "building", "baseline", "less"),
    ("car", "vegetation", "baseline", "less"),
    ("bicycle", "sidewalk", "road", "more"),
)
