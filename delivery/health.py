"""Found by core.health.discover_sections(): creates the providers' circuit breakers in this
process so /healthz and the dashboard report their states (kept in the shared cache) even
where nothing has been sent yet."""

from delivery.selectors import provider_breakers

provider_breakers()
