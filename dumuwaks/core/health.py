import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError, InterfaceError, OperationalError, connection
from django.utils import timezone
from drf_spectacular.utils import extend_schema, inline_serializer
from redis.exceptions import RedisError
from rest_framework import serializers
from rest_framework.decorators import (
    api_view,
    authentication_classes,
    permission_classes,
    throttle_classes,
)
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

_STARTED = time.monotonic()


def is_infrastructure_outage(exc: BaseException) -> bool:
    """PostgreSQL or Redis unreachable: the client should retry, it is not a bug (→ 503)."""
    return isinstance(exc, OperationalError | InterfaceError | RedisError | ConnectionError)


def _database_status() -> dict:
    db = settings.DATABASES["default"]
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        healthy = True
    except DatabaseError:
        healthy = False
        connection.close()
    return {
        "status": "connected" if healthy else "disconnected",
        "is_healthy": healthy,
        "host": db.get("HOST") or "localhost",
        "database": db.get("NAME"),
    }


def _redis_status() -> dict:
    try:
        cache.set("health:ping", "1", timeout=5)
        healthy = cache.get("health:ping") == "1"
    except (RedisError, ConnectionError, OSError):
        healthy = False
    return {"status": "connected" if healthy else "disconnected", "is_healthy": healthy}


_HealthSerializer = inline_serializer(
    name="Health",
    fields={
        "status": serializers.ChoiceField(choices=["healthy", "unhealthy"]),
        "timestamp": serializers.DateTimeField(),
        "uptime": serializers.FloatField(help_text="Seconds since this process started"),
        "environment": serializers.CharField(),
        "insecure_staging": serializers.BooleanField(
            help_text="True when production settings run with fakes, simulators or sandbox credentials "
            "accepted by INSECURE_STAGING=true: a staging deployment, never production."
        ),
        "insecure_settings": serializers.ListField(
            child=serializers.CharField(),
            help_text="The environment variables accepted that way (names only; empty otherwise).",
        ),
        "database": inline_serializer(
            name="HealthDatabase",
            fields={
                "status": serializers.CharField(),
                "is_healthy": serializers.BooleanField(),
                "host": serializers.CharField(),
                "database": serializers.CharField(),
            },
        ),
        "redis": inline_serializer(
            name="HealthRedis",
            fields={"status": serializers.CharField(), "is_healthy": serializers.BooleanField()},
        ),
    },
)


@extend_schema(responses={200: _HealthSerializer, 503: _HealthSerializer}, tags=["health"])
@api_view(["GET"])
@authentication_classes([])
@permission_classes([AllowAny])
@throttle_classes([])
def health(request):
    database = _database_status()
    redis = _redis_status()
    healthy = database["is_healthy"] and redis["is_healthy"]
    body = {
        "status": "healthy" if healthy else "unhealthy",
        "timestamp": timezone.localtime().isoformat(),
        "uptime": round(time.monotonic() - _STARTED, 3),
        "environment": settings.ENVIRONMENT,
        "insecure_staging": settings.INSECURE_STAGING,
        "insecure_settings": settings.INSECURE_SETTINGS,
        "database": database,
        "redis": redis,
    }
    return Response(body, status=200 if healthy else 503)
