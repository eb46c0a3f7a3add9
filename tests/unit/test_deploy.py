"""The deployment files against the code they run: docker-compose.yml, the image, the
Kubernetes manifests, the Kafka ACL script and the container health check.

No container engine is needed: the files are parsed and checked against the `jointcase`
command line, the settings and the streams, and the shell scripts are run in their dry-run mode.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shlex
import subprocess
import threading
import tomllib
from collections.abc import Iterator, Mapping
from functools import cache
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml  # type: ignore[import-untyped]

from events.streams import Stream
from services.cli import build_parser
from services.config import Settings
from services.topics import dead_letter_topic, topic_for

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DEPLOY = ROOT / "deploy"
DOCKERFILE = DEPLOY / "Dockerfile"
K8S = DEPLOY / "k8s"
ACL_SCRIPT = DEPLOY / "kafka-acls.sh"
SCRAM_SCRIPT = DEPLOY / "kafka-scram-users.sh"
CREDENTIALS_EXAMPLE = DEPLOY / "kafka" / "agency-credentials.example"

OFFICIAL_IMAGES = frozenset({"apache/kafka", "postgres"})
SETTINGS = frozenset(name.upper() for name in Settings.model_fields)
# Variables an app container may set that are not settings of services/config.py.
NON_APP_VARIABLES: frozenset[str] = frozenset()
STANDARD_AUTHORIZER = "org.apache.kafka.metadata.authorizer.StandardAuthorizer"
LONG_RUNNING = ("kafka", "postgres", "gateway", "worker")
# Streams whose systems produce to Kafka directly: every stream but the task force's, which
# writes through the gateway only.
DIRECT_STREAMS = sorted(s.value for s in Stream if s is not Stream.TASKFORCE)

Json = dict[str, Any]


# --- reading the files ------------------------------------------------------------------


@cache
def compose() -> Json:
    doc: Json = yaml.safe_load(COMPOSE_FILE.read_text())
    return doc


def services() -> dict[str, Json]:
    found: dict[str, Json] = compose()["services"]
    return found


def dockerfile_of(service: Json) -> Path | None:
    """The Dockerfile a service is built from, or None for a service that only pulls."""
    build = service.get("build")
    if build is None:
        return None
    if isinstance(build, str):
        return (ROOT / build / "Dockerfile").resolve()
    context = ROOT / str(build.get("context", "."))
    return (context / str(build.get("dockerfile", "Dockerfile"))).resolve()


def app_services() -> dict[str, Json]:
    return {name: s for name, s in services().items() if dockerfile_of(s) == DOCKERFILE}


_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")


def interpolate(value: object) -> str:
    """A compose value as it is with no .env file: `${VAR:-default}` becomes its default."""

    def default(match: re.Match[str]) -> str:
        return match.group(3) if match.group(2) in (":-", "-") else ""

    return _VARIABLE.sub(default, str(value))


def environment(service: Json) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): interpolate(v) for k, v in env.items()}


def command_of(service: Json) -> list[str]:
    command = service.get("command")
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def subcommands() -> dict[str, argparse.ArgumentParser]:
    for action in build_parser()._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    raise AssertionError("the jointcase parser has no subcommands")


def parses(argv: list[str]) -> bool:
    """True if `jointcase ARGV` is a valid command line."""
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        return False
    return True


def check_jointcase_command(argv: list[str], where: str) -> None:
    assert argv, f"{where}: no command (the image's default would run)"
    assert argv[0] in subcommands(), f"{where}: {argv[0]!r} is not a jointcase subcommand"
    assert parses(argv), f"{where}: `jointcase {shlex.join(argv)}` does not parse"


def check_settings(values: Mapping[str, str], where: str, *, complete: bool = True) -> None:
    """Only settings; with `complete`, the values validate as they are (numbers, the Kafka
    profile, the log format, the Kafka security). A part of a container's environment (the
    ConfigMap, the Secret) is validated with the rest: `complete=False`."""
    unknown = set(values) - SETTINGS - NON_APP_VARIABLES
    assert not unknown, f"{where}: not settings of services.config.Settings: {sorted(unknown)}"
    if complete:
        Settings.model_validate({k.lower(): v for k, v in values.items() if k in SETTINGS})


def image_name_and_tag(image: str) -> tuple[str, str]:
    name, _, tag = image.split("@", 1)[0].rpartition(":")
    if not name or "/" in tag:  # no tag at all ("registry:5000/name" has a port, not a tag)
        return image, ""
    return name.removeprefix("docker.io/").removeprefix("library/"), tag


def kafka_env() -> dict[str, str]:
    return environment(services()["kafka"])


def listeners(env: Mapping[str, str], key: str) -> dict[str, tuple[str, int]]:
    """`NAME://host:port,...` into {NAME: (host, port)}."""
    found = {}
    for item in env[key].split(","):
        name, _, address = item.strip().partition("://")
        host, _, port = address.rpartition(":")
        found[name] = (host, int(port))
    return found


def security_protocols(env: Mapping[str, str]) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in env["KAFKA_LISTENER_SECURITY_PROTOCOL_MAP"].split(","))
    return {name.strip(): protocol.strip() for name, protocol in pairs}


def published_container_ports(service: Json) -> set[int]:
    ports = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(interpolate(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    found = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


@cache
def manifests() -> list[tuple[str, Json]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc is not None:
                docs.append((path.name, doc))
    return docs


def objects(kind: str) -> list[Json]:
    return [doc for _, doc in manifests() if doc.get("kind") == kind]


def one(kind: str, name: str) -> Json:
    found = [o for o in objects(kind) if o["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} {name}, found {len(found)}"
    return found[0]


def pod_specs() -> Iterator[tuple[str, Json]]:
    for kind in ("Deployment", "Job", "StatefulSet", "DaemonSet"):
        for o in objects(kind):
            yield f"{kind}/{o['metadata']['name']}", o["spec"]["template"]["spec"]


def containers(pod: Json) -> list[Json]:
    found: list[Json] = [*pod.get("initContainers", []), *pod["containers"]]
    return found


def config_values() -> dict[str, str]:
    data: dict[str, str] = one("ConfigMap", "jointcase")["data"]
    return data


def selects(selector: Json, labels: Mapping[str, str]) -> bool:
    wanted: Mapping[str, str] = selector.get("matchLabels", selector)
    return all(labels.get(k) == v for k, v in wanted.items())


def acl_grants(prefix: str = "jointcase.") -> set[tuple[str, str, str, str]]:
    """(principal, operation, resource type, resource name) granted by the ACL script."""
    result = subprocess.run(
        ["bash", str(ACL_SCRIPT), "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "TOPIC_PREFIX": prefix},
    )
    grants = set()
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, "the ACL script printed no command"
    for line in lines:
        argv = shlex.split(line)
        assert argv[0].endswith("kafka-acls.sh") and "--add" in argv, line
        principals, operations, resources = [], [], []
        pattern = "literal"
        for flag, value in zip(argv, [*argv[1:], ""], strict=True):
            if flag == "--allow-principal":
                principals.append(value)
            elif flag == "--operation":
                operations.append(value)
            elif flag in ("--topic", "--group"):
                resources.append((flag.removeprefix("--"), value))
            elif flag == "--cluster":
                resources.append(("cluster", "kafka-cluster"))
            elif flag == "--resource-pattern-type":
                pattern = value
            elif flag == "--deny-principal":
                raise AssertionError(f"unexpected deny ACL: {line}")
        assert principals and operations and resources, line
        suffix = "" if pattern == "literal" else f"-{pattern}"
        for principal in principals:
            for operation in operations:
                for kind, name in resources:
                    grants.add((principal, operation, kind + suffix, name))
    return grants


def load_healthcheck() -> ModuleType:
    spec = importlib.util.spec_from_file_location("healthcheck", DEPLOY / "healthcheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- docker-compose.yml -----------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(services()))
def test_service_is_a_pinned_official_image_or_the_app_build(name: str) -> None:
    service = services()[name]
    dockerfile = dockerfile_of(service)
    if dockerfile is not None:
        assert dockerfile == DOCKERFILE, f"{name} builds {dockerfile}, not deploy/Dockerfile"
        if "image" in service:  # the name the build is tagged with
            assert image_name_and_tag(service["image"])[1] not in ("", "latest"), name
        return
    image, tag = image_name_and_tag(interpolate(service["image"]))
    assert image in OFFICIAL_IMAGES, f"{name}: {image} is not an official image"
    assert tag and tag != "latest" and re.search(r"\d", tag), f"{name}: tag {tag!r} is not pinned"


def test_the_app_runs_its_roles_from_the_one_image() -> None:
    commands = {name: command_of(s) for name, s in app_services().items()}
    assert ["serve"] in commands.values()
    assert ["worker"] in commands.values()
    assert ["db", "upgrade"] in commands.values()


@pytest.mark.parametrize("name", sorted(app_services()))
def test_app_command_is_a_jointcase_subcommand(name: str) -> None:
    check_jointcase_command(command_of(app_services()[name]), f"service {name}")


@pytest.mark.parametrize("name", sorted(app_services()))
def test_app_environment_holds_only_settings(name: str) -> None:
    env = environment(app_services()[name])
    check_settings(env, f"service {name}")
    assert env["KAFKA_PROFILE"] == "kafka"
    assert env["LOG_FORMAT"] == "json"
    assert env["KAFKA_BOOTSTRAP_SERVERS"], "empty would start the embedded broker"


def test_depends_on_names_existing_services_with_what_the_condition_needs() -> None:
    all_services = services()
    for name, service in all_services.items():
        depends = service.get("depends_on", {})
        if isinstance(depends, list):
            depends = {target: {"condition": "service_started"} for target in depends}
        for target, spec in depends.items():
            assert target in all_services, f"{name} depends on unknown service {target}"
            condition = spec.get("condition", "service_started")
            if condition == "service_healthy":
                assert "healthcheck" in all_services[target], f"{target} has no health check"
            elif condition == "service_completed_successfully":
                assert all_services[target].get("restart") == "no", f"{target} is not one-shot"
            else:
                assert condition == "service_started", f"{name}: condition {condition}"


def test_services_wait_for_migrations_and_kafka() -> None:
    for name in ("gateway", "worker"):
        depends = services()[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully", name
        assert depends["kafka"]["condition"] == "service_healthy", name
    assert services()["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"


@pytest.mark.parametrize(
    ("name", "probe"),
    [
        ("kafka", "kafka-broker-api-versions.sh"),
        ("postgres", "pg_isready"),
        ("gateway", "jointcase-healthcheck"),
    ],
)
def test_health_checks(name: str, probe: str) -> None:
    check = services()[name]["healthcheck"]
    assert not check.get("disable", False)
    test = check["test"]
    assert test[0] in ("CMD", "CMD-SHELL"), test
    assert probe in " ".join(test), test


def test_gateway_health_check_is_the_tool_the_image_installs() -> None:
    copies = [rest for keyword, rest in dockerfile_instructions() if keyword == "COPY"]
    assert any(
        "deploy/healthcheck.py" in c and c.endswith("/jointcase-healthcheck") for c in copies
    )
    assert "--ready" in services()["gateway"]["healthcheck"]["test"]


def test_restart_policies() -> None:
    for name in LONG_RUNNING:
        assert services()[name]["restart"] in ("always", "unless-stopped", "on-failure"), name
    for name in ("migrate", "kafka-setup"):
        assert services()[name]["restart"] == "no", name


def test_workers_are_several_and_no_more_than_the_partitions() -> None:
    worker = services()["worker"]
    replicas = int(worker["deploy"]["replicas"])
    default = Settings.model_fields["topic_partitions"].default
    partitions = int(environment(worker).get("TOPIC_PARTITIONS", default))
    assert 1 < replicas <= partitions
    assert command_of(worker) == ["worker"]
    assert "ports" not in worker, "several workers on one host need no port"
    assert "container_name" not in worker, "replicas cannot share a container name"


def test_data_lives_in_named_volumes() -> None:
    declared = set(compose().get("volumes") or {})
    mounts = {
        "kafka": kafka_env()["KAFKA_LOG_DIRS"],
        "postgres": "/var/lib/postgresql/data",
    }
    for name, path in mounts.items():
        volumes = [str(v).split(":") for v in services()[name]["volumes"]]
        assert any(v[0] in declared and path.startswith(v[1]) for v in volumes), name


def test_kafka_runs_kraft_with_the_authorizer_and_no_auto_created_topics() -> None:
    env = kafka_env()
    assert set(env["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not any(k.startswith("KAFKA_ZOOKEEPER") for k in env)
    assert env["CLUSTER_ID"]
    assert env["KAFKA_AUTHORIZER_CLASS_NAME"] == STANDARD_AUTHORIZER
    assert env["KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND"] == "false"
    assert env["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    assert env["KAFKA_SUPER_USERS"]


def test_agencies_have_a_published_sasl_listener_and_plaintext_stays_private() -> None:
    env = kafka_env()
    protocols = security_protocols(env)
    bound = listeners(env, "KAFKA_LISTENERS")
    published = published_container_ports(services()["kafka"])
    sasl = [name for name, p in protocols.items() if p.startswith("SASL_")]
    assert sasl, "no SASL listener for the agencies"
    assert any(bound[name][1] in published for name in sasl), "the SASL listener is not published"
    for name, protocol in protocols.items():
        if protocol == "PLAINTEXT":
            assert bound[name][1] not in published, f"PLAINTEXT listener {name} is published"
    mechanisms = {value for key, value in env.items() if key.endswith("_SASL_ENABLED_MECHANISMS")}
    assert mechanisms and mechanisms <= {"SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"}


def test_the_services_reach_kafka_on_an_advertised_listener_of_their_protocol() -> None:
    env = kafka_env()
    protocols = security_protocols(env)
    advertised = {
        f"{host}:{port}": protocols[name]
        for name, (host, port) in listeners(env, "KAFKA_ADVERTISED_LISTENERS").items()
    }
    for name, service in app_services().items():
        app_env = environment(service)
        # Stated, not left to the default: it is the one switch between PLAINTEXT and SASL.
        protocol = app_env["KAFKA_SECURITY_PROTOCOL"]
        for server in app_env["KAFKA_BOOTSTRAP_SERVERS"].split(","):
            assert advertised.get(server) == protocol, f"{name}: {server} is not {protocol}"


def test_database_url_points_at_the_postgres_service() -> None:
    pg = environment(services()["postgres"])
    for name, service in app_services().items():
        url = urlsplit(environment(service)["DATABASE_URL"])
        assert url.scheme in ("postgresql", "postgres"), name
        assert url.hostname == "postgres", name
        assert url.username == pg["POSTGRES_USER"], name
        assert url.password == pg["POSTGRES_PASSWORD"], name
        assert url.path.lstrip("/") == pg["POSTGRES_DB"], name


def test_kafka_setup_runs_the_acl_script_from_the_repository() -> None:
    setup = services()["kafka-setup"]
    command = " ".join(command_of(setup))
    assert "/deploy/kafka-acls.sh" in command
    assert "/deploy/kafka-scram-users.sh" in command
    assert any(str(v).startswith("./deploy:/deploy") for v in setup["volumes"])
    secret = compose()["secrets"]["agency_credentials"]["file"]
    assert (ROOT / interpolate(secret)).is_file()


# --- the image --------------------------------------------------------------------------


def test_image_runs_jointcase_as_a_non_root_user() -> None:
    instructions = dockerfile_instructions()
    users = [rest for keyword, rest in instructions if keyword == "USER"]
    assert users, "the image runs as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0")
    entrypoint = [rest for keyword, rest in instructions if keyword == "ENTRYPOINT"][-1]
    assert entrypoint == '["jointcase"]'
    cmd = yaml.safe_load([rest for keyword, rest in instructions if keyword == "CMD"][-1])
    check_jointcase_command(cmd, "Dockerfile CMD")
    assert any(keyword == "HEALTHCHECK" for keyword, _ in instructions)


def test_image_installs_the_package_with_its_migrations() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    package_data = pyproject["tool"]["setuptools"]["package-data"]["services"]
    assert "migrations/*.sql" in package_data
    assert any(p.match("services/migrations/*.sql") for p in (ROOT / "services").rglob("*.sql"))
    text = DOCKERFILE.read_text()
    assert "services/migrations/" in text, "the build no longer checks the wheel's migrations"


def test_build_context_keeps_the_sources_and_drops_the_rest() -> None:
    patterns = [
        line.strip()
        for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(path: str) -> bool:
        verdict = False
        for pattern in patterns:
            negated = pattern.startswith("!")
            bare = pattern.removeprefix("!").rstrip("/")
            parts = path.split("/")
            prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
            if any(Path(p).match(bare) or p == bare for p in prefixes) or (
                bare.startswith("**/") and any(Path(p).match(bare[3:]) for p in prefixes)
            ):
                verdict = not negated
        return verdict

    copied = [
        rest.split()[:-1]  # every source; the last word is the destination
        for keyword, rest in dockerfile_instructions()
        if keyword == "COPY" and not rest.startswith("--from")
    ]
    sources = [s for c in copied for s in c] + ["services/migrations/0001_event_store.sql"]
    assert "pyproject.toml" in sources and "README.md" in sources
    assert "events" in sources and "deploy/healthcheck.py" in sources
    for source in sources:
        assert not ignored(source), f"{source} is copied by the Dockerfile but ignored"
    for path in (".venv/bin/python", ".git/HEAD", "jointcase.worker-data/v1", "tests/conftest.py"):
        assert ignored(path), f"{path} would be sent to the builder"


# --- Kubernetes -------------------------------------------------------------------------


def test_manifests_parse_and_name_their_namespace() -> None:
    assert len(manifests()) >= 8
    for path, doc in manifests():
        if path == "kustomization.yaml":
            continue
        assert doc["apiVersion"] and doc["kind"] and doc["metadata"]["name"], path
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "jointcase", path


def test_kustomization_lists_every_manifest_but_the_secret_example() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    expected = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "secret.example.yaml"}
    assert listed == expected
    assert {i["name"] for i in kustomization["images"]} == {"jointcase"}


def test_container_commands_are_jointcase_subcommands() -> None:
    seen = []
    for where, pod in pod_specs():
        for container in containers(pod):
            command = container.get("command", [])
            assert command in ([], ["jointcase"]), f"{where}: command {command} skips jointcase"
            check_jointcase_command([str(a) for a in container["args"]], where)
            seen.append(container["args"][0])
            image, tag = image_name_and_tag(container["image"])
            assert image == "jointcase" and tag not in ("", "latest"), where
    assert {"serve", "worker", "db"} <= set(seen)


def test_containers_read_only_settings_from_the_config_and_secret() -> None:
    check_settings(config_values(), "ConfigMap jointcase", complete=False)
    secret = one("Secret", "jointcase")
    check_settings(secret["stringData"], "Secret jointcase", complete=False)
    assert "DATABASE_URL" in secret["stringData"]
    assert config_values()["KAFKA_PROFILE"] == "kafka"
    assert config_values()["LOG_FORMAT"] == "json"
    for where, pod in pod_specs():
        for container in containers(pod):
            own = {e["name"]: e.get("value", "") for e in container.get("env", [])}
            check_settings(own, where, complete=False)
            refs = {
                (kind, ref[kind]["name"])
                for ref in container["envFrom"]
                for kind in ("configMapRef", "secretRef")
                if kind in ref
            }
            assert refs == {("configMapRef", "jointcase"), ("secretRef", "jointcase")}, where


def test_each_container_has_a_complete_kafka_configuration() -> None:
    # Every jointcase command checks the Kafka settings at start: the ConfigMap, the Secret
    # and the container's own variables together must pass (a SASL protocol needs the
    # container's principal, the migration's included).
    shared = {**config_values(), **one("Secret", "jointcase")["stringData"]}
    assert shared["KAFKA_SECURITY_PROTOCOL"], "the protocol is stated in the ConfigMap"
    for where, pod in pod_specs():
        for container in containers(pod):
            own = {
                e["name"]: e.get("value", "from-a-secret" if "valueFrom" in e else "")
                for e in container.get("env", [])
            }
            check_settings({**shared, **own}, f"{where} {container['name']}")


def test_pods_run_unprivileged_as_the_image_user() -> None:
    user = [rest for keyword, rest in dockerfile_instructions() if keyword == "USER"][-1]
    for where, pod in pod_specs():
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, where
        assert str(context["runAsUser"]) == user.split(":")[0], where
        for container in containers(pod):
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["capabilities"]["drop"] == ["ALL"], where
            assert "limits" in container["resources"], where


def test_gateway_probes_and_service() -> None:
    deployment = one("Deployment", "jointcase-gateway")
    pod = deployment["spec"]["template"]
    (container,) = pod["spec"]["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == int(config_values()["HTTP_PORT"])
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"]["port"] in (ports["http"], "http")
    service = one("Service", "jointcase-gateway")
    assert selects(service["spec"]["selector"], pod["metadata"]["labels"])
    assert selects(deployment["spec"]["selector"], pod["metadata"]["labels"])
    for port in service["spec"]["ports"]:
        assert port["targetPort"] in ports or port["targetPort"] in ports.values()


def test_workers_are_bounded_by_the_partitions_and_have_no_service() -> None:
    deployment = one("Deployment", "jointcase-worker")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    replicas = int(deployment["spec"]["replicas"])
    assert 1 < replicas <= int(config_values()["TOPIC_PARTITIONS"])
    assert not any(selects(s["spec"].get("selector", {}), labels) for s in objects("Service"))
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["worker"]
    assert "ports" not in container
    budgets = [p for p in objects("PodDisruptionBudget") if selects(p["spec"]["selector"], labels)]
    assert len(budgets) == 1
    assert budgets[0]["spec"].get("maxUnavailable") == 1


def test_migration_job_upgrades_the_database() -> None:
    job = one("Job", "jointcase-migrate")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    assert container["args"] == ["db", "upgrade"]
    assert job["spec"]["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")


# --- Kafka ACLs ---------------------------------------------------------------------------


def test_acl_script_is_valid_bash_and_names_every_direct_stream() -> None:
    subprocess.run(["bash", "-n", str(ACL_SCRIPT)], check=True)
    words = set(re.findall(r"[a-z_]+", ACL_SCRIPT.read_text()))
    missing = [s for s in DIRECT_STREAMS if s not in words]
    assert not missing, f"deploy/kafka-acls.sh lacks the streams {missing}"


@pytest.mark.parametrize("prefix", ["jointcase.", "staging.jc."])
def test_each_agency_writes_its_own_topic_only(prefix: str) -> None:
    grants = acl_grants(prefix)
    agencies = {g[0] for g in grants if g[0].startswith("User:agency-")}
    assert agencies == {f"User:agency-{s}" for s in DIRECT_STREAMS}
    for stream in DIRECT_STREAMS:
        principal = f"User:agency-{stream}"
        own = {(op, kind, name) for p, op, kind, name in grants if p == principal}
        topic = topic_for(stream, prefix)
        assert own == {("Write", "topic", topic), ("Describe", "topic", topic)}, principal


def test_internal_services_get_what_they_use() -> None:
    prefix = "jointcase."
    grants = acl_grants(prefix)
    worker, gateway = "User:jointcase-worker", "User:jointcase-gateway"
    for stream in Stream:
        topic = topic_for(stream, prefix)
        assert (worker, "Read", "topic", topic) in grants
        assert (gateway, "Write", "topic", topic) in grants
        assert (gateway, "Create", "topic", topic) in grants
    assert (worker, "Write", "topic", dead_letter_topic(prefix)) in grants
    assert (gateway, "Describe", "topic", dead_letter_topic(prefix)) in grants
    group = Settings(topic_prefix=prefix, worker_group="").projector_group
    assert (worker, "Read", "group", group) in grants
    assert (gateway, "Describe", "group", group) in grants
    assert not any(p == gateway and op == "Read" for p, op, _, _ in grants)


def test_agency_credentials_example_matches_the_acl_principals() -> None:
    result = subprocess.run(
        ["bash", str(SCRAM_SCRIPT), str(CREDENTIALS_EXAMPLE), "--dry-run"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert sorted(result.stdout.split()) == sorted(f"agency-{s}" for s in DIRECT_STREAMS)


@pytest.mark.parametrize(
    "line",
    ["agency-tax short", "agency-tax has,a,comma-in-it-x", "agency tax too many-fields-here"],
)
def test_scram_script_refuses_bad_lines(tmp_path: Path, line: str) -> None:
    credentials = tmp_path / "credentials"
    credentials.write_text(f"# a comment\n{line}\n")
    result = subprocess.run(
        ["bash", str(SCRAM_SCRIPT), str(credentials), "--dry-run"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert f"{credentials}:2:" in result.stderr


# --- the container health check -----------------------------------------------------------


class _Answer(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = self.status if self.path in ("/healthz", "/readyz") else 404
        self.send_response(code)
        self.end_headers()
        self.wfile.write(self.path.encode())

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[HTTPServer]:
    server = HTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        _Answer.status = 200


@pytest.mark.parametrize(
    ("argv", "serves"),
    [
        (["/opt/jointcase/bin/python", "/opt/jointcase/bin/jointcase", "serve"], True),
        (["/sbin/docker-init", "--", "jointcase", "serve", "--port", "9000"], True),
        (["/opt/jointcase/bin/python", "/opt/jointcase/bin/jointcase", "worker"], False),
        (["jointcase", "token", "issue", "--note", "serve"], False),
        ([], False),
    ],
)
def test_healthcheck_knows_the_role(argv: list[str], serves: bool) -> None:
    assert load_healthcheck().serves_http(argv) is serves


def test_healthcheck_port_comes_from_the_command_or_the_environment() -> None:
    check = load_healthcheck()
    assert check.http_port(["jointcase", "serve", "--port", "9001"], {}) == 9001
    assert check.http_port(["jointcase", "serve", "--port=9002"], {"HTTP_PORT": "1"}) == 9002
    assert check.http_port(["jointcase", "serve"], {"HTTP_PORT": "9003"}) == 9003
    assert check.http_port(["jointcase", "serve"], {}) == 8000


def test_healthcheck_passes_for_roles_without_http() -> None:
    check = load_healthcheck()
    assert check.main([], process_argv=["jointcase", "worker"], env={"HTTP_PORT": "1"}) == 0


def test_healthcheck_asks_the_http_service(http_server: HTTPServer) -> None:
    check = load_healthcheck()
    argv = ["jointcase", "serve"]
    env = {"HTTP_PORT": str(http_server.server_address[1])}
    assert check.main([], process_argv=argv, env=env) == 0
    assert check.main(["--ready"], process_argv=argv, env=env) == 0
    _Answer.status = 503
    assert check.main(["--ready"], process_argv=argv, env=env) == 1
    assert check.main([], process_argv=argv, env=env) == 1
    http_server.shutdown()
    http_server.server_close()
    _Answer.status = 200
    assert check.main([], process_argv=argv, env=env) == 1
