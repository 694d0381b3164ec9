"""Drafts of procedures kept in the browser: checked on save, published as the next version, imported, exported."""

from __future__ import annotations

import io
import json
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine.errors import Conflict, DeployRefused, Forbidden, ValidationFailed
from engine.models import Case, ProcedureDraft, ProcedureVersion, SystemEvent, User
from engine.procedures import bundle, drafts
from engine.procedures.deploy import current_version, deploy, known_roles
from engine.services import Services
from engine.vocabulary import SystemEventKind
from tests.conftest import ROOT, make_services
from tests.test_engine import start
from tests.test_procedures import FILES as SPIFF_FILES

LIMIT = 2 * 1024 * 1024
TOTAL = 12 * 1024 * 1024


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    """A database of its own: publishing here adds versions and items the other modules should not see."""
    svc = make_services(request.param, tmp_path_factory.mktemp("catalog"), "bianmin_drafts")
    yield svc
    svc.db.dispose()


def admin(session: object) -> User:
    found = session.scalar(select(User).where(User.username == "admin"))  # type: ignore[attr-defined]
    assert found is not None
    return found


def draft_count(svc: Services) -> int:
    with svc.db.read() as session:
        return int(session.scalar(select(func.count()).select_from(ProcedureDraft)) or 0)


def zipped(files: dict[str, bytes | str], folder: str = "") -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, content in files.items():
            archive.writestr(f"{folder}{path}", content)
    return out.getvalue()


def folder_files(folder: Path) -> dict[str, bytes | str]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in folder.rglob("*") if path.is_file()}


def test_blank_draft_opens_lists_its_problems_and_cannot_be_published(catalog: Services) -> None:
    with catalog.db.write() as session:
        draft = drafts.create_blank(session, admin(session), "残疾人两项补贴申领", LIMIT)
        draft_id = draft.id
    with catalog.db.read() as session:
        draft = session.get(ProcedureDraft, draft_id)
        assert draft is not None and draft.name == "残疾人两项补贴申领" and draft.item_code is None
        assert set(draft.files) == {"process.bpmn", "item.toml"}
        messages = [problem["message"] for problem in drafts.errors_in(draft.problems)]
        assert any("code" in message and "不能为空" in message for message in messages), messages
        # The lone start event leads nowhere yet: the check names it.
        assert any(problem["element_id"] == "StartEvent_apply" for problem in draft.problems)
    with catalog.db.write() as session, pytest.raises(DeployRefused) as refused:
        drafts.publish(session, admin(session), draft_id, LIMIT)
    assert "不能发布" in refused.value.message and refused.value.problems
    with catalog.db.read() as session:
        assert session.get(ProcedureDraft, draft_id).published_version_id is None  # type: ignore[union-attr]


def test_draft_from_a_version_saves_with_errors_refuses_then_publishes_the_next_version(catalog: Services) -> None:
    running = start(catalog)
    with catalog.db.write() as session:
        version = current_version(session, "MZ-DIBAO")
        old_id, old_number = version.id, version.version
        draft = drafts.create_from_version(session, admin(session), version.id, LIMIT)
        draft_id, files = draft.id, dict(draft.files)
        assert draft.based_on_version_id == old_id and draft.item_code == "MZ-DIBAO"
        assert "forms/village_review.schema.json" in files and drafts.errors_in(draft.problems) == []
    broken = files["process.bpmn"].replace('name="town_civil_affairs"', 'name="town_unknown_office"')
    with catalog.db.write() as session:
        saved = drafts.save(session, admin(session), draft_id, {"process.bpmn": broken}, LIMIT)
        errors = drafts.errors_in(saved.problems)
    # Saved anyway, with the problem placed on its lane for the modeler to mark.
    assert errors and errors[0]["file"] == "process.bpmn" and "town_unknown_office" in errors[0]["message"]
    with catalog.db.write() as session, pytest.raises(DeployRefused):
        drafts.publish(session, admin(session), draft_id, LIMIT)
    guide = files["item.toml"].replace("promised_days = 30", "promised_days = 25")
    with catalog.db.write() as session:
        saved = drafts.save(session, admin(session), draft_id, {"process.bpmn": files["process.bpmn"],
                                                                "item.toml": guide}, LIMIT)
        assert drafts.errors_in(saved.problems) == []
        done = drafts.publish(session, admin(session), draft_id, LIMIT)
    assert (done.item_code, done.version) == ("MZ-DIBAO", old_number + 1)
    with catalog.db.read() as session:
        new = current_version(session, "MZ-DIBAO")
        assert new.guide["promised_days"] == 25 and new.deployed_by == "admin"
        event = session.scalars(select(SystemEvent).order_by(SystemEvent.seq.desc())).first()
        assert event is not None and event.kind == SystemEventKind.PROCEDURE_PUBLISHED
        assert event.after["version"] == done.version and event.actor_name == admin(session).display_name
        assert session.get(ProcedureDraft, draft_id).published_version_id == new.id  # type: ignore[union-attr]
        # The running case stays on the version it started on; a new one takes the newest.
        assert session.get(Case, running.id).version_id == old_id  # type: ignore[union-attr]
    assert start(catalog).version_id == new.id
    with catalog.db.write() as session, pytest.raises(Conflict):
        drafts.save(session, admin(session), draft_id, {"item.toml": guide}, LIMIT)


def test_an_unchanged_draft_is_not_published_again(catalog: Services) -> None:
    with catalog.db.write() as session:
        draft = drafts.create_from_version(session, admin(session), current_version(session, "MZ-TEKUN").id, LIMIT)
        draft_id = draft.id
    with catalog.db.write() as session, pytest.raises(Conflict, match="完全相同"):
        drafts.publish(session, admin(session), draft_id, LIMIT)


def test_bad_paths_and_non_administrators_change_nothing(catalog: Services) -> None:
    with catalog.db.write() as session:
        draft_id = drafts.create_blank(session, admin(session), "", LIMIT).id
    for path in ("../x.bpmn", "/etc/x.toml", "forms/sub/x.json", "notes.txt", "forms\\x.json"):
        with catalog.db.write() as session, pytest.raises(ValidationFailed):
            drafts.save(session, admin(session), draft_id, {path: "x"}, LIMIT)
    with catalog.db.write() as session:
        agent = session.scalar(select(User).where(User.username == "dongpo_agent"))
        with pytest.raises(Forbidden):
            drafts.save(session, agent, draft_id, {"item.toml": "code = 'X'"}, LIMIT)
        with pytest.raises(Forbidden):
            drafts.create_blank(session, agent, "x", LIMIT)
    with catalog.db.read() as session:
        assert set(session.get(ProcedureDraft, draft_id).files) == {"process.bpmn", "item.toml"}  # type: ignore


def test_import_a_diagram_a_bianmin_folder_and_a_spiff_arena_model(catalog: Services) -> None:
    diagram = (ROOT / "bpmn/dibao/process.bpmn").read_bytes()
    with catalog.db.write() as session:
        from_bpmn = drafts.import_diagram(session, admin(session), "低保.bpmn", diagram, LIMIT)
        assert from_bpmn.name == "农村居民最低生活保障" and set(from_bpmn.files) == {"process.bpmn", "item.toml"}
        # The forms the diagram names are not there yet; the guide is a skeleton to fill in.
        assert any("code" in problem["message"] for problem in drafts.errors_in(from_bpmn.problems))
        folder = drafts.import_zip(session, admin(session), "dibao.zip", zipped(folder_files(ROOT / "bpmn/dibao"),
                                                                                "dibao/"), LIMIT, TOTAL)
        assert folder.item_code == "MZ-DIBAO" and drafts.errors_in(folder.problems) == []
        assert "forms/town_review.uischema.json" in folder.files
        spiff = {name: content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
                 for name, content in SPIFF_FILES.items()}
        model = drafts.import_zip(session, admin(session), "dibao-lite.zip", zipped(spiff), LIMIT, TOTAL)
    # Bianmin's layout: the primary diagram as process.bpmn, the forms beside it moved under forms/.
    assert "process.bpmn" in model.files and "forms/application-schema.json" in model.files
    assert json.loads(model.files["process_model.json"])["primary_file_name"] == "process.bpmn"
    assert drafts.errors_in(model.problems) == [], model.problems


def _symlink_zip() -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        link = zipfile.ZipInfo("dibao/process.bpmn")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
    return out.getvalue()


BAD_ZIPS = {
    "not a zip": (b"PK\x03\x04 not really", "不是有效的 zip"),
    "parent path": (zipped({"../process.bpmn": "<x/>"}), "“..”"),
    "absolute path": (zipped({"/tmp/process.bpmn": "<x/>"}), "绝对路径"),
    "symlink": (_symlink_zip(), "符号链接"),
    "bomb": (zipped({"process.bpmn": b"\0" * (LIMIT - 1)}), "压缩炸弹"),
    "oversize": (zipped({"process.bpmn": bytes(range(256)) * (LIMIT // 256 + 1)}), "过大"),
    "too many": (zipped({f"forms/f{n}.json": "{}" for n in range(drafts.MAX_ZIP_ENTRIES + 1)}), "超过上限"),
    "no diagram": (zipped({"item.toml": "code = 'X'"}), "没有可用的 .bpmn"),
    "not xml": (zipped({"process.bpmn": "<bpmn:definitions"}), "无法作为流程图导入"),
}


@pytest.mark.parametrize("case", BAD_ZIPS)
def test_bad_zips_are_refused_in_chinese_and_change_nothing(catalog: Services, case: str) -> None:
    raw, words = BAD_ZIPS[case]
    before = draft_count(catalog)
    with catalog.db.write() as session, pytest.raises(ValidationFailed) as refused:
        drafts.import_zip(session, admin(session), "上传.zip", raw, LIMIT, TOTAL)
    assert words in refused.value.message
    assert draft_count(catalog) == before


def test_export_round_trips_through_deploy(catalog: Services, tmp_path: Path) -> None:
    with catalog.db.read() as session:
        version = current_version(session, "ZR-ZHAIJIDI")
        name, raw = drafts.export_version(session, admin(session), version.id)
    assert name == f"ZR-ZHAIJIDI-v{version.version}.zip"
    zipfile.ZipFile(io.BytesIO(raw)).extractall(tmp_path)
    [folder] = list(tmp_path.iterdir())
    with catalog.db.read() as session:
        read = bundle.read_folder(folder, known_roles(session), LIMIT)
    assert (read.bpmn_xml, read.forms, read.guide, read.process_id) == \
        (version.bpmn_xml, version.forms, version.guide, version.process_id)
    with catalog.db.write() as session:
        again = drafts.import_zip(session, admin(session), name, raw, LIMIT, TOTAL)
        assert drafts.errors_in(again.problems) == [] and again.item_code == "ZR-ZHAIJIDI"
        _, draft_zip = drafts.export_draft(session, admin(session), again.id)
        deployed = deploy(session, read, "admin")
    assert deployed.item_code == "ZR-ZHAIJIDI"
    assert zipfile.ZipFile(io.BytesIO(draft_zip)).namelist()[0].startswith(f"ZR-ZHAIJIDI-draft{again.id}/")
    with catalog.db.read() as session:
        assert session.scalar(select(func.count()).select_from(ProcedureVersion)
                              .where(ProcedureVersion.item_code == "ZR-ZHAIJIDI")) >= 1
