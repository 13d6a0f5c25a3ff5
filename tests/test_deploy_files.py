"""The deploy descriptors (app.json, render.yaml) parse and run exactly the Procfile's commands; the README
opens with the commands CI runs, and its settings table, app.json and the code name the same variables."""

import json
import re
from pathlib import Path

import pytest
import yaml

from sandbox.setup import sandbox_env
from settings import load_settings
from tests.procs import procfile
from tests.test_structure import SOURCES

ROOT = Path(__file__).resolve().parent.parent
# Heroku's dyno sizes (its app.json schema); formation entries may name only these.
DYNO_SIZES = {"eco", "basic", "standard-1x", "standard-2x", "performance-m", "performance-l",
              "private-s", "private-m", "private-l", "shield-s", "shield-m", "shield-l"}
APP_JSON_ENV_KEYS = {"description", "value", "required", "generator"}
# Set by the platform, never by app.json: declaring them would clash with what the platform sets.
HEROKU_PROVIDED = {"PORT": "the router assigns it", "DATABASE_URL": "the heroku-postgresql add-on sets it"}
RENDER_SOURCES = {"value", "generateValue", "sync", "fromDatabase", "fromService"}
# Documented settings that libraries read rather than our code.
LIBRARY_READS = {"HTTPS_PROXY": "urllib's proxy settings", "NO_PROXY": "urllib's proxy settings"}


def readme_settings(markdown):
    """The environment variables named in the first column of the README's Configuration table."""
    section = markdown.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    names = []
    for line in section.splitlines():
        if line.startswith("| `"):
            first_cell = line.split("|")[1]
            names.extend(re.findall(r"`([A-Z][A-Z0-9_]*)`", first_cell))
    return names


@pytest.fixture(scope="module")
def app_json():
    return json.loads((ROOT / "app.json").read_text())


@pytest.fixture(scope="module")
def blueprint():
    return yaml.safe_load((ROOT / "render.yaml").read_text())


@pytest.fixture(scope="module")
def commands():
    return {name: command.strip() for name, command in procfile().items()}


class Reads(dict):
    """An empty environment that records every name looked up in it."""

    def __init__(self):
        super().__init__()
        self.names = set()

    def get(self, name, default=None):
        self.names.add(name)
        return default

    def __getitem__(self, name):
        self.names.add(name)
        raise KeyError(name)

    def __contains__(self, name):
        self.names.add(name)
        return False


def variables_the_code_reads():
    """What settings and the sandbox read from their environment, and every `os.environ` look-up by name
    elsewhere (gunicorn.conf.py, the CA bundle, metrics)."""
    env = Reads()
    sandbox_env(env, "instance")
    load_settings(env)
    sources = [*SOURCES.values(), (ROOT / "gunicorn.conf.py").read_text()]
    literal = r"os\.(?:environ\.get\(|environ\[|getenv\()\s*[\"']([A-Z][A-Z0-9_]*)[\"']"
    return env.names | {name for source in sources for name in re.findall(literal, source)}


def test_the_readme_opens_with_the_commands_ci_runs():
    import app as entry  # what `flask --app app` loads
    run, test = re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)[:2]
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert test == ci, ".ci/run must run the README's test command exactly"
    assert run == ci.rsplit(" && ", 1)[0] + " && .venv/bin/flask --app app sandbox"
    assert "sandbox" in entry.app.cli.commands


def test_the_settings_table_names_what_the_code_reads():
    documented = set(readme_settings((ROOT / "README.md").read_text()))
    read = variables_the_code_reads()
    assert sorted(read - documented) == [], "read by the code, missing from the README's Configuration table"
    assert sorted(documented - read - set(LIBRARY_READS)) == [], "in the README's table, read by nothing"


def test_app_json_declares_every_setting_the_platform_does_not(app_json):
    documented = set(readme_settings((ROOT / "README.md").read_text()))
    assert sorted(set(app_json["env"]) ^ (documented - set(HEROKU_PROVIDED))) == []


def test_app_json_runs_the_procfile_processes(app_json, commands):
    # Heroku runs the Procfile itself (release: on every deploy): the formation must name its processes.
    assert set(app_json["formation"]) == set(commands) - {"release"} == {"web", "worker"}
    for process in app_json["formation"].values():
        assert process["quantity"] == 1 and process["size"] in DYNO_SIZES


def test_app_json_has_postgres_and_generated_secrets(app_json):
    plans = [addon["plan"] if isinstance(addon, dict) else addon for addon in app_json["addons"]]
    assert [plan.split(":")[0] for plan in plans] == ["heroku-postgresql"]
    for name in ("WEBHOOK_TOKENS", "SECRET_KEY"):
        assert app_json["env"][name]["generator"] == "secret"


def test_app_json_env_entries_are_well_formed(app_json):
    for name, entry in app_json["env"].items():
        assert re.fullmatch(r"[A-Z][A-Z0-9_]*", name), name
        assert set(entry) <= APP_JSON_ENV_KEYS and entry["description"].strip(), name
        assert isinstance(entry.get("value", ""), str), name
        assert isinstance(entry.get("required", False), bool), name
    assert not set(app_json["env"]) & set(HEROKU_PROVIDED)


def services_by_type(blueprint):
    return {service["type"]: service for service in blueprint["services"]}


def test_render_runs_the_procfile_commands(blueprint, commands):
    services = services_by_type(blueprint)
    assert set(services) == {"web", "worker"}
    assert services["web"]["startCommand"] == commands["web"]
    assert services["web"]["preDeployCommand"] == commands["release"]
    assert services["worker"]["startCommand"] == commands["worker"]
    for service in services.values():
        assert (service["runtime"], service["buildCommand"]) == ("python", "pip install -r requirements.txt")


def test_render_health_check_is_a_route_that_answers(blueprint, client):
    path = services_by_type(blueprint)["web"]["healthCheckPath"]
    assert (path, client.get(path).status_code) == ("/healthz", 200)


def env_of(service):
    return {entry["key"]: entry for entry in service["envVars"]}


def test_render_wires_the_database_into_both_services(blueprint):
    databases = {database["name"] for database in blueprint["databases"]}
    for service in blueprint["services"]:
        source = env_of(service)["DATABASE_URL"]["fromDatabase"]
        assert source["name"] in databases and source["property"] == "connectionString"


def test_render_generates_the_secrets_and_shares_vendor_settings(blueprint):
    services = services_by_type(blueprint)
    web, worker = env_of(services["web"]), env_of(services["worker"])
    assert web["WEBHOOK_TOKENS"]["generateValue"] is True and web["SECRET_KEY"]["generateValue"] is True
    for key, entry in worker.items():
        if "fromService" in entry:  # the worker reads the vendor settings entered once on the web service
            ref = entry["fromService"]
            assert (ref["type"], ref["name"], ref["envVarKey"]) == ("web", services["web"]["name"], key)
            assert key in web
    for service in blueprint["services"]:
        for key, entry in env_of(service).items():
            assert len(set(entry) & RENDER_SOURCES) == 1, f"{service['name']} {key}: one source each"


def test_render_python_matches_the_repository_pin(blueprint):
    pinned = (ROOT / ".python-version").read_text().strip()
    for service in blueprint["services"]:
        assert env_of(service)["PYTHON_VERSION"]["value"] == pinned
