"""
Reactions to domain events for completion rewards (registered in LessonsConfig.ready()).

- path.completed → the learner's reward for the path, when its template carries one

The outbox runs the handler once per event; the unique constraint on learner and template
makes a redelivered or concurrent event record nothing more.
"""

from __future__ import annotations

from core.outbox import subscribe
from lessons.rewards.services import path_reward_grant


@subscribe("path.completed")
def on_path_completed(event) -> None:
    learning_path_id = event.payload.get("learning_path_id")
    if learning_path_id:
        path_reward_grant(learning_path_id=learning_path_id)
