"""Names vulture sees assigned and never read, that something else reads (`make lint`).

vulture reads this file as code that uses each name. Every line says who reads it. A name of
dead code does not belong here: delete the code instead. Framework-wide names (pydantic's
`model_config`, http.server's `do_*`, registered handlers) are in pyproject's [tool.vulture].
"""

from types import SimpleNamespace

_ = SimpleNamespace()

# Fields of wire and report models: read by serialization (JSON, the CRD status, a manifest),
# not by attribute. Removing one changes a documented format.
_.target_transform  # artifact.Manifest: the manifest says how predictions map back to stars
_.missing_values  # dataset.DataReport: in the training report
_.finished_at  # extraction RunRow; ModelRelease status and history entries
_.unknown_fields  # extraction StoredRecord: the repository table's column
_.disk_usage_kb  # features.RepositoryRecord (TypedDict): keys of a stored record
_.readme_size_bytes
_.owner_followers
_.owner_repositories
_.owner_is_organization
_.json_path  # operator PrinterColumn: the CRD's additionalPrinterColumns[].jsonPath
_.until_promoted  # ModelRelease spec and status fields in the CRD schema
_.candidate_rmsle
_.decided_at
_.failure_observed_at
_.end_time  # KubeRay RayJob status: parsed from the API
_.ray_cluster_name
_.metric  # Prometheus query result sample: parsed from the API
_.ignored_features  # serving API responses (OpenAPI schema)
_.cross_validation
_.report_url
_.exposed_ports  # tests/integration/images/built.py: an OCI image config field, parsed

# Attributes and overrides a library reads or calls.
_.connection_pool_maxsize  # kubernetes.client.Configuration
_.task_default_delivery_mode  # Celery's app.conf (bench/serving.py's seed design)
_.multithread  # werkzeug BaseWSGIServer (bench/serving.py's seed server)
_.process_request  # socketserver.BaseServer
_.missing_host_key  # paramiko.MissingHostKeyPolicy
_.ignore_aliases  # yaml.Dumper
_.requires  # celery bootsteps.StartStopStep: orders the worker's readiness step
_._put  # kombu's filesystem Channel
_.binary_location  # selenium ChromeOptions
_.loggers  # kopf settings (operator/events.py, operator/handlers.py)
_.reporting_component
_.reporting_instance
_.event_name_prefix
_.progress_storage
_.diffbase_storage
_.finalizer
_.lifetime
_.max_workers
_.rich_markup_mode  # typer reads it (cli.plain_help)
_.CRITICAL  # a --log-level choice (cli.LogLevel), read by click
_.stable_version  # ModelRelease status: the STABLE printer column reads it

# issue 25: remove with the operator refactor (dead; another engineer is changing operator/).
_.PEERING_NAME  # operator/constants.py
_.LABEL_APP_NAME  # operator/constants.py
_.OUTPUT_PLACEHOLDERS  # operator/models/trainingrun.py
