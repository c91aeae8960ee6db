"""Model artifacts for the serving unit tests."""

from tests.support.models import model_artifact

__all__ = ["model_artifact"]
