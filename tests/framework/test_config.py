"""Config: sources, precedence and errors that name the key."""

from __future__ import annotations

import pytest

from gpuaudio import ConfigError, load_config
from gpuaudio.config import discover_file, from_environment


def test_defaults():
    config = load_config({}, environ={})
    assert config.device == "auto"
    assert config.precision == "auto"
    assert config.backends.f0 == "auto"
    assert (config.memory.max_batch, config.memory.min_batch) == (2048, 128)
    assert config.fallback is True


def test_kwargs_dict_and_backend_tables():
    config = load_config({"crepe": {"model": "tiny"}}, environ={}, device="cpu")
    assert config.device == "cpu"
    assert config.backend_options("crepe") == {"model": "tiny"}
    assert config.backend_options("nnaudio") == {}


def test_comma_separated_preference_list():
    config = load_config({"backends": {"f0": "crepe, librosa"}}, environ={})
    assert config.backends.f0 == ["crepe", "librosa"]


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"devcie": "cpu"}, "devcie"),
        ({"device": "gpu0"}, "device"),
        ({"precision": "fp8"}, "precision"),
        ({"memory": {"max_batch": 0}}, "memory.max_batch"),
        ({"memory": {"min_batch": 4096}}, "min_batch"),
        ({"memory": {"maxbatch": 1}}, "memory.maxbatch"),
        ({"backends": {"pitch": "crepe"}}, "backends.pitch"),
        ({"backends": {"f0": []}}, "backends.f0"),
        ({"backends": {"f0": ["auto", "crepe"]}}, "backends.f0"),
        ({"fallback": "sometimes"}, "fallback"),
        ({"memory": {"chunk_seconds": float("inf")}}, "memory.chunk_seconds"),
        ({"memory": {"chunk_seconds": 1e308}}, "memory.chunk_seconds"),
        ({"backend": {"f0": "crepe"}}, "did you mean 'backends'"),
        ({"memmory": {"max_batch": 64}}, "did you mean 'memory'"),
        ({"memory": {"memory_fraction": float("nan")}}, "memory.memory_fraction"),
    ],
)
def test_bad_values_name_the_key(data, key):
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        load_config(data, environ={})


def test_toml_file_and_pyproject(tmp_path):
    (tmp_path / "gpuaudio.toml").write_text('device = "cpu"\n[crepe]\nmodel = "tiny"\n')
    assert load_config(tmp_path / "gpuaudio.toml", environ={}).backend_options("crepe") == {
        "model": "tiny"
    }
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text('[project]\nname = "x"\n[tool.gpuaudio]\nprecision = "fp16"\n')
    assert load_config(pyproject, environ={}).precision == "fp16"


def test_unreadable_or_invalid_toml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml", environ={})
    bad = tmp_path / "bad.toml"
    bad.write_text("device = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad, environ={})
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(binary, environ={})


@pytest.mark.parametrize(
    ("text", "key", "kind"),
    [
        ('tool = "gpuaudio"\n', "tool", "str"),
        ("[tool]\ngpuaudio = 5\n", "tool.gpuaudio", "int"),
        ('[tool]\ngpuaudio = "cpu"\n', "tool.gpuaudio", "str"),
        ("[tool]\ngpuaudio = [1]\n", "tool.gpuaudio", "list"),
    ],
)
def test_a_pyproject_whose_gpuaudio_entry_is_not_a_table_names_file_and_key(
    tmp_path, text, key, kind
):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_config(pyproject, environ={})
    assert str(caught.value).startswith(f"config file {pyproject}: '{key}' must be a table")
    assert str(caught.value).endswith(f"not {kind}")


def test_discovery_takes_only_a_tool_table_holding_gpuaudio(tmp_path, monkeypatch):
    monkeypatch.delenv("GPUAUDIO_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "pyproject.toml").write_text('tool = "gpuaudio"\n')  # a string, not a table
    assert discover_file(tmp_path) is None
    assert load_config(environ={}).device == "auto"
    (tmp_path / "pyproject.toml").write_text("[tool]\ngpuaudio = 5\n")  # ours, but malformed
    assert discover_file(tmp_path) == tmp_path / "pyproject.toml"
    with pytest.raises(ConfigError, match=r"'tool\.gpuaudio' must be a table"):
        load_config(environ={})


def test_discovery_order(tmp_path, monkeypatch):
    monkeypatch.delenv("GPUAUDIO_CONFIG", raising=False)
    assert discover_file(tmp_path) is None
    (tmp_path / "pyproject.toml").write_text("[tool.other]\nx = 1\n")
    assert discover_file(tmp_path) is None  # a pyproject without our table is not our config
    (tmp_path / "pyproject.toml").write_text('[tool.gpuaudio]\ndevice = "cpu"\n')
    assert discover_file(tmp_path) == tmp_path / "pyproject.toml"
    (tmp_path / "gpuaudio.toml").write_text('device = "cpu"\n')
    assert discover_file(tmp_path) == tmp_path / "gpuaudio.toml"
    monkeypatch.setenv("GPUAUDIO_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert discover_file(tmp_path) == tmp_path / "elsewhere.toml"


def test_environment_nesting_and_precedence(tmp_path):
    environ = {
        "GPUAUDIO_DEVICE": "cuda:1",
        "GPUAUDIO_MEMORY__MAX_BATCH": "512",
        "GPUAUDIO_CREPE__MODEL": "tiny",
        "GPUAUDIO_PLUGINS": "librosa",  # not a config key
        "OTHER": "ignored",
    }
    assert from_environment(environ) == {
        "device": "cuda:1",
        "memory": {"max_batch": "512"},
        "crepe": {"model": "tiny"},
    }
    file = tmp_path / "gpuaudio.toml"
    file.write_text('device = "cpu"\nprecision = "fp16"\n[memory]\nmin_batch = 64\n')
    config = load_config(file, environ=environ)
    assert config.device == "cuda:1"  # environment beats file
    assert config.precision == "fp16"  # file kept where environment is silent
    assert config.memory.max_batch == 512 and config.memory.min_batch == 64
    explicit = load_config({"device": "cpu"}, environ=environ)
    assert explicit.device == "cpu"  # explicit beats environment


def test_bad_environment_value_names_the_variable_path():
    with pytest.raises(ConfigError, match=r"memory\.max_batch"):
        load_config({}, environ={"GPUAUDIO_MEMORY__MAX_BATCH": "lots"})
    with pytest.raises(ConfigError, match="not a valid config path"):
        load_config({}, environ={"GPUAUDIO_MEMORY__": "1"})
    with pytest.raises(ConfigError, match="GPUAUDIO_SITE is not a gpuaudio setting"):
        load_config({}, environ={"GPUAUDIO_SITE": "/tmp/x"})


def test_the_projects_own_switches_are_not_taken_for_gpuaudio_settings():
    """An unknown GPUAUDIO_* variable is an error in every gpuaudio call, so a switch of the CI
    scripts or of the test suite named so would break what runs under it (the browser test's
    screenshot switch, GPUAUDIO_UPDATE_SCREENSHOT until session 10, failed the hostile-name
    test's `analyze`): every variable they read is a setting or has another prefix."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    texts = [path.read_text("utf-8") for path in (root / ".ci").iterdir() if path.is_file()]
    texts += [path.read_text("utf-8") for path in (root / "tests").rglob("*.py")]
    reader = r"""\$\{|environ\.get\(["']|getenv\(["']|environ\[["']"""  # shell or Python
    read = re.compile(rf"(?:{reader})([A-Z][A-Z0-9_]+)")
    names = {name for text in texts for name in read.findall(text)}
    assert {"CI_VENV", "CI_VENV312", "UPDATE_DOCS_SCREENSHOT"} <= names  # the scan sees them
    for name in sorted(n for n in names if n.startswith("GPUAUDIO_")):
        from_environment({name: "1"})  # raises ConfigError for a name that is no setting


def test_wrong_source_type():
    with pytest.raises(ConfigError, match="not int"):
        load_config(42)  # type: ignore[arg-type]


def test_options_for_a_backend_without_options_are_rejected_when_the_service_is_built():
    from gpuaudio import AudioFeatureService

    with pytest.raises(ConfigError, match=r"librosa backend takes no options.*\[librosa\]"):
        AudioFeatureService({"backends": {"stft": "librosa"}, "librosa": {"speed": "max"}})
