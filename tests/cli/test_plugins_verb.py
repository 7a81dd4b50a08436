"""`gpuaudio plugins` and the device probe, on this (GPU-less) machine."""

from __future__ import annotations

import subprocess
import sys

from gpuaudio import device
from gpuaudio.cli import main


def test_plugins_lists_librosa_selected_and_gpu_backends_with_reason(capsys, monkeypatch):
    monkeypatch.setattr(device, "probe", lambda refresh=False: device.DeviceInfo(True, "2.x"))
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("device: CPU only")
    rows = [line.split() for line in out.splitlines()[2:] if line.strip()]
    selected = {row[0]: row[1] for row in rows if "SELECTED" in row}
    assert set(selected) == {"f0", "stft", "mel", "cqt"}
    assert all(name in ("librosa", "acpitch") for name in selected.values())
    librosa_rows = [row for row in rows if row[1] == "librosa"]
    assert sorted(row[0] for row in librosa_rows) == ["cqt", "f0", "mel", "stft"]
    assert all(row[-1] == "cpu" for row in librosa_rows)  # "... on cpu": eligible here
    gpu_rows = [row for row in rows if row[1] in ("crepe", "nnaudio")]
    assert all("no:" in row and "CUDA" in " ".join(row) for row in gpu_rows)


def test_plugins_shows_install_hint_for_missing_modules(capsys, monkeypatch):
    from gpuaudio import BackendSpec, hookimpl
    from gpuaudio.plugins import make_plugin_manager

    class Needy:
        @hookimpl
        def gpuaudio_cqt_backends(self):
            return [
                BackendSpec(
                    "needy",
                    "cqt",
                    "x:y",
                    requires=("not_a_module_zz",),
                    install_hint="pip install needy",
                )
            ]

    def registry():
        reg = make_plugin_manager()
        reg.register(Needy(), name="needyplugin")
        return reg

    monkeypatch.setattr("gpuaudio.plugins.make_plugin_manager", registry)
    assert main(["plugins"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if "needy " in line)
    assert "no: missing module not_a_module_zz" in line and line.rstrip().endswith(
        "pip install needy"
    )


def test_bad_config_file_is_one_line_and_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("device = 'quantum'\n")
    assert main(["plugins", "--config", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("gpuaudio: error: invalid gpuaudio config: device")
    assert err.count("\n") == 1


def test_command_line_entry_point_runs():
    done = subprocess.run(
        [sys.executable, "-m", "gpuaudio.cli", "--version"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.startswith("gpuaudio ")


def test_device_env_hides_gpus(monkeypatch):
    monkeypatch.setenv(device.DEVICE_ENV, "cpu")
    info = device.probe(refresh=True)
    assert not info.cuda_available and info.gpus == ()
    expected = "GPUAUDIO_DEVICE=cpu" if info.torch_available else "torch not installed"
    assert expected in info.describe()


def test_probe_is_cached_and_describes_itself():
    assert device.probe() is device.probe()
    assert isinstance(device.probe().describe(), str)


def test_describe_fake_gpus():
    from gpuaudio.testing import fake_gpu

    text = fake_gpu(count=2, compute_capability=(12, 1)).describe()
    assert "cuda:0 Fake H100 (cc 12.1" in text and "cuda:1" in text


def test_out_of_memory_detection():
    assert device.is_out_of_memory(RuntimeError("CUDA out of memory. Tried to allocate 2 GiB"))
    assert not device.is_out_of_memory(RuntimeError("shape mismatch"))
    assert not device.is_out_of_memory(ValueError("out of memory"))


def test_plugins_suggests_gpu_extras_when_none_is_installed(capsys, monkeypatch):
    from gpuaudio.plugins import make_plugin_manager

    monkeypatch.setattr(
        "gpuaudio.plugins.make_plugin_manager", lambda: make_plugin_manager(only=["librosa"])
    )
    assert main(["plugins"]) == 0
    assert "no GPU backend is installed: pip install 'gpuaudio[crepe,nnaudio]'" in (
        capsys.readouterr().out
    )


def test_plugins_says_which_f0_the_escalation_analysis_takes(capsys, monkeypatch):
    """On a GPU machine the table selects the GPU's F0 backend; the analysis' line says it
    takes acpitch on the CPU, and a backend named in the config where one is."""
    from gpuaudio.testing import fake_gpu

    monkeypatch.setattr(device, "probe", lambda refresh=False: fake_gpu())
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    (selected,) = [x.split() for x in out.splitlines() if x.startswith("f0") and "SELECTED" in x]
    assert selected[1] == "crepe" and selected[-1] == "cuda:0"
    line = next(x for x in out.splitlines() if x.startswith("escalation analysis"))
    assert "F0 by acpitch on cpu (its own choice on every machine" in line
    monkeypatch.setenv("GPUAUDIO_BACKENDS__F0", "fastpyin")
    assert main(["plugins"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("escalation"))
    assert "F0 by fastpyin on cpu (named in config)" in line
