"""MLflow models-from-code entry point: MLflow runs this file when it loads a registered Guanxi model
(it is logged as the model's code, never imported by the package)."""

from mlflow.models import set_model

from training.pyfunc import GuanxiPyfunc

set_model(GuanxiPyfunc())
