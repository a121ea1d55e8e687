"""Settings: the documented variables, one precedence, and the pipeline they build."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from neulora import ConfigError, Pipeline
from neulora.embedders import HashingEmbedder
from neulora.llm import HFStyleClient
from neulora.settings import Settings
from neulora.turn import Relevance


def test_settings_read_the_documented_variables() -> None:
    env = {
        "NEULORA_EMBEDDER": "hash",
        "NEULORA_BASE_URL": "http://127.0.0.1:9/",
        "NEULORA_MODEL_SOCRATIC": "soc",
        "NEULORA_K": "3",
        "NEULORA_MIN_SCORE": "off",
        "UNRELATED": "1",
        "HF_TOKEN": "hf_not_a_setting",
    }
    settings = Settings.load(environ=env)
    # off: below every score
    assert (
        settings.embedder,
        settings.base_url,
        settings.models,
        settings.k,
        settings.min_score,
    ) == ("hash", "http://127.0.0.1:9", {"socratic": "soc"}, 3, -1.0)
    assert settings.token is None and "hf_not" not in repr(settings)  # tokens belong to neulora.hf


def test_chroma_freshness_is_a_setting_the_retriever_gets(tmp_path: Path) -> None:
    from neulora._assemble import build_retriever
    from neulora.embedders import HashingEmbedder

    assert Settings.load(environ={}).chroma_freshness == 1.0
    settings = Settings.load(
        environ={"NEULORA_CHROMA_FRESHNESS": "0.25", "NEULORA_CHROMA_PATH": str(tmp_path)}
    )
    assert build_retriever(settings, HashingEmbedder(dim=8)).store.freshness == 0.25
    for bad in ("-1", "soon", "inf"):
        with pytest.raises(ConfigError, match="NEULORA_CHROMA_FRESHNESS"):
            Settings.load(environ={"NEULORA_CHROMA_FRESHNESS": bad})


def test_from_config_builds_the_hf_setup_without_network(tmp_path: Path) -> None:
    path = tmp_path / "neulora.json"
    path.write_text(
        json.dumps(
            {
                "backend": "hf",
                "embedder": "hash",
                "chroma_path": str(tmp_path / "db"),
                "base_url": "http://127.0.0.1:9",
                "models": {"direct": "d"},
                "k": 2,
            }
        )
    )
    pipeline = Pipeline.from_settings(Settings.load(file=path, environ={}))
    assert isinstance(pipeline.client, HFStyleClient)
    assert pipeline.client.models["direct"] == "d"
    assert pipeline.client.models["socratic"] == "RiverWon/NeuLoRA-socratic"
    assert isinstance(pipeline.router.embedder, HashingEmbedder)
    assert pipeline.router.embedder is pipeline.retriever.embedder
    assert pipeline.options.k == 2


def test_unknown_keys_and_bad_values_are_refused_naming_where_they_came_from(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        Settings.load(file={"chroma_pth": "x"}, environ={})
    with pytest.raises(
        ConfigError, match="config key 'backend': expected one of hf, local, got 'gpu'"
    ):
        Settings.load(file={"backend": "gpu"}, environ={})
    with pytest.raises(ConfigError, match=r"config file .*missing\.json"):
        Settings.load(file=tmp_path / "missing.json", environ={})
    for var, value in [
        ("NEULORA_K", "abc"),
        ("NEULORA_K", "0"),
        ("NEULORA_MIN_SCORE", "nan"),
        ("NEULORA_MIN_SCORE", "5"),
        ("NEULORA_CHROMA_PORT", "abc"),
        ("NEULORA_CHROMA_PORT", "70000"),
        ("NEULORA_BASE_URL", "ftp://x"),
        ("NEULORA_MODEL_LECTURE", "x"),
    ]:
        with pytest.raises(ConfigError, match=var.replace("LECTURE", "<STYLE>")) as err:
            Settings.load(environ={var: value})
        assert isinstance(err.value, ValueError)


def test_precedence_is_argument_then_environment_then_file_then_default(tmp_path: Path) -> None:
    file = {"k": 2, "collection": "from-file", "min_score": 0.1}
    env = {"NEULORA_K": "3", "NEULORA_COLLECTION": "from-env"}
    settings = Settings.load(overrides={"k": 5}, file=file, environ=env)
    assert (settings.k, settings.collection, settings.min_score, settings.embed_model) == (
        5,
        "from-env",
        0.1,
        "BAAI/bge-m3",
    )


def test_chroma_location_is_decided_by_the_highest_level_that_names_one() -> None:
    env_host = {"NEULORA_CHROMA_HOST": "chroma.internal", "NEULORA_CHROMA_PORT": "9001"}
    assert Settings.load(overrides={"chroma_path": "db"}, environ=env_host).chroma_location() == {
        "path": "db"
    }
    # the environment's port goes with a --host
    assert Settings.load(overrides={"chroma_host": "h"}, environ=env_host).chroma_location() == {
        "host": "h",
        "port": 9001,
    }
    # a port alone: local server
    assert Settings.load(
        overrides={"chroma_port": "8123"}, environ={"NEULORA_CHROMA_PATH": "db"}
    ).chroma_location() == {"host": "127.0.0.1", "port": 8123}
    assert Settings.load(
        overrides={"chroma_host": "h"}, environ={"NEULORA_CHROMA_PATH": "db"}
    ).chroma_location() == {"host": "h", "port": 8000}
    assert Settings.load(environ={}).chroma_location() == {"path": "./chroma_db"}


def test_pipeline_from_env_and_from_config_build_the_documented_setup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("HF_TOKEN", "HF_API_KEY", "NEULORA_ROUTER"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("NEULORA_BACKEND", "hf")
    monkeypatch.setenv("NEULORA_EMBEDDER", "hash")
    monkeypatch.setenv("NEULORA_CHROMA_PATH", str(tmp_path / "db"))
    monkeypatch.setenv("NEULORA_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("NEULORA_MODEL_FEEDBACK", "feedback-adapter")
    monkeypatch.setenv("NEULORA_MIN_SCORE", "0.35")
    from_env = Pipeline.from_env()
    assert (
        isinstance(from_env.client, HFStyleClient)
        and from_env.client.base_url == "http://127.0.0.1:9"
    )
    assert from_env.client.models[
        "feedback"
    ] == "feedback-adapter" and from_env.relevance == Relevance(floor=0.35)
    monkeypatch.delenv("NEULORA_MIN_SCORE")
    from_dict = Pipeline.from_config({"collection": "mine", "min_score": 0.3})
    assert from_dict.retriever.collection_name == "mine" and from_dict.relevance == Relevance(
        floor=0.3
    )
    # the environment fills what the file leaves out
    assert from_dict.retriever.path == tmp_path / "db"


@pytest.mark.parametrize(
    "url",
    [
        "http://user:s3cret-pw@engine:99999/v1",
        "ftp://user:s3cret-pw@engine/v1",
        "http://:s3cret-pw@/v1",
    ],
)
def test_a_bad_base_url_is_refused_without_repeating_its_password(url: str) -> None:
    from neulora.errors import ConfigError
    from neulora.settings import Settings

    with pytest.raises(ConfigError) as caught:
        Settings.load(environ={"NEULORA_BASE_URL": url})
    assert "s3cret-pw" not in str(caught.value) and "NEULORA_BASE_URL" in str(caught.value)
    chained = caught.value.__cause__ or caught.value.__context__
    while chained is not None:
        assert "s3cret-pw" not in str(chained)
        chained = chained.__cause__ or chained.__context__
