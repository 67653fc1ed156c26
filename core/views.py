import logging

from django.conf import settings
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.health import run_checks

logger = logging.getLogger(__name__)


@never_cache
@require_GET
def healthz(request):
    """Dependencies, scheduler, ETL, queues and breakers: 200 when nothing fails, else 503
    with the failing parts named in `failing`.

    `?require=database,cache` answers 503 only when one of those fails (the body still
    names everything): a web node's own probe need not fail because beat is down.
    """
    try:
        healthy, body = run_checks()
    except Exception as exc:  # every probe is guarded; this is the last line of defence
        logger.exception("health check failed")
        healthy = False
        body = {"status": "error", "failing": ["healthz"], "error": f"{type(exc).__name__}"}
    required = {name for name in request.GET.get("require", "").split(",") if name}
    if required and not healthy:
        healthy = not required.intersection(body.get("failing", ["healthz"]))
    response = JsonResponse(body, status=200 if healthy else 503)
    if not healthy:
        response["Retry-After"] = str(settings.DEPENDENCY_RETRY_AFTER_SECONDS)
    return response
