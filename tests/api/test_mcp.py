"""Fathom's library as an MCP server, through the official MCP Python SDK (pinned in
requirements.txt): `fathom mcp` over stdio, and `/mcp` on `fathom serve` over streamable HTTP. A
small folder is indexed first; `ask` runs Context-1's search on the tiny checkpoint with gpt-oss's
vocabulary (random weights: what it ranks is noise, but the run, its progress and its checks are
real)."""

import asyncio
import json
import os
import re
import subprocess
import threading
from pathlib import Path

import httpx2
import pytest
from helpers import read_line
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import create_mcp_http_client, streamable_http_client

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("FATHOM_FIXTURES", ROOT / ".tools/fixtures/gpt-oss"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
FATHOM = Path(os.environ.get("FATHOM_BIN", TARGET / "debug/fathom"))
MODEL = FIXTURES / "chat"
TOKEN = "mcp-test-" + os.urandom(8).hex()
TOOLS = {"search", "grep", "read_document", "list_folders", "ask"}


@pytest.fixture
def library(tmp_path):
    """A data folder whose library holds three notes, indexed; replies kept short for Ask."""
    notes = tmp_path / "Notes"
    notes.mkdir()
    (notes / "otters.md").write_text("# Otters\n\nThe zorbulon otter hides its pebbles under the kelp.\n")
    (notes / "tides.txt").write_text("Spring tides follow the full and the new moon.\n")
    (notes / "budget.md").write_text("The budget memo is in the shared drive, folder Finance.\n")
    data = tmp_path / "data"
    (data / "config").mkdir(parents=True)
    (data / "config/settings.json").write_text(json.dumps({"replyMaxTokens": 24}))
    env = dict(os.environ, FATHOM_DATA_DIR=str(data))
    env.pop("FATHOM_EMBEDDER", None)
    out = subprocess.run([str(FATHOM), "index", "add", str(notes)], env=env, capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return env, notes


def payload(result):
    assert not result.is_error, result.content
    return json.loads(result.content[0].text)


async def exercise(session, notes, ask=True):
    """What any client does: list the tools, then use each."""
    tools = await session.list_tools()
    assert {t.name for t in tools.tools} == TOOLS
    described = {t.name: t for t in tools.tools}
    assert "query" in described["search"].input_schema["properties"]

    folders = payload(await session.call_tool("list_folders", {}))
    assert [f["path"] for f in folders] == [str(notes)]
    assert folders[0]["documents"] == 3

    hits = payload(await session.call_tool("search", {"query": "zorbulon otter pebbles", "limit": 3}))
    assert hits[0]["path"] == str(notes / "otters.md")
    doc = hits[0]["document_id"]
    assert re.fullmatch(r"[0-9a-f]{16}", doc)
    within = payload(await session.call_tool("search", {"query": "tides", "folder": folders[0]["id"]}))
    assert within[0]["path"].endswith("tides.txt")

    grepped = payload(await session.call_tool("grep", {"pattern": r"budget\s+memo"}))
    assert [h["path"] for h in grepped] == [str(notes / "budget.md")]

    read = payload(await session.call_tool("read_document", {"id": doc}))
    assert read["path"] == str(notes / "otters.md") and "zorbulon" in "".join(read["passages"])

    # Only the library, by id: a path, a path-like id, a folder outside it are refused.
    for bad in ["/etc/passwd", "../../etc/passwd", str(notes / "otters.md"), "0000000000000000"]:
        refused = await session.call_tool("read_document", {"id": bad})
        assert refused.is_error and "no document" in refused.content[0].text, bad
    outside = await session.call_tool("search", {"query": "x", "folder": "/etc"})
    assert outside.is_error
    bad_pattern = await session.call_tool("grep", {"pattern": "(unclosed"})
    assert bad_pattern.is_error and "pattern" in bad_pattern.content[0].text

    if ask:
        progress = []

        async def on_progress(value, total, message):
            progress.append((value, total, message))

        result = payload(await session.call_tool(
            "ask", {"question": "Where is the budget memo?", "budget": 4000},
            progress_callback=on_progress))
        assert result["question"] == "Where is the budget memo?"
        assert isinstance(result["documents"], list) and result["ending"]
        for d in result["documents"]:
            assert d["path"].startswith(str(notes)), d
        for c in result["citations"]:
            assert isinstance(c["verified"], bool)
        assert progress and any("Searching" in (m or "") for _, _, m in progress), progress


def test_fathom_mcp_over_stdio(library):
    env, notes = library

    async def run():
        params = StdioServerParameters(command=str(FATHOM), args=["mcp", "--model", str(MODEL)], env=env)
        async with stdio_client(params) as (read, write):
            async with ClientSession(read, write) as session:
                await session.initialize()
                await exercise(session, notes)

    asyncio.run(asyncio.wait_for(run(), 600))


def test_an_older_client_gets_the_2025_11_25_revision(library):
    env, _ = library
    proc = subprocess.Popen([str(FATHOM), "mcp"], env=env, stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        proc.stdin.write(json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {},
            "clientInfo": {"name": "old-client", "version": "1"}}}) + "\n")
        proc.stdin.flush()
        line = []
        reader = threading.Thread(target=lambda: line.append(proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(120)
        reply = json.loads(line[0])
        assert reply["result"]["protocolVersion"] == "2025-11-25"
        assert reply["result"]["serverInfo"]["name"] == "fathom"
        assert "tools" in reply["result"]["capabilities"]
    finally:
        proc.kill()
        proc.wait(30)




def test_mcp_over_streamable_http_on_fathom_serve_with_the_token(library):
    env, notes = library
    env = dict(env, FATHOM_API_TOKEN=TOKEN)
    proc = subprocess.Popen([str(FATHOM), "serve", "--model", str(MODEL), "--port", "0"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        match = re.search(r"at (http://\S+)/v1", read_line(proc.stdout, 120) or "")
        assert match, proc.poll()
        url = match.group(1) + "/mcp"
        # Without the token, nothing.
        refused = httpx2.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert refused.status_code == 401

        async def run():
            client = create_mcp_http_client(headers={"Authorization": f"Bearer {TOKEN}"})
            async with streamable_http_client(url, http_client=client) as streams:
                async with ClientSession(streams[0], streams[1]) as session:
                    await session.initialize()
                    await exercise(session, notes, ask=False)

        asyncio.run(asyncio.wait_for(run(), 300))
    finally:
        proc.terminate()
        proc.wait(30)
