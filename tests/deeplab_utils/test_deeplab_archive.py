"""Reading model tarballs in place, unpacking them safely, and refusing broken ones."""

import io
import tarfile

import pytest

from deeplab_utils import (
    DeepLabModel,
    extract_archive,
    locate_frozen_graph,
    parse_graph_def,
    read_frozen_graph_bytes,
)


def _tarball(path, members):
    """Writes a .tar.gz with members given as (TarInfo-like dict, bytes or None)."""
    with tarfile.open(path, "w:gz") as archive:
        for name, data, kind in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = "/etc/passwd"
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def test_reads_graph_in_place(mnv2_tarball, mnv2_graph):
    data, source = read_frozen_graph_bytes(mnv2_tarball)
    assert parse_graph_def(data) == mnv2_graph.graph_def
    assert source.endswith("deeplabv3_mnv2_cityscapes_train/frozen_inference_graph.pb")


def test_extract_unpacks_whole_tarball_and_never_overwrites(mnv2_tarball, tmp_path):
    target = extract_archive(mnv2_tarball, tmp_path / "model")
    graph = locate_frozen_graph(target)
    assert graph == target / "deeplabv3_mnv2_cityscapes_train" / "frozen_inference_graph.pb"
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*exists and is not an empty folder"):
        extract_archive(mnv2_tarball, target)
    assert [p.name for p in tmp_path.iterdir()] == ["model"]  # no staging folder left behind


@pytest.mark.parametrize("name, kind", [
    ("../escape.pb", tarfile.REGTYPE),
    ("/tmp/absolute.pb", tarfile.REGTYPE),
    ("model/link.pb", tarfile.SYMTYPE),
    ("model/../../escape.pb", tarfile.REGTYPE),
])
def test_unsafe_members_are_refused_before_anything_is_written(tmp_path, name, kind):
    data = b"x" if kind == tarfile.REGTYPE else None
    archive = _tarball(tmp_path / "evil.tar.gz", [("model/ok.txt", b"ok", tarfile.REGTYPE), (name, data, kind)])
    target = tmp_path / "out" / "target"
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*refusing member"):
        extract_archive(archive, target)
    assert not (tmp_path / "out").exists()  # refused while checking: nothing was created
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.tar.gz"]


def test_tarball_without_frozen_graph(tmp_path):
    archive = _tarball(tmp_path / "deeplabv3_x_2018_01_01.tar.gz",
                       [("deeplabv3_x/model.ckpt-1.index", b"index", tarfile.REGTYPE)])
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*holds no frozen graph"):
        read_frozen_graph_bytes(archive)
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*holds no frozen graph"):
        DeepLabModel(archive)


def test_folder_choices(tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "other.pb").write_bytes(b"1")
    assert locate_frozen_graph(tmp_path) == tmp_path / "a" / "other.pb"
    (tmp_path / "b.pb").write_bytes(b"2")
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*several .pb files"):
        locate_frozen_graph(tmp_path)
    (tmp_path / "frozen_inference_graph.pb").write_bytes(b"3")
    assert locate_frozen_graph(tmp_path).name == "frozen_inference_graph.pb"
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*no such file or folder"):
        locate_frozen_graph(tmp_path / "missing")


def test_corrupt_and_truncated_files(mnv2_tarball, tmp_path):
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b" + bytes(range(256)) * 4)
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*corrupt or truncated"):
        DeepLabModel(garbage)
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(mnv2_tarball.read_bytes()[: mnv2_tarball.stat().st_size // 2])
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*corrupt or truncated"):
        DeepLabModel(truncated)
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*corrupt or truncated"):
        extract_archive(truncated, tmp_path / "partial")
    assert not (tmp_path / "partial").exists()
    graph = read_frozen_graph_bytes(mnv2_tarball)[0]
    bad_pb = tmp_path / "frozen_inference_graph.pb"
    bad_pb.write_bytes(graph[: len(graph) // 3])
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*not a TensorFlow GraphDef"):
        DeepLabModel(bad_pb)
    bad_pb.write_bytes(b"")
    with pytest.raises(ValueError, match=r"^Argument `\w+` must .*not a TensorFlow GraphDef"):
        DeepLabModel(bad_pb)
