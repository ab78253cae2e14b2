"""FHIRPath invariants through fhirpathpy, with the workarounds it needs (python-stack.md §3).

* Every expression is compiled once, with fhirpathpy's R4 model (without it, choice types such as
  `value` in obs-6 never resolve and the invariant passes silently: anchors.md §2.5), and each
  context node carries its FHIR type path so choice types resolve below the resource root too.
* `%resource` and `%rootResource` are always passed.
* `hasValue()`, `resolve()` (inside the Bundle), `conformsTo()` (the profile checker) and
  `memberOf()` (the local value set expansions) are registered; `trace()` is silenced.
* R4's dom-3 writes `descendants().as(canonical)`; fhirpathpy takes `.as()` as the singleton
  operator and raises whenever `contained` is present, so that call is rewritten to `ofType()`,
  which means the same for a collection.
* The HL7 validator reads `value` on a primitive as the primitive itself (x-ecpr and d-ecpr on
  `Identifier.value` say `value.matches(…)`, DK-core 2.0.0's gln-modulus-10 says
  `value.substring(0,1)` thirteen times); fhirpathpy finds no `value` child and answers empty,
  so on a primitive context a path that starts with `value` starts with `%context` instead.

Most invariants are evaluated by `fastpath`, which compiles fhirpathpy's own parse tree into
closures (≈20× faster); expressions or inputs it does not cover go to fhirpathpy.

Verdicts follow the HL7 validator: `true` passes; `false` and an empty result fail. fhirpathpy
keeps per-call state in module globals (`constants.reset()`), so evaluations are serialised by a
lock; a validator may still be shared between threads.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import fhirpathpy
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.models import models

from gateway.fhir import fastpath

_R4 = models["r4"]
_AS_COLLECTION = re.compile(r"descendants\(\)\.as\(")
_PRIMITIVE_VALUE = re.compile(r"(?<![.\w$%'`])value\b(?!\s*\()")


@dataclass(slots=True)
class Environment:
    """What the non-standard functions need from the message being validated."""

    resolve: Callable[[str], dict[str, Any] | None]
    conforms: Callable[[dict[str, Any], str], bool]
    member_of: Callable[[Any, str], bool]


class InvariantError(Exception):
    """An expression fhirpathpy cannot compile or evaluate (reported, never a crash)."""


def _silent(*_: Any) -> None:
    return None


def _has_value(inputs: list[Any]) -> list[bool]:
    return [len(inputs) == 1 and not isinstance(inputs[0], dict | list) and inputs[0] is not None]


def _verdict(result: list[Any]) -> bool:
    if not result:
        return False
    if len(result) == 1 and isinstance(result[0], bool):
        return result[0]
    return True


class FhirPath:
    """Compiled invariants and the functions fhirpathpy lacks; build once, use for every message."""

    def __init__(self, fast: bool = True) -> None:
        self.fast = fast
        self._fast: dict[tuple[str, bool], fastpath.Compiled | None] = {}
        self._compiled: dict[tuple[str, bool], Any] = {}
        self._env: Environment | None = None
        self._lock = threading.RLock()
        self._options = {
            "traceFn": _silent,
            "userInvocationTable": {
                "hasValue": {"fn": _has_value},
                "resolve": {"fn": self._resolve},
                "conformsTo": {"fn": self._conforms_to, "arity": {1: ["String"]}},
                "memberOf": {"fn": self._member_of, "arity": {1: ["String"]}},
                "htmlChecks": {"fn": lambda inputs: [True]},  # narrative.py checks txt-1/2
            },
        }

    @staticmethod
    def _text(expression: str, primitive: bool) -> str:
        text = _AS_COLLECTION.sub("descendants().ofType(", expression)
        return _PRIMITIVE_VALUE.sub("%context", text) if primitive else text

    def compile(self, expression: str, primitive: bool = False) -> Any:
        """The compiled expression (memoised), or the InvariantError that compiling raised."""
        key = (expression, primitive)
        if key not in self._compiled:
            text = self._text(expression, primitive)
            try:
                self._compiled[key] = fhirpathpy.compile(text, _R4, self._options)
            except Exception as exc:  # the ANTLR parser raises many kinds
                self._compiled[key] = InvariantError(f"cannot compile: {exc}")
        return self._compiled[key]

    def holds(
        self,
        expression: str,
        value: Any,
        type_path: str,
        resource: dict[str, Any],
        env: Environment,
        primitive: bool = False,
    ) -> bool:
        """Whether the invariant holds for one node; raises InvariantError if it cannot tell."""
        key = (expression, primitive)
        if self.fast:
            if key not in self._fast:
                self._fast[key] = fastpath.compile_fast(self._text(expression, primitive))
            quick = self._fast[key]
            if quick is not None:
                try:
                    return _verdict(quick(value, type_path, resource, env))
                except fastpath.Unsupported:
                    pass  # fhirpathpy decides
        compiled = self.compile(expression, primitive)
        if isinstance(compiled, InvariantError):
            raise compiled
        node = value if value is resource else ResourceNode.create_node(value, type_path)
        with self._lock:  # re-entrant: conformsTo() validates, which evaluates invariants
            outer, self._env = self._env, env
            try:
                result = compiled(node, {"resource": resource, "rootResource": resource})
            except Exception as exc:  # fhirpathpy raises bare Exceptions
                raise InvariantError(str(exc) or type(exc).__name__) from exc
            finally:
                self._env = outer
        return _verdict(result)

    # --- the functions fhirpathpy does not implement -----------------------------------------

    def _resolve(self, inputs: list[Any]) -> list[Any]:
        env = self._env
        out = []
        for item in inputs:
            reference = item.get("reference") if isinstance(item, dict) else item
            if env is not None and isinstance(reference, str):
                found = env.resolve(reference)
                if found is not None:
                    out.append(found)
        return out

    def _conforms_to(self, inputs: list[Any], url: str) -> list[bool]:
        env = self._env
        if env is None or not inputs:
            return []
        return [all(isinstance(i, dict) and env.conforms(i, url) for i in inputs)]

    def _member_of(self, inputs: list[Any], url: str) -> list[bool]:
        env = self._env
        if env is None or len(inputs) != 1:
            return []
        return [env.member_of(inputs[0], url)]
