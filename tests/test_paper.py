"""The paper's numbers under paper/: Table 2's averages follow from Table 1's cells where the paper allows."""

from pathlib import Path

import pandas as pd
import pytest

PAPER = Path(__file__).resolve().parent.parent / "paper"
BENCH = ["CV15", "MGB2", "MGB3", "MGB5", "FLEURS"]
IN_HOUSE = ["ALG", "JOR", "PAL", "UAE", "YEM"]
# (row, Table 2 column): the paper's own numbers disagree (recomputed from Table 1 -> printed in Table 2)
KNOWN_MISMATCHES = {
    ("DW-32-16", "sada_test"): "Table 1 prints 72.3, Table 2 prints 66.9",
    ("UDW-16-16++ proxy", "sada_test"): "Table 1 60.2, Table 2 64.1",
    ("UDW-16-16++ sonar", "sada_test"): "Table 1 59.4, Table 2 61.7",
    ("UDW-32-16++ proxy", "sada_test"): "Table 1 55.1, Table 2 58.9",
    ("UDW-32-16++ sonar", "sada_test"): "Table 1 61.6, Table 2 57.9",
    ("UDW-32-16++ proxy", "bench_test"): "mean of Table 1 cells 35.38, Table 2 35.1",
    ("UDW-32-16++ sonar", "bench_test"): "mean of Table 1 cells 35.12, Table 2 35.4",
    ("UDW-32-16++ proxy", "ih"): "mean of Table 1 cells 60.90, Table 2 60.3",
    ("UDW-32-16++ sonar", "ih"): "mean of Table 1 cells 60.32, Table 2 60.9",
}


@pytest.fixture(scope="module")
def tables():
    return pd.read_csv(PAPER / "table1.csv").set_index("model"), pd.read_csv(PAPER / "table2.csv").set_index("model")


def recomputed(t1: pd.DataFrame, model: str) -> dict[str, float]:
    row = t1.loc[model]
    return {"bench_test": row[BENCH].mean(), "ih": row[IN_HOUSE].mean(), "sada_test": row["SADA"]}


def test_every_table2_row_is_in_table1(tables):
    t1, t2 = tables
    assert set(t2.index) <= set(t1.index)
    assert len(t1) == 34 and t1.loc["W-L-v2", "group"] == "teacher"


@pytest.mark.parametrize("column", ["bench_test", "ih", "sada_test"])
def test_table2_averages_follow_from_table1(tables, column):
    t1, t2 = tables
    checked = 0
    for model in t2.index:
        value = recomputed(t1, model)[column]
        if (model, column) in KNOWN_MISMATCHES:
            assert abs(value - t2.loc[model, column]) > 0.1, f"{model} {column} is no longer a mismatch"
            continue
        # Table 2 rounds 2-decimal means to 1 decimal (some truncate): within 0.1
        assert value == pytest.approx(t2.loc[model, column], abs=0.1), model
        checked += 1
    assert checked >= 16


def test_known_teacher_average():
    t1 = pd.read_csv(PAPER / "table1.csv").set_index("model")
    assert round(t1.loc["W-L-v2", BENCH].mean(), 1) == 41.9


# ---- Table 3: SADA test WER per category --------------------------------------------------------------------

# Table 3 as the paper prints it (its own row names), copied cell by cell; paper/table3.csv uses Table 1's names
PRINTED_TABLE3 = """
W-FT | 106.4 | 77.0 | 117.8 | 84.2 | 139.9
SM4T-v1 | 56.5 | 74.0 | 61.9 | 54.6 | 69.6
SM4T-v2 | 52.6 | 76.2 | 58.2 | 53.3 | 74.7
W-M | 88.2 | 107.9 | 102.8 | 86.7 | 134.0
W-L-v2 | 56.6 | 74.0 | 80.2 | 63.4 | 98.2
W-L-v3 | 53.1 | 73.7 | 70.5 | 61.7 | 89.0
DW-16-16 | 58.2 | 74.9 | 65.1 | 58.2 | 68.4
DW-32-16 | 58.7 | 74.9 | 66.7 | 58.7 | 70.1
DW-16-16++ | 58.8 | 81.9 | 62.1 | 57.5 | 77.5
DW-32-16++ | 51.7 | 67.8 | 57.5 | 52.6 | 67.5
NoFilter 16-16 | 61.6 | 90.4 | 72.9 | 68.5 | 88.8
NoFilter 32-16 | 58.2 | 82.3 | 67.3 | 60.4 | 76.6
UDW-16-16 proxy | 60.2 | 75.6 | 65.7 | 62.1 | 75.6
UDW-16-16 sonar | 64.6 | 59.9 | 84.6 | 72.1 | 66.6
UDW-32-16 proxy | 53.4 | 75.7 | 60.0 | 51.4 | 72.8
UDW-32-16 sonar | 48.8 | 52.6 | 67.5 | 58.3 | 48.9
UDW-16-16++ proxy | 53.4 | 73.9 | 61.9 | 53.3 | 68.6
UDW-16-16++ sonar | 53.7 | 69.4 | 61.4 | 53.7 | 64.6
UDW-32-16++ proxy | 48.9 | 66.7 | 60.6 | 48.7 | 66.0
UDW-32-16++ sonar | 50.5 | 65.3 | 57.3 | 49.1 | 61.8
"""
TABLE3_NAMES = {"SM4T-v1": "SM4T-L-v1", "SM4T-v2": "SM4T-L-v2", "NoFilter 16-16": "NoFilter DW-16-16",
                "NoFilter 32-16": "NoFilter DW-32-16"}  # Table 3 (and 2) short names -> Table 1's
CATEGORIES = ["NJD", "MTOS", "KHLJ", "HJZ", "UNK"]
# the paper's text gives two top-5 averages; (row) -> (stated, recomputed from Table 3) where they disagree
TABLE3_AVERAGES = {"DW-32-16++": 59.42, "UDW-32-16++ proxy": 58.06}
TABLE3_KNOWN_MISMATCHES = {"UDW-32-16++ proxy": "the text says 58.06, the Table 3 cells average 58.18"}


def test_table3_matches_the_printed_table_cell_by_cell():
    t3 = pd.read_csv(PAPER / "table3.csv").set_index("model")
    assert list(t3.columns) == CATEGORIES
    printed = [line.split(" | ") for line in PRINTED_TABLE3.strip().splitlines()]
    assert [TABLE3_NAMES.get(row[0], row[0]) for row in printed] == list(t3.index)  # every row, in order
    for row in printed:
        name = TABLE3_NAMES.get(row[0], row[0])
        for column, cell in zip(CATEGORIES, row[1:], strict=True):
            assert t3.loc[name, column] == float(cell), (name, column)


def test_table3_rows_are_table1_rows_and_the_stated_averages_follow(tables):
    t1, _ = tables
    t3 = pd.read_csv(PAPER / "table3.csv").set_index("model")
    assert set(t3.index) <= set(t1.index) and len(t3) == 20
    for model, stated in TABLE3_AVERAGES.items():
        mean = t3.loc[model, CATEGORIES].mean()
        if model in TABLE3_KNOWN_MISMATCHES:
            assert round(mean, 2) == 58.18 and abs(mean - stated) > 0.05, f"{model} is no longer a mismatch"
            continue
        assert round(mean, 2) == stated, model
