"""The URL forms reidfw prints for the MLflow UI (followed in a real browser by test_mlflow_ui_browser.py)."""
import json
from urllib.parse import parse_qs, unquote, urlsplit

from reidfw.mlflow_logging.ui_links import compare_url, run_url, runs_url, ui_base


def test_sqlite_store_is_served_by_mlflow_ui_on_localhost():
    base, serve = ui_base("sqlite:////data/team runs/mlflow.db")
    assert base == "http://127.0.0.1:5000"
    assert serve == "mlflow ui --backend-store-uri 'sqlite:////data/team runs/mlflow.db'"


def test_server_store_is_its_own_ui():
    assert ui_base("http://mlflow.example.org:5000/") == ("http://mlflow.example.org:5000", None)


def test_every_link_lands_on_runs_not_the_genai_overview():
    base = "http://h:5000"
    assert runs_url(base, "7") == "http://h:5000/#/experiments/7/runs?workflowType=machine_learning"
    assert run_url(base, "7", "abc") == "http://h:5000/#/experiments/7/runs/abc?workflowType=machine_learning"
    assert run_url(base, "7", "abc", "evaluation/study/heatmaps") == (
        "http://h:5000/#/experiments/7/runs/abc/artifacts/evaluation/study/heatmaps?workflowType=machine_learning")


def test_compare_link_names_runs_and_experiments_as_json_lists():
    url = compare_url("http://h:5000", ["2", "1", "2"], ["a", "b"])
    route, query = urlsplit(url).fragment.split("?")
    assert route == "/compare-runs" and "[" not in url and '"' not in url  # percent-encoded: terminals keep it whole
    q = parse_qs(query)
    assert json.loads(unquote(q["runs"][0])) == ["a", "b"]
    assert json.loads(unquote(q["experiments"][0])) == ["1", "2"]
    assert q["workflowType"] == ["machine_learning"]
