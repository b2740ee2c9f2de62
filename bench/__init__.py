"""Benchmarks: `make bench` (bench/run.py) measures PartnerDesk against a hand-written
asyncpg reference (bench/reference.py) and PostGraphile v5 (bench/peer/) on seeded data
(bench/seed.py); results go to bench/RESULTS.md."""
