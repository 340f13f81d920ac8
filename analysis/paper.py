"""The paper's numbers, and nothing else: "Quick, Draw! Image Classification" (2018).

Source: the paper's claims as transcribed into this project's brief (Sections 3-5 and Figs. 8-11).
We do not hold the PDF, so any number not listed here is reported as NOT_IN_SOURCE, never guessed.
"""

from qd_jax.data.categories import PAPER_CATEGORIES

TITLE = "Quick, Draw! Image Classification (2018)"
NOT_IN_SOURCE = "not in our source"

# Section 3: the ten categories every experiment but H4 draws from.
CATEGORIES = PAPER_CATEGORIES

# Two team members labelled drawings of the ten classes.
HUMAN_ACCURACY = 0.87
HUMAN_CLASSES = 10

# H1: the FC net reaches "reasonable" accuracy; the paper gives no number for "reasonable".
# H2: a CNN beats FC by about 5 points at equal parameter count and trains about 13x faster.
H2_DELTA_POINTS = 5.0
H2_SPEEDUP = 13.0

# H3 (Fig. 8): train/val accuracy and loss at epochs 1 and 10 for 500 ... 10,000 rows per
# category (DESIGN below). We do not have the figure's cell values, only its design.
H3_EPOCHS = (1, 10)

# H4 (Fig. 9): fork (50,000 rows) vs hammer at these minority:majority ratios, tested on
# 20,000 fresh drawings; minority accuracy rises from 43% at 0.2% to 98% at 100%.
H4_MAJORITY = "fork"
H4_MINORITY = "hammer"
H4_MAJORITY_ROWS = 50_000
H4_RATIOS = (0.002, 0.02, 0.1, 0.2, 0.5, 1.0)
H4_TEST_DRAWINGS = 20_000
H4_MINORITY_ACCURACY = {0.002: 0.43, 1.0: 0.98}

# H5 (Fig. 10): k = 3..10 categories; accuracy falls 1.88 points and test loss rises 6.4%
# per added category.
H5_K = tuple(range(3, 11))
H5_ACC_POINTS_PER_CATEGORY = -1.88
H5_LOSS_RELATIVE_PER_CATEGORY = 0.064

# H6 (Fig. 11): n = 7,000..20,000 rows per category at k = 10; accuracy rises 0.0016
# percentage points per added row (1.6 points per 1,000 rows).
H6_ROWS_RANGE = (7_000, 20_000)
H6_ACC_POINTS_PER_ROW = 0.0016

# What each hypothesis' design was in the paper, for the "what was run" table.
DESIGN = {
    "h1": "FC on the ten categories",
    "h2": "FC vs CNN at equal parameters, ten categories",
    "h3": "n = 500, 1,000, 3,000, 5,000, 7,000, 10,000 rows; epochs 1 and 10",
    "h4": "fork 50,000 vs hammer at 0.2%-100%; 20,000 test drawings",
    "h5": "k = 3..10 categories",
    "h6": "n = 7,000..20,000 rows per category at k = 10",
}
