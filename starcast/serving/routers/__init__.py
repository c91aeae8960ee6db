"""One router per resource: predictions API, pages, health, metrics."""
