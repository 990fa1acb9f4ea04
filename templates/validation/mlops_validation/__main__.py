"""Entry point: ``python -m mlops_validation``."""

from mlops_validation.cli import main

raise SystemExit(main())
