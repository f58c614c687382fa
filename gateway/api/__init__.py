"""The HTTP surface: routes, the resolver, queries, search, submit, the OAuth token endpoint,
cursors and OpenAPI. May import ingest and everything below it; never aws, local or cli."""
