"""
Where recommendations are cached: Redis when there is one (the process's client from
core.redis, straight, because Django's cache builds a new client object per call and
pickles), Django's cache otherwise (embedded mode). Values are JSON strings.

Keys:
  recs:generation             the similarity snapshot in use (microseconds of its update)
  recs:snapshot:<generation>  the snapshot itself (topics, matrices, popularity)
  recs:epoch:<learner>        bumped when the learner's interactions change
  recs:list:<generation>:<learner>:<epoch>:<strategy>   one computed list
  recs:lock:...               held by the one process computing a cold list
"""

from __future__ import annotations

import time
from typing import Any, Protocol

from core.redis import get_redis


class Store(Protocol):
    def lookup(self, *, learner_id: int, strategy: str) -> tuple[str | None, ...]: ...
    def release(self, key: str, token: str) -> None: ...
    def get(self, key: str) -> str | None: ...
    def get_many(self, keys: list[str]) -> list[str | None]: ...
    def set(self, key: str, value: str, *, ttl: int | None = None) -> None: ...
    def add(self, key: str, value: str, *, ttl: int) -> bool: ...
    def delete(self, *keys: str) -> None: ...
    def incr_many(self, keys: list[str]) -> None: ...


# The generation, the learner's epoch and, when both exist, the list they name: the whole
# cached request in one round trip.
_LOOKUP = """
local g = redis.call('GET', KEYS[1])
local e = redis.call('GET', KEYS[2])
local v = false
if g and e then
  v = redis.call('GET', 'recs:list:' .. g .. ':' .. ARGV[1] .. ':' .. e .. ':' .. ARGV[2])
end
return {g or '', e or '', v or ''}
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


_BUMP = """
for i = 1, #KEYS do
  redis.call('SET', KEYS[i], ARGV[1], 'NX')
  redis.call('INCR', KEYS[i])
end
return #KEYS
"""


class RedisStore:
    def __init__(self, client):
        self.client = client
        self._lookup = client.register_script(_LOOKUP)
        self._release = client.register_script(_RELEASE)
        self._bump = client.register_script(_BUMP)

    def lookup(self, *, learner_id: int, strategy: str) -> tuple[str | None, ...]:
        values = self._lookup(
            keys=[GENERATION_KEY, epoch_key(learner_id)], args=[learner_id, strategy]
        )
        return tuple(value or None for value in values)

    def release(self, key: str, token: str) -> None:
        self._release(keys=[key], args=[token])

    def get(self, key: str) -> str | None:
        return self.client.get(key)

    def get_many(self, keys: list[str]) -> list[str | None]:
        return self.client.mget(keys)

    def set(self, key: str, value: str, *, ttl: int | None = None) -> None:
        self.client.set(key, value, ex=ttl)

    def add(self, key: str, value: str, *, ttl: int) -> bool:
        return bool(self.client.set(key, value, nx=True, ex=ttl))

    def delete(self, *keys: str) -> None:
        if keys:
            self.client.delete(*keys)

    def incr_many(self, keys: list[str]) -> None:
        # A missing epoch starts from the clock, not from 0, so a durable copy written
        # under an epoch Redis has since forgotten never matches again. One script call per
        # chunk: a batch touches thousands of learners.
        start = time.time_ns() // 1000
        for i in range(0, len(keys), 5000):
            self._bump(keys=keys[i : i + 5000], args=[start])


class DjangoCacheStore:
    def __init__(self, cache):
        self.cache = cache

    def lookup(self, *, learner_id: int, strategy: str) -> tuple[str | None, ...]:
        generation, epoch = self.get_many([GENERATION_KEY, epoch_key(learner_id)])
        if generation is None or epoch is None:
            return generation, epoch, None
        key = list_key(
            generation=int(generation), learner_id=learner_id, epoch=epoch, strategy=strategy
        )
        return str(generation), str(epoch), self.get(key)

    def release(self, key: str, token: str) -> None:
        if self.get(key) == token:
            self.delete(key)

    def get(self, key: str) -> str | None:
        return self.cache.get(key)

    def get_many(self, keys: list[str]) -> list[str | None]:
        found = self.cache.get_many(keys)
        return [found.get(key) for key in keys]

    def set(self, key: str, value: str, *, ttl: int | None = None) -> None:
        self.cache.set(key, value, timeout=ttl)

    def add(self, key: str, value: str, *, ttl: int) -> bool:
        return self.cache.add(key, value, timeout=ttl)

    def delete(self, *keys: str) -> None:
        self.cache.delete_many(list(keys))

    def incr_many(self, keys: list[str]) -> None:
        start = time.time_ns() // 1000
        for key in keys:
            self.cache.add(key, start, timeout=None)
            try:
                self.cache.incr(key)
            except ValueError:  # evicted between add and incr
                self.cache.set(key, start + 1, timeout=None)


def store_for(cache: Any = None) -> Store:
    """A Store over `cache`: a redis client, a Django cache, a Store, or None (the default)."""
    if cache is None:
        client = get_redis()
        if client is not None:
            return RedisStore(client)
        from django.core.cache import cache as django_cache

        return DjangoCacheStore(django_cache)
    if isinstance(cache, RedisStore | DjangoCacheStore):
        return cache
    if hasattr(cache, "mget") and hasattr(cache, "pipeline"):
        return RedisStore(cache)
    return DjangoCacheStore(cache)


GENERATION_KEY = "recs:generation"


def snapshot_key(generation: int) -> str:
    return f"recs:snapshot:{generation}"


def epoch_key(learner_id: int) -> str:
    return f"recs:epoch:{learner_id}"


def list_key(*, generation: int, learner_id: int, epoch: int | str, strategy: str) -> str:
    return f"recs:list:{generation}:{learner_id}:{epoch}:{strategy}"
