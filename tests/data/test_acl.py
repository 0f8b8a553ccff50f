import pytest

from modelport.data.acl import DEFAULT_ACL, CollectionAcl, can_read, parse_acl, parse_acl_update
from modelport.data.errors import AclError

PRIVATE, MY_ALGORITHMS, PUBLIC = CollectionAcl.PRIVATE, CollectionAcl.MY_ALGORITHMS, CollectionAcl.PUBLIC


def test_wire_forms() -> None:
    assert PRIVATE.to_json() == {"read": []}
    assert MY_ALGORITHMS.to_json() == {"read": ["algo://.my/*"]}
    assert PUBLIC.to_json() == {"read": ["user://*"]}
    assert DEFAULT_ACL is MY_ALGORITHMS


def test_read_list_is_a_copy() -> None:
    PUBLIC.read.append("x")
    assert PUBLIC.read == ["user://*"]


@pytest.mark.parametrize("acl", list(CollectionAcl))
def test_round_trip(acl: CollectionAcl) -> None:
    assert parse_acl(acl.to_json()) is acl
    assert parse_acl_update({"acl": acl.to_json()}) is acl
    assert CollectionAcl(acl.value) is acl


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (None, "request body must be a JSON object"),
        ([], "request body must be a JSON object .* got a list"),
        ({}, 'request body must contain "acl"'),
        ({"acl": {"read": []}, "name": "x"}, "request body has unsupported key 'name'"),
        ({"acl": None}, '"acl" must be an object .* got null'),
        ({"acl": ["user://*"]}, '"acl" must be an object .* got a list'),
        ({"acl": {}}, '"acl" must contain "read"'),
        ({"acl": {"read": [], "write": []}}, '"acl" has unsupported key \'write\': only "read" can be set'),
        ({"acl": {"read": "user://*"}}, '"acl.read" must be a list, got a string'),
        ({"acl": {"read": [1]}}, '"acl.read" entries must be strings, got a number'),
        ({"acl": {"read": ["user://alice"]}}, "\"acl.read\" entry 'user://alice' is not supported"),
        ({"acl": {"read": ["algo://alice/*"]}}, "\"acl.read\" entry 'algo://alice/\\*' is not supported"),
        ({"acl": {"read": ["user://*", "algo://.my/*"]}}, '"acl.read" must hold at most one entry, got 2'),
        ({"acl": {"read": ["user://*", "user://*"]}}, '"acl.read" must hold at most one entry'),
    ],
)
def test_invalid_bodies(body: object, message: str) -> None:
    with pytest.raises(AclError, match=message):
        parse_acl_update(body)


def test_error_names_the_three_forms() -> None:
    with pytest.raises(AclError) as caught:
        parse_acl({"read": ["everyone"]})
    assert '[] (private), ["algo://.my/*"] (your algorithms may read) or ["user://*"] (public)' in str(
        caught.value
    )


@pytest.mark.parametrize("acl", list(CollectionAcl))
def test_owner_always_reads(acl: CollectionAcl) -> None:
    assert can_read(acl, "alice", "alice", None)
    assert can_read(acl, "alice", "alice", "bob")  # alice calling bob's algorithm
    assert can_read(acl, "alice", "alice", "alice")


@pytest.mark.parametrize(
    ("acl", "principal", "algorithm_owner", "allowed"),
    [
        (PRIVATE, "bob", None, False),
        (PRIVATE, "bob", "alice", False),  # alice's algorithm called by bob
        (PRIVATE, None, None, False),
        (MY_ALGORITHMS, "bob", None, False),
        (MY_ALGORITHMS, "bob", "alice", True),
        (MY_ALGORITHMS, "bob", "bob", False),  # bob's own algorithm does not get alice's data
        (MY_ALGORITHMS, "bob", "carol", False),
        (MY_ALGORITHMS, None, None, False),
        (PUBLIC, "bob", None, True),
        (PUBLIC, "bob", "carol", True),
        (PUBLIC, None, None, False),  # user://* means signed-in users
    ],
)
def test_others(
    acl: CollectionAcl, principal: str | None, algorithm_owner: str | None, allowed: bool
) -> None:
    assert can_read(acl, "alice", principal, algorithm_owner) is allowed
