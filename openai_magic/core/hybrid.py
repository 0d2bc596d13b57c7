"""The two call forms gpt4free's callers use: `hybridmethod` (class or instance) and `AsyncResult`."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator
from types import MethodType
from typing import Any, Generic, TypeVar, cast

T = TypeVar("T")


class hybridmethod:
    """Like `classmethod`, but bound to the instance when called on one (so instance attributes win)."""

    def __init__(self, func: Callable[..., Any]) -> None:
        self.__func__ = func
        self.__doc__ = func.__doc__
        self.__name__ = func.__name__

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        return MethodType(self.__func__, obj if obj is not None else owner)


class AsyncResult(Generic[T]):
    """An async iterator that is also awaitable (`await` returns the iterator itself).

    Supports both `async for x in create_async_generator(...)` and the gpt4free form
    `result = await create_async_generator(...); async for x in result`.
    """

    __slots__ = ("_agen", "_precheck")

    def __init__(self, agen: AsyncIterator[T], precheck: Callable[[], None] | None = None) -> None:
        self._agen = agen
        self._precheck = precheck

    def __aiter__(self) -> AsyncResult[T]:
        return self

    def __anext__(self) -> Awaitable[T]:
        return self._agen.__anext__()

    def __await__(self) -> Generator[Any, None, AsyncResult[T]]:
        return self._resolve().__await__()

    async def _resolve(self) -> AsyncResult[T]:
        if self._precheck is not None:
            self._precheck()
        return self

    async def aclose(self) -> None:
        """Stop the request and release its connection."""
        aclose = getattr(self._agen, "aclose", None)
        if aclose is not None:
            await aclose()

    def athrow(self, *args: Any) -> Awaitable[T]:
        thrown: Awaitable[T] = cast(AsyncGenerator[T, None], self._agen).athrow(*args)
        return thrown


__all__ = ["AsyncResult", "hybridmethod"]
