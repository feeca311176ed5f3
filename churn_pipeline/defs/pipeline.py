import dagster as dg

from churn_pipeline.pipeline import build_definitions
from churn_pipeline.settings import Settings


@dg.definitions
def pipeline() -> dg.Definitions:
    """Every asset, check, job and resource, configured from the environment (README)."""
    return build_definitions(Settings.from_env())
