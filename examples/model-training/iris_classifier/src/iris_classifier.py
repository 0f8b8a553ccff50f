"""Serve the iris classifier trained by ../model_training.ipynb.

The model file lives in a data collection; model_manifest.json (written at the repository root by
`modelport deploy-model`) says which file and its md5. The model is fetched and checked once, when the
algorithm loads, so every call is fast and no call ever runs an unverified model.
"""

import hashlib
import json
import os
import pickle
import urllib.request
from pathlib import Path

MANIFEST = Path(__file__).resolve().parents[1] / "model_manifest.json"
SPECIES = ["setosa", "versicolor", "virginica"]


def load_model_manifest():
    with open(MANIFEST, encoding="utf-8") as f:
        return json.load(f)


def read_data_file(path):
    """Bytes of a hosted data file (data://owner/collection/file, or the path without data://)."""
    api = os.environ.get("ALGORITHMIA_API", "http://127.0.0.1:5577").rstrip("/")
    request = urllib.request.Request(f"{api}/v1/data/{path.removeprefix('data://')}")
    key = os.environ.get("ALGORITHMIA_API_KEY")
    if key:
        request.add_header("Authorization", f"Simple {key}")
    with urllib.request.urlopen(request, timeout=60) as response:
        return response.read()


def load_model(manifest):
    data = read_data_file(manifest["model_filepath"])
    digest = hashlib.md5(data).hexdigest()
    if digest != manifest["model_md5_hash"]:
        raise RuntimeError(f"model file {manifest['model_filepath']} has md5 {digest}, "
                           f"the manifest expects {manifest['model_md5_hash']}: refusing to load it")
    return pickle.loads(data)


MANIFEST_DATA = load_model_manifest()
MODEL = load_model(MANIFEST_DATA)


def apply(input):
    """{"features": [[sepal length, sepal width, petal length, petal width], ...]} -> predicted species;
    {"evaluate": "iris"} -> accuracy on scikit-learn's bundled iris data set."""
    if not isinstance(input, dict):
        raise TypeError('input must be {"features": [[...4 numbers...], ...]} or {"evaluate": "iris"}')
    if input.get("evaluate") == "iris":
        from sklearn.datasets import load_iris

        data = load_iris()
        return {"accuracy": float(MODEL.score(data.data, data.target)), "samples": len(data.target)}
    rows = input.get("features")
    if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) == 4 for r in rows):
        raise ValueError('"features" must be a list of rows of 4 numbers')
    predictions = [SPECIES[int(p)] for p in MODEL.predict(rows)]
    return {"predictions": predictions, "model_origin_commit": MANIFEST_DATA.get("model_origin_commit_SHA")}
