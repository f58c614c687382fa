"""DynamoDB storage: one table, access patterns first, every write's cost counted.
Imports only the shared rooms (models, errors, observability): nothing above it."""
