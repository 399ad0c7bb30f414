"""The web forms (Flask-WTF): each carries a CSRF token and checks its own fields.

Services re-check everything that matters; these validators only give early messages.
"""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    HiddenField,
    IntegerField,
    MultipleFileField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.fields import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes something: only the CSRF token."""


class LoginForm(FlaskForm):  # type: ignore[misc]
    login = StringField("E-mail address", validators=[DataRequired(), Length(max=320)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class ConfirmPasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])


class TotpForm(FlaskForm):  # type: ignore[misc]
    code = StringField("Code from your authenticator", validators=[DataRequired(), Length(max=10)])


class ChangePasswordForm(FlaskForm):  # type: ignore[misc]
    current = PasswordField("Current password", validators=[DataRequired(), Length(max=1024)])
    new = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])


class AppPasswordForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Name (e.g. phone)", validators=[DataRequired(), Length(max=100)])


class DeviceLinkForm(FlaskForm):  # type: ignore[misc]
    device = StringField("Device name", validators=[DataRequired(), Length(max=100)])
    with_password = BooleanField("Put a new app password in the profile")


class ShareForm(FlaskForm):  # type: ignore[misc]
    collection = SelectField("Share", choices=[], validate_choice=False)
    sharee = StringField(
        "With (an address, or +group@domain)", validators=[DataRequired(), Length(max=320)]
    )
    access = SelectField(
        "Access",
        choices=[
            SelectChoice("read", "read"),
            SelectChoice("write", "read and write"),
            SelectChoice("freebusy", "free/busy only"),
        ],
    )


class DomainForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Domain", validators=[DataRequired(), Length(max=253)])


class NewUserForm(FlaskForm):  # type: ignore[misc]
    address = StringField("E-mail address", validators=[DataRequired(), Length(max=320)])
    display_name = StringField("Display name", validators=[Optional(), Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1024)])
    quota_mib = IntegerField(
        "Quota (MiB, 0 = none)", default=0, validators=[Optional(), NumberRange(min=0)]
    )


class EditUserForm(FlaskForm):  # type: ignore[misc]
    display_name = StringField("Display name", validators=[Optional(), Length(max=200)])
    quota_mib = IntegerField("Quota (MiB, 0 = none)", validators=[Optional(), NumberRange(min=0)])
    active = BooleanField("Active")


class ResetPasswordForm(FlaskForm):  # type: ignore[misc]
    password = PasswordField("New password", validators=[DataRequired(), Length(max=1024)])


class AliasForm(FlaskForm):  # type: ignore[misc]
    address = StringField(
        "Alias (or @domain for a catch-all)", validators=[DataRequired(), Length(max=320)]
    )
    targets = TextAreaField("Deliver to (one address per line)", validators=[DataRequired()])


class GroupForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Name", validators=[DataRequired(), Length(max=100)])
    domain = SelectField("Domain", choices=[])
    address = StringField("Group address (optional)", validators=[Optional(), Length(max=320)])
    members = TextAreaField("Members (one address per line)", validators=[Optional()])


class MemberForm(FlaskForm):  # type: ignore[misc]
    member = StringField("Member address", validators=[DataRequired(), Length(max=320)])


class RoleForm(FlaskForm):  # type: ignore[misc]
    name = StringField("Role name", validators=[DataRequired(), Length(max=64)])
    description = StringField("Description", validators=[Optional(), Length(max=200)])
    permissions = SelectMultipleField(
        "Permissions",
        choices=[],
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )


class GrantForm(FlaskForm):  # type: ignore[misc]
    role = SelectField("Role", choices=[])
    grantee_kind = SelectField("To a", choices=[SelectChoice("user"), SelectChoice("group")])
    grantee = StringField("User address or group name", validators=[DataRequired()])
    domain = SelectField("On", choices=[])


class ComposeForm(FlaskForm):  # type: ignore[misc]
    """A message to write: recipients as typed ("Name <a@b>, c@d"), plain text."""

    sender = SelectField("From", choices=[], validate_choice=False)
    to = StringField("To", validators=[Length(max=20_000)])
    cc = StringField("Cc", validators=[Length(max=20_000)])
    bcc = StringField("Bcc", validators=[Length(max=20_000)])
    subject = StringField("Subject", validators=[Length(max=200)])
    body = TextAreaField("Message", validators=[Length(max=1_000_000)])
    markdown = BooleanField("Format with Markdown")
    in_reply_to = HiddenField(validators=[Length(max=1000)])
    references = HiddenField(validators=[Length(max=20_000)])
    attach = MultipleFileField("Attach")
    # A forwarded message: its folder and UID; its files go with it, or it goes whole.
    forward_folder = HiddenField(validators=[Length(max=1000)])
    forward_uid = HiddenField(validators=[Length(max=10)])
    forward_whole = BooleanField("Forward as attachment (the original, whole)")
    draft_uid = HiddenField(validators=[Length(max=10)])  # the draft this message was saved as
    send_at = StringField("Send at", validators=[Length(max=40)])  # datetime-local, see tz
    tz_offset = HiddenField(validators=[Length(max=6)])  # the browser's minutes behind UTC


class MailDisplayForm(FlaskForm):  # type: ignore[misc]
    """How webmail shows mail and how long a message sent can be taken back."""

    page_size = SelectField(
        "Messages per page",
        choices=[
            SelectChoice("25", "25"),
            SelectChoice("50", "50"),
            SelectChoice("100", "100"),
            SelectChoice("200", "200"),
        ],
    )
    conversations = BooleanField("Group messages into conversations")
    undo_seconds = IntegerField(
        "Seconds to undo a message sent", validators=[NumberRange(min=0, max=30)]
    )


class IdentityForm(FlaskForm):  # type: ignore[misc]
    """An address to send from, with its name and signature."""

    address = StringField("Address", validators=[DataRequired(), Length(max=320)])
    name = StringField("Name", validators=[Length(max=200)])
    signature = TextAreaField("Signature", validators=[Length(max=10_000)])
    is_default = BooleanField("Use by default")


class VacationForm(FlaskForm):  # type: ignore[misc]
    """The auto-reply while away (RFC 3834), between optional dates."""

    enabled = BooleanField("Reply automatically while I am away")
    subject = StringField("Reply subject", validators=[Length(max=200)])
    body = TextAreaField("Reply message", validators=[Length(max=20_000)])
    start_date = DateField("First day", validators=[Optional()])
    end_date = DateField("Last day", validators=[Optional()])


class ForwardingForm(FlaskForm):  # type: ignore[misc]
    """Where all mail goes on to (empty: nowhere)."""

    target = StringField("Forward all mail to", validators=[Length(max=320)])
    keep = BooleanField("Keep a copy here", default=True)


class RuleForm(FlaskForm):  # type: ignore[misc]
    """A delivery rule with one condition and one action (services/delivery/rulespec.py)."""

    name = StringField("Rule name", validators=[DataRequired(), Length(max=100)])
    field = SelectField(
        "When",
        choices=[
            SelectChoice("from", "the sender"),
            SelectChoice("to", "a recipient (To or Cc)"),
            SelectChoice("subject", "the subject"),
            SelectChoice("size_over", "the size in bytes is over"),
            SelectChoice("size_under", "the size in bytes is under"),
        ],
    )
    op = SelectField(
        "Compared",
        choices=[
            SelectChoice("contains", "contains"),
            SelectChoice("equals", "is"),
            SelectChoice("matches", "matches (* and ?)"),
        ],
    )
    value = StringField("Value", validators=[Length(max=1000)])
    action = SelectField(
        "Then",
        choices=[
            SelectChoice("move_to", "move it to the folder"),
            SelectChoice("mark_read", "mark it read"),
            SelectChoice("flag", "flag it"),
            SelectChoice("forward", "forward it to"),
            SelectChoice("discard", "delete it"),
            SelectChoice("stop", "stop (no later rule)"),
        ],
    )
    target = StringField("Folder or address", validators=[Length(max=1000)])


class TrustForm(FlaskForm):  # type: ignore[misc]
    """A sender whose remote images are shown without asking."""

    sender = StringField("Sender address", validators=[DataRequired(), Length(max=320)])
