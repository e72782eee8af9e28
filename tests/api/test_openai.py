"""Fathom's local API through OpenAI's own Python package (pinned in requirements.txt): the client
people point at Fathom. The server is `fathom serve`, run as a person runs it, on the tiny
checkpoint with gpt-oss's vocabulary (random weights: its words are noise, but token counts,
streaming, finishing, errors and cancellation are real)."""

import json
import os
import re
import subprocess
import time
from pathlib import Path

import openai
import pytest
from helpers import read_line
from openai import OpenAI

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(os.environ.get("FATHOM_FIXTURES", ROOT / ".tools/fixtures/gpt-oss"))
MINILM = Path(os.environ.get("FATHOM_MINILM", ROOT / ".tools/fixtures/minilm"))
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
FATHOM = Path(os.environ.get("FATHOM_BIN", TARGET / "debug/fathom"))
TOKEN = "test-token-" + os.urandom(8).hex()




@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("data")
    env = dict(os.environ, FATHOM_DATA_DIR=str(data), FATHOM_EMBEDDER=str(MINILM),
               FATHOM_API_TOKEN=TOKEN)
    proc = subprocess.Popen(
        [str(FATHOM), "serve", "--model", str(FIXTURES / "chat"), "--port", "0", "--queue", "4"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = read_line(proc.stdout, 120)
        match = re.search(r"at (http://\S+/v1)", line or "")
        assert match, f"no address from fathom serve: {line!r} {proc.poll()}"
        assert "Token: the one given" in (read_line(proc.stdout, 30) or "")
        yield match.group(1)
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture
def client(server):
    # No retries: a refusal must surface, not be hidden by a second try.
    return OpenAI(base_url=server, api_key=TOKEN, max_retries=0, timeout=120)


MESSAGES = [
    {"role": "system", "content": "Answer briefly."},
    {"role": "user", "content": "What do otters keep under the kelp?"},
]


def test_the_model_and_the_embedder_are_listed(client):
    ids = [m.id for m in client.models.list()]
    assert ids == ["chat", "sentence-transformers/all-MiniLM-L6-v2"]
    assert client.models.retrieve("chat").owned_by == "fathom"


def test_a_reply_whole_and_streamed_agree_and_count_their_tokens(client):
    whole = client.chat.completions.create(model="chat", messages=MESSAGES, max_tokens=8,
                                           temperature=0)
    choice = whole.choices[0]
    assert choice.finish_reason == "length"
    assert choice.message.role == "assistant"
    assert whole.usage.completion_tokens == 8
    assert whole.usage.total_tokens == whole.usage.prompt_tokens + 8

    stream = client.chat.completions.create(model="chat", messages=MESSAGES, max_tokens=8,
                                            temperature=0, stream=True,
                                            stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == (choice.message.content or "")
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].usage.completion_tokens == 8
    # The second call's prompt came from the engine's cache.
    assert chunks[-1].usage.prompt_tokens_details.cached_tokens > 0


def test_a_tool_round_trip_in_the_clients_own_types_is_accepted(client):
    tools = [{"type": "function", "function": {
        "name": "search_notes", "description": "Search the notes",
        "parameters": {"type": "object", "properties": {"q": {"type": "string"}}}}}]
    messages = MESSAGES + [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "search_notes", "arguments": "{\"q\": \"otters\"}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "Otters keep pebbles."},
    ]
    reply = client.chat.completions.create(model="chat", messages=messages, tools=tools,
                                           reasoning_effort="low", max_completion_tokens=4,
                                           seed=3)
    assert reply.usage.completion_tokens == 4
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="chat", messages=messages[:-1], tools=tools,
                                       max_tokens=4)
    assert "end with a user message" in str(refused.value)


def test_errors_are_the_clients_own_exceptions(server, client):
    with pytest.raises(openai.AuthenticationError):
        OpenAI(base_url=server, api_key="wrong", max_retries=0).models.list()
    with pytest.raises(openai.NotFoundError) as unknown:
        client.chat.completions.create(model="gpt-5", messages=MESSAGES, max_tokens=2)
    assert unknown.value.body["code"] == "model_not_found"
    with pytest.raises(openai.BadRequestError) as hot:
        client.chat.completions.create(model="chat", messages=MESSAGES, temperature=9)
    assert hot.value.body["param"] == "temperature"
    with pytest.raises(openai.APIStatusError) as huge:
        client.chat.completions.create(
            model="chat", messages=[{"role": "user", "content": "x" * (9 << 20)}])
    assert huge.value.status_code == 413


def test_closing_a_stream_stops_its_generation_and_frees_the_model(client):
    # Longer than the test would ever wait for: only a stop ends it in time.
    stream = client.chat.completions.create(model="chat", messages=MESSAGES, max_tokens=100_000,
                                            temperature=0, stream=True)
    first = next(iter(stream))
    assert first.choices[0].delta.role == "assistant"
    stream.close()
    started = time.monotonic()
    reply = client.chat.completions.create(model="chat", messages=MESSAGES, max_tokens=3)
    assert reply.usage.completion_tokens == 3
    print(f"the next request was answered {time.monotonic() - started:.2f} s after the close")


def test_a_raw_harmony_prompt_through_the_completions_endpoint(client):
    prompt = ("<|start|>user<|message|>Where are the otters?<|end|>"
              "<|start|>assistant")
    whole = client.completions.create(model="chat", prompt=prompt, max_tokens=5, temperature=0)
    assert whole.object == "text_completion"
    assert whole.usage.completion_tokens <= 5
    assert whole.choices[0].finish_reason in ("length", "stop")
    streamed = "".join(c.choices[0].text for c in client.completions.create(
        model="chat", prompt=prompt, max_tokens=5, temperature=0, stream=True) if c.choices)
    assert streamed == whole.choices[0].text
    with pytest.raises(openai.BadRequestError) as refused:
        client.completions.create(model="chat", prompt=prompt, echo=True)
    assert refused.value.body["param"] == "echo"


def test_embeddings_through_the_clients_default_base64(client):
    result = client.embeddings.create(model="all-MiniLM-L6-v2",
                                      input=["otters keep pebbles", "spring tides"])
    assert [len(d.embedding) for d in result.data] == [384, 384]
    assert abs(sum(x * x for x in result.data[0].embedding) - 1) < 1e-3
    floats = client.embeddings.create(model="all-MiniLM-L6-v2", input="otters keep pebbles",
                                      encoding_format="float")
    assert max(abs(a - b) for a, b in zip(floats.data[0].embedding,
                                          result.data[0].embedding)) < 1e-6
    assert result.usage.prompt_tokens > 4


def test_another_fathom_runs_its_chat_on_this_server_and_comes_back(server, tmp_path):
    """`fathom engine server` points a second Fathom (its own data) at this one; its chat then
    replies from here, as the server's own greedy answer, with nothing loaded there."""
    env = dict(os.environ, FATHOM_DATA_DIR=str(tmp_path))

    def fathom(*args, stdin=None):
        return subprocess.run([str(FATHOM), *args], env=env, input=stdin, capture_output=True,
                              text=True, timeout=300)

    wrong = fathom("engine", "server", server, "--key", "nope")
    assert wrong.returncode != 0 and "refused the key" in wrong.stderr, wrong.stderr
    chosen = fathom("engine", "server", server, "--key", TOKEN)
    assert chosen.returncode == 0, chosen.stderr
    assert "serves: chat" in chosen.stdout
    assert f"runs on the server at {server}" in chosen.stdout

    ask = fathom("chat", "--json", "--max-tokens", "8", "--temp", "0", "--effort", "low",
                 stdin="What do otters keep under the kelp?")
    assert ask.returncode == 0, ask.stderr
    reply = json.loads(ask.stdout)["message"]
    assert reply["stats"]["generatedTokens"] == 8
    assert reply["ending"] == "length"
    # The server's own answer to the same conversation: the same tokens came back.
    whole = OpenAI(base_url=server, api_key=TOKEN, max_retries=0).chat.completions.create(
        model="chat", messages=[{"role": "user", "content": "What do otters keep under the kelp?"}],
        max_tokens=8, temperature=0, reasoning_effort="low")
    assert reply["stats"]["promptTokens"] == whole.usage.prompt_tokens

    back = fathom("engine", "computer")
    assert back.returncode == 0 and "runs on this computer" in back.stdout, back.stdout
    gone = fathom("chat", "--json", "--max-tokens", "8", stdin="Hello?")
    assert gone.returncode != 0 and "No model chosen" in gone.stderr, gone.stderr


def test_responses_whole_and_streamed_agree_in_typed_events(client):
    """`/v1/responses` through the client's own types: the whole response and the stream's final
    one agree, events come numbered in order, and a long reply says it is incomplete."""
    ask = dict(model="chat", input="What do otters keep under the kelp?", max_output_tokens=8,
               temperature=0, reasoning={"effort": "low"})
    whole = client.responses.create(**ask)
    assert whole.object == "response"
    assert whole.status == "incomplete"
    assert whole.incomplete_details.reason == "max_output_tokens"
    assert whole.usage.output_tokens == 8
    assert whole.usage.total_tokens == whole.usage.input_tokens + 8

    events = list(client.responses.create(**ask, stream=True))
    types = [e.type for e in events]
    assert types[:2] == ["response.created", "response.in_progress"], types
    assert types[-1] == "response.incomplete", types
    assert [e.sequence_number for e in events] == list(range(len(events)))
    final = events[-1].response
    assert final.id == events[0].response.id
    assert final.output_text == whole.output_text
    assert [item.type for item in final.output] == [item.type for item in whole.output]
    # Each item streamed is announced, filled and closed with the text the final one holds.
    for item in final.output:
        added = [e for e in events if e.type == "response.output_item.added" and e.item.id == item.id]
        done = [e for e in events if e.type == "response.output_item.done" and e.item.id == item.id]
        assert len(added) == 1 and len(done) == 1, item.id
    # The second call's prompt came from the engine's cache.
    assert final.usage.input_tokens_details.cached_tokens > 0


def test_responses_take_a_function_call_and_its_output_and_refuse_what_they_cannot_keep(client):
    tools = [{"type": "function", "name": "weather", "description": "The weather in a city",
              "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}]
    items = [
        {"role": "user", "content": "Weather in Oslo?"},
        {"type": "function_call", "call_id": "c1", "name": "weather", "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "c1", "output": '{"celsius": 3}'},
    ]
    answer = client.responses.create(model="chat", input=items, tools=tools, max_output_tokens=4)
    assert answer.usage.output_tokens == 4
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="chat", input="Hi", previous_response_id=answer.id)
    assert refused.value.body["param"] == "previous_response_id"
    with pytest.raises(openai.BadRequestError) as refused:
        client.responses.create(model="chat", input=items[:2] + [
            {"type": "function_call_output", "call_id": "c9", "output": "?"}], tools=tools)
    assert refused.value.body["param"] == "input[2].call_id"
