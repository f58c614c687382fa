"""The local edge: Amazon DynamoDB Local and an HTTP server in front of the Lambda handler.

Nothing here is imported by the Lambda. ``dynamodb_local`` starts and stops the engine,
``server`` turns HTTP requests into API Gateway REST proxy events and back.
"""
