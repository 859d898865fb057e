"""The ``[actions]``, ``[vault]`` and ``[slack]`` tables, and the secrets kept out of them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from detector.actions import build_sink, ledger_path
from detector.actions.credentials import read_secret_file, slack_secrets, vault_settings
from detector.config import load_pipeline_file
from detector.errors import ConfigError

REPO = Path(__file__).resolve().parents[2]
PROFILE = REPO / "models" / "default.toml"


def pipeline(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.toml"
    path.write_text(f'name = "t"\n[model]\nprofile = "{PROFILE}"\n{text}')
    return path


def test_shipped_pipelines_keep_actions_off(tmp_path):
    for path in (REPO / "pipelines").glob("*-local.toml"):
        config = load_pipeline_file(path)
        assert not (config.actions.enabled or config.vault.enabled or config.slack.enabled)
        assert build_sink(config, tmp_path) is None
        assert config.actions.dry_run  # turning actions on starts with a dry run


@pytest.mark.parametrize(
    ("text", "key", "problem"),
    [
        ('[actions]\nstorm_window = "ten minutes"', "actions.storm_window", "not a duration"),
        ("[actions]\nstorm_limt = 3", "actions.storm_limt", "unknown key"),
        ("[actions]\nstorm_limit = -1", "actions.storm_limit", "must be 0 or more"),
        ('[actions]\nretry_max = "1s"\nretry_initial = "5s"', "actions.retry_max", "shorter"),
        ("[vault]\ntoken = 'hvs.x'", "vault.token", "unknown key"),
        ("[slack]\nenabled = true", "slack.channel", "required when slack is enabled"),
        ("[slack]\nbot_token = 'xoxb-1'", "slack.bot_token", "unknown key"),
        (
            '[slack]\nroutes = [{ channel = "#x", min_severity = "low" }]',
            "slack.routes[0].min_severity",
            "must be one of medium, high, critical",
        ),
    ],
)
def test_a_bad_section_names_the_file_and_the_key(tmp_path, text, key, problem):
    path = pipeline(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_pipeline_file(path)
    assert caught.value.file == str(path)
    assert caught.value.key == key
    assert problem in caught.value.problem


def test_revoking_needs_vault_and_outputs_need_actions(tmp_path):
    config = load_pipeline_file(pipeline(tmp_path, "[actions]\nenabled = true\ndry_run = false"))
    with pytest.raises(ConfigError, match="actions.dry_run: revoking"):
        build_sink(config, tmp_path)
    config = load_pipeline_file(pipeline(tmp_path, '[slack]\nenabled = true\nchannel = "#s"'))
    with pytest.raises(ConfigError, match=r"slack.enabled: needs \[actions\] enabled = true"):
        build_sink(config, tmp_path)


def test_the_ledger_stays_where_the_pipeline_file_says(tmp_path):
    config = load_pipeline_file(pipeline(tmp_path, '[outputs]\ndir = "out"'))
    assert ledger_path(config) == tmp_path / "out" / "actions.db"
    config = load_pipeline_file(pipeline(tmp_path, '[actions]\nledger = "/var/lib/d/a.db"'))
    assert ledger_path(config) == Path("/var/lib/d/a.db")


def test_vault_token_from_environment_or_file(tmp_path, caplog):
    config = load_pipeline_file(
        pipeline(tmp_path, '[vault]\naddress = "https://vault:8200"\ntoken_file = "token"')
    )
    env = {"VAULT_TOKEN": "s.from-env", "VAULT_NAMESPACE": "team-a", "VAULT_CACERT": "/ca.pem"}
    settings = vault_settings(config.vault, config.path, config.resolve, env)
    assert (settings.token, settings.namespace, settings.ca_cert) == (
        "s.from-env",
        "team-a",
        "/ca.pem",
    )
    assert "s.from-env" not in repr(settings)

    token = tmp_path / "token"
    token.write_text("s.from-file\n")
    token.chmod(0o600)
    with caplog.at_level(logging.WARNING):
        assert vault_settings(config.vault, config.path, config.resolve, {}).token == "s.from-file"
    assert caplog.text == ""
    token.chmod(0o644)
    with caplog.at_level(logging.WARNING):
        read_secret_file(token)
    assert "readable by group and others" in caplog.text and "s.from-file" not in caplog.text

    with pytest.raises(ConfigError, match="vault.address: no Vault address"):
        config = load_pipeline_file(pipeline(tmp_path, "[vault]\nenabled = true"))
        vault_settings(config.vault, config.path, config.resolve, {"VAULT_TOKEN": "x"})


def test_slack_secrets_from_environment_or_files(tmp_path):
    (tmp_path / "bot").write_text("xoxb-file")
    (tmp_path / "signing").write_text("secret-file")
    for name in ("bot", "signing"):
        (tmp_path / name).chmod(0o600)
    config = load_pipeline_file(
        pipeline(tmp_path, '[slack]\nbot_token_file = "bot"\nsigning_secret_file = "signing"')
    )
    secrets = slack_secrets(config.slack, config.path, config.resolve, {})
    assert (secrets.bot_token, secrets.signing_secret) == ("xoxb-file", "secret-file")
    env = {"SLACK_BOT_TOKEN": "xoxb-env", "SLACK_SIGNING_SECRET": "s-env"}
    secrets = slack_secrets(config.slack, config.path, config.resolve, env)
    assert (secrets.bot_token, secrets.signing_secret) == ("xoxb-env", "s-env")
    config = load_pipeline_file(pipeline(tmp_path, ""))
    with pytest.raises(ConfigError, match="no Slack bot token"):
        slack_secrets(config.slack, config.path, config.resolve, {})


def test_the_commented_response_example_in_vault_local_loads(tmp_path):
    """Uncommented, the example ``[actions]``/``[vault]``/``[slack]`` tables are valid."""
    import re

    shipped = (REPO / "pipelines" / "vault-local.toml").read_text()
    head, _, response = shipped.partition("# -- Response")
    example = re.compile(r"^# (\[|[a-z_]+ = |    \{|\])")
    lines = [line[2:] if example.match(line) else line for line in response.splitlines()]
    text = head.replace(
        '"inventory.example.toml"', f'"{REPO / "pipelines" / "inventory.example.toml"}"'
    )
    text = text.replace('"../models/', f'"{REPO / "models"}/')
    path = tmp_path / "vault-local.toml"
    body = "\n".join(lines[1:]).replace("enabled = false", "enabled = true")
    path.write_text(text + "\n" + body)
    config = load_pipeline_file(path)
    assert config.actions.enabled and config.vault.enabled and config.slack.enabled
    assert config.slack.routes[0].channel == "#payments-security"
    assert config.vault.address.startswith("https://")
