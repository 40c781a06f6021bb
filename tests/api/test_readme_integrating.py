"""The README's "Integrating" examples work as written against the API."""

import contextlib
import io
import json
import re
from pathlib import Path

import pytest
from django.utils import timezone

from tests.factories import AgentFactory

pytestmark = pytest.mark.django_db

README = Path(__file__).resolve().parents[2] / "README.md"


def integrating_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("## Integrating")
    end = text.index("\n## ", start + 1)
    return text[start:end]


def code_blocks(section: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", section, flags=re.DOTALL)


def run_verifier(tmp_path, monkeypatch, statement: dict, keys: dict) -> str:
    (tmp_path / "statement.json").write_text(json.dumps(statement, ensure_ascii=False))
    (tmp_path / "keys.json").write_text(json.dumps(keys))
    monkeypatch.chdir(tmp_path)
    [code] = code_blocks(integrating_section(), "python")
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        exec(compile(code, "README.md", "exec"), {})
    return output.getvalue().strip()


def test_the_curl_signal_body_is_accepted(api, ladder):
    AgentFactory(slug="refund-bot")
    [post, _read] = [block for block in code_blocks(integrating_section(), "sh") if "curl" in block]
    body = json.loads(re.search(r"-d '(.*)'", post, flags=re.DOTALL).group(1))
    body["observed_at"] = timezone.now().isoformat()  # the example's date may be in the future
    response = api.post("/api/v1/signals/", body)
    assert response.status_code == 201, response.content
    assert set(response.json()) == {"id", "incident", "suppressed"}


def test_the_python_verifier_accepts_a_real_statement_and_refuses_a_changed_one(
    api, anonymous, ladder, tmp_path, monkeypatch
):
    agent = AgentFactory(slug="refund-bot")
    statement = api.get(f"/api/v1/agents/{agent.slug}/trust/").json()
    keys = anonymous.get("/api/v1/trust/keys/").json()

    assert run_verifier(tmp_path, monkeypatch, statement, keys) == "True"
    assert run_verifier(tmp_path, monkeypatch, {**statement, "status": "active "}, keys) == "False"
