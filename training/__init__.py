"""Labels, time-based splits, models, evaluation, MLflow logging, registry and promotion."""
