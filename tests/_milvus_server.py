"""Start and stop the real Milvus standalone server from PyPI's `milvus` package, on loopback.

``milvus-server --data D --proxy-port P`` is a Python wrapper that writes a config and runs
``D/bin/milvus run standalone``. Facts that shape this helper (see docs/environment.md):

- The server listens on all interfaces; clients here connect through 127.0.0.1 only.
- The wrapper picks free ports for the Milvus components itself, but embedded etcd always binds
  2379/2380 unless given a config file (``ETCD_CONFIG_PATH``); we give it free loopback ports,
  so two test sessions can each run a server.
- SIGTERM to the wrapper does not stop its child ``milvus run standalone``: stop sends SIGKILL
  to the child by its pid, then ends the wrapper, and waits for both.

    with MilvusServer(tmp_dir) as server:
        client = MilvusClient(server.uri)

`shared_server()` gives one server per test process (started on first use, ~5 s, stopped at
exit), for factories that cannot take fixtures.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

STARTUP_TIMEOUT = 90.0
_BANNER = b"Welcome to use Milvus"
#: Components whose ports we choose (free ephemeral ports), so concurrent servers never share.
_COMPONENTS = (
    "root-coord",
    "proxy",
    "proxy-internal",
    "query-coord",
    "query-node",
    "index-coord",
    "index-node",
    "data-coord",
    "data-node",
)

#: A test server's latencies (the defaults suit a cluster; the semantics are the same): a
#: Strong read waits for the next time tick (200 ms by default, here 50 ms) and loading a
#: collection for the query coordinator's checks (about 3 s, here under 1 s). The cost: about
#: 4 % of a core while idle instead of 2 %.
_QUICK_CONFIG = (  # keys of the wrapper's config template (--extra-config)
    "proxy.timeTickInterval=50",
    "queryCoord.checkInterval=200",
    "queryCoord.distPullInterval=100",
)
_QUICK_ENV = {  # keys the template lacks: Milvus reads them from its environment as well
    "QUERYCOORD_CHECKCHANNELINTERVAL": "200",
    "QUERYCOORD_CHECKSEGMENTINTERVAL": "200",
    "QUERYCOORD_LEADERVIEWUPDATEINTERVAL": "200",
    "QUERYCOORD_UPDATENEXTTARGETINTERVAL": "1",  # seconds
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def milvus_server_command() -> str | None:
    """The `milvus-server` script of this environment (None if the package is missing)."""
    beside = Path(sys.executable).with_name("milvus-server")
    if beside.exists():
        return str(beside)
    return shutil.which("milvus-server")


class MilvusServer:
    """A Milvus standalone server in `data_dir` on a free loopback port.

    Args:
        data_dir: Where the server keeps its binary copy, config, data and logs.
        startup_timeout: Seconds to wait until it answers requests.
    """

    def __init__(self, data_dir: str | os.PathLike[str], startup_timeout: float = STARTUP_TIMEOUT):
        self.data_dir = Path(data_dir)
        self.startup_timeout = startup_timeout
        self.port: int | None = None
        self._wrapper: subprocess.Popen[bytes] | None = None
        self._child: int | None = None
        self._log: Path = self.data_dir / "milvus-server.log"

    @property
    def uri(self) -> str:
        assert self.port is not None, "server not started"
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> MilvusServer:
        command = milvus_server_command()
        if command is None:
            raise RuntimeError("the `milvus` package (milvus-server) is not installed")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        # Another test process starting a server at the same time could pick the same ports
        # (the wrapper probes, then releases them): serialise starts across processes.
        with _start_lock():
            self._launch(command)
            try:
                self._wait_ready()
            except BaseException:
                self.stop()
                raise
        return self

    def _launch(self, command: str) -> None:
        etcd_client, etcd_peer = free_port(), free_port()
        etcd_config = self.data_dir / "embed-etcd.yaml"
        etcd_config.write_text(
            "name: default\n"
            f"listen-client-urls: http://127.0.0.1:{etcd_client}\n"
            f"advertise-client-urls: http://127.0.0.1:{etcd_client}\n"
            f"listen-peer-urls: http://127.0.0.1:{etcd_peer}\n"
            f"initial-advertise-peer-urls: http://127.0.0.1:{etcd_peer}\n"
            f"initial-cluster: default=http://127.0.0.1:{etcd_peer}\n"
        )
        env = dict(
            os.environ, ETCD_CONFIG_PATH=str(etcd_config), PYTHONUNBUFFERED="1", **_QUICK_ENV
        )
        flags = [f"--{name}-port={free_port()}" for name in _COMPONENTS]
        flags += [f"--extra-config={setting}" for setting in _QUICK_CONFIG]
        with open(self._log, "wb") as log:
            self._wrapper = subprocess.Popen(
                [command, "--data", str(self.data_dir), f"--etcd-port={etcd_client}", *flags],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )

    def _wait_ready(self) -> None:
        # The wrapper prints its banner once the server's /healthz says OK; then a real
        # request (in a thread, so a hanging connect cannot outlive the deadline).
        assert self._wrapper is not None
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._wrapper.poll() is not None:
                raise RuntimeError(f"milvus-server exited early; see {self._log}")
            self._child = self._child or _child_pid(self._wrapper.pid)
            if self._child and not _alive(self._child):
                raise RuntimeError(
                    f"milvus run standalone exited early; see {self.data_dir / 'logs'}"
                )
            if self._child and _BANNER in self._log.read_bytes():
                self.port = _proxy_port(self.data_dir)  # the wrapper may have shifted it
                if self.port and _answers(self.uri, deadline - time.monotonic()):
                    return
            time.sleep(0.2)
        raise TimeoutError(
            f"Milvus did not answer within {self.startup_timeout} s; see {self._log}"
        )

    def stop(self) -> None:
        """Kill the `milvus run standalone` child by pid, end the wrapper, wait for both."""
        wrapper, self._wrapper = self._wrapper, None
        child = self._child or (_child_pid(wrapper.pid) if wrapper else None)
        self._child = None
        if child:
            try:
                os.kill(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if wrapper is not None:
            if wrapper.poll() is None:
                wrapper.terminate()
                try:
                    wrapper.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    wrapper.kill()
                    wrapper.wait(timeout=5)
        if child:
            _reap(child)

    def __enter__(self) -> MilvusServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _child_pid(parent: int) -> int | None:
    try:
        text = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return None
    return int(text[0]) if text else None


def _proxy_port(data_dir: Path) -> int | None:
    """`proxy.port` from the config the wrapper wrote."""
    try:
        lines = (data_dir / "configs" / "milvus.yaml").read_text().splitlines()
    except OSError:
        return None
    in_proxy = False
    for line in lines:
        if line and not line[0].isspace() and not line.startswith("#"):
            in_proxy = line.startswith("proxy:")
        elif in_proxy and (found := re.match(r"^  port:\s*(\d+)", line)):
            return int(found.group(1))
    return None


def _answers(uri: str, timeout: float) -> bool:
    """Whether a pymilvus request succeeds within `timeout` seconds."""
    result: list[bool] = []

    def probe() -> None:
        try:
            from pymilvus import MilvusClient

            client = MilvusClient(uri, timeout=max(1.0, timeout))
            client.list_collections()
            client.close()
            result.append(True)
        except Exception:
            result.append(False)

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(max(0.1, timeout))
    return bool(result and result[0])


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):
        return False


@contextlib.contextmanager
def _start_lock() -> Iterator[None]:
    path = Path(tempfile.gettempdir()) / "jina-v3-milvus-start.lock"
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _reap(pid: int, timeout: float = 5.0) -> None:
    """Wait until a killed process is gone (it is the wrapper's child, reaped by init)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
            if state == "Z":
                return
        except OSError:
            return
        time.sleep(0.05)


_shared: MilvusServer | None = None
_shared_lock = threading.Lock()


def shared_server() -> MilvusServer:
    """One server per test process, started on first use and stopped at exit."""
    global _shared
    with _shared_lock:
        if _shared is None:
            directory = tempfile.mkdtemp(prefix="jina-v3-milvus-")
            server = MilvusServer(directory).start()

            def _stop() -> None:
                server.stop()
                shutil.rmtree(directory, ignore_errors=True)

            atexit.register(_stop)
            _shared = server
        return _shared
