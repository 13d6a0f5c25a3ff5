"""An alert names the operator's brand (BRAND_NAME) in its title: the alert tests' own set-up, branded."""

import pytest

from tests.test_alerts import FAILING_ONE, alerting, receiver, send  # noqa: F401 (fixtures)


@pytest.fixture
def env(env):
    """The suite's environment with a brand: every app of this module has it."""
    return {**env, "BRAND_NAME": "Acme & Co"}


def test_an_alert_title_names_the_brand(alerting, receiver, justclick):  # noqa: F811 (the fixtures)
    app, _, checks = alerting
    send(app, ["someone@example.com"], 4, justclick)
    assert len(checks.run()) == 1
    assert receiver.titles(1) == [FAILING_ONE.replace("unsub-relay:", "unsub-relay (Acme & Co):")]
