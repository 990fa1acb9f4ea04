#!/usr/bin/env python3
"""Extract a compact google provider schema from the jsii assembly of `@cdktf/provider-google`.

The `.jsii` file (~99 MB of JSON) describes, as TypeScript types, every resource, data source and nested block of
the google Terraform provider (16.12.1 = google provider 6.50.0). This script turns it into a small JSON document
that `check_schema.py` (and anyone else) can load in well under a second.

Facts the extraction relies on (see VALIDATORS.md):
- every resource / data source / the provider itself is a class whose base is `cdktf.TerraformResource` /
  `cdktf.TerraformDataSource` / `cdktf.TerraformProvider`; its docs summary links
  `.../docs/resources/<type> google_<type>` (or `data-sources/`), and its initializer takes a `*Config` struct that
  extends `cdktf.TerraformMetaArguments` (so count/for_each/... are *not* among its own properties);
- each struct property's docs link ends in `#<terraform_name>` (authoritative; camelCase -> snake_case is not
  reversible for names such as `detect_md5hash` or `vlan_tag8021q`);
- a property whose type is a provider struct (directly, or an array of it) is a nested block; summary "... block."
  says the same; a direct struct is a single block (max_items = 1), an array a list/set block;
- `optional` absent means required;
- the class getters (non-static properties of the resource class, of each block's `*OutputReference` class and,
  for computed nested objects, of the `*List` element class) are the exported attributes, computed ones included.

Output format (format_version 1):

    {
      "format_version": 1,
      "source": {"package": "@cdktf/provider-google", "package_version": "16.12.1",
                 "provider": "hashicorp/google", "provider_version": "6.50.0"},
      "provider":     <node>,                      # arguments of provider "google" { ... }
      "resources":    {"google_storage_bucket": <node>, ...},
      "data_sources": {"google_storage_bucket": <node>, ...}
    }
    <node> = {
      "arguments": {                               # what may be written in the body
        "<tf_name>": {"type": "string", "required": true},                      # an attribute
        "<tf_name>": {"block": true, "nesting": "single" | "list", "required": false,
                      "schema": <node>}                                         # a nested block
      },
      "attributes": {                              # what may be read (class getters): arguments and computed
        "<tf_name>": {"type": "string"},
        "<tf_name>": {"type": "list(object)", "attributes": {...}}              # computed nested objects
      }
    }

Types are Terraform-ish strings: string, number, bool, any, list(T), map(T), object, list(object).

Usage: extract_schema.py [--jsii PATH | --node-dir DIR] --out FILE
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

PKG = "@cdktf/provider-google"
BASES = {
    "cdktf.TerraformResource": "resources",
    "cdktf.TerraformDataSource": "data_sources",
    "cdktf.TerraformProvider": "provider",
}
# `.../6.50.0/docs/resources/storage_bucket google_storage_bucket}` in a class summary
CLASS_LINK = re.compile(
    r"/providers/hashicorp/google/([0-9.]+)/docs/(resources|data-sources)/[a-z0-9_]+ ([a-z0-9_]+)\}"
)
# `.../docs/resources/storage_bucket#lifecycle_rule StorageBucket#lifecycle_rule}`, or `.../docs#project` (provider)
PROP_LINK = re.compile(r"/docs(?:/(?:resources|data-sources)/[a-z0-9_]+)?#([A-Za-z0-9_]+)[ }]")
CDKTF_TYPES = {
    "cdktf.StringMap": "map(string)",
    "cdktf.NumberMap": "map(number)",
    "cdktf.BooleanMap": "map(bool)",
    "cdktf.AnyMap": "map(any)",
    "cdktf.StringMapList": "list(map(string))",
    "cdktf.NumberMapList": "list(map(number))",
    "cdktf.BooleanMapList": "list(map(bool))",
    "cdktf.AnyMapList": "list(map(any))",
    "cdktf.StringListList": "list(list(string))",
    "cdktf.NumberListList": "list(list(number))",
    "cdktf.StringListMap": "map(list(string))",
    "cdktf.NumberListMap": "map(list(number))",
    "cdktf.BooleanList": "list(bool)",
    "cdktf.IResolvable": "any",
}
PRIMITIVES = {"string": "string", "number": "number", "boolean": "bool", "any": "any", "json": "any", "date": "string"}
# getters of cdktf.ComplexObject subclasses that are plumbing, not Terraform attributes
PLUMBING = {"internalValue"}


def camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)([A-Z])", r"_\1", name).lower()


class Extractor:
    def __init__(self, types: dict):
        self.types = types
        self.warnings: list[str] = []
        self._active: set[str] = set()

    # -- types ---------------------------------------------------------------------------------------------------
    def is_struct(self, fqn: str) -> bool:
        t = self.types.get(fqn)
        return bool(t and t.get("kind") == "interface" and t.get("datatype") and fqn.startswith(PKG + "."))

    def strip_resolvable(self, tref: dict) -> dict:
        """`union(IResolvable, X)` -> X."""
        if "union" in tref:
            rest = [t for t in tref["union"]["types"] if t.get("fqn") != "cdktf.IResolvable"]
            if len(rest) == 1:
                return rest[0]
        return tref

    def block_struct(self, tref: dict) -> tuple[str, str] | None:
        """(struct fqn, nesting) when the type reference is a nested block, else None."""
        tref = self.strip_resolvable(tref)
        if "fqn" in tref and self.is_struct(tref["fqn"]):
            return tref["fqn"], "single"
        coll = tref.get("collection")
        if coll and coll["kind"] == "array":
            el = self.strip_resolvable(coll["elementtype"])
            if "fqn" in el and self.is_struct(el["fqn"]):
                return el["fqn"], "list"
        return None

    def type_str(self, tref: dict) -> str:
        tref = self.strip_resolvable(tref)
        if "primitive" in tref:
            return PRIMITIVES.get(tref["primitive"], tref["primitive"])
        if "collection" in tref:
            coll = tref["collection"]
            kind = "list" if coll["kind"] == "array" else "map"
            return f"{kind}({self.type_str(coll['elementtype'])})"
        if "union" in tref:
            return "any"
        fqn = tref.get("fqn", "")
        if fqn in CDKTF_TYPES:
            return CDKTF_TYPES[fqn]
        if self.is_struct(fqn):
            return "object"
        if fqn.endswith("OutputReference"):
            return "object"
        if fqn.endswith("List") or fqn.endswith("Map"):
            return "list(object)" if fqn.endswith("List") else "map(object)"
        return "any"

    # -- names ---------------------------------------------------------------------------------------------------
    def tf_name(self, prop: dict, owner: str) -> str:
        docs = prop.get("docs", {})
        m = PROP_LINK.search(docs.get("summary", "") + " " + docs.get("remarks", "") + " ")
        if m:
            return m.group(1)
        name = camel_to_snake(prop["name"])
        self.warnings.append(f"{owner}.{prop['name']}: no docs link, guessed terraform name {name!r}")
        return name

    # -- nodes ---------------------------------------------------------------------------------------------------
    def struct_node(self, struct_fqn: str, getters_fqn: str | None) -> dict:
        """Schema node for a config struct (arguments) plus the getters of its reader class (attributes)."""
        if struct_fqn in self._active:  # recursive types do not occur in the provider, but never loop
            return {"arguments": {}, "attributes": {}}
        self._active.add(struct_fqn)
        struct = self.types[struct_fqn]
        arguments: dict[str, dict] = {}
        camel_to_tf: dict[str, str] = {}
        for prop in struct.get("properties", []):
            tf = self.tf_name(prop, struct_fqn)
            camel_to_tf[prop["name"]] = tf
            required = not prop.get("optional", False)
            summary = prop.get("docs", {}).get("summary", "")
            blk = self.block_struct(prop["type"])
            if blk:
                sub_fqn, nesting = blk
                if not summary.rstrip().endswith("block."):
                    self.warnings.append(f"{struct_fqn}.{prop['name']}: struct type but summary is not '... block.'")
                reader = sub_fqn + "OutputReference"
                arguments[tf] = {
                    "block": True,
                    "nesting": nesting,
                    "required": required,
                    "schema": self.struct_node(sub_fqn, reader if reader in self.types else None),
                }
            else:
                if summary.rstrip().endswith(" block."):
                    self.warnings.append(f"{struct_fqn}.{prop['name']}: summary says block but type is not a struct")
                arguments[tf] = {"type": self.type_str(prop["type"]), "required": required}
        attributes = self.getters(getters_fqn, camel_to_tf, arguments) if getters_fqn else {}
        self._active.discard(struct_fqn)
        return {"arguments": dict(sorted(arguments.items())), "attributes": attributes}

    def getters(self, cls_fqn: str, camel_to_tf: dict[str, str], arguments: dict) -> dict:
        cls = self.types.get(cls_fqn)
        if not cls:
            return {}
        out: dict[str, dict] = {}
        for prop in cls.get("properties", []):
            name = prop["name"]
            if prop.get("static") or name in PLUMBING:
                continue
            if name.endswith("Input") and name[: -len("Input")] in camel_to_tf:
                continue  # cdktf's xxxInput getter mirrors argument xxx
            if name in camel_to_tf:
                tf = camel_to_tf[name]
            elif name.endswith("Attribute"):
                tf = camel_to_snake(name[: -len("Attribute")])  # cdktf renames clashes: build -> buildAttribute
            else:
                tf = camel_to_snake(name)
            arg = arguments.get(tf)
            if arg and arg.get("block"):
                out[tf] = {"type": "list(object)" if arg["nesting"] == "list" else "object"}
                continue
            entry: dict = {"type": self.type_str(prop["type"])}
            fqn = prop["type"].get("fqn", "")
            if not arg and fqn.startswith(PKG + "."):
                nested = self.computed_object(fqn)
                if nested is not None:
                    entry["attributes"] = nested
            out[tf] = entry
        return dict(sorted(out.items()))

    def computed_object(self, fqn: str) -> dict | None:
        """Attributes of a computed nested object (a *List class's element reader or an *OutputReference)."""
        if fqn in self._active:
            return None
        cls = self.types.get(fqn)
        if not cls or cls.get("kind") != "class":
            return None
        reader = fqn
        if cls.get("base") == "cdktf.ComplexList":
            get = next((m for m in cls.get("methods", []) if m["name"] == "get"), None)
            reader = get["returns"]["type"].get("fqn", "") if get else ""
        if not reader or reader not in self.types:
            return None
        self._active.add(fqn)
        try:
            return self.getters(reader, {}, {})
        finally:
            self._active.discard(fqn)

    def top_level(self, cls: dict) -> tuple[str, str, dict, str] | None:
        kind = BASES[cls["base"]]
        init = cls.get("initializer", {})
        cfg = next((p for p in init.get("parameters", []) if p["name"] == "config"), None)
        if not cfg:
            self.warnings.append(f"{cls['fqn']}: no config parameter")
            return None
        cfg_fqn = cfg["type"]["fqn"]
        if kind == "provider":
            return kind, "google", self.struct_node(cfg_fqn, None), ""
        m = CLASS_LINK.search(cls.get("docs", {}).get("summary", ""))
        if not m:
            self.warnings.append(f"{cls['fqn']}: no terraform type link in summary")
            return None
        cfg_type = self.types[cfg_fqn]
        if "cdktf.TerraformMetaArguments" not in cfg_type.get("interfaces", []):
            self.warnings.append(f"{cfg_fqn}: does not extend cdktf.TerraformMetaArguments")
        node = self.struct_node(cfg_fqn, cls["fqn"])
        return kind, m.group(3), node, m.group(1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--jsii", help="path to @cdktf/provider-google/.jsii")
    ap.add_argument("--node-dir", default=os.environ.get("NODE_DIR"), help="parent of node_modules (default $NODE_DIR)")
    ap.add_argument("--out", required=True)
    ap.add_argument("-v", "--verbose", action="store_true", help="print every extraction warning")
    args = ap.parse_args()
    jsii = args.jsii or (args.node_dir and os.path.join(args.node_dir, "node_modules", PKG, ".jsii"))
    if not jsii or not os.path.isfile(jsii):
        print(f"extract_schema: no .jsii assembly (looked at {jsii!r}); pass --jsii or --node-dir", file=sys.stderr)
        return 2
    t0 = time.monotonic()
    with open(jsii, encoding="utf-8") as f:
        assembly = json.load(f)
    ex = Extractor(assembly["types"])
    doc: dict = {"format_version": 1, "source": {}, "provider": None, "resources": {}, "data_sources": {}}
    provider_versions = set()
    for cls in assembly["types"].values():
        if cls.get("kind") != "class" or cls.get("base") not in BASES:
            continue
        got = ex.top_level(cls)
        if not got:
            continue
        kind, tf_type, node, pver = got
        if kind == "provider":
            doc["provider"] = node
            continue
        if pver:
            provider_versions.add(pver)
        if tf_type in doc[kind]:
            ex.warnings.append(f"duplicate {kind} {tf_type}")
        doc[kind][tf_type] = node
    doc["resources"] = dict(sorted(doc["resources"].items()))
    doc["data_sources"] = dict(sorted(doc["data_sources"].items()))
    doc["source"] = {
        "package": assembly["name"],
        "package_version": assembly["version"],
        "provider": "hashicorp/google",
        "provider_version": ",".join(sorted(provider_versions)),
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, separators=(",", ":"), sort_keys=False)
        f.write("\n")
    os.replace(tmp, args.out)
    print(
        f"extract_schema: {len(doc['resources'])} resources, {len(doc['data_sources'])} data sources, "
        f"provider {doc['source']['provider_version']} from {assembly['name']}@{assembly['version']} "
        f"-> {args.out} ({os.path.getsize(args.out) // 1024} KiB, {time.monotonic() - t0:.1f}s, "
        f"{len(ex.warnings)} warnings)"
    )
    for w in ex.warnings if args.verbose else ex.warnings[:5]:
        print(f"  warning: {w}")
    if not args.verbose and len(ex.warnings) > 5:
        print(f"  ... {len(ex.warnings) - 5} more (-v to list)")
    if len(doc["resources"]) < 500 or doc["provider"] is None:
        print("extract_schema: implausibly small schema, refusing", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
