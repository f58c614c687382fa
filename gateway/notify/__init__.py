"""Outbound notifications: tenants' endpoints, messages, signing out, delivery and retries."""
