"""The Kubernetes operator (kopf): TrainingRun -> KubeRay RayJob; ModelRelease's schema.

One module per concern: `settings` (configuration), `models/` (the CRDs' spec and status),
`crds` (CRD generation), `rayjob` (the RayJob builder and KubeRay's status), `cluster` (API
calls), `storage_access` (datasets and artifacts), `reconcile` (the TrainingRun's steps),
`status` (the status, computed in one place), `handlers` (thin kopf handlers), `metrics`,
`rbac`, `constants` (names, labels, annotations), `runner` and `cli`.
"""
