"""kprov.cluster.storage: Kubernetes objects in etcd.

- :mod:`.keys` the key layout (``/registry/<group>/<resource>/<namespace>/<name>``)
- :mod:`.encryption` + :mod:`.codec` JSON values, Secrets AES-GCM encrypted at rest
- :mod:`.etcd` the aetcd connection; :mod:`.store` compare-and-swap reads and writes
  (resourceVersion = etcd mod_revision), each write one :mod:`.txn_wire` transaction,
  concurrent ones sent together (:mod:`.group_commit`)
- :mod:`.watch_stream` + :mod:`.watch_cache` one etcd watch fanned out to every client watch
"""

from kprov.cluster.storage.cache_events import CacheEvent
from kprov.cluster.storage.codec import Codec
from kprov.cluster.storage.encryption import (
    EncryptionConfigError,
    ResourceEncryption,
    ValueTransformer,
    load_encryption_config,
)
from kprov.cluster.storage.errors import (
    KeyExistsError,
    KeyNotFoundError,
    RequestTooLargeError,
    RevisionConflictError,
    RevisionExpiredError,
    StorageError,
    StorageTimeoutError,
    StorageUnavailableError,
)
from kprov.cluster.storage.etcd import EtcdConfig, EtcdKV
from kprov.cluster.storage.keys import REGISTRY_PREFIX, object_key, resource_prefix, scope_prefix
from kprov.cluster.storage.store import ListPage, Store, StoredObject
from kprov.cluster.storage.subscription import Subscription
from kprov.cluster.storage.watch_cache import WatchCache

__all__ = [
    "REGISTRY_PREFIX",
    "CacheEvent",
    "Codec",
    "EncryptionConfigError",
    "EtcdConfig",
    "EtcdKV",
    "KeyExistsError",
    "KeyNotFoundError",
    "ListPage",
    "RequestTooLargeError",
    "ResourceEncryption",
    "RevisionConflictError",
    "RevisionExpiredError",
    "StorageError",
    "StorageTimeoutError",
    "StorageUnavailableError",
    "Store",
    "StoredObject",
    "Subscription",
    "ValueTransformer",
    "WatchCache",
    "load_encryption_config",
    "object_key",
    "resource_prefix",
    "scope_prefix",
]
