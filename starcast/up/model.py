"""The model `starcast up` serves: the one at the URI, trained on the bundled sample if absent."""

from __future__ import annotations

import logging
import sys

from starcast import artifact
from starcast.artifact import ModelManifest

logger = logging.getLogger(__name__)


def ensure_model(uri: str) -> ModelManifest:
    """The manifest of the artifact at `uri`; trains one (quick budget) if there is none."""
    if artifact.exists(uri):
        return artifact.read_manifest(uri)
    logger.info("no model at %s: training one on the bundled sample (quick budget)", uri)
    # Imported here: Ray takes seconds to import, and most runs find their model.
    import ray

    from starcast.training.config import Budget, TrainingConfig
    from starcast.training.progress import LogProgress, TerminalProgress
    from starcast.training.run import train_model

    config = TrainingConfig(out_uri=uri, budget=Budget.QUICK)
    try:
        if sys.stderr.isatty():
            with TerminalProgress() as progress:
                return train_model(config, progress)
        return train_model(config, LogProgress())
    finally:
        if ray.is_initialized():
            ray.shutdown()  # the local Ray instance is not needed to serve
