"""AWS CloudTrail events that touch secrets: Secrets Manager, KMS and SSM Parameter Store.

CloudTrail arrives in two shapes and the parser takes both:

- one event per record, as Vector, Fluent Bit or an EventBridge rule deliver them (an
  EventBridge envelope ``{"detail-type": ..., "detail": {...}}`` is unwrapped);
- CloudTrail's own log file ``{"Records": [...]}`` (decompressed by the runtime), where one
  document holds many events; records wrapped with extra keys by forwarders (Datadog's
  ``aws``, ``evt``, ``network``, ``http``) work too.

Only calls that read, list, write or delete secrets, or use a KMS key to get plaintext, become
events (see :data:`CALLS`); everything else CloudTrail records is out of scope. The values of
secrets never appear in CloudTrail, and ``responseElements`` is never read into an event.

How fields map (beyond the design's table):

- ``identity`` is the role ARN for an ``AssumedRole`` (``sessionContext.sessionIssuer.arn``),
  because sessions change with every instance, invocation or login while the role does not;
  ``identity_name`` keeps the session ARN. Others: ``arn``, else ``principalId``,
  ``invokedBy``, ``userName``, else ``<type>@<account>``.
- ``client_ip`` is ``sourceIPAddress`` only when it is an address. An AWS service calling on
  the principal's behalf (``invokedBy``, or a source such as ``secretsmanager.amazonaws.com``
  or ``AWS Internal``) makes the event ``internal``.
- ``resource`` is the secret id or parameter name as the caller wrote it (name or ARN), the
  KMS key ARN for KMS calls; ``resources`` lists every one for batch calls. A discovery call
  that names nothing has :data:`ANY_RESOURCE`; a call logged without its parameters
  (throttled) has :data:`UNKNOWN_RESOURCE`.
- ``metadata`` (strings only): ``accountId``, ``awsRegion``, ``mfaAuthenticated``,
  ``sessionName``, and where present ``recipientAccountId`` (when another account's secret is
  read), ``vpcEndpointId``, ``invokedBy``, ``sourceIPAddress`` (when not an address),
  ``withDecryption`` (SSM), ``contextArn`` (the secret a KMS call's encryption context
  names) and ``filters`` (ListSecrets, BatchGetSecretValue, DescribeParameters).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from functools import lru_cache
from ipaddress import ip_address

import orjson

from detector.errors import ParseError
from detector.event import DENIED, ERROR, OK, AccessEvent
from detector.parsers.base import Ignored, ParserOutputs, Rejected
from detector.parsers.timestamps import parse_timestamp

__all__ = ["ACTIONS", "ANY_RESOURCE", "CALLS", "UNKNOWN_RESOURCE", "CloudTrailParser", "Rejected"]

#: The actions a CloudTrail event can have: ``read`` returns a secret value, ``list`` and
#: ``read-metadata`` discover secrets without their values, ``decrypt`` uses a KMS key to get
#: plaintext (Decrypt, GenerateDataKey*, ReEncrypt*), ``write``/``delete`` change secrets.
READ, LIST, READ_METADATA, WRITE, DELETE, DECRYPT = (
    "read",
    "list",
    "read-metadata",
    "write",
    "delete",
    "decrypt",
)
ACTIONS = (READ, LIST, READ_METADATA, WRITE, DELETE, DECRYPT)

#: The resource of a discovery call that names no secret (ListSecrets, a filtered batch).
ANY_RESOURCE = "*"
#: The resource of a call whose parameters CloudTrail left out (throttled or failed calls
#: are logged with ``requestParameters: null``).
UNKNOWN_RESOURCE = "(unknown)"

_MAX_TEXT = 200
_MAX_USER_AGENT = 512  # Terraform adds a long tail (Stratus tags runs there)
_DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "UnauthorizedAccess",
        "UnauthorizedException",
    }
)
# Encryption-context keys that name the secret a KMS call protects (SSM, Secrets Manager).
_CONTEXT_SECRET_KEYS = ("PARAMETER_ARN", "SecretARN")
# Strings and brackets of a JSON text: enough to find whole objects in a broken document.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[{}\[\]]')


# -- which calls are secret access, and what they touched --------------------------------

_Extract = Callable[[dict, dict], list[str]]


def _secret_id(params: dict, item: dict) -> list[str]:
    return _strings([params.get("secretId")])


def _secret_name(params: dict, item: dict) -> list[str]:
    return _strings([params.get("name")])


def _secret_batch(params: dict, item: dict) -> list[str]:
    # BatchGetSecretValue names secrets (secretIdList) or selects them with filters.
    return _strings(params.get("secretIdList")) or [ANY_RESOURCE]


def _everything(params: dict, item: dict) -> list[str]:
    return [ANY_RESOURCE]


def _parameter_name(params: dict, item: dict) -> list[str]:
    return _strings([params.get("name")])


def _parameter_names(params: dict, item: dict) -> list[str]:
    return _strings(params.get("names"))


def _parameter_path(params: dict, item: dict) -> list[str]:
    return _strings([params.get("path")])


def _kms_key(params: dict, item: dict) -> list[str]:
    # The key ARN CloudTrail resolved is better than the alias or id the caller passed.
    keys = []
    for entry in item.get("resources") or ():
        arn = _text(entry.get("ARN") or entry.get("arn")) if isinstance(entry, dict) else ""
        if ":kms:" in arn:
            keys.append(arn)
    if keys:
        return keys
    keys = _strings(
        [params.get("keyId"), params.get("sourceKeyId"), params.get("destinationKeyId")]
    )
    return keys or _strings([_context_arn(params)])


_SECRETS, _KMS, _SSM = "secretsmanager", "kms", "ssm"

#: ``(eventSource, eventName) -> (mount, action, resource extractor)`` for every call kept.
CALLS: dict[tuple[str, str], tuple[str, str, _Extract]] = {
    ("secretsmanager.amazonaws.com", "GetSecretValue"): (_SECRETS, READ, _secret_id),
    ("secretsmanager.amazonaws.com", "BatchGetSecretValue"): (_SECRETS, READ, _secret_batch),
    ("secretsmanager.amazonaws.com", "ListSecrets"): (_SECRETS, LIST, _everything),
    ("secretsmanager.amazonaws.com", "DescribeSecret"): (_SECRETS, READ_METADATA, _secret_id),
    ("secretsmanager.amazonaws.com", "CreateSecret"): (_SECRETS, WRITE, _secret_name),
    ("secretsmanager.amazonaws.com", "PutSecretValue"): (_SECRETS, WRITE, _secret_id),
    ("secretsmanager.amazonaws.com", "UpdateSecret"): (_SECRETS, WRITE, _secret_id),
    ("secretsmanager.amazonaws.com", "RestoreSecret"): (_SECRETS, WRITE, _secret_id),
    ("secretsmanager.amazonaws.com", "DeleteSecret"): (_SECRETS, DELETE, _secret_id),
    ("kms.amazonaws.com", "Decrypt"): (_KMS, DECRYPT, _kms_key),
    ("kms.amazonaws.com", "GenerateDataKey"): (_KMS, DECRYPT, _kms_key),
    ("kms.amazonaws.com", "GenerateDataKeyWithoutPlaintext"): (_KMS, DECRYPT, _kms_key),
    ("kms.amazonaws.com", "GenerateDataKeyPair"): (_KMS, DECRYPT, _kms_key),
    ("kms.amazonaws.com", "GenerateDataKeyPairWithoutPlaintext"): (_KMS, DECRYPT, _kms_key),
    ("kms.amazonaws.com", "ReEncrypt"): (_KMS, DECRYPT, _kms_key),
    ("ssm.amazonaws.com", "GetParameter"): (_SSM, READ, _parameter_name),
    ("ssm.amazonaws.com", "GetParameters"): (_SSM, READ, _parameter_names),
    ("ssm.amazonaws.com", "GetParametersByPath"): (_SSM, READ, _parameter_path),
    # GetParameterHistory returns every past value: as good as GetParameter to a thief.
    ("ssm.amazonaws.com", "GetParameterHistory"): (_SSM, READ, _parameter_name),
    ("ssm.amazonaws.com", "DescribeParameters"): (_SSM, LIST, _everything),
    ("ssm.amazonaws.com", "PutParameter"): (_SSM, WRITE, _parameter_name),
    ("ssm.amazonaws.com", "DeleteParameter"): (_SSM, DELETE, _parameter_name),
    ("ssm.amazonaws.com", "DeleteParameters"): (_SSM, DELETE, _parameter_names),
}


class CloudTrailParser(ParserOutputs):
    """Parser for AWS CloudTrail events, one per record or a whole ``Records`` file.

    A single event that is not secret access raises :class:`Ignored`
    (``"cloudtrail <service> <eventName>"``) and a malformed one raises
    :class:`ParseError`, as the :class:`Parser` protocol says. A ``Records`` file holds
    thousands of events, and one bad record must not cost the others, so for a file
    :meth:`parse` returns the kept events and never raises per record. Instead:

    - records out of scope are counted in :attr:`ignored` (a ``Counter`` keyed by the same
      reason an :class:`Ignored` would carry);
    - malformed records are kept in :attr:`rejected` as :class:`Rejected` values.

    The runtime drains both after each call, next to :meth:`drain_notices`::

        try:
            events = parser.parse(record)
        except Ignored as exc:
            ignored[exc.reason] += 1
        except ParseError as exc:
            dead_letter(exc.reason, exc.detail, record)
        ignored.update(parser.drain_ignored())
        for rejected in parser.drain_rejected():
            dead_letter(rejected.reason, rejected.detail, rejected.record)

    A ``Records`` file that is not valid JSON (a truncated download, a broken export) is
    salvaged: every complete record in it is parsed, and the file itself becomes one
    :class:`Rejected` entry with reason ``"not JSON"``. Only when nothing can be salvaged
    does :meth:`parse` raise.

    Parameters
    ----------
    max_rejected_bytes
        A rejected record's JSON is cut at this many bytes, so a broken multi-megabyte
        file does not become a multi-megabyte dead letter.

    Examples
    --------
    >>> parser = CloudTrailParser()
    >>> event = parser.parse(
    ...     b'{"eventID": "e1", "eventTime": "2023-07-10T11:57:50Z",'
    ...     b' "eventSource": "secretsmanager.amazonaws.com", "eventName": "GetSecretValue",'
    ...     b' "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::1:user/ana"},'
    ...     b' "sourceIPAddress": "192.0.2.7", "requestParameters": {"secretId": "prod/db"}}'
    ... )[0]
    >>> event.identity, event.action, event.resource, event.client_ip
    ('arn:aws:iam::1:user/ana', 'read', 'prod/db', '192.0.2.7')
    """

    name = "cloudtrail"

    def __init__(self, max_rejected_bytes: int = 65_536) -> None:
        super().__init__()
        self.max_rejected_bytes = max_rejected_bytes

    # -- the Parser protocol ------------------------------------------------------------

    def parse(self, record: bytes) -> list[AccessEvent]:
        document = self._decode(record)
        if isinstance(document, list):
            return self._parse_records(document)
        if not isinstance(document, dict):
            raise ParseError("not a JSON object", type(document).__name__)
        records = document.get("Records")
        if records is not None:
            if not isinstance(records, list):
                raise ParseError("wrong type for Records", type(records).__name__)
            return self._parse_records(records)
        if "digestStartTime" in document:
            # CloudTrail writes digest files next to the logs; a directory read picks them up.
            raise Ignored("cloudtrail digest file")
        return [self._event(document)]

    def flush(self, final: bool = False, now: float | None = None) -> list[AccessEvent]:
        # Every CloudTrail event is complete on its own: nothing is held back.
        return []

    def _decode(self, record: bytes) -> object:
        try:
            return orjson.loads(record)
        except orjson.JSONDecodeError as exc:
            problem = str(exc)[:120]
        records = _salvage(record) if b'"Records"' in record[:4096] else []
        if not records:
            raise ParseError("not JSON", problem)
        self.rejected.append(
            Rejected(
                "not JSON",
                f"{problem}; salvaged {len(records)} records",
                record[: self.max_rejected_bytes],
            )
        )
        return records

    def _parse_records(self, records: list) -> list[AccessEvent]:
        if not records:
            raise Ignored("no records")  # counted: a file or line with nothing in it
        events = []
        for item in records:
            try:
                events.append(self._event(item))
            except Ignored as exc:
                self.ignored[exc.reason] += 1
            except ParseError as exc:
                self.rejected.append(Rejected(exc.reason, exc.detail, self._snippet(item)))
        return events

    def _snippet(self, item: object) -> bytes:
        if isinstance(item, bytes):
            return item[: self.max_rejected_bytes]
        try:
            return orjson.dumps(item)[: self.max_rejected_bytes]
        except TypeError:
            return repr(item).encode()[: self.max_rejected_bytes]

    # -- building one event ------------------------------------------------------------

    def _event(self, item: object) -> AccessEvent:
        if isinstance(item, bytes):  # a salvaged record that still is not JSON
            raise ParseError("not JSON", item[:64].decode("utf-8", "replace"))
        if not isinstance(item, dict):
            raise ParseError("cloudtrail record is not a JSON object", type(item).__name__)
        if "detail-type" in item and isinstance(item.get("detail"), dict):
            item = item["detail"]  # an EventBridge envelope
        source, name = item.get("eventSource"), item.get("eventName")
        if not isinstance(source, str) or not isinstance(name, str):
            raise _missing_call(source, name)
        call = CALLS.get((source, name))
        if call is None:
            raise Ignored(_ignored_reason(source, name))
        try:
            return _build(item, call)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ParseError(
                "cloudtrail record with fields of the wrong type", str(exc)[:120]
            ) from None


def _build(item: dict, call: tuple[str, str, _Extract]) -> AccessEvent:
    mount, action, extract = call
    if "eventTime" not in item or item["eventTime"] is None:
        raise ParseError("cloudtrail record without eventTime")
    if not isinstance(item["eventTime"], str):
        raise ParseError("wrong type for eventTime", type(item["eventTime"]).__name__)
    time = parse_timestamp(item["eventTime"])
    user = item.get("userIdentity")
    if user is None:
        raise ParseError("cloudtrail record without userIdentity")
    if not isinstance(user, dict):
        raise ParseError("wrong type for userIdentity", type(user).__name__)
    params = item.get("requestParameters")
    if params is None:
        params = {}
    elif not isinstance(params, dict):
        raise ParseError("wrong type for requestParameters", type(params).__name__)
    error_code = item.get("errorCode")
    if error_code is not None and not isinstance(error_code, str):
        raise ParseError("wrong type for errorCode", type(error_code).__name__)

    identity, identity_name, kind = _identity(user, item)
    invoked_by = _text(user.get("invokedBy"))
    source_address = item.get("sourceIPAddress")
    if not isinstance(source_address, str) or not source_address:
        source_address = _forwarded_client_ip(item)
    client_ip = source_address if source_address and _is_ip(source_address) else None
    # A service calling on the principal's behalf (secretsmanager decrypting for
    # GetSecretValue, "AWS Internal") logs its own name instead of an address.
    internal = bool(invoked_by) or (
        client_ip is None
        and (source_address == "AWS Internal" or source_address.endswith(".amazonaws.com"))
    )
    resources = extract(params, item) or [UNKNOWN_RESOURCE]
    outcome, error = _outcome(error_code, item.get("errorMessage"))

    metadata = _metadata(item, user, params, mount)
    if source_address and client_ip is None:
        metadata["sourceIPAddress"] = source_address[:_MAX_TEXT]
    if invoked_by:
        metadata["invokedBy"] = invoked_by[:_MAX_TEXT]

    access_key = _text(user.get("accessKeyId"))
    return AccessEvent(
        event_id=_text(item.get("eventID")) or _synthetic_id(item),
        time=time,
        source="cloudtrail",
        identity=identity,
        identity_name=identity_name,
        action=action,
        resource=resources[0],
        resources=tuple(resources) if len(resources) > 1 else (),
        outcome=outcome,
        error=error,
        credential=access_key or None,
        client_ip=client_ip,
        user_agent=_user_agent(item),
        operation=item["eventName"],
        mount=mount,
        auth_method=kind or None,
        token_type=kind or None,
        metadata=metadata,
        internal=internal,
    )


def _identity(user: dict, item: dict) -> tuple[str, str, str]:
    """``(identity, identity_name, userIdentity.type)``.

    An assumed role is identified by the role, not the session: every session of a role
    (one per Lambda invocation, EC2 instance or SSO login) is the same service or person.
    """
    kind = _text(user.get("type"))
    arn = _text(user.get("arn"))
    if kind == "AssumedRole":
        context = user.get("sessionContext")
        issuer = context.get("sessionIssuer") if isinstance(context, dict) else None
        role = _text(issuer.get("arn")) if isinstance(issuer, dict) else ""
        role = role or _role_of_session(arn)
        if role:
            return role, arn or role, kind
    identity = (
        arn
        or _text(user.get("principalId"))
        or _text(user.get("invokedBy"))
        or _text(user.get("userName"))
    )
    if not identity:
        account = _text(user.get("accountId")) or _text(item.get("recipientAccountId"))
        identity = f"{kind or 'unknown'}@{account}" if account else kind
    if not identity:
        raise ParseError("cloudtrail userIdentity names no one")
    return identity, arn or _text(user.get("userName")) or identity, kind


def _role_of_session(arn: str) -> str:
    """``arn:aws:iam::1:role/R`` for ``arn:aws:sts::1:assumed-role/R/session`` (path unknown)."""
    parts = arn.split(":", 5)
    if len(parts) == 6 and parts[5].startswith("assumed-role/"):
        role = parts[5].split("/")[1]
        return f"arn:{parts[1]}:iam::{parts[4]}:role/{role}"
    return ""


def _session_name(user: dict) -> str:
    if user.get("type") != "AssumedRole":
        return ""
    arn = _text(user.get("arn"))
    if arn.count("/") >= 2:
        return arn.rsplit("/", 1)[1]
    return _text(user.get("session_name"))  # Datadog's forwarder adds it


def _outcome(code: str | None, message: object) -> tuple[str, str | None]:
    if not code:
        return OK, None
    bare = code.removeprefix("Client.")  # EC2 writes "Client.UnauthorizedOperation"
    outcome = DENIED if bare in _DENIED_CODES or "NotAuthorized" in bare else ERROR
    text = f"{code}: {message}" if isinstance(message, str) and message else code
    return outcome, text[:_MAX_TEXT]


def _metadata(item: dict, user: dict, params: dict, mount: str) -> dict[str, str]:
    context = user.get("sessionContext")
    attributes = context.get("attributes") if isinstance(context, dict) else None
    pairs = {
        "accountId": user.get("accountId") or item.get("recipientAccountId"),
        "awsRegion": item.get("awsRegion"),
        "mfaAuthenticated": attributes.get("mfaAuthenticated")
        if isinstance(attributes, dict)
        else None,
        "sessionName": _session_name(user),
    }
    recipient = item.get("recipientAccountId")
    if recipient != pairs["accountId"]:
        pairs["recipientAccountId"] = recipient
    pairs["vpcEndpointId"] = item.get("vpcEndpointId")
    if mount == _SSM and isinstance(params.get("withDecryption"), bool):
        pairs["withDecryption"] = "true" if params["withDecryption"] else "false"
    elif mount == _KMS:
        pairs["contextArn"] = _context_arn(params)
    filters = params.get("filters") or params.get("parameterFilters") or params.get("filter")
    if filters:
        pairs["filters"] = _describe_filters(filters)
    return {k: v[:_MAX_TEXT] for k, v in pairs.items() if isinstance(v, str) and v}


def _context_arn(params: dict) -> str:
    """The secret (or other resource) a KMS call's encryption context names."""
    context = params.get("encryptionContext")
    if not isinstance(context, dict):
        return ""
    for key in _CONTEXT_SECRET_KEYS:
        if isinstance(context.get(key), str):
            return context[key]
    return next((v for v in context.values() if isinstance(v, str) and v.startswith("arn:")), "")


def _describe_filters(filters: object) -> str:
    """``tag-key=StratusRedTeam; Name Equals /a`` for ListSecrets / DescribeParameters filters."""
    if not isinstance(filters, list):
        return ""
    parts = []
    for f in filters:
        if isinstance(f, dict):
            values = ",".join(_strings(f.get("values") or f.get("Values")))
            option = _text(f.get("option"))
            key = _text(f.get("key") or f.get("Key"))
            parts.append(f"{key} {option} {values}" if option else f"{key}={values}")
    return "; ".join(parts)


def _forwarded_client_ip(item: dict) -> str:
    # Datadog's forwarder moves sourceIPAddress to network.client.ip.
    network = item.get("network")
    client = network.get("client") if isinstance(network, dict) else None
    return _text(client.get("ip")) if isinstance(client, dict) else ""


def _user_agent(item: dict) -> str | None:
    agent = item.get("userAgent")
    if not isinstance(agent, str):
        http = item.get("http")  # Datadog's forwarder moves it to http.useragent
        agent = http.get("useragent") if isinstance(http, dict) else None
    return agent[:_MAX_USER_AGENT] if isinstance(agent, str) and agent else None


def _missing_call(source: object, name: object) -> ParseError:
    if source is None and name is None:
        return ParseError("not a cloudtrail record", "no eventSource and no eventName")
    if name is None:
        return ParseError("cloudtrail record without eventName")
    if source is None:
        return ParseError("cloudtrail record without eventSource")
    if not isinstance(name, str):
        return ParseError("wrong type for eventName", type(name).__name__)
    return ParseError("wrong type for eventSource", type(source).__name__)


@lru_cache(maxsize=2048)
def _ignored_reason(source: str, name: str) -> str:
    return f"cloudtrail {source.removesuffix('.amazonaws.com')} {name}"


@lru_cache(maxsize=4096)
def _is_ip(value: str) -> bool:
    try:
        ip_address(value)
    except ValueError:
        return False
    return True


def _synthetic_id(item: dict) -> str:
    # Hand-written and stripped-down exports can lack eventID; the same record gets the same id.
    basis = orjson.dumps(item, option=orjson.OPT_SORT_KEYS)
    return "cloudtrail-" + hashlib.sha1(basis).hexdigest()[:24]


def _salvage(record: bytes) -> list[dict | bytes]:
    """Every complete top-level object of a broken ``{"Records": [...]}`` document.

    Objects that decode are returned as dicts; those that do not as their bytes, so the
    caller can reject them one by one instead of losing the whole file.
    """
    start = record.find(b"[", record.find(b'"Records"'))
    if start < 0:
        return []
    found: list[dict | bytes] = []
    depth, begin = 0, -1
    for token in _JSON_TOKEN.finditer(record, start + 1):
        mark = token.group()
        if mark[0] == 0x22:  # a string: braces inside it do not count
            continue
        if mark in (b"{", b"["):
            if depth == 0:
                begin = token.start()
            depth += 1
        elif depth == 0:
            break  # the closing bracket of Records
        else:
            depth -= 1
            if depth == 0:
                piece = record[begin : token.end()]
                try:
                    found.append(orjson.loads(piece))
                except orjson.JSONDecodeError:
                    found.append(piece)
    return found


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: object) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []
