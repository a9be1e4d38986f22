"""Evaluation folders appear complete or not at all."""
import os
import subprocess
import sys

from reidfw.evaluation.staging import StagedOutputs, relocate


def test_published_folder_replaces_the_old_one_whole(tmp_path):
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "stale.png").write_text("old run")
    staged = StagedOutputs(tmp_path)
    (staged.path("m") / "study").mkdir(parents=True)
    (staged.path("m") / "study" / "a.csv").write_text("new")
    assert not (tmp_path / "m" / "study").exists()  # nothing visible until published
    assert staged.publish("m") == tmp_path / "m"
    staged.close()
    assert sorted(p.name for p in (tmp_path / "m").rglob("*")) == ["a.csv", "study"]
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_a_dead_writers_staging_folder_is_removed_by_the_next(tmp_path):
    pid = int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                             text=True).stdout)  # a process that has exited
    dead = tmp_path / f".partial-{pid}-abcd1234"
    (dead / "m").mkdir(parents=True)
    live = tmp_path / f".partial-{os.getpid()}-other"  # this process: not touched
    live.mkdir()
    StagedOutputs(tmp_path).close()
    assert not dead.exists() and live.exists()


def test_relocate_moves_paths_inside_the_folder_only():
    rec = {"out_dir": "/o/.partial-1/m", "files": ["/o/.partial-1/m/a.csv", "/o/.partial-1/mx/b"], "n": 3}
    assert relocate(rec, "/o/.partial-1/m", "/o/m") == {
        "out_dir": "/o/m", "files": ["/o/m/a.csv", "/o/.partial-1/mx/b"], "n": 3}
