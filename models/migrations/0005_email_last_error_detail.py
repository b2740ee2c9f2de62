"""EmailDelivery.last_error_detail: the server's reply or the socket error, for operators.

last_error becomes a short reason that partner members may read (mailers/failures.py).
Rows written before hold the raw detail in last_error: it moves to last_error_detail,
and last_error gets a generic reason; the EMAIL_FAILED activity rows, which quoted it,
keep their first part. Nothing is lost: the detail stays on the outbox row.
"""

from tortoise import fields, migrations
from tortoise.migrations import operations as ops

HIDE_OLD_DETAILS = [
    "UPDATE email_delivery SET last_error_detail = last_error,"
    " last_error = CASE status WHEN 'FAILED' THEN 'The message could not be delivered'"
    " ELSE 'An earlier attempt failed' END"
    " WHERE last_error IS NOT NULL",
    "UPDATE activity_event SET summary = ("
    "SELECT 'E-mail to ' || d.to_address || ' failed: The message could not be delivered'"
    " FROM email_delivery d WHERE d.id = activity_event.subject_id)"
    " WHERE verb = 'EMAIL_FAILED' AND subject_type = 'EmailDelivery'"
    " AND EXISTS (SELECT 1 FROM email_delivery d WHERE d.id = activity_event.subject_id)",
]
# The activity rows' old wording is not restored; the outbox rows' is.
SHOW_OLD_DETAILS = [
    "UPDATE email_delivery SET last_error = last_error_detail WHERE last_error_detail IS NOT NULL",
]


class Migration(migrations.Migration):
    dependencies = [("partnerdesk", "0004_one_connected_invitation_per_customer")]

    initial = False

    operations = [
        ops.AddField(
            model_name="EmailDelivery",
            name="last_error_detail",
            field=fields.TextField(null=True, unique=False),
        ),
        ops.RunSQL(HIDE_OLD_DETAILS, reverse_sql=SHOW_OLD_DETAILS),
    ]
