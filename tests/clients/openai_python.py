"""The official OpenAI Python SDK against Promptyard's /v1, one model at a time.

Run by tests/it/clients.rs with PROMPTYARD_BASE_URL, PROMPTYARD_KEY, PROMPTYARD_MODELS and
PROMPTYARD_EMBEDDING_MODELS (comma-separated) set, against fake upstreams that call `get_weather` until they get its result
and then answer `{"city": "Paris", "celsius": 21}`. Exits non-zero on the first failure.
"""

import json
import os
import sys

import openai
from pydantic import BaseModel

ANSWER = {"city": "Paris", "celsius": 21}

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Current weather in a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


class Weather(BaseModel):
    city: str
    celsius: int


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def tool_loop(client, model):
    """Two steps: the model calls the tool, the tool's result goes back, the model answers."""
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    first = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
    choice = first.choices[0]
    check(choice.finish_reason == "tool_calls", f"finish_reason {choice.finish_reason}")
    calls = choice.message.tool_calls
    check(calls and calls[0].function.name == "get_weather", f"tool calls {calls}")
    check(json.loads(calls[0].function.arguments) == {"city": "Paris"}, "arguments")
    # As the SDK's own examples do: the assistant message object goes back as it came.
    messages.append(choice.message)
    messages.append(
        {"role": "tool", "tool_call_id": calls[0].id, "content": json.dumps({"sky": "sunny"})}
    )
    second = client.chat.completions.create(model=model, messages=messages, tools=TOOLS)
    check(second.choices[0].finish_reason == "stop", "second step finish_reason")
    check(json.loads(second.choices[0].message.content) == ANSWER, "second step content")
    check(second.usage.total_tokens > 0, "usage")


def streamed_tool_calls(client, model):
    """The SDK's stream helper assembles the tool call from its deltas."""
    with client.chat.completions.stream(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris?"}],
        tools=TOOLS,
        stream_options={"include_usage": True},
    ) as stream:
        deltas = 0
        for event in stream:
            if event.type == "tool_calls.function.arguments.delta":
                deltas += 1
        final = stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]
    check(call.function.name == "get_weather", f"streamed call {call}")
    check(json.loads(call.function.arguments) == {"city": "Paris"}, "streamed arguments")
    check(final.choices[0].finish_reason == "tool_calls", "streamed finish_reason")
    check(deltas >= 1, "argument deltas")


def structured(client, model):
    """`parse` with a Pydantic model: a strict json_schema response format."""
    done = client.chat.completions.parse(
        model=model,
        messages=[{"role": "user", "content": "Weather in Paris as JSON"}],
        response_format=Weather,
    )
    parsed = done.choices[0].message.parsed
    check(parsed == Weather(**ANSWER), f"parsed {parsed}")


def bad_request(client, model):
    """A tool message answering no call is the SDK's BadRequestError naming the field."""
    try:
        client.chat.completions.create(
            model=model,
            messages=[
                {"role": "user", "content": "hi"},
                {"role": "tool", "tool_call_id": "nope", "content": "x"},
            ],
        )
    except openai.BadRequestError as e:
        check(e.body["param"] == "messages[1].tool_call_id", f"param {e.body}")
        return
    raise AssertionError("no BadRequestError")


def embeddings(client, model):
    """The SDK asks for base64 by default and decodes it; the fake's vector i, entry j is
    (i + 1) / 10 + j / 100."""
    done = client.embeddings.create(model=model, input=["first", "second"])
    check(len(done.data) == 2, f"{len(done.data)} vectors")
    for i, item in enumerate(done.data):
        want = [(i + 1) / 10 + j / 100 for j in range(4)]
        check(all(abs(a - b) < 1e-6 for a, b in zip(item.embedding, want)), f"vector {i}")
        check(len(item.embedding) == 4, "dimensions")
    check(done.usage.prompt_tokens > 0, "usage")


def main():
    client = openai.OpenAI(
        base_url=os.environ["PROMPTYARD_BASE_URL"],
        api_key=os.environ["PROMPTYARD_KEY"],
        max_retries=0,
    )
    for model in os.environ["PROMPTYARD_MODELS"].split(","):
        for step in (tool_loop, streamed_tool_calls, structured, bad_request):
            try:
                step(client, model)
            except Exception as e:  # noqa: BLE001 - report which step failed, and how
                print(f"{model}: {step.__name__} failed: {e!r}", file=sys.stderr)
                sys.exit(1)
            print(f"{model}: {step.__name__} ok")
    for model in filter(None, os.environ.get("PROMPTYARD_EMBEDDING_MODELS", "").split(",")):
        try:
            embeddings(client, model)
        except Exception as e:  # noqa: BLE001
            print(f"{model}: embeddings failed: {e!r}", file=sys.stderr)
            sys.exit(1)
        print(f"{model}: embeddings ok")
    print(f"openai {openai.__version__}: all passed")


if __name__ == "__main__":
    main()
