# alertbridge's Python rule worker. The Go side (package pyrules) starts it
# with `python3 -I -B -c <this file> MEMORY_BYTES CALL_TIMEOUT_SECONDS` and
# talks to it over two pipes: requests arrive as one JSON object a line on
# fd 3, answers leave the same way on fd 4. stdout and stderr stay free for
# what rules print, so nothing a rule does can corrupt the protocol.
#
# It runs Panther's detections as they are written: rules, global helpers
# (importable by their GlobalID) and data models (event.udm), with an event
# object that behaves as Panther's PantherEvent.
import contextlib
import gc
import importlib.abc
import importlib.util
import io
import json
import os
import resource
import signal
import sys
import time
import traceback
import types
from collections.abc import Mapping, Sequence
from functools import reduce
from unittest import mock

FUNCS = ("title", "dedup", "severity", "destinations", "alert_context",
         "runbook", "reference", "description")
STR_FUNCS = ("title", "dedup", "severity", "runbook", "reference", "description")
SEVERITIES = ("INFO", "LOW", "MEDIUM", "HIGH", "CRITICAL", "DEFAULT")


# ---------------------------------------------------------------- limits

class RuleTimeout(BaseException):
    """Raised into a rule that runs past its time limit. A BaseException, so
    a rule's `except Exception` does not swallow it."""


_call_started = 0.0  # monotonic time the running rule call began; 0 between calls
_call_limit = 1.0


def _tick(signum, frame):
    # A periodic timer, armed once, rather than one per call: arming and
    # disarming a timer around each call would cost two system calls a call.
    # It raises only into a frame of rule code (this file's frames are
    # "<string>"), never into the worker's own bookkeeping.
    started = _call_started
    if started and time.monotonic() - started > _call_limit and frame is not None \
            and frame.f_code.co_filename != "<string>":
        raise RuleTimeout("time limit exceeded (%gs)" % _call_limit)


def set_limits(memory, timeout):
    global _call_limit
    _call_limit = timeout
    if memory > 0:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    signal.signal(signal.SIGALRM, _tick)
    tick = max(timeout / 10, 0.005)
    signal.setitimer(signal.ITIMER_REAL, tick, tick)


# ---------------------------------------------------------------- the event

def _immutable(v):
    if isinstance(v, dict):
        return ImmutableCaseInsensitiveDict(v)
    if isinstance(v, list):
        return ImmutableList(v)
    return v


def _mutable(v):
    if isinstance(v, ImmutableDict):
        return {k: _mutable(x) for k, x in v._container.items()}
    if isinstance(v, ImmutableList):
        return [_mutable(x) for x in v]
    return v


class ImmutableList(list):
    """A read-only list whose nested objects are read-only too. It is a list,
    so the `isinstance(x, list)` checks Panther's rules make hold."""

    __slots__ = ()

    def __init__(self, data):
        super().__init__(_immutable(x) for x in data)

    def _readonly(self, *args, **kwargs):
        raise TypeError("the event is read-only")

    append = extend = insert = pop = remove = clear = sort = reverse = _readonly
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _readonly

    def __hash__(self):
        return hash(tuple(self))

    def copy(self):
        return _mutable(self)


class ImmutableDict(Mapping):
    """A read-only mapping whose nested objects are read-only too."""

    __slots__ = ("_container",)

    def __init__(self, data):
        self._container = data

    def __getitem__(self, key):
        return _immutable(self._container[key])

    def __iter__(self):
        return iter(self._container)

    def __len__(self):
        return len(self._container)

    def __repr__(self):
        return repr(self._container)

    def to_dict(self):
        return _mutable(self)

    def copy(self):
        return _mutable(self)


class ImmutableCaseInsensitiveDict(ImmutableDict):
    """Keys are looked up as given, then regardless of case, as Panther's
    events are: a test spelling `eventtype` finds `eventType`."""

    __slots__ = ("_lower",)

    def __init__(self, data):
        super().__init__(data)
        self._lower = None

    def __getitem__(self, key):
        c = self._container
        if key in c:
            return _immutable(c[key])
        if isinstance(key, str):
            if self._lower is None:
                self._lower = {k.lower(): k for k in c if isinstance(k, str)}
            real = self._lower.get(key.lower())
            if real is not None:
                return _immutable(c[real])
        raise KeyError(key)

    def __contains__(self, key):
        try:
            self[key]
            return True
        except KeyError:
            return False


def _deep_get(obj, keys, default):
    out = reduce(lambda d, k: d.get(k, default) if isinstance(d, Mapping) else default, keys, obj)
    return default if out is None else out


def _deep_walk(obj, *keys, default=None, return_val="all"):
    def empty(sub):
        if isinstance(sub, Sequence) and not isinstance(sub, str):
            return all(empty(x) for x in sub)
        return False

    if not keys:
        return default if empty(obj) else obj
    if isinstance(obj, Mapping):
        nxt = obj.get(keys[0], None)
        if nxt is None:
            return default
        return _deep_walk(nxt, *keys[1:], default=default, return_val=return_val)
    found = {}
    if isinstance(obj, Sequence) and not isinstance(obj, str):
        for item in obj:
            v = _deep_walk(item, *keys, default=default, return_val=return_val)
            if v is None:
                continue
            if isinstance(v, Sequence) and not isinstance(v, str):
                for sub in v:
                    found[sub] = None
            else:
                found[v] = None
    vals = list(found)
    if not vals:
        return default
    if return_val == "first":
        return vals[0]
    if return_val == "last":
        return vals[-1]
    return vals[0] if len(vals) == 1 else vals


class PantherEvent(ImmutableCaseInsensitiveDict):
    """The event a rule sees: Panther's PantherEvent."""

    __slots__ = ("data_model",)

    def __init__(self, data, data_model=None):
        super().__init__(data)
        self.data_model = data_model

    def deep_get(self, *keys, default=None):
        return _deep_get(self, keys, default)

    def deep_walk(self, *keys, default=None, return_val="all"):
        return _deep_walk(self, *keys, default=default, return_val=return_val)

    def udm(self, *key, default=None):
        if not key:
            raise TypeError("udm() needs a field name")
        dm = self.data_model
        if dm is not None and key[0] in dm.mappings:
            v = dm.value(key[0], self)
            if len(key) > 1:
                v = _deep_get(v, key[1:], None)
            return default if v is None else v
        # Not mapped: Panther's p_udm field, filled by its own parsers.
        return _deep_get(self, ("p_udm",) + key, default)

    def udm_path(self, key):
        dm = self.data_model
        if dm is None or key not in dm.mappings:
            return None
        kind, target = dm.mappings[key]
        return target if kind == "path" else None


class DataModel:
    def __init__(self, spec, module):
        self.mappings = {}
        for m in spec.get("mappings") or []:
            if m.get("path"):
                self.mappings[m["name"]] = ("path", m["path"])
                parse_path(m["path"])  # fails the load on an unsupported path
            else:
                fn = getattr(module, m["method"], None) if module else None
                if not callable(fn):
                    raise ValueError("mapping %s: method %s is not defined in %s"
                                     % (m["name"], m["method"], spec.get("path") or "the data model"))
                self.mappings[m["name"]] = ("method", fn)
        self._paths = {n: parse_path(t) for n, (k, t) in self.mappings.items() if k == "path"}

    def value(self, name, event):
        kind, target = self.mappings[name]
        if kind == "method":
            return target(event)
        obj = event
        for step in self._paths[name]:
            if isinstance(step, int):
                if not isinstance(obj, Sequence) or isinstance(obj, str) or not -len(obj) <= step < len(obj):
                    return None
                obj = obj[step]
            else:
                if not isinstance(obj, Mapping):
                    return None
                obj = obj.get(step)
            if obj is None:
                return None
        return obj


def parse_path(path):
    """The JSONPath subset data models use: `$.a.b`, `a.b`, `$.a[0]`,
    `$['a b']`. Wildcards and recursive descent are refused at load."""
    p = path.strip()
    if p.startswith("$"):
        p = p[1:]
    steps, i = [], 0
    while i < len(p):
        c = p[i]
        if c == ".":
            if p[i + 1:i + 2] == ".":
                raise ValueError("JSONPath %r: recursive descent (..) is not supported" % path)
            i += 1
            continue
        if c == "[":
            j = p.find("]", i)
            if j < 0:
                raise ValueError("JSONPath %r: unclosed [" % path)
            inner = p[i + 1:j].strip()
            if inner[:1] in ("'", '"'):
                steps.append(inner[1:-1])
            elif inner.lstrip("-").isdigit():
                steps.append(int(inner))
            else:
                raise ValueError("JSONPath %r: [%s] is not supported" % (path, inner))
            i = j + 1
            continue
        j = i
        while j < len(p) and p[j] not in ".[":
            j += 1
        name = p[i:j]
        if name == "*":
            raise ValueError("JSONPath %r: wildcards are not supported" % path)
        steps.append(name)
        i = j
    if not steps:
        raise ValueError("JSONPath %r names no field" % path)
    return steps


# ---------------------------------------------------------------- InlineFilters

def _ip_in(value, cidrs):
    import ipaddress
    try:
        ip = ipaddress.ip_address(value)
    except (TypeError, ValueError):
        return False
    return any(ip in ipaddress.ip_network(c, strict=False) for c in cidrs)


def _ip_kind(value, private):
    import ipaddress
    try:
        ip = ipaddress.ip_address(value)
    except (TypeError, ValueError):
        return False
    return ip.is_private if private else ip.is_global


def _num(v):
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def _cmp(op):
    def f(v, want):
        a, b = _num(v), _num(want)
        return a is not None and b is not None and op(a, b)
    return f


def _as_list(want):
    return list(want) if isinstance(want, (list, tuple)) else [want]


# Panther's inline filter conditions, each (field value, filter value) -> bool.
CONDITIONS = {
    "Equals": lambda v, w: v == w,
    "DoesNotEqual": lambda v, w: v != w,
    "IsGreaterThan": _cmp(lambda a, b: a > b),
    "IsGreaterThanOrEqual": _cmp(lambda a, b: a >= b),
    "IsLessThan": _cmp(lambda a, b: a < b),
    "IsLessThanOrEqual": _cmp(lambda a, b: a <= b),
    "Contains": lambda v, w: isinstance(v, (str, list)) and w in v,
    "DoesNotContain": lambda v, w: not (isinstance(v, (str, list)) and w in v),
    "StartsWith": lambda v, w: isinstance(v, str) and v.startswith(w),
    "DoesNotStartWith": lambda v, w: not (isinstance(v, str) and v.startswith(w)),
    "EndsWith": lambda v, w: isinstance(v, str) and v.endswith(w),
    "DoesNotEndWith": lambda v, w: not (isinstance(v, str) and v.endswith(w)),
    "IsIn": lambda v, w: v in _as_list(w),
    "IsNotIn": lambda v, w: v not in _as_list(w),
    "IsNull": lambda v, w: v is None,
    "IsNotNull": lambda v, w: v is not None,
    "IsNullOrEmpty": lambda v, w: v is None or v == "" or v == [] or v == {},
    "IsNotNullOrEmpty": lambda v, w: not (v is None or v == "" or v == [] or v == {}),
    "IsIPAddressInCIDR": lambda v, w: _ip_in(v, _as_list(w)),
    "IsIPAddressNotInCIDR": lambda v, w: not _ip_in(v, _as_list(w)),
    "IsIPAddressPrivate": lambda v, w: _ip_kind(v, True),
    "IsIPAddressPublic": lambda v, w: _ip_kind(v, False),
}


def compile_filters(spec):
    """InlineFilters as written ({All: [...]} or {Any: [...]}, nesting, each
    leaf a KeyPath, Condition and Value or Values) into a predicate over the
    event. An unknown condition fails the rule's load."""
    if spec is None:
        return None
    if isinstance(spec, list):
        spec = {"All": spec}
    if not isinstance(spec, dict):
        raise ValueError("InlineFilters: want a mapping of All or Any")
    if "KeyPath" in spec:
        cond = CONDITIONS.get(spec.get("Condition"))
        if cond is None:
            raise ValueError("InlineFilters: condition %r is not supported (supported: %s)"
                             % (spec.get("Condition"), ", ".join(sorted(CONDITIONS))))
        keys = tuple(str(spec["KeyPath"]).split("."))
        want = spec["Values"] if "Values" in spec else spec.get("Value")
        return lambda event: cond(_mutable(_deep_get(event, keys, None)), want)
    parts = []
    for kind in ("All", "Any"):
        if kind in spec:
            subs = [compile_filters(x) for x in spec[kind] or []]
            parts.append(all if kind == "All" else any)
            parts[-1] = (parts[-1], subs)
    unknown = set(spec) - {"All", "Any"}
    if unknown or not parts:
        raise ValueError("InlineFilters: unknown keys %s" % ", ".join(sorted(map(str, unknown))))
    return lambda event: all(agg(f(event) for f in subs) for agg, subs in parts)


# ---------------------------------------------------------------- imports

def _register_panther_core():
    core = types.ModuleType("panther_core")
    core.PantherEvent = PantherEvent
    core.__path__ = []
    imm = types.ModuleType("panther_core.immutable")
    imm.ImmutableCaseInsensitiveDict = ImmutableCaseInsensitiveDict
    imm.ImmutableDict = ImmutableDict
    imm.ImmutableList = ImmutableList
    enriched = types.ModuleType("panther_core.enriched_event")
    enriched.PantherEvent = PantherEvent
    core.immutable, core.enriched_event = imm, enriched
    sys.modules.update({"panther_core": core, "panther_core.immutable": imm,
                        "panther_core.enriched_event": enriched})


# Packages Panther's runtime has that Debian's python3 lacks. When one is not
# installed, importing it still works (helpers import them at the top for the
# few functions that use them); using it fails with this message.
ABSENT = {"boto3", "botocore", "dateutil", "policyuniverse", "requests"}


class _Absent:
    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        if attr[:1].isupper() and attr.endswith(("Error", "Exception")):
            return type(attr, (Exception,), {})
        return _Absent(self._name + "." + attr)

    def __call__(self, *args, **kwargs):
        raise ModuleNotFoundError(
            "%s is not available: the package %s is not installed in alertbridge's python3"
            % (self._name, self._name.split(".")[0]))


class _AbsentModule(types.ModuleType):
    def __getattr__(self, attr):
        if attr.startswith("__"):
            raise AttributeError(attr)
        return getattr(_Absent(self.__name__), attr)


class Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Global helpers by GlobalID; absent third-party packages as stand-ins."""

    def __init__(self):
        self.helpers = {}

    def find_spec(self, name, path=None, target=None):
        file = self.helpers.get(name)
        if file is not None:
            return importlib.util.spec_from_file_location(name, file)
        return None


class AbsentFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    # Consulted after the standard finders, so an installed package wins.
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ABSENT:
            return importlib.util.spec_from_loader(name, self, is_package=True)
        return None

    def create_module(self, spec):
        m = _AbsentModule(spec.name)
        m.__path__ = []
        return m

    def exec_module(self, module):
        pass


FINDER = Finder()


def load_file(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None:
        raise ImportError("cannot load %s" % path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def error_text(e):
    msg = "%s: %s" % (type(e).__name__, e)
    if isinstance(e, MemoryError):
        msg += " (the worker's memory limit was reached)"
    return msg


def short_tb(e):
    # The frames from the rule's code, not ours.
    frames = [f for f in traceback.extract_tb(e.__traceback__)
              if f.filename != "<string>" and not f.filename.startswith("<frozen")]
    return "".join(traceback.format_list(frames[-5:])) + error_text(e)


# ---------------------------------------------------------------- the worker

class Worker:
    def __init__(self, out):
        self.out = out
        self.rules = []         # (id, module or None)
        self.filters = {}       # rule index -> predicate from InlineFilters
        self.by_log_type = {}   # log type -> [rule index]
        self.models = {}        # log type -> DataModel
        self.careful = False
        self.flushed = 0.0

    def send(self, obj, flush=True):
        self.out.write(json.dumps(obj, separators=(",", ":"), default=_json_default))
        self.out.write("\n")
        if flush:
            self.out.flush()
            self.flushed = time.monotonic()

    def progress(self, *where):
        if self.careful:
            self.send({"p": list(where)})

    def load(self, req):
        self.careful = True
        report = {"op": "loaded", "helpers": [], "models": [], "rules": []}
        for h in req.get("helpers") or []:
            FINDER.helpers[h["name"]] = h["path"]
        for i, h in enumerate(req.get("helpers") or []):
            self.progress("helper", i)
            try:
                importlib.import_module(h["name"])
                report["helpers"].append({})
            except BaseException as e:  # noqa: a helper may raise anything
                report["helpers"].append({"error": short_tb(e)})
        for i, m in enumerate(req.get("models") or []):
            self.progress("model", i)
            try:
                module = load_file("_alertbridge_model_%d" % i, m["path"]) if m.get("path") else None
                dm = DataModel(m, module)
                for lt in m.get("log_types") or []:
                    self.models.setdefault(lt, dm)
                report["models"].append({})
            except BaseException as e:
                report["models"].append({"error": short_tb(e)})
        for i, r in enumerate(req.get("rules") or []):
            self.progress("rule", i)
            module, entry = None, {}
            try:
                module = load_file("_alertbridge_rule_%d" % i, r["path"])
                if not callable(getattr(module, "rule", None)):
                    raise ValueError("%s defines no rule(event) function" % r["path"])
                entry["funcs"] = [f for f in ("rule",) + FUNCS if callable(getattr(module, f, None))]
                flt = compile_filters(r.get("filters"))
                if flt is not None:
                    self.filters[i] = flt
            except BaseException as e:
                module, entry = None, {"error": short_tb(e)}
            self.rules.append((r["id"], module))
            if module is not None:
                for lt in r.get("log_types") or []:
                    self.by_log_type.setdefault(lt, []).append(i)
            report["rules"].append(entry)
        self.careful = False
        gc.collect()
        gc.freeze()  # what is loaded stays; the collector need not walk it again
        self.send(report)

    def call(self, k, fn, module, event, where):
        """Runs one function. Returns (ok, value)."""
        global _call_started
        self.progress(where, k, fn)
        f = getattr(module, fn)
        try:
            _call_started = time.monotonic()
            v = f(event)
            _call_started = 0.0
        except RuleTimeout as e:
            _call_started = 0.0
            return False, (str(e), short_tb(e))
        except BaseException as e:  # sys.exit() in a rule is its error, not the worker's end
            _call_started = 0.0
            return False, (error_text(e), short_tb(e))
        return True, v

    def run_rule(self, k, event, where):
        """One rule over one event: rule(), then the rest if it matched.
        Returns the outcome, or None when nothing happened worth sending."""
        rid, module = self.rules[k]
        errors = []
        flt = self.filters.get(k)
        if flt is not None:
            try:
                if not flt(event):
                    return None
            except Exception as e:  # a filter comparing what cannot be compared
                return {"k": k, "e": [{"f": "rule", "m": "InlineFilters: " + error_text(e)}]}
        ok, v = self.call(k, "rule", module, event, where)
        if not ok:
            return {"k": k, "e": [{"f": "rule", "m": v[0], "t": v[1]}]}
        if not isinstance(v, bool):
            return {"k": k, "e": [{"f": "rule", "m": "returned %s, want bool" % type(v).__name__}]}
        if not v:
            return None
        vals = {}
        for fn in FUNCS:
            if not callable(getattr(module, fn, None)):
                continue
            ok, v = self.call(k, fn, module, event, where)
            if not ok:
                errors.append({"f": fn, "m": v[0], "t": v[1]})
                continue
            if v is None:
                continue
            problem = check_value(fn, v)
            if problem:
                errors.append({"f": fn, "m": problem})
                continue
            if fn == "alert_context":
                try:
                    v = json.dumps(v, separators=(",", ":"), default=_json_default, allow_nan=False)
                except (TypeError, ValueError) as e:
                    errors.append({"f": fn, "m": "cannot encode as JSON: %s" % e})
                    continue
            elif fn == "destinations":
                v = list(v)
            vals[fn] = v
        out = {"k": k, "m": True, "v": vals}
        if errors:
            out["e"] = errors
        return out

    def event(self, log_type, data):
        return PantherEvent(data, self.models.get(log_type))

    def eval(self, req):
        self.careful = bool(req.get("careful"))
        skip = set(req.get("skip") or [])
        for i, ev in enumerate(req["events"]):
            event = self.event(ev["lt"], ev["d"])
            results = []
            for k in self.by_log_type.get(ev["lt"], ()):
                if k in skip:
                    continue
                r = self.run_rule(k, event, i)
                if r is not None:
                    results.append(r)
            # Answers go out in one write per batch, or every 50ms on a slow
            # one (what the Go side's watchdog hears); careful mode, after a
            # crash, flushes each one so no answered event is lost again.
            self.send({"i": i, "r": results}, flush=self.careful or time.monotonic() - self.flushed > 0.05)
        self.careful = False
        self.send({"op": "done"})

    def test(self, req):
        k = req["rule"]
        rid, module = self.rules[k]
        printed = io.StringIO()
        patches = []
        try:
            for m in req.get("mocks") or []:
                name = m.get("objectName")
                if not hasattr(module, name):
                    self.send({"k": k, "e": [{"f": "mocks", "m": "Mocks: %s is not defined in the rule's module" % name}]})
                    return
                patches.append(mock.patch.object(module, name, mock.MagicMock(return_value=m.get("returnValue"))))
            with contextlib.ExitStack() as stack:
                for p in patches:
                    stack.enter_context(p)
                stack.enter_context(contextlib.redirect_stdout(printed))
                out = self.run_rule(k, self.event(req["lt"], req["log"]), 0) or {"k": k}
        except RuleTimeout as e:
            out = {"k": k, "e": [{"f": "rule", "m": str(e)}]}
        if printed.getvalue():
            out["print"] = printed.getvalue()[-4000:]
        self.send(out)


def check_value(fn, v):
    if fn in STR_FUNCS:
        if not isinstance(v, str):
            return "returned %s, want str" % type(v).__name__
        if fn == "severity" and v.upper() not in SEVERITIES:
            return "returned %r, want one of %s" % (v, ", ".join(SEVERITIES))
    elif fn == "destinations":
        if isinstance(v, str) or not isinstance(v, (list, tuple, set)):
            return "returned %s, want a list of str" % type(v).__name__
        if not all(isinstance(x, str) for x in v):
            return "returned a list holding something other than str"
    elif fn == "alert_context":
        if not isinstance(v, Mapping):
            return "returned %s, want dict" % type(v).__name__
    return None


def _json_default(o):
    if isinstance(o, ImmutableDict):
        return o._container
    if isinstance(o, (set, frozenset)):
        return sorted(o, key=str)
    if isinstance(o, Mapping):
        return dict(o)
    if isinstance(o, (tuple, Sequence)) and not isinstance(o, str):
        return list(o)
    if hasattr(o, "isoformat"):
        return o.isoformat()
    raise TypeError("%s is not JSON serializable" % type(o).__name__)


def main():
    memory, timeout = int(sys.argv[1]), float(sys.argv[2])
    inp = os.fdopen(3, "r", encoding="utf-8")
    out = os.fdopen(4, "w", encoding="utf-8")
    # What rules print goes nowhere in production; tests capture it.
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    os.dup2(devnull, 1)
    _register_panther_core()
    sys.meta_path.insert(0, FINDER)
    sys.meta_path.append(AbsentFinder())
    sys.dont_write_bytecode = True
    set_limits(memory, timeout)
    w = Worker(out)
    for line in inp:
        req = json.loads(line)
        op = req.get("op")
        if op == "load":
            w.load(req)
        elif op == "eval":
            w.eval(req)
        elif op == "test":
            w.test(req)
        elif op == "env":  # for tests: what the worker's environment holds
            w.send({"env": dict(os.environ)})
        else:
            w.send({"op": "error", "env": {"error": "unknown op %r" % op}})


main()
