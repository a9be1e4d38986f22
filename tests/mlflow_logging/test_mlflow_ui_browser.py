"""The MLflow UI in a real browser (headless Chromium), starting from the links reidfw prints.

A margin sweep (``train.py -m margin=0.3,0.5``) and one evaluation of both models land in a
SQLite store; ``mlflow ui`` serves it as the summary says. From the printed "compare runs"
link the test ticks the sweep's runs, presses Compare and checks the ``margin`` parameter;
from evaluate.py's links it opens the comparison of the study metrics and one heatmap.
Screenshots go to $REIDFW_TEST_ARTIFACTS/mlflow-ui (default: the test's tmp folder).
"""
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from reidfw.synthetic.cache import ensure_dataset
from reidfw.synthetic.presets import synthetic_preset
from reidfw.mlflow_logging.shared_server import free_port
from tests.training.train_process import ARCFACE, ROOT, run, train_cmd, train_env

TINY_SETTINGS = synthetic_preset("tiny")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]
CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
INSTALL = "sudo apt-get install -y chromium chromium-driver (or make system-deps)"
WAIT = 180  # seconds for a page to show what it should (the UI's bundles are large; CI machines are slow)


def _browser(profile: Path):
    pytest.importorskip("selenium", reason="pip install selenium (in reidfw's dev extra: make test installs it)")
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run", "--disable-sync", f"--user-data-dir={profile}",
                 "--window-size=1600,1000"):
        options.add_argument(flag)
    return webdriver.Chrome(service=Service(str(DRIVER)), options=options)


def _printed(pattern: str, text: str) -> list[str]:
    return re.findall(pattern, text, flags=re.M)


class Page:
    def __init__(self, driver, shots: Path):
        from selenium.webdriver.common.by import By

        self.d, self.by, self.shots = driver, By, shots

    def text(self) -> str:
        return self.d.find_element(self.by.TAG_NAME, "body").text

    def wait_for(self, predicate, what: str):
        end = time.monotonic() + WAIT
        while time.monotonic() < end:
            try:
                if result := predicate():
                    return result
            except Exception:  # the page is re-rendering under us: ask again
                pass
            time.sleep(0.5)
        self.shot("timeout")
        raise AssertionError(f"the page never showed {what}; it shows:\n{self.text()[:2000]}")

    def open_link(self, url: str) -> None:
        """As a click on a printed link does: a new tab, a full page load (the single-page app does not
        reload a compare view when only the part after # changes)."""
        self.d.switch_to.new_window("tab")
        self.d.get(url)

    def close_assistant(self) -> None:
        # MLflow 3 opens an assistant panel over the right of the page; users close it.
        for button in self.d.find_elements(self.by.CSS_SELECTOR, "button[aria-label=Close]"):
            try:
                button.click()
            except Exception:
                pass

    def shot(self, name: str) -> Path:
        path = self.shots / f"{name}.png"
        self.d.save_screenshot(str(path))
        return path


def test_sweep_compare_and_heatmap_in_chromium(tmp_path):
    if not (CHROMIUM.exists() and DRIVER.exists()):
        pytest.skip(f"Chromium and its driver are not installed: {INSTALL}")
    shots = Path(os.environ.get("REIDFW_TEST_ARTIFACTS", tmp_path)) / "mlflow-ui"
    shots.mkdir(parents=True, exist_ok=True)
    store = f"sqlite:///{tmp_path}/mlflow.db"
    env = train_env(store, tmp_path / "cache")
    sweep = run(train_cmd(*ARCFACE, "trainer.max_epochs=2", "export_model=true", "margin=0.3,0.5",
                          "logger.experiment_name=margin-sweep", f"hydra.sweep.dir={tmp_path / 'sweep'}",
                          multirun=True), env, timeout=1500).stdout
    train_ids = _printed(r"^\s+MLflow run\s+([0-9a-f]{32})", sweep)
    runs_links = set(_printed(r"^\s+compare runs\s+(\S+)$", sweep))
    (serve,) = set(_printed(r"^\s+MLflow UI\s+(mlflow ui .+?)\s+\(then", sweep))
    assert len(train_ids) == 2 and len(runs_links) == 1, sweep[-3000:]

    study = ensure_dataset("study", TINY_SETTINGS["study"], tmp_path / "cache")
    market = ensure_dataset("market", TINY_SETTINGS["market"], tmp_path / "cache")
    ev = subprocess.run([sys.executable, str(ROOT / "evaluate.py"), f"ckpt=[{','.join(f'runs:/{r}/model' for r in train_ids)}]",
                         f"study={study}", f"market={market}", "num_workers=0", f"hydra.run.dir={tmp_path / 'eval'}"],
                        cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert ev.returncode == 0, ev.stderr[-3000:]
    heatmap_links = _printed(r"^\s+in the UI:\s+(\S+)$", ev.stdout)
    (eval_compare,) = _printed(r"^compare in the MLflow UI: (\S+)$", ev.stdout)
    assert len(heatmap_links) == 2

    # Serve the store as printed, on a free port instead of 5000 (the printed links name 5000).
    port = free_port()
    cmd = [sys.executable, "-m", *shlex.split(serve), "--port", str(port), "--workers", "1"]
    ui = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=open(tmp_path / "mlflow-ui.log", "wb"),
                          stderr=subprocess.STDOUT, start_new_session=True)
    local = lambda url: url.replace("http://127.0.0.1:5000", f"http://127.0.0.1:{port}")  # noqa: E731
    profile = Path(tempfile.mkdtemp(prefix="chromium-profile-"))
    driver = None
    try:
        end = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except OSError:
                assert ui.poll() is None and time.monotonic() < end, (tmp_path / "mlflow-ui.log").read_text()[-2000:]
                time.sleep(0.5)
        driver = _browser(profile)
        page = Page(driver, shots)
        by = page.by

        # 1. The printed "compare runs" link: the sweep's runs table (not the GenAI overview).
        page.open_link(local(next(iter(runs_links))))
        page.wait_for(lambda: all(f"m{m}" in page.text() for m in ("0.3", "0.5")), "the sweep's two runs")
        assert "Runs" in page.text() and "No data available" not in page.text()
        page.close_assistant()
        page.shot("01-sweep-runs")

        # 2. Tick both sweep runs, press Compare.
        for name in ("arcface-test_resnet-m0.3", "arcface-test_resnet-m0.5"):
            link = page.wait_for(lambda: [a for a in driver.find_elements(by.TAG_NAME, "a") if a.text == name], name)[0]
            row = link.find_element(by.XPATH, "./ancestor::*[@role='row'][1]")
            row.find_element(by.CSS_SELECTOR, "input[type=checkbox]").click()
        compare = page.wait_for(lambda: [b for b in driver.find_elements(by.TAG_NAME, "button") if b.text == "Compare"],
                                "the Compare button")[0]
        compare.click()
        page.wait_for(lambda: "Comparing 2 Runs" in page.text(), "the compare view")
        margin_row = page.wait_for(
            lambda: [r.text.split() for r in driver.find_elements(by.TAG_NAME, "tr") if r.text.split()[:1] == ["margin"]],
            "the margin parameter")[0]
        assert sorted(margin_row[1:]) == ["0.3", "0.5"], margin_row
        page.wait_for(lambda: "0.50000" in page.text(), "the parallel-coordinates plot")  # its axis ticks
        page.close_assistant()
        page.shot("02-compare-sweep")

        # 3. evaluate.py's compare link: the study metrics of both models side by side.
        page.open_link(local(eval_compare))
        # The metrics table shows its first rows (collapse/*, retrieval/*); the study's come further down.
        def study_rows():
            # rows below the first screen are rendered as the table scrolls: scroll it a step per look
            driver.execute_script("document.querySelectorAll('*').forEach(e => {"
                                  " if (e.scrollHeight > e.clientHeight + 10) e.scrollTop += 300; })")
            return re.findall(r"^study(?:_z)?/\S+$", page.text(), flags=re.M)

        study_rows = page.wait_for(study_rows, "the study metrics")
        assert "Comparing 2 Runs" in page.text() and "retrieval/mAP" in page.text(), page.text()[-2000:]
        print(f"evaluation compare view shows {study_rows[:3]} ...")
        page.close_assistant()
        page.shot("03-compare-study-metrics")

        # 4. One evaluation's heatmaps link; open the distance heatmap.
        page.open_link(local(heatmap_links[0]))
        entry = page.wait_for(lambda: driver.find_elements(by.XPATH, "//*[text()='distance.png']"), "distance.png")
        page.close_assistant()
        entry[-1].click()
        sizes = page.wait_for(
            lambda: [s for s in (driver.execute_script("return [arguments[0].naturalWidth, arguments[0].naturalHeight]", i)
                                 for i in driver.find_elements(by.TAG_NAME, "img")) if s[0] > 300],
            "the heatmap image")
        assert "evaluation/study/heatmaps/distance.png" in page.text()
        print(f"heatmap shown at {sizes[0][0]}x{sizes[0][1]} px; screenshots in {shots}")
        page.shot("04-heatmap")
    finally:
        if driver is not None:
            driver.quit()
        os.killpg(ui.pid, 15)
        ui.wait(timeout=60)
        shutil.rmtree(profile, ignore_errors=True)
