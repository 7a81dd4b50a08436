"""Start-up (issue 14 items 3 and 4): what the quick paths do not import, and the first-run notice.

Times are measured in docs/benchmarks.md, not asserted here; these tests pin what makes them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

HEAVY = ("torch", "scipy", "pydantic", "numba", "librosa", "matplotlib")
"""Not imported to parse a command line (numpy is for ``analyze --help``: it shows the analysis
options' defaults, EscalationParams', whose module needs it)."""
NOTICE = "gpuaudio: compiling F0 kernels, first run only"


def _python(code: str, cache: Path | None = None, cwd: Path | None = None) -> tuple[str, str]:
    env = dict(os.environ)
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
        env=env, cwd=cwd, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout, done.stderr


@pytest.mark.parametrize(
    ("argv", "loaded"),
    [(["--version"], []), (["--help"], []), (["analyze", "--help"], ["numpy"])],
)
def test_version_and_help_import_no_heavy_module(argv, loaded):
    out, _ = _python(f"""
        import sys
        from gpuaudio.cli.main import main
        try:
            main({argv!r})
        except SystemExit:
            pass
        print(sorted(m for m in {(*HEAVY, "numpy")!r} if m in sys.modules))
    """)
    assert out.splitlines()[-1] == str(loaded)


def test_analysis_defaults_are_escalation_params_when_not_given():
    from gpuaudio.analysis.escalation import EscalationParams
    from gpuaudio.cli._common import params_from_args
    from gpuaudio.cli.main import build_parser

    parser = build_parser()
    assert params_from_args(parser.parse_args(["analyze", "x.wav"])) == EscalationParams()
    given = params_from_args(parser.parse_args(
        ["demo", "--window", "2", "--threshold", "3", "--min-pitch-rise", "1.5",
         "--max-gain-correction", "0", "--short-segment", "0", "--floor-segment", "30",
         "--sustained-context", "0"]
    ))
    assert (given.window_s, given.threshold, given.min_pitch_rise_st) == (2.0, 3.0, 1.5)
    assert given.max_gain_correction_db == 0.0 and given.short_segment_s == 0.0
    assert given.floor_segment_s == 30.0 and given.sustained_context_s == 0.0


def test_public_names_still_resolve_on_first_use():
    out, _ = _python("""
        import sys
        import gpuaudio
        assert "gpuaudio.service" not in sys.modules
        from gpuaudio import AudioFeatureService, GpuAudioError
        print(AudioFeatureService.__module__, GpuAudioError.__module__, "resolve" in dir(gpuaudio))
    """)
    assert out.split() == ["gpuaudio.service", "gpuaudio.errors", "True"]


def test_device_probe_without_a_cuda_driver_does_not_import_torch():
    out, _ = _python("""
        import importlib.metadata, importlib.util, sys
        from gpuaudio import device
        device._CUDA_LIBRARIES = ("libgpuaudio-no-such-driver.so",)
        info = device.probe()
        has_torch = importlib.util.find_spec("torch") is not None
        expected = importlib.metadata.version("torch") if has_torch else None
        print(info.torch_available == has_torch, info.torch_version == expected, info.gpus,
              "torch" in sys.modules)
    """)
    assert out.split() == ["True", "True", "()", "False"]


def test_plugins_verb_without_a_gpu_imports_hooks_only():
    """Listing backends reads the plugins' hooks (and the config: pydantic); no backend's
    libraries, no torch."""
    out, _ = _python(f"""
        import sys
        from gpuaudio import device
        from gpuaudio.cli.main import main
        device._CUDA_LIBRARIES = ()
        main(["plugins"])
        heavy = set({HEAVY!r}) - {{"pydantic"}} | {{"torchcrepe", "nnAudio"}}
        print(sorted(m for m in heavy if m in sys.modules))
    """)
    assert out.splitlines()[-1] == "[]"


KERNEL = """
    from gpuaudio_librosa._jit import cached_njit

    @cached_njit(nogil=True)
    def plus_one(x):
        return x + 1
"""


def _run_kernel(tmp_path: Path, quiet: bool) -> str:
    _, err = _python(f"""
        from gpuaudio.cli.main import _show_notices
        _show_notices({quiet})
        import kernel, kernel_twin
        assert kernel.plus_one(1) == 2 and kernel_twin.plus_one(2) == 3
    """, cache=tmp_path / "numba-cache", cwd=tmp_path)
    return err


def test_first_run_notice_once_then_silent_and_never_when_quiet(tmp_path):
    pytest.importorskip("numba")
    for name in ("kernel", "kernel_twin"):
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(KERNEL))
    assert _run_kernel(tmp_path, quiet=True).count(NOTICE) == 0
    (tmp_path / "numba-cache").rename(tmp_path / "kept")
    assert _run_kernel(tmp_path, quiet=False).count(NOTICE) == 1  # two uncached modules, one line
    assert _run_kernel(tmp_path, quiet=False).count(NOTICE) == 0  # cached now


def test_the_f0_kernels_announce_an_empty_cache(tmp_path):
    pytest.importorskip("numba")
    _, err = _python("""
        from gpuaudio.cli.main import _show_notices
        _show_notices(False)
        import gpuaudio_librosa._acpitch, gpuaudio_librosa._pyin_kernels
    """, cache=tmp_path)
    assert err.count(NOTICE) == 1
