"""The ``zarr-browser`` command line: ``info``, ``validate``, ``edit``, ``demo``.

Exit codes: 0 success; 1 ``validate`` found errors, or ``edit`` was refused (validation
errors without ``--force``, a conflict, an edit that does not apply); 2 the store cannot be read (or a usage
error); 3 an internal error (a bug: please report it with the log); 130 interrupted (Ctrl+C).
"""

from __future__ import annotations

import argparse
import difflib
import json
import logging
import math
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from zarr_browser import __version__
from zarr_browser.core.text import printable
from zarr_browser.errors import ReadOnlyError, ZarrBrowserError

if TYPE_CHECKING:
    from zarr_browser.core.conventions import ConventionRegistry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.model import Node
    from zarr_browser.core.store import RequestPolicy
    from zarr_browser.core.summary import NodeSummary

__all__ = ["STORAGE_OPTIONS_ENV", "URL_ENV", "main", "run"]

logger = logging.getLogger(__name__)

EXIT_OK, EXIT_ERRORS, EXIT_UNREADABLE, EXIT_INTERNAL = 0, 1, 2, 3
SUBCOMMANDS = ("info", "validate", "edit", "demo")

#: storage options as a JSON object, read (and removed from the environment) at start: how the
#: window passes them to the napari it starts, out of sight of other users' process listings
STORAGE_OPTIONS_ENV = "ZARR_BROWSER_STORAGE_OPTIONS"
#: the store's URL when it carries credentials (``user:password@``, a token parameter): the
#: command line then holds the URL without them, and this variable the URL itself
URL_ENV = "ZARR_BROWSER_URL"


class _UsageError(ZarrBrowserError, ValueError):
    """A malformed argument (exit 2)."""


class _ParseError(Exception):
    """argparse's error, raised instead of exiting: :func:`main` reports it (as JSON too, with ``--json``)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors reach :func:`main` (subcommands' parsers are of this class too)."""

    def error(self, message: str) -> NoReturn:
        raise _ParseError(self, message)


def _line(out: TextIO, text: str) -> None:
    """Write one line of text output, its untrusted parts escaped."""
    out.write(printable(text) + "\n")


class _TerminalProgress:
    """One line on stderr, rewritten in place, while a long command runs: what it has done so far.

    Only on a terminal (a pipe or a CI log gets nothing), and only after a second: a command
    over a slow server or a large store was silent for minutes (audit H, 6).  Callable from any
    thread; :meth:`done` clears the line before the results are printed.
    """

    DELAY = 1.0
    INTERVAL = 0.2

    def __init__(self, verb: str) -> None:
        self._verb = verb
        self._on = sys.stderr.isatty()
        self._started = time.monotonic()
        self._last = 0.0
        self._width = 0
        self._lock = threading.Lock()  # (the phase ticker writes from its own thread)

    def __call__(self, count: int, path: str) -> None:
        now = time.monotonic()
        if not self._on or now - self._started < self.DELAY or now - self._last < self.INTERVAL:
            return
        self._last = now
        width = max(20, shutil.get_terminal_size().columns - 1)
        text = printable(f"{self._verb}: {count:,} node(s) so far… {path}")[:width]
        sys.stderr.write("\r" + text.ljust(self._width))
        sys.stderr.flush()
        self._width = len(text)

    def done(self) -> None:
        with self._lock:
            self._phase = None
            if self._width:
                sys.stderr.write("\r" + " " * self._width + "\r")
                sys.stderr.flush()
                self._width = 0

    _phase: str | None = None

    def phase(self, text: str) -> None:
        """Say what a command without counts does now (``edit``: building, validating, writing),
        with the seconds it has taken, until the next phase or :meth:`done`."""
        if not self._on:
            return
        first = self._phase is None
        self._phase = text
        if first:
            threading.Thread(target=self._tick, name="zarr-browser-progress", daemon=True).start()

    def _tick(self) -> None:
        while True:
            time.sleep(self.INTERVAL)
            with self._lock:
                phase = self._phase
                if phase is None:
                    return
                elapsed = time.monotonic() - self._started
                if elapsed >= self.DELAY:
                    width = max(20, shutil.get_terminal_size().columns - 1)
                    text = printable(f"{self._verb}: {phase}… {elapsed:.0f} s")[:width]
                    sys.stderr.write("\r" + text.ljust(self._width))
                    sys.stderr.flush()
                    self._width = len(text)


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def _url(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty (use '.' for the current directory)")
    return text


def _shown_url(url: str | None) -> str | None:
    """*url* as normal output names it: a local path made absolute."""
    if url is None or re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", url):
        return url
    return os.path.abspath(os.path.expanduser(url))


def _positive_seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds, got {text}")
    return value


def _pop_environment_options() -> dict[str, Any]:
    """The storage options in :data:`STORAGE_OPTIONS_ENV`, removed from the environment (napari's
    plugins and the processes it starts do not inherit them)."""
    text = os.environ.pop(STORAGE_OPTIONS_ENV, "").strip()
    if not text:
        return {}
    try:
        options = json.loads(text)
    except json.JSONDecodeError as err:
        raise _UsageError(f"{STORAGE_OPTIONS_ENV} is not JSON: {err}") from err
    if not isinstance(options, dict):
        raise _UsageError(f"{STORAGE_OPTIONS_ENV} must hold a JSON object")
    return options


def _url_from_environment(args: argparse.Namespace) -> None:
    """The URL of :data:`URL_ENV` for the one on the command line when that is it without its
    credentials (removed from the environment, as the options are)."""
    from zarr_browser.core.redact import redact_url

    full = os.environ.pop(URL_ENV, "").strip()
    if full and getattr(args, "url", None) and redact_url(full) == args.url:
        args.url = full


def _storage_options(args: argparse.Namespace) -> dict[str, Any]:
    """The storage options of the command line (over those of :data:`STORAGE_OPTIONS_ENV`), less those
    the URL's scheme does not take (with a note)."""
    options: dict[str, Any] = dict(getattr(args, "environment_options", None) or {})
    for item in args.storage_option or ():
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise _UsageError(f"--storage-option expects KEY=VALUE, got {item!r}")
        try:
            options[key] = json.loads(raw)
        except json.JSONDecodeError:
            options[key] = raw
    if args.anon:
        options["anon"] = True
    if args.endpoint_url:
        options["endpoint_url"] = args.endpoint_url
    from zarr_browser.core.store import options_for_url

    options, dropped = options_for_url(args.url or "", options)
    if dropped:
        _line(sys.stderr, f"zarr-browser: note: {', '.join(dropped)} left out: S3 options are not used for "
                          "http(s) URLs")
    return options


def _request_policy(args: argparse.Namespace) -> RequestPolicy | None:
    """The deadlines of ``--timeout`` (None when the command line has no URL, hence no ``--timeout``)."""
    from zarr_browser.core.store import RequestPolicy

    timeout = getattr(args, "timeout", None)
    if timeout is None:
        return None
    # a third of the deadline per attempt, at least 5 s: --timeout 60 waits 20 s for a server
    # that takes 8 s to answer (at most 5 s, it failed whatever --timeout said: audit H, 1)
    return RequestPolicy(deadline=timeout, attempt_timeout=min(timeout, max(5.0, timeout / 3)))


def _add_verbose_argument(parser: argparse.ArgumentParser) -> None:
    """``-v`` after a command too (``zarr-browser validate -v URL``)."""
    parser.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help="log more (-vv for debug)")


def _add_store_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", type=_url, help="a path, .zip, file://, http(s)://, s3:// or other fsspec URL")
    _add_verbose_argument(parser)
    parser.add_argument("-O", "--storage-option", action="append", metavar="KEY=VALUE",
                        help="fsspec storage option (VALUE parsed as JSON when possible); repeatable")
    parser.add_argument("--anon", action="store_true", help="anonymous access (S3 and friends)")
    parser.add_argument("--endpoint-url", help="S3-compatible endpoint URL")
    parser.add_argument("--timeout", type=_positive_seconds, default=15.0, metavar="SECONDS",
                        help="deadline for each remote read, retries included (default: 15)")
    parser.add_argument("--json", action="store_true", help="print one JSON object for machines")


def _add_depth_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--depth", type=_non_negative, default=None, metavar="N",
                        help="levels below the root to list (default: all)")


_EPILOG = """\
'zarr-browser URL' opens URL in the browser window ('info' without a display).
remote options (for URL and for info, validate, edit):
  -O, --storage-option KEY=VALUE  fsspec storage option, repeatable (s3fs: key, secret, token,
                                  profile, client_kwargs...; VALUE parsed as JSON when possible)
  --anon                          anonymous access (public S3 buckets)
  --endpoint-url URL              S3-compatible endpoint URL (or AWS_ENDPOINT_URL(_S3))
  --timeout SECONDS               deadline for each remote read, retries included (default: 15)
S3 credentials otherwise come from the AWS chain (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY,
AWS_PROFILE, ~/.aws).  ZARR_BROWSER_STORAGE_OPTIONS (a JSON object) gives storage options out of
sight of the process list; the options of the command line go over it.

Exit codes: 0 success; 1 validate found errors (with --strict also metadata it cannot check and
groups it could not list; with --fail-on warning also warnings; with --ignore interoperability
not those of that rule) or edit was refused; 2 the store
cannot be read (with several stores: any of them), or a usage error; 3 an internal error (a bug:
please report it, with -vv); 130 interrupted (Ctrl+C).

Run 'zarr-browser COMMAND --help' for the options of a command (--json, -v and --anon may also
come before COMMAND)."""


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="zarr-browser",
        description="Browse, view, validate and edit zarr hierarchies (OME-Zarr, xarray, NCZarr, CF).",
        usage="%(prog)s [-h] [--version] [-v] [URL [--node PATH] [--napari | --writable] [remote options]] "
              "| COMMAND ...",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"zarr-browser {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log more (-vv for debug)")
    parser.add_argument("--napari", action="store_true",
                        help="open URL in napari (through the zarr-browser reader) with the browser dock")
    parser.add_argument("--writable", action="store_true",
                        help="open URL in the window with editing enabled (remote stores ask first)")
    parser.add_argument("--node", metavar="PATH",
                        help="the node at PATH of the store: opened in napari with --napari, selected in the "
                             "window otherwise (default: the root)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", prog="zarr-browser")  # not the long usage

    info = sub.add_parser("info", help="print the tree with kinds, shapes, dtypes and conventions")
    _add_store_arguments(info)
    _add_depth_argument(info)
    info.add_argument("--no-consolidated", action="store_true",
                      help="read a remote store's own documents, not its consolidated copy (one request per "
                           "node; shows nodes added after the copy was written)")

    validate = sub.add_parser("validate", help="check every node against its conventions (exit 1 on errors)")
    _add_store_arguments(validate)
    validate.add_argument("more_urls", nargs="*", metavar="URL",
                          help="more stores to check, each reported as alone; the exit code is the worst "
                               "(with --json: one object, {\"stores\": [...], \"passed\"})")
    _add_depth_argument(validate)
    validate.add_argument("--fail-on", choices=("error", "warning"), default="error",
                          help="the least severe issue that fails the check (exit 1; default: error)")
    validate.add_argument("--ignore", action="append", choices=("interoperability",), default=[],
                          help="'interoperability': issues about metadata the spec allows but a named reader or "
                               "validator fails on (their message starts '[interoperability]') are listed but do "
                               "not count and do not fail the check, with --fail-on warning too")
    validate.add_argument("--strict", action="store_true",
                          help="treat the SHOULD rules of the strict OME-NGFF schemas as errors, and fail on "
                               "metadata that is read but not validated (OME-NGFF 0.1–0.3, 0.6 release candidates) and on "
                               "groups that could not be listed (a server that cannot list)")

    edit = sub.add_parser(
        "edit", help="edit attributes (JSON Patch or --set), validate, and save safely (exit 1 when refused)",
        description="Edit node attributes in place.  All edits of one call are validated together and saved "
                    "as one change: each changed document is written atomically, a document changed by "
                    "someone else since it was read is never overwritten, and consolidated metadata is "
                    "updated in the same save.  Nothing is written when the call is refused.",
    )
    _add_store_arguments(edit)
    edit.add_argument("--set", action="append", default=[], dest="sets", metavar="NODE:POINTER=JSON",
                      help="set the value at POINTER (RFC 6901, into NODE's attributes) to JSON, e.g. "
                           "'/temperature:/long_name=\"air temperature\"'; POINTER may also be "
                           "'zarr.json#/dimension_names' (v3 arrays); repeatable")
    edit.add_argument("--delete", action="append", default=[], dest="deletes", metavar="NODE:POINTER",
                      help="delete the attribute member at POINTER of NODE; repeatable")
    edit.add_argument("--patch", action="append", default=[], dest="patches", metavar="NODE=FILE",
                      help="apply the RFC 6902 JSON Patch in FILE to NODE's attributes ('-' reads stdin); "
                           "repeatable")
    edit.add_argument("--rename-dim", action="append", default=[], dest="rename_dims", metavar="NODE:OLD=NEW",
                      help="rename dimension OLD to NEW in every array of the group NODE that uses it, and of its "
                           "child groups (a DataTree shares it with them): v2 _ARRAY_DIMENSIONS, v3 "
                           "dimension_names; on NCZarr the netCDF dimension and its references too, e.g. "
                           "'/:x=lon'; an array named OLD (its index coordinate) keeps its name and becomes a "
                           "data variable; repeatable")
    ome = edit.add_argument_group(
        "OME-NGFF images", "convention edits, as the window's forms make them: every level follows, and the "
                           "image's label images too (unless --no-labels)")
    ome.add_argument("--pixel-size", action="append", default=[], dest="pixel_sizes", metavar="NODE:AXIS=SIZE,…",
                     help="set the physical pixel size of level 0 on these axes, e.g. '/:y=0.325,x=0.325'; every "
                          "level keeps its factor, translations are rescaled; repeatable")
    ome.add_argument("--unit", default=None, metavar="UNIT",
                     help="with --pixel-size: the unit of those axes, e.g. micrometer")
    ome.add_argument("--origin", action="append", default=[], dest="origins", metavar="NODE:AXIS=VALUE,…",
                     help="move level 0's origin (its translation, in physical units) on these axes; every "
                          "level moves with it; repeatable")
    ome.add_argument("--rename-axis", action="append", default=[], dest="axis_renames", metavar="NODE:OLD=NEW",
                     help="rename an axis (0.5: every level's dimension_names too); repeatable")
    ome.add_argument("--no-labels", action="store_true", help="leave the image's label images as they are")
    edit.add_argument("--force", action="store_true", help="save even when validation finds errors")
    edit.add_argument("--dry-run", action="store_true", help="print the diff and the issues; write nothing")
    edit.add_argument("--strict", action="store_true",
                      help="treat the SHOULD rules of the strict OME-NGFF schemas as errors")

    demo = sub.add_parser("demo", help="write the built-in demo dataset and open it")
    demo.add_argument("directory", nargs="?", type=Path, default=None,
                      help="where to write it (default: ~/.cache/zarr-browser/demo)")
    demo.add_argument("--force", action="store_true", help="rewrite the dataset even if it is already there")
    demo.add_argument("--no-open", action="store_true", help="only write the dataset")
    _add_verbose_argument(demo)
    return parser


def _open(args: argparse.Namespace) -> tuple[Hierarchy, ConventionRegistry]:
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.core.safety import check_environment

    check_environment()
    registry = default_registry()
    hierarchy = Hierarchy.open(
        args.url, storage_options=_storage_options(args), policy=_request_policy(args), hints=registry.child_hints
    )
    return hierarchy, registry


def _require_zarr(hierarchy: Hierarchy, depth: int | None) -> None:
    """Refuse (exit 2) a root that cannot be read, or that holds no zarr metadata at all.

    A local folder without metadata is an implicit group, which is valid zarr v3 when zarr
    nodes lie below it; a folder with none (a mistyped path, a folder of other files) is no
    store, and a CI job validating it must not pass.  The search stops at the first zarr node.
    """
    from zarr_browser.errors import StoreOpenError

    root = hierarchy.root
    if root.kind == "error":
        raise StoreOpenError(f"cannot read the root of {hierarchy.url}: {root.error}")
    if root.zarr_format is not None:
        return
    frontier, level = [root], 0
    while frontier and (depth is None or level < depth):
        below = []
        for group in frontier:
            for child in hierarchy.children(group.path).nodes:
                if child.zarr_format is not None or child.kind != "group":  # an error node has metadata too
                    return
                below.append(child)
        frontier, level = below, level + 1
    if frontier and depth is not None:
        return  # not looked deeper than asked: it may still hold zarr nodes further down
    raise StoreOpenError(f"no zarr metadata in {hierarchy.url} or below it (no zarr.json, .zgroup, .zarray or "
                         ".zattrs): not a zarr store")


def _dump(payload: dict[str, Any], out: TextIO) -> None:
    """Print JSON: indented for a person at a terminal, compact (and fast) otherwise.

    Strict JSON (RFC 8259): the NaN and infinities a store's documents may hold are written as
    the strings ``"NaN"``, ``"Infinity"`` and ``"-Infinity"``, as zarr v3 spells them.
    """
    indent = 2 if out.isatty() else None
    try:
        text = json.dumps(payload, indent=indent, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(payload), indent=indent, allow_nan=False)
    out.write(text)
    out.write("\n")


def _finite(value: Any) -> Any:
    """*value* with non-finite floats replaced by their zarr v3 string spellings."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value


# -- info -------------------------------------------------------------------------------------


def _shape(values: Sequence[int] | None) -> str:
    return "(" + ", ".join(str(v) for v in values) + (",)" if values is not None and len(values) == 1 else ")") if values is not None else ""


def cmd_info(args: argparse.Namespace, out: TextIO) -> int:
    from zarr_browser.core.summary import summarize
    from zarr_browser.core.validate import HierarchyContext

    hierarchy, registry = _open(args)
    _require_zarr(hierarchy, args.depth)
    notes = _read_the_store_itself(hierarchy) if args.no_consolidated else []
    if hierarchy.reads_consolidated and not notes:  # what is shown may be out of date: say so
        notes.append("the nodes come from the consolidated metadata (one request), which may be older than "
                     "the store: nodes added after it are not shown (--no-consolidated reads the store itself)")
    started = time.perf_counter()
    progress = _TerminalProgress("listing")
    try:
        entries = hierarchy.walk("/", depth=args.depth, progress=progress)
    finally:
        progress.done()
    ctx = HierarchyContext(hierarchy) if args.json else None
    nodes = {node.path: node for node, _ in entries}
    summaries = []
    for node, listing in entries:
        parent_key = node.path.rsplit("/", 1)[0] or "/"
        parent = nodes.get(parent_key) if node.path != "/" else None
        # a group's listed children settle what its documents cannot (an unconsolidated xarray
        # dataset); groups past --depth stay unlisted
        children = listing.nodes if listing is not None else ()
        summaries.append(summarize(node, parent, registry, ctx, children=children))
    logger.info("listed %d nodes in %.3f s (%d requests)", len(entries), time.perf_counter() - started,
                hierarchy.access.stats.requests)
    if hierarchy.access.denies_missing:  # how the server answers: once, not on each node it concerns
        from zarr_browser.core.model import DENIED_NOTE

        notes.append(DENIED_NOTE)
    if args.json:
        listings = {node.path: listing for node, listing in entries if listing is not None}
        payload = {
            "url": hierarchy.url,
            "nodes": [s.to_json() for s in summaries],
            "incomplete": [
                {"path": p, "error": lst.error} for p, lst in listings.items() if not lst.complete
            ],
            "notes": notes,
        }
        _dump(payload, out)
        return EXIT_OK
    _print_tree(hierarchy.url, entries, summaries, out)
    for note in notes:
        _line(out, f"note: {note}")
    unlisted = sum(1 for node, listing in entries if node.is_group and listing is None and node.kind != "error")
    if unlisted and args.depth is not None:
        groups = "the root group's children are" if unlisted == 1 and len(entries) == 1 else (
            f"the children of {unlisted:,} group{'s' if unlisted > 1 else ''} are")
        _line(out, f"… {groups} not listed (--depth {args.depth}; a larger --depth, or none, lists more)")
    return EXIT_OK


def _print_tree(url: str, entries: Sequence[tuple[Node, Any]], summaries: Sequence[NodeSummary], out: TextIO) -> None:
    by_path = {s.node.path: s for s in summaries}
    listings = {node.path: listing for node, listing in entries}

    def line(summary: NodeSummary) -> str:
        node = summary.node
        parts = []
        if node.kind == "error":
            parts.append(f"ERROR: {node.error}")
        elif node.is_array and node.array is not None:
            arr = node.array
            parts.append(f"{summary.kind_label}  {arr.dtype}  {_shape(arr.shape)}")
            parts.append(f"chunks {_shape(arr.chunks)}")
            if arr.shards:
                parts.append(f"shards {_shape(arr.shards)}")
            if summary.dimension_names:
                parts.append("[" + summary.dimension_text + "]")
            if summary.unsafe:
                parts.append("UNSAFE: " + "; ".join(summary.unsafe))
        else:
            parts.append(summary.kind_label)
        badges = summary.badges
        if badges:
            parts.append("{" + "; ".join(badges) + "}")
        if node.consolidated in ("stale", "absent"):
            parts.append(f"(consolidated copy {node.consolidated})")
        from zarr_browser.core.model import UNREAD_NOTE

        unread = [n for n in node.notes if n.startswith(UNREAD_NOTE)]
        if unread and node.kind != "error":  # what is shown is incomplete: say so on its line
            parts.append("ERROR: " + "; ".join(unread))
        return "  ".join(parts)

    root = by_path["/"]
    _line(out, f"{url}  {line(root)}")

    # an explicit stack, not recursion: a store may nest groups thousands deep
    stack: list[tuple[str, str] | str] = [("/", "")]  # (path, prefix) to visit, or a line to print
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            _line(out, item)
            continue
        path, prefix = item
        listing = listings.get(path)
        if listing is None:
            continue
        if not listing.complete:
            _line(out, f"{prefix}(! could not list: {listing.error}; showing children declared by metadata)")
        children = [n for n in listing.nodes if n.path in by_path]
        todo: list[tuple[str, str] | str] = []
        for i, child in enumerate(children):
            last = i == len(children) - 1
            todo.append(f"{prefix}{'└── ' if last else '├── '}{child.name}  {line(by_path[child.path])}")
            todo.append((child.path, prefix + ("    " if last else "│   ")))
        if listing.has_more:
            todo.append(f"{prefix}… {listing.total - len(listing.nodes)} more")
        stack.extend(reversed(todo))


# -- validate ---------------------------------------------------------------------------------


def _where(issue: Any) -> str:
    """`` at DOCUMENT#POINTER`` (the form ``edit`` takes), or nothing."""
    if not (issue.document or issue.pointer):
        return ""
    if not issue.document:
        return f" at {issue.pointer}"
    return f" at {issue.document}#{issue.pointer}" if issue.pointer else f" at {issue.document}"


def _tagged(issue: Any) -> str:
    """The message of *issue*, starting with its rule when that is not the spec's
    (``[interoperability] ...``)."""
    from zarr_browser.core.issues import INTEROPERABILITY_TAG, Rule

    if issue.rule is Rule.INTEROPERABILITY and not issue.message.startswith(INTEROPERABILITY_TAG):
        return f"{INTEROPERABILITY_TAG} {issue.message}"
    return str(issue.message)


def _ignored_text(ignored: list[Any]) -> str:
    """``2 interoperability warning(s)`` / ``1 interoperability error(s), 2 interoperability warning(s)``."""
    counts: dict[tuple[str, str], int] = {}
    for issue in ignored:
        key = (issue.rule.value, issue.severity.value)
        counts[key] = counts.get(key, 0) + 1
    return ", ".join(f"{n} {rule} {severity}(s)" for (rule, severity), n in sorted(counts.items()))


def _read_the_store_itself(hierarchy: Hierarchy) -> list[str]:
    """Make a remote store with consolidated metadata validated from its own documents.

    Browsing a remote store reads the consolidated copy (one request instead of one per node);
    validating it must read what is really there, or a stale copy and nodes added after it go
    unnoticed.  Where the server cannot list, the copy is all there is: say so.
    """
    if not hierarchy.access.is_remote or hierarchy.consolidated is None or hierarchy.consolidated_policy != "auto":
        return []
    from zarr_browser.core.store import run_sync

    try:
        run_sync(hierarchy.access.list_dir(""))
    except ZarrBrowserError:
        return ["the server cannot list its contents: the nodes are those of the consolidated metadata, which "
                "cannot be compared with the store (nodes added after it are not seen)"]
    hierarchy.consolidated_policy = "never"  # only the root has been read, from the store itself
    return []


def cmd_validate(args: argparse.Namespace, out: TextIO) -> int:
    """Check one store, or several (``validate a.zarr b.zarr ...``): each is reported as alone,
    separated by a blank line; with ``--json`` one object ``{"stores": [...], "passed"}``.  The
    exit code is the worst: 2 when a store could not be read, else 1 when one failed."""
    urls = [args.url, *args.more_urls]
    if len(urls) == 1:
        code, payload = _validate_one(args, out)
        if payload is not None:
            _dump(payload, out)
        return code
    worst = EXIT_OK
    payloads: list[dict[str, Any]] = []
    for number, url in enumerate(urls):
        one = argparse.Namespace(**vars(args))
        one.url = url
        if number and not args.json:
            _line(out, "")
        try:
            code, payload = _validate_one(one, out)
        except ZarrBrowserError as err:  # the next stores are still checked
            shown = _shown_url(url) or url
            _line(sys.stderr, f"zarr-browser: {err}" if shown in str(err) else f"zarr-browser: {shown}: {err}")
            code, payload = EXIT_UNREADABLE, {"url": shown, "error": str(err), "exit": EXIT_UNREADABLE}
        if payload is not None:
            payloads.append(payload)
        worst = max(worst, code)  # (2 over 1 over 0)
    if args.json:
        _dump({"stores": payloads, "passed": worst == EXIT_OK}, out)
    return worst


def _validate_one(args: argparse.Namespace, out: TextIO) -> tuple[int, dict[str, Any] | None]:
    """Validate the store of ``args.url``: its exit code, and its JSON object with ``--json``
    (the text report is printed to *out* otherwise)."""
    hierarchy, registry = _open(args)
    try:
        return _validate_opened(args, out, hierarchy, registry)
    finally:
        hierarchy.close()


def _validate_opened(args: argparse.Namespace, out: TextIO, hierarchy: Hierarchy,
                     registry: ConventionRegistry) -> tuple[int, dict[str, Any] | None]:
    from zarr_browser.core.issues import Severity
    from zarr_browser.core.validate import validate_hierarchy

    _require_zarr(hierarchy, args.depth)
    notes = _read_the_store_itself(hierarchy)
    progress = _TerminalProgress("validating")
    try:
        report = validate_hierarchy(hierarchy, registry, depth=args.depth, strict=args.strict, progress=progress)
    finally:
        progress.done()
    # issues of an ignored rule (--ignore interoperability) are listed, not counted
    ignored = [i for i in report.issues if i.rule.value in args.ignore and i.severity is not Severity.INFO]
    counted = [i for i in report.issues if not any(i is g for g in ignored)]
    errors = sum(1 for i in counted if i.severity is Severity.ERROR)
    # what could not be listed was not checked: an OK must not claim it
    unlisted = [i for i in report.issues if i.message.startswith("children could not be listed")]
    # metadata read but not (fully) validated, such as OME-NGFF 0.6 release candidates: an OK must say
    # so, and --strict, which asks for a clean pass, fails on it
    unchecked = [i for i in report.issues if i.unchecked]
    # as the text counts them: groups that could not be listed are under "incomplete"
    warnings = sum(1 for i in counted if i.severity is Severity.WARNING and not any(i is u for u in unlisted))
    # (a check that could not list some groups is incomplete: --strict fails on that too)
    failed = (bool(errors) or (args.strict and bool(unchecked or unlisted))
              or (args.fail_on == "warning" and bool(warnings)))
    if args.json:
        payload = {
            "url": hierarchy.url,
            "nodes_checked": report.nodes_checked,
            "errors": errors,
            "warnings": warnings,
            "issues": [i.to_json() for i in report.issues],
            "notes": notes,
            "incomplete": [{"path": i.path, "error": i.message} for i in unlisted],
            "depth": args.depth,
            "unchecked": [{"path": i.path, "reason": i.message} for i in unchecked],
            "ignore": list(args.ignore),
            "ignored": len(ignored),
            "passed": not failed,
        }
        return (EXIT_ERRORS if failed else EXIT_OK), payload
    else:
        for note in notes:
            _line(out, f"note: {note}")
        if unlisted:  # one note, not the same warning under every group of a server that cannot list
            paths = ", ".join(i.path for i in unlisted[:8]) + (f", … ({len(unlisted):,} in all)" if len(unlisted) > 8 else "")
            _line(out, f"note: {unlisted[0].message.split('); ')[0]}) for {paths}; only the children their metadata "
                       "declares were checked")
        grouped: dict[str, list[Any]] = {}
        for issue in report.issues:
            if not any(issue is u for u in unlisted):
                grouped.setdefault(issue.path, []).append(issue)
        for path in sorted(grouped):
            _line(out, path)
            for issue in sorted(grouped[path], key=lambda i: i.severity.rank):
                _line(out, f"  {issue.severity.value:<7} [{issue.convention}] {_tagged(issue)}{_where(issue)}")
        verdict = "FAILED" if failed else "OK"
        if unchecked:
            paths = ", ".join(i.path for i in unchecked[:4]) + (f", … ({len(unchecked):,} in all)"
                                                                 if len(unchecked) > 4 else "")
            verdict += (f" (not fully validated: {len(unchecked):,} node(s) carry metadata this tool reads but does "
                        f"not check: {paths}" + ("; --strict fails on it)" if args.strict else ")"))
        if unlisted:
            verdict += (f" (incomplete: {len(unlisted):,} group(s) could not be listed; only declared children checked"
                        + ("; --strict fails on it)" if args.strict else ")"))
        if args.depth is not None:  # what lies deeper was not read: an OK must not claim it
            verdict += f" (to depth {args.depth} only: nodes below it were not checked)"
        if args.fail_on == "warning" and warnings and not errors:
            verdict += " (--fail-on warning)"
        not_counted = f" (and {_ignored_text(ignored)}, ignored)" if ignored else ""
        _line(out, f"{verdict}: {errors} error(s), {warnings} warning(s){not_counted} in {report.nodes_checked} "
                   f"node(s) of {hierarchy.url}")
    return (EXIT_ERRORS if failed else EXIT_OK), None


# -- edit -------------------------------------------------------------------------------------


def _split_node(spec: str, what: str) -> tuple[str, str]:
    """``NODE:REST`` where REST starts with ``/`` or a document name and ``#`` (NODE may hold ``:``)."""
    start = 0
    while True:
        colon = spec.find(":", start)
        if colon < 0:
            first = spec.find(":")
            if first > 0 and spec.startswith("/"):  # NODE:name=... — the pointer lacks its leading '/'
                raise _UsageError(f"{what}: the JSON pointer after {spec[:first]!r} must start with '/' "
                                  f"(it points into the attributes), as in {spec[:first + 1] + '/' + spec[first + 1:]!r}")
            raise _UsageError(f"{what} expects NODE:POINTER, got {spec!r}")
        rest = spec[colon + 1:]
        document = rest.split("#", 1)[0] if "#" in rest else None
        if rest.startswith(("/", "=")) or rest == "" or document in ("zarr.json", ".zattrs", ".zarray", ".zgroup"):
            node = spec[:colon] or "/"
            if not node.startswith("/"):
                raise _UsageError(f"{what}: the node path must start with '/', got {node!r}")
            return node, rest
        start = colon + 1


def _strict_json(text: str, what: str) -> Any:
    """Parse JSON as RFC 8259 has it: bare ``NaN``/``Infinity`` are refused, not written into a store."""

    def refuse(token: str) -> Any:
        raise _UsageError(f"{what}: {token} is not JSON (most readers reject it); write the string "
                          f'"{token}" (as zarr v3 spells such fill values) or null')

    def number(token: str) -> float:
        value = float(token)
        if not math.isfinite(value):  # 1e309: Python reads it as inf, and would write a bare Infinity
            raise _UsageError(f"{what}: {token} is beyond the range of a double (it would be written as "
                              "Infinity, which is not JSON); write a smaller number, or the string \"Infinity\"")
        return value

    return json.loads(text, parse_constant=refuse, parse_float=number)


def _parse_set(spec: str) -> tuple[str, str, Any]:
    node, rest = _split_node(spec, "--set")
    pointer, sep, raw = rest.partition("=")
    if not sep:
        raise _UsageError(f"--set expects NODE:POINTER=JSON, got {spec!r}")
    try:
        value = _strict_json(raw, f"--set {spec!r}")
    except json.JSONDecodeError as err:
        raise _UsageError(f"--set {spec!r}: the value is not JSON ({err.msg}); quote strings: "
                          f"{node}:{pointer}='\"text\"'") from err
    return node, pointer, value


def _parse_axis_values(spec: str, flag: str) -> tuple[str, dict[str | int, float]]:
    """``NODE:AXIS=NUMBER,AXIS=NUMBER`` of --pixel-size and --origin."""
    node, rest = _node_and_rest(spec, flag, "NODE:AXIS=NUMBER[,AXIS=NUMBER…], e.g. '/:y=0.5,x=0.5'")
    values: dict[str | int, float] = {}
    for part in rest.split(","):
        axis, sep, raw = part.partition("=")
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not sep or not axis.strip() or not math.isfinite(number):
            raise _UsageError(f"{flag} expects NODE:AXIS=NUMBER[,AXIS=NUMBER…], e.g. '/:y=0.5,x=0.5'; got {spec!r}")
        values[axis.strip()] = number
    return node, values


def _node_and_rest(spec: str, flag: str, form: str) -> tuple[str, str]:
    """``NODE:REST`` where REST holds no colon (axis names and numbers), NODE may."""
    node, sep, rest = spec.rpartition(":")
    if not sep or not node.startswith("/"):
        raise _UsageError(f"{flag} expects {form} (NODE starting with '/'), got {spec!r}")
    return node, rest


def _parse_rename(spec: str, flag: str) -> tuple[str, str, str]:
    node, rest = _node_and_rest(spec, flag, "NODE:OLD=NEW, e.g. '/:x=xx'")
    old, sep, new = rest.partition("=")
    if not sep or not old or not new:
        raise _UsageError(f"{flag} expects NODE:OLD=NEW, got {spec!r}")
    return node, old, new


def _read_patch(spec: str) -> tuple[str, Any]:
    node, sep, filename = spec.partition("=")
    if not sep or not node.startswith("/") or not filename:
        raise _UsageError(f"--patch expects NODE=FILE with NODE starting with '/', got {spec!r}")
    try:
        text = sys.stdin.read() if filename == "-" else Path(filename).read_text(encoding="utf-8")
        return node, _strict_json(text, f"--patch {spec!r}")
    except OSError as err:
        raise _UsageError(f"--patch {spec!r}: cannot read {filename}: {err}") from err
    except json.JSONDecodeError as err:
        raise _UsageError(f"--patch {spec!r}: {filename} is not JSON: {err}") from err


def _open_for_edit(args: argparse.Namespace, registry: Any) -> tuple[Any, str]:
    """The hierarchy an edit of ``args.url`` works in, and the URL's node in it.  A local folder
    inside a hierarchy is edited in its enclosing store, as the window does: the store's
    consolidated copy is then updated too (audit E: editing ``store.zarr/group`` left the root's
    copy stale, which zarr and xarray read, and said nothing)."""
    from zarr_browser.core.enclosing import enclosing_store, zip_member
    from zarr_browser.core.hierarchy import Hierarchy
    from zarr_browser.errors import ZarrBrowserError

    def open_(url: str) -> Any:
        return Hierarchy.open(url, storage_options=_storage_options(args), policy=_request_policy(args),
                              mode="r" if args.dry_run else "r+", hints=registry.child_hints)

    store, base = enclosing_store(args.url)
    if base == "/" or zip_member(args.url) is not None:
        return open_(args.url), "/"
    hierarchy = open_(store)
    try:
        hierarchy.node(base)
    except ZarrBrowserError:  # no node of the store above after all: the folder alone
        hierarchy.close()
        return open_(args.url), "/"
    return hierarchy, base


def _below(base: str, path: str) -> str:
    """The node *path* of an edit (relative to the URL given) in the store opened (:func:`_open_for_edit`)."""
    path = "/" + path.strip("/")
    if base == "/":
        return path
    return base if path == "/" else base + path


def cmd_edit(args: argparse.Namespace, out: TextIO) -> int:
    from zarr_browser.core.safety import check_environment

    try:
        sets = [_parse_set(s) for s in args.sets]
        deletes = [_split_node(s, "--delete") for s in args.deletes]
        patches = [_read_patch(p) for p in args.patches]
        sizes = [_parse_axis_values(s, "--pixel-size") for s in args.pixel_sizes]
        origins = [_parse_axis_values(s, "--origin") for s in args.origins]
        renames = [_parse_rename(s, "--rename-axis") for s in args.axis_renames]
        dim_renames = [_parse_rename(s, "--rename-dim") for s in args.rename_dims]
        if args.unit is not None and not sizes:
            raise _UsageError("--unit goes with --pixel-size")
    except _UsageError as err:
        _line(sys.stderr, f"zarr-browser edit: {err}")
        return EXIT_UNREADABLE
    if not (sets or deletes or patches or sizes or origins or renames or dim_renames):
        sys.stderr.write("zarr-browser edit: nothing to do: give --set, --delete, --patch, --rename-dim, "
                         "--pixel-size, --origin or --rename-axis\n")
        return EXIT_UNREADABLE
    check_environment()
    progress = _TerminalProgress("edit")  # a rename across 10,000 arrays takes half a minute
    progress.phase("reading the store")
    try:
        return _edit(args, out, progress, sets, deletes, patches, sizes, origins, renames, dim_renames)
    finally:
        progress.done()


def _edit(args: argparse.Namespace, out: TextIO, progress: _TerminalProgress, sets: list[Any], deletes: list[Any],
          patches: list[Any], sizes: list[Any], origins: list[Any], renames: list[Any], dim_renames: list[Any]) -> int:
    from zarr_browser.core.conventions import default_registry
    from zarr_browser.core.editing import (
        Batch,
        Command,
        ConflictError,
        Delete,
        EditError,
        EditSession,
        SaveFailedError,
        SetValue,
        ValidationRefusedError,
        patch_to_commands,
    )
    from zarr_browser.core.editing.conventions import (
        ome_rename_axis,
        ome_set_pixel_size,
        ome_set_translation,
        plan_dimension_rename,
        xarray_rename_dimension,
    )
    from zarr_browser.errors import NodeNotFoundError

    registry = default_registry()
    hierarchy, base = _open_for_edit(args, registry)
    session = EditSession(hierarchy, registry, strict=args.strict)
    payload: dict[str, Any] = {"url": hierarchy.url, "dry_run": bool(args.dry_run), "saved": False,
                               "written": [], "refused": None, "notes": []}
    if base != "/":
        payload["node"] = base

    def finish(code: int, message: str | None = None, issues: list[Any] | None = None) -> int:
        progress.phase("validating" if issues is None else "comparing")
        if issues is None:
            issues = session.validate() if session.dirty else []
        payload["issues"] = [i.to_json() for i in issues]
        payload["errors"] = sum(1 for i in issues if i.severity.value == "error")
        if "diff" not in payload and (args.json or args.dry_run or code != EXIT_OK):  # (shown only then)
            payload["diff"] = session.diff()
        if message:
            payload["refused"] = message
        progress.done()
        if args.json:
            _dump(payload, out)
            return code
        if args.dry_run or code != EXIT_OK:
            for text in payload.get("diff", {}).values():
                out.write(text)
        for note in payload["notes"]:
            _line(out, f"note    {note}")
        for issue in issues:
            _line(out, f"{issue.severity.value:<7} {issue.path} [{issue.convention}] {issue.message}{_where(issue)}")
        if message and args.dry_run:
            _line(sys.stderr, f"zarr-browser edit: dry run: the save would be refused: {message}; nothing written")
        elif message and payload.get("written"):  # stopped half-way: not a refusal, something is written
            _line(sys.stderr, f"zarr-browser edit: partly saved: {message}")
        elif message:
            _line(sys.stderr, f"zarr-browser edit: refused: {message}")
        elif args.dry_run:
            out.write(f"dry run: {len(payload['diff'])} document(s) would change; nothing written\n")
        else:
            written = payload["written"]
            # (10,000 names made one line of 160 KB: the first ones name the kind of change)
            shown = ", ".join(written[:8]) + (f", … ({len(written):,} in all)" if len(written) > 8 else "")
            out.write(f"saved {len(written):,} document(s): {shown or 'no change'}\n")
        return code

    progress.phase("building the edits")
    try:
        commands: list[Command] = []
        for node_path, pointer, value in sets:
            key, where = session.locate(_below(base, node_path), pointer)
            commands.append(SetValue(where, value, key=key))
        for node_path, pointer in deletes:
            key, where = session.locate(_below(base, node_path), pointer)
            commands.append(Delete(where, key=key))
        for node_path, patch in patches:
            key, at = session.locate(_below(base, node_path), "")
            state = session.document(key)
            for command in commands:
                if key in command.document_keys():
                    state = command.apply(state)
            commands.append(patch_to_commands(patch, state, key=key, base=at))
        if commands:
            session.apply(Batch(commands, label="zarr-browser edit"))
        # convention edits, each its own step: a builder reads the state the edits before it reached
        for node_path, old, new in dim_renames:
            plan = plan_dimension_rename(session, _below(base, node_path), old, new)
            payload["notes"].extend(plan.notes())
            session.apply(xarray_rename_dimension(session, _below(base, node_path), old, new))
        follow = not args.no_labels
        for node_path, values in sizes:
            session.apply(ome_set_pixel_size(session, _below(base, node_path), values, args.unit, labels=follow))
        for node_path, values in origins:
            session.apply(ome_set_translation(session, _below(base, node_path), values, labels=follow))
        for node_path, old_name, new_name in renames:
            session.apply(ome_rename_axis(session, _below(base, node_path), old_name, new_name, labels=follow))
    except (EditError, NodeNotFoundError) as err:  # the edit does not apply to this store
        return finish(EXIT_ERRORS, str(err))
    if args.json or args.dry_run:  # what the save writes (computed before it: after it there is no change)
        progress.phase("comparing")
        payload["diff"] = session.diff()
    progress.phase("validating" if args.dry_run else "validating and writing")
    if args.dry_run:  # the same verdict as the real run, without writing
        refusal = None if args.force else session.refusal()
        if refusal:
            return finish(EXIT_ERRORS, f"{refusal}; fix them, or give --force to save anyway")
        from zarr_browser.core.editing.save import read_only_reason

        reason = read_only_reason(hierarchy.access)  # HTTP, a zip, a read-only disk: refused as the real run is
        if reason is not None:
            return finish(EXIT_UNREADABLE, f"cannot save to {hierarchy.url}: it is {reason}; nothing would be saved")
        return finish(EXIT_OK)
    try:
        result = session.save(force=args.force)
    except ValidationRefusedError as err:
        return finish(EXIT_ERRORS, f"{err}; nothing written (fix them, or give --force to save anyway)")
    except ConflictError as err:
        payload["written"] = err.written
        # half-way (a document changed between the check and its write): what was written is said, exit 2
        return finish(EXIT_UNREADABLE if err.written else EXIT_ERRORS, f"{err}")
    except (SaveFailedError, ReadOnlyError) as err:  # the store cannot be written (HTTP, a read-only disk...)
        payload["written"] = getattr(err, "written", [])
        return finish(EXIT_UNREADABLE, f"{err}")
    payload["written"] = result.written
    payload["saved"] = bool(result.written)
    return finish(EXIT_OK, issues=result.issues)


# -- demo -------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace, out: TextIO) -> int:
    from zarr_browser.demo import default_demo_directory, write_demo

    directory = args.directory or default_demo_directory()
    started = time.perf_counter()
    written = write_demo(directory, force=args.force)
    action = "wrote" if written.created else "found"
    out.write(f"zarr-browser demo: {action} the demo dataset in {written.root} "
              f"({written.nbytes / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s)\n")
    for name, description in written.contents.items():
        out.write(f"  {written.root / name}  — {description}\n")
    if args.no_open:
        return EXIT_OK
    window_code = _run_window(str(written.root), {}, what="the demo")
    if window_code is not None:
        return window_code
    out.write("\n")
    for name in written.contents:
        # info's own defaults, from its parser: a hand-built namespace lacked an option info
        # gained later (--no-consolidated), and the fallback ended in an internal error
        code = cmd_info(build_parser().parse_args(["info", str(written.root / name)]), out)
        out.write("\n")
        if code:
            return code
    return EXIT_OK


def _run_window(url: str | None, storage_options: dict[str, Any], *, what: str, writable: bool = False,
                policy: RequestPolicy | None = None, select: str | None = None) -> int | None:
    """Show the browser window and return its exit code; None (with a message) when it cannot be shown."""
    from zarr_browser.qt.app import display_available

    ok, why = display_available()
    if not ok:
        fallback = "printing 'info' instead" if url else "run 'zarr-browser info URL' for a text view"
        where = f" for {what}" if url else ""
        ignored = [option for option, given in (("--writable", writable), ("--node", select)) if given]
        if ignored and url:  # what the window would have done is not done: say so
            fallback += f" ({' and '.join(ignored)} ignored: {'they need' if len(ignored) > 1 else 'it needs'} " \
                        "the window)"
        sys.stderr.write(f"zarr-browser: cannot open the browser window{where}: {why}; {fallback}\n")
        return None
    from zarr_browser.qt.app import run_browser

    return run_browser(url, storage_options or None, writable=writable, policy=policy, select=select)


def _run_napari(url: str | None, node: str | None = None, storage_options: dict[str, Any] | None = None,
                policy: RequestPolicy | None = None) -> int:
    """``zarr-browser [URL] --napari [--node PATH]``: napari with the browser dock, *url* (or its
    node *node*) opened by our reader.  The browser window's "Open in napari" runs this.

    With a *policy* (``--timeout``) other than the default, the store is opened with it here
    rather than by napari's reader, which knows no deadlines but its own; the dock uses it too.
    """
    from zarr_browser.qt.app import display_available

    ok, why = display_available()
    if not ok:
        sys.stderr.write(f"zarr-browser: cannot start napari: {why}\n")
        return EXIT_UNREADABLE
    try:
        import napari
    except ImportError as err:
        sys.stderr.write(f"zarr-browser: napari is not installed ({err}); install zarr-browser[gui]\n")
        return EXIT_UNREADABLE
    from zarr_browser.core.store import RequestPolicy

    viewer = napari.Viewer()
    _, dock = viewer.window.add_plugin_dock_widget("zarr-browser", "Zarr browser")
    dock.policy = policy
    if url:
        dock.set_storage_options(url, storage_options or {})  # selecting a layer added below opens its store
        store, select = url, node  # what the dock shows: the store a URL inside one belongs to
        try:
            if node or storage_options or (policy is not None and policy != RequestPolicy()):
                from zarr_browser._reader import open_node
                from zarr_browser.core.conventions import default_registry
                from zarr_browser.core.enclosing import open_enclosing

                registry = default_registry()
                hierarchy, inner = open_enclosing(url, registry, storage_options=storage_options, policy=policy)
                # a URL inside a store is opened from the store, as napari's reader does
                path = "/" + "/".join(p for p in (inner.strip("/"), (node or "").strip("/")) if p)
                open_node(viewer, hierarchy, path, registry)
                store, select = hierarchy.url, path
            else:
                for layer in viewer.open(url, plugin="zarr-browser"):
                    where = layer.metadata.get("zarr_browser")
                    if isinstance(where, dict) and where.get("url") and where.get("url") != url:
                        store, select = str(where["url"]), str(where.get("path") or "/")
                        break
        except Exception as err:  # boundary: napari wraps reader failures in its own errors
            logger.debug("napari could not open %s", url, exc_info=True)
            sys.stderr.write(f"zarr-browser: napari cannot open {url}: {err}\n")
            viewer.close()
            return EXIT_UNREADABLE
        if store != url:
            dock.set_storage_options(store, storage_options or {})
        dock.show_store(store, select=select)
    napari.run()
    return EXIT_OK


def _pop_option(argv: list[str], name: str) -> str | None:
    """Remove ``NAME VALUE`` or ``NAME=VALUE`` from *argv* (in place); the value, or None."""
    for i, item in enumerate(argv):
        if item == name and i + 1 < len(argv):
            value = argv[i + 1]
            del argv[i : i + 2]
            return value
        if item.startswith(name + "="):
            del argv[i]
            return item.split("=", 1)[1]
    return None


def _misspelt_command(word: str) -> str | None:
    """The sub-command *word* most likely meant, when *word* is no path or URL but close to one."""
    if "://" in word or "::" in word or os.path.exists(word):
        return None
    close = difflib.get_close_matches(word, SUBCOMMANDS, n=1, cutoff=0.7)
    return close[0] if close else None


def main(argv: Sequence[str] | None = None, *, out: TextIO | None = None) -> int:
    """Run the command line; returns the exit code."""
    out = out or sys.stdout
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    use_napari = "--napari" in argv  # accepted anywhere: `zarr-browser URL --napari`
    writable = "--writable" in argv  # `zarr-browser --writable URL`: the window, editing enabled
    argv = [a for a in argv if a not in ("--napari", "--writable")]
    node = _pop_option(argv, "--node")  # `zarr-browser URL --napari --node PATH`, anywhere
    # `zarr-browser -v URL`, `zarr-browser --timeout 5 info URL`: the options of a store before the
    # command (or URL) go after it, where its parser takes them
    leading = _leading_options(argv)
    browse = not argv or (not argv[0].startswith("-") and argv[0] not in SUBCOMMANDS)
    if browse and argv:
        meant = _misspelt_command(argv[0])
        if meant is not None:
            parser.print_usage(sys.stderr)
            _line(sys.stderr, f"zarr-browser: unknown command {argv[0]!r} (did you mean {meant!r}?)")
            return EXIT_UNREADABLE
        # `zarr-browser URL [-O KEY=VALUE ...]`: the browser window, or `info` without a display
        argv = ["info", *argv]
    argv = [argv[0], *leading, *argv[1:]] if argv and argv[0] in SUBCOMMANDS else [*leading, *argv]
    try:
        args = parser.parse_args(argv)
    except _ParseError as err:  # a usage error: argparse's message, and one JSON object with --json
        err.parser.print_usage(sys.stderr)
        _line(sys.stderr, f"{err.parser.prog}: error: {err}")
        if "--json" in argv:
            _dump({"url": None, "error": f"usage: {err}", "exit": EXIT_UNREADABLE}, out)
        return EXIT_UNREADABLE
    logging.basicConfig(
        level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        args.environment_options = _pop_environment_options()
        _url_from_environment(args)
        return _dispatch(parser, args, out, browse=browse, use_napari=use_napari, writable=writable, node=node)
    except ZarrBrowserError as err:
        _line(sys.stderr, f"zarr-browser: {err}")
        if getattr(args, "json", False):  # a machine reading stdout still gets one JSON object
            _dump({"url": _shown_url(getattr(args, "url", None)), "error": str(err), "exit": EXIT_UNREADABLE}, out)
        return EXIT_UNREADABLE
    except KeyboardInterrupt:
        sys.stderr.write("zarr-browser: interrupted\n")
        return 130
    except BrokenPipeError:  # the reader went away (`zarr-browser info URL | head`): stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_OK
    except Exception as err:  # boundary: never a bare traceback for users
        logger.debug("internal error", exc_info=True)
        _line(sys.stderr, f"zarr-browser: internal error: {type(err).__name__}: {err} (run with -vv for details)")
        return EXIT_INTERNAL


_LEADING_FLAGS = ("-v", "-vv", "-vvv", "--verbose", "--anon", "--json")
_LEADING_WITH_VALUE = ("--timeout", "-O", "--storage-option", "--endpoint-url")


def _leading_options(argv: list[str]) -> list[str]:
    """Take the store and output options in front of a command or URL off *argv* (with their values)."""
    taken: list[str] = []
    while argv:
        word = argv[0]
        if word in _LEADING_FLAGS or (word.split("=", 1)[0] in _LEADING_WITH_VALUE and "=" in word):
            taken.append(argv.pop(0))
        elif word in _LEADING_WITH_VALUE and len(argv) > 1:
            taken += [argv.pop(0), argv.pop(0)]
        else:
            break
    return taken


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace, out: TextIO, *, browse: bool,
              use_napari: bool, writable: bool, node: str | None) -> int:
    url = getattr(args, "url", None)
    if use_napari and browse:
        return _run_napari(url, node, _storage_options(args) if url else None, _request_policy(args))
    if browse:
        window_code = _run_window(url, _storage_options(args) if url else {}, what=url or "the browser",
                                  writable=writable, policy=_request_policy(args), select=node)
        if window_code is not None:
            return window_code
        if url is None:
            parser.print_help(out)
            return EXIT_OK
    if args.command is None:
        parser.print_help(out)
        return EXIT_OK
    handler = {"info": cmd_info, "validate": cmd_validate, "edit": cmd_edit, "demo": cmd_demo}[args.command]
    return handler(args, out)


def run() -> None:
    """Console-script entry point: exit with :func:`main`'s code."""
    sys.exit(main())
