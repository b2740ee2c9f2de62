"""E-mail: templates (text + HTML, per language), the transactional outbox, delivery.

Nothing here imports Strawberry; resolvers queue mail through `mailers.outbox`.
"""
