"""Batch inputs: folders, files and manifests; ids stable, unique and safe."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gpuaudio.batch.inputs import collect_inputs
from gpuaudio.errors import BatchInputError


def _touch(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def test_folder_recursive_by_extension_with_path_ids(tmp_path):
    names = ("a/call.wav", "b/call.WAV", "b/deep/x y.flac", "talk.mp3", "notes.txt", "x.csv.bak")
    for name in names:
        _touch(tmp_path / "arch" / name)
    items = collect_inputs([tmp_path / "arch"])
    assert sorted(item.id for item in items) == ["a__call", "b__call", "b__deep__x_y", "talk"]
    assert all(item.channel is None and item.extra == () for item in items)
    assert {item.path for item in items} == {
        str((tmp_path / "arch" / n).resolve())
        for n in ("a/call.wav", "b/call.WAV", "b/deep/x y.flac", "talk.mp3")
    }


def test_same_name_files_get_distinct_ids_stable_across_runs(tmp_path):
    one, two = _touch(tmp_path / "a" / "call.wav"), _touch(tmp_path / "b" / "call.wav")
    lone = _touch(tmp_path / "c" / "other.wav")
    first = collect_inputs([one, two, lone])
    ids = [item.id for item in first]
    assert len(set(ids)) == 3 and all(i.startswith("call-") for i in ids[:2])
    assert ids[2] == "other"  # no collision: the plain name
    again = collect_inputs([two, one, lone])  # another order, the same ids per file
    assert {i.path: i.id for i in again} == {i.path: i.id for i in first}


def test_same_stem_in_one_folder_and_a_file_given_twice(tmp_path):
    folder = tmp_path / "f"
    wav, flac = _touch(folder / "call.wav"), _touch(folder / "call.flac")
    items = collect_inputs([folder, wav])  # wav also given by itself: analysed once
    assert len(items) == 2
    assert len({item.id for item in items}) == 2
    assert {item.path for item in items} == {str(wav.resolve()), str(flac.resolve())}


def test_manifest_ids_channels_and_carried_columns(tmp_path):
    _touch(tmp_path / "audio" / "one.wav")
    _touch(tmp_path / "audio" / "two.wav")
    manifest = tmp_path / "list.csv"
    manifest.write_text(
        "case,path,id,channel,officer\n"
        "17,audio/one.wav,case17-a,1,Smith\n"
        f"18,{tmp_path / 'audio' / 'two.wav'},,,\n"
        "19,audio/one.wav,,0,Jones\n"
    )
    items = collect_inputs([manifest])
    assert [item.id for item in items] == ["case17-a", "two", "one-ch0"]
    assert [item.channel for item in items] == [1, None, 0]
    assert items[0].extra == (("case", "17"), ("officer", "Smith"))
    assert items[1].extra == (("case", "18"), ("officer", ""))
    assert items[0].path == str((tmp_path / "audio" / "one.wav").resolve())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("file,id\na.wav,x\n", "needs a 'path' column"),
        ("path,id\naudio.wav,x\naudio.wav,x\n", "line 3: 'x'); ids name output folders"),
        ("path,id\naudio.wav,Case7\naudio.wav,case7\n", "whatever the case of their letters"),
        ("path\nmissing.wav\n", "missing.wav: no such file"),
        ("path,id\naudio.wav,../escape\n", "not a safe folder name"),
        ("path,channel\naudio.wav,left\n", "channel 'left'"),
        ("path\n\n,\n", "'path' cell is empty"),
        # the tables' own columns: carried, they replaced the computed values
        ("path,status,sha256\naudio.wav,ok,beef\n", "the column(s) 'status', 'sha256' of"),
        ("path,duration_s,site\naudio.wav,long,x\n", "the column(s) 'duration_s' of"),
        ("path,baseline_f0_median_hz\naudio.wav,1\n", "'baseline_f0_median_hz' of"),
    ],
)
def test_bad_manifests_are_refused_naming_the_problem(tmp_path, text, expected):
    _touch(tmp_path / "audio.wav")
    manifest = tmp_path / "m.csv"
    manifest.write_text(text)
    with pytest.raises(BatchInputError, match=r"m\.csv") as info:
        collect_inputs([manifest])
    assert expected in str(info.value)


def test_missing_input_and_empty_folder(tmp_path):
    with pytest.raises(BatchInputError, match=r"nope\.wav: no such file or folder"):
        collect_inputs([tmp_path / "nope.wav"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchInputError, match="holds no audio files"):
        collect_inputs([tmp_path / "empty"])


def test_manifest_id_taken_by_a_derived_id_is_kept_and_the_other_renamed(tmp_path):
    _touch(tmp_path / "call.wav")
    _touch(tmp_path / "other.wav")
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,id\nother.wav,call\n")
    items = collect_inputs([manifest, tmp_path / "call.wav"])
    assert items[0].id == "call"
    assert items[1].id.startswith("call-")


def _earlier_result(out, ident, item):
    """What an earlier run leaves in ``out/<ident>``: its status.json, naming the recording."""
    from gpuaudio.batch.status import STATUS_JSON, RecordingStatus

    status = RecordingStatus(
        id=ident, path=item.path, channel=item.channel, status="ok", error=None,
        sha256="0" * 64, config_hash="c", version="v", seconds=1.0,
    )
    (out / ident).mkdir(parents=True)
    (out / ident / STATUS_JSON).write_text(status.as_json())


def test_a_newcomer_never_takes_the_id_of_an_earlier_output_folder(tmp_path):
    archive, out = tmp_path / "arch", tmp_path / "out"
    _touch(archive / "site1" / "call.wav")
    (old,) = collect_inputs([archive], out)
    assert old.id == "site1__call"
    _earlier_result(out, old.id, old)
    _touch(archive / "site1__call.wav")  # derives the same name
    ids = {item.path: item.id for item in collect_inputs([archive], out)}
    assert ids[old.path] == "site1__call"  # keeps its folder
    newcomer = ids[str((archive / "site1__call.wav").resolve())]
    assert newcomer.startswith("site1__call-")
    # Without the earlier folder both get a hash (the rule for a first run).
    assert all("-" in i for i in (x.id for x in collect_inputs([archive], tmp_path / "none")))
    # The newcomer, analysed under its hash, keeps it when the other leaves the archive.
    _earlier_result(out, newcomer, collect_inputs([archive], out)[1])
    (archive / "site1" / "call.wav").unlink()
    assert [item.id for item in collect_inputs([archive], out)] == [newcomer]


def test_a_folder_input_skips_the_output_folder_inside_it_and_refuses_to_be_it(tmp_path):
    archive = tmp_path / "arch"
    _touch(archive / "call.wav")
    _touch(archive / "results" / "call" / "call.wav")  # an earlier run's copy for its page
    assert [item.id for item in collect_inputs([archive], archive / "results")] == ["call"]
    assert len(collect_inputs([archive])) == 2  # without an output folder: every file
    with pytest.raises(BatchInputError, match="the input folder is the output folder"):
        collect_inputs([archive], archive)


def test_ids_that_differ_only_in_case_get_hashes(tmp_path):
    _touch(tmp_path / "A" / "call.wav"), _touch(tmp_path / "a" / "call.wav")
    ids = [item.id for item in collect_inputs([tmp_path])]
    assert ids[0].startswith("A__call-") and ids[1].startswith("a__call-")  # one folder each
    assert len({i.casefold() for i in ids}) == 2  # also where case is ignored (macOS, Windows)


def test_ids_fit_a_file_name_however_deep_and_long_the_path(tmp_path):
    deep = tmp_path / ("a" * 120) / ("b" * 120)
    _touch(deep / ("c" * 120 + ".wav"))
    (item,) = collect_inputs([tmp_path])
    assert len(item.id.encode()) <= 200 and item.id.startswith("a" * 120 + "__")


def test_a_folder_input_follows_links_to_folders_once_and_keeps_what_it_cannot_read(tmp_path):
    """Before, rglob (Python 3.11) skipped a linked folder and is_file() every entry that is
    not a readable file, silently: "1 of 1 recording(s) analysed"."""
    archive, elsewhere = tmp_path / "arch", tmp_path / "elsewhere"
    _touch(archive / "one.wav")
    _touch(elsewhere / "two.wav")
    (archive / "sub").mkdir()
    (archive / "sub" / "linked").symlink_to(elsewhere)
    (archive / "sub" / "again").symlink_to(elsewhere)  # the same folder by a second link
    (archive / "sub" / "up").symlink_to(archive)  # a loop: walked once
    (archive / "dangling.wav").symlink_to(tmp_path / "gone.wav")
    (archive / "loop.wav").symlink_to(archive / "loop.wav")
    os.mkfifo(archive / "fifo.wav")
    items = collect_inputs([archive])
    assert {item.id: item.path for item in items} == {
        "dangling": str(archive / "dangling.wav"),  # the entry itself, for the failed row
        "fifo": str(archive / "fifo.wav"),
        "loop": str(archive / "loop.wav"),
        "one": str(archive / "one.wav"),
        "sub__again__two": str(elsewhere / "two.wav"),
    }


def test_a_subfolder_that_cannot_be_listed_is_refused_naming_it(tmp_path, monkeypatch):
    _touch(tmp_path / "arch" / "one.wav")
    _touch(tmp_path / "arch" / "locked" / "two.wav")
    real = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(BatchInputError, match=r"locked: cannot read the folder \(Permission"):
        collect_inputs([tmp_path / "arch"])
