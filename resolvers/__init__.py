"""The operations, one module per flow: plain async functions over (actor, input) raising domain errors."""
