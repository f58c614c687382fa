"""The local runtime: DynamoDB Local, the HTTP edge in front of the same handler as on AWS.
May import anything but aws and cli; nothing but the CLI imports it."""
