"""The published JSON Schemas: checked in, equal to what the models render, and in agreement with
the parser on every example."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from events import (
    CURRENT_VERSION,
    DIMENSION_NAMES,
    EVENT_TYPES,
    SEVERITY_NAMES,
    STREAMS,
    Event,
    InvalidEvent,
    Stream,
    parse_event,
    register_upcaster,
    to_dict,
    unregister_upcaster,
)
from events import jsonschema as js
from tests.strategies import any_event
from tests.unit.test_events import EXAMPLES, example

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
REGENERATE = "run `python -m events.jsonschema` to regenerate schemas/ from events/"

JsonDict = dict[str, Any]


@pytest.fixture(scope="module")
def rendered() -> dict[str, str]:
    return js.render()


def _load(rendered: dict[str, str], name: str) -> JsonDict:
    document: JsonDict = json.loads(rendered[name])
    return document


# --- the checked-in files ---------------------------------------------------------------------


def test_checked_in_schemas_equal_the_models() -> None:
    drifted = js.check(SCHEMAS)
    assert drifted == [], f"schemas/ differs from events/ in {drifted}: {REGENERATE}"


def test_the_default_directory_is_the_checked_in_one() -> None:
    assert js.DEFAULT_DIRECTORY == SCHEMAS


def test_one_file_per_event_type_plus_envelope_union_and_index(rendered: dict[str, str]) -> None:
    expected = {f"{name}.v{CURRENT_VERSION[name]}.json" for name in EVENT_TYPES}
    assert set(rendered) == expected | {"envelope.json", "event.json", "index.json"}
    assert len(rendered) == 26


def test_rendering_is_deterministic_and_canonical(rendered: dict[str, str]) -> None:
    assert js.render() == rendered
    for name, content in rendered.items():
        assert content.endswith("}\n"), name
        canonical = json.dumps(json.loads(content), ensure_ascii=False, indent=2, sort_keys=True)
        assert content == canonical + "\n", name
    assert "检查发现" in rendered["FindingRecorded.v1.json"]  # not \\u-escaped


def test_every_schema_names_its_dialect_and_id(rendered: dict[str, str]) -> None:
    for name in rendered:
        if name == "index.json":
            continue
        schema = _load(rendered, name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["$id"] == js.BASE_URI + name
        assert "do not edit" in schema["$comment"]


# --- titles and what the schemas say ----------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_event_type_schema_has_bilingual_titles(rendered: dict[str, str], name: str) -> None:
    cls = EVENT_TYPES[name]
    schema = _load(rendered, js.schema_file(name))
    en, zh = schema["x-title-en"], schema["x-title-zh"]
    assert schema["title"] == f"{en} / {zh}" == cls.model_config["title"]
    assert en.isascii() and not zh.isascii()
    union_def = _load(rendered, "event.json")["$defs"][name]
    assert union_def["title"] == schema["title"]


def test_envelope_and_union_have_bilingual_titles(rendered: dict[str, str]) -> None:
    for name, (en, zh) in [("envelope.json", js.ENVELOPE_TITLE), ("event.json", js.EVENT_TITLE)]:
        schema = _load(rendered, name)
        assert schema["title"] == f"{en} / {zh}"
        assert (schema["x-title-en"], schema["x-title-zh"]) == (en, zh)


@pytest.mark.parametrize("name", sorted(EVENT_TYPES))
def test_event_type_schema_carries_the_parser_rules(rendered: dict[str, str], name: str) -> None:
    schema = _load(rendered, js.schema_file(name))
    allowed = sorted(s.value for s in EVENT_TYPES[name].allowed_streams)
    assert schema["properties"]["stream"]["enum"] == allowed
    assert schema["properties"]["event_type"]["const"] == name
    assert schema["properties"]["schema_version"]["const"] == CURRENT_VERSION[name]
    assert {"event_id", "event_type", "stream", "enterprise", "payload"} <= set(schema["required"])
    assert schema["additionalProperties"] is False


def test_union_is_one_of_every_event_type(rendered: dict[str, str]) -> None:
    schema = _load(rendered, "event.json")
    refs = [branch["$ref"] for branch in schema["oneOf"]]
    assert sorted(refs) == sorted(f"#/$defs/{name}" for name in EVENT_TYPES)
    for name in EVENT_TYPES:
        assert schema["$defs"][name]["properties"]["stream"]["enum"] == sorted(
            s.value for s in EVENT_TYPES[name].allowed_streams
        )


def test_index_lists_streams_dimensions_severities_and_types(rendered: dict[str, str]) -> None:
    index = _load(rendered, "index.json")
    assert [s["id"] for s in index["streams"]] == [s.value for s in Stream]
    for entry in index["streams"]:
        info = STREAMS[Stream(entry["id"])]
        assert (entry["zh"], entry["en"]) == (info.name_zh, info.name_en)
        assert entry["dimensions"] == [d.value for d in info.dimensions]
    assert index["streams"][0] == {
        "id": "ndrc",
        "zh": "国家发展改革委",
        "en": "NDRC",
        "dimensions": ["project_compliance"],
        "is_agency": True,
    }
    assert [(d["id"], d["zh"], d["en"]) for d in index["dimensions"]] == [
        (dim.value, zh, en) for dim, (zh, en) in DIMENSION_NAMES.items()
    ]
    assert [s["id"] for s in index["severities"]] == ["info", "minor", "serious", "critical"]
    assert [s["zh"] for s in index["severities"]] == [zh for zh, _ in SEVERITY_NAMES.values()]
    assert [t["name"] for t in index["event_types"]] == list(EVENT_TYPES)
    for entry in index["event_types"]:
        name = entry["name"]
        assert entry["schema_version"] == CURRENT_VERSION[name]
        assert entry["schema_file"] in rendered
        assert entry["allowed_streams"] == sorted(
            s.value for s in EVENT_TYPES[name].allowed_streams
        )
        assert entry["title"] == f"{entry['en']} / {entry['zh']}"
    power = next(t for t in index["event_types"] if t["name"] == "PowerReading")
    assert (power["zh"], power["allowed_streams"]) == ("用电数据", ["power"])


# --- write, check and the command line --------------------------------------------------------


def test_write_then_check_is_clean(tmp_path: Path) -> None:
    paths = js.write(tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(js.render())
    assert js.check(tmp_path / "out") == []


def test_check_reports_changed_missing_and_extra_files(tmp_path: Path) -> None:
    js.write(tmp_path)
    (tmp_path / "envelope.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "CaseClosed.v1.json").unlink()
    (tmp_path / "CaseReopened.v1.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "notes.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "README.md").write_text("not a schema\n", encoding="utf-8")
    assert js.check(tmp_path) == [
        "CaseClosed.v1.json",
        "CaseReopened.v1.json",
        "envelope.json",
        "notes.json",
    ]


def test_check_sees_a_line_ending_change(tmp_path: Path) -> None:
    js.write(tmp_path)
    path = tmp_path / "index.json"
    path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
    assert js.check(tmp_path) == ["index.json"]


def test_check_of_a_missing_directory_lists_everything(tmp_path: Path) -> None:
    assert js.check(tmp_path / "absent") == sorted(js.render())


def test_write_removes_stale_schema_files_only(tmp_path: Path) -> None:
    (tmp_path / "CaseReopened.v1.json").write_text("{}\n", encoding="utf-8")
    (tmp_path / "notes.json").write_text("{}\n", encoding="utf-8")
    js.write(tmp_path)
    assert not (tmp_path / "CaseReopened.v1.json").exists()
    assert (tmp_path / "notes.json").exists()  # not ours to delete; check() reports it
    assert js.check(tmp_path) == ["notes.json"]


@pytest.fixture
def bump_case_closed() -> Iterator[Callable[[], None]]:
    """Calling it makes CaseClosed version 2; the registry is restored afterwards."""
    before = dict(CURRENT_VERSION)
    yield lambda: register_upcaster("CaseClosed", 1, lambda data: data)
    unregister_upcaster("CaseClosed", 1)
    if before != CURRENT_VERSION:
        CURRENT_VERSION.clear()
        CURRENT_VERSION.update(before)


def test_a_new_version_gets_its_own_file_and_the_old_one_stays(
    tmp_path: Path, bump_case_closed: Callable[[], None]
) -> None:
    js.write(tmp_path)
    old = (tmp_path / "CaseClosed.v1.json").read_bytes()
    bump_case_closed()
    rendered = js.render()
    assert "CaseClosed.v2.json" in rendered
    assert "CaseClosed.v1.json" not in rendered
    schema = json.loads(rendered["CaseClosed.v2.json"])
    assert schema["properties"]["schema_version"]["const"] == 2
    assert "schema_version" in schema["required"]  # absent would mean version 1
    # The v1 file is history, not drift.
    assert js.check(tmp_path) == ["CaseClosed.v2.json", "event.json", "index.json"]
    js.write(tmp_path)
    assert (tmp_path / "CaseClosed.v1.json").read_bytes() == old
    assert js.check(tmp_path) == []


def test_main_check_fails_and_names_the_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    js.write(tmp_path)
    (tmp_path / "event.json").unlink()
    assert js.main(["--check", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "event.json" in err
    assert "python -m events.jsonschema" in err
    assert js.main([str(tmp_path)]) == 0
    assert js.main(["--check", str(tmp_path)]) == 0


def test_module_runs_as_a_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "events.jsonschema", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "up to date" in result.stdout


# --- the schemas agree with the parser (needs the jsonschema package) -------------------------


class Validators:
    """Draft 2020-12 validators, one per rendered schema file."""

    def __init__(self, rendered: dict[str, str]) -> None:
        jsonschema = pytest.importorskip("jsonschema")
        cls = jsonschema.Draft202012Validator
        self.by_file: dict[str, Any] = {}
        for name in rendered:
            if name == "index.json":
                continue
            schema = json.loads(rendered[name])
            cls.check_schema(schema)
            self.by_file[name] = cls(schema, format_checker=cls.FORMAT_CHECKER)

    def errors(self, name: str, document: object) -> list[str]:
        return [e.message for e in self.by_file[name].iter_errors(document)]


@pytest.fixture(scope="module")
def validators(rendered: dict[str, str]) -> Validators:
    return Validators(rendered)


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_each_example_validates_against_its_schemas(validators: Validators, name: str) -> None:
    data = example(name)
    assert validators.errors(js.schema_file(name), data) == []
    assert validators.errors("event.json", data) == []
    assert validators.errors("envelope.json", data) == []
    # What the parser writes back out is valid too.
    serialised = to_dict(parse_event(data))
    assert validators.errors(js.schema_file(name), serialised) == []
    assert validators.errors("event.json", serialised) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_event())
def test_every_valid_event_validates_against_the_schemas(
    validators: Validators, event: Event
) -> None:
    data = to_dict(event)
    assert validators.errors(js.schema_file(data["event_type"]), data) == []
    assert validators.errors("event.json", data) == []


def _changed(name: str, **fields: Any) -> JsonDict:
    return example(name) | fields


def _without(name: str, field: str) -> JsonDict:
    data = example(name)
    del data[field]
    return data


@pytest.mark.parametrize(
    ("name", "document"),
    [
        ("FindingRecorded", _changed("FindingRecorded", stream="power")),
        ("PowerReading", _changed("PowerReading", stream="ndrc")),
        ("FindingRecorded", _changed("FindingRecorded", schema_version=2)),
        ("FindingRecorded", _changed("FindingRecorded", colour="red")),
        ("FindingRecorded", _changed("FindingRecorded", event_id="finding-1")),
        ("FindingRecorded", _changed("FindingRecorded", enterprise="91350100M000100Y4")),
        ("FindingRecorded", _changed("FindingRecorded", actor="")),
        ("FindingRecorded", _without("FindingRecorded", "event_type")),
        ("CaseClosed", _changed("CaseClosed", payload={"case_id": "LH-1"})),
    ],
)
def test_the_schemas_refuse_what_the_parser_refuses(
    validators: Validators, name: str, document: JsonDict
) -> None:
    with pytest.raises(InvalidEvent):
        parse_event(document)
    assert validators.errors(js.schema_file(name), document) != []
    assert validators.errors("event.json", document) != []
