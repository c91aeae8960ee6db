"""starcast.extraction: repositories and their features from GitHub's GraphQL API.

`starcast extract run|export|status` (cli) drives `run.Extraction`: `slicing` cuts the search
space under search's 1,000-result cap, `queries` builds the GraphQL documents and prices them by
GitHub's documented rules, `graphql` sends them within the primary and secondary limits with a
`tokens` pool, `records` maps the `payloads` onto the feature schema's records, `store` upserts
them and checkpoints the run, `contributors` counts contributors over REST, and `export` writes
the Parquet dataset the trainer reads. `lookup` serves the frontend's prediction by owner/name
with the same queries and records.
"""
