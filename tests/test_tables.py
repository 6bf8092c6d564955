import json

import pandas as pd
import pytest

from udistil.paper import claims, paper_row_name, side_by_side
from udistil.tables import build_matrix_outputs, matrix_rows


def write_metrics(root, model, corpus, split, wer, cer):
    path = root / "eval" / model / corpus / f"{split}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"wer": wer, "cer": cer, "model": model, "split": split, "rtf": 0.1}))
    return str(path)


@pytest.fixture
def grid(tmp_path):
    rows = matrix_rows("teacher-m", ["zs"], ["6-3"], ["pool"], ["proxy", "none", "supervised", "conf"])
    sets, splits = ["a", "b", "c"], ["test", "validation"]
    paths = []
    for i, row in enumerate(rows):
        for j, s in enumerate(sets):
            for k, split in enumerate(splits):
                paths.append(write_metrics(tmp_path, row.model, s, split, 10.0 * (i + 1) + j + 0.5 * k, 5.0 + i))
    return tmp_path, rows, sets, splits, paths


def test_rows_follow_the_papers_grouping():
    rows = matrix_rows("t", ["zs", "t"], ["16-16", "32-16"], ["p"], ["proxy", "none", "sonar", "supervised"])
    assert [r.model for r in rows[:2]] == ["t", "zs"]
    assert [r.filter for r in rows[2:6]] == ["none", "supervised", "proxy", "sonar"]
    assert [r.group for r in rows[2:6]] == ["no-filter", "supervised", "label-free", "label-free"]
    assert rows[6].model == "student-32-16-p-none"


def matrix(paths, rows, sets, benchmark, splits, stand_ins, out):
    return build_matrix_outputs(metric_paths=paths, rows=rows, sets=sets, benchmark=benchmark, splits=splits,
                                stand_ins=stand_ins, out_csv=out["csv"], out_md=out["md"], out_tex=out["tex"])


def test_matrix_layout_averages_bold_and_stand_in(grid):
    tmp, rows, sets, splits, paths = grid
    out = {k: tmp / f"m.{k}" for k in ("csv", "md", "tex")}
    m = matrix(paths, rows, sets, ["a", "b"], splits, {"conf": "stand-in"}, out)
    assert list(m.columns[:5]) == ["model", "group", "arch", "pool", "filter"]
    assert list(m.columns[5:]) == ["a", "b", "c", "bench_test", "bench_validation",
                                   "a_cer", "b_cer", "c_cer", "bench_test_cer", "bench_validation_cer"]
    teacher = m.iloc[0]
    assert (teacher["a"], teacher["b"], teacher["c"]) == (10.0, 11.0, 12.0)
    assert teacher["bench_test"] == 10.5 and teacher["bench_validation"] == 11.0  # mean of a and b only
    assert m.loc[m.model == "student-6-3-pool-conf", "filter"].item() == "conf*"
    md = out["md"].read_text()
    assert "| teacher-m | teacher | **10.00** | **11.00** | **12.00** | **10.50** | **11.00** |" in md
    assert "\\* conf: stand-in." in md
    tex = out["tex"].read_text()
    assert tex.count(r"\toprule") == 2 and r"\textbf{10.00}" in tex and "student-6-3-pool-none" in tex
    first = {p: p.read_bytes() for p in out.values()}
    matrix(paths, rows, sets, ["a", "b"], splits, {"conf": "stand-in"}, out)
    assert {p: p.read_bytes() for p in out.values()} == first  # byte-identical rebuild


def test_missing_metric_is_an_error(grid):
    tmp, rows, sets, splits, paths = grid
    with pytest.raises(KeyError):
        matrix(paths[1:], rows, sets, sets, splits, {}, {k: tmp / f"x.{k}" for k in ("csv", "md", "tex")})


def test_paper_names_and_side_by_side():
    cfg = {"teacher": "W-L-v2", "pools": {"p500": "++"}, "columns": {"cv15": "CV15"}}
    assert paper_row_name("student-32-16-p500-sonar", "label-free", "32-16", "p500", "sonar", cfg) == \
        "UDW-32-16++ sonar"
    assert paper_row_name("student-16-16-p100-none", "no-filter", "16-16", "p100", "none", cfg) == \
        "NoFilter DW-16-16"
    matrix = pd.DataFrame([{"model": "t", "group": "teacher", "arch": "", "pool": "", "filter": "", "cv15": 20.0},
                           {"model": "s", "group": "supervised", "arch": "16-16", "pool": "p100", "filter":
                            "supervised", "cv15": 21.1}])
    published = pd.read_csv("paper/table1.csv").set_index("model")
    sbs = side_by_side(matrix, published, cfg)
    assert sbs[["paper_row", "published_wer", "difference"]].values.tolist() == [["W-L-v2", 19.6, 0.4],
                                                                                 ["DW-16-16", 22.1, -1.0]]


def test_claims_are_measured_not_asserted():
    m = pd.DataFrame([
        {"model": "t", "group": "teacher", "arch": "", "pool": "", "filter": "", "bench_test": 30.0},
        {"model": "n", "group": "no-filter", "arch": "6-3", "pool": "p", "filter": "none", "bench_test": 40.0},
        {"model": "s", "group": "supervised", "arch": "6-3", "pool": "p", "filter": "supervised", "bench_test": 35.0},
        {"model": "a", "group": "label-free", "arch": "6-3", "pool": "p", "filter": "proxy", "bench_test": 35.5},
        {"model": "b", "group": "label-free", "arch": "6-3", "pool": "p", "filter": "conf", "bench_test": 36.0},
        {"model": "c", "group": "label-free", "arch": "6-3", "pool": "p", "filter": "sonar*", "bench_test": 39.0},
    ])
    out = {c["claim"].split(" ")[1] + c["claim"][-20:]: c["holds"] for c in claims(m)}
    assert list(out.values()) == [True, True, False]
    assert not any("efficient" in c["claim"] for c in claims(m))  # timings live in the efficiency tables only
