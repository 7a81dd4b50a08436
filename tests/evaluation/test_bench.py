"""gpuaudio bench: candidates from the registry, ratios from the same run, accuracy that catches
a wrong backend, the table and the JSON file. No test asserts a duration."""

from __future__ import annotations

import json

import numpy as np
import pytest

import gpuaudio_librosa
from gpuaudio import BackendSpec, F0Frames, OutputExistsError, hookimpl
from gpuaudio.cli import main
from gpuaudio.device import CPU_ONLY
from gpuaudio.evaluation.bench import BenchReport, Workload, make_recording, run_bench, write_json
from gpuaudio.plugins import make_plugin_manager

SR = 16000


class FixedPitchBackend:
    """A wrong F0 backend: 300 Hz everywhere, always voiced."""

    def __init__(self, context):
        self.context = context

    def f0(self, y, sr, *, fmin, fmax, frame_length, hop_length):
        shape = (y.shape[0], 1 + y.shape[-1] // hop_length)
        return F0Frames(np.full(shape, 300.0), np.ones(shape, bool), np.ones(shape))


class LoudStftBackend:
    """librosa's STFT, 1 % too large."""

    def __init__(self, context):
        self.context = context

    def stft(self, y, **kwargs):
        import librosa

        return 1.01 * librosa.stft(y, **kwargs)


class FakePlugin:
    @hookimpl
    def gpuaudio_f0_backends(self):
        return [
            BackendSpec("fixedpitch", "f0", load=f"{__name__}:FixedPitchBackend"),
            BackendSpec("absent", "f0", load="nowhere:Backend", requires=("no_such_module_xyz",)),
        ]

    @hookimpl
    def gpuaudio_stft_backends(self):
        return [BackendSpec("loud", "stft", load=f"{__name__}:LoudStftBackend", priority=5)]


@pytest.fixture(scope="module")
def report() -> BenchReport:
    registry = make_plugin_manager(load_entry_points=False)
    registry.register(gpuaudio_librosa, "librosa")
    registry.register(FakePlugin(), "fake")
    workload = Workload(minutes=3 / 60, sr=SR, features=("f0", "stft"), repeats=1)
    saved: list[set[str]] = []
    result = run_bench(
        workload,
        registry=registry,
        device_info=CPU_ONLY,
        checkpoint=lambda rep: saved.append({r.feature for r in rep.results}),
    )
    assert saved == [{"f0"}, {"f0", "stft"}]  # partial results after each feature
    return result


def rows(report, feature):
    return {r.backend: r for r in report.results if r.feature == feature}


def test_every_eligible_backend_is_measured_and_the_missing_one_says_why(report):
    f0 = rows(report, "f0")
    assert {name for name, r in f0.items() if r.status == "ok"} == {
        "librosa",
        "fastpyin",
        "acpitch",
        "fixedpitch",
    }
    assert f0["absent"].status == "unavailable"
    assert "no_such_module_xyz" in f0["absent"].note
    assert next(r.backend for r in report.results if r.feature == "f0") == "librosa"


def test_auto_marks_what_the_resolver_would_pick(report):
    assert [r.backend for r in report.results if r.auto and r.feature == "f0"] == ["acpitch"]
    assert [r.backend for r in report.results if r.auto and r.feature == "stft"] == ["loud"]


def test_ratios_are_against_librosa_timed_in_the_same_run(report):
    for feature in ("f0", "stft"):
        measured = rows(report, feature)
        base = measured["librosa"]
        assert base.vs_librosa == 1.0
        for r in measured.values():
            if r.status == "ok":
                assert len(r.times_s) == 1 and r.first_call_s is not None
                assert r.seconds == pytest.approx(r.times_s[0])
                assert r.vs_librosa == pytest.approx(base.seconds / r.seconds, rel=1e-3)


def test_f0_accuracy_is_against_ground_truth_and_catches_a_wrong_backend(report):
    f0 = rows(report, "f0")
    for name in ("librosa", "fastpyin", "acpitch"):
        accuracy = f0[name].accuracy
        assert accuracy["raw_pitch_accuracy"] > 0.8, name
        assert 0.0 <= accuracy["voicing_false_alarm"] <= 1.0
    assert f0["fixedpitch"].accuracy["raw_pitch_accuracy"] < 0.2
    assert f0["fixedpitch"].accuracy["voicing_false_alarm"] == 1.0


def test_spectral_accuracy_is_relative_error_against_librosa(report):
    stft = rows(report, "stft")
    assert stft["librosa"].accuracy["max_error_rel"] == 0.0
    assert stft["loud"].accuracy["max_error_rel"] == pytest.approx(0.01, rel=0.01)


def test_table_lists_rows_and_the_unavailable_backend(report):
    table = report.table()
    assert table.splitlines()[0].startswith("| feature | backend | variant | device")
    assert "| acpitch (auto) |" in table
    assert "| fastpyin |" in table
    assert "absent: unavailable: missing module no_such_module_xyz" in table


def test_json_has_machine_and_results_and_is_never_overwritten(report, tmp_path):
    path = write_json(report, tmp_path / "bench.json", force=False)
    data = json.loads(path.read_text())
    assert {"cpu", "cores", "ram_gb", "device", "gpus", "versions"} <= set(data["machine"])
    assert data["machine"]["versions"]["gpuaudio"]
    assert data["workload"]["n_windows"] == 3
    assert len(data["results"]) == len(report.results)
    with pytest.raises(OutputExistsError):
        write_json(report, path, force=False)
    write_json(report, path, force=True)


def test_host_memory_is_measured_per_case(report):
    measured = [r for r in report.results if r.status == "ok"]
    assert measured
    for r in measured:
        assert 0 < r.host_rss_before_mb <= r.host_peak_mb, r
        assert r.gpu_peak_mb is None  # CPU run
    assert f"RSS {measured[0].host_peak_mb:.0f} MB (+" in report.table()


def test_recording_repeats_its_unique_part_with_its_truth():
    rec = make_recording(Workload(minutes=4 / 60, sr=8000, unique_minutes=2 / 60))
    assert rec.windows.shape == (4, 8000)
    np.testing.assert_array_equal(rec.windows[2:], rec.windows[:2])
    half = rec.truth_f0.size // 2
    assert rec.truth_times.size == rec.truth_f0.size == 4 * 200
    np.testing.assert_array_equal(rec.truth_f0[half:], rec.truth_f0[:half])
    assert np.isfinite(rec.truth_f0).mean() > 0.3


def test_cli_bench_with_installed_plugins_writes_json(tmp_path, capsys):
    out = tmp_path / "out.json"
    args = ["bench", "--features", "stft", "--minutes", "0.05", "--repeats", "1", "--quiet"]
    assert main([*args, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| stft | librosa" in printed
    data = json.loads(out.read_text())
    assert {r["backend"] for r in data["results"]} >= {"librosa"}
    assert main([*args, "--json", str(out)]) == 2  # exists: refused before running
    assert "--force" in capsys.readouterr().err


def test_cli_rejects_unknown_features(capsys):
    assert main(["bench", "--features", "f0,pitch"]) == 2
    assert "--features" in capsys.readouterr().err


def test_known_f0_set_scores_each_f0_backend_per_condition(speech_subset):
    registry = make_plugin_manager(load_entry_points=False)
    registry.register(gpuaudio_librosa, "librosa")
    registry.register(FakePlugin(), "fake")
    directory = speech_subset("02_en-us_m3")
    workload = Workload(minutes=2 / 60, sr=SR, features=("f0",), repeats=1, known_f0=directory)
    report = run_bench(workload, registry=registry, device_info=CPU_ONLY)
    f0 = rows(report, "f0")
    assert set(f0["librosa"].known_f0) == {"clean", "snr20", "snr05"}
    # pyin on a clean 120 Hz male voice; the wrong backend's fixed 300 Hz is never right
    assert f0["librosa"].known_f0["clean"]["raw_pitch_accuracy"] > 0.9
    assert f0["fixedpitch"].known_f0["clean"]["raw_pitch_accuracy"] < 0.05
    assert f0["fixedpitch"].known_f0["clean"]["voicing_false_alarm"] == 1.0
    assert report.workload["known_f0_recordings"] == 1
    assert report.workload["known_f0_conditions"]["snr05"] == "5 dB"
    assert len(report.workload["known_f0_manifest_sha256"]) == 64
    saved = json.loads(json.dumps(report.as_dict()))
    assert saved["workload"]["known_f0"] == str(directory)
    table = report.table()
    assert f"F0 on the known-F0 set {directory}" in table
    assert "| backend | variant | clean RPA / VR / FA | 20 dB RPA / VR / FA |" in table
    clean = f0["librosa"].known_f0["clean"]
    line = next(row for row in table.splitlines() if row.startswith("| librosa | default |"))
    assert f"{clean['raw_pitch_accuracy']:.3f} / {clean['voicing_recall']:.3f}" in line


def test_cli_refuses_a_broken_known_f0_set_before_running(tmp_path, capsys):
    assert main(["bench", "--features", "f0", "--known-f0", str(tmp_path), "--quiet"]) == 2
    assert "no manifest.json" in capsys.readouterr().err
