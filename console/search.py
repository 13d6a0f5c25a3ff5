"""The search form and its keyset cursor: parsing and checking what the operator typed (pure)."""

from datetime import date, datetime, timedelta

from werkzeug.datastructures import MultiDict
from wtforms import Form, SelectField, StringField
from wtforms.fields import DateField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, Optional, Regexp, ValidationError

from delivery.planning import destinations
from status import STATES

CURSOR_SEPARATOR = "~"
# Days a search may name: the range's end is the next day's midnight, which must exist.
FIRST_DAY, LAST_DAY = date(1970, 1, 1), date(9998, 12, 31)
PRINTABLE = r"^[^\x00-\x1f\x7f]*$"  # no control characters (PostgreSQL refuses NUL in text)


def within_days(form, field):
    """A day the ledger can hold and the range arithmetic can reach."""
    if field.data is not None and not FIRST_DAY <= field.data <= LAST_DAY:
        raise ValidationError(f"Choose a day between {FIRST_DAY} and {LAST_DAY}.")


class SearchForm(Form):
    """What can be searched; the address never travels in a URL or a cookie (the ledger keeps it with the
    operator's session)."""

    address = StringField("Address or phone", [Optional(), Length(max=320),
                                               Regexp(PRINTABLE, message="No control characters, please.")])
    match = SelectField("Match", choices=[SelectChoice("exact"), SelectChoice("prefix", "starts with")],
                        default="exact")
    status = SelectField("Status", choices=[SelectChoice("", "any"), *map(SelectChoice, STATES)], default="")
    destination = SelectField("Destination", default="")  # choices: the registered vendors, in read_form
    since = DateField("From (UTC)", [Optional(), within_days])
    until = DateField("To (UTC, inclusive)", [Optional(), within_days])

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The last day comes before the first.")


def read_form(args, address=""):
    """A SearchForm from query arguments plus the address kept with the session."""
    data = MultiDict(args)
    data.setlist("address", [address] if address else [])
    form = SearchForm(data)
    form.destination.choices = [SelectChoice("", "any"), *map(SelectChoice, destinations()[1:])]
    return form


def filters_of(form):
    """The store's filters from a valid form: the day range as [since 00:00, until+1 00:00)."""
    until = form.until.data
    return {"address": form.address.data or "", "prefix": form.match.data == "prefix",
            "status": form.status.data, "destination": form.destination.data,
            "since": datetime.combine(form.since.data, datetime.min.time()) if form.since.data else None,
            "until": datetime.combine(until + timedelta(days=1), datetime.min.time()) if until else None}


def query_of(form):
    """The form's non-personal fields as URL arguments (the address stays with the session)."""
    args = {"status": form.status.data, "destination": form.destination.data,
            "since": form.since.raw_data[0] if form.since.raw_data else "",
            "until": form.until.raw_data[0] if form.until.raw_data else ""}
    if form.address.data:
        args.update(address="1", match=form.match.data)
    return {k: v for k, v in args.items() if v}


def cursor_of(row):
    """A row's place in the newest-first order, as it goes in a paging link."""
    return f"{row['created_at'].isoformat()}{CURSOR_SEPARATOR}{row['id']}"


def parse_cursor(text):
    """(created_at, id) from a paging link, or None when it is not one of ours (a naive UTC time, then an
    id of ASCII letters and digits)."""
    at, sep, row_id = (text or "").partition(CURSOR_SEPARATOR)
    if not sep or not (row_id.isascii() and row_id.isalnum()) or len(row_id) > 32:
        return None
    try:
        moment = datetime.fromisoformat(at)
    except ValueError:
        return None
    return (moment, row_id) if moment.tzinfo is None else None
