"""The tool loop against a loopback server that speaks OpenAI's tool-call protocol on its own (and
refuses a history that breaks it), streamed and not: calls, results, errors, confirm, limits, order."""

from __future__ import annotations

import _thread
import asyncio
import threading
import time
import traceback
from typing import Any

import pytest
from conftest import SENTINEL_KEY
from core_support import collect, of_type
from tool_protocol_server import Reply, ToolProtocolServer, call, say

from openai_magic import tools
from openai_magic.core import bridge, providers
from openai_magic.core.responses import (
    Notice,
    ToolCall,
    ToolCalls,
    ToolMessages,
    ToolResult,
    Usage,
)

EVENTS = (ToolCall, ToolResult, ToolMessages, Notice)


@pytest.fixture(scope="module")
def server():
    with ToolProtocolServer() as running:
        yield running


@pytest.fixture(params=[True, False], ids=["stream", "whole"])
def stream(request) -> bool:
    return request.param


@pytest.fixture
def P(server):
    return providers.custom(server.base_url, label="Scripted", default_model="scripted", max_retries=0)


def add(a: int, b: int) -> int:
    """Add two numbers."""
    return a + b


def events(items: list[Any]) -> list[str]:
    """The loop's own items, by kind, in order."""
    return [type(item).__name__ for item in items if isinstance(item, EVENTS)]


def final_text(items: list[Any]) -> str:
    """Text after the last ToolMessages: the final answer."""
    last = max((i for i, item in enumerate(items) if isinstance(item, ToolMessages)), default=-1)
    return "".join(item for item in items[last + 1 :] if isinstance(item, str))


async def run(P, prompt: Any = "go", **kwargs: Any) -> list[Any]:
    return await asyncio.wait_for(collect(P.create_async_generator("", prompt, **kwargs)), 60)


async def test_one_call_result_then_answer(server, P, stream):
    server.play(call(("add", {"a": 2, "b": 3})), say("2 + 3 = 5."))
    items = await run(P, "What is 2 + 3?", tools=[add], stream=stream)
    assert events(items) == ["ToolCall", "ToolResult", "ToolMessages"]
    (announced,) = of_type(items, ToolCall)
    (result,) = of_type(items, ToolResult)
    assert announced == ToolCall("call_1_0", "add", {"a": 2, "b": 3})
    assert (result.id, result.name, result.output, result.error) == ("call_1_0", "add", "5", None)
    assert result.seconds >= 0
    assert final_text(items) == "2 + 3 = 5."
    assert not of_type(items, ToolCalls)  # replaced by the loop's own items
    first, second = server.requests
    assert first["tools"] == [tools.schema(add)]
    assert second["messages"][1:] == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_1_0",
                    "type": "function",
                    "function": {"name": "add", "arguments": '{"a": 2, "b": 3}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1_0", "content": "5"},
    ]
    assert of_type(items, ToolMessages)[0].messages == second["messages"][1:]


async def test_two_parallel_calls_all_run_and_go_back_in_order(server, P, stream):
    server.play(call(("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})), say("3 and 7"))
    items = await run(P, tools=[add], stream=stream)
    assert events(items) == ["ToolCall", "ToolCall", "ToolResult", "ToolResult", "ToolMessages"]
    assert [r.output for r in of_type(items, ToolResult)] == ["3", "7"]
    answers = server.requests[1]["messages"][2:]
    assert [(m["tool_call_id"], m["content"]) for m in answers] == [("call_1_0", "3"), ("call_1_1", "7")]
    assert final_text(items) == "3 and 7"


async def test_bad_arguments_are_refused_and_the_function_not_called(server, P, stream):
    called: list[Any] = []

    def spy(a: int, b: int) -> int:
        called.append((a, b))
        return a + b

    spy.__name__ = "add"
    server.play(
        call(
            ("add", '{"a": 1,'),
            ("add", {"a": "x", "b": 2}),
            ("add", {"a": 1}),
            ("add", {"a": 1, "b": 2, "c": 3}),
            ("add", "[1, 2]"),
            ("add", {"a": 1, "b": 2}),
        ),
        say("done"),
    )
    items = await run(P, tools=[spy], stream=stream)
    results = of_type(items, ToolResult)
    assert called == [(1, 2)]  # only the good call ran
    errors = [r.error for r in results]
    assert errors[0].startswith("invalid arguments: the arguments are not valid JSON")
    assert errors[1] == "invalid arguments: argument 'a': expected an integer, got \"x\""
    assert errors[2] == "invalid arguments: missing required argument 'b'"
    assert errors[3] == "invalid arguments: unknown argument 'c' (accepted: a, b)"
    assert errors[4] == "invalid arguments: the arguments must be a JSON object, not an array"
    assert errors[5] is None and results[5].output == "3"
    assert all(r.output == f"Error: {r.error}" and r.seconds == 0 for r in results[:5])
    calls = of_type(items, ToolCall)
    assert calls[0].arguments == '{"a": 1,' and calls[4].arguments == "[1, 2]"  # shown as sent
    # The history stays valid for the server: the broken arguments are recorded as {}.
    recorded = server.requests[1]["messages"][1]["tool_calls"]
    assert recorded[0]["function"]["arguments"] == "{}"
    assert final_text(items) == "done"


async def test_a_tool_that_raises_gives_type_and_message_and_the_loop_goes_on(server, P, stream):
    def divide(a: float, b: float) -> float:
        return a / b

    server.play(call(("divide", {"a": 1, "b": 0})), call(("divide", {"a": 1, "b": 4})), say("a quarter"))
    items = await run(P, tools=[divide], stream=stream)
    first, second = of_type(items, ToolResult)
    assert first.error == "ZeroDivisionError: float division by zero"
    assert first.output == "Error: ZeroDivisionError: float division by zero"
    assert second.output == "0.25" and second.error is None
    sent = server.requests[1]["messages"][-1]["content"]
    assert sent == first.output and "Traceback" not in sent
    assert final_text(items) == "a quarter"


async def test_unknown_name_gets_an_error_result(server, P, stream):
    server.play(call(("subtract", {"a": 1})), say("sorry"))
    items = await run(P, tools=[add], stream=stream)
    (result,) = of_type(items, ToolResult)
    assert result.error == "unknown tool 'subtract' (the tools offered are: add)"
    assert server.requests[1]["messages"][-1]["content"] == f"Error: {result.error}"


@pytest.mark.parametrize("kind", ["sync", "async"])
async def test_confirm_denies_a_call_and_allows_another(server, P, stream, kind):
    called: list[int] = []
    asked: list[ToolCall] = []

    def counted(a: int, b: int) -> int:
        called.append(a)
        return a + b

    counted.__name__ = "add"

    def decide(request: ToolCall) -> bool:
        asked.append(request)
        return request.arguments["a"] != 1

    async def decide_async(request: ToolCall) -> bool:
        return decide(request)

    server.play(call(("add", {"a": 1, "b": 1}), ("add", {"a": 2, "b": 2})), say("ok"))
    confirm = decide if kind == "sync" else decide_async
    items = await run(P, tools=[counted], confirm=confirm, stream=stream)
    denied, allowed = of_type(items, ToolResult)
    assert called == [2] and [c.id for c in asked] == ["call_1_0", "call_1_1"]
    assert denied.output == denied.error == "denied by the user" == tools.DENIED
    assert allowed.output == "4"
    # Each call is announced before it is confirmed, and the refusal follows at once.
    assert events(items) == ["ToolCall", "ToolResult", "ToolCall", "ToolResult", "ToolMessages"]


async def test_max_steps_reached_gives_one_notice_and_makes_no_more_calls(server, P, stream):
    called: list[int] = []

    def counted(a: int, b: int) -> int:
        called.append(a)
        return a + b

    counted.__name__ = "add"
    server.play(*(call(("add", {"a": n, "b": 0}), text=f"step {n}. ") for n in range(1, 4)))
    items = await run(P, tools=[counted], max_steps=2, stream=stream)
    assert called == [1] and len(server.requests) == 2
    assert events(items) == ["ToolCall", "ToolResult", "ToolMessages", "Notice"]
    (notice,) = of_type(items, Notice)
    assert "Stopped after 2 steps" in notice.text and "add" in notice.text
    assert items[-1] is notice
    assert final_text(items[:-1]) == "step 2. "


async def test_async_tools_run_concurrently_and_results_come_as_they_complete(server, P, stream):
    order: list[str] = []
    fast_done, fast_seen = asyncio.Event(), asyncio.Event()

    async def slow() -> str:
        order.append("slow started")
        await fast_done.wait()  # run one after the other, this would never get past here
        await fast_seen.wait()  # nor here, if results waited for every call to end
        order.append("slow done")
        return "slow"

    async def fast() -> str:
        order.append("fast started")
        fast_done.set()
        return "fast"

    async def consume() -> list[Any]:
        items = []
        async for item in P.create_async_generator("", "go", tools=[slow, fast], stream=stream):
            items.append(item)
            if isinstance(item, ToolResult) and item.name == "fast":
                fast_seen.set()
        return items

    server.play(call(("slow", {}), ("fast", {})), say("both"))
    items = await asyncio.wait_for(consume(), 60)
    assert order == ["slow started", "fast started", "slow done"]
    assert [r.name for r in of_type(items, ToolResult)] == ["fast", "slow"]  # as they completed
    answers = server.requests[1]["messages"][2:]
    assert [m["content"] for m in answers] == ["slow", "fast"]  # in call order


async def test_a_long_result_is_cut_with_a_note(server, P, stream):
    def big() -> str:
        return "x" * 25_000

    server.play(call(("big", {})), say("long"))
    items = await run(P, tools=[big], stream=stream)
    (result,) = of_type(items, ToolResult)
    assert result.output.startswith("x" * tools.MAX_RESULT_CHARS + "\n[cut: the result has 25,000 characters")
    assert len(result.output) < tools.MAX_RESULT_CHARS + 200
    assert server.requests[1]["messages"][-1]["content"] == result.output


async def test_usage_comes_once_per_step_and_adds_up(server, P, stream):
    server.play(call(("add", {"a": 1, "b": 1})), say("2"))
    usages = of_type(await run(P, tools=[add], stream=stream), Usage)
    assert [(u.prompt_tokens, u.completion_tokens) for u in usages] == [(10, 1), (20, 2)]
    total = usages[0] + usages[1]
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (30, 3, 33)


async def test_calls_without_ids_get_unique_ones(server, P, stream):
    server.play(call(("add", {"a": 1, "b": 1}), ("add", {"a": 2, "b": 2}), ids=["", ""]), say("ok"))
    items = await run(P, tools=[add], stream=stream)
    ids = [c.id for c in of_type(items, ToolCall)]
    assert len(set(ids)) == 2 and all(ids)
    assert [m.get("tool_call_id") for m in server.requests[1]["messages"][2:]] == ids


async def test_text_before_the_calls_stays_in_the_thread_not_in_the_answer(server, P, stream):
    server.play(call(("add", {"a": 1, "b": 1}), text="Let me add. "), say("It is 2."))
    items = await run(P, tools=[add], stream=stream)
    assert of_type(items, ToolMessages)[0].messages[0]["content"] == "Let me add. "
    assert final_text(items) == "It is 2."
    server.play(call(("add", {"a": 1, "b": 1}), text="Let me add. "), say("It is 2."))
    assert await P.chat_async("go", tools=[add], stream=stream) == "It is 2."


async def test_the_recorded_thread_continues_correctly(server, P, stream):
    server.play(call(("add", {"a": 1, "b": 1})), call(("add", {"a": 2, "b": 2})), say("2, then 4"))
    thread: list[dict[str, Any]] = [{"role": "user", "content": "add twice"}]
    items = await run(P, list(thread), tools=[add], stream=stream)
    for message in of_type(items, ToolMessages):
        thread.extend(message.messages)
    thread.append({"role": "assistant", "content": final_text(items)})
    assert [m["role"] for m in thread] == ["user", "assistant", "tool", "assistant", "tool", "assistant"]
    server.play(say("you're welcome"))
    follow_up = await run(P, [*thread, {"role": "user", "content": "thanks"}], stream=stream)
    assert "".join(i for i in follow_up if isinstance(i, str)) == "you're welcome"  # the server checked it


async def test_raw_definitions_alone_pass_through_unchanged(server, P, stream):
    definition = tools.schema(add)
    assert tools.schema(definition) is definition
    server.play(call(("add", {"a": 1, "b": 1})))
    items = await run(P, tools=[definition], stream=stream)
    assert of_type(items, ToolCalls)[0].calls[0]["function"]["name"] == "add"
    assert not events(items) and len(server.requests) == 1


async def test_a_definition_without_function_beside_callables_gets_an_error_result(server, P, stream):
    other = {"type": "function", "function": {"name": "other", "parameters": {"type": "object"}}}
    server.play(call(("other", {})), say("no"))
    items = await run(P, tools=[add, other], stream=stream)
    assert server.requests[0]["tools"] == [tools.schema(add), other]
    assert (
        of_type(items, ToolResult)[0].error
        == "tool 'other' was offered as a definition only: nothing here runs it"
    )


def test_bad_tool_options_raise_before_anything_is_sent(server, P):
    server.play()

    def twin() -> None:
        pass

    twin.__name__ = "add"
    with pytest.raises(ValueError, match="two tools are named 'add'"):
        P.create_async_generator("", "go", tools=[add, twin])
    with pytest.raises(ValueError, match="max_steps"):
        P.create_async_generator("", "go", tools=[add], max_steps=0)
    with pytest.raises(TypeError, match="confirm"):
        P.create_async_generator("", "go", tools=[add], confirm="yes")
    with pytest.raises(TypeError, match="a tool is a function"):
        P.create_async_generator("", "go", tools=[add, 42])
    assert server.requests == []


async def test_cancelling_during_an_async_tool_ends_the_loop_at_once(server, P, stream):
    started, cleaned = asyncio.Event(), asyncio.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    server.play(call(("forever", {})), say("never"))
    task = asyncio.ensure_future(run(P, tools=[forever], stream=stream))
    await asyncio.wait_for(started.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await asyncio.wait_for(cleaned.wait(), 30)
    assert len(server.requests) == 1


async def test_cancelling_during_a_step_keeps_what_was_answered(server, P):
    server.play(call(("add", {"a": 1, "b": 1})), Reply(text="the answer is", stall=True))
    received: list[Any] = []
    answering = asyncio.Event()

    async def consume() -> None:
        async for item in P.create_async_generator("", "go", tools=[add], stream=True):
            received.append(item)
            if isinstance(item, str) and of_type(received, ToolMessages):
                answering.set()

    task = asyncio.ensure_future(consume())
    await asyncio.wait_for(answering.wait(), 30)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert events(received) == ["ToolCall", "ToolResult", "ToolMessages"]
    assert final_text(received).startswith("the")


# --- where functions run --------------------------------------------------------------------------


def where_tool(seen: list[threading.Thread]):
    def where() -> str:
        """Say which thread runs tools."""
        seen.append(threading.current_thread())
        return "here"

    return where


def test_sync_tools_and_confirm_run_on_the_calling_thread_under_the_bridge(server, P):
    seen: list[threading.Thread] = []
    asked: list[threading.Thread] = []
    answers: list[str] = []

    def confirm(request: ToolCall) -> bool:
        asked.append(threading.current_thread())
        return True

    def worker() -> None:
        answers.append(P.chat("go", tools=[where_tool(seen)], confirm=confirm))
        items = list(P.create_completion("", "go", tools=[where_tool(seen)], stream=True))
        answers.append(final_text(items))

    server.play(call(("where", {})), say("one"), call(("where", {})), say("two"))
    thread = threading.Thread(target=worker)
    thread.start()
    thread.join(60)
    assert answers == ["one", "two"]
    assert seen == [thread, thread] and asked == [thread]


def test_async_tools_under_the_bridge_run_on_its_loop(server, P):
    seen: list[bool] = []

    async def where() -> str:
        seen.append(bridge.in_portal_thread())
        return "loop"

    server.play(call(("where", {})), say("ok"))
    assert P.chat("go", tools=[where]) == "ok" and seen == [True]


async def test_sync_tools_without_the_bridge_run_inline_on_the_loop_thread(server, P):
    seen: list[threading.Thread] = []
    server.play(call(("where", {})), say("inline"))
    assert await P.chat_async("go", tools=[where_tool(seen)]) == "inline"
    assert seen == [threading.current_thread()]


def test_chat_warns_when_max_steps_is_reached(server, P):
    server.play(call(("add", {"a": 1, "b": 1}), text="thinking "), call(("add", {"a": 1, "b": 1})))
    with pytest.warns(tools.ToolLoopWarning, match="Stopped after 2 steps"):
        assert P.chat("go", tools=[add], max_steps=2) == ""


def test_keyboard_interrupt_in_a_sync_tool_under_the_bridge_ends_the_loop(server, P):
    finished = threading.Event()

    def stuck() -> None:
        try:
            _thread.interrupt_main()
            while True:  # only the interrupt ends this
                time.sleep(0.005)
        finally:
            finished.set()

    server.play(call(("stuck", {})), say("never"))
    received: list[Any] = []
    with pytest.raises(KeyboardInterrupt):
        for item in P.create_completion("", "go", tools=[stuck]):
            received.append(item)
    assert finished.is_set() and events(received) == ["ToolCall"]
    assert len(server.requests) == 1
    server.play(say("still fine"))
    assert P.chat("again") == "still fine"


def test_an_interrupt_while_an_async_tool_runs_cancels_it(server, P):
    cleaned = threading.Event()

    async def stuck() -> None:
        _thread.interrupt_main()
        try:
            await asyncio.Event().wait()
        finally:
            cleaned.set()

    server.play(call(("stuck", {})), say("never"))
    with pytest.raises(KeyboardInterrupt):
        P.chat("go", tools=[stuck])
    assert cleaned.wait(30)
    assert len(server.requests) == 1


async def test_no_frame_of_the_loop_holds_the_key(server, P):
    # A KeyboardInterrupt from a tool travels through every frame of the loop; printed with locals
    # (as %xmode Verbose does), none of them may show an api_key passed to the call.
    def stop() -> None:
        raise KeyboardInterrupt

    server.play(call(("stop", {})))
    with pytest.raises(KeyboardInterrupt) as caught:
        await collect(P.create_async_generator("", "go", tools=[stop], api_key=SENTINEL_KEY))
    text = "".join(traceback.TracebackException.from_exception(caught.value, capture_locals=True).format())
    assert "_steps" in text and "_invoke" in text
    assert SENTINEL_KEY not in text
