"""The official Algorithmia clients, unchanged, against a real modelport server."""

from __future__ import annotations

from tests.support import ClientEnv, Server


def test_algorithmia_205_management(server: Server, algorithmia205: ClientEnv, unique: str) -> None:
    out = algorithmia205.json(server, f"""
        import json, Algorithmia
        client = Algorithmia.client()
        algo = client.algo("admin/c205_{unique}")
        before = algo.exists()
        created = algo.create(details={{"label": "From 2.0.5"}},
                              settings={{"language": "python3-1", "source_visibility": "closed", "license": "apl",
                                        "network_access": "full", "pipeline_enabled": True, "environment": "cpu"}},
                              version_info={{"sample_input": "x"}})
        after = algo.exists()
        info = client.getJsonHelper("/v1/algorithms/admin/c205_{unique}")
        versions = algo.versions()
        builds = algo.get_builds()
        try:
            algo.update(details={{"label": "changed"}}, settings={{}}, version_info={{}})
            update_error = None
        except Exception as e:
            update_error = str(e)
        label = client.getJsonHelper("/v1/algorithms/admin/c205_{unique}")["details"]["label"]
        print(json.dumps([before, created["name"], after, info["id"] == created["id"], versions["results"],
                          builds["results"], update_error, label]))
    """)
    before, name, after, same_id, versions, builds, update_error, label = out  # type: ignore[misc]
    assert (before, name, after, same_id) == (False, f"c205_{unique}", True, True)
    assert versions == [] and builds == []
    # algorithmia 2.0.5 form-encodes update() bodies (reference 7.3): refused, nothing corrupted.
    assert update_error is not None and "415" in update_error
    assert label == "From 2.0.5"


def test_algorithmia_121_with_api_client_110(server: Server, algorithmia121: ClientEnv, unique: str) -> None:
    out = algorithmia121.json(server, f"""
        import json, Algorithmia
        client = Algorithmia.client()
        algo = client.algo("admin/c121_{unique}")
        created = algo.create(details={{"label": "From 1.2.1"}},
                              settings={{"language": "python3-1", "source_visibility": "closed", "license": "apl",
                                        "network_access": "full", "pipeline_enabled": True, "environment": "cpu"}})
        info = algo.info() if hasattr(algo, "info") else None
        versions = algo.versions(1)
        print(json.dumps([created.name, created.settings.language, versions.results, versions.marker]))
    """)
    assert out == [f"c121_{unique}", "python3-1", [], None]
