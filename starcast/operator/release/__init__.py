"""ModelRelease: roll a model out to the serving workers (Rolling or Canary), roll it back.

`workers` builds what is applied to the Deployments, `rollout` reads their progress, `analysis`
asks Prometheus, `kube` talks to the API server, `reconcile` decides, `handlers` registers kopf.
"""
