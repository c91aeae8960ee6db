"""The model `starcast up` serves: the one at the URI, trained on the bundled sample if absent."""

from __future__ import annotations

import logging
import sys
from typing import Final

from starcast import artifact
from starcast.artifact import ModelManifest

logger = logging.getLogger(__name__)

# matplotlib (the report's plot) announces that it builds its font cache, once per machine and
# version: nothing a demo user acts on.
QUIET_LOGGERS: Final = ("matplotlib",)


def ensure_model(uri: str) -> ModelManifest:
    """The manifest of the artifact at `uri`; trains one (quick budget) if there is none. Every
    run prints the model's score table, the one `starcast train` prints."""
    if artifact.exists(uri):
        manifest = artifact.read_manifest(uri)
        print_scores(manifest)  # a later run serves the same model: the same scores, said again
        return manifest
    logger.info("no model at %s: training one on the bundled sample (quick budget)", uri)
    # Imported here: scikit-learn takes seconds to import, and most runs find their model. The
    # run follows STARCAST_TRAINING_EXECUTOR like `starcast train`: by default a local process
    # pool, stopped when the model is written; Ray only under RAY_ADDRESS or when asked for.
    from starcast.training.config import Budget, TrainingConfig
    from starcast.training.progress import LogProgress, TerminalProgress
    from starcast.training.run import train_model

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    config = TrainingConfig(out_uri=uri, budget=Budget.QUICK)
    if sys.stderr.isatty():
        with TerminalProgress() as progress:
            manifest = train_model(config, progress)
    else:
        manifest = train_model(config, LogProgress())
    print_scores(manifest)
    return manifest


def print_scores(manifest: ModelManifest) -> None:
    from rich.console import Console

    from starcast.training.cli import summary_table

    Console().print(summary_table(manifest))
