"""Decode the protobuf request bodies kubectl sends into the dicts the same JSON body would give.

kubectl's typed clients (``create secret|configmap|namespace|deployment|job|...``, ``create
token``, ``auth can-i``, ``auth whoami``) POST ``application/vnd.kubernetes.protobuf``: the magic
``k8s\\0``, then a ``runtime.Unknown`` whose ``typeMeta`` names the apiVersion and kind and whose
``raw`` holds the object in the field numbering of the 1.32 ``generated.proto`` files. This
module reads that wire format directly, driven by the field table of ``schema.protobuf_fields()``
(no generated code, no .proto compilation), and returns the JSON-shaped dict that the rest of the
server handles exactly like a decoded JSON body.

Invariants:

- Any input either decodes or raises ``BadRequest`` naming the problem (bad magic, truncated
  varint or field, wrong wire type, unknown kind, invalid embedded JSON); nothing else escapes.
- Keys are the JSON names: the proto name when the schema has it, else the schema property that
  differs only in case (``Webhooks``, ``uID``, ``aPIGroup``). A message field the schema does not
  name is a Go embedded struct (``json:",inline"``) and its fields are merged into the parent
  (``Volume.volumeSource``, ``Probe.handler``, ``EphemeralContainer.ephemeralContainerCommon``).
- Special types become their JSON forms: ``Time`` -> ``2006-01-02T15:04:05Z`` (seconds, as Go's
  decoder drops nanos), ``MicroTime`` -> RFC 3339 with microseconds, ``Quantity`` -> its string,
  ``IntOrString`` -> int or str, ``RawExtension`` / ``FieldsV1`` -> the parsed JSON (a nested
  ``k8s\\0`` object is decoded recursively), ``Duration`` -> Go's ``1h2m3s`` form, ``Verbs`` and
  ``ExtraValue`` -> lists, ``bytes`` -> base64 strings, map keys -> strings.
- Per message the field table is compiled once into a plan (``functools.cache``); decoding is one
  pass over the bytes with no intermediate objects.

Zero values. gogo's marshaller writes every non-pointer field, so a Secret arrives with
``generateName: ""``, ``generation: 0``, ``type: ""``; kept, they would stop defaults (``type:
Opaque``) from applying. A pointer field is written only when set, so its zero is the user's
choice (``replicas: 0``, ``automountServiceAccountToken: false``, ``storageClassName: ""``).
The proto2 label cannot tell the two apart -- ``generated.proto`` declares every singular field
``optional``, pointer or not -- so the rule is:

- a singular scalar (string, bytes, number, bool) whose value is zero is dropped, unless the Go
  field is a pointer (``_GO_POINTER_SCALARS``, read off the Go types of k8s.io/api and
  k8s.io/apimachinery v0.32.0) or the schema marks it required (Go's JSON always writes those:
  ``PriorityClass.value: 0``). Dropping a non-pointer zero loses nothing: Go itself cannot tell
  it from unset;
- a message present on the wire is kept even when empty (``strategy: {}``, ``emptyDir: {}``,
  ``selector: {}``): Go's JSON writes non-pointer structs too, and an empty pointer struct means
  something (an empty label selector selects everything, ``emptyDir: {}`` picks the volume type);
- a zero ``Time``/``MicroTime`` (empty message or the epoch) and an unset ``RawExtension`` or
  ``FieldsV1`` are dropped (Go writes ``null``);
- list elements and map values are never pruned (``labels: {"a": ""}`` is data); empty lists
  and maps cannot be encoded, so none are produced.
"""

from __future__ import annotations

import base64
import datetime
import functools
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import orjson

from kybernetes.api.errors import go_quote, new_bad_request
from kybernetes.api.schema import (
    TypeSchema,
    definition_for_kind,
    protobuf_fields,
    protobuf_message_for,
    schema,
)

__all__ = ["MAGIC", "MEDIA_TYPE", "decode_message", "decode_request", "go_duration"]

MEDIA_TYPE: Final = "application/vnd.kubernetes.protobuf"
MAGIC: Final = b"k8s\x00"

_UNKNOWN: Final = "k8s.io.apimachinery.pkg.runtime.Unknown"
_META: Final = "k8s.io.apimachinery.pkg.apis.meta.v1."
# A RawExtension may hold another k8s\0 object; bound that recursion.
_MAX_NESTING: Final = 16

# Scalar fields that Go declares as pointers (``*int32``, ``*bool``, ``*string``) in
# k8s.io/api and k8s.io/apimachinery v0.32.0, by proto field name. A bare name is a pointer in
# every message that has it as a scalar; otherwise the messages follow the colon, by short name
# or, where the short name means different Go types in different versions, group.version.Name.
_GO_POINTER_SCALARS: Final = """
aPIGroup activeDeadlineSeconds adminAccess allocateLoadBalancerNodePorts allowPrivilegeEscalation
allowVolumeExpansion appProtocol attachRequired automountServiceAccountToken averageUtilization
backoffLimit backoffLimitPerIndex blockOwnerDeletion bool borrowingLimitPercent cachingMode
collisionCount commonEncodingVersion completionMode completions currentAverageUtilization
currentCPUUtilizationPercentage currentVolumeAttributesClassName defaultMode
deletionGracePeriodSeconds dryRun enableServiceLinks endPort endpointsNamespace expirationSeconds
failedIndexes failedJobsHistoryLimit failurePolicy fsGroup fsGroupChangePolicy fsGroupPolicy
gmsaCredentialSpec gmsaCredentialSpecName gracePeriodSeconds holderIdentity hostProcess hostUsers
ignoreStoreReadErrorWithClusterBreakingPotential immutable ingressClassName initiatorName int
internalTrafficPolicy ipFamilyPolicy ipMode leaseDurationSeconds leaseTransitions lendablePercent
limitBytes loadBalancerClass localhostProfile managedBy manualSelector matchAttribute matchPolicy
maxFailedIndexes minDomains minReplicas mode mountPropagation nodeAffinityPolicy nodeTaintsPolicy
optional orphanDependents parallelism parameterNotFoundAction pathType persistentVolumeName
podInfoOnMount podReplacementPolicy preemptionPolicy preferredHolder priority privileged procMount
progressDeadlineSeconds propagationPolicy readOnlyRootFilesystem reclaimPolicy recursiveReadOnly
recursiveReadOnlyMounts remainingItemCount requiresRepublish resourceClaimName
resourceClaimTemplateName revisionHistoryLimit runAsGroup runAsNonRoot runAsUser runAsUserName
runtimeClassName seLinuxChangePolicy seLinuxMount secretNamespace selectPolicy sendInitialEvents
service serving setHostnameAsFQDN shareProcessNamespace sideEffects sinceSeconds
stabilizationWindowSeconds started startingDeadlineSeconds storageCapacity stream string
succeededCount succeededIndexes successfulJobsHistoryLimit supplementalGroupsPolicy suspend
tailLines targetAverageUtilization targetCPUUtilizationPercentage terminating
terminationGracePeriodSeconds timeZone tolerationSeconds trafficDistribution
ttlSecondsAfterFinished unhealthyPodEvictionPolicy url userNamespaces volumeAttributesClassName
volumeBindingMode volumeMode zone
apiGroup: TypedLocalObjectReference TypedObjectReference
containerName: PodFailurePolicyOnExitCodesRequirement
controller: OwnerReference
count: VolumeNodeResources
error: IngressPortStatus PortStatus
force: PatchOptions
fsType: AzureDiskVolumeSource CSIVolumeSource LocalVolumeSource
hostname: Endpoint
kind: AzureDiskVolumeSource
lun: FCVolumeSource
name: ClusterTrustBundleProjection discovery.v1.EndpointPort discovery.v1beta1.EndpointPort
namespace: IngressClassParametersReference TypedObjectReference
nodeName: Endpoint EndpointAddress
nominalConcurrencyShares: ExemptPriorityLevelConfiguration
  flowcontrol.v1.LimitedPriorityLevelConfiguration
observedGeneration: HorizontalPodAutoscalerStatus apps.v1beta1.StatefulSetStatus
partition: RollingUpdateStatefulSetStrategy
patchType: AdmissionResponse
path: ServiceReference
port: ServiceReference discovery.v1.EndpointPort discovery.v1beta1.EndpointPort
protocol: NetworkPolicyPort discovery.v1.EndpointPort discovery.v1beta1.EndpointPort
readOnly: AzureDiskVolumeSource CSIVolumeSource
ready: EndpointConditions JobStatus
reason: Validation
reinvocationPolicy: MutatingWebhook
replicas: DeploymentSpec ReplicaSetSpec ReplicationControllerSpec StatefulSetSpec
resourceVersion: Preconditions
restartPolicy: Container EphemeralContainerCommon
scope: IngressClassParametersReference Rule
signerName: ClusterTrustBundleProjection certificates.v1beta1.CertificateSigningRequestSpec
storageClassName: PersistentVolumeClaimSpec
strategy: LeaseSpec
timeoutSeconds: ClientIPConfig ListOptions MutatingWebhook ValidatingWebhook
type: HostPathVolumeSource
uid: Preconditions
value: PodDNSConfigOption
version: DeviceAttribute
"""


class _DecodeError(Exception):
    """Raised inside the decoder; ``decode_request`` turns it into a 400.

    Each message level it passes through records the field it was in, so the final message
    names the place: ``k8s.io.api.core.v1.Secret: truncated varint (in metadata.name)``.
    """

    def __init__(self, problem: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.path: list[str] = []  # innermost first
        self.message = ""

    def within(self, message: str, field: str | None) -> None:
        if field is not None:
            self.path.append(field)
        self.message = message

    def __str__(self) -> str:
        where = f" (in {'.'.join(reversed(self.path))})" if self.path else ""
        head = f"{self.message}: " if self.message else ""
        return f"{head}{self.problem}{where}"


# --- compiled plans ----------------------------------------------------------------------------

# Field kinds, as small ints so the hot loop compares ints.
_INT32, _INT64, _UINT32, _UINT64, _SINT32, _SINT64, _BOOL = range(7)
_DOUBLE, _FLOAT, _FIXED32, _FIXED64, _SFIXED32, _SFIXED64 = range(7, 13)
_STRING, _BYTES, _MESSAGE, _MAP = range(13, 17)

_SCALAR_KINDS: Final[Mapping[str, int]] = {
    "int32": _INT32, "int64": _INT64, "uint32": _UINT32, "uint64": _UINT64,
    "sint32": _SINT32, "sint64": _SINT64, "bool": _BOOL, "double": _DOUBLE, "float": _FLOAT,
    "fixed32": _FIXED32, "fixed64": _FIXED64, "sfixed32": _SFIXED32, "sfixed64": _SFIXED64,
    "string": _STRING, "bytes": _BYTES,
}  # fmt: skip

# Wire types.
_VARINT, _I64, _LEN, _I32 = 0, 1, 2, 5
_WIRE_NAMES: Final = {0: "varint", 1: "64-bit", 2: "length-delimited", 3: "start-group",
                      4: "end-group", 5: "32-bit"}  # fmt: skip
_VARINT_KINDS: Final = frozenset({_INT32, _INT64, _UINT32, _UINT64, _SINT32, _SINT64, _BOOL})
_I64_KINDS: Final = frozenset({_DOUBLE, _FIXED64, _SFIXED64})
_I32_KINDS: Final = frozenset({_FLOAT, _FIXED32, _SFIXED32})
_PACKABLE: Final = _VARINT_KINDS | _I64_KINDS | _I32_KINDS
_FIXED_FORMATS: Final[Mapping[int, struct.Struct]] = {
    _DOUBLE: struct.Struct("<d"), _FIXED64: struct.Struct("<Q"), _SFIXED64: struct.Struct("<q"),
    _FLOAT: struct.Struct("<f"), _FIXED32: struct.Struct("<I"), _SFIXED32: struct.Struct("<i"),
}  # fmt: skip
_EXPECTED_WIRE: Final[Mapping[int, int]] = {
    **dict.fromkeys(_VARINT_KINDS, _VARINT),
    **dict.fromkeys(_I64_KINDS, _I64),
    **dict.fromkeys(_I32_KINDS, _I32),
    _STRING: _LEN,
    _BYTES: _LEN,
    _MESSAGE: _LEN,
    _MAP: _LEN,
}

_MASK64: Final = (1 << 64) - 1

# (buf, start, end, nesting) -> JSON value; None means Go's JSON would write null.
_Special = Callable[[bytes, int, int, int], Any]


@dataclass(frozen=True, slots=True)
class _Field:
    name: str  # the JSON name
    number: int
    kind: int
    repeated: bool
    keep_zero: bool
    inline: bool
    message: str | None  # message type of a message field, or of a map's values
    key_kind: int  # maps only
    value_kind: int  # maps only
    context: str | None  # naming definition for an inline message that has none of its own


@dataclass(frozen=True, slots=True)
class _Plan:
    name: str
    fields: Mapping[int, _Field]
    special: _Special | None


def _kind_of(type_name: str) -> int:
    return _SCALAR_KINDS.get(type_name, _MESSAGE)


@functools.cache
def _pointer_scalars() -> Mapping[str, frozenset[str] | None]:
    table: dict[str, frozenset[str] | None] = {}
    name: str | None = None
    for line in _GO_POINTER_SCALARS.strip().splitlines():
        head, colon, tail = line.partition(":")
        if colon:
            name = head.strip()
            table[name] = frozenset(tail.split())
        elif line.startswith(" ") and name is not None:
            table[name] = (table[name] or frozenset()) | frozenset(line.split())
        else:
            name = None
            table.update(dict.fromkeys(line.split()))
    return table


def _is_pointer(message: str, field: str) -> bool:
    table = _pointer_scalars()
    if field not in table:
        return False
    messages = table[field]
    if messages is None:
        return True
    parts = message.rsplit(".", 3)
    return parts[-1] in messages or ".".join(parts[-3:]) in messages


@functools.cache
def _definitions_by_message() -> Mapping[str, TypeSchema]:
    out: dict[str, TypeSchema] = {}
    for name, ts in schema().definitions.items():
        message = protobuf_message_for(name)
        if message is not None:
            out[message.name] = ts
    return out


def _special_for(message: str) -> _Special | None:
    special = _SPECIALS.get(message)
    if special is None and message.endswith(".ExtraValue"):
        special = _string_items
    return special


@functools.cache
def _plan(message: str, context: str | None) -> _Plan:
    proto = protobuf_fields().get(message)
    if proto is None:
        raise _DecodeError(f"no protobuf message {message} in the field table")
    special = _special_for(message)
    if special is not None:
        return _Plan(message, {}, special)
    definitions = _definitions_by_message()
    naming = definitions.get(message)
    if naming is None and context is not None:
        naming = schema().definitions.get(context)
    props: Mapping[str, Any] = naming.fields if naming is not None else {}
    required = frozenset(naming.required) if naming is not None else frozenset()
    by_lower = {p.lower(): p for p in props}
    fields: dict[int, _Field] = {}
    for pf in proto.fields.values():
        if pf.map_key is not None and pf.map_value is not None:
            kind, target = _MAP, None
            value_kind = _kind_of(pf.map_value)
            if value_kind == _MESSAGE:
                target = pf.map_value
            key_kind = _kind_of(pf.map_key)
        else:
            kind, target, key_kind, value_kind = _kind_of(pf.type), pf.message, 0, 0
        json_name = pf.name if pf.name in props else by_lower.get(pf.name.lower())
        inline = False
        child_context = None
        if json_name is None:
            json_name = pf.name
            if kind == _MESSAGE and not pf.repeated and target and _is_embedded(target, by_lower):
                inline = True
                if target not in definitions and naming is not None:
                    child_context = naming.name
        fields[pf.number] = _Field(
            name=json_name,
            number=pf.number,
            kind=kind,
            repeated=pf.repeated,
            keep_zero=json_name in required or _is_pointer(message, pf.name),
            inline=inline,
            message=target,
            key_kind=key_kind,
            value_kind=value_kind,
            context=child_context,
        )
    return _Plan(message, fields, None)


def _is_embedded(message: str, parent_props_lower: Mapping[str, str]) -> bool:
    """A message field that the parent's schema does not name is a Go embedded struct when the
    parent's schema has (some of) the embedded message's own fields."""
    proto = protobuf_fields().get(message)
    if proto is None or not parent_props_lower:
        return False
    return any(name.lower() in parent_props_lower for name in proto.fields)


# --- the wire ----------------------------------------------------------------------------------


def _varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    result = 0
    shift = 0
    while pos < end:
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & _MASK64, pos
        shift += 7
        if shift >= 70:
            raise _DecodeError("varint is longer than 10 bytes")
    raise _DecodeError("truncated varint")


def _length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The bounds of a length-delimited value whose length prefix starts at ``pos``."""
    size, pos = _varint(buf, pos, end)
    stop = pos + size
    if stop > end:
        raise _DecodeError(f"length {size} runs past the end of the enclosing message")
    return pos, stop


def _skip(buf: bytes, pos: int, end: int, wire: int, number: int) -> int:
    """Skip an unknown field, as Go does: fields added after 1.32 are ignored."""
    if number == 0:
        raise _DecodeError("illegal field number 0")
    if wire == _VARINT:
        return _varint(buf, pos, end)[1]
    if wire == _LEN:
        return _length(buf, pos, end)[1]
    if wire in (_I64, _I32):
        stop = pos + (8 if wire == _I64 else 4)
        if stop > end:
            raise _DecodeError(f"truncated {_WIRE_NAMES[wire]} value of field {number}")
        return stop
    raise _DecodeError(
        f"field {number} has unsupported wire type {wire} ({_WIRE_NAMES.get(wire, 'invalid')})"
    )


def _signed(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _from_varint(kind: int, raw: int) -> int | bool:
    if kind == _INT64:
        return _signed(raw, 64)
    if kind == _INT32:
        return _signed(raw, 32)
    if kind == _BOOL:
        return raw != 0
    if kind == _UINT32:
        return raw & 0xFFFFFFFF
    if kind == _UINT64:
        return raw
    if kind == _SINT32:
        raw &= 0xFFFFFFFF
    return (raw >> 1) ^ -(raw & 1)  # zigzag


def _wire_error(field: _Field, wire: int) -> _DecodeError:
    expected = _EXPECTED_WIRE[field.kind]
    return _DecodeError(
        f"field {field.number} has wire type {wire} ({_WIRE_NAMES.get(wire, 'invalid')}), "
        f"expected {expected} ({_WIRE_NAMES[expected]})"
    )


def _text(buf: bytes, start: int, stop: int) -> str:
    # Go keeps invalid UTF-8 and its JSON encoder writes U+FFFD for it; do the same up front.
    return buf[start:stop].decode("utf-8", "replace")


def _decode_into(
    plan: _Plan, buf: bytes, pos: int, end: int, out: dict[str, Any], nesting: int
) -> None:
    fields = plan.fields
    field: _Field | None = None
    try:
        while pos < end:
            field = None
            tag = buf[pos]
            if tag < 0x80:
                pos += 1
            else:
                tag, pos = _varint(buf, pos, end)
            wire = tag & 7
            field = fields.get(tag >> 3)
            if field is None:
                pos = _skip(buf, pos, end, wire, tag >> 3)
                continue
            kind = field.kind
            value: Any
            if wire == _LEN:
                start, pos = _length(buf, pos, end)
                if kind == _STRING:
                    value = _text(buf, start, pos)
                elif kind == _MESSAGE:
                    _message_field(field, buf, start, pos, out, nesting)
                    continue
                elif kind == _MAP:
                    _map_entry(field, buf, start, pos, out, nesting)
                    continue
                elif kind == _BYTES:
                    value = base64.b64encode(buf[start:pos]).decode("ascii")
                elif field.repeated and kind in _PACKABLE:
                    out.setdefault(field.name, []).extend(_packed(field, buf, start, pos))
                    continue
                else:
                    raise _wire_error(field, wire)
            elif wire == _VARINT:
                if kind not in _VARINT_KINDS:
                    raise _wire_error(field, wire)
                raw, pos = _varint(buf, pos, end)
                value = _from_varint(kind, raw)
            elif wire in (_I64, _I32) and _EXPECTED_WIRE[kind] == wire:
                value, pos = _fixed(kind, buf, pos, end)
            else:
                raise _wire_error(field, wire)
            if field.repeated:
                out.setdefault(field.name, []).append(value)
            elif value or field.keep_zero:
                out[field.name] = value
            else:
                out.pop(field.name, None)
    except _DecodeError as exc:
        exc.within(plan.name, field.name if field is not None else None)
        raise


def _fixed(kind: int, buf: bytes, pos: int, end: int) -> tuple[Any, int]:
    fmt = _FIXED_FORMATS[kind]
    if pos + fmt.size > end:
        raise _DecodeError(f"truncated {fmt.size * 8}-bit value")
    return fmt.unpack_from(buf, pos)[0], pos + fmt.size


def _packed(field: _Field, buf: bytes, pos: int, end: int) -> list[Any]:
    kind = field.kind
    if kind in _VARINT_KINDS:
        values: list[Any] = []
        while pos < end:
            raw, pos = _varint(buf, pos, end)
            values.append(_from_varint(kind, raw))
        return values
    fmt = _FIXED_FORMATS[kind]
    if (end - pos) % fmt.size:
        raise _DecodeError(f"packed field length {end - pos} is not a multiple of {fmt.size}")
    return [item[0] for item in fmt.iter_unpack(buf[pos:end])]


def _message_field(
    field: _Field, buf: bytes, start: int, stop: int, out: dict[str, Any], nesting: int
) -> None:
    sub = _plan(field.message or "", field.context)
    if sub.special is not None:
        value = sub.special(buf, start, stop, nesting)
        if field.repeated:
            out.setdefault(field.name, []).append(value)
        elif value is None or (value == [] and not field.keep_zero):
            out.pop(field.name, None)
        else:
            out[field.name] = value
    elif field.inline:
        _decode_into(sub, buf, start, stop, out, nesting)
    elif field.repeated:
        child: dict[str, Any] = {}
        _decode_into(sub, buf, start, stop, child, nesting)
        out.setdefault(field.name, []).append(child)
    else:
        # A singular message that occurs twice is merged, as protobuf specifies.
        existing = out.get(field.name)
        target: dict[str, Any] = existing if type(existing) is dict else {}
        out[field.name] = target
        _decode_into(sub, buf, start, stop, target, nesting)


def _map_entry(
    field: _Field, buf: bytes, pos: int, end: int, out: dict[str, Any], nesting: int
) -> None:
    key: Any = _zero(field.key_kind)
    value: Any = None
    have_value = False
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if number not in (1, 2):
            pos = _skip(buf, pos, end, wire, number)
            continue
        kind = field.key_kind if number == 1 else field.value_kind
        if wire != _EXPECTED_WIRE[kind]:
            raise _DecodeError(
                f"map {'key' if number == 1 else 'value'} has wire type {wire}, "
                f"expected {_EXPECTED_WIRE[kind]}"
            )
        item: Any
        if wire == _LEN:
            start, pos = _length(buf, pos, end)
            if kind == _STRING:
                item = _text(buf, start, pos)
            elif kind == _BYTES:
                item = base64.b64encode(buf[start:pos]).decode("ascii")
            else:
                item = _map_message(field, buf, start, pos, nesting)
        elif wire == _VARINT:
            raw, pos = _varint(buf, pos, end)
            item = _from_varint(kind, raw)
        else:
            item, pos = _fixed(kind, buf, pos, end)
        if number == 1:
            key = item
        else:
            value, have_value = item, True
    if not have_value:
        value = (
            _map_message(field, b"", 0, 0, nesting)
            if field.value_kind == _MESSAGE
            else _zero(field.value_kind)
        )
    if type(key) is bool:
        key = "true" if key else "false"
    out.setdefault(field.name, {})[str(key)] = value


def _map_message(field: _Field, buf: bytes, start: int, stop: int, nesting: int) -> Any:
    sub = _plan(field.message or "", None)
    if sub.special is not None:
        return sub.special(buf, start, stop, nesting)
    child: dict[str, Any] = {}
    _decode_into(sub, buf, start, stop, child, nesting)
    return child


def _zero(kind: int) -> Any:
    if kind in (_STRING, _BYTES):
        return ""
    if kind == _BOOL:
        return False
    if kind in (_DOUBLE, _FLOAT):
        return 0.0
    return 0


# --- special types -----------------------------------------------------------------------------


def _scan(
    buf: bytes, pos: int, end: int, what: str, wires: Mapping[int, int]
) -> dict[int, list[int | bytes]]:
    """The fields of a small fixed-shape message: number -> values (ints or bytes)."""
    found: dict[int, list[int | bytes]] = {}
    while pos < end:
        tag, pos = _varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        expected = wires.get(number)
        if expected is None:
            pos = _skip(buf, pos, end, wire, number)
            continue
        if wire != expected:
            raise _DecodeError(f"{what} field {number} has wire type {wire}, expected {expected}")
        item: int | bytes
        if wire == _VARINT:
            item, pos = _varint(buf, pos, end)
        else:
            start, pos = _length(buf, pos, end)
            item = buf[start:pos]
        found.setdefault(number, []).append(item)
    return found


def _last_int(found: Mapping[int, list[int | bytes]], number: int, bits: int) -> int:
    values = found.get(number)
    if not values or isinstance(values[-1], bytes):
        return 0
    return _signed(values[-1], bits)


def _last_bytes(found: Mapping[int, list[int | bytes]], number: int) -> bytes | None:
    values = found.get(number)
    if not values or not isinstance(values[-1], bytes):
        return None
    return values[-1]


_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)
_TIME_WIRES: Final = {1: _VARINT, 2: _VARINT}


def _instant(seconds: int, micros: int, what: str) -> datetime.datetime:
    try:
        return _EPOCH + datetime.timedelta(seconds=seconds, microseconds=micros)
    except OverflowError:
        raise _DecodeError(f"{what}: {seconds} seconds is out of range") from None


def _time(buf: bytes, start: int, stop: int, nesting: int) -> str | None:
    found = _scan(buf, start, stop, "Time", _TIME_WIRES)
    seconds = _last_int(found, 1, 64)
    if seconds == 0:
        return None  # the zero time (an empty message) or the epoch: unset
    # Go's Time.Unmarshal drops nanos (its JSON form has whole seconds only).
    t = _instant(seconds, 0, "Time")
    return f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}Z"


def _micro_time(buf: bytes, start: int, stop: int, nesting: int) -> str | None:
    found = _scan(buf, start, stop, "MicroTime", _TIME_WIRES)
    seconds, nanos = _last_int(found, 1, 64), _last_int(found, 2, 32)
    if seconds == 0 and nanos == 0:
        return None
    micros = abs(nanos) // 1000 * (1 if nanos >= 0 else -1)  # Go truncates toward zero
    t = _instant(seconds, micros, "MicroTime")
    return (
        f"{t.year:04d}-{t.month:02d}-{t.day:02d}T{t.hour:02d}:{t.minute:02d}:{t.second:02d}"
        f".{t.microsecond:06d}Z"
    )


def _quantity(buf: bytes, start: int, stop: int, nesting: int) -> str:
    raw = _last_bytes(_scan(buf, start, stop, "Quantity", {1: _LEN}), 1)
    # A Quantity without its string is the zero quantity, which Go writes as "0". The string
    # itself is checked where JSON quantities are, so both encodings fail the same way.
    return "0" if raw is None else raw.decode("utf-8", "replace")


def _int_or_string(buf: bytes, start: int, stop: int, nesting: int) -> int | str:
    found = _scan(buf, start, stop, "IntOrString", {1: _VARINT, 2: _VARINT, 3: _LEN})
    kind = _last_int(found, 1, 64)
    if kind == 0:
        return _last_int(found, 2, 32)
    if kind == 1:
        raw = _last_bytes(found, 3)
        return "" if raw is None else raw.decode("utf-8", "replace")
    raise _DecodeError(f"IntOrString: invalid type {kind} (0 is int, 1 is string)")


def _embedded_json(raw: bytes, what: str, nesting: int) -> Any:
    if raw.startswith(MAGIC):
        if nesting >= _MAX_NESTING:
            raise _DecodeError(f"{what}: objects nested more than {_MAX_NESTING} deep")
        return _decode_unknown(raw, nesting + 1)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise _DecodeError(f"{what}: embedded object is not valid JSON: {exc}") from None


def _raw_extension(buf: bytes, start: int, stop: int, nesting: int) -> Any:
    raw = _last_bytes(_scan(buf, start, stop, "RawExtension", {1: _LEN}), 1)
    return None if not raw else _embedded_json(raw, "RawExtension", nesting)


def _fields_v1(buf: bytes, start: int, stop: int, nesting: int) -> Any:
    raw = _last_bytes(_scan(buf, start, stop, "FieldsV1", {1: _LEN}), 1)
    return None if not raw else _embedded_json(raw, "FieldsV1", nesting)


def _duration(buf: bytes, start: int, stop: int, nesting: int) -> str:
    return go_duration(_last_int(_scan(buf, start, stop, "Duration", {1: _VARINT}), 1, 64))


def _string_items(buf: bytes, start: int, stop: int, nesting: int) -> list[str]:
    found = _scan(buf, start, stop, "string list", {1: _LEN})
    return [item.decode("utf-8", "replace") for item in found.get(1, ()) if isinstance(item, bytes)]


_SPECIALS: Final[Mapping[str, _Special]] = {
    _META + "Time": _time,
    _META + "MicroTime": _micro_time,
    _META + "FieldsV1": _fields_v1,
    _META + "Duration": _duration,
    _META + "Verbs": _string_items,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": _quantity,
    "k8s.io.apimachinery.pkg.api.resource.QuantityValue": _quantity,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw_extension,
}


def go_duration(nanoseconds: int) -> str:
    """Format a duration as Go's ``time.Duration.String`` does (``1h2m3.5s``, ``1.5ms``)."""
    if nanoseconds == 0:
        return "0s"
    sign = "-" if nanoseconds < 0 else ""
    n = abs(nanoseconds)
    if n < 1_000:
        return f"{sign}{n}ns"
    if n < 1_000_000:
        return f"{sign}{_decimal(n, 3)}\u00b5s"
    if n < 1_000_000_000:
        return f"{sign}{_decimal(n, 6)}ms"
    minutes, rest = divmod(n, 60 * 1_000_000_000)
    hours, minutes = divmod(minutes, 60)
    seconds = _decimal(rest, 9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return f"{sign}{seconds}"


def _decimal(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10**digits)
    text = f"{frac:0{digits}d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


# --- entry points ------------------------------------------------------------------------------


_ENVELOPE_WIRES: Final = {1: _LEN, 2: _LEN, 3: _LEN, 4: _LEN}
_TYPE_META_WIRES: Final = {1: _LEN, 2: _LEN}


def _string_at(found: Mapping[int, list[int | bytes]], number: int) -> str:
    raw = _last_bytes(found, number)
    return "" if raw is None else raw.decode("utf-8", "replace")


def _decode_unknown(body: bytes, nesting: int) -> dict[str, Any]:
    """Decode ``k8s\\0`` + ``runtime.Unknown{typeMeta, raw, contentEncoding, contentType}``.

    Like Go's protobuf serializer, contentEncoding and contentType are not consulted: ``raw``
    is always the protobuf form of the kind that ``typeMeta`` names.
    """
    envelope = _scan(body, len(MAGIC), len(body), "runtime.Unknown", _ENVELOPE_WIRES)
    type_meta_raw = _last_bytes(envelope, 1) or b""
    type_meta = _scan(type_meta_raw, 0, len(type_meta_raw), "runtime.TypeMeta", _TYPE_META_WIRES)
    api_version, kind = _string_at(type_meta, 1), _string_at(type_meta, 2)
    described = f"runtime.TypeMeta{{APIVersion:{go_quote(api_version)}, Kind:{go_quote(kind)}}}"
    if not kind:
        raise _DecodeError(f"Object 'Kind' is missing in '{described}'")
    if not api_version:
        raise _DecodeError(f"Object 'apiVersion' is missing in '{described}'")
    return _decode_object(api_version, kind, _last_bytes(envelope, 2) or b"", nesting)


def _decode_object(api_version: str, kind: str, raw: bytes, nesting: int) -> dict[str, Any]:
    group, _, version = api_version.rpartition("/")
    definition = definition_for_kind(group, version, kind)
    message = protobuf_message_for(definition.name) if definition is not None else None
    if message is None:
        raise _DecodeError(
            f"no kind {go_quote(kind)} is registered for version {go_quote(api_version)}"
        )
    out: dict[str, Any] = {"apiVersion": api_version, "kind": kind}
    _decode_into(_plan(message.name, None), raw, 0, len(raw), out, nesting)
    return out


def decode_request(body: bytes) -> dict[str, Any]:
    """Decode an ``application/vnd.kubernetes.protobuf`` request body into the object's dict.

    The result carries ``apiVersion`` and ``kind`` from the envelope. Raises ``BadRequest``
    (400) for any body that is not a well-formed protobuf object of a built-in kind.
    """
    if not body:
        raise new_bad_request("empty data")
    if not body.startswith(MAGIC):
        raise new_bad_request(
            "provided data does not appear to be a protobuf message, expected prefix "
            f"[{' '.join(str(b) for b in MAGIC)}]"
        )
    if len(body) == len(MAGIC):
        raise new_bad_request("empty body")
    try:
        return _decode_unknown(bytes(body), 0)
    except _DecodeError as exc:
        raise new_bad_request(f"unable to decode protobuf body: {exc}") from None


def decode_message(message: str, data: bytes) -> dict[str, Any]:
    """Decode ``data`` as the protobuf message ``message`` (``k8s.io.api.core.v1.Pod``) by the
    rules of ``decode_request``, without the envelope and without ``apiVersion``/``kind``."""
    if message not in protobuf_fields():
        raise new_bad_request(f"unknown protobuf message {go_quote(message)}")
    plan = _plan(message, None)
    if plan.special is not None:
        raise new_bad_request(f"{message} has no object form in JSON")
    out: dict[str, Any] = {}
    try:
        _decode_into(plan, bytes(data), 0, len(data), out, 0)
    except _DecodeError as exc:
        raise new_bad_request(f"unable to decode protobuf body: {exc}") from None
    return out
