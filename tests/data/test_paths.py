import pytest

from modelport.data.errors import DataPathError
from modelport.data.paths import (
    DataPath,
    parse_connector_path,
    parse_data_path,
    validate_collection_name,
    validate_file_name,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("", DataPath("")),
        ("/", DataPath("")),
        ("data://", DataPath("")),
        ("alice", DataPath("alice")),
        ("alice/", DataPath("alice")),
        ("alice/models", DataPath("alice", "models")),
        ("alice/models/", DataPath("alice", "models")),
        ("alice/models/model.pkl", DataPath("alice", "models", "model.pkl")),
        ("/alice/models/model.pkl", DataPath("alice", "models", "model.pkl")),
        ("data://alice/models/model.pkl", DataPath("alice", "models", "model.pkl")),
        ("/data://alice/models", DataPath("alice", "models")),
        ("alice/my-models_2.v1/x", DataPath("alice", "my-models_2.v1", "x")),
        ("alice/m/ spaced name (1).tar.gz", DataPath("alice", "m", " spaced name (1).tar.gz")),
        ("alice/m/.hidden", DataPath("alice", "m", ".hidden")),
        ("alice/m/...", DataPath("alice", "m", "...")),
        ("alice/m/a:b?c#d%2F", DataPath("alice", "m", "a:b?c#d%2F")),
        ("alice/m/modèle-🙂.bin", DataPath("alice", "m", "modèle-🙂.bin")),
        ("alice/m/" + "x" * 255, DataPath("alice", "m", "x" * 255)),
    ],
)
def test_valid_paths(raw: str, expected: DataPath) -> None:
    assert parse_data_path(raw, caller="me") == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (".my", DataPath("me")),
        (".my/", DataPath("me")),
        (".my/models", DataPath("me", "models")),
        ("data://.my/models/model.pkl", DataPath("me", "models", "model.pkl")),
        ("/.my/models/model.pkl", DataPath("me", "models", "model.pkl")),
    ],
)
def test_my_is_the_caller(raw: str, expected: DataPath) -> None:
    assert parse_data_path(raw, caller="me") == expected


def test_my_needs_a_caller() -> None:
    with pytest.raises(DataPathError, match=r"\.my stands for the authenticated user"):
        parse_data_path(".my/models", caller=None)


def test_other_owner_does_not_need_a_caller() -> None:
    assert parse_data_path("alice/models", caller=None) == DataPath("alice", "models")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        # traversal
        ("..", "contains a '..' segment"),
        ("alice/..", "contains a '..' segment"),
        ("alice/../bob/x", "contains a '..' segment"),
        ("alice/models/..", "contains a '..' segment"),
        ("data://../etc/passwd", "contains a '..' segment"),
        (".", "contains a '.' segment"),
        ("alice/./models", "contains a '.' segment"),
        ("alice/models/.", "contains a '.' segment"),
        # empty segments
        ("alice//models", r"contains an empty name \('//'\)"),
        ("alice/models//x", r"contains an empty name \('//'\)"),
        ("alice/models/x//", r"contains an empty name \('//'\)"),
        # absolute after stripping
        ("//etc/passwd", "is absolute"),
        ("data:///etc/passwd", "is absolute"),
        ("data:////x", "is absolute"),
        # control characters and backslashes
        ("alice/models/x\x00y", r"control character \(U\+0000\) at position 14"),
        ("alice\x00/models", r"control character \(U\+0000\) at position 5"),
        ("alice/models/x\ny", r"control character \(U\+000A\)"),
        ("alice/models/x\x1by", r"control character \(U\+001B\)"),
        ("alice/models/x\x7fy", r"control character \(U\+007F\)"),
        ("alice/models/x\x85y", r"control character \(U\+0085\)"),
        ("alice/models/x\u2028y", r"control character \(U\+2028\)"),
        ("alice/models/x\ud800y", r"control character \(U\+D800\)"),
        ("alice\\models", "contains a backslash"),
        ("alice/models/..\\..\\x", "contains a backslash"),
        # too long
        ("alice/models/" + "x" * 256, "is 256 bytes long"),
        ("alice/models/" + "x" * 1000, r"is 1000 bytes long \(UTF-8\); names are limited to 255 bytes"),
        ("alice/models/" + "é" * 128, "is 256 bytes long"),
        ("alice/" + "m" * 1000, "is 1000 bytes long"),
        ("a" * 1000, "is 1000 bytes long"),
        # too deep
        ("alice/models/sub/x", "is too deep: hosted data holds collections directly under an owner"),
        ("alice/models/a/b/c", "folders inside a collection are not supported"),
        (".my/models/sub/x", "is too deep"),
        ("alice/models/x/", "ends with '/' but names a file"),
        # other connectors and unsupported pseudo-owners
        ("s3://bucket/key", "^connector s3 is not supported"),
        ("s3+test://bucket/key", "^connector s3\\+test is not supported"),
        ("/dropbox://x", "^connector dropbox is not supported"),
        ("gs://b/k", "^connector gs is not supported"),
        ("azureblob://c/k", "^connector azureblob is not supported"),
        ("ftp://host/x", "^unknown connector 'ftp'"),
        (".session/x.txt", r"^data://\.session paths are not supported yet"),
        (".algo/temp/x.txt", r"^data://\.algo paths are not supported yet"),
        (".algo/alice/algo/perm/x.txt", r"^data://\.algo paths are not supported yet"),
        # names
        (".alice/models", "owner name '.alice' must not start with '.'"),
        ("al ice/models", "owner name 'al ice' is not valid"),
        ("alice/.models", "collection name '.models' must not start with '.'"),
        ("alice/my models", "collection name 'my models' is not valid"),
        ("alice/mödels", "collection name 'mödels' is not valid"),
        ("alice/a:b", "collection name 'a:b' is not valid"),
    ],
)
def test_invalid_paths(raw: str, message: str) -> None:
    with pytest.raises(DataPathError, match=message):
        parse_data_path(raw, caller="me")


def test_messages_do_not_echo_huge_names() -> None:
    with pytest.raises(DataPathError) as caught:
        parse_data_path("alice/models/" + "x" * 1000, caller="me")
    assert len(caught.value.message) < 200


def test_connector_route() -> None:
    assert parse_connector_path("data", ".my/models/x", caller="me") == DataPath("me", "models", "x")
    with pytest.raises(DataPathError, match="^connector s3 is not supported"):
        parse_connector_path("s3", "bucket/key", caller="me")
    with pytest.raises(DataPathError, match="^connector data\\+x is not supported"):
        parse_connector_path("data+x", "alice/models", caller="me")
    with pytest.raises(DataPathError, match="^unknown connector 'nope'"):
        parse_connector_path("nope", "alice/models", caller="me")


def test_kind_and_uri() -> None:
    assert DataPath("").kind == "root"
    assert DataPath("").uri == "data://"
    assert DataPath("alice").kind == "owner"
    assert DataPath("alice", "models").kind == "collection"
    path = DataPath("alice", "models", "model.pkl")
    assert path.kind == "file"
    assert path.uri == "data://alice/models/model.pkl"


def test_data_path_validates_itself() -> None:
    with pytest.raises(DataPathError, match="collection name '..' must not start with '.'"):
        DataPath("alice", "..")
    with pytest.raises(DataPathError, match="a collection needs an owner"):
        DataPath("", "models")
    with pytest.raises(DataPathError, match="a file needs a collection"):
        DataPath("alice", None, "x")
    with pytest.raises(DataPathError, match="file name 'a/b' contains '/'"):
        DataPath("alice", "models", "a/b")
    with pytest.raises(DataPathError, match="owner name 'x/../y' is not valid"):
        DataPath("x/../y")


def test_validate_names_from_bodies() -> None:
    assert validate_collection_name("img_directory") == "img_directory"
    with pytest.raises(DataPathError, match="collection name must be a string"):
        validate_collection_name(3)
    with pytest.raises(DataPathError, match="collection name must not be empty"):
        validate_collection_name("")
    with pytest.raises(DataPathError, match="collection name 'a/b' is not valid"):
        validate_collection_name("a/b")
    with pytest.raises(DataPathError, match="file name '..' is not allowed"):
        validate_file_name("..")
    with pytest.raises(DataPathError, match="file name must not be empty"):
        validate_file_name("")
