"""Found by core.health.discover_sections(): creates the lesson generator's circuit breaker
in this process so /healthz and the dashboard report its state (kept in the shared cache)
even where no lesson has been generated yet."""

from lessons.generation import generator_breaker

generator_breaker()
