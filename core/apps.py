from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Operations"

    def ready(self) -> None:
        from celery.signals import beat_init

        from core.tasks import record_beat_heartbeat

        # Beat says it is alive as soon as it starts, then every 30 s (core-beat-heartbeat).
        beat_init.connect(record_beat_heartbeat, weak=False, dispatch_uid="core.beat_init")
