"""Tortoise models, one module per aggregate. Nothing here knows about GraphQL."""
