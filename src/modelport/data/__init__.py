"""Hosted data collections: data paths, read ACLs, listing pages and blob storage."""

from modelport.data.acl import DEFAULT_ACL, CollectionAcl, can_read, parse_acl, parse_acl_update
from modelport.data.errors import (
    AclError,
    BlobNotFound,
    DataError,
    DataPathError,
    InvalidKey,
    InvalidMarker,
    InvalidRange,
    StorageError,
)
from modelport.data.listing import PAGE_SIZE, decode_marker, encode_marker, format_last_modified
from modelport.data.paths import (
    DataPath,
    parse_connector_path,
    parse_data_path,
    validate_collection_name,
    validate_file_name,
)
from modelport.data.storage import (
    CHUNK_SIZE,
    BlobInfo,
    BlobReader,
    BlobStorage,
    BlobWriter,
    LocalStorage,
    write_stream,
)

__all__ = [
    "CHUNK_SIZE",
    "DEFAULT_ACL",
    "PAGE_SIZE",
    "AclError",
    "BlobInfo",
    "BlobNotFound",
    "BlobReader",
    "BlobStorage",
    "BlobWriter",
    "CollectionAcl",
    "DataError",
    "DataPath",
    "DataPathError",
    "InvalidKey",
    "InvalidMarker",
    "InvalidRange",
    "LocalStorage",
    "StorageError",
    "can_read",
    "decode_marker",
    "encode_marker",
    "format_last_modified",
    "parse_acl",
    "parse_acl_update",
    "parse_connector_path",
    "parse_data_path",
    "validate_collection_name",
    "validate_file_name",
    "write_stream",
]
