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
