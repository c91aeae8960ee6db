"""The CRDs' spec and status as pydantic models: the CRD schemas are generated from these."""
