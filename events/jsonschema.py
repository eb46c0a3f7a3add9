"""JSON Schema (draft 2020-12) of the event contract, generated from the pydantic models.

The files in `schemas/` are the contract agencies code against; they are checked in and must equal
what this module renders:

    python -m events.jsonschema            # (re)write schemas/
    python -m events.jsonschema --check    # exit 1 and list the files that drifted

Files: `envelope.json` (fields every event carries), `<EventType>.v<version>.json` (one per event
type, at its current version), `event.json` (any event: the union discriminated by `event_type`)
and `index.json` (streams, dimensions, severities and event types, with Chinese and English names).
A schema file of an older version stays where it is: versions are added, never edited in place.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from events.dimensions import DIMENSION_NAMES, SEVERITY_NAMES
from events.envelope import Envelope
from events.registry import CURRENT_VERSION, EVENT_ADAPTER, EVENT_TYPES
from events.streams import STREAMS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
# Identifiers only: nothing fetches them. Change the host here when the contract is published.
BASE_URI = "https://jointcase.example/schemas/"

ENVELOPE_FILE = "envelope.json"
EVENT_FILE = "event.json"
INDEX_FILE = "index.json"

ENVELOPE_TITLE = ("Event envelope", "事件信封")
EVENT_TITLE = ("Event (any type)", "事件（任意类型）")

DEFAULT_DIRECTORY = Path(__file__).resolve().parent.parent / "schemas"

_COMMENT = "Generated from the models in events/ by `python -m events.jsonschema`; do not edit."
_VERSIONED = re.compile(r"^(?P<type>[A-Za-z][A-Za-z0-9]*)\.v(?P<version>[1-9][0-9]*)\.json$")


def schema_file(event_type: str, version: int | None = None) -> str:
    """File name of an event type's schema, at its current version unless `version` is given."""
    return f"{event_type}.v{CURRENT_VERSION[event_type] if version is None else version}.json"


def titles(cls: type[Envelope]) -> tuple[str, str]:
    """(English, Chinese) title of an event type, from its model_config."""
    extra = cls.model_config.get("json_schema_extra")
    if not isinstance(extra, dict):
        raise TypeError(f"{cls.__name__}: model_config needs json_schema_extra with x-title-*")
    en, zh = extra.get("x-title-en"), extra.get("x-title-zh")
    if not isinstance(en, str) or not isinstance(zh, str) or not en or not zh:
        raise TypeError(f"{cls.__name__}: model_config needs x-title-en and x-title-zh")
    return en, zh


def _set_title(schema: dict[str, Any], en: str, zh: str) -> None:
    schema["title"] = f"{en} / {zh}"
    schema["x-title-en"] = en
    schema["x-title-zh"] = zh


def _tighten(schema: dict[str, Any], cls: type[Envelope], event_type: str) -> None:
    """Make an event type's object schema say what the parser enforces beyond the field types.

    pydantic derives the field types; these rules live in validators and class variables:
    the streams that may publish the type, `event_type` being required on the wire (the
    union is discriminated by it), and `schema_version` being the current version (older
    versions are described by their own files and upcast when read).
    """
    props: dict[str, Any] = schema["properties"]
    allowed = sorted(s.value for s in cls.allowed_streams)
    if allowed:
        props["stream"] = {
            "$ref": "#/$defs/Stream",
            "enum": allowed,
            "description": f"streams that may publish {event_type}",
        }
    version = CURRENT_VERSION[event_type]
    props["schema_version"] = {
        "const": version,
        "default": version,
        "type": "integer",
        "title": "Schema Version",
        "description": f"version {version} of the {event_type} schema",
    }
    required = set(schema.get("required", ())) | {"event_type"}
    if version > 1:
        # Without it the event would be read as version 1 and upcast.
        required.add("schema_version")
    schema["required"] = [name for name in props if name in required]


def _header(schema: dict[str, Any], file_name: str) -> dict[str, Any]:
    return {"$schema": DIALECT, "$id": BASE_URI + file_name, "$comment": _COMMENT, **schema}


def envelope_schema() -> dict[str, Any]:
    schema = Envelope.model_json_schema()
    _set_title(schema, *ENVELOPE_TITLE)
    schema["properties"]["payload"] |= {
        "type": "object",
        "description": f"the typed payload; its schema depends on event_type (see {EVENT_FILE})",
    }
    schema["properties"]["event_type"]["enum"] = list(EVENT_TYPES)
    return _header(schema, ENVELOPE_FILE)


def event_type_schema(event_type: str) -> dict[str, Any]:
    cls = EVENT_TYPES[event_type]
    schema = cls.model_json_schema()
    _set_title(schema, *titles(cls))  # already there from model_config; set again to be sure
    _tighten(schema, cls, event_type)
    return _header(schema, schema_file(event_type))


def event_schema() -> dict[str, Any]:
    """Any event: one of the event types, chosen by `event_type`."""
    schema = EVENT_ADAPTER.json_schema()
    defs: dict[str, Any] = schema["$defs"]
    for event_type, cls in EVENT_TYPES.items():
        if event_type not in defs:
            raise RuntimeError(f"{event_type} is missing from the Event union")
        _set_title(defs[event_type], *titles(cls))
        _tighten(defs[event_type], cls, event_type)
    _set_title(schema, *EVENT_TITLE)
    schema["description"] = (
        f"One event of any type; event_type selects the schema (also published alone as "
        f"<EventType>.v<version>.json). Common fields are described in {ENVELOPE_FILE}."
    )
    return _header(schema, EVENT_FILE)


def index() -> dict[str, Any]:
    event_types = []
    for event_type, cls in EVENT_TYPES.items():
        en, zh = titles(cls)
        event_types.append(
            {
                "name": event_type,
                "title": f"{en} / {zh}",
                "en": en,
                "zh": zh,
                "schema_version": CURRENT_VERSION[event_type],
                "allowed_streams": sorted(s.value for s in cls.allowed_streams),
                "schema_file": schema_file(event_type),
                "$id": BASE_URI + schema_file(event_type),
            }
        )
    return {
        "$comment": _COMMENT,
        "base_uri": BASE_URI,
        "envelope": ENVELOPE_FILE,
        "event": EVENT_FILE,
        "streams": [
            {
                "id": info.stream.value,
                "zh": info.name_zh,
                "en": info.name_en,
                "dimensions": [d.value for d in info.dimensions],
                "is_agency": info.is_agency,
            }
            for info in STREAMS.values()
        ],
        "dimensions": [
            {"id": dim.value, "zh": zh, "en": en} for dim, (zh, en) in DIMENSION_NAMES.items()
        ],
        "severities": [
            {"id": sev.value, "zh": zh, "en": en, "rank": sev.rank}
            for sev, (zh, en) in SEVERITY_NAMES.items()
        ],
        "event_types": event_types,
    }


def dumps(document: dict[str, Any]) -> str:
    """The one serialisation of every file, so that regenerating is byte-for-byte stable."""
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True) + "\n"


def render() -> dict[str, str]:
    """Every schema file: name -> content."""
    files = {
        ENVELOPE_FILE: dumps(envelope_schema()),
        EVENT_FILE: dumps(event_schema()),
        INDEX_FILE: dumps(index()),
    }
    for event_type in EVENT_TYPES:
        files[schema_file(event_type)] = dumps(event_type_schema(event_type))
    return dict(sorted(files.items()))


def _is_older_version(name: str) -> bool:
    """An earlier version of a known event type: kept as published, never regenerated."""
    match = _VERSIONED.match(name)
    if match is None or match["type"] not in CURRENT_VERSION:
        return False
    return int(match["version"]) < CURRENT_VERSION[match["type"]]


def _stale(directory: Path, expected: dict[str, str]) -> list[Path]:
    if not directory.is_dir():
        return []
    return sorted(
        path
        for path in directory.glob("*.json")
        if path.name not in expected and not _is_older_version(path.name)
    )


def write(directory: Path) -> list[Path]:
    """Write every rendered file into `directory` (only those whose bytes change are touched)
    and remove schema files of event types or versions that no longer exist. Returns the
    paths of the rendered files."""
    files = render()
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        path = directory / name
        data = content.encode("utf-8")
        if not path.is_file() or path.read_bytes() != data:
            path.write_bytes(data)
        written.append(path)
    for path in _stale(directory, files):
        # Only files named like our schemas: anything else is reported by check(), not deleted.
        if _VERSIONED.match(path.name):
            path.unlink()
    return written


def check(directory: Path) -> list[str]:
    """Names of files in `directory` that differ from render(), are missing, or are extra."""
    files = render()
    problems = []
    for name, content in files.items():
        path = directory / name
        # Bytes, not text: a line-ending or encoding change is drift too.
        if not path.is_file() or path.read_bytes() != content.encode("utf-8"):
            problems.append(name)
    problems.extend(path.name for path in _stale(directory, files))
    return sorted(problems)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m events.jsonschema",
        description="Write (or check) the JSON Schema files of the event contract.",
    )
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if any file differs"
    )
    parser.add_argument(
        "directory",
        nargs="?",
        type=Path,
        default=DEFAULT_DIRECTORY,
        help=f"where the schema files live (default: {DEFAULT_DIRECTORY})",
    )
    args = parser.parse_args(argv)
    directory: Path = args.directory
    if args.check:
        problems = check(directory)
        if problems:
            print(f"schema files out of date in {directory}:", file=sys.stderr)
            for name in problems:
                print(f"  {name}", file=sys.stderr)
            print(
                "run `python -m events.jsonschema` to regenerate them; an incompatible change "
                "to an event type needs a new schema version and an upcaster, not an edit in place",
                file=sys.stderr,
            )
            return 1
        print(f"{len(render())} schema files in {directory} are up to date")
        return 0
    paths = write(directory)
    print(f"wrote {len(paths)} schema files to {directory}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
