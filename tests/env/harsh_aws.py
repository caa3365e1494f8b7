#!/usr/bin/env python3
"""The harsh AWS: moto's server, behind a front that injects faults on request
and answers like AWS where moto is lenient.

Run with the virtualenv's python, like moto_server:

    target/env/venv/bin/python tests/env/harsh_aws.py -H 127.0.0.1 -p PORT

It builds moto's WSGI application exactly as ``moto_server`` does
(``DomainDispatcherApplication(create_backend_app)`` served by werkzeug's
``run_simple(..., threaded=True)``) and wraps it in ``HarshFront``, a WSGI
middleware in the same process. Being in-process, the strict checks read
moto's backends directly.

Every signed request is identified by its SigV4 credential scope (service,
region, access key id) and its operation (X-Amz-Target for JSON protocols,
``Action`` for query protocols, method + path against botocore's model for
REST protocols). Rules, counters and the freeze state are kept per access key
id ("scope"): tests running in parallel each use their own key id. A key
id "harsh-…" also has a moto account of its own (see ``account_of``; its
"…-view" key reads that account without rules); any other key id is in
account 123456789012.

Control API, JSON, never forwarded to moto:

    GET    /_harsh/health                        200 {"ok": true}
    POST   /_harsh/scopes/<akid>/rules           body: one rule -> {"id": n}
    DELETE /_harsh/scopes/<akid>/rules           clear the rules, un-freeze, end hangs
    GET    /_harsh/scopes/<akid>/counters        passed / injected / strict / quota / mutating_passed /
                                                 frozen / strict_enabled / rules
    GET    /_harsh/scopes/<akid>/journal         the calls that were answered, oldest first:
                                                 [{"op", "mutating", "app" (the SDK's app/<name>
                                                 of the user agent, or null), "start", "end"
                                                 (seconds since the epoch, the front's clock)}]
    POST   /_harsh/scopes/<akid>/strict          {"enabled": bool} (default: HARSH_STRICT, "1")
    POST   /_harsh/scopes/<akid>/quotas          quota mode of the key id's account:
                                                 {"enabled": bool, "scale": float (optional,
                                                 default HARSH_QUOTA_SCALE), "limits": {"rest_apis":
                                                 n, "domain_names": n} (optional, overrides of the
                                                 hard limits' max)}; refills the account's buckets,
                                                 zeroes its quota counters; answers as GET
    GET    /_harsh/scopes/<akid>/quotas          {"enabled", "scale", "limits" (effective max),
                                                 "passed", "throttled", "limited" ({"<service>
                                                 <Operation>": n}, since the last POST)}

A rule (absent fields match anything):

    {"service", "region", "operation", "method", "path" (regex, searched),
     "mutating" (bool), "nth" (fire on the k-th matching call only, counted
     from when the rule was added), "times" (fire at most n times),
     "action": throttle | unavailable | internal | access_denied | hang |
               reset | pass_then_hang | error | delay,
     "code", "status", "message" (for "error"), "hang_seconds" (default 600),
     "delay_seconds" (for "delay": the call is answered normally, that much
     later; the change is made at the end, as a slow AWS would),
     "freeze" (after it fires, every later call of the scope hangs until the
     rules are cleared)}

Every rule counts every call it matches; the first rule (in the order added)
that fires decides the call. A hang (``hang``, ``pass_then_hang``, a frozen
scope) never answers: it ends after hang_seconds or when the scope's rules
are cleared, by resetting the connection.

Quota mode (per account, off unless HARSH_QUOTAS=1 or turned on through the
control API) enforces AWS's control-plane request rates and hard resource
limits of ``src/aws/quotas.json`` (read from there, never copied): a call no
rule fired on takes one token from every bucket of the table that names its
service and operation, or, when one of them is empty, takes none and is
answered with the service's throttling error of the table; then a create
whose account and region already hold the limit's max of resources (counted
in moto) is answered with the limit's error. Refused calls never reach moto
and are not in the journal; the account's quota counters count them. The
view keys ("…-view") are exempt. Rates are multiplied by the scale, bursts
are not (see ``AccountQuotas``).

Environment: HARSH_STRICT ("1"/"0", default "1": whether scopes start with
the strict behaviours on; tests/env/env.sh passes "0" unless HARSH_STRICT=1),
HARSH_QUOTAS ("1"/"0", default "0": whether every account starts with quota
mode on), HARSH_QUOTA_SCALE (float >= 0, default 1: the scale of the rates of
an account whose quota settings give none; 0 stops every refill),
HARSH_CLOUDFRONT_DEPLOY_SECONDS (default 2).
"""

import argparse
import copy
import hashlib
import http
import io
import json
import math
import os
import random
import re
import signal
import socket
import string
import struct
import sys
import threading
import time
import uuid
import xml.etree.ElementTree as ET
from collections import Counter, deque
from datetime import datetime, timezone
from urllib.parse import parse_qs, unquote
from xml.sax.saxutils import escape

ACCOUNT = "123456789012"


def _switch(value):
    return value.strip().lower() not in ("0", "false", "no", "off", "")


DEFAULT_STRICT = _switch(os.environ.get("HARSH_STRICT", "1"))
DEFAULT_QUOTAS = _switch(os.environ.get("HARSH_QUOTAS", "0"))
# The table of rates and limits the operator reads too.
QUOTAS_PATH = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "src", "aws", "quotas.json"))
CLOUDFRONT_DEPLOY_SECONDS = float(os.environ.get("HARSH_CLOUDFRONT_DEPLOY_SECONDS", "2"))

ACTIONS = {"throttle", "unavailable", "internal", "access_denied", "hang", "reset", "pass_then_hang", "error", "delay"}
# The newest passed calls each scope keeps in its journal.
JOURNAL_SIZE = 20000
_APP = re.compile(r"(?:^|\s)app/(\S+)")
RULE_FIELDS = {
    "service", "region", "operation", "method", "path", "mutating", "nth", "times",
    "action", "code", "status", "message", "hang_seconds", "delay_seconds", "freeze",
}
READ_PREFIXES = ("Get", "List", "Describe", "Head", "Test")

# The XML namespace of each rest-xml service's error documents.
XML_NAMESPACES = {
    "route53": "https://route53.amazonaws.com/doc/2013-04-01/",
    "cloudfront": "http://cloudfront.amazonaws.com/doc/2020-05-31/",
}
# SigV4 signing names whose botocore model has another name.
MODEL_NAMES = {"tagging": "resourcegroupstaggingapi", "execute-api": "apigateway"}


def log(message):
    print(f"harsh: {message}", file=sys.stderr, flush=True)


def new_request_id():
    return str(uuid.uuid4())


# --------------------------------------------------------------------------
# Identifying a request
# --------------------------------------------------------------------------

_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request")


class Operations:
    """The operations of one service, from botocore's model."""

    _cache = {}
    _lock = threading.Lock()
    _session = None

    @classmethod
    def of(cls, service):
        with cls._lock:
            if service not in cls._cache:
                cls._cache[service] = cls(service)
            return cls._cache[service]

    def __init__(self, service):
        import botocore.session

        if Operations._session is None:
            Operations._session = botocore.session.get_session()
        self.protocol = None
        self.namespace = None
        self.json_version = "1.1"
        self.routes = []
        try:
            model = Operations._session.get_service_model(MODEL_NAMES.get(service, service))
        except Exception:  # an unknown service: no operation names
            return
        self.protocol = model.metadata.get("protocol") or (model.metadata.get("protocols") or [None])[0]
        self.namespace = model.metadata.get("xmlNamespace")
        self.json_version = model.metadata.get("jsonVersion", "1.1")
        if self.protocol not in ("rest-xml", "rest-json"):
            return
        for name in model.operation_names:
            http_ = model.operation_model(name).http
            method = http_.get("method", "POST").upper()
            template, _, query = http_.get("requestUri", "/").partition("?")
            regex, literal, greedy = self._compile(template)
            conditions = []
            for part in query.split("&"):
                if part:
                    key, eq, value = part.partition("=")
                    conditions.append((key, value if eq else None))
            score = (len(conditions), literal, -greedy)
            self.routes.append((score, method, regex, conditions, name))
        self.routes.sort(key=lambda r: r[0], reverse=True)

    @staticmethod
    def _compile(template):
        """A URI template as a regex: {Id} is one segment, {Key+} is greedy."""
        pattern, literal, greedy, pos = "", 0, 0, 0
        body = template.rstrip("/") or "/"
        for m in re.finditer(r"\{([^}]+)\}", body):
            text = body[pos:m.start()]
            pattern += re.escape(text)
            literal += len(text)
            label = m.group(1)
            if label.endswith("+"):
                pattern += f"(?P<{_group(label[:-1])}>.+)"
                greedy += 1
            else:
                pattern += f"(?P<{_group(label)}>[^/]+)"
            pos = m.end()
        text = body[pos:]
        pattern += re.escape(text)
        literal += len(text)
        if body != "/":
            pattern += "/?"
        return re.compile(pattern + r"\Z"), literal, greedy

    def match(self, method, path, query):
        """(operation name, URI labels) of a REST request, or (None, {})."""
        for _, m, regex, conditions, name in self.routes:
            if m != method:
                continue
            found = regex.match(path)
            if not found:
                continue
            if any(key not in query or (value is not None and query[key][0] != value) for key, value in conditions):
                continue
            labels = {_label(k): v for k, v in found.groupdict().items()}
            return name, labels
        return None, {}


def _group(label):
    return "L_" + re.sub(r"[^A-Za-z0-9_]", "_", label)


def _label(group):
    return group[2:]


VIEW_SUFFIX = "-view"


def account_of(akid):
    """The moto account of an access key id: a scope of the tests
    ("harsh-…") has an account of its own, which its view key ("harsh-…-view":
    no rules, counters of its own) shares; any other key is in ACCOUNT. Each
    scope's listings hold only its own resources, however many the suite has
    made, and a test can never touch another's."""
    base = akid[: -len(VIEW_SUFFIX)] if akid.endswith(VIEW_SUFFIX) else akid
    if not base.startswith("harsh-"):
        return ACCOUNT
    number = int.from_bytes(hashlib.sha256(base.encode()).digest()[:8], "big") % 10**12
    return f"{number:012d}"


class Call:
    """One signed request to an AWS service."""

    def __init__(self, environ, body):
        self.environ = environ
        self.body = body
        self.method = environ.get("REQUEST_METHOD", "GET").upper()
        self.path = environ.get("PATH_INFO", "") or "/"
        self.query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        found = _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", ""))
        self.akid, _, self.region, self.service = found.groups()
        self.service = self.service.lower()
        self.account = account_of(self.akid)
        environ["HTTP_X_MOTO_ACCOUNT_ID"] = self.account
        self.ops = Operations.of(self.service)
        self.protocol = self.ops.protocol
        self.labels = {}
        self.operation = self._operation() or "Unknown"
        self.mutating = not self.operation.startswith(READ_PREFIXES)
        self.strict = False

    def _operation(self):
        target = self.environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return target.rsplit(".", 1)[-1]
        # Smithy RPC v2 CBOR: POST /service/<service>/operation/<operation>.
        if self.environ.get("HTTP_SMITHY_PROTOCOL") == "rpc-v2-cbor":
            return self.path.rsplit("/operation/", 1)[-1] or None
        if self.protocol in ("rest-xml", "rest-json"):
            name, self.labels = self.ops.match(self.method, self.path, self.query)
            if name is None:
                # A label holding an encoded "/" (an ARN in API Gateway's
                # /tags/{resource_arn}): PATH_INFO is decoded, the raw
                # path is not.
                raw = (self.environ.get("REQUEST_URI") or self.environ.get("RAW_URI") or "").split("?", 1)[0]
                if raw and raw != self.path:
                    name, labels = self.ops.match(self.method, raw, self.query)
                    self.labels = {k: unquote(v) for k, v in labels.items()}
            return name
        action = self.query.get("Action")
        if not action and self.body:
            try:
                action = parse_qs(self.body.decode("utf-8"), keep_blank_values=True).get("Action")
            except UnicodeDecodeError:
                action = None
        return action[0] if action else None

    def key(self):
        return f"{self.service}:{self.operation}"

    def header(self, name):
        return self.environ.get("HTTP_" + name.upper().replace("-", "_"))

    def json_body(self):
        try:
            return json.loads(self.body or b"{}")
        except ValueError:
            return {}

    def xml_body(self):
        try:
            return ET.fromstring(self.body) if self.body else None
        except ET.ParseError:
            return None


# --------------------------------------------------------------------------
# Responses
# --------------------------------------------------------------------------


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = list(headers)
        self.body = body

    def header(self, name):
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def set_header(self, name, value):
        self.headers = [(k, v) for k, v in self.headers if k.lower() != name.lower()]
        if value is not None:
            self.headers.append((name, value))

    def ok(self):
        return 200 <= self.status < 300

    def emit(self, start_response):
        self.set_header("Content-Length", str(len(self.body)))
        try:
            reason = http.HTTPStatus(self.status).phrase
        except ValueError:
            reason = "Unknown"
        start_response(f"{self.status} {reason}", self.headers)
        return [self.body]


def error_response(call, code, status, message):
    """An AWS error in the wire format of the call's service, which the AWS
    SDKs parse into ``code``."""
    request_id = new_request_id()
    headers = [("x-amzn-RequestId", request_id)]
    protocol = call.protocol
    if protocol in ("rest-xml", "query", "ec2"):
        namespace = XML_NAMESPACES.get(call.service) or call.ops.namespace or ""
        kind = "Sender" if status < 500 else "Receiver"
        body = (
            f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{escape(namespace)}"><Error><Type>{kind}</Type>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"<RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        headers.append(("Content-Type", "text/xml"))
    elif protocol == "json":
        body = json.dumps({"__type": code, "message": message})
        headers.append(("Content-Type", f"application/x-amz-json-{call.ops.json_version}"))
    else:  # rest-json
        if call.service == "lambda":
            body = json.dumps({"Type": "User" if status < 500 else "Service", "Message": message})
        else:
            body = json.dumps({"message": message})
        headers += [("x-amzn-ErrorType", code), ("Content-Type", "application/json")]
    return Response(status, headers, body.encode("utf-8"))


def fault(call, action):
    """(code, status, message) of a canned fault, as the service really says it.

    Throttling codes follow botocore's retry configuration (data/_retry.json:
    Route 53 "Throttling" 400; the generic "Throttling"/"ThrottlingException"
    400 and HTTP 429) and the service models (API Gateway and Lambda model
    TooManyRequestsException 429; ACM models ThrottlingException)."""
    protocol, service = call.protocol, call.service
    if action == "throttle":
        if protocol == "rest-json":
            return "TooManyRequestsException", 429, "Too Many Requests" if service != "lambda" else "Rate exceeded"
        if protocol == "json":
            return "ThrottlingException", 400, "Rate exceeded"
        return "Throttling", 400, "Rate exceeded"
    if action == "access_denied":
        message = (
            f"User: arn:aws:iam::{call.account}:user/harsh is not authorized to perform: "
            f"{service}:{call.operation} because no identity-based policy allows the {service}:{call.operation} action"
        )
        if protocol == "rest-json":
            return "AccessDeniedException", 403, message
        if protocol == "json":
            return "AccessDeniedException", 400, message
        return "AccessDenied", 403, message
    if action == "unavailable":
        if protocol == "rest-json":
            return "ServiceUnavailableException", 503, "Service Unavailable"
        return "ServiceUnavailable", 503, "Service is unavailable. Please try again later."
    if action == "internal":
        if service == "lambda":
            return "ServiceException", 500, "An internal error occurred."
        if protocol == "rest-json":
            return "InternalServerError", 500, "Internal server error"
        return "InternalFailure", 500, "We encountered an internal error. Please try again."
    raise ValueError(action)


# --------------------------------------------------------------------------
# Scopes and rules
# --------------------------------------------------------------------------


class Rule:
    def __init__(self, rule_id, spec):
        unknown = set(spec) - RULE_FIELDS
        if unknown:
            raise ValueError(f"unknown rule fields: {sorted(unknown)}")
        if spec.get("action") not in ACTIONS:
            raise ValueError(f"action must be one of {sorted(ACTIONS)}")
        self.id = rule_id
        self.spec = spec
        self.action = spec["action"]
        self.path = re.compile(spec["path"]) if spec.get("path") is not None else None
        self.nth = spec.get("nth")
        self.times = spec.get("times")
        for name in ("nth", "times"):
            value = spec.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
                raise ValueError(f"{name} must be a positive integer")
        if "mutating" in spec and not isinstance(spec["mutating"], bool):
            raise ValueError("mutating must be true or false")
        self.hang_seconds = float(spec.get("hang_seconds", 600))
        self.delay_seconds = float(spec.get("delay_seconds", 1))
        self.freeze = bool(spec.get("freeze", False))
        self.seen = 0
        self.fired = 0

    def matches(self, call):
        s = self.spec
        return (
            s.get("service") in (None, call.service)
            and s.get("region") in (None, call.region)
            and s.get("operation") in (None, call.operation)
            and (s.get("method") is None or s["method"].upper() == call.method)
            and (self.path is None or self.path.search(call.path) is not None)
            and s.get("mutating") in (None, call.mutating)
        )

    def wants_to_fire(self):
        if self.times is not None and self.fired >= self.times:
            return False
        return self.nth is None or self.seen == self.nth

    def error(self, call):
        if self.action == "error":
            s = self.spec
            return error_response(call, s.get("code", "InternalFailure"), int(s.get("status", 400)), s.get("message", "Injected error"))
        return error_response(call, *fault(call, self.action))

    def state(self):
        return {"id": self.id, "action": self.action, "seen": self.seen, "fired": self.fired}


class Scope:
    def __init__(self, akid):
        self.akid = akid
        self.rules = []
        self.next_id = 1
        self.passed = Counter()
        self.injected = Counter()
        self.strict_rejected = Counter()
        self.quota_refused = Counter()
        self.mutating_passed = 0
        self.mutating_by_service = Counter()
        self.journal = deque(maxlen=JOURNAL_SIZE)
        self.frozen = False
        self.generation = 0  # bumped by a clear: every hang of the scope ends
        self.strict = DEFAULT_STRICT

    def counters(self):
        return {
            "passed": dict(self.passed),
            "injected": dict(self.injected),
            "strict": dict(self.strict_rejected),
            "quota": dict(self.quota_refused),
            "mutating_passed": self.mutating_passed,
            "mutating_by_service": dict(self.mutating_by_service),
            "frozen": self.frozen,
            "strict_enabled": self.strict,
            "rules": [r.state() for r in self.rules],
        }


class Decision:
    def __init__(self, kind, rule=None, generation=0, seconds=600.0):
        self.kind = kind  # "pass", "rule", "frozen"
        self.rule = rule
        self.generation = generation
        self.seconds = seconds


# --------------------------------------------------------------------------
# Quota mode
# --------------------------------------------------------------------------


def quota_scale(value, what):
    """A scale of the rates: a finite number >= 0 (0: no refill at all)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{what} must be a number >= 0")
    try:
        scale = float(value)
    except ValueError:
        raise ValueError(f"{what} must be a number >= 0, not {value!r}") from None
    if not math.isfinite(scale) or scale < 0:
        raise ValueError(f"{what} must be a finite number >= 0, not {value!r}")
    return scale


try:
    DEFAULT_QUOTA_SCALE = quota_scale(os.environ.get("HARSH_QUOTA_SCALE", "1"), "HARSH_QUOTA_SCALE")
except ValueError as _err:
    sys.exit(f"harsh: {_err}")


def _held_rest_apis(account, region):
    return len(apigateway_backend(account, region).apis)


def _held_domain_names(account, region):
    return len(apigateway_backend(account, region).domain_names)


# What a hard limit of the table counts ("counts"), in moto's backends.
LIMIT_COUNTS = {"rest_apis": _held_rest_apis, "domain_names": _held_domain_names}


class BucketSpec:
    """One bucket of the table: ``burst`` tokens at most, ``requests`` more
    every ``per_seconds``."""

    def __init__(self, index, spec):
        self.index = index
        self.service = spec["service"]
        self.scope = spec["scope"]
        if self.scope not in ("account", "region"):
            raise ValueError(f"bucket {index}: scope must be account or region, not {self.scope!r}")
        operations = spec["operations"]
        if operations != "*" and not (isinstance(operations, list) and all(isinstance(o, str) for o in operations)):
            raise ValueError(f'bucket {index}: operations must be "*" or a list of names')
        self.operations = None if operations == "*" else frozenset(operations)
        self.excepted = frozenset(spec.get("except") or [])
        self.requests = float(spec["requests"])
        self.per_seconds = float(spec["per_seconds"])
        self.burst = float(spec["burst"])
        if self.requests < 0 or self.per_seconds <= 0 or self.burst < 1:
            raise ValueError(f"bucket {index}: requests >= 0, per_seconds > 0 and burst >= 1 expected")

    def matches(self, service, operation):
        if service != self.service or operation in self.excepted:
            return False
        return self.operations is None or operation in self.operations

    def names(self):
        return sorted(self.operations) if self.operations is not None else sorted(self.excepted)


class LimitSpec:
    """One hard limit of the table: ``operation`` of ``service`` is refused
    while the account (and region) holds ``max`` of what it ``counts``."""

    def __init__(self, spec):
        self.service = spec["service"]
        self.operation = spec["operation"]
        self.scope = spec["scope"]
        self.counts = spec["counts"]
        self.max = int(spec["max"])
        self.code = spec["code"]
        self.status = int(spec["status"])
        self.message = spec["message"]

    def message_for(self, cap):
        """The table's message, naming the max in effect where it names the
        table's (an override for a test)."""
        return self.message.replace(f"({self.max})", f"({cap})")


class QuotaTable:
    """src/aws/quotas.json: the buckets, the hard limits and each service's
    throttling error."""

    def __init__(self, document):
        self.buckets = [BucketSpec(i, b) for i, b in enumerate(document.get("buckets") or [])]
        self.limits = {}
        for spec in document.get("limits") or []:
            limit = LimitSpec(spec)
            if limit.counts not in LIMIT_COUNTS:
                log(f"quota table: limit of {limit.service} {limit.operation} counts {limit.counts!r}, "
                    "which the front cannot count; not enforced")
                continue
            self.limits[(limit.service, limit.operation)] = limit
        self.throttle_errors = {}
        for service, error in (document.get("throttle_errors") or {}).items():
            self.throttle_errors[service] = (error["code"], int(error["status"]), error["message"])
        self._matching = {}
        self._matching_lock = threading.Lock()

    @classmethod
    def load(cls, path=QUOTAS_PATH):
        with open(path, encoding="utf-8") as f:
            return cls(json.load(f))

    def matching(self, service, operation):
        """The buckets a call of ``service`` ``operation`` takes a token from."""
        key = (service, operation)
        with self._matching_lock:
            found = self._matching.get(key)
            if found is None:
                found = self._matching[key] = [b for b in self.buckets if b.matches(service, operation)]
            return found

    def limit(self, service, operation):
        return self.limits.get((service, operation))

    def default_limits(self):
        return {limit.counts: limit.max for limit in self.limits.values()}

    def throttle_error(self, call):
        return self.throttle_errors.get(call.service) or fault(call, "throttle")

    def unknown_operations(self):
        """Operation names of the table that the services' models do not have
        (a misspelt name would never match a call)."""
        import botocore.session

        session = botocore.session.get_session()
        unknown = []
        named = [(b.service, op) for b in self.buckets for op in b.names()]
        named += [(limit.service, limit.operation) for limit in self.limits.values()]
        models = {}
        for service, operation in named:
            if service not in models:
                try:
                    models[service] = set(session.get_service_model(MODEL_NAMES.get(service, service)).operation_names)
                except Exception:
                    models[service] = None
            if models[service] is None:
                unknown.append(f"{service} (no model)")
            elif operation not in models[service]:
                unknown.append(f"{service} {operation}")
        return sorted(set(unknown))


def load_quota_table():
    """(table, None), or (None, why) when src/aws/quotas.json cannot be read."""
    try:
        table = QuotaTable.load()
    except (OSError, ValueError, KeyError, TypeError) as err:
        return None, f"{QUOTAS_PATH}: {err!r}"
    for name in table.unknown_operations():
        log(f"quota table: {name} is not an operation of the service's model")
    return table, None


class AccountQuotas:
    """The quota state of one AWS account: whether quota mode is on, the
    scale of its rates, the max of its hard limits, its buckets and its
    counters. Every access key id of the account shares it.

    The scale multiplies the rates (``requests`` per ``per_seconds``) and
    leaves the bursts alone: what a scaled run keeps is the documented shape,
    a burst of that many calls then the sustained rate, only faster or slower
    (a bench at scale 10 sees Route 53's five calls at once, then fifty a
    second). Scaling the bursts too would change what a single reconcile can
    do without waiting, which is the behaviour under test. Scale 0 stops every
    refill: an account gets its bursts and nothing more, which makes a count
    of refusals exact whatever the speed of the machine."""

    def __init__(self, table, enabled, scale):
        self.lock = threading.Lock()
        self.table = table
        self.configure(enabled, scale, {})

    def configure(self, enabled, scale, limits):
        """Sets the whole configuration; full buckets, zero counters."""
        self.enabled = enabled
        self.scale = scale
        self.limits = dict(self.table.default_limits())
        self.limits.update(limits)
        self.tokens = {}  # (bucket index, region or None) -> [tokens, monotonic time]
        self.passed = Counter()
        self.throttled = Counter()
        self.limited = Counter()

    def take(self, call):
        """Under the lock: refills the call's buckets to now; takes a token
        from each when every one has one (→ None), else takes none and
        answers the throttling error (code, status, message)."""
        now = time.monotonic()
        levels = []
        for bucket in self.table.matching(call.service, call.operation):
            key = (bucket.index, call.region if bucket.scope == "region" else None)
            level = self.tokens.get(key)
            if level is None:
                level = self.tokens[key] = [bucket.burst, now]
            else:
                rate = bucket.requests / bucket.per_seconds * self.scale
                level[0] = min(bucket.burst, level[0] + (now - level[1]) * rate)
                level[1] = now
            levels.append(level)
        if any(level[0] < 1 for level in levels):
            self.throttled[quota_key(call)] += 1
            return self.table.throttle_error(call)
        for level in levels:
            level[0] -= 1
        return None

    def state(self):
        return {
            "enabled": self.enabled,
            "scale": self.scale,
            "limits": dict(self.limits),
            "passed": dict(self.passed),
            "throttled": dict(self.throttled),
            "limited": dict(self.limited),
        }


def quota_key(call):
    """How the quota counters name a call: "<service> <Operation>"."""
    return f"{call.service} {call.operation}"


QUOTA_FIELDS = {"enabled", "scale", "limits"}


def quota_settings(spec, table):
    """(enabled, scale, limits) of a POST .../quotas body; ValueError when it
    is not one."""
    if not isinstance(spec, dict):
        raise ValueError("quota settings are a JSON object")
    unknown = set(spec) - QUOTA_FIELDS
    if unknown:
        raise ValueError(f"unknown quota fields: {sorted(unknown)}")
    if not isinstance(spec.get("enabled"), bool):
        raise ValueError('expected {"enabled": true|false, "scale": n, "limits": {...}}')
    scale = spec.get("scale")
    if isinstance(scale, str):
        raise ValueError("scale must be a number >= 0")
    scale = DEFAULT_QUOTA_SCALE if scale is None else quota_scale(scale, "scale")
    limits = spec.get("limits") or {}
    if not isinstance(limits, dict):
        raise ValueError("limits is a JSON object")
    known = table.default_limits()
    for name, value in limits.items():
        if name not in known:
            raise ValueError(f"unknown limit {name!r}; the table's limits: {sorted(known)}")
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"limit {name} must be an integer >= 0")
    return spec["enabled"], scale, limits


# --------------------------------------------------------------------------
# The front
# --------------------------------------------------------------------------


class ConnectionDropped(ConnectionResetError):
    """Raised after the front reset the client's connection on purpose;
    werkzeug treats it as a dropped connection."""


class HarshFront:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()  # scopes
        self.scopes = {}
        # Serialises every strict check with the change it guards, and the
        # front's own AWS state below.
        self.aws_lock = threading.RLock()
        self.state = AwsState()
        # Quota mode: the table, and each account's state (under self.lock).
        self.quota_table, self.quota_error = load_quota_table()
        if self.quota_error is not None:
            log(f"quota mode unavailable: {self.quota_error}")
        self.quotas = {}

    # -- WSGI ---------------------------------------------------------------

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path.startswith("/_harsh/"):
            return self.control(environ, start_response)
        if path.startswith("/moto-api/reset"):
            with self.aws_lock:
                self.state = AwsState()
        if not _CREDENTIAL.search(environ.get("HTTP_AUTHORIZATION", "")):
            return self.app(environ, start_response)
        body = read_body(environ)
        call = Call(environ, body)
        decision = self.decide(call)
        if decision.kind == "frozen":
            self.hang(call, decision)
        rule = decision.rule
        if rule is None:
            return self.admit(call, start_response)
        if rule.action == "delay":
            start = time.time()
            log(f"{call.akid} {call.key()} {call.region}: rule {rule.id} delay {rule.delay_seconds}s")
            time.sleep(rule.delay_seconds)
            response = self.answer(call)
            self.journal(call, start)
            return response.emit(start_response)
        log(f"{call.akid} {call.key()} {call.region}: rule {rule.id} {rule.action}")
        if rule.action == "reset":
            drop_connection(environ)
        if rule.action == "hang":
            self.hang(call, decision)
        if rule.action == "pass_then_hang":
            self.answer(call)
            self.hang(call, decision)
        return rule.error(call).emit(start_response)

    def decide(self, call):
        with self.lock:
            scope = self.scope(call.akid)
            call.strict = scope.strict
            if scope.frozen:
                scope.injected[f"{call.key()}:freeze"] += 1
                return Decision("frozen", generation=scope.generation)
            chosen = None
            for rule in scope.rules:
                if not rule.matches(call):
                    continue
                rule.seen += 1
                if chosen is None and rule.wants_to_fire():
                    rule.fired += 1
                    chosen = rule
            if chosen is None:
                # Counted as passed once the account's quotas let it through.
                return Decision("pass", generation=scope.generation)
            if chosen.action in ("pass_then_hang", "delay"):
                self._count_passed(scope, call)
            scope.injected[f"{call.key()}:{chosen.action}"] += 1
            if chosen.freeze:
                scope.frozen = True
            return Decision("rule", chosen, scope.generation, chosen.hang_seconds)

    @staticmethod
    def _count_passed(scope, call):
        scope.passed[call.key()] += 1
        if call.mutating:
            scope.mutating_passed += 1
            scope.mutating_by_service[call.service] += 1

    def count_passed(self, call):
        with self.lock:
            self._count_passed(self.scope(call.akid), call)

    def admit(self, call, start_response):
        """A call no rule fired on: through its account's quotas when quota
        mode is on (buckets, then hard limits), then answered and journaled.
        A refused call takes no token (a throttled one) or its tokens (a
        limited one, which the rate limiter let through), never reaches moto
        and is not journaled."""
        start = time.time()
        quotas = self.quotas_of(call)
        limit = cap = None
        key = quota_key(call)
        if quotas is not None:
            with quotas.lock:
                if not quotas.enabled:
                    quotas = None
                else:
                    throttled = quotas.take(call)
                    if throttled is not None:
                        return self.quota_refusal(call, *throttled).emit(start_response)
                    limit = self.quota_table.limit(call.service, call.operation)
                    if limit is None:
                        quotas.passed[key] += 1
                    else:
                        cap = quotas.limits[limit.counts]
        if limit is not None:
            # The count and the create it lets through are one step: two
            # creates at max - 1 do not both pass.
            with self.aws_lock:
                held = LIMIT_COUNTS[limit.counts](call.account, call.region)
                if held >= cap:
                    with quotas.lock:
                        quotas.limited[key] += 1
                    return self.quota_refusal(call, limit.code, limit.status, limit.message_for(cap)).emit(start_response)
                with quotas.lock:
                    quotas.passed[key] += 1
                self.count_passed(call)
                response = self.answer(call)
        else:
            self.count_passed(call)
            response = self.answer(call)
        self.journal(call, start)
        return response.emit(start_response)

    def quotas_of(self, call):
        """The quota state of the call's account; None for a view key (they
        inspect, they do not consume) or without a quota table."""
        if self.quota_table is None or call.akid.endswith(VIEW_SUFFIX):
            return None
        return self.account_quotas(call.account)

    def account_quotas(self, account):
        with self.lock:
            quotas = self.quotas.get(account)
            if quotas is None:
                quotas = self.quotas[account] = AccountQuotas(self.quota_table, DEFAULT_QUOTAS, DEFAULT_QUOTA_SCALE)
            return quotas

    def quota_refusal(self, call, code, status, message):
        with self.lock:
            self.scope(call.akid).quota_refused[f"{call.key()}:{code}"] += 1
        log(f"{call.akid} {call.key()} {call.region}: quota {code}")
        return error_response(call, code, status, message)

    def journal(self, call, start):
        """Notes an answered call in its scope's journal."""
        agent = f"{call.header('User-Agent') or ''} {call.header('X-Amz-User-Agent') or ''}"
        app = _APP.search(agent)
        with self.lock:
            self.scope(call.akid).journal.append({
                "op": call.key(),
                "mutating": call.mutating,
                "app": app.group(1) if app else None,
                "start": start,
                "end": time.time(),
            })

    def hang(self, call, decision):
        """Holds the request without answering until the time is up or the
        scope's rules are cleared, then resets the connection."""
        deadline = time.monotonic() + decision.seconds
        while time.monotonic() < deadline:
            with self.lock:
                if self.scope(call.akid).generation != decision.generation:
                    break
            time.sleep(0.05)
        drop_connection(call.environ)

    def scope(self, akid):
        scope = self.scopes.get(akid)
        if scope is None:
            scope = self.scopes[akid] = Scope(akid)
        return scope

    def answer(self, call):
        """moto's answer, through the strict behaviour of the operation if any."""
        if call.service == "monitoring" and call.header("smithy-protocol") == "rpc-v2-cbor":
            return cloudwatch_cbor(self, call)
        handler = STRICT.get((call.service, call.operation))
        if handler is None:
            return self.forward(call.environ)
        if call.mutating:
            with self.aws_lock:
                response = handler(self, call)
        else:
            response = handler(self, call)
        if not response.ok() and response.header("x-harsh-strict"):
            response.set_header("x-harsh-strict", None)
            code = response.header("x-amzn-ErrorType") or _xml_code(response.body) or _json_code(response.body)
            with self.lock:
                self.scope(call.akid).strict_rejected[f"{call.key()}:{code}"] += 1
            log(f"{call.akid} {call.key()} {call.region}: strict {code}")
        return response

    def reject(self, call, code, status, message):
        response = error_response(call, code, status, message)
        response.headers.append(("x-harsh-strict", "1"))
        return response

    def forward(self, environ):
        """Runs moto's application on the request and collects its answer."""
        captured = {}
        chunks = []

        def start_response(status, headers, exc_info=None):
            captured["status"] = int(status.split(None, 1)[0])
            captured["headers"] = list(headers)
            return chunks.append

        result = self.app(environ, start_response)
        try:
            for chunk in result:
                chunks.append(chunk)
        finally:
            if hasattr(result, "close"):
                result.close()
        return Response(captured["status"], captured["headers"], b"".join(chunks))

    def inner(self, call, method, path, body=b""):
        """A request of moto's on behalf of ``call`` (same credentials)."""
        environ = dict(call.environ)
        environ.update(
            REQUEST_METHOD=method,
            PATH_INFO=path,
            RAW_URI=path,
            REQUEST_URI=path,
            QUERY_STRING="",
            CONTENT_LENGTH=str(len(body)),
        )
        environ["wsgi.input"] = io.BytesIO(body)
        environ.pop("HTTP_X_AMZ_TARGET", None)
        return self.forward(environ)

    # -- control API --------------------------------------------------------

    def control(self, environ, start_response):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        path = environ.get("PATH_INFO", "")
        body = read_body(environ)

        def reply(status, value):
            data = json.dumps(value).encode("utf-8")
            return Response(status, [("Content-Type", "application/json")], data).emit(start_response)

        if path == "/_harsh/health":
            return reply(200, {
                "ok": True,
                "strict_default": DEFAULT_STRICT,
                "quotas_default": DEFAULT_QUOTAS,
                "quota_scale_default": DEFAULT_QUOTA_SCALE,
                "quota_table_error": self.quota_error,
            })
        found = re.fullmatch(r"/_harsh/scopes/([^/]+)/(rules|counters|strict|journal|quotas)", path)
        if not found:
            return reply(404, {"error": f"no such control path {path}"})
        akid, what = found.groups()
        try:
            spec = json.loads(body or b"{}")
        except ValueError as e:
            return reply(400, {"error": f"body is not JSON: {e}"})
        if what == "quotas":
            return self.control_quotas(method, akid, spec, reply)
        with self.lock:
            scope = self.scope(akid)
            if what == "rules" and method == "POST":
                if not isinstance(spec, dict):
                    return reply(400, {"error": "a rule is a JSON object"})
                try:
                    rule = Rule(scope.next_id, spec)
                except (ValueError, re.error, TypeError) as e:
                    return reply(400, {"error": str(e)})
                scope.next_id += 1
                scope.rules.append(rule)
                log(f"{akid}: rule {rule.id} {json.dumps(spec)}")
                return reply(200, {"id": rule.id})
            if what == "rules" and method == "DELETE":
                cleared = len(scope.rules)
                scope.rules = []
                scope.frozen = False
                scope.generation += 1
                return reply(200, {"cleared": cleared})
            if what == "counters" and method == "GET":
                return reply(200, scope.counters())
            if what == "journal" and method == "GET":
                return reply(200, list(scope.journal))
            if what == "strict" and method == "POST":
                if not isinstance(spec, dict) or not isinstance(spec.get("enabled"), bool):
                    return reply(400, {"error": 'expected {"enabled": true|false}'})
                scope.strict = spec["enabled"]
                return reply(200, {"strict_enabled": scope.strict})
        return reply(405, {"error": f"{method} not allowed on {path}"})


    def control_quotas(self, method, akid, spec, reply):
        """GET or POST /_harsh/scopes/<akid>/quotas: the quota mode of the
        key id's account."""
        if method not in ("GET", "POST"):
            return reply(405, {"error": f"{method} not allowed on quotas"})
        if self.quota_table is None:
            return reply(503, {"error": f"quota mode is unavailable: {self.quota_error}"})
        account = account_of(akid)
        quotas = self.account_quotas(account)
        if method == "GET":
            with quotas.lock:
                return reply(200, quotas.state())
        try:
            enabled, scale, limits = quota_settings(spec, self.quota_table)
        except ValueError as e:
            return reply(400, {"error": str(e)})
        with quotas.lock:
            quotas.configure(enabled, scale, limits)
            state = quotas.state()
        log(f"{akid}: quotas of account {account} {json.dumps(spec)}")
        return reply(200, state)


def read_body(environ):
    """Reads the request body once and puts it back for moto."""
    stream = environ.get("wsgi.input")
    body = b""
    if stream is not None:
        length = environ.get("CONTENT_LENGTH")
        if length:
            body = stream.read(int(length))
        elif environ.get("wsgi.input_terminated"):
            body = stream.read()
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    environ.pop("HTTP_TRANSFER_ENCODING", None)
    environ["wsgi.input_terminated"] = False
    return body


def drop_connection(environ):
    """Resets the client's TCP connection (RST, no answer): SO_LINGER (1, 0)
    then close. The file descriptor is closed through ``detach`` because
    werkzeug's reader and writer hold references to the socket object."""
    handler = environ.get("harsh.handler")
    if handler is not None:
        handler.close_connection = True
    sock = environ.get("werkzeug.socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            os.close(sock.detach())
        except OSError:
            pass
    raise ConnectionDropped("connection reset by the harsh front")


def _xml_code(body):
    found = re.search(rb"<Code>([^<]*)</Code>", body or b"")
    return found.group(1).decode() if found else None


def _json_code(body):
    try:
        return json.loads(body).get("__type")
    except (ValueError, AttributeError):
        return None


# --------------------------------------------------------------------------
# Strict AWS
# --------------------------------------------------------------------------

STRICT = {}


def strict(service, operation):
    def register(fn):
        STRICT[(service, operation)] = fn
        return fn

    return register


class AwsState:
    """What AWS remembers and moto does not (account-wide, every scope)."""

    def __init__(self):
        self.deleted_health_check_refs = set()
        self.distributions = {}  # id -> {"etag": str, "deployed_at": float}


def _backends(module, name, account):
    import importlib

    return getattr(importlib.import_module(module), name)[account]


def route53_backend(account):
    return _backends("moto.route53.models", "route53_backends", account)["aws"]


def cloudfront_backend(account):
    return _backends("moto.cloudfront.models", "cloudfront_backends", account)["aws"]


def apigateway_backend(account, region):
    return _backends("moto.apigateway.models", "apigateway_backends", account)[region]


def _local(tag):
    return tag.rsplit("}", 1)[-1]


def _child(element, name):
    if element is None:
        return None
    for child in element:
        if _local(child.tag) == name:
            return child
    return None


def _text(element, name):
    child = _child(element, name)
    if child is None:
        return None
    return child.text or ""


def _int(value):
    return None if value in (None, "") else int(value)


def _bool(value):
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() == "true"


# -- Route 53 health checks ------------------------------------------------


def _health_check_settings_from_request(config):
    """The request's HealthCheckConfig, with moto's defaults (so that it
    compares with what moto stored)."""

    def items(name, item):
        parent = _child(config, name)
        if parent is None:
            return None
        values = [c.text or "" for c in parent if _local(c.tag) == item]
        return sorted(values) or None

    return {
        "type": _text(config, "Type"),
        "ip_address": _text(config, "IPAddress"),
        "port": _int(_text(config, "Port")) or 80,
        "resource_path": _text(config, "ResourcePath"),
        "fqdn": _text(config, "FullyQualifiedDomainName"),
        "search_string": _text(config, "SearchString"),
        "request_interval": _int(_text(config, "RequestInterval")) or 30,
        "failure_threshold": _int(_text(config, "FailureThreshold")) or 3,
        "health_threshold": _int(_text(config, "HealthThreshold")),
        "measure_latency": _bool(_text(config, "MeasureLatency")) or False,
        "inverted": _bool(_text(config, "Inverted")) or False,
        "disabled": _bool(_text(config, "Disabled")) or False,
        "enable_sni": _bool(_text(config, "EnableSNI")) or False,
        "children": items("ChildHealthChecks", "ChildHealthCheck"),
        "regions": items("Regions", "Region"),
    }


def _health_check_settings_stored(hc):
    return {
        "type": hc.type_,
        "ip_address": hc.ip_address,
        "port": _int(hc.port) or 80,
        "resource_path": hc.resource_path,
        "fqdn": hc.fqdn,
        "search_string": hc.search_string,
        "request_interval": _int(hc.request_interval) or 30,
        "failure_threshold": _int(hc.failure_threshold) or 3,
        "health_threshold": _int(hc.health_threshold),
        "measure_latency": _bool(hc.measure_latency) or False,
        "inverted": _bool(hc.inverted) or False,
        "disabled": _bool(hc.disabled) or False,
        "enable_sni": _bool(hc.enable_sni) or False,
        "children": sorted(hc.children) if hc.children else None,
        "regions": sorted(hc.regions) if hc.regions else None,
    }


@strict("route53", "CreateHealthCheck")
def route53_create_health_check(front, call):
    """AWS API reference, CreateHealthCheck, CallerReference: "If you send a
    CreateHealthCheck request with the same CallerReference and settings as a
    previous request, and if the health check doesn't exist, Amazon Route 53
    creates the health check. If the health check does exist, Route 53
    returns the health check configuration in the response." Same reference with
    other settings, or the reference of a deleted health check whatever the
    settings: HealthCheckAlreadyExists (409). moto creates a new check each
    time."""
    if not call.strict:
        return front.forward(call.environ)
    request = call.xml_body()
    reference = _text(request, "CallerReference")
    config = _child(request, "HealthCheckConfig")
    if reference is None or config is None:
        return front.forward(call.environ)
    backend = route53_backend(call.account)
    existing = [hc for hc in list(backend.health_checks.values()) if hc.caller_reference == reference]
    if existing:
        hc = existing[0]
        if _health_check_settings_from_request(config) != _health_check_settings_stored(hc):
            message = f"A health check with CallerReference {reference} already exists with different settings ({hc.id})."
            return front.reject(call, "HealthCheckAlreadyExists", 409, message)
        got = front.inner(call, "GET", f"/2013-04-01/healthcheck/{hc.id}")
        if not got.ok():
            return got
        body = got.body.replace(b"GetHealthCheckResponse", b"CreateHealthCheckResponse")
        response = Response(201, [("Content-Type", "text/xml"), ("x-amzn-RequestId", new_request_id())], body)
        response.set_header("Location", f"https://route53.amazonaws.com/2013-04-01/healthcheck/{hc.id}")
        return response
    if reference in front.state.deleted_health_check_refs:
        message = f"CallerReference {reference} belongs to a health check that was deleted."
        return front.reject(call, "HealthCheckAlreadyExists", 409, message)
    return front.forward(call.environ)


@strict("route53", "DeleteHealthCheck")
def route53_delete_health_check(front, call):
    """DeleteHealthCheck of an id that does not exist → NoSuchHealthCheck
    (404), as AWS answers (moto succeeds). A check a record still names is
    deleted, as AWS does ("Route 53 does not prevent you from deleting a
    health check even if the health check is associated with one or more
    resource record sets"). The caller reference of a deleted check is
    remembered (see CreateHealthCheck), whatever the scope."""
    backend = route53_backend(call.account)
    check_id = call.labels.get("HealthCheckId", "")
    hc = backend.health_checks.get(check_id)
    if call.strict and hc is None:
        return front.reject(call, "NoSuchHealthCheck", 404, f"No health check exists with the specified ID {check_id}")
    response = front.forward(call.environ)
    if response.ok() and hc is not None:
        front.state.deleted_health_check_refs.add(hc.caller_reference)
    return response


# -- Route 53 record changes -------------------------------------------------


def _record_name(name):
    """A record name as AWS compares it: lower case, trailing dot, with the
    escaped wildcard \\052 read as '*'."""
    name = (name or "").replace("\\052", "*").lower()
    return name if name.endswith(".") else name + "."


def _record_label(name, rtype, set_identifier):
    label = f"[name='{_record_name(name)}', type='{rtype}'"
    if set_identifier is not None:
        label += f", set-identifier='{set_identifier}'"
    return label + "]"


def _record_key(name, rtype, set_identifier):
    return (_record_name(name), rtype, set_identifier)


def _record_values(record):
    """What DELETE must repeat exactly: TTL and values, or the alias target,
    and the routing fields."""
    alias = record.get("AliasTarget")
    values = []
    for value in record.get("ResourceRecords") or []:
        values.append(value.get("Value") if isinstance(value, dict) else str(value))
    geo = record.get("GeoLocation") or None
    return {
        "ttl": _int(record.get("TTL")),
        "values": sorted(values),
        "alias": None
        if not alias
        else (
            alias.get("HostedZoneId"),
            _record_name(alias.get("DNSName")),
            _bool(alias.get("EvaluateTargetHealth")) or False,
        ),
        "weight": _int(record.get("Weight")),
        "region": record.get("Region"),
        "failover": record.get("Failover"),
        "geo": tuple(sorted(geo.items())) if isinstance(geo, dict) else None,
        "multi_value": _bool(record.get("MultiValueAnswer")),
        "health_check": record.get("HealthCheckId"),
    }


def _stored_record(rs):
    return {
        "Name": rs.name,
        "Type": rs.type,
        "TTL": rs.ttl,
        "ResourceRecords": rs.records,
        "SetIdentifier": rs.set_identifier,
        "Weight": rs.weight,
        "Region": rs.region,
        "HealthCheckId": rs.health_check_id,
        "AliasTarget": rs.alias_target,
        "Failover": rs.failover,
        "GeoLocation": rs.geo_location,
        "MultiValueAnswer": rs.multi_value_answer,
    }


def _requested_record(element):
    """A ResourceRecordSet element as the dict moto keeps (typed like moto's
    own request parser makes it)."""
    record = {"Name": _text(element, "Name"), "Type": _text(element, "Type")}
    for name in ("SetIdentifier", "Region", "Failover", "HealthCheckId", "TrafficPolicyInstanceId"):
        value = _text(element, name)
        if value is not None:
            record[name] = value
    for name in ("TTL", "Weight"):
        value = _int(_text(element, name))
        if value is not None:
            record[name] = value
    multi = _bool(_text(element, "MultiValueAnswer"))
    if multi is not None:
        record["MultiValueAnswer"] = multi
    records = _child(element, "ResourceRecords")
    if records is not None:
        record["ResourceRecords"] = [{"Value": _text(r, "Value")} for r in records if _local(r.tag) == "ResourceRecord"]
    alias = _child(element, "AliasTarget")
    if alias is not None:
        record["AliasTarget"] = {
            "HostedZoneId": _text(alias, "HostedZoneId"),
            "DNSName": _text(alias, "DNSName"),
            "EvaluateTargetHealth": _bool(_text(alias, "EvaluateTargetHealth")) or False,
        }
    geo = _child(element, "GeoLocation")
    if geo is not None:
        record["GeoLocation"] = {_local(c.tag): c.text or "" for c in geo}
    return record


@strict("route53", "ChangeResourceRecordSets")
def route53_change_resource_record_sets(front, call):
    """AWS API reference, ChangeResourceRecordSets, and the Route 53
    Developer Guide ("Values that you specify when you create or edit Amazon
    Route 53 records"): a record is identified by name + type +
    SetIdentifier; CREATE of an existing record, DELETE of a missing record,
    and DELETE whose values differ from the current ones fail the whole batch
    with InvalidChangeBatch (400) "Tried to create resource record set [...]
    but it already exists" / "Tried to delete resource record set [...] but
    it was not found" / "... but the values provided do not match the current
    values". Each change is checked against the zone as the earlier changes
    of the same batch left it. Since 2024 the error is the standard
    ErrorResponse with code InvalidChangeBatch and the messages in brackets
    (aws/aws-sdk-kotlin#1435).

    moto checks against a journal of past changes instead, adds duplicates,
    and a DELETE with a SetIdentifier removes every record with that
    identifier; so a valid batch is applied here, to moto's zone, with AWS's
    record identity (and logged in moto's journal)."""
    if not call.strict:
        return front.forward(call.environ)
    backend = route53_backend(call.account)
    zone = backend.zones.get(call.labels.get("Id", "").split("/")[-1])
    request = call.xml_body()
    changes = _child(_child(request, "ChangeBatch"), "Changes")
    if zone is None or changes is None:
        return front.forward(call.environ)
    zone_name = _record_name(zone.name)
    current = {}
    for rs in list(zone.rrsets):
        record = _stored_record(rs)
        current[_record_key(rs.name, rs.type, rs.set_identifier)] = record
    errors = []
    plan = []
    for change in changes:
        if _local(change.tag) != "Change":
            continue
        action = _text(change, "Action")
        element = _child(change, "ResourceRecordSet")
        if element is None or action not in ("CREATE", "DELETE", "UPSERT"):
            return front.forward(call.environ)
        record = _requested_record(element)
        name = _record_name(record["Name"])
        if name != zone_name and not name.endswith("." + zone_name):
            errors.append(f"RRSet with DNS name {name} is not permitted in zone {zone_name}")
            continue
        key = _record_key(record["Name"], record["Type"], record.get("SetIdentifier"))
        label = _record_label(record["Name"], record["Type"], record.get("SetIdentifier"))
        if action == "CREATE":
            if key in current:
                errors.append(f"Tried to create resource record set {label} but it already exists")
                continue
            current[key] = record
        elif action == "UPSERT":
            current[key] = record
        else:
            if key not in current:
                errors.append(f"Tried to delete resource record set {label} but it was not found")
                continue
            if _record_values(current[key]) != _record_values(record):
                errors.append(f"Tried to delete resource record set {label} but the values provided do not match the current values")
                continue
            del current[key]
        plan.append((action, key, record))
    if errors:
        return front.reject(call, "InvalidChangeBatch", 400, "[" + ", ".join(errors) + "]")

    from moto.route53.models import RecordSet

    for action, key, record in plan:
        journal = {"Action": action, "ResourceRecordSet": copy.deepcopy(record)}
        stored = dict(record)
        if not stored["Name"].endswith("."):
            stored["Name"] += "."
        if "ResourceRecords" in stored:
            stored["ResourceRecords"] = [r["Value"] for r in stored["ResourceRecords"]]
        kept = [rs for rs in zone.rrsets if _record_key(rs.name, rs.type, rs.set_identifier) != key]
        if action != "DELETE":
            kept.append(RecordSet(stored))
        zone.rrsets = kept
        zone.rr_changes.append(journal)
    change_id = "C" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))
    submitted = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<ChangeResourceRecordSetsResponse xmlns="{XML_NAMESPACES["route53"]}"><ChangeInfo>'
        f"<Id>/change/{change_id}</Id><Status>INSYNC</Status><SubmittedAt>{submitted}</SubmittedAt>"
        "</ChangeInfo></ChangeResourceRecordSetsResponse>"
    )
    return Response(200, [("Content-Type", "text/xml"), ("x-amzn-RequestId", new_request_id())], body.encode())


# -- CloudFront ----------------------------------------------------------------


def _new_etag():
    return "E" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))


def _distribution_state(front, call, dist_id, moto_etag=None):
    state = front.state.distributions.get(dist_id)
    if state is None:
        if moto_etag is None:
            dist = cloudfront_backend(call.account).distributions.get(dist_id)
            moto_etag = getattr(dist, "etag", None) or _new_etag()
        state = front.state.distributions[dist_id] = {"etag": moto_etag, "deployed_at": 0.0}
    return state


def _deploy_status(front, dist_id):
    state = front.state.distributions.get(dist_id)
    if state is not None and time.time() < state["deployed_at"]:
        return "InProgress"
    return "Deployed"


def _with_status(body, status):
    return re.sub(rb"<Status>[^<]*</Status>", b"<Status>" + status.encode() + b"</Status>", body, count=1)


def _distribution_id(body):
    found = re.search(rb"<Id>([^<]+)</Id>", body)
    return found.group(1).decode() if found else None


def _enabled(dist):
    return str(getattr(dist.distribution_config, "Enabled", "false")).lower() == "true"


@strict("cloudfront", "CreateDistribution")
@strict("cloudfront", "CreateDistributionWithTags")
def cloudfront_create(front, call):
    """CloudFront Developer Guide, "Distribution status": a new or updated
    distribution is InProgress until deployed to every edge location (moto
    reads Deployed immediately). The ETag is the front's own (see
    UpdateDistribution)."""
    response = front.forward(call.environ)
    if not response.ok():
        return response
    dist_id = _distribution_id(response.body)
    state = front.state.distributions[dist_id] = {
        "etag": response.header("ETag") or _new_etag(),
        "deployed_at": time.time() + CLOUDFRONT_DEPLOY_SECONDS,
    }
    if call.strict:
        response.set_header("ETag", state["etag"])
        response.body = _with_status(response.body, "InProgress")
    return response


@strict("cloudfront", "GetDistribution")
@strict("cloudfront", "GetDistributionConfig")
def cloudfront_get(front, call):
    """The current ETag of the distribution, and InProgress for
    HARSH_CLOUDFRONT_DEPLOY_SECONDS after a create or update."""
    response = front.forward(call.environ)
    if not response.ok() or not call.strict:
        return response
    dist_id = call.labels.get("Id", "")
    state = _distribution_state(front, call, dist_id, response.header("ETag"))
    response.set_header("ETag", state["etag"])
    if call.operation == "GetDistribution":
        response.body = _with_status(response.body, _deploy_status(front, dist_id))
    return response


@strict("cloudfront", "ListDistributions")
def cloudfront_list(front, call):
    response = front.forward(call.environ)
    if not response.ok() or not call.strict:
        return response

    def summary(found):
        block = found.group(0)
        dist_id = _distribution_id(block)
        return _with_status(block, _deploy_status(front, dist_id)) if dist_id else block

    response.body = re.sub(rb"<DistributionSummary>.*?</DistributionSummary>", summary, response.body, flags=re.S)
    return response


def _precondition(front, call, dist_id):
    """CloudFront API reference, UpdateDistribution / DeleteDistribution:
    If-Match must be the ETag of the distribution's current version, else
    PreconditionFailed (412). moto accepts any non-empty value and never
    changes its ETag; the front keeps an ETag per distribution that each
    successful update replaces."""
    if_match = call.header("If-Match")
    if not if_match or dist_id not in cloudfront_backend(call.account).distributions:
        return None  # moto answers InvalidIfMatchVersion / NoSuchDistribution
    if if_match != _distribution_state(front, call, dist_id)["etag"]:
        return front.reject(
            call,
            "PreconditionFailed",
            412,
            "The precondition given in one or more of the request-header fields evaluated to false.",
        )
    return None


@strict("cloudfront", "UpdateDistribution")
def cloudfront_update(front, call):
    dist_id = call.labels.get("Id", "")
    if call.strict:
        rejected = _precondition(front, call, dist_id)
        if rejected is not None:
            return rejected
    response = front.forward(call.environ)
    if not response.ok():
        return response
    state = _distribution_state(front, call, dist_id)
    state["etag"] = _new_etag()
    state["deployed_at"] = time.time() + CLOUDFRONT_DEPLOY_SECONDS
    if call.strict:
        response.set_header("ETag", state["etag"])
        response.body = _with_status(response.body, "InProgress")
    return response


@strict("cloudfront", "DeleteDistribution")
def cloudfront_delete(front, call):
    """CloudFront API reference, DeleteDistribution: "you must first disable
    the distribution" and wait until its status is Deployed, else
    DistributionNotDisabled (409). moto deletes enabled distributions."""
    dist_id = call.labels.get("Id", "")
    if call.strict:
        rejected = _precondition(front, call, dist_id)
        if rejected is not None:
            return rejected
        dist = cloudfront_backend(call.account).distributions.get(dist_id)
        if dist is not None and call.header("If-Match"):
            if _enabled(dist):
                return front.reject(
                    call, "DistributionNotDisabled", 409, "The distribution you are trying to delete has not been disabled."
                )
            if _deploy_status(front, dist_id) != "Deployed":
                return front.reject(
                    call,
                    "DistributionNotDisabled",
                    409,
                    "The distribution you are trying to delete is still being deployed (Status: InProgress).",
                )
    response = front.forward(call.environ)
    if response.ok():
        front.state.distributions.pop(dist_id, None)
    return response


# -- ACM -----------------------------------------------------------------------


def certificate_users(arn):
    """ARNs of the API Gateway domain names (any region) and CloudFront
    distributions that use certificate ``arn``."""
    users = []
    account = arn.split(":")[4] if arn.count(":") >= 5 else ACCOUNT
    gateways = _backends("moto.apigateway.models", "apigateway_backends", account)
    for region, backend in list(dict.items(gateways)):
        for domain in list(backend.domain_names.values()):
            if arn in (domain.certificate_arn, domain.regional_certificate_arn):
                users.append(f"arn:aws:apigateway:{region}::/domainnames/{domain.domain_name}")
    distributions = _backends("moto.cloudfront.models", "cloudfront_backends", account)
    for _, backend in list(dict.items(distributions)):
        for dist in list(backend.distributions.values()):
            certificate = getattr(dist.distribution_config, "ViewerCertificate", None)
            if getattr(certificate, "acm_certificate_arn", None) == arn:
                users.append(dist.arn)
    return sorted(users)


@strict("acm", "DeleteCertificate")
def acm_delete_certificate(front, call):
    """ACM API reference, DeleteCertificate: "You cannot delete an ACM
    certificate that is being used by another AWS service" →
    ResourceInUseException. moto deletes it."""
    if call.strict:
        arn = call.json_body().get("CertificateArn", "")
        users = certificate_users(arn)
        if users:
            return front.reject(call, "ResourceInUseException", 400, f"Certificate {arn} is in use.")
    return front.forward(call.environ)


@strict("acm", "DescribeCertificate")
def acm_describe_certificate(front, call):
    """ACM API reference, CertificateDetail.InUseBy: "A list of ARNs for the
    AWS resources that are using the certificate". moto leaves it empty for
    API Gateway and CloudFront."""
    response = front.forward(call.environ)
    if not response.ok() or not call.strict:
        return response
    try:
        document = json.loads(response.body)
    except ValueError:
        return response
    certificate = document.get("Certificate")
    if isinstance(certificate, dict):
        users = set(certificate.get("InUseBy") or []) | set(certificate_users(certificate.get("CertificateArn", "")))
        certificate["InUseBy"] = sorted(users)
        response.body = json.dumps(document).encode("utf-8")
    return response


# -- CloudWatch over Smithy RPC v2 CBOR ---------------------------------------------
#
# The AWS SDKs speak CBOR to CloudWatch (smithy-rpc-v2-cbor); moto 5.2.5 only
# the query and JSON protocols. The front answers the alarm operations the
# operator calls from moto's CloudWatch backend itself, with a small CBOR codec
# (RFC 8949: the major types, definite and indefinite lengths, tag 1 times).


def cbor_decode(data):
    value, end = _cbor_item(data, 0)
    return value


def _cbor_length(data, at, info):
    if info < 24:
        return info, at
    size = {24: 1, 25: 2, 26: 4, 27: 8}[info]
    return int.from_bytes(data[at : at + size], "big"), at + size


def _cbor_item(data, at):
    initial = data[at]
    at += 1
    major, info = initial >> 5, initial & 0x1F
    if major == 7:
        if info == 20:
            return False, at
        if info == 21:
            return True, at
        if info in (22, 23):
            return None, at
        import struct

        if info == 25:
            bits = int.from_bytes(data[at : at + 2], "big")
            sign = -1.0 if bits & 0x8000 else 1.0
            exponent, fraction = (bits >> 10) & 0x1F, bits & 0x3FF
            if exponent == 0:
                value = fraction * 2.0**-24
            elif exponent == 31:
                value = math.inf if fraction == 0 else math.nan
            else:
                value = (1 + fraction / 1024.0) * 2.0 ** (exponent - 15)
            return sign * value, at + 2
        if info == 26:
            return struct.unpack(">f", data[at : at + 4])[0], at + 4
        if info == 27:
            return struct.unpack(">d", data[at : at + 8])[0], at + 8
        raise ValueError(f"CBOR simple value {info}")
    if info == 31:  # indefinite length
        if major in (2, 3):
            parts = []
            while data[at] != 0xFF:
                part, at = _cbor_item(data, at)
                parts.append(part)
            joined = b"".join(parts) if major == 2 else "".join(parts)
            return joined, at + 1
        if major == 4:
            items = []
            while data[at] != 0xFF:
                item, at = _cbor_item(data, at)
                items.append(item)
            return items, at + 1
        if major == 5:
            mapping = {}
            while data[at] != 0xFF:
                key, at = _cbor_item(data, at)
                mapping[key], at = _cbor_item(data, at)
            return mapping, at + 1
        raise ValueError("CBOR indefinite length of a scalar")
    length, at = _cbor_length(data, at, info)
    if major == 0:
        return length, at
    if major == 1:
        return -1 - length, at
    if major == 2:
        return bytes(data[at : at + length]), at + length
    if major == 3:
        return data[at : at + length].decode("utf-8"), at + length
    if major == 4:
        items = []
        for _ in range(length):
            item, at = _cbor_item(data, at)
            items.append(item)
        return items, at
    if major == 5:
        mapping = {}
        for _ in range(length):
            key, at = _cbor_item(data, at)
            mapping[key], at = _cbor_item(data, at)
        return mapping, at
    # major 6: a tag; its value stands for it (tag 1: epoch seconds).
    return _cbor_item(data, at)


def _cbor_head(major, length):
    if length < 24:
        return bytes([(major << 5) | length])
    for info, size in ((24, 1), (25, 2), (26, 4), (27, 8)):
        if length < 1 << (8 * size):
            return bytes([(major << 5) | info]) + length.to_bytes(size, "big")
    raise ValueError("CBOR length too large")


def cbor_encode(value):
    import struct

    if value is None:
        return b"\xf6"
    if value is True:
        return b"\xf5"
    if value is False:
        return b"\xf4"
    if isinstance(value, int):
        return _cbor_head(0, value) if value >= 0 else _cbor_head(1, -1 - value)
    if isinstance(value, float):
        return b"\xfb" + struct.pack(">d", value)
    if isinstance(value, bytes):
        return _cbor_head(2, len(value)) + value
    if isinstance(value, str):
        encoded = value.encode("utf-8")
        return _cbor_head(3, len(encoded)) + encoded
    if isinstance(value, (list, tuple)):
        return _cbor_head(4, len(value)) + b"".join(cbor_encode(v) for v in value)
    if isinstance(value, dict):
        return _cbor_head(5, len(value)) + b"".join(cbor_encode(k) + cbor_encode(v) for k, v in value.items())
    if hasattr(value, "timestamp"):
        return b"\xc1" + cbor_encode(float(value.timestamp()))
    raise TypeError(f"no CBOR for {type(value).__name__}")


def _cbor_response(status, document):
    headers = [("Content-Type", "application/cbor"), ("smithy-protocol", "rpc-v2-cbor")]
    return Response(status, headers, cbor_encode(document))


def _cbor_error(code, message, status=400):
    response = _cbor_response(status, {"__type": f"com.amazonaws.cloudwatch#{code}", "message": message})
    response.headers.append(("x-harsh-strict", "1"))
    return response


def _alarm_document(alarm):
    document = {
        "AlarmName": alarm.name,
        "AlarmArn": alarm.alarm_arn,
        "Namespace": alarm.namespace,
        "MetricName": alarm.metric_name,
        "Dimensions": [{"Name": d.name, "Value": d.value} for d in alarm.dimensions],
        "Statistic": alarm.statistic,
        "Period": int(alarm.period),
        "EvaluationPeriods": int(alarm.evaluation_periods),
        "Threshold": float(alarm.threshold),
        "ComparisonOperator": alarm.comparison_operator,
        "ActionsEnabled": bool(alarm.actions_enabled),
        "AlarmActions": list(alarm.alarm_actions or []),
        "OKActions": list(alarm.ok_actions or []),
        "InsufficientDataActions": list(alarm.insufficient_data_actions or []),
        "StateValue": alarm.state_value,
        "StateReason": alarm.state_reason,
        "StateUpdatedTimestamp": alarm.state_updated_timestamp,
        "AlarmConfigurationUpdatedTimestamp": alarm.configuration_updated_timestamp,
    }
    if alarm.description:
        document["AlarmDescription"] = alarm.description
    if alarm.treat_missing_data:
        document["TreatMissingData"] = alarm.treat_missing_data
    return {k: v for k, v in document.items() if v is not None}


def cloudwatch_cbor(front, call):
    """PutMetricAlarm, DescribeAlarms, DeleteAlarms, ListTagsForResource and
    TagResource of CloudWatch, answered in CBOR from moto's backend."""
    backend = _backends("moto.cloudwatch.models", "cloudwatch_backends", call.account)[call.region]
    try:
        request = cbor_decode(call.body) if call.body else {}
    except (ValueError, IndexError, KeyError) as err:
        return _cbor_error("SerializationException", f"not CBOR: {err}")
    operation = call.operation
    with front.aws_lock:
        if operation == "PutMetricAlarm":
            backend.put_metric_alarm(
                name=request.get("AlarmName", ""),
                namespace=request.get("Namespace", ""),
                metric_name=request.get("MetricName", ""),
                comparison_operator=request.get("ComparisonOperator", ""),
                evaluation_periods=int(request.get("EvaluationPeriods", 1)),
                period=int(request.get("Period", 60)),
                threshold=float(request.get("Threshold", 0)),
                statistic=request.get("Statistic", ""),
                description=request.get("AlarmDescription", ""),
                dimensions=request.get("Dimensions", []),
                alarm_actions=request.get("AlarmActions", []),
                ok_actions=request.get("OKActions", []),
                insufficient_data_actions=request.get("InsufficientDataActions", []),
                treat_missing_data=request.get("TreatMissingData"),
                actions_enabled=request.get("ActionsEnabled", True),
                tags=request.get("Tags", []),
            )
            return _cbor_response(200, {})
        if operation == "DescribeAlarms":
            names = request.get("AlarmNames")
            prefix = request.get("AlarmNamePrefix")
            alarms = list(backend.describe_alarms())
            if names:
                alarms = [a for a in alarms if a.name in names]
            if prefix:
                alarms = [a for a in alarms if a.name.startswith(prefix)]
            alarms.sort(key=lambda a: a.name)
            return _cbor_response(200, {"MetricAlarms": [_alarm_document(a) for a in alarms], "CompositeAlarms": []})
        if operation == "DeleteAlarms":
            backend.delete_alarms(request.get("AlarmNames", []))
            return _cbor_response(200, {})
        if operation == "ListTagsForResource":
            tags = backend.list_tags_for_resource(request.get("ResourceARN", ""))
            return _cbor_response(200, {"Tags": [{"Key": k, "Value": v} for k, v in tags.items()]})
        if operation == "TagResource":
            backend.tag_resource(request.get("ResourceARN", ""), request.get("Tags", []))
            return _cbor_response(200, {})
    return _cbor_error("InvalidAction", f"the harsh front does not answer CloudWatch {operation} in CBOR")


# -- DynamoDB --------------------------------------------------------------------


def dynamodb_backend(account, region):
    return _backends("moto.dynamodb.models", "dynamodb_backends", account)[region]


REPLICA_LOCK = threading.Lock()
# (account, table name) -> the regions of one global table (2019.11.21).
REPLICA_GROUPS = {}


def replica_group(account, name, region):
    """The regions of the global table `name` that `region` belongs to; empty
    for a table that is not global."""
    with REPLICA_LOCK:
        group = REPLICA_GROUPS.get((account, name), set())
        return set(group) if region in group else set()


def _json_response(front, call, document):
    # moto's descriptions hold datetimes; AWS's JSON protocols send epoch seconds.
    body = json.dumps(document, default=lambda o: o.timestamp() if hasattr(o, "timestamp") else str(o)).encode("utf-8")
    return Response(200, [("Content-Type", "application/x-amz-json-1.0")], body)


@strict("dynamodb", "UpdateTable")
def dynamodb_update_table(front, call):
    """DynamoDB developer guide, global tables version 2019.11.21: UpdateTable
    with ReplicaUpdates adds (Create) or removes (Delete) a replica in another
    region. moto has no replicas: a Create copies the table (keys, billing,
    stream) into that region, a Delete deletes it there (refused while its
    deletion protection is on). Strict or not: it is a moto gap."""
    body = call.json_body()
    updates = body.get("ReplicaUpdates")
    if not updates:
        return front.forward(call.environ)
    name = body.get("TableName", "")
    table = dynamodb_backend(call.account, call.region).tables.get(name)
    if table is None:
        return front.reject(call, "ResourceNotFoundException", 400, f"Requested resource not found: Table: {name} not found")
    for update in updates:
        if "Create" in update:
            region = update["Create"].get("RegionName", "")
            target = dynamodb_backend(call.account, region)
            if name in target.tables:
                return front.reject(
                    call,
                    "ValidationException",
                    400,
                    f"Failed to create a the new replica of table with name: '{name}' because one or more replicas already existed as tables.",
                )
            target.create_table(
                name,
                schema=copy.deepcopy(table.schema),
                throughput=copy.deepcopy(table.throughput) if table.billing_mode == "PROVISIONED" else None,
                attr=copy.deepcopy(table.attr),
                global_indexes=None,
                indexes=None,
                streams=copy.deepcopy(table.stream_specification),
                billing_mode=table.billing_mode,
                sse_specification=None,
                tags=[],
                deletion_protection_enabled=False,
                warm_throughput=None,
            )
            with REPLICA_LOCK:
                group = REPLICA_GROUPS.setdefault((call.account, name), set())
                group.update({call.region, region})
        elif "Delete" in update:
            region = update["Delete"].get("RegionName", "")
            target = dynamodb_backend(call.account, region)
            replica = target.tables.get(name)
            if replica is None:
                return front.reject(call, "ValidationException", 400, f"Replica {region} of table {name} does not exist.")
            if replica.deletion_protection_enabled:
                return front.reject(
                    call,
                    "ValidationException",
                    400,
                    f"Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first.",
                )
            target.tables.pop(name, None)
            with REPLICA_LOCK:
                REPLICA_GROUPS.get((call.account, name), set()).discard(region)
    document = table.describe()
    document["TableDescription"]["Replicas"] = _replicas(call.account, name, call.region)
    return _json_response(front, call, document)


def _replicas(account, name, region):
    return [
        {"RegionName": other, "ReplicaStatus": "ACTIVE"}
        for other in sorted(replica_group(account, name, region) - {region})
    ]


@strict("dynamodb", "DescribeTable")
def dynamodb_describe_table(front, call):
    """TableDescription.Replicas: the other regions of a global table, which
    moto never lists."""
    response = front.forward(call.environ)
    if not response.ok():
        return response
    try:
        document = json.loads(response.body)
    except ValueError:
        return response
    table = document.get("Table")
    if isinstance(table, dict):
        replicas = _replicas(call.account, table.get("TableName", ""), call.region)
        if replicas:
            table["Replicas"] = replicas
            response.body = json.dumps(document).encode("utf-8")
    return response


@strict("dynamodb", "DeleteTable")
def dynamodb_delete_table(front, call):
    """Deleting one replica leaves the others a global table without it."""
    response = front.forward(call.environ)
    if response.ok():
        name = call.json_body().get("TableName", "")
        with REPLICA_LOCK:
            REPLICA_GROUPS.get((call.account, name), set()).discard(call.region)
    return response


# -- API Gateway ---------------------------------------------------------------


def _rest_api(call):
    return apigateway_backend(call.account, call.region).apis.get(call.labels.get("restapi_id", ""))


@strict("apigateway", "CreateResource")
def apigateway_create_resource(front, call):
    """API Gateway: a second resource with the same pathPart under one parent
    → ConflictException (409) "Another resource with the same parent already
    has this name: …". moto creates a second resource."""
    api = _rest_api(call)
    if call.strict and api is not None:
        parent = call.labels.get("parent_id")
        part = call.json_body().get("pathPart")
        for resource in list(api.resources.values()):
            if resource.parent_id == parent and resource.path_part == part:
                return front.reject(call, "ConflictException", 409, f"Another resource with the same parent already has this name: {part}")
    return front.forward(call.environ)


@strict("apigateway", "PutMethod")
def apigateway_put_method(front, call):
    """API Gateway PutMethod on a method that exists → ConflictException
    (409) "Method already exists for this resource". moto replaces it."""
    api = _rest_api(call)
    if call.strict and api is not None:
        resource = api.resources.get(call.labels.get("resource_id", ""))
        method = call.labels.get("http_method", "").upper()
        if resource is not None and method in resource.resource_methods:
            return front.reject(call, "ConflictException", 409, "Method already exists for this resource")
    return front.forward(call.environ)


@strict("apigateway", "CreateDomainName")
def apigateway_create_domain_name(front, call):
    """API Gateway CreateDomainName of an existing name → ConflictException
    (409) "The domain name you provided already exists.". moto overwrites."""
    if call.strict:
        name = call.json_body().get("domainName")
        if name in apigateway_backend(call.account, call.region).domain_names:
            return front.reject(call, "ConflictException", 409, "The domain name you provided already exists.")
    return front.forward(call.environ)


@strict("apigateway", "CreateBasePathMapping")
def apigateway_create_base_path_mapping(front, call):
    """API Gateway CreateBasePathMapping of a base path the domain already
    maps → ConflictException (409) "Base path already exists for this domain
    name". moto accepts a second empty base path, "(none)"."""
    if call.strict:
        domain = call.labels.get("domain_name", "")
        base_path = call.json_body().get("basePath") or "(none)"
        if base_path in (apigateway_backend(call.account, call.region).base_path_mappings.get(domain) or {}):
            return front.reject(call, "ConflictException", 409, "Base path already exists for this domain name")
    return front.forward(call.environ)


_TAGGABLE = re.compile(r"^arn:aws[a-z-]*:apigateway:([a-z0-9-]+)::/(restapis|domainnames)/([^/]+)$")


@strict("apigateway", "TagResource")
def apigateway_tag_resource(front, call):
    """API Gateway TagResource of a REST API or a custom domain name → the
    tags merged into its own, 204. moto tags stages only and fails on the
    rest. Corrected whether or not strict answers are on: a gap of moto."""
    found = _TAGGABLE.match(call.labels.get("resource_arn", ""))
    if found is None:
        return front.forward(call.environ)
    region, kind, name = found.groups()
    backend = apigateway_backend(call.account, region)
    resources = backend.apis if kind == "restapis" else backend.domain_names
    resource = resources.get(name)
    if resource is None:
        return error_response(call, "NotFoundException", 404, "Invalid resource identifier specified")
    resource.tags = {**(resource.tags or {}), **(call.json_body().get("tags") or {})}
    return Response(204, [], b"")


@strict("apigateway", "GetBasePathMappings")
def apigateway_get_base_path_mappings(front, call):
    """API Gateway GetBasePathMappings of a domain without mappings → 200 with
    no items. moto fails with HTTP 500 (KeyError) until a first mapping is
    made, as after a crash between CreateDomainName and CreateBasePathMapping.
    Corrected whether or not strict answers are on: it is a moto bug."""
    backend = apigateway_backend(call.account, call.region)
    domain = call.labels.get("domain_name", "")
    if domain in backend.domain_names and domain not in backend.base_path_mappings:
        body = json.dumps({"item": []}).encode()
        return Response(200, [("Content-Type", "application/json")], body)
    return front.forward(call.environ)


# --------------------------------------------------------------------------
# Serving
# --------------------------------------------------------------------------


def correct_moto_rds():
    """AWS removes a member of a global database from any region (the call
    is made in the member's region) and forgets a deleted member; moto only
    does either for a cluster in us-east-1, so a global cluster with a member
    elsewhere can never be emptied nor deleted. Corrected in moto's backend
    classes, strict or not: it is a moto bug."""
    from moto.rds import models

    def backends():
        for account in list(models.rds_backends.keys()):
            for region in list(models.rds_backends[account].keys()):
                yield models.rds_backends[account][region]

    def matches(cluster, identifier):
        return identifier in (cluster.db_cluster_arn, cluster.db_cluster_identifier)

    original_remove = models.RDSBackend.remove_from_global_cluster

    def remove_from_global_cluster(self, global_cluster_identifier, db_cluster_identifier):
        for backend in backends():
            global_cluster = backend.global_clusters.get(global_cluster_identifier)
            if global_cluster is None:
                continue
            for member in list(global_cluster.members):
                if matches(member, db_cluster_identifier):
                    global_cluster.members.remove(member)
                    return global_cluster
        return original_remove(self, global_cluster_identifier, db_cluster_identifier)

    original_delete = models.RDSBackend.delete_db_cluster

    def delete_db_cluster(self, cluster_identifier, snapshot_name=None):
        cluster = original_delete(self, cluster_identifier, snapshot_name)
        for backend in backends():
            for global_cluster in list(backend.global_clusters.values()):
                if cluster in global_cluster.members:
                    global_cluster.members.remove(cluster)
        return cluster

    models.RDSBackend.remove_from_global_cluster = remove_from_global_cluster
    models.RDSBackend.delete_db_cluster = delete_db_cluster

    # ModifyGlobalCluster is not implemented in moto (HTTP 500); AWS changes
    # DeletionProtection with it, which a protected global database needs
    # before it can be deleted.
    from moto.core.responses import ActionResult
    from moto.rds import responses
    from moto.rds.exceptions import RDSClientError

    def modify_global_cluster(self):
        params = self.params
        identifier = params["GlobalClusterIdentifier"]
        global_cluster = self.global_backend.global_clusters.get(identifier)
        if global_cluster is None:
            raise RDSClientError("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")
        if "DeletionProtection" in params:
            value = params["DeletionProtection"]
            if isinstance(value, str):
                value = value.lower() == "true"
            global_cluster.deletion_protection = bool(value)
        return ActionResult({"GlobalCluster": global_cluster})

    responses.RDSResponse.modify_global_cluster = modify_global_cluster

    # moto takes EnableGlobalWriteForwarding at CreateDBCluster only: at
    # ModifyDBCluster it sets an attribute nothing reads.
    original_modify_cluster = models.RDSBackend.modify_db_cluster

    def modify_db_cluster(self, kwargs):
        forwarding = kwargs.pop("enable_global_write_forwarding", None)
        identifier = kwargs.get("new_db_cluster_identifier") or kwargs.get("db_cluster_identifier")
        answer = original_modify_cluster(self, kwargs)
        if forwarding is not None:
            if isinstance(forwarding, str):
                forwarding = forwarding.lower() == "true"
            # moto answers with a copy of the cluster it keeps.
            for cluster in (answer, self.clusters.get(identifier)):
                if cluster is not None:
                    cluster._global_write_forwarding_requested = bool(forwarding)
        return answer

    models.RDSBackend.modify_db_cluster = modify_db_cluster

    # SwitchoverGlobalCluster and FailoverGlobalCluster are not implemented
    # in moto (HTTP 500). As AWS does, the global cluster is `switching-over`
    # (planned, the writer waits for the secondaries to catch up) or
    # `failing-over` for a while, then the target cluster is the writer;
    # HARSH_RDS_WRITER_MOVE_SECONDS sets the while (default 2).
    move_seconds = float(os.environ.get("HARSH_RDS_WRITER_MOVE_SECONDS", "2"))

    def move_writer(self, operation, status):
        params = self.params
        identifier = params.get("GlobalClusterIdentifier", "")
        target_id = params.get("TargetDbClusterIdentifier", "")
        global_cluster = None
        for backend in backends():
            global_cluster = backend.global_clusters.get(identifier)
            if global_cluster is not None:
                break
        if global_cluster is None:
            raise RDSClientError("GlobalClusterNotFoundFault", f"Global cluster {identifier} not found.")
        if global_cluster.status != "available":
            raise RDSClientError(
                "InvalidGlobalClusterStateFault",
                f"Global cluster {identifier} is in {global_cluster.status} state; {operation} needs it available.",
            )
        target = next((m for m in global_cluster.members if matches(m, target_id)), None)
        if target is None:
            raise RDSClientError(
                "DBClusterNotFoundFault",
                f"DBCluster {target_id} is not a member of global cluster {identifier}.",
            )
        if target.is_writer:
            raise RDSClientError(
                "InvalidParameterValue",
                f"DBCluster {target_id} is already the writer of global cluster {identifier}.",
            )
        global_cluster.status = status

        def finish():
            for member in global_cluster.members:
                member.is_writer = member is target
            global_cluster.status = "available"

        timer = threading.Timer(move_seconds, finish)
        timer.daemon = True
        timer.start()
        return ActionResult({"GlobalCluster": global_cluster})

    def switchover_global_cluster(self):
        return move_writer(self, "SwitchoverGlobalCluster", "switching-over")

    def failover_global_cluster(self):
        return move_writer(self, "FailoverGlobalCluster", "failing-over")

    responses.RDSResponse.switchover_global_cluster = switchover_global_cluster
    responses.RDSResponse.failover_global_cluster = failover_global_cluster


def lighten_moto():
    """Two costs of moto that have nothing to do with what it answers, taken
    out because the whole suite waits on this one process (measured with a
    sampling profiler over the fault matrix: together about half its CPU):
    every request lists moto's package directory, under the dispatcher's
    lock, to see whether the Host names a backend; every requested
    certificate generates, then parses back, a new 2048-bit RSA key. The
    directory listing is made once; one RSA key is made once and serves every
    certificate (each still gets its own serial number, names and ARN)."""
    import functools

    from cryptography.hazmat.primitives.asymmetric import rsa
    from moto import backends
    from moto.acm import models as acm

    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules

    generate = rsa.generate_private_key

    @functools.lru_cache(maxsize=4)
    def one_key(public_exponent, key_size):
        return generate(public_exponent=public_exponent, key_size=key_size)

    def generate_private_key(public_exponent, key_size, backend=None):
        return one_key(public_exponent, key_size)

    rsa.generate_private_key = generate_private_key

    validate = acm.CertBundle.validate_pk
    loaded = {}
    loaded_lock = threading.Lock()

    def validate_pk(self):
        with loaded_lock:
            key = loaded.get(self.key)
        if key is None:
            key = validate(self)
            with loaded_lock:
                loaded[self.key] = key
        return key

    acm.CertBundle.validate_pk = validate_pk

    # moto builds a service's request router on first use, unlocked: a burst
    # of first requests (a suite starting many tests at once) had every
    # thread build it, for minutes under the GIL, some failing half-way with
    # AttributeError 'http_trait'. Built once, under a lock, before serving.
    from moto.core import routing

    build_router = routing.ServiceOperationRouter._get_router
    router_lock = threading.Lock()

    def get_router(self, protocol):
        router = self._routers.get(protocol)
        if router is None:
            with router_lock:
                router = build_router(self, protocol)
        return router

    routing.ServiceOperationRouter._get_router = get_router
    for service in ("route53", "cloudfront", "apigateway", "lambda"):
        try:
            router = routing.get_service_router(service)
            router._get_router(router._service_model.metadata.get("protocol"))
        except Exception as err:  # a router moto cannot build is built on demand, as before
            log(f"warming the {service} router: {err!r}")


def main(argv=None):
    from werkzeug.serving import run_simple

    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

    class HarshRequestHandler(MotoRequestHandler):
        def make_environ(self):
            environ = super().make_environ()
            environ["harsh.handler"] = self
            return environ

        def connection_dropped(self, error, environ=None):
            self.close_connection = True

        def log_request(self, code="-", size="-"):
            # A line per request cost a twentieth of the process under the
            # whole suite; the front logs what it injects and refuses.
            pass

    parser = argparse.ArgumentParser(description="moto behind the harsh AWS front")
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=int(os.environ.get("MOTO_PORT", 5000)))
    args = parser.parse_args(argv)
    os.environ.setdefault("MOTO_PORT", str(args.port))

    def stop(signum, frame):
        sys.exit(0)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)

    correct_moto_rds()
    lighten_moto()
    moto_app = DomainDispatcherApplication(create_backend_app)
    moto_app.debug = True
    front = HarshFront(moto_app)
    if DEFAULT_QUOTAS and front.quota_table is None:
        sys.exit(f"harsh: HARSH_QUOTAS is on but {front.quota_error}")
    log(
        f"serving moto on {args.host}:{args.port}; strict by default: {DEFAULT_STRICT}; "
        f"quotas by default: {DEFAULT_QUOTAS} (scale {DEFAULT_QUOTA_SCALE})"
    )
    run_simple(args.host, args.port, front, threaded=True, request_handler=HarshRequestHandler)


if __name__ == "__main__":
    main()
