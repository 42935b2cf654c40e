"""A pure-Python Streamlit client: one browser tab's websocket protocol, for bench/load.py.

Speaks Streamlit 1.67 as its frontend does (``static/static/js/index.*.js``; the server side is
``web/server/starlette/starlette_websocket.py`` and ``runtime/app_session.py``):

1. Ping: GET ``/_stcore/health`` and ``/_stcore/host-config`` together; the health answer sets
   the ``_streamlit_xsrf`` cookie.
2. Open ``ws://HOST/_stcore/stream`` with that cookie and an Origin header, subprotocols
   ``streamlit, <the xsrf cookie's value>``.
3. Send ``BackMsg.rerun_script``: a ``ClientState`` with the query string, the page (its name from
   the URL path until the server has named its script hash), the widget states, the hashes of
   the cached ForwardMsgs and the browser context.
4. Read ``ForwardMsg``s: ``new_session`` starts a run (a full run unless its ``metadata.run`` names
   fragments), ``delta``s put elements and blocks at ``metadata.delta_path``, ``script_finished``
   ends the run. A widget drawn inside a fragment (``delta.fragment_id``) reruns that fragment
   alone when set (``rerun_script`` with its ``fragment_id``), as the frontend does; a fragment
   may turn its run into a full one (``st.rerun()``). ``auto_rerun`` asks for a fragment rerun every ``interval`` seconds
   (``st.fragment(run_every=...)``) until ``stop_auto_rerun`` or the next full run;
   ``page_info_changed`` sets the query string the next rerun sends.
5. Message cache: a ForwardMsg marked ``metadata.cacheable`` is kept by its hash; each rerun lists
   the kept hashes and the server sends ``ref_hash`` references for those messages instead.
   A kept message not used for ``max_cached_message_age`` finished runs is dropped.

Widget values are sent as the frontend sends them: ``st.selectbox`` a ``string_value`` (the option's
label), ``st.feedback`` a ``string_value`` (the index, "0".."4" for stars), ``st.number_input`` a
``double_value``, ``st.text_input`` a ``string_value``, a button (or form submit button) a one-shot
``trigger_value``. The client sends the values it set, in every rerun as the frontend does; when the
server sets a widget (``set_value``) the client drops its own value (the server holds the new one),
and it drops the values of widgets no longer drawn, as the frontend does. Not done: the frontend's
static files, its app heartbeats (optional), and reporting the default value of each widget drawn
(the server holds those already).

Failures raise: :class:`SessionError` (an exception element, a compile error, a cache miss, a
widget not on the page), ``TimeoutError``, or ``websockets.ConnectionClosed`` (a lost socket).
"""

from __future__ import annotations

import asyncio
import re
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import streamlit
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Block_pb2 import Block
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from streamlit.runtime.state.common import user_key_from_element_id
from websockets.asyncio.client import ClientConnection, connect

SPOKEN = ((1, 67), (1, 70))  # Streamlit versions whose browser protocol this client was checked against: [from, to)
XSRF_COOKIE = "_streamlit_xsrf"
_NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class SessionError(Exception):
    """The app or the protocol failed (not a timeout, not a lost socket)."""


def check_streamlit_version(version: str = streamlit.__version__) -> None:
    """This client speaks Streamlit's private browser protocol: refuse a version it was not
    checked against, rather than measure a conversation that no longer happens."""
    try:
        major_minor = tuple(int(p) for p in version.split(".")[:2])
    except ValueError:
        raise SessionError(f"unreadable Streamlit version {version!r}") from None
    if not SPOKEN[0] <= major_minor < SPOKEN[1]:
        raise SessionError(f"bench/stclient.py speaks Streamlit {SPOKEN[0][0]}.{SPOKEN[0][1]} to before "
                           f"{SPOKEN[1][0]}.{SPOKEN[1][1]}, not {version}: check its messages against this version's "
                           "frontend, then widen SPOKEN (or run bench/load.py --client browser)")


check_streamlit_version()


# -- the ForwardMsg cache -----------------------------------------------------------------------------------
@dataclass
class _Cached:
    raw: bytes
    run_count: int
    fragment_id: str


@dataclass
class MessageCache:
    """The frontend's ForwardMsg cache: cacheable messages by hash, aged in finished runs."""

    entries: dict[str, _Cached] = field(default_factory=dict)
    run_count: int = 0

    def resolve(self, msg: ForwardMsg, raw: bytes) -> ForwardMsg:
        """Keep ``msg`` if cacheable; a ``ref_hash`` reference becomes the cached message, with the
        reference's metadata (its delta path)."""
        if msg.WhichOneof("type") != "ref_hash":
            if msg.metadata.cacheable and not self._touch(msg.hash):
                self.entries[msg.hash] = _Cached(raw, self.run_count, msg.delta.fragment_id)
            return msg
        if not self._touch(msg.ref_hash):
            raise SessionError(f"cached ForwardMsg miss for ref_hash {msg.ref_hash}")
        hit = ForwardMsg.FromString(self.entries[msg.ref_hash].raw)
        hit.metadata.CopyFrom(msg.metadata)
        return hit

    def _touch(self, hash_: str) -> bool:
        entry = self.entries.get(hash_)
        if entry is not None:
            entry.run_count = self.run_count
        return entry is not None

    def finished_run(self, max_age: int, fragment_ids: list[str]) -> None:
        """A run finished: drop the entries older than ``max_age`` runs (only those of the
        rerun fragments after a fragment run)."""
        self.run_count += 1
        for h, e in list(self.entries.items()):
            if fragment_ids and e.fragment_id not in fragment_ids:
                continue
            if self.run_count - e.run_count > max_age:
                del self.entries[h]


# -- the page ------------------------------------------------------------------------------------------------
def _widget(element: Element):
    """The element's typed proto (``element.selectbox`` ...)."""
    return getattr(element, element.WhichOneof("type"))


class StreamlitSession:
    """One browser tab of a Streamlit app, over its websocket."""

    def __init__(self, ws: ClientConnection, url: str, page: str, query: str):
        self.ws = ws
        self.url = url
        self.page = page
        self.query = query
        self.page_script_hash = ""
        self.cache = MessageCache()
        self.max_cache_age = 2  # global.maxCachedMessageAge's default, until a new_session names it
        self.nodes: dict[tuple[int, ...], Element | Block] = {}  # delta path -> what is drawn there
        self.values: dict[str, WidgetState] = {}  # widget id -> the value this tab set
        self.auto_reruns: dict[str, tuple[float, float]] = {}  # fragment id -> (interval, next due)
        self.fragment_of: dict[str, str] = {}  # widget id -> the fragment it is drawn in ("" = none)
        self.runs_started = 0   # full runs
        self.runs_finished = 0  # full runs finished successfully (numbered as started)
        self.fragment_runs_started = 0
        self.fragment_runs_finished = 0
        self._run = 0
        self._fragment_run = 0

    # -- connecting ------------------------------------------------------------------------------------------
    @classmethod
    async def open(cls, url: str, page: str = "", query: str = "", timeout: float = 60) -> StreamlitSession:
        """Open ``url/page?query`` as a browser does and wait for its first full run."""
        cookie = await asyncio.wait_for(_ping(url), timeout)
        host = url.split("://", 1)[1]
        ws = await connect(f"ws://{host}/_stcore/stream", origin=url, proxy=None, max_size=None,
                           subprotocols=["streamlit", cookie.split("=", 1)[1]],
                           additional_headers={"Cookie": cookie}, open_timeout=timeout)
        session = cls(ws, url, page, query)
        try:
            await session.rerun(timeout=timeout)
        except BaseException:
            await session.close()
            raise
        return session

    async def close(self) -> None:
        await self.ws.close()

    # -- reruns ------------------------------------------------------------------------------------------------
    async def rerun(self, set_values: dict[str, tuple[str, object]] | None = None, trigger: str | None = None,
                    timeout: float = 60, full: bool = False) -> float:
        """Set widgets (``{user key: (WidgetState field, value)}``), click ``trigger`` (a button's
        key) and rerun the app as the browser does; wait for the run to finish: the fragment's run
        if the widgets are all in one fragment (with ``full``: the full run that fragment asks
        for), else the full run. Returns the seconds from sending to the finished run; raises
        :class:`SessionError` if the run shows an exception."""
        touched = []
        for key, (kind, value) in (set_values or {}).items():
            state = WidgetState(id=self.widget_id(key))
            setattr(state, kind, value)
            self.values[state.id] = state
            touched.append(state.id)
        states = list(self.values.values())
        if trigger is not None:
            states.append(WidgetState(id=self.widget_id(trigger), trigger_value=True))
            touched.append(states[-1].id)
        fragments = {self.fragment_of.get(i, "") for i in touched}
        fragment = fragments.pop() if len(fragments) == 1 else ""
        started, fragment_started = self.runs_started, self.fragment_runs_started
        t0 = time.perf_counter()
        await self._send_rerun(states, fragment_id=fragment, auto=False)
        if fragment and not full:
            await self.wait(lambda: self.fragment_runs_finished > fragment_started, timeout)
        else:
            await self.wait(lambda: self.runs_finished > started, timeout)
        dt = time.perf_counter() - t0
        self.check()
        return dt

    async def _send_rerun(self, states: list[WidgetState], fragment_id: str = "", auto: bool = True) -> None:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        if self.page_script_hash:
            cs.page_script_hash = self.page_script_hash
        else:
            cs.page_name = self.page
        cs.widget_states.widgets.extend(states)
        cs.fragment_id = fragment_id
        cs.is_auto_rerun = bool(fragment_id) and auto
        cs.cached_message_hashes.extend(self.cache.entries)
        ci = cs.context_info
        ci.timezone, ci.timezone_offset, ci.locale = "UTC", 0, "en-US"
        ci.url, ci.is_embedded, ci.color_scheme = f"{self.url}/{self.page}", False, "light"
        await self.ws.send(msg.SerializeToString())

    async def wait(self, done: Callable[[], bool], timeout: float) -> None:
        """Read ForwardMsgs (sending the fragment auto-reruns that fall due) until ``done()``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not done():
            now = loop.time()
            if now >= deadline:
                raise TimeoutError(f"no answer within {timeout:g} s")
            due = min((d for _, d in self.auto_reruns.values()), default=deadline)
            if due <= now:
                await self._auto_rerun(now)
                continue
            try:
                raw = await asyncio.wait_for(self.ws.recv(), min(due, deadline) - now)
            except TimeoutError:
                continue
            self._handle(raw)

    async def _auto_rerun(self, now: float) -> None:
        for frag, (interval, due) in list(self.auto_reruns.items()):
            if due <= now:
                self.auto_reruns[frag] = (interval, now + interval)
                await self._send_rerun(list(self.values.values()), fragment_id=frag)

    # -- ForwardMsgs -----------------------------------------------------------------------------------------
    def _handle(self, raw: bytes) -> None:
        msg = self.cache.resolve(ForwardMsg.FromString(raw), raw)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self._new_run(msg)
        elif kind == "delta":
            self._delta(msg)
        elif kind == "script_finished":
            self._finished(msg)
        elif kind == "navigation":
            self.page_script_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            a = msg.auto_rerun
            if self.auto_reruns.get(a.fragment_id, (None,))[0] != a.interval:
                self.auto_reruns[a.fragment_id] = (a.interval, asyncio.get_running_loop().time() + a.interval)
        elif kind == "stop_auto_rerun":
            for frag in msg.stop_auto_rerun.fragment_ids:
                self.auto_reruns.pop(frag, None)
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            raise SessionError(f"script compile error: {msg.session_event.script_compilation_exception.message}")

    def _new_run(self, msg: ForwardMsg) -> None:
        self.max_cache_age = msg.new_session.config.max_cached_message_age
        if not self.page_script_hash:
            self.page_script_hash = msg.new_session.page_script_hash
        if not msg.metadata.run.fragment_ids:  # a full run redraws the page and re-requests auto-reruns
            self.nodes = {}
            self.auto_reruns = {}
            self.runs_started += 1
            self._run = self.runs_started
        else:
            self.fragment_runs_started += 1
            self._fragment_run = self.fragment_runs_started

    def _delta(self, msg: ForwardMsg) -> None:
        path = tuple(msg.metadata.delta_path)
        kind = msg.delta.WhichOneof("type")
        if kind == "new_element":
            element = msg.delta.new_element
            self.nodes = {p: n for p, n in self.nodes.items() if p[:len(path)] != path}
            self.nodes[path] = element
            widget_id = getattr(_widget(element), "id", "")
            if widget_id:
                self.fragment_of[widget_id] = msg.delta.fragment_id
            if getattr(_widget(element), "set_value", False):
                self.values.pop(_widget(element).id, None)
        elif kind == "add_block":
            self.nodes[path] = block = msg.delta.add_block
            if block.WhichOneof("type") == "expandable" and block.expandable.id:  # an expander with state: a widget
                self.fragment_of[block.expandable.id] = msg.delta.fragment_id

    def _finished(self, msg: ForwardMsg) -> None:
        status = msg.script_finished
        if status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
            raise SessionError("the script did not compile")
        if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
            return
        self.cache.finished_run(self.max_cache_age, list(msg.metadata.run.fragment_ids))
        if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
            shown = {getattr(_widget(e), "id", "") for e in self.elements()}
            self.values = {i: v for i, v in self.values.items() if i in shown}
        if status == ForwardMsg.FINISHED_SUCCESSFULLY:
            self.runs_finished = self._run
        elif status == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
            self.fragment_runs_finished = self._fragment_run

    def idle(self) -> bool:
        """Whether the last full run started has finished."""
        return self.runs_finished == self.runs_started

    # -- what the page shows -----------------------------------------------------------------------------------
    def elements(self, kind: str | None = None) -> Iterator[Element]:
        """The page's elements in page order (of one type: ``"alert"``, ``"dataframe"`` ...)."""
        for _, node in sorted(self.nodes.items()):
            if isinstance(node, Element) and (kind is None or node.WhichOneof("type") == kind):
                yield node

    def widget_id(self, key: str) -> str:
        """The id of the element (or expander with state) with this user ``key`` (a SessionError if
        not on the page)."""
        for e in self.elements():
            wid = getattr(_widget(e), "id", "")
            if wid and user_key_from_element_id(wid) == key:
                return wid
        for b in self.nodes.values():
            if isinstance(b, Block) and b.WhichOneof("type") == "expandable" and b.expandable.id \
                    and user_key_from_element_id(b.expandable.id) == key:
                return b.expandable.id
        raise SessionError(f"no widget with key {key!r} on the page")

    def user_keys(self) -> list[str]:
        """The user keys of the elements on the page."""
        ids = (getattr(_widget(e), "id", "") for e in self.elements())
        return [k for k in (user_key_from_element_id(i) for i in ids if i) if k]

    def expander_labels(self) -> list[str]:
        return [b.expandable.label for _, b in sorted(self.nodes.items())
                if isinstance(b, Block) and b.WhichOneof("type") == "expandable"]

    def table_beside(self, heading: str) -> bytes | None:
        """The Arrow bytes of the first dataframe in the container of the heading that starts with
        ``heading`` (None if not shown). Dataframes without selections carry no id, so this finds
        one the way a person does: by its heading (an ``st.header`` or a Markdown ``####`` line)."""
        parents = [p[:-1] for p, n in sorted(self.nodes.items())
                   if isinstance(n, Element) and (_heading_text(n) or "").startswith(heading)]
        for p, n in sorted(self.nodes.items()):
            if isinstance(n, Element) and n.WhichOneof("type") == "dataframe" and p[:-1] in parents:
                df = n.dataframe
                return df.lazy_data.initial_chunk.data if df.HasField("lazy_data") else df.arrow_data.data
        return None

    def alerts(self) -> list[tuple[str, str]]:
        """``(format name, body)`` of each st.error/warning/info/success."""
        return [(e.alert.Format.Name(e.alert.format), e.alert.body) for e in self.elements("alert")]

    def headings(self) -> list[str]:
        """Every heading's text as a reader sees it: ``st.header``-like elements and Markdown
        ``#`` lines, tags removed."""
        return [t for e in self.elements() if (t := _heading_text(e)) is not None]

    def check(self) -> None:
        """Raise :class:`SessionError` if the page shows an exception."""
        for e in self.elements("exception"):
            raise SessionError(f"exception shown: {e.exception.type}: {e.exception.message[:160]}")


def _heading_text(e: Element) -> str | None:
    """The text of a heading element or a Markdown heading line (tags removed), else None."""
    kind = e.WhichOneof("type")
    if kind == "heading":
        return e.heading.body
    if kind == "markdown" and e.markdown.body.startswith("#"):
        return re.sub(r"<[^>]+>", "", e.markdown.body).lstrip("# ").strip()
    return None


async def _ping(url: str) -> str:
    """GET health and host-config at once, as the browser's first ping does; returns the XSRF
    cookie (``name=value``) the health answer set."""
    health, _ = await asyncio.gather(asyncio.to_thread(_get, f"{url}/_stcore/health"),
                                     asyncio.to_thread(_get, f"{url}/_stcore/host-config"))
    xsrf = [c for c in health if c.startswith(XSRF_COOKIE + "=")]
    if not xsrf:
        raise SessionError("the health check set no XSRF cookie")
    return xsrf[0]


def _get(url: str) -> list[str]:
    """GET ``url`` (never through a proxy); the cookies it set, as ``name=value``."""
    with _NO_PROXY.open(url, timeout=30) as r:
        r.read()
        return [c.split(";", 1)[0] for c in r.headers.get_all("Set-Cookie") or []]
