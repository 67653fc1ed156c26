"""One Redis client per process for streams, locks and limiters (None in embedded mode)."""

from functools import cache

import redis
from django.conf import settings


@cache
def get_redis() -> redis.Redis | None:
    if not settings.REDIS_URL:
        return None
    return redis.Redis.from_url(
        settings.REDIS_URL,
        socket_connect_timeout=2,
        socket_timeout=5,
        health_check_interval=30,
        decode_responses=True,
    )
