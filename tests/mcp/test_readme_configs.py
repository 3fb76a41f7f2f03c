"""The README's MCP client configurations are valid JSON in each client's shape, and every
command line in them (and in the section's shell block) is one `jina-v3` parses."""

from __future__ import annotations

import json
import re
import shlex

from tests.test_readme import README


def _section() -> str:
    return README.split("## AI agents (MCP)\n", 1)[1].split("\n## ", 1)[0]


def _mcp_args(args: list[str]):
    from jina_v3.cli.main import build_parser

    parsed = build_parser().parse_args(args)
    assert parsed.command == "mcp"
    return parsed


def test_client_configurations_are_json_with_real_command_lines():
    claude, vscode, cursor = (
        json.loads(b) for b in re.findall(r"```json\n(.*?)```", _section(), re.S)
    )
    stdio = [*claude["mcpServers"].values(), *cursor["mcpServers"].values()]
    stdio += [s for s in vscode["servers"].values() if s["type"] == "stdio"]
    remote = [s for s in cursor["mcpServers"].values() if "url" in s]
    remote += [s for s in vscode["servers"].values() if s["type"] == "http"]
    for server in stdio:
        if "url" in server:
            continue
        assert server["command"].endswith("/.venv/bin/jina-v3")
        assert _mcp_args(server["args"]).store.startswith("qdrant-edge:")
    assert remote and all(s["url"] == "http://127.0.0.1:8000/mcp" for s in remote)
    assert all(s["headers"]["Authorization"].startswith("Bearer ${") for s in remote)


def test_the_sections_command_lines_parse():
    (block,) = re.findall(r"```bash\n(.*?)```", _section(), re.S)
    commands = [
        part
        for line in block.splitlines()
        for part in line.split("#", 1)[0].split("&&")
        if "jina-v3 mcp" in part
    ]
    assert len(commands) == 3
    for command in commands:
        words = shlex.split(command)
        words = words[words.index("jina-v3") + 1 :]
        parsed = _mcp_args(words)
        assert parsed.http == ("--http" in words)
