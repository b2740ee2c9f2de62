"""Identity and team (issue 12): verified addresses, one-time tokens, password-reset requests,
member invitations, member language / removal / notification preferences, the notification
digest, authorization reminders, and the team activity verbs.

Every change to an existing table is an added nullable (or database-defaulted) column, so
SQLite adds it in place; the activity verb list changes the migration state only (as 0007).
Existing accounts and members start unverified; existing members keep their role's
notification defaults (NULL preferences).
"""

from tortoise import migrations
from tortoise.migrations import operations as ops
from models.activity import ActivityVerb
from models.auth import Realm
from models.identity import TokenPurpose
from models.notification import NotificationKind
from models.partner import MemberRole
from models.team import MemberInvitationStatus
from tortoise.fields.base import OnDelete
from tortoise import fields
from tortoise.indexes import Index



class AlterFieldStateOnly(ops.AlterField):
    """AlterField for the migration state, with nothing to do in the database (see 0007)."""

    async def database_forward(self, *args: object, **kwargs: object) -> None:
        return None

    async def database_backward(self, *args: object, **kwargs: object) -> None:
        return None


class Migration(migrations.Migration):
    dependencies = [('partnerdesk', '0007_activity_verb_item_updated')]

    initial = False

    operations = [
        ops.CreateModel(
            name='DigestEntry',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('partnerdesk.PartnerMember', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='NEW_INQUIRY: NEW_INQUIRY\nNEW_INVITATION: NEW_INVITATION\nEXPIRY_REMINDER: EXPIRY_REMINDER', enum_type=NotificationKind, max_length=16)),
                ('summary', fields.CharField(max_length=500)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('due_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('sent_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'digest_entry', 'app': 'partnerdesk', 'indexes': [Index(fields=['sent_at', 'due_at'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='IdentityToken',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('purpose', fields.CharEnumField(description='VERIFY_EMAIL: VERIFY_EMAIL\nRESET_PASSWORD: RESET_PASSWORD', enum_type=TokenPurpose, max_length=16)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('member', fields.ForeignKeyField('partnerdesk.PartnerMember', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('account', fields.ForeignKeyField('partnerdesk.AccountHolder', source_field='account_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('used_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('revoked_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'identity_token', 'app': 'partnerdesk', 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='MemberInvitation',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('partner', fields.ForeignKeyField('partnerdesk.Partner', source_field='partner_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('email', fields.CharField(max_length=254)),
                ('role', fields.CharEnumField(description='OWNER: OWNER\nADMIN: ADMIN\nMEMBER: MEMBER', enum_type=MemberRole, max_length=10)),
                ('language', fields.CharField(default='en', max_length=8)),
                ('token_hash', fields.CharField(unique=True, max_length=64)),
                ('status', fields.CharEnumField(default=MemberInvitationStatus.PENDING, description='PENDING: PENDING\nACCEPTED: ACCEPTED\nREVOKED: REVOKED\nEXPIRED: EXPIRED', enum_type=MemberInvitationStatus, max_length=10)),
                ('invited_by', fields.ForeignKeyField('partnerdesk.PartnerMember', source_field='invited_by_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
                ('created_at', fields.DatetimeField(auto_now=False, auto_now_add=True)),
                ('expires_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('closed_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
                ('member', fields.ForeignKeyField('partnerdesk.PartnerMember', source_field='member_id', null=True, db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.SET_NULL)),
            ],
            options={'table': 'member_invitation', 'app': 'partnerdesk', 'indexes': [Index(fields=['partner_id', 'status', 'id'])], 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='NotificationWindow',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('member', fields.ForeignKeyField('partnerdesk.PartnerMember', source_field='member_id', db_constraint=True, to_field='id', related_name=False, on_delete=OnDelete.CASCADE)),
                ('kind', fields.CharEnumField(description='NEW_INQUIRY: NEW_INQUIRY\nNEW_INVITATION: NEW_INVITATION\nEXPIRY_REMINDER: EXPIRY_REMINDER', enum_type=NotificationKind, max_length=16)),
                ('opened_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('count', fields.IntField(default=0)),
            ],
            options={'table': 'notification_window', 'app': 'partnerdesk', 'unique_together': (('member', 'kind'),), 'pk_attr': 'id'},
            bases=['Model'],
        ),
        ops.CreateModel(
            name='PasswordResetRequest',
            fields=[
                ('id', fields.IntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('realm', fields.CharEnumField(description='PARTNER: PARTNER\nACCOUNT: ACCOUNT', enum_type=Realm, max_length=10)),
                ('email', fields.CharField(max_length=254)),
                ('requested_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('handled_at', fields.DatetimeField(null=True, auto_now=False, auto_now_add=False)),
            ],
            options={'table': 'password_reset_request', 'app': 'partnerdesk', 'indexes': [Index(fields=['handled_at', 'id'])], 'pk_attr': 'id', 'table_description': 'A `requestPasswordReset` call, written the same way whether the address is known or not.'},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='AccessInvitation',
            name='reminder_sent_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='AccountHolder',
            name='email_verified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='AccountHolder',
            name='registration_notice_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        AlterFieldStateOnly(
            model_name='ActivityEvent',
            name='verb',
            field=fields.CharEnumField(description='CUSTOMER_CREATED: CUSTOMER_CREATED\nCUSTOMER_UPDATED: CUSTOMER_UPDATED\nCUSTOMER_ARCHIVED: CUSTOMER_ARCHIVED\nCUSTOMER_RESTORED: CUSTOMER_RESTORED\nITEM_ASSIGNED: ITEM_ASSIGNED\nITEM_UNASSIGNED: ITEM_UNASSIGNED\nITEM_UPDATED: ITEM_UPDATED\nINQUIRY_RECEIVED: INQUIRY_RECEIVED\nINQUIRY_CONVERTED: INQUIRY_CONVERTED\nINQUIRY_DISMISSED: INQUIRY_DISMISSED\nINVITATION_RECEIVED: INVITATION_RECEIVED\nINVITATION_CONNECTED: INVITATION_CONNECTED\nINVITATION_DECLINED: INVITATION_DECLINED\nINVITATION_WITHDRAWN: INVITATION_WITHDRAWN\nINVITATION_EXPIRED: INVITATION_EXPIRED\nACCESS_REVOKED: ACCESS_REVOKED\nEMAIL_SENT: EMAIL_SENT\nEMAIL_FAILED: EMAIL_FAILED\nMEMBER_INVITED: MEMBER_INVITED\nMEMBER_JOINED: MEMBER_JOINED\nMEMBER_ROLE_CHANGED: MEMBER_ROLE_CHANGED\nMEMBER_REMOVED: MEMBER_REMOVED\nOWNERSHIP_TRANSFERRED: OWNERSHIP_TRANSFERRED', enum_type=ActivityVerb, max_length=24),
        ),
        ops.AddField(
            model_name='PartnerMember',
            name='email_verified_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PartnerMember',
            name='language',
            field=fields.CharField(default='en', db_default='en', max_length=8),
        ),
        ops.AddField(
            model_name='PartnerMember',
            name='notify_expiry_reminder',
            field=fields.BooleanField(null=True),
        ),
        ops.AddField(
            model_name='PartnerMember',
            name='notify_new_inquiry',
            field=fields.BooleanField(null=True),
        ),
        ops.AddField(
            model_name='PartnerMember',
            name='notify_new_invitation',
            field=fields.BooleanField(null=True),
        ),
        ops.AddField(
            model_name='PartnerMember',
            name='registration_notice_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='PartnerMember',
            name='removed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        # One PENDING invitation per (partner, address): a second one replaces the first.
        ops.RunSQL(
            "CREATE UNIQUE INDEX uniq_pending_member_invitation"
            " ON member_invitation (partner_id, email) WHERE status = 'PENDING'",
            reverse_sql="DROP INDEX uniq_pending_member_invitation",
        ),
        ops.RunSQL(
            "CREATE INDEX idx_identity_token_member ON identity_token (member_id);"
            " CREATE INDEX idx_identity_token_account ON identity_token (account_id);"
            " CREATE INDEX idx_member_invitation_email ON member_invitation (email)",
            reverse_sql="DROP INDEX idx_identity_token_member; DROP INDEX idx_identity_token_account;"
            " DROP INDEX idx_member_invitation_email",
        ),
    ]
