"""The vendors this service can deliver to. Adding one is a module describing it and one line here."""

from connectors.justclick import JustClickVendor
from connectors.mailkit import MailkitVendor

VENDORS = (JustClickVendor(), MailkitVendor())
BY_NAME = {vendor.name: vendor for vendor in VENDORS}
NAMES = tuple(BY_NAME)


def vendor(name):
    """The description of one vendor by name."""
    return BY_NAME[name]


def read_configs(env, problems):
    """Every vendor's configuration from the environment, by name."""
    return {vendor.name: vendor.read(env, problems) for vendor in VENDORS}


def build_connectors(configs, timeout):
    """One connector per vendor whose configuration is usable, by name."""
    return {v.name: v.build(configs[v.name], timeout) for v in VENDORS if v.usable(configs[v.name])}


def secrets(configs):
    """Every secret value of every vendor configuration."""
    return [value for v in VENDORS for value in v.secrets(configs[v.name])]


def environment_variables():
    """(vendor name, Var) for every variable any vendor reads, for documentation and checks."""
    return [(v.name, var) for v in VENDORS for var in v.variables]
