from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import run_checks


@never_cache
@require_GET
def healthz(request):
    """Database, cache and broker status with latencies: 200 when all answer, else 503."""
    healthy, body = run_checks()
    return JsonResponse(body, status=200 if healthy else 503)
