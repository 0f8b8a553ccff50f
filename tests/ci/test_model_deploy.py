from pathlib import Path

import pytest

from modelport.ci.context import CIContext
from modelport.ci.errors import ConfigError
from modelport.ci.model_deploy import UploadedModel, expand_upload_path, manifest, model_file_name
from modelport.ci.upload import md5_of, split_data_uri


def test_model_file_name_carries_the_commit() -> None:
    assert model_file_name(Path("out/model.pkl"), "b4a" * 13 + "e") == f"model_{'b4a' * 13}e.pkl"
    assert model_file_name(Path("weights"), "abc") == "weights_abc"


def test_upload_path_placeholders_and_parsing() -> None:
    path = expand_upload_path("data://$ALGORITHMIA_USERNAME/$ALGORITHMIA_ALGONAME/v1", "asli", "xgb")
    assert path == "data://asli/xgb/v1"
    assert split_data_uri(path) == ["asli", "xgb", "v1"]
    for bad in ("data://asli", "data://.my/x", "data://a/../b"):
        with pytest.raises(ConfigError, match="expected data://OWNER/COLLECTION"):
            split_data_uri(bad)


def test_manifest_has_algorithmias_keys() -> None:
    ctx = CIContext("github", "s" * 40, None, "acme/models", "refs/heads/main", "retrain")
    data = manifest(UploadedModel("asli/xgb/model_s.pkl", "d41d8cd98f00b204e9800998ecf8427e", 0), "s" * 40, ctx,
                    "retrain")
    assert set(data) == {"model_filepath", "model_md5_hash", "model_origin_commit_SHA", "model_origin_commit_msg",
                         "model_origin_repo", "model_origin_ref", "model_uploaded_utc"}
    assert data["model_filepath"] == "asli/xgb/model_s.pkl" and data["model_origin_ref"] == "refs/heads/main"
    assert len(data["model_uploaded_utc"]) == len("2021-05-25 10:00:00.000000")


def test_md5(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    assert md5_of(tmp_path / "empty") == "d41d8cd98f00b204e9800998ecf8427e"
