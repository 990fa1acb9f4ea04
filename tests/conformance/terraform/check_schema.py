#!/usr/bin/env python3
"""Check a generated `terraform/` directory against the google provider schema and against itself.

usage: check_schema.py [--schema FILE] [--node-dir DIR] [--hcl2-path DIR] TERRAFORM_DIR

Parsing: HashiCorp's HCL parser (npm @cdktf/hcl2json, through hcl_parse.js --dump) gives the JSON form of every
`.tf`/`.tfvars` file and the traversals HCL finds in every expression. That JSON cannot tell `x { ... }` (a block)
from `x = [{ ... }]` (an attribute), so python-hcl2 8.1.4 (which marks blocks with `__is_block__`) is read beside
it for that distinction; without python-hcl2, a list of objects is taken for a block.

What is an error (one line each, `file: address: problem`):
- unknown resource / data source type; unknown argument or block at any nesting level;
- a block written as an attribute (`versioning = {...}`) or an attribute written as a block (`labels { ... }`);
- a literal of the wrong type (a string where a list is expected, an object for a bool, ...; expressions are not
  evaluated);
- a single (max 1) block repeated; a required argument or block missing (count/for_each/depends_on/lifecycle/
  provider/provisioner/connection are meta-arguments; `dynamic "x"` stands for block x);
- a reference that does not resolve: `var.X` (not declared), `local.X`, `<type>.<name>`, `data.<type>.<name>`,
  `module.X`, or whose attribute is not an argument or exported attribute of that type (checked through nested
  blocks and computed objects as far as the schema knows them; indexes such as `[0]` or `["k"]` are skipped);
  `each.*` without for_each, `count.*` without count, `self` outside provisioner/connection, an instance key on a
  resource without count/for_each, or a missing instance key on one with them;
- `lifecycle.ignore_changes` naming an argument the resource does not have;
- an `import` block without `to` or `id`, or with an argument Terraform does not know (`to` must resolve like any
  reference; `each.*` needs its `for_each`);
- duplicate resource/data/variable/local/output/module names; a variable default that references something;
- in `.tfvars`: setting an undeclared variable, a reference, and leaving a variable without default unset
  (`terraform plan -var-file=env/<env>.tfvars -input=false` would stop on it).
Warnings (printed, not failing): declared but unused variables, python-hcl2 failing where HCL succeeded.

exit: 0 clean, 1 problems found, 2 cannot run (no schema, no files, parse failure).
"""

from __future__ import annotations

import argparse
import difflib
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))

RESOURCE_META = {"count", "for_each", "depends_on", "provider", "lifecycle", "provisioner", "connection"}
DATA_META = {"count", "for_each", "depends_on", "provider", "lifecycle"}
LIFECYCLE_KEYS = {
    "create_before_destroy",
    "prevent_destroy",
    "ignore_changes",
    "replace_triggered_by",
    "precondition",
    "postcondition",
}
INDEX = re.compile(r'^(\d+|\*|".*")$')
PRIMITIVE = {"string", "number", "bool"}
BUILTIN_ROOTS = {"path", "terraform"}


def suggest(name: str, choices) -> str:
    m = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.75)
    return f" (did you mean {m[0]!r}?)" if m else ""


@dataclass
class Ctx:
    file: str
    addr: str
    has_count: bool = False
    has_for_each: bool = False
    allow_self: bool = False
    iterators: frozenset = frozenset()
    skip_refs: bool = False  # variable `type` expressions


@dataclass
class Module:
    """Declarations of one directory of .tf files."""

    resources: dict = field(default_factory=dict)  # (type, name) -> (file, body)
    data: dict = field(default_factory=dict)
    variables: dict = field(default_factory=dict)  # name -> (file, body)
    locals: dict = field(default_factory=dict)  # name -> file
    outputs: dict = field(default_factory=dict)
    modules: dict = field(default_factory=dict)


class Checker:
    def __init__(self, schema: dict, parsed: dict, references: dict, py_trees: dict):
        self.schema = schema
        self.parsed = parsed  # path -> hcl2json JSON
        self.refs = references  # expression -> [traversal] | None
        self.py = py_trees  # path -> python-hcl2 dict (or None)
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.used_vars: set[str] = set()

    def err(self, file: str, addr: str, problem: str) -> None:
        self.errors.append(f"{file}: {addr}: {problem}")

    # -- python-hcl2 pairing: which keys of a body are blocks -------------------------------------------------
    @staticmethod
    def _is_block_list(v) -> bool:
        if not isinstance(v, list) or not v:
            return False
        for x in v:
            if not isinstance(x, dict):
                return False
            if x.get("__is_block__"):
                continue
            # a labelled block: {'"label"': {..., "__is_block__": True}}
            if len(x) == 1 and isinstance(next(iter(x.values())), dict) and next(iter(x.values())).get("__is_block__"):
                continue
            return False
        return True

    def written_as_block(self, key: str, value, pybody) -> bool:
        if isinstance(pybody, dict) and key in pybody:
            return self._is_block_list(pybody[key])
        return isinstance(value, list) and bool(value) and all(isinstance(x, dict) for x in value)

    @staticmethod
    def py_child(pybody, key: str, i: int):
        if not isinstance(pybody, dict):
            return None
        v = pybody.get(key)
        if isinstance(v, list) and i < len(v) and isinstance(v[i], dict):
            return v[i]
        return None

    @staticmethod
    def py_labelled(pytree, kind: str) -> dict:
        """python-hcl2 top-level blocks of one kind: (label, label, ...) -> [body, ...] in file order."""
        out: dict = defaultdict(list)
        if not isinstance(pytree, dict):
            return out

        def walk(d, labels):
            if not isinstance(d, dict):
                return
            if d.get("__is_block__"):
                out[tuple(labels)].append(d)
                return
            for k, v in d.items():
                walk(v, labels + [k.strip('"')])

        for item in pytree.get(kind, []):
            walk(item, [])
        return out

    # -- declarations -----------------------------------------------------------------------------------------
    def collect(self, files: list[str]) -> Module:
        m = Module()
        for f in files:
            doc = self.parsed[f]
            for kind, table in (("resource", m.resources), ("data", m.data)):
                for rtype, names in (doc.get(kind) or {}).items():
                    for name, bodies in names.items():
                        for body in bodies:
                            prefix = "data." if kind == "data" else ""
                            if (rtype, name) in table:
                                self.err(
                                    f,
                                    f"{prefix}{rtype}.{name}",
                                    f"duplicate {kind} (also in {table[(rtype, name)][0]})",
                                )
                            table[(rtype, name)] = (f, body)
            for kind, table in (("variable", m.variables), ("output", m.outputs), ("module", m.modules)):
                for name, bodies in (doc.get(kind) or {}).items():
                    for body in bodies:
                        if name in table:
                            addr = f"{'var' if kind == 'variable' else kind}.{name}"
                            self.err(f, addr, f"duplicate {kind} (also in {table[name][0]})")
                        table[name] = (f, body)
            for block in doc.get("locals") or []:
                for name in block:
                    if name in m.locals:
                        self.err(f, f"local.{name}", f"duplicate local value (also in {m.locals[name]})")
                    m.locals[name] = f
        return m

    # -- references -------------------------------------------------------------------------------------------
    def strings(self, v):
        if isinstance(v, str):
            yield v
        elif isinstance(v, list):
            for x in v:
                yield from self.strings(x)
        elif isinstance(v, dict):
            for k, x in v.items():
                yield k
                yield from self.strings(x)

    def check_refs(self, value, ctx: Ctx, mod: Module) -> None:
        if ctx.skip_refs:
            return
        for s in self.strings(value):
            if "${" not in s and "%{" not in s:
                continue
            for ref in self.refs.get(s) or []:
                self.check_ref(ref, ctx, mod)

    def check_ref(self, ref: str, ctx: Ctx, mod: Module) -> None:
        parts = split_traversal(ref)
        root = parts[0]
        where = (ctx.file, ctx.addr)
        if root == "var":
            if len(parts) > 1:
                self.used_vars.add(parts[1])
                if parts[1] not in mod.variables:
                    self.err(
                        *where, f"reference to undeclared variable 'var.{parts[1]}'{suggest(parts[1], mod.variables)}"
                    )
            return
        if root == "local":
            if len(parts) > 1 and parts[1] not in mod.locals:
                self.err(
                    *where, f"reference to undeclared local value 'local.{parts[1]}'{suggest(parts[1], mod.locals)}"
                )
            return
        if root == "module":
            if len(parts) > 1 and parts[1] not in mod.modules:
                self.err(*where, f"reference to undeclared module 'module.{parts[1]}'")
            return
        if root == "each":
            if not ctx.has_for_each:
                self.err(*where, f"'{ref}' used but the block has no for_each")
            return
        if root == "count":
            if not ctx.has_count:
                self.err(*where, f"'{ref}' used but the block has no count")
            return
        if root == "self":
            if not ctx.allow_self:
                self.err(*where, "'self' is only valid inside provisioner and connection blocks")
            return
        if root in ctx.iterators or root in BUILTIN_ROOTS:
            return
        if root == "data":
            if len(parts) < 3:
                self.err(*where, f"incomplete data source reference '{ref}'")
                return
            key = (parts[1], parts[2])
            if key not in mod.data:
                self.err(*where, f"reference to undeclared data source 'data.{parts[1]}.{parts[2]}'")
                return
            node = self.schema["data_sources"].get(parts[1])
            self.check_instance_path(f"data.{parts[1]}.{parts[2]}", mod.data[key][1], node, parts[3:], where)
            return
        if len(parts) >= 2 and ((root, parts[1]) in mod.resources or root in self.schema["resources"]):
            key = (root, parts[1])
            if key not in mod.resources:
                self.err(*where, f"reference to undeclared resource '{root}.{parts[1]}'")
                return
            node = self.schema["resources"].get(root)
            self.check_instance_path(f"{root}.{parts[1]}", mod.resources[key][1], node, parts[2:], where)
            return
        self.err(*where, f"unknown reference '{ref}'")

    def check_instance_path(self, target: str, body: dict, node: dict | None, rest: list[str], where) -> None:
        if not rest:
            return
        multi = "count" in body or "for_each" in body
        if INDEX.match(rest[0]):
            if not multi:
                self.err(
                    *where, f"'{target}[{rest[0]}]': {target} has no count or for_each, so it takes no instance key"
                )
                return
            target, rest = f"{target}[{rest[0]}]", rest[1:]
        elif multi and rest[0] != "*":
            self.err(*where, f"'{target}.{rest[0]}': {target} has count/for_each: index it ({target}[...].{rest[0]})")
            return
        if node is not None:
            self.check_attr_path(target, node, rest, where)

    def check_attr_path(self, target: str, node: dict, rest: list[str], where) -> None:
        path = target
        cur: dict | None = node
        for part in rest:
            if INDEX.match(part):
                path += f"[{part}]"
                continue
            if cur is None:
                return
            args = cur.get("arguments", {})
            attrs = cur.get("attributes", {})
            if part not in args and part not in attrs:
                self.err(
                    *where, f"'{path}.{part}': no argument or attribute '{part}'{suggest(part, set(args) | set(attrs))}"
                )
                return
            path += f".{part}"
            arg = args.get(part)
            if arg and arg.get("block"):
                cur = arg["schema"]
                continue
            attr = attrs.get(part) or {}
            typ = attr.get("type") or (arg or {}).get("type", "any")
            if "attributes" in attr:
                cur = {"arguments": {}, "attributes": attr["attributes"]}
            elif typ in PRIMITIVE:
                cur = {"primitive": typ}
            else:
                cur = None  # map/list/any: keys are data, stop here
            if cur and "primitive" in cur:
                idx = rest.index(part)
                more = [p for p in rest[idx + 1 :] if not INDEX.match(p)]
                if more:
                    self.err(*where, f"'{path}.{more[0]}': '{part}' is a {typ}, it has no attributes")
                return

    # -- bodies against the schema ----------------------------------------------------------------------------
    def check_body(self, body: dict, pybody, node: dict, ctx: Ctx, mod: Module, path: str, meta: set[str]) -> None:
        args = node.get("arguments", {})
        present: set[str] = set()
        loc = f"{path}: " if path else ""
        for key, value in body.items():
            if key in meta:
                self.check_meta(key, value, pybody, node, ctx, mod)
                continue
            if key == "dynamic":
                self.check_dynamic(value, pybody, args, ctx, mod, path, present)
                continue
            arg = args.get(key)
            if arg is None:
                self.err(ctx.file, ctx.addr, f"{loc}unknown argument or block '{key}'{suggest(key, args)}")
                continue
            present.add(key)
            as_block = self.written_as_block(key, value, pybody)
            if arg.get("block"):
                if not as_block:
                    self.err(ctx.file, ctx.addr, f"{loc}'{key}' is a block: write `{key} {{ ... }}`, not `{key} = ...`")
                    self.check_refs(value, ctx, mod)
                    continue
                if arg["nesting"] == "single" and len(value) > 1:
                    self.err(ctx.file, ctx.addr, f"{loc}block '{key}' may appear at most once, found {len(value)}")
                for i, inst in enumerate(value):
                    sub = f"{path}.{key}" if path else key
                    if arg["nesting"] == "list" or len(value) > 1:
                        sub += f"[{i}]"
                    self.check_body(inst, self.py_child(pybody, key, i), arg["schema"], ctx, mod, sub, set())
            else:
                if as_block:
                    self.err(ctx.file, ctx.addr, f"{loc}'{key}' is an argument: write `{key} = ...`, not a block")
                else:
                    problem = literal_type_problem(arg.get("type", "any"), value)
                    if problem:
                        self.err(ctx.file, ctx.addr, f"{loc}'{key}' expects {arg['type']}, {problem}")
                self.check_refs(value, ctx, mod)
        for key, arg in args.items():
            if arg.get("required") and key not in present:
                what = "block" if arg.get("block") else "argument"
                self.err(ctx.file, ctx.addr, f"{loc}missing required {what} '{key}'")

    def check_dynamic(self, value, pybody, args: dict, ctx: Ctx, mod: Module, path: str, present: set[str]) -> None:
        loc = f"{path}: " if path else ""
        pydyn = self.py_labelled({"d": pybody.get("dynamic", [])} if isinstance(pybody, dict) else None, "d")
        for label, instances in (value or {}).items():
            arg = args.get(label)
            if arg is None or not arg.get("block"):
                kind = "an argument, not a block" if arg else "not a block of this type"
                self.err(
                    ctx.file,
                    ctx.addr,
                    f"{loc}dynamic \"{label}\": '{label}' is {kind}{suggest(label, args) if not arg else ''}",
                )
                continue
            present.add(label)
            for i, dyn in enumerate(instances):
                iterator = dyn.get("iterator", label)
                if isinstance(iterator, str) and iterator.startswith("${"):
                    iterator = iterator[2:-1]
                self.check_refs(dyn.get("for_each"), ctx, mod)
                self.check_refs(dyn.get("labels"), ctx, mod)
                if "for_each" not in dyn:
                    self.err(ctx.file, ctx.addr, f'{loc}dynamic "{label}": missing for_each')
                contents = dyn.get("content") or []
                if len(contents) != 1:
                    self.err(ctx.file, ctx.addr, f'{loc}dynamic "{label}": needs exactly one content block')
                    continue
                inner = Ctx(**{**ctx.__dict__, "iterators": ctx.iterators | {iterator}})
                pyd = pydyn.get((label,), [])
                pyc = self.py_child(pyd[i], "content", 0) if i < len(pyd) else None
                sub = (f"{path}." if path else "") + f"dynamic.{label}.content"
                self.check_body(contents[0], pyc, arg["schema"], inner, mod, sub, set())

    def check_meta(self, key: str, value, pybody, node: dict, ctx: Ctx, mod: Module) -> None:
        if key in ("count", "for_each"):
            self.check_refs(value, Ctx(**{**ctx.__dict__, "has_count": False, "has_for_each": False}), mod)
        elif key == "depends_on":
            self.check_refs(value, ctx, mod)
        elif key == "provider":
            pass  # a provider reference such as google-beta, not an expression
        elif key == "lifecycle":
            for blk in value if isinstance(value, list) else []:
                for k, v in blk.items():
                    if k not in LIFECYCLE_KEYS:
                        self.err(ctx.file, ctx.addr, f"lifecycle: unknown argument '{k}'{suggest(k, LIFECYCLE_KEYS)}")
                    elif k == "ignore_changes":
                        self.check_ignore_changes(v, node, ctx)
                    else:
                        self.check_refs(
                            v, Ctx(**{**ctx.__dict__, "allow_self": k in ("precondition", "postcondition")}), mod
                        )
        elif key in ("provisioner", "connection"):
            self.check_refs(value, Ctx(**{**ctx.__dict__, "allow_self": True}), mod)

    def check_ignore_changes(self, value, node: dict, ctx: Ctx) -> None:
        if value in ("all", "${all}"):
            return
        if not isinstance(value, list):
            self.err(ctx.file, ctx.addr, "lifecycle: ignore_changes must be a list of attribute names or `all`")
            return
        args = node.get("arguments", {})
        for item in value:
            s = item[2:-1] if isinstance(item, str) and item.startswith("${") else item
            name = re.split(r"[.\[]", str(s), maxsplit=1)[0]
            if name not in args:
                self.err(
                    ctx.file, ctx.addr, f"lifecycle.ignore_changes: '{name}' is not an argument{suggest(name, args)}"
                )

    # -- the whole module -------------------------------------------------------------------------------------
    def check_module(self, files: list[str]) -> Module:
        mod = self.collect(files)
        for f in files:
            doc = self.parsed[f]
            py = self.py.get(f)
            for kind in ("resource", "data"):
                table = self.schema["resources" if kind == "resource" else "data_sources"]
                pyblocks = self.py_labelled(py, kind)
                for rtype, names in (doc.get(kind) or {}).items():
                    for name, bodies in names.items():
                        pyb = pyblocks.get((rtype, name), [])
                        for i, body in enumerate(bodies):
                            addr = f"data.{rtype}.{name}" if kind == "data" else f"{rtype}.{name}"
                            ctx = Ctx(f, addr, "count" in body, "for_each" in body)
                            node = table.get(rtype)
                            if node is None:
                                other = "data sources" if kind == "resource" else "resources"
                                hint = suggest(rtype, table)
                                if (
                                    not hint
                                    and rtype in self.schema["data_sources" if kind == "resource" else "resources"]
                                ):
                                    hint = f" (it exists among {other})"
                                what = "resource" if kind == "resource" else "data source"
                                self.err(f, addr, f"unknown {what} type '{rtype}'{hint}")
                                self.check_refs(body, ctx, mod)
                                continue
                            meta = RESOURCE_META if kind == "resource" else DATA_META
                            self.check_body(body, pyb[i] if i < len(pyb) else None, node, ctx, mod, "", meta)
            for name, bodies in (doc.get("variable") or {}).items():
                for body in bodies:
                    ctx = Ctx(f, f"var.{name}")
                    if "default" in body:
                        refs = [r for s in self.strings(body["default"]) for r in (self.refs.get(s) or [])]
                        if refs:
                            self.err(f, ctx.addr, f"a variable default cannot reference anything (found '{refs[0]}')")
                    for v in body.get("validation") or []:
                        self.check_refs(v, ctx, mod)
            for block in doc.get("locals") or []:
                for name, value in block.items():
                    self.check_refs(value, Ctx(f, f"local.{name}"), mod)
            for name, bodies in (doc.get("output") or {}).items():
                for body in bodies:
                    self.check_refs(body, Ctx(f, f"output.{name}"), mod)
            for name, bodies in (doc.get("module") or {}).items():
                for body in bodies:
                    self.check_refs(body, Ctx(f, f"module.{name}", "count" in body, "for_each" in body), mod)
            pyprov = self.py_labelled(py, "provider")
            for pname, bodies in (doc.get("provider") or {}).items():
                for i, body in enumerate(bodies):
                    ctx = Ctx(f, f"provider.{pname}")
                    if pname == "google" and self.schema.get("provider"):
                        body = {k: v for k, v in body.items() if k != "alias"}
                        pyb = pyprov.get((pname,), [])
                        self.check_body(
                            body, pyb[i] if i < len(pyb) else None, self.schema["provider"], ctx, mod, "", set()
                        )
                    else:
                        self.check_refs(body, ctx, mod)
            for kind in ("moved", "import", "removed", "check"):
                for body in doc.get(kind) or []:
                    if kind in ("moved", "removed"):  # `from` names an address that no longer exists
                        body = {k: v for k, v in body.items() if k != "from"}
                    if kind == "import":
                        # Terraform >= 1.5: `to` (a resource address) and `id` (or, >= 1.12, `identity`);
                        # `for_each` (>= 1.7) makes `each.*` valid in `to` and `id`.
                        for key in ("to", "id"):
                            if key not in body and not (key == "id" and "identity" in body):
                                self.err(f, kind, f"import block without '{key}'")
                        unknown = set(body) - {"to", "id", "identity", "for_each", "provider"}
                        for key in sorted(unknown):
                            self.err(f, kind, f"unknown argument '{key}' in an import block")
                    self.check_refs(body, Ctx(f, kind, has_for_each="for_each" in body), mod)
        return mod

    def check_tfvars(self, f: str, mod: Module) -> None:
        doc = self.parsed[f]
        for name, value in doc.items():
            if name not in mod.variables:
                self.err(f, f"var.{name}", f"tfvars sets undeclared variable '{name}'{suggest(name, mod.variables)}")
            refs = [r for s in self.strings(value) for r in (self.refs.get(s) or [])]
            if refs:
                self.err(f, f"var.{name}", f"a tfvars value cannot reference anything (found '{refs[0]}')")
        for name, (vf, body) in sorted(mod.variables.items()):
            if "default" not in body and name not in doc:
                self.err(f, f"var.{name}", f"variable '{name}' (declared in {vf}) has no default and is not set here")


def describe(value) -> str:
    if isinstance(value, bool):
        return f"got the bool {str(value).lower()}"
    if isinstance(value, (int, float)):
        return f"got the number {value}"
    if isinstance(value, str):
        return f"got the string {json.dumps(value)[:60]}"
    if isinstance(value, list):
        return "got a list"
    return "got an object"


def literal_type_problem(typ: str, value) -> str | None:
    """What is wrong with a literal value for an argument of type `typ` (None when fine or not a literal).

    hcl2json writes literals as JSON values and every other expression as a "${...}" string. A string that is
    exactly one interpolation can have any type; a template with text around its interpolations is a string."""
    if isinstance(value, str) and ("${" in value or "%{" in value):
        if value.startswith("${") and value.endswith("}") and value.count("${") == 1:
            return None  # one expression: its type is unknown here
        base = typ.split("(", 1)[0]
        return None if base in ("string", "any", "object") else f"got a string template {json.dumps(value)[:60]}"
    base = typ.split("(", 1)[0]
    inner = typ[len(base) + 1 : -1] if "(" in typ else ""
    if base in ("list", "set"):
        if not isinstance(value, list):
            return describe(value)
        if inner in ("string", "number", "bool"):
            for item in value:
                if isinstance(item, (list, dict)):
                    return f"an element is {describe(item)[4:]}"
        return None
    if base == "map":
        return None if isinstance(value, dict) else describe(value)
    if base == "string":
        return describe(value) if isinstance(value, (list, dict)) else None
    if base == "number":
        if isinstance(value, bool) or isinstance(value, (list, dict)):
            return describe(value)
        if isinstance(value, str):
            try:
                float(value)
            except ValueError:
                return describe(value)
        return None
    if base == "bool":
        if isinstance(value, bool) or value in ("true", "false"):
            return None
        return describe(value)
    return None


def split_traversal(ref: str) -> list[str]:
    """`google_x.y."k".attr` -> ['google_x', 'y', '"k"', 'attr'] (dots inside quoted keys kept)."""
    return [p for p in re.findall(r'"(?:[^"\\]|\\.)*"|[^.]+', ref)]


def load_python_hcl2(path: str | None):
    """python-hcl2 8.x lives outside venv-main's site-packages (its `hcl2` package collides with checkov's
    bc-python-hcl2); setup.sh installs it with --target and run.sh exports PYHCL2_PATH."""
    if path:
        sys.path.insert(0, path)
    try:
        import hcl2  # noqa: PLC0415

        if not hasattr(hcl2, "parses_to_tree"):  # that is bc-python-hcl2, which has no block markers
            return None
        return hcl2
    except ImportError:
        return None


def main() -> int:
    ap = argparse.ArgumentParser(description="check a terraform/ directory against the google provider schema")
    ap.add_argument("terraform_dir")
    ap.add_argument("--schema", default=os.environ.get("PROVIDER_SCHEMA"))
    ap.add_argument("--node-dir", default=os.environ.get("NODE_DIR"))
    ap.add_argument("--hcl2-path", default=os.environ.get("PYHCL2_PATH"))
    args = ap.parse_args()
    if not args.schema or not os.path.isfile(args.schema):
        print(f"check_schema: no provider schema at {args.schema!r} (run setup.sh; PROVIDER_SCHEMA)", file=sys.stderr)
        return 2
    with open(args.schema, encoding="utf-8") as f:
        schema = json.load(f)
    env = dict(os.environ)
    if args.node_dir:
        env["NODE_DIR"] = args.node_dir
        env["NODE_PATH"] = os.path.join(args.node_dir, "node_modules")
    proc = subprocess.run(
        ["node", os.path.join(HERE, "hcl_parse.js"), "--dump", "-", args.terraform_dir],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        print("check_schema: the files do not parse (see the hcl parse check)", file=sys.stderr)
        return 2
    dump = json.loads(proc.stdout)
    parsed: dict = dump["files"]
    hcl2 = load_python_hcl2(args.hcl2_path)
    warnings = []
    if hcl2 is None:
        warnings.append("python-hcl2 8.x not found: `x = [{...}]` cannot be told from a block `x { ... }`")
    py_trees = {}
    for path in parsed:
        if not path.endswith(".tf") or hcl2 is None:
            continue
        try:
            with open(path, encoding="utf-8") as f:
                py_trees[path] = hcl2.loads(f.read())
        except Exception as e:  # noqa: BLE001 - any parser failure is only a warning here
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            warnings.append(f"{path}: python-hcl2 could not parse it ({first}); block/attribute check uses heuristics")
            py_trees[path] = None
    checker = Checker(schema, parsed, dump["references"], py_trees)
    by_dir: dict[str, list[str]] = defaultdict(list)
    tfvars = []
    for path in sorted(parsed):
        if path.endswith(".tf"):
            by_dir[os.path.dirname(path)].append(path)
        else:
            tfvars.append(path)
    root_dir = os.path.normpath(args.terraform_dir)
    modules = {d: checker.check_module(files) for d, files in sorted(by_dir.items())}
    root = modules.get(root_dir) or modules.get(args.terraform_dir.rstrip("/")) or Module()
    for f in tfvars:
        checker.check_tfvars(f, root)
    unused = sorted(set(root.variables) - checker.used_vars)
    for name in unused:
        warnings.append(f"{root.variables[name][0]}: var.{name}: declared but never used")
    for w in warnings + checker.warnings:
        print(f"warning: {w}")
    for e in checker.errors:
        print(e)
    n_res = sum(len(m.resources) + len(m.data) for m in modules.values())
    print(
        f"check_schema: {len(parsed)} files, {n_res} resources/data sources, "
        f"{len(checker.errors)} problem(s) (google provider {schema['source'].get('provider_version')})"
    )
    return 1 if checker.errors else 0


if __name__ == "__main__":
    sys.exit(main())
