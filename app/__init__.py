"""Reflexe: reflex methods for professional-network invitations, as a REST service."""

__version__ = "0.1.0"
