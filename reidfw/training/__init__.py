"""Training orchestration behind train.py: config -> data, method, trainer, MLflow run."""
