"""Standalone code from live project code: the "code behind this view" exports.

``closure`` collects the source of project functions and classes together with everything they
need from the project (helpers, constants, dataclasses) and the import lines of what they need
from outside it, read from each defining module's own imports. So an exported script carries the
same ShapesNet, shape generator or augmentation the app runs today, and follows any change to
them, without this project installed.

A ``Script`` is a list of cells (markdown or code) that becomes a ``.py`` file or, through
nbformat, a Jupyter notebook.
"""
from __future__ import annotations

import ast
import importlib
import inspect
import sys
import textwrap
from dataclasses import dataclass, field
from functools import lru_cache

PROJECT = "core"


def _is_project(module_name: str) -> bool:
    return module_name == PROJECT or module_name.startswith(PROJECT + ".")


@dataclass(frozen=True)
class _ModuleIndex:
    imports: dict[str, tuple[str, str, str]]  # bound name -> ("external", statement, "") or ("project", module, attr)
    defs: dict[str, ast.stmt]  # top-level name -> its def/class/assignment node
    source: str


@lru_cache(maxsize=None)
def _index(module_name: str) -> _ModuleIndex:
    module = sys.modules.get(module_name) or importlib.import_module(module_name)
    source = inspect.getsource(module)
    imports: dict[str, tuple[str, str, str]] = {}
    defs: dict[str, ast.stmt] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                if _is_project(alias.name):
                    imports[bound] = ("project", alias.name, "")
                else:
                    imports[bound] = ("external", ast.unparse(ast.Import([alias])), "")
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                bound = alias.asname or alias.name
                if node.level == 0 and _is_project(node.module or ""):
                    imports[bound] = ("project", node.module, alias.name)
                else:
                    imports[bound] = ("external", ast.unparse(ast.ImportFrom(node.module, [alias], node.level)), "")
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
            defs[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for name in ast.walk(target):
                    if isinstance(name, ast.Name):
                        defs[name.id] = node
    return _ModuleIndex(imports, defs, source)


def _used_names(node: ast.AST) -> set[str]:
    """Names a definition reads, annotations left out (the script keeps them unevaluated)."""
    found: set[str] = set()

    def visit(n: ast.AST) -> None:
        if isinstance(n, ast.arg):
            return  # a parameter's annotation
        if isinstance(n, ast.AnnAssign):
            if n.value is not None:
                visit(n.value)
            return
        for name, child in ast.iter_fields(n):
            if name == "returns":
                continue
            for c in child if isinstance(child, list) else [child]:
                if isinstance(c, ast.AST):
                    visit(c)
        if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load):
            found.add(n.id)
        if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            for d in n.args.defaults + [d for d in n.args.kw_defaults if d is not None]:
                visit(d)

    visit(node)
    return found


@dataclass
class Closure:
    imports: list[str] = field(default_factory=list)
    blocks: list[str] = field(default_factory=list)
    _seen: set[tuple[str, str]] = field(default_factory=set)

    def add(self, obj) -> "Closure":
        """Add a project function or class (a module attribute) and everything it needs."""
        module = obj.__module__
        self.add_name(module, obj.__name__)
        return self

    def add_name(self, module_name: str, name: str) -> None:
        """Add the module-level `name` of a project module (a def, class, constant or import) and its needs."""
        if (module_name, name) in self._seen:
            return
        self._seen.add((module_name, name))
        index = _index(module_name)
        if name in index.imports:
            kind, what, attr = index.imports[name]
            if kind == "external":
                if what not in self.imports:
                    self.imports.append(what)
            elif attr:
                self.add_name(what, attr)
            return
        node = index.defs.get(name)
        if node is None:
            return  # a builtin, or a local name that shadows nothing at module level
        # Imports from the project inside a function body: their targets join the closure and
        # the import lines leave the exported source.
        dropped: set[int] = set()
        for inner in ast.walk(node):
            if isinstance(inner, ast.ImportFrom) and inner.level == 0 and _is_project(inner.module or ""):
                for alias in inner.names:
                    self.add_name(inner.module, alias.name)
                dropped.update(range(inner.lineno, inner.end_lineno + 1))
        for used in sorted(_used_names(node)):
            self.add_name(module_name, used)
        decorators = getattr(node, "decorator_list", [])
        first = decorators[0].lineno if decorators else node.lineno
        lines = index.source.splitlines()
        block = textwrap.dedent("\n".join(lines[i - 1] for i in range(first, node.end_lineno + 1) if i not in dropped))
        if block not in self.blocks:
            self.blocks.append(block)

    @property
    def code(self) -> str:
        return "\n\n\n".join(self.blocks)


def closure(*objs) -> Closure:
    """A new Closure of ``objs``: the source only changes with the code, so each set is walked once
    (a live view re-exports its script on every widget move)."""
    imports, blocks = _closure_parts(objs)
    return Closure(list(imports), list(blocks))


@lru_cache(maxsize=64)
def _closure_parts(objs: tuple) -> tuple[tuple[str, ...], tuple[str, ...]]:
    c = Closure()
    for obj in objs:
        c.add(obj)
    return tuple(c.imports), tuple(c.blocks)


# ---------------------------------------------------------------- scripts and notebooks
@dataclass
class Script:
    """An exported view: a title, then cells of ("md" | "code", text)."""

    title: str
    cells: list[tuple[str, str]] = field(default_factory=list)
    name: str = "cnnlab_view"  # file stem for downloads

    def md(self, text: str) -> "Script":
        self.cells.append(("md", textwrap.dedent(text).strip()))
        return self

    def code(self, text: str) -> "Script":
        self.cells.append(("code", textwrap.dedent(text).strip()))
        return self

    def python(self) -> str:
        out = [f'"""{self.title}\n\nExported by CNN Lab ("the code behind this view"). Run: python {self.name}.py\n"""']
        for kind, text in self.cells:
            if kind == "md":
                out.append("\n".join("# " + line if line else "#" for line in text.splitlines()))
            else:
                out.append(text)
        return "\n\n\n".join(out) + "\n"

    def notebook(self) -> str:
        import nbformat

        nb = nbformat.v4.new_notebook()
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
        nb.cells = [nbformat.v4.new_markdown_cell(f"# {self.title}\n\nExported by CNN Lab (\"the code behind "
                                                  "this view\").")]
        for kind, text in self.cells:
            nb.cells.append(nbformat.v4.new_markdown_cell(text) if kind == "md" else nbformat.v4.new_code_cell(text))
        nbformat.validate(nb)
        return nbformat.writes(nb)

