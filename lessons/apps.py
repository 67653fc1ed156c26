from django.apps import AppConfig


class LessonsConfig(AppConfig):
    name = "lessons"
    verbose_name = "Lessons"

    def ready(self) -> None:
        # Registers the @subscribe handlers and the tasks of recommendations and rewards.
        from lessons.recommendations import handlers, tasks  # noqa: F401
        from lessons.rewards import handlers as reward_handlers  # noqa: F401
        from lessons.rewards import tasks as reward_tasks  # noqa: F401
