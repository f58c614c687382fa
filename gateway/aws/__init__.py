"""AWS only: the Lambda entry points (handler, authorizer), Secrets Manager and key items.
May import anything but local and cli; infra names the entry points as strings."""
