"""Waybill: a multi-tenant carrier webhook gateway."""
