"""Guards around one plugin's hook implementation: its own exceptions go to a handler.

pluggy calls every implementation of a hook in one loop, and the first exception stops the
loop. zoo wants more for its lifecycle hooks: to know which plugin raised, and for the per-epoch
hook to carry on without it. So the plugin manager puts each lifecycle implementation's function
inside a guard when the plugin registers, and pluggy calls the guard as it would have called the
function: in the same order, with the same arguments, as a wrapper when the function is one.

A guard passes everything through except an exception raised by the plugin's own code, which it
gives to ``on_fault(exc)``. The handler either absorbs it (returns True: the call goes on as if
the implementation had returned nothing, or, for a wrapper, had passed the result through
unchanged) or lets it go (returns False: the guard re-raises it, and pluggy treats it as it
would have without the guard). An exception the wrapper merely lets through from the
implementations inside it is not the wrapper's, and is never given to the handler. Exceptions
that are not ``Exception`` (``KeyboardInterrupt``, ``SystemExit``) always go through.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, Generator

FaultHandler = Callable[[Exception], bool]


def guard(function: Callable[..., Any], on_fault: FaultHandler, *, wrapper: bool) -> Callable[..., Any]:
    """``function`` (a hook implementation) behind a guard that gives its exceptions to ``on_fault``.

    ``wrapper``: the function is a generator, a new-style (``wrapper=True``) or old-style
    (``hookwrapper=True``) wrapper; the guard is then a generator too.
    """
    return (_guard_wrapper if wrapper else _guard_call)(function, on_fault)


def _guard_call(function: Callable[..., Any], on_fault: FaultHandler) -> Callable[..., Any]:
    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except Exception as exc:
            if not on_fault(exc):
                raise
            return None

    return guarded


def _guard_wrapper(function: Callable[..., Any], on_fault: FaultHandler) -> Callable[..., Generator]:
    name = getattr(function, "__qualname__", repr(function))

    @functools.wraps(function)
    def guarded(*args: Any, **kwargs: Any) -> Generator:
        teardown = function(*args, **kwargs)
        try:
            next(teardown)  # the wrapper's code before its yield
        except StopIteration:
            fault: Exception = RuntimeError(f"wrapper {name} did not yield")
            if not on_fault(fault):
                raise fault from None
            return (yield)
        except Exception as exc:
            if not on_fault(exc):
                raise
            return (yield)
        thrown = None
        try:
            result = yield  # the implementations inside the wrapper run
        except BaseException as exc:  # one of them raised: the wrapper sees it, as pluggy documents
            thrown, result = exc, None
        try:
            if thrown is not None:
                teardown.throw(thrown)
            else:
                teardown.send(result)
        except StopIteration as stop:
            return stop.value
        except Exception as exc:
            if exc is thrown or not on_fault(exc):
                raise
        else:
            teardown.close()
            fault = RuntimeError(f"wrapper {name} has a second yield")
            if not on_fault(fault):
                raise fault
        if thrown is not None:
            raise thrown
        return result

    return guarded
