"""Plenary sessions, agenda items, documents, versions and amendments."""
