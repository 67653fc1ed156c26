from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"
    verbose_name = "Lessons"

    def ready(self) -> None:
        # Registers the recommendation @subscribe handlers and the recommendation tasks.
        from lessons.recommendations import handlers, tasks  # noqa: F401
