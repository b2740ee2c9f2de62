"""When each periodic job last ran, so that several processes run a daily job once a day."""

from tortoise import fields
from tortoise.models import Model


class HousekeepingRun(Model):
    # The job's name, e.g. "retention"; a process claims a run with a conditional UPDATE of
    # last_run_at (resolvers/retention.py), so of several workers exactly one runs it.
    name = fields.CharField(max_length=40, primary_key=True)
    last_run_at = fields.DatetimeField()

    class Meta:
        table = "housekeeping_run"
