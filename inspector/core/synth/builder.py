"""Write OpenCode-shaped v1 databases from the real 1.18.33 DDL.

Used by the demo (``ocinspect --demo``), the test suite and the benchmarks, so every synthetic
database has exactly OpenCode's tables, indexes and JSON shapes (compare ``tests/fixtures``).
"""

from __future__ import annotations

import json
import random
import sqlite3
import string
from importlib import resources
from pathlib import Path
from typing import Any, Literal, cast

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from inspector.core.db.eventlog import EventIds, message_payload, part_payload, session_info_from_row
from inspector.core.text import compact_json

VERSION = "1.18.33"
_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


def ddl() -> str:
    """The exact schema OpenCode 1.18.33 creates (``sqlite3 opencode.db .schema``)."""
    return resources.files("inspector.core.synth").joinpath("sql/opencode-1.18.33.sql").read_text("utf-8")


JsonStyle = Literal["compact", "spaced", "indent", "tabs"]


def dumps(value: Any, style: JsonStyle = "compact") -> str:
    """JSON text as a given writer would produce it.

    ``compact`` is OpenCode's ``JSON.stringify``; ``spaced`` is Python's ``json.dumps`` defaults
    (``", "`` and ``": "``), ``indent`` is ``jq``/``json.dumps(indent=2)`` (newlines and spaces),
    ``tabs`` indents with tabs. Other writers must be diagnosed exactly like OpenCode's own rows.
    """
    if style == "compact":
        return compact_json(value)
    if style == "spaced":
        return json.dumps(value, ensure_ascii=False)
    if style == "indent":
        return json.dumps(value, ensure_ascii=False, indent=2)
    if style == "tabs":
        return json.dumps(value, ensure_ascii=False, indent="\t", separators=(" ,\t", " :\t "))
    raise ValueError(f"unknown JSON style {style!r}")


class DatabaseBuilder:
    """Append sessions, messages and parts; ids and times are deterministic for a given seed.

    ``json_style`` writes ``message.data``/``part.data`` the way another JSON writer would
    (see :func:`dumps`); the rows are otherwise identical to the compact ones. ``events=True``
    also writes OpenCode 1.18's sync log for every row, as it does (always compact JSON, as
    OpenCode writes its events).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        seed: int = 1,
        schema_sql: str | None = None,
        json_style: JsonStyle = "compact",
        events: bool = False,
    ) -> None:
        self.path = Path(path)
        self.events = events
        if self.path.exists():
            raise FileExistsError(f"{self.path} exists; the builder only writes new databases")
        dumps({}, json_style)  # reject an unknown style before creating the file
        self.json_style: JsonStyle = json_style
        self._random = random.Random(seed)
        self._event_ids = EventIds(choice=random.Random(seed).choice)  # own stream: row ids stay put
        self._engine = create_engine(f"sqlite:///{self.path}", poolclass=NullPool)
        self._conn = self._engine.connect()
        raw = cast(sqlite3.Connection, self._conn.connection.dbapi_connection)  # pysqlite's own connection
        raw.executescript(schema_sql or ddl())
        self._conn.commit()

    def dumps(self, value: Any) -> str:
        """``value`` as JSON text in this builder's style (for hand-written rows too)."""
        return dumps(value, self.json_style)

    # ids ---------------------------------------------------------------------------------
    def new_id(self, prefix: str, when_ms: int, *, descending: bool = False) -> str:
        stamp = (0xFFFFFFFFFFFF - when_ms * 0x1000) if descending else when_ms * 0x1000
        tail = "".join(self._random.choice(_BASE62) for _ in range(14))
        return f"{prefix}_{stamp & 0xFFFFFFFFFFFF:012x}{tail}"

    # rows --------------------------------------------------------------------------------
    def project(self, worktree: str, *, created: int, project_id: str | None = None) -> str:
        pid = project_id or f"{self._random.getrandbits(160):040x}"
        self._exec(
            "INSERT INTO project (id, worktree, vcs, time_created, time_updated, sandboxes) "
            "VALUES (:id, :wt, 'git', :t, :t, '[]')",
            id=pid,
            wt=worktree,
            t=created,
        )
        return pid

    def session(
        self,
        *,
        project_id: str,
        title: str,
        directory: str,
        created: int,
        updated: int | None = None,
        parent_id: str | None = None,
        time_compacting: int | None = None,
        version: str = VERSION,
        agent: str = "build",
        session_id: str | None = None,
    ) -> str:
        sid = session_id or self.new_id("ses", created, descending=True)
        slug = "-".join(self._random.choice(("brave", "sunny", "quiet", "stellar", "amber")) for _ in range(2))
        self._exec(
            "INSERT INTO session (id, project_id, parent_id, slug, directory, path, title, version, "
            "agent, model, time_created, time_updated, time_compacting) VALUES (:id, :pid, :parent, "
            ":slug, :dir, '', :title, :version, :agent, :model, :created, :updated, :compacting)",
            id=sid,
            pid=project_id,
            parent=parent_id,
            slug=slug,
            dir=directory,
            title=title,
            version=version,
            agent=agent,
            model=self.dumps({"id": "fake", "providerID": "fakeprov", "variant": "default"}),
            created=created,
            updated=updated or created,
            compacting=time_compacting,
        )
        if self.events:
            row = self._conn.execute(text("SELECT * FROM session WHERE id = :id"), {"id": sid}).one()
            info = session_info_from_row(dict(row._mapping))
            self._log(sid, "session.created.1", {"sessionID": sid, "info": info}, created)
        return sid

    def user_message(self, session_id: str, prompt: str, *, created: int, agent: str = "build") -> str:
        mid = self.new_id("msg", created)
        data = {
            "role": "user",
            "time": {"created": created},
            "agent": agent,
            "model": {"providerID": "fakeprov", "modelID": "fake"},
            "summary": {"diffs": []},
        }
        self._message(mid, session_id, created, data)
        self.part(mid, session_id, {"type": "text", "text": prompt}, created=created + 5)
        return mid

    def assistant_message(
        self,
        session_id: str,
        parent_id: str,
        *,
        created: int,
        completed: int | None = None,
        directory: str = "/home/dev/src/webapp",
        finish: str | None = None,
        summary: bool = False,
        error: dict[str, Any] | None = None,
        agent: str = "build",
    ) -> str:
        mid = self.new_id("msg", created)
        data: dict[str, Any] = {
            "parentID": parent_id,
            "role": "assistant",
            "mode": agent,
            "agent": agent,
            "path": {"cwd": directory, "root": directory},
            "cost": 0,
            "tokens": {"input": 0, "output": 0, "reasoning": 0, "cache": {"read": 0, "write": 0}},
            "modelID": "fake",
            "providerID": "fakeprov",
            "time": {"created": created, **({"completed": completed} if completed else {})},
        }
        if finish:
            data["finish"] = finish
        if summary:
            data["summary"] = True
        if error:
            data["error"] = error
        self._message(mid, session_id, created, data, updated=completed or created + 2)
        self.part(
            mid,
            session_id,
            {"snapshot": "4b825dc642cb6eb9a060e54bf8d69288fbee4904", "type": "step-start"},
            created=created + 10,
        )
        return mid

    def tool_part(
        self,
        message_id: str,
        session_id: str,
        *,
        tool: str,
        status: str,
        tool_input: dict[str, Any] | None = None,
        created: int,
        started: int | None = None,
        ended: int | None = None,
        output: str | None = None,
        metadata: dict[str, Any] | None = None,
        title: str | None = None,
    ) -> str:
        """A tool part in any state; ``pending`` gets OpenCode's exact placeholder shape."""
        if status == "pending":
            state: dict[str, Any] = {"status": "pending", "input": tool_input or {}, "raw": ""}
        elif status == "running":
            state = {
                "metadata": metadata if metadata is not None else {"output": output or ""},
                "status": "running",
                "input": tool_input or {},
                "time": {"start": started or created},
            }
            if title:
                state = {"title": title, **state}
        elif status == "completed":
            state = {
                "status": "completed",
                "input": tool_input or {},
                "output": output or "",
                "title": title or "",
                "metadata": metadata or {"output": output or "", "exit": 0},
                "time": {"start": started or created, "end": ended or (started or created) + 50},
            }
        else:
            state = {"status": status, "input": tool_input or {}}
        data = {"type": "tool", "tool": tool, "callID": f"call_{created}", "state": state}
        return self.part(message_id, session_id, data, created=created)

    def part(self, message_id: str, session_id: str, data: dict[str, Any] | str, *, created: int) -> str:
        pid = self.new_id("prt", created)
        self._exec(
            "INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) "
            "VALUES (:id, :mid, :sid, :t, :u, :data)",
            id=pid,
            mid=message_id,
            sid=session_id,
            t=created,
            u=created + 2,
            data=data if isinstance(data, str) else self.dumps(data),
        )
        if self.events and isinstance(data, dict):
            self._log(
                session_id, "message.part.updated.1", part_payload(session_id, message_id, pid, data, created), created
            )
        return pid

    def message(
        self, message_id: str, session_id: str, data: dict[str, Any], *, created: int, updated: int | None = None
    ) -> str:
        """A message with a chosen id (e.g. one minted before OpenCode's id clock wrapped)."""
        self._message(message_id, session_id, created, data, updated=updated)
        return message_id

    def raw(self, sql: str, **params: Any) -> None:
        """Escape hatch for tests that need a deliberately broken row."""
        self._exec(sql, **params)

    def close(self) -> Path:
        self._conn.commit()
        self._conn.close()
        self._engine.dispose()
        return self.path

    def __enter__(self) -> DatabaseBuilder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _message(
        self, mid: str, session_id: str, created: int, data: dict[str, Any], *, updated: int | None = None
    ) -> None:
        self._exec(
            "INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES (:id, :sid, :t, :u, :data)",
            id=mid,
            sid=session_id,
            t=created,
            u=updated or created + 2,
            data=self.dumps(data),
        )
        if self.events:
            self._log(session_id, "message.updated.1", message_payload(session_id, mid, data), created)

    def _log(self, session_id: str, kind: str, payload: dict[str, Any], when: int) -> None:
        """Append one event and bump the session's sequence, as ``SyncEvent.run`` does."""
        seq = self._conn.execute(
            text("SELECT seq FROM event_sequence WHERE aggregate_id = :sid"), {"sid": session_id}
        ).scalar()
        seq = 0 if seq is None else seq + 1
        self._exec(
            "INSERT INTO event_sequence (aggregate_id, seq) VALUES (:sid, :seq) "
            "ON CONFLICT (aggregate_id) DO UPDATE SET seq = :seq",
            sid=session_id,
            seq=seq,
        )
        self._exec(
            "INSERT INTO event (id, aggregate_id, seq, type, data) VALUES (:id, :sid, :seq, :type, :data)",
            id=self._event_ids.next(when),
            sid=session_id,
            seq=seq,
            type=kind,
            data=compact_json(payload),
        )

    def _exec(self, sql: str, **params: Any) -> None:
        self._conn.execute(text(sql), params)
