"""Names the operator shares with the CRDs, its children, the charts and the tests, stated once."""

from __future__ import annotations

from typing import Final

GROUP: Final = "starcast.io"
VERSION: Final = "v1alpha1"
API_VERSION: Final = f"{GROUP}/{VERSION}"
CATEGORY: Final = "starcast"

TRAINING_RUN_KIND: Final = "TrainingRun"
TRAINING_RUN_PLURAL: Final = "trainingruns"
TRAINING_RUN_SHORT: Final = "tr"
MODEL_RELEASE_KIND: Final = "ModelRelease"
MODEL_RELEASE_PLURAL: Final = "modelreleases"
MODEL_RELEASE_SHORT: Final = "mr"

# KubeRay
RAY_GROUP: Final = "ray.io"
RAY_VERSION: Final = "v1"
RAY_API_VERSION: Final = f"{RAY_GROUP}/{RAY_VERSION}"
RAYJOB_KIND: Final = "RayJob"
RAYJOB_PLURAL: Final = "rayjobs"
RAYJOB_CRD: Final = f"{RAYJOB_PLURAL}.{RAY_GROUP}"
# The KubeRay release the operator is tested against (hack/kube/addons/kuberay/addon.env pins
# the controller the tests run; a unit test keeps the two equal) and tells users to install.
KUBERAY_VERSION: Final = "1.5.1"

# Labels the operator puts on what it creates.
LABEL_MANAGED_BY: Final = "app.kubernetes.io/managed-by"
LABEL_PART_OF: Final = "app.kubernetes.io/part-of"
LABEL_TRAINING_RUN: Final = f"{GROUP}/training-run"
MANAGER_NAME: Final = "starcast-operator"
PART_OF: Final = "starcast"

# kopf: where it keeps handler progress and its last-handled state (annotations, so the
# structural status schema holds only starcast's fields), and the peering object's name.
KOPF_PREFIX: Final = f"operator.{GROUP}"
PEERING_NAME: Final = "starcast-operator"

# Field manager for server-side apply and the component name on Events.
FIELD_MANAGER: Final = MANAGER_NAME

# The RayJob's name: deterministic from its TrainingRun's (RayJob names feed the RayCluster's
# and its pods' names; KubeRay trims them, so a short prefix keeps them readable).
RAYJOB_NAME_PREFIX: Final = "tr-"

# ModelRelease: the serving chart's worker labels (how a release finds its Deployment), the
# model fields it owns on the workers, the canary's name and labels, and the user's actions.
LABEL_APP_NAME: Final = "app.kubernetes.io/name"
LABEL_INSTANCE: Final = "app.kubernetes.io/instance"
LABEL_COMPONENT: Final = "app.kubernetes.io/component"
WORKER_COMPONENT: Final = "worker"
WORKER_CONTAINER: Final = "worker"
LABEL_MODEL_VERSION: Final = f"{GROUP}/model-version"
LABEL_TRACK: Final = f"{GROUP}/track"
TRACK_CANARY: Final = "canary"
LABEL_MODEL_RELEASE: Final = f"{GROUP}/model-release"
ENV_MODEL_URI: Final = "STARCAST_MODEL_URI"
ENV_MODEL_SHA256: Final = "STARCAST_MODEL_SHA256"
CANARY_SUFFIX: Final = "-canary"
# On the worker Deployment: which ModelRelease holds it now (one release at a time).
ANNOTATION_RELEASE: Final = f"{GROUP}/model-release"
# On a ModelRelease: `kubectl annotate mr NAME starcast.io/promote=true` (or abort=true).
ANNOTATION_PROMOTE: Final = f"{GROUP}/promote"
ANNOTATION_ABORT: Final = f"{GROUP}/abort"
