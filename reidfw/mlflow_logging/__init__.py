"""Everything MLflow: where runs are stored (store.py), referring to runs and fetching their
artifacts (runs.py), the Lightning logger and checkpoint stamp of a training run (lightning.py),
and the run of one evaluation (evaluation_run.py). Submodules are imported on use."""
