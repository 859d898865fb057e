"""``detector report``: the daily review, one self-contained HTML file from the store."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from detector.build import build_pipeline, build_sinks
from detector.cli import main
from detector.config import load_pipeline_file
from detector.runtime.local import LocalRun
from detector.store import StoreReader

REPO = Path(__file__).resolve().parents[1]


def store_run(simulated, out: Path) -> None:
    """The simulated day through the shipped vault-local pipeline, with its store on."""
    config = load_pipeline_file(REPO / "pipelines" / "vault-local.toml")
    config.enrichers.service.inventory = str(simulated.inventory)
    config.store.enabled = True
    sinks = build_sinks(config, out)
    LocalRun(build_pipeline(config), out, None, 300.0, sinks=sinks).run([str(simulated.audit_log)])


@pytest.fixture(scope="module")
def store(simulated, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("reviewed")
    store_run(simulated, out)
    return out / "store.sqlite"


def detector(*args) -> tuple[int, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    return result.exit_code, result.output


def test_the_review_is_one_self_contained_html_file(store, tmp_path):
    out = tmp_path / "review" / "report.html"
    code, output = detector("report", "--store", store, "--since", "24h", "--out", out)
    assert code == 0, output
    page = out.read_text()
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    # Nothing to fetch: no scripts, no external style sheets, images inlined.
    assert "<script" not in page and "<link" not in page
    assert not re.search(r"""(src|href)=["'](?!data:)""", page)
    assert len(re.findall(r'<img [^>]*src="data:image/png;base64,', page)) >= 3


def test_the_review_shows_the_windows_alerts_and_revocations(store, tmp_path):
    reader = StoreReader(store)
    out = tmp_path / "report.html"
    code, output = detector("report", "--store", store, "--since", "6h", "--out", out)
    assert code == 0, output
    page = out.read_text()
    alerts = reader.alerts(since="6h", health=False)
    revokes = (alerts["decision"] == "revoke").sum()
    assert f"<b>{(alerts['decision'] == 'alert').sum():,}</b>alerts" in page
    assert f"<b>{revokes:,}</b>revoke decisions" in page
    assert f"{(alerts['decision'] == 'alert').sum():,} alerts" in output
    worst = alerts.sort_values("risk").iloc[-1]
    assert worst["reasons"][0].split(";")[0].replace("'", "&#x27;")[:40] in page
    for credential in reader.actions(since="6h")["credential"].dropna().unique():
        assert credential[:12] in page  # every credential decided to revoke is listed
    older = reader.alerts(until="6h", health=False)
    assert len(older) > 0
    assert older["reasons"].map(lambda r: r[0][:50] in page).sum() < len(older)


def test_the_review_escapes_what_the_log_says(store, tmp_path):
    """Paths and user agents come from the audit log: an attacker writes them."""
    page_path = tmp_path / "report.html"
    detector("report", "--store", store, "--since", "30d", "--out", page_path)
    page = page_path.read_text()
    body = page.split("<body>", 1)[1]
    tags = set(re.findall(r"</?([a-z0-9]+)", body))
    assert tags <= {
        "h1",
        "h2",
        "p",
        "div",
        "b",
        "table",
        "thead",
        "tbody",
        "tr",
        "th",
        "td",
        "span",
        "br",
        "small",
        "code",
        "ul",
        "li",
        "figure",
        "img",
        "figcaption",
        "body",
        "html",
    }


def test_the_review_finds_the_store_from_the_pipeline_file(simulated, tmp_path):
    out = tmp_path / "run"
    store_run(simulated, out)
    pipeline = tmp_path / "p.toml"
    pipeline.write_text(
        f'name = "vault-local"\n[model]\nprofile = "{REPO / "models" / "default.toml"}"\n'
        f'[outputs]\ndir = "{out}"\n[store]\nenabled = true\n'
    )
    page = tmp_path / "report.html"
    code, output = detector("report", "--pipeline", pipeline, "--out", page)
    assert code == 0, output
    assert "vault-local" in page.read_text()


def test_a_missing_store_fails_cleanly(tmp_path):
    code, output = detector("report", "--store", tmp_path / "none.sqlite")
    assert code != 0 and "no store at" in output and "Traceback" not in output
    code, output = detector("report")
    assert code != 0 and "--store" in output
