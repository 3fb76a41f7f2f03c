"""docker-compose.yml and the Dockerfile against the code (no Docker engine runs here).

The compose file validates against the compose specification (offline, with check-jsonschema's
vendored schema); its ports, health checks and the server's command line match the CLI and
the server; the health checks that do not need the service's own image run here for real:
Qdrant's bash ``/dev/tcp`` probe against a stand-in HTTP server and the server's probe against
``jina-v3 serve``'s app on the tiny checkpoint.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shlex
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import tomllib

from jina_v3.cli import build_parser

yaml = pytest.importorskip("yaml")

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
SERVER_PORT = build_parser().parse_args(["serve"]).port  # the CLI's default port


# -- reading the files ---------------------------------------------------------------------------

_VARIABLE = re.compile(r"\$\$|\$\{(\w+)(?::?[-?]([^}]*))?\}|\$(\w+)")


def interpolate(value: Any) -> Any:
    """Compose's interpolation with an empty environment: ``${X:-default}`` is its default."""
    if isinstance(value, str):
        return _VARIABLE.sub(lambda m: "$" if m.group(0) == "$$" else (m.group(2) or ""), value)
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(yaml.safe_load(COMPOSE.read_text()))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def container_ports(service: dict[str, Any]) -> dict[int, str]:
    """{container port: host binding} of a service's short-syntax ``ports``."""
    ports = {}
    for entry in service.get("ports", []):
        *host, container = str(entry).split(":")
        ports[int(container.split("/")[0])] = ":".join(host)
    return ports


def command_argv(command: str | list[str]) -> list[str]:
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def health_argv(service: dict[str, Any]) -> list[str]:
    """The health check as the argv Docker runs (``CMD-SHELL`` through ``/bin/sh -c``)."""
    test = service["healthcheck"]["test"]
    if isinstance(test, str):
        return ["/bin/sh", "-c", test]
    kind, *argv = test
    return ["/bin/sh", "-c", argv[0]] if kind == "CMD-SHELL" else argv


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    lines = [line.strip() for line in joined.splitlines()]
    return [
        (line.split(None, 1)[0].upper(), line.split(None, 1)[1])
        for line in lines
        if line and not line.startswith("#")
    ]


def dockerfile(instruction: str) -> list[str]:
    return [args for name, args in dockerfile_instructions() if name == instruction]


def exec_form(instruction: str) -> list[str]:
    (args,) = dockerfile(instruction)[-1:]  # the last one wins, as in Docker
    return json.loads(args)


# -- the compose specification -------------------------------------------------------------------


def test_compose_file_validates_against_the_compose_spec():
    if importlib.util.find_spec("check_jsonschema") is None:
        pytest.skip("check-jsonschema is not installed (it comes with the `test` extra)")
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "check_jsonschema",
            "--builtin-schema",
            "vendor.compose-spec",
            str(COMPOSE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stdout + run.stderr


def test_services_have_health_checks_named_volumes_and_health_gated_dependencies(compose):
    services = compose["services"]
    assert set(services) == {"qdrant", "etcd", "minio", "milvus", "jina-v3"}
    declared = set(compose["volumes"])
    used = set()
    for name, service in services.items():
        assert service["healthcheck"]["test"], f"{name} has no health check"
        for mount in service.get("volumes", []):
            source, _target = str(mount).split(":")[:2]
            assert not source.startswith((".", "/")), f"{name}: {mount} is not a named volume"
            used.add(source)
        for dependency, how in service.get("depends_on", {}).items():
            assert how == {"condition": "service_healthy"}, f"{name} -> {dependency}"
            assert services[dependency]["healthcheck"]["test"]
    assert used == declared


def test_every_port_is_published_on_loopback_only(services):
    for name, service in services.items():
        for container, host in container_ports(service).items():
            assert host == f"127.0.0.1:{container}", f"{name}: {container} is published on {host}"


# -- Qdrant --------------------------------------------------------------------------------------


def test_qdrant_ports_and_readiness_probe(services):
    qdrant = services["qdrant"]
    assert qdrant["image"].startswith("qdrant/qdrant:")
    assert set(container_ports(qdrant)) == {6333, 6334}
    assert "/qdrant/storage" in {str(v).split(":")[1] for v in qdrant["volumes"]}
    argv = health_argv(qdrant)
    assert argv[:2] == ["bash", "-c"]  # the image has bash, not curl or wget
    assert "/dev/tcp/127.0.0.1/6333" in argv[2] and "GET /readyz " in argv[2]


class _Readiness(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        type(self).paths.append(self.path)
        body = b"all shards are ready" if self.status == 200 else b"not ready"
        self.send_response(self.status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def readiness_server(status: int) -> Iterator[tuple[int, list[str]]]:
    handler = type("Handler", (_Readiness,), {"status": status, "paths": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler.paths
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_qdrant_health_check_runs_with_bash_alone(services):
    argv = health_argv(services["qdrant"])

    def probe(port: int) -> int:
        script = argv[2].replace("/6333", f"/{port}")
        return subprocess.run(
            ["bash", "-c", script], env={}, capture_output=True, timeout=10
        ).returncode

    with readiness_server(200) as (port, paths):
        assert probe(port) == 0
        assert paths == ["/readyz"]
    with readiness_server(503) as (port, _):
        assert probe(port) != 0
    assert probe(port) != 0  # nothing listens there any more


# -- Milvus standalone ---------------------------------------------------------------------------


def test_milvus_standalone_follows_the_official_compose(services):
    milvus, etcd, minio = services["milvus"], services["etcd"], services["minio"]
    assert milvus["image"].startswith("milvusdb/milvus:v2.")
    assert etcd["image"].startswith("quay.io/coreos/etcd:")
    assert minio["image"].startswith("minio/minio:")
    assert command_argv(milvus["command"]) == ["milvus", "run", "standalone"]
    assert milvus["environment"]["ETCD_ENDPOINTS"] == "etcd:2379"
    assert milvus["environment"]["MINIO_ADDRESS"] == "minio:9000"
    assert set(container_ports(milvus)) == {19530, 9091}
    assert health_argv(milvus) == ["curl", "-f", "http://localhost:9091/healthz"]
    assert set(milvus["depends_on"]) == {"etcd", "minio"}
    assert health_argv(etcd) == ["etcdctl", "endpoint", "health"]
    assert command_argv(minio["command"])[:3] == ["minio", "server", "/minio_data"]
    assert '--console-address ":9001"' in minio["command"]


# -- jina-v3 serve -------------------------------------------------------------------------------


def test_server_command_parses_with_the_cli(services):
    server = services["jina-v3"]
    assert server["build"] == {"context": ".", "dockerfile": "Dockerfile"}
    args = build_parser().parse_args(command_argv(server["command"]))  # after the entrypoint
    assert args.command == "serve"
    assert args.host == "0.0.0.0"  # reachable through the published port
    assert args.port == SERVER_PORT
    assert args.model == "jinaai/jina-embeddings-v3"  # ${JINA_V3_MODEL:-...} unset
    assert args.api_key_env == "JINA_V3_API_KEY"
    assert "JINA_V3_API_KEY" in server["environment"]
    assert set(container_ports(server)) == {SERVER_PORT}


def test_server_cache_volume_is_the_images_hub_cache(services):
    server = services["jina-v3"]
    hf_home = server["environment"]["HF_HOME"]
    assert f"hf-cache:{hf_home}" in server["volumes"]
    assert f"HF_HOME={hf_home}" in " ".join(dockerfile("ENV"))
    assert any(hf_home in run and "chown" in run for run in dockerfile("RUN"))


def test_server_health_check_probes_the_servers_health_route(services, tiny_embedder):
    pytest.importorskip("fastapi")
    from jina_v3.server import create_app
    from tests._servers import ServerThread

    argv = health_argv(services["jina-v3"])
    assert argv[:2] == ["python", "-c"]  # the image has Python, not curl
    url = f"http://127.0.0.1:{SERVER_PORT}/healthz"
    assert url in argv[2]
    app = create_app(tiny_embedder, api_key="secret")  # /healthz needs no key
    assert "/healthz" in {route.path for route in app.routes}
    with ServerThread(app) as srv:
        probe = argv[2].replace(url, f"{srv.url}/healthz")
        assert subprocess.run([sys.executable, "-c", probe], timeout=30).returncode == 0
        missing = argv[2].replace(url, f"{srv.url}/nothing-here")
        run = subprocess.run([sys.executable, "-c", missing], capture_output=True, timeout=30)
        assert run.returncode != 0


# -- the Dockerfile ------------------------------------------------------------------------------


def test_dockerfile_runs_the_cli():
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["jina-v3"] == "jina_v3.cli:main"
    assert exec_form("ENTRYPOINT") == ["jina-v3"]
    args = build_parser().parse_args(exec_form("CMD"))
    assert (args.command, args.host, args.port) == ("serve", "0.0.0.0", SERVER_PORT)
    assert args.api_key_env == "JINA_V3_API_KEY"
    assert dockerfile("EXPOSE") == [str(SERVER_PORT)]
    (healthcheck,) = dockerfile("HEALTHCHECK")
    assert f"http://127.0.0.1:{SERVER_PORT}/healthz" in healthcheck
    assert dockerfile("USER") and dockerfile("USER")[-1] != "root"


def test_dockerfile_installs_through_the_constraints_file():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    installs = [run for run in dockerfile("RUN") if "pip install" in run]
    assert len(installs) == 1
    argv = shlex.split(installs[0].split("&&")[0])
    assert argv[:2] == ["pip", "install"]
    constraints = argv[argv.index("-c") + 1]
    assert constraints == ".ci/constraints.txt" and (ROOT / constraints).is_file()
    extras = re.fullmatch(r"\.\[([\w,-]+)\]", argv[-1])
    assert extras, f"installs {argv[-1]!r}, not the package with extras"
    assert set(extras.group(1).split(",")) == {"local", "server"}
    assert {"local", "server"} <= set(project["optional-dependencies"])
    # the constraints pin torch (its CPU build comes from the extra index)
    assert re.search(r"^torch==", (ROOT / constraints).read_text(), re.M)
    assert "download.pytorch.org/whl/cpu" in " ".join(dockerfile("ARG"))
    # everything the install needs is copied in before it, and not excluded by .dockerignore
    instructions = dockerfile_instructions()
    before = instructions[: instructions.index(("RUN", installs[0]))]
    copied = [p for name, args in before if name == "COPY" for p in args.split()[:-1]]
    for needed in (".ci/constraints.txt", "pyproject.toml", "README.md", "core", "connectors"):
        assert needed in copied
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert not ignored & {".ci", ".ci/constraints.txt", "pyproject.toml", "README.md", "core"}


def test_python_base_image_satisfies_requires_python():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    (base,) = dockerfile("FROM")
    version = re.fullmatch(r"python:(\d+)\.(\d+)-slim", base)
    assert version, base
    minimum = re.fullmatch(r">=(\d+)\.(\d+)", project["requires-python"])
    assert minimum
    assert tuple(map(int, version.groups())) >= tuple(map(int, minimum.groups()))
