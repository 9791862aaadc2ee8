"""``python -m mutmut`` that also mutates ``@property`` methods and pydantic validators.

mutmut 3 skips every decorated function but a lone ``@classmethod``/``@staticmethod``: it
copies each function once per mutant, and a copy that kept ``@model_validator`` would be
registered by pydantic as one more validator, a copy that kept ``@property`` would not be
callable from mutmut's mutant table. Every rule of ``profiles/schema.py`` is a pydantic
validator, so without this it has no mutants at all.

Here a function whose decorators are all in ``DECORATORS`` is mutated like any other; its
trampoline keeps the decorators (so pydantic and ``property`` wrap the trampoline exactly as
they wrapped the function), and the original and mutant copies lose them (plain functions the
trampoline calls with the same arguments the decorated function received). Used by
``benchmarks/mutation.py`` for the modules that set ``mutate_decorated = true``.
"""

from __future__ import annotations

import libcst as cst
from mutmut.__main__ import cli
from mutmut.mutation import file_mutation

DECORATORS = {"property", "classmethod", "model_validator", "field_validator"}


def _name(decorator: cst.Decorator) -> str | None:
    node = decorator.decorator
    node = node.func if isinstance(node, cst.Call) else node
    return node.value if isinstance(node, cst.Name) else None


def _mutable(node: cst.CSTNode) -> bool:
    return (isinstance(node, cst.FunctionDef) and len(node.decorators) > 0
            and all(_name(d) in DECORATORS for d in node.decorators)
            and [_name(d) for d in node.decorators] not in (["classmethod"], ["staticmethod"]))


def install() -> None:
    skip = file_mutation.MutationVisitor._skip_node_and_children
    arrange = file_mutation.function_trampoline_arrangement

    def skip_node_and_children(self, node):
        if _mutable(node) and skip(self, node):
            # the decorator rule is the only one this lifts: ask again without the decorators
            return skip(self, node.with_changes(decorators=[]))
        return skip(self, node)

    def trampoline_arrangement(function, mutants, class_name):
        declared, methods, assigned, names = arrange(function, mutants, class_name)
        if _mutable(function):
            methods = [methods[0], *(m.with_changes(decorators=[]) for m in methods[1:])]
        return declared, methods, assigned, names

    file_mutation.MutationVisitor._skip_node_and_children = skip_node_and_children
    file_mutation.function_trampoline_arrangement = trampoline_arrangement


if __name__ == "__main__":
    install()
    cli()
