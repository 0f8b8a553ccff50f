"""Read ACLs of hosted data collections: the only three forms Algorithmia's clients know.

Writes are owner-only and are checked by the caller, not here.
"""

import enum

from modelport.data.errors import AclError


class CollectionAcl(enum.Enum):
    """A collection's read ACL; `.value` is the stable name to store in the database."""

    PRIVATE = "private"
    MY_ALGORITHMS = "my_algorithms"
    PUBLIC = "public"

    @property
    def read(self) -> list[str]:
        """The `read` list as sent on the wire."""
        return list(_READ_LISTS[self])

    def to_json(self) -> dict[str, list[str]]:
        """The `acl` object of a listing with `?acl=true`."""
        return {"read": self.read}


DEFAULT_ACL = CollectionAcl.MY_ALGORITHMS

_READ_LISTS: dict[CollectionAcl, tuple[str, ...]] = {
    CollectionAcl.PRIVATE: (),
    CollectionAcl.MY_ALGORITHMS: ("algo://.my/*",),
    CollectionAcl.PUBLIC: ("user://*",),
}
_BY_ENTRY = {entries[0]: acl for acl, entries in _READ_LISTS.items() if entries}
_FORMS = '[] (private), ["algo://.my/*"] (your algorithms may read) or ["user://*"] (public)'


def parse_acl(value: object) -> CollectionAcl:
    """Parse the `{"read": [...]}` object, as found in a create (`POST`) or update (`PATCH`) body."""
    if not isinstance(value, dict):
        raise AclError(f'"acl" must be an object like {{"read": []}}, got {_json_type(value)}')
    extra = sorted(set(value) - {"read"})
    if extra:
        raise AclError(
            f'"acl" has unsupported key {extra[0]!r}: only "read" can be set, writes are owner-only'
        )
    if "read" not in value:
        raise AclError('"acl" must contain "read": one of ' + _FORMS)
    read = value["read"]
    if not isinstance(read, list):
        raise AclError(f'"acl.read" must be a list, got {_json_type(read)}: use one of {_FORMS}')
    if not read:
        return CollectionAcl.PRIVATE
    for entry in read:
        if not isinstance(entry, str):
            raise AclError(
                f'"acl.read" entries must be strings, got {_json_type(entry)}: use one of {_FORMS}'
            )
        if entry not in _BY_ENTRY:
            raise AclError(f'"acl.read" entry {entry!r} is not supported: use one of {_FORMS}')
    if len(read) > 1:
        raise AclError(f'"acl.read" must hold at most one entry, got {len(read)}: use one of {_FORMS}')
    return _BY_ENTRY[read[0]]


def parse_acl_update(body: object) -> CollectionAcl:
    """Parse the body of `PATCH /v1/data/<owner>/<collection>`: exactly `{"acl": {"read": [...]}}`."""
    if not isinstance(body, dict):
        raise AclError(
            f'request body must be a JSON object like {{"acl": {{"read": []}}}}, got {_json_type(body)}'
        )
    extra = sorted(set(body) - {"acl"})
    if extra:
        raise AclError(f'request body has unsupported key {extra[0]!r}: only "acl" can be updated')
    if "acl" not in body:
        raise AclError('request body must contain "acl", like {"acl": {"read": []}}')
    return parse_acl(body["acl"])


def can_read(
    acl: CollectionAcl,
    owner: str,
    user: str | None,
    acting_algorithm_owner: str | None = None,
) -> bool:
    """Whether a request may read a collection of `owner`.

    `user` is the user whose rights the read carries (None when it carries none: no data scope, or an
    algorithm's own load-time key); inside an algorithm that is the caller, and
    `acting_algorithm_owner` is the algorithm's owner.
    """
    if user is not None and user == owner:
        return True
    if acl is CollectionAcl.PUBLIC:
        # "user://*" is any signed-in user, including an algorithm running for one.
        return user is not None or acting_algorithm_owner is not None
    if acl is CollectionAcl.MY_ALGORITHMS:
        return acting_algorithm_owner == owner
    return False


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
