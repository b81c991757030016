"""Generate Kybernetes' API schema data and TypedDicts from a Kubernetes OpenAPI v2 document.

Reads the OpenAPI v2 document (``openapi-v2.json``) and the protobuf field table
(``protobuf-fields.json``) of one Kubernetes release and writes, under the repository root:

- ``src/kybernetes/api/data/schema.json`` (gzipped as ``schema.json.gz`` when over ~1 MB): every
  definition with its properties, types, refs, list/map/patch metadata, required fields and
  group-version-kinds, plus every built-in resource derived from the ``paths`` section (group,
  version, kind, plural, scope, verbs, subresources, definition names).
- ``src/kybernetes/api/data/protobuf-fields.json``: the protobuf table, minified.
- ``src/kybernetes/api/types.py``: ``TypedDict`` classes for the types the code reads.

Invariant: the output is a pure function of the inputs. Running the generator twice gives
byte-identical files (sorted keys, sorted resources, no timestamps, gzip with mtime 0), and
everything the document states is taken from the document; the few facts it does not state
(the wire form of Quantity, which object types are opaque in ``types.py``) are named below.

Usage: ``.venv/bin/python tools/gen_schema.py [--openapi PATH] [--protobuf PATH] [--out-root DIR]``
"""

from __future__ import annotations

import argparse
import gzip
import json
import keyword
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
# The shared inputs live beside the checkout: ``../shared/k8s-api-1.32`` from the repo root.
DEFAULT_INPUT_DIR = REPO_ROOT.parent / "shared" / "k8s-api-1.32"

SCHEMA_JSON = Path("src/kybernetes/api/data/schema.json")
PROTOBUF_JSON = Path("src/kybernetes/api/data/protobuf-fields.json")
TYPES_PY = Path("src/kybernetes/api/types.py")

# Above this size the schema is stored gzipped; the loader reads either form.
GZIP_THRESHOLD = 1_000_000
DATA_FORMAT = 1

REF_PREFIX = "#/definitions/"

# Property keywords carried into the data file. Anything else found in the document is reported
# on stderr so that a newer Kubernetes with a new vendor extension is noticed, not silently lost.
PROPERTY_KEYS = frozenset(
    {
        "type",
        "format",
        "enum",
        "default",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-patch-strategy",
        "x-kubernetes-patch-merge-key",
        "x-kubernetes-map-type",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-int-or-string",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-unions",
    }
)
STRUCTURED_PROPERTY_KEYS = frozenset({"$ref", "items", "additionalProperties"})
DEFINITION_KEYS = PROPERTY_KEYS | {"required", "x-kubernetes-group-version-kind"}
IGNORED_KEYS = frozenset({"description", "uniqueItems"})

# The v2 document says Quantity is a plain string, but its Go type also decodes JSON numbers
# (``cpu: 1``); upstream only states that in OpenAPI v3 (oneOf string/number). Mark it with a
# format of its own so validators accept both forms.
QUANTITY_DEFINITION = "io.k8s.apimachinery.pkg.api.resource.Quantity"
QUANTITY_FORMAT = "quantity"

# Discovery verbs from the document's ``x-kubernetes-action`` values.
ACTION_VERBS = {
    "get": "get",
    "list": "list",
    "watch": "watch",
    "watchlist": "watch",
    "post": "create",
    "put": "update",
    "patch": "patch",
    "delete": "delete",
    "deletecollection": "deletecollection",
}
# ``connect`` operations (exec, attach, proxy, port-forward) get their verb from the HTTP method,
# as upstream discovery reports them; HEAD and OPTIONS have no discovery verb.
CONNECT_METHOD_VERBS = {
    "get": "get",
    "post": "create",
    "put": "update",
    "patch": "patch",
    "delete": "delete",
}
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch")

PATH_RE = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[^/]+)/(?P<version>[^/]+))/(?P<rest>.+)$"
)

# --- types.py --------------------------------------------------------------------------------

# The types the code reads; everything they reference is generated too.
TYPE_ROOTS = (
    "io.k8s.api.core.v1.Pod",
    "io.k8s.api.core.v1.PodSpec",
    "io.k8s.api.core.v1.PodStatus",
    "io.k8s.api.core.v1.Container",
    "io.k8s.api.core.v1.ContainerPort",
    "io.k8s.api.core.v1.ContainerStatus",
    "io.k8s.api.core.v1.ContainerState",
    "io.k8s.api.core.v1.ContainerStateRunning",
    "io.k8s.api.core.v1.ContainerStateTerminated",
    "io.k8s.api.core.v1.ContainerStateWaiting",
    "io.k8s.api.core.v1.Probe",
    "io.k8s.api.core.v1.Volume",
    "io.k8s.api.core.v1.ResourceRequirements",
    "io.k8s.api.core.v1.EnvVar",
    "io.k8s.api.core.v1.Node",
    "io.k8s.api.core.v1.NodeSpec",
    "io.k8s.api.core.v1.NodeStatus",
    "io.k8s.api.core.v1.NodeCondition",
    "io.k8s.api.core.v1.Taint",
    "io.k8s.api.core.v1.Toleration",
    "io.k8s.api.core.v1.Affinity",
    "io.k8s.api.core.v1.NodeAffinity",
    "io.k8s.api.core.v1.PodAffinity",
    "io.k8s.api.core.v1.PodAntiAffinity",
    "io.k8s.api.core.v1.Service",
    "io.k8s.api.core.v1.ServiceSpec",
    "io.k8s.api.core.v1.ServicePort",
    "io.k8s.api.core.v1.Endpoints",
    "io.k8s.api.core.v1.Namespace",
    "io.k8s.api.core.v1.ConfigMap",
    "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.ServiceAccount",
    "io.k8s.api.core.v1.Event",
    "io.k8s.api.events.v1.Event",
    "io.k8s.api.discovery.v1.EndpointSlice",
    "io.k8s.api.apps.v1.Deployment",
    "io.k8s.api.apps.v1.DeploymentSpec",
    "io.k8s.api.apps.v1.DeploymentStatus",
    "io.k8s.api.apps.v1.DeploymentStrategy",
    "io.k8s.api.apps.v1.ReplicaSet",
    "io.k8s.api.apps.v1.ReplicaSetSpec",
    "io.k8s.api.apps.v1.ReplicaSetStatus",
    "io.k8s.api.apps.v1.StatefulSet",
    "io.k8s.api.apps.v1.DaemonSet",
    "io.k8s.api.batch.v1.Job",
    "io.k8s.api.batch.v1.CronJob",
    "io.k8s.api.coordination.v1.Lease",
    "io.k8s.api.networking.v1.Ingress",
    "io.k8s.api.networking.v1.IngressSpec",
    "io.k8s.api.networking.v1.IngressRule",
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.OwnerReference",
    "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Condition",
    "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
)
# Definitions whose object-typed properties stay ``dict[str, Any]`` in types.py: the ~30 volume
# sources reachable from Volume are read only by the volume plugins, which check them at run time.
OPAQUE_PROPERTY_OWNERS = frozenset({"io.k8s.api.core.v1.Volume"})
# Aliases for definitions that are not objects on the wire.
TYPE_ALIASES = {
    QUANTITY_DEFINITION: "str | int | float",
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": "int | str",
}
PRIMITIVES = {"string": "str", "integer": "int", "number": "float", "boolean": "bool"}
RESERVED_NAMES = frozenset({"Any", "TypeAlias", "TypedDict"})


class GenerationError(Exception):
    """The input document does not have the shape the generator relies on."""


def strip_ref(ref: str) -> str:
    if not ref.startswith(REF_PREFIX):
        raise GenerationError(f"unsupported $ref {ref!r}")
    return ref[len(REF_PREFIX) :]


class Converter:
    """Turns OpenAPI v2 schema objects into the data file's form, collecting unknown keywords."""

    def __init__(self) -> None:
        self.unknown_keys: set[str] = set()

    def prop(self, schema: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "$ref":
                out["$ref"] = strip_ref(value)
            elif key == "items":
                out["items"] = self.prop(value)
            elif key == "additionalProperties":
                out["additionalProperties"] = value if isinstance(value, bool) else self.prop(value)
            elif key in PROPERTY_KEYS:
                out[key] = value
            elif key not in IGNORED_KEYS:
                self.unknown_keys.add(key)
        return out

    def definition(self, name: str, schema: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in schema.items():
            if key == "properties":
                out["properties"] = {pname: self.prop(p) for pname, p in value.items()}
            elif key in STRUCTURED_PROPERTY_KEYS:
                out.update(self.prop({key: value}))
            elif key in DEFINITION_KEYS:
                out[key] = value
            elif key not in IGNORED_KEYS:
                self.unknown_keys.add(key)
        if name == QUANTITY_DEFINITION:
            out["format"] = QUANTITY_FORMAT
        return out


# --- resources from paths ----------------------------------------------------------------------


class ResourceCollector:
    """Accumulates what the ``paths`` section says about each (group, version, plural)."""

    def __init__(self) -> None:
        # (group, version, plural) -> facts
        self.resources: dict[tuple[str, str, str], dict[str, Any]] = {}

    def entry(self, group: str, version: str, plural: str) -> dict[str, Any]:
        key = (group, version, plural)
        if key not in self.resources:
            self.resources[key] = {
                "namespaced": False,
                "verbs": set(),
                "gvks": set(),
                "subresources": {},
            }
        return self.resources[key]

    def add_path(self, path: str, item: Mapping[str, Any]) -> None:
        match = PATH_RE.match(path)
        if match is None:
            return
        group = match.group("group") or ""
        version = match.group("core") or match.group("version")
        parts = match.group("rest").split("/")
        if parts and parts[-1] == "":
            parts.pop()
        if not parts:
            return  # the group-version's discovery document
        if parts[0] == "watch":
            parts = parts[1:]
            if not parts:
                return
        namespaced = False
        if len(parts) >= 3 and parts[0] == "namespaces" and parts[1] == "{namespace}":
            namespaced = True
            parts = parts[2:]
        plural = parts[0]
        subresource = None
        if len(parts) >= 2:
            if parts[1] != "{name}":
                raise GenerationError(f"unexpected path shape {path!r}")
            if len(parts) >= 3:
                subresource = parts[2]  # a trailing "{path}" (proxy) adds nothing
        facts = self.entry(group, version, plural)
        if namespaced:
            facts["namespaced"] = True
        for method in HTTP_METHODS:
            op = item.get(method)
            if op is None:
                continue
            action = op.get("x-kubernetes-action")
            gvk = op.get("x-kubernetes-group-version-kind")
            if action is None or gvk is None:
                continue
            if action == "connect":
                verb = CONNECT_METHOD_VERBS.get(method)
            else:
                verb = ACTION_VERBS.get(action)
                if verb is None:
                    raise GenerationError(f"unknown x-kubernetes-action {action!r} on {path}")
            gvk_t = (gvk["group"], gvk["version"], gvk["kind"])
            if subresource is None:
                facts["gvks"].add(gvk_t)
                if verb is not None:
                    facts["verbs"].add(verb)
            else:
                sub = facts["subresources"].setdefault(subresource, {"verbs": set(), "gvks": set()})
                sub["gvks"].add(gvk_t)
                if verb is not None:
                    sub["verbs"].add(verb)

    def build(self, gvk_index: Mapping[tuple[str, str, str], str]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for (group, version, plural), facts in sorted(self.resources.items()):
            if len(facts["gvks"]) != 1:
                raise GenerationError(
                    f"{group}/{version} {plural}: expected one kind, found {sorted(facts['gvks'])}"
                )
            (gvk,) = facts["gvks"]
            if gvk[:2] != (group, version):
                raise GenerationError(f"{group}/{version} {plural} answers with kind {gvk}")
            kind = gvk[2]
            definition = gvk_index.get(gvk)
            if definition is None:
                raise GenerationError(f"no definition carries group-version-kind {gvk}")
            subresources: dict[str, Any] = {}
            for name, sub in sorted(facts["subresources"].items()):
                if len(sub["gvks"]) != 1:
                    raise GenerationError(
                        f"{plural}/{name}: expected one kind, found {sorted(sub['gvks'])}"
                    )
                ((sgroup, sversion, skind),) = sub["gvks"]
                subresources[name] = {
                    "group": sgroup,
                    "version": sversion,
                    "kind": skind,
                    "verbs": sorted(sub["verbs"]),
                }
            record: dict[str, Any] = {
                "group": group,
                "version": version,
                "kind": kind,
                "plural": plural,
                "namespaced": facts["namespaced"],
                "verbs": sorted(facts["verbs"]),
                "subresources": subresources,
                "definition": definition,
            }
            list_definition = gvk_index.get((group, version, kind + "List"))
            if list_definition is not None:
                record["listDefinition"] = list_definition
            out.append(record)
        return out


def gvk_index_of(definitions: Mapping[str, Mapping[str, Any]]) -> dict[tuple[str, str, str], str]:
    """Map each group-version-kind to the definition that declares it (first in name order)."""
    index: dict[tuple[str, str, str], str] = {}
    for name in sorted(definitions):
        for gvk in definitions[name].get("x-kubernetes-group-version-kind", ()):
            index.setdefault((gvk["group"], gvk["version"], gvk["kind"]), name)
    return index


# The shared document had its descriptions stripped, and with them every *property* named
# ``description``. The protobuf table still lists such fields; apiextensions' JSONSchemaProps is
# not in that table, so it is named here. Upstream types them all as plain strings.
LOST_DESCRIPTION_PROPERTIES = (
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps",
)


def restore_description_properties(definitions: dict[str, Any], proto: Mapping[str, Any]) -> None:
    """Put back the ``description`` string properties the stripped document lost."""
    owners = {
        "io.k8s." + name[len("k8s.io.") :]
        for name, fields in proto.items()
        if name.startswith("k8s.io.") and "description" in fields
    }
    for name in sorted(owners | set(LOST_DESCRIPTION_PROPERTIES)):
        definition = definitions.get(name)
        if definition is not None:
            definition.setdefault("properties", {}).setdefault("description", {"type": "string"})


def build_schema(
    document: Mapping[str, Any], proto: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], set[str]]:
    converter = Converter()
    raw_definitions = document["definitions"]
    definitions = {
        name: converter.definition(name, raw_definitions[name]) for name in sorted(raw_definitions)
    }
    restore_description_properties(definitions, proto or {})
    missing_refs = sorted(ref for ref in iter_refs(definitions.values()) if ref not in definitions)
    if missing_refs:
        raise GenerationError(f"dangling $ref targets: {missing_refs[:5]}")
    collector = ResourceCollector()
    for path in sorted(document["paths"]):
        collector.add_path(path, document["paths"][path])
    schema = {
        "format": DATA_FORMAT,
        "info": document.get("info", {}),
        "definitions": definitions,
        "resources": collector.build(gvk_index_of(raw_definitions)),
    }
    return schema, converter.unknown_keys


def iter_refs(schemas: Iterable[Any]) -> Iterable[str]:
    stack = list(schemas)
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str):
                yield ref
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)


# --- types.py ----------------------------------------------------------------------------------


def short_name(definition: str) -> str:
    return definition.rsplit(".", 1)[1]


def group_version_prefix(definition: str) -> str:
    """``io.k8s.api.events.v1.Event`` -> ``EventsV1``: the disambiguating class-name prefix."""
    parts = definition.split(".")
    group, version = parts[-3], parts[-2]
    words = [*re.split(r"[^A-Za-z0-9]+", group), version]
    return "".join(w[:1].upper() + w[1:] for w in words if w)


def reachable(definitions: Mapping[str, Mapping[str, Any]], roots: Iterable[str]) -> set[str]:
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        if name not in definitions:
            raise GenerationError(f"type root {name!r} is not in the document")
        seen.add(name)
        if name in TYPE_ALIASES:
            continue
        schema = definitions[name]
        props = schema.get("properties", {})
        opaque = name in OPAQUE_PROPERTY_OWNERS
        for prop in props.values():
            if opaque and _is_object_ref(prop, definitions):
                continue
            stack.extend(iter_refs([prop]))
    return seen


def _is_object_ref(prop: Mapping[str, Any], definitions: Mapping[str, Mapping[str, Any]]) -> bool:
    ref = prop.get("$ref")
    return ref is not None and definitions[ref].get("type") == "object"


class TypesWriter:
    """Renders the reachable definitions as TypedDicts and aliases, in a deterministic order."""

    def __init__(self, definitions: Mapping[str, Mapping[str, Any]]) -> None:
        self.definitions = definitions
        self.names = reachable(definitions, TYPE_ROOTS)
        by_short: dict[str, list[str]] = {}
        for name in self.names:
            by_short.setdefault(short_name(name), []).append(name)
        self.class_names: dict[str, str] = {}
        for short, owners in by_short.items():
            for owner in owners:
                clash = len(owners) > 1 or short in RESERVED_NAMES
                self.class_names[owner] = group_version_prefix(owner) + short if clash else short
        taken = sorted(self.class_names.values())
        if len(taken) != len(set(taken)):
            raise GenerationError("class names still collide after adding group-version prefixes")

    def type_expr(self, prop: Mapping[str, Any], owner: str) -> str:
        ref = prop.get("$ref")
        if ref is not None:
            if owner in OPAQUE_PROPERTY_OWNERS and self.definitions[ref].get("type") == "object":
                return "dict[str, Any]"
            return self.class_names[ref]
        kind = prop.get("type")
        if kind == "array":
            items = prop.get("items")
            return f"list[{self.type_expr(items, owner)}]" if items else "list[Any]"
        if kind == "object":
            extra = prop.get("additionalProperties")
            if isinstance(extra, dict):
                return f"dict[str, {self.type_expr(extra, owner)}]"
            return "dict[str, Any]"
        if kind in PRIMITIVES:
            return PRIMITIVES[kind]
        return "Any"

    def alias_expr(self, name: str) -> str | None:
        """The right-hand side for definitions that are not TypedDicts, or None for a class."""
        if name in TYPE_ALIASES:
            return TYPE_ALIASES[name]
        schema = self.definitions[name]
        kind = schema.get("type")
        if kind in PRIMITIVES:
            return PRIMITIVES[kind]
        if kind == "object" and not schema.get("properties"):
            return "dict[str, Any]"
        if kind is None:
            return "Any"
        return None

    def render(self) -> str:
        lines = [
            "# generated by tools/gen_schema.py; do not edit.",
            "# Regenerate with `.venv/bin/python tools/gen_schema.py` (see docs/schema.md).",
            '"""Static types for Kubernetes API objects, generated from the OpenAPI document.',
            "",
            "Every TypedDict is ``total=False``: any field may be absent on the wire. Keys are",
            "the JSON (camelCase) field names. The classes cost nothing at run time; objects",
            "stay plain dicts everywhere.",
            '"""',
            "",
            "from __future__ import annotations",
            "",
            "from typing import Any, TypeAlias, TypedDict",
            "",
        ]
        ordered = sorted(self.names, key=lambda n: self.class_names[n])
        aliases = [(n, self.alias_expr(n)) for n in ordered]
        for name, expr in aliases:
            if expr is not None:
                lines.append(f"# {name}")
                lines.append(f"{self.class_names[name]}: TypeAlias = {expr}")
        for name, expr in aliases:
            if expr is None:
                lines.append("")
                lines.extend(self.render_class(name))
        lines.append("")
        return "\n".join(lines)

    def render_class(self, name: str) -> list[str]:
        cls = self.class_names[name]
        props = self.definitions[name].get("properties", {})
        fields = [(key, self.type_expr(props[key], name)) for key in sorted(props)]
        if all(key.isidentifier() and not keyword.iskeyword(key) for key, _ in fields):
            out = ["", f"class {cls}(TypedDict, total=False):", f'    """{name}"""', ""]
            out.extend(f"    {key}: {expr}" for key, expr in fields)
            return out
        # Keys such as ``continue``, ``from`` or ``$ref`` need the functional form; its values
        # are evaluated at import, so every type is written as a forward reference.
        out = ["", f"# {name}", f"{cls} = TypedDict(", f'    "{cls}",', "    {"]
        out.extend(f"        {json.dumps(key)}: {json.dumps(expr)}," for key, expr in fields)
        out.extend(["    },", "    total=False,", ")"])
        return out


# --- output ------------------------------------------------------------------------------------


def dump_json(data: Any) -> bytes:
    return (
        json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False) + "\n"
    ).encode()


def write_outputs(out_root: Path, openapi: Path, protobuf: Path) -> list[Path]:
    document = json.loads(openapi.read_text())
    proto = json.loads(protobuf.read_text())
    schema, unknown = build_schema(document, proto)
    for key in sorted(unknown):
        print(f"gen_schema: warning: keyword {key!r} is not carried over", file=sys.stderr)

    written: list[Path] = []
    schema_bytes = dump_json(schema)
    plain, zipped = out_root / SCHEMA_JSON, out_root / SCHEMA_JSON.with_suffix(".json.gz")
    plain.parent.mkdir(parents=True, exist_ok=True)
    if len(schema_bytes) > GZIP_THRESHOLD:
        zipped.write_bytes(gzip.compress(schema_bytes, compresslevel=9, mtime=0))
        plain.unlink(missing_ok=True)
        written.append(zipped)
    else:
        plain.write_bytes(schema_bytes)
        zipped.unlink(missing_ok=True)
        written.append(plain)

    (out_root / PROTOBUF_JSON).write_bytes(dump_json(proto))
    written.append(out_root / PROTOBUF_JSON)

    types_path = out_root / TYPES_PY
    types_path.parent.mkdir(parents=True, exist_ok=True)
    types_path.write_text(TypesWriter(schema["definitions"]).render())
    written.append(types_path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--openapi",
        type=Path,
        default=DEFAULT_INPUT_DIR / "openapi-v2.json",
        help="the Kubernetes OpenAPI v2 document (default: ../shared/k8s-api-1.32/openapi-v2.json)",
    )
    parser.add_argument(
        "--protobuf",
        type=Path,
        default=DEFAULT_INPUT_DIR / "protobuf-fields.json",
        help="the protobuf field table (default: ../shared/k8s-api-1.32/protobuf-fields.json)",
    )
    parser.add_argument(
        "--out-root",
        type=Path,
        default=REPO_ROOT,
        help="directory the src/... outputs are written under (default: the repository root)",
    )
    args = parser.parse_args(argv)
    try:
        written = write_outputs(args.out_root, args.openapi, args.protobuf)
    except (GenerationError, OSError, KeyError, ValueError) as exc:
        print(f"gen_schema: error: {exc}", file=sys.stderr)
        return 1
    for path in written:
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
