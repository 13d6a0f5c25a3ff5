"""An address reaches each vendor exactly as it was received (trimmed): a vendor matches the text it holds,
so a rewritten address is "not found" there while its contact stays subscribed behind a 200."""

from urllib.parse import parse_qsl

import pytest

from tests.helpers import post

ADDRESSES = [  # (id, as received, as the vendor holds it and must be asked)
    ("ascii", "anna@example.com", "anna@example.com"),
    ("punycode domain", "ivan@xn--e1afmkfd.xn--p1ai", "ivan@xn--e1afmkfd.xn--p1ai"),
    ("unicode domain", "ivan@пример.рф", "ivan@пример.рф"),
    ("unicode address", "иван@пример.рф", "иван@пример.рф"),
    ("mixed case", "Anna.Smith@Example.COM", "Anna.Smith@Example.COM"),
    ("plus addressing", "anna+news@example.com", "anna+news@example.com"),
    ("surrounding spaces", "  anna@example.com\t", "anna@example.com"),
]
VENDORS = ["justclick", "mailkit-json", "mailkit-xmlrpc"]


def received_by(vendor, justclick, mailkit):
    """The address the vendor's simulator was asked about in its last request."""
    if vendor == "justclick":
        signed = justclick.requests[-1]["body"].decode().rpartition("&hash=")[0]
        return dict(parse_qsl(signed))["lead_email"]
    transport, call = mailkit.calls[-1]
    return call["parameters"]["email"] if transport == "json" else call[2]


def client_for(vendor, make_app, mailkit):
    if vendor == "mailkit-xmlrpc":
        return make_app(MAILKIT_TRANSPORT="xmlrpc", MAILKIT_API_URL=mailkit.url("xmlrpc")).test_client()
    return make_app().test_client()


def subscribe(vendor, address, justclick, mailkit):
    if vendor == "justclick":
        justclick.subscribe(address, "Main")
    else:
        mailkit.subscribe(address)


def still_subscribed(vendor, address, justclick, mailkit):
    return address in justclick.groups["Main"] if vendor == "justclick" else address in mailkit.subscribed


@pytest.mark.parametrize("kind", ["json", "form"])
@pytest.mark.parametrize("vendor", VENDORS)
@pytest.mark.parametrize("received, held", [a[1:] for a in ADDRESSES], ids=[a[0] for a in ADDRESSES])
def test_the_vendor_is_asked_about_the_address_as_received(make_app, justclick, mailkit, vendor, kind,
                                                            received, held):
    subscribe(vendor, held, justclick, mailkit)
    client = client_for(vendor, make_app, mailkit)
    response = post(client, {"email": received}, kind, route=vendor.split("-")[0])
    assert received_by(vendor, justclick, mailkit) == held
    assert (response.status_code, response.json["status"]) == (200, "unsubscribed"), response.json
    assert not still_subscribed(vendor, held, justclick, mailkit)


@pytest.mark.parametrize("vendor", VENDORS)
def test_an_address_the_vendor_does_not_hold_is_not_subscribed_there(make_app, justclick, mailkit, vendor):
    """The punycode contact is held; the Unicode spelling was received: the vendor is asked about what was
    received, answers "not found", and the held contact is left alone (no rewrite either way)."""
    subscribe(vendor, "ivan@xn--e1afmkfd.xn--p1ai", justclick, mailkit)
    client = client_for(vendor, make_app, mailkit)
    response = post(client, {"email": "ivan@пример.рф"}, route=vendor.split("-")[0])
    assert received_by(vendor, justclick, mailkit) == "ivan@пример.рф"
    assert response.json["results"][0]["status"] == "not_subscribed"
    assert still_subscribed(vendor, "ivan@xn--e1afmkfd.xn--p1ai", justclick, mailkit)


@pytest.mark.parametrize("address", ["anna@", "anna@example", "@example.com", "anna@exa mple.com",
                                     "anna@xn--.com", "anna@@example.com"])
def test_an_address_is_still_syntax_checked(client, justclick, mailkit, address):
    response = post(client, {"email": address})
    assert response.status_code == 422 and "email" in response.json["errors"]
    assert justclick.requests == [] and mailkit.requests == []
