"""Data validation and drift detection for the datasets declared in the mlopsgen spec.

The dataset contracts (columns, types and rules) live in ``contracts.json`` next to this
file; the code is the same for every project. Commands (``python -m mlops_validation``):

``validate`` (the default)
    Check one dataset against its contract. The exit code is 0 when every rule holds,
    1 when a rule is broken and 2 when the data can't be read.
``samples``
    Check every dataset's sample file in the repository (used by the CI checks).
``drift``
    Compare a training dataset with the prediction requests an endpoint logged to
    BigQuery, and write the population stability index to Cloud Monitoring.
"""

__all__ = ["__version__"]

__version__ = "1"
