"""`starcast up`: the whole pipeline on one machine (broker, model, workers, frontend)."""
