"""The API fuzzed from its own OpenAPI document with schemathesis: no server errors, every answer as documented."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import checks
from schemathesis.generation import GenerationMode
from schemathesis.openapi import from_wsgi

from engine.services import Services
from tests.conftest import make_services
from tests.localhttp import answer_json, serving
from tests.test_api import auth
from tests.test_webui import start
from webui import create_app
from webui.openapi import PATHS

# Bounded so the whole run stays within about a minute on a loaded machine.
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 15}
CHECKS = [checks.not_a_server_error, checks.status_code_conformance, checks.content_type_conformance,
          checks.response_headers_conformance, checks.response_schema_conformance]
OPERATIONS = [(path, method.upper()) for path, methods in PATHS.items() for method in methods
              if path != "/openapi.json"]
# A village agent works cases and tasks; an administrator also deploys procedures.
USERS = ["dongpo_agent", "admin"]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Services, Flask]]:
    svc = make_services("sqlite", tmp_path_factory.mktemp("fuzz"), "bianmin_fuzz")
    start(svc)  # lists and lookups meet a real case as well as empty answers
    # 人口库查询 reaches a real register, which knows nobody: unconfigured, it would answer 503 to everything.
    with serving(lambda request: answer_json(404, {"error": "未登记"})) as register:
        svc.settings = replace(svc.settings, population_url=f"{register}/population/lookup")
        yield svc, create_app(svc)
    svc.db.dispose()


@pytest.fixture(scope="module")
def schema(fuzzed: tuple[Services, Flask]) -> schemathesis.BaseSchema:
    return from_wsgi("/api/v1/openapi.json", fuzzed[1])


@pytest.mark.parametrize("username", USERS)
@pytest.mark.parametrize(("path", "method"), OPERATIONS)
def test_api_answers_as_documented(fuzzed: tuple[Services, Flask], schema: schemathesis.BaseSchema, path: str,
                                   method: str, username: str) -> None:
    headers = auth(fuzzed[0], username)
    operation = schema[path][method]
    for mode, examples in EXAMPLES.items():
        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def answers_as_documented(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=headers, checks=CHECKS)

        answers_as_documented()


def test_the_document_is_served_as_valid_openapi(fuzzed: tuple[Services, Flask], tmp_path: Path) -> None:
    loaded = from_wsgi("/api/v1/openapi.json", fuzzed[1])
    assert {(result.ok().path, result.ok().method.upper()) for result in loaded.get_all_operations()} \
        == set(OPERATIONS)
