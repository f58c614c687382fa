"""Ingest: one delivery from raw request to stored events (pipeline, normalise, canonical form).
May import carriers, tenancy, audit, store, signing and the shared rooms; never api, aws, local."""
