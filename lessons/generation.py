"""
Lesson generation client (seed 000 §4) and the "a learner never misses a day" fallback.

`LessonGeneratorClient.generate()` POSTs {topic, learner_id, difficulty} to
`{LESSON_GENERATOR_URL}/api/v1/generate-lesson` and validates the `lesson` object of the
answer. Transient failures (connection errors, timeouts, 5xx, 429) are retried by core's
retry policy; the whole call runs inside a circuit breaker shared by every process through
the cache, so a generator that keeps failing is left alone for a while.

`lesson_obtain_for_topic()` is what callers use: a generated lesson when the generator
answers well, otherwise (no URL, open circuit, error, invalid JSON) an authored lesson of
the same topic and difficulty.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from core.resilience import CircuitBreaker, CircuitOpenError, RetryableError, retry_policy
from learners.models import Learner
from lessons import selectors
from lessons.errors import LessonGeneratorError, NoLessonAvailableError
from lessons.models import Difficulty, Microlesson, Topic, validate_quiz, validate_string_list

logger = logging.getLogger(__name__)

GENERATE_PATH = "/api/v1/generate-lesson"


class _TransientGeneratorError(RetryableError, LessonGeneratorError):
    """Worth another attempt: network trouble, timeout, 5xx or 429."""


def generator_breaker() -> CircuitBreaker:
    return CircuitBreaker(
        "lesson-generator",
        minimum_calls=settings.LESSON_GENERATOR_BREAKER_THRESHOLD,
        reset_timeout=settings.LESSON_GENERATOR_BREAKER_RESET_SECONDS,
        expected_exceptions=(LessonGeneratorError,),
    )


def validate_generated_lesson(data: Any) -> dict[str, Any]:
    """Check the generator's `lesson` object; raise LessonGeneratorError when unusable."""
    if not isinstance(data, dict):
        raise LessonGeneratorError("The generator's answer has no lesson object.")
    lesson = data.get("lesson")
    if not isinstance(lesson, dict):
        raise LessonGeneratorError("The generator's answer has no lesson object.")
    for key in ("content", "quiz_question"):
        if not isinstance(lesson.get(key), str) or not lesson[key].strip():
            raise LessonGeneratorError(f"The generated lesson has no {key}.")
    try:
        validate_quiz(
            options=lesson.get("quiz_options"), correct_answer=lesson.get("correct_answer")
        )
        validate_string_list(lesson.get("key_points", []), field="key_points")
    except ValidationError as exc:
        raise LessonGeneratorError(f"The generated lesson is invalid: {exc.messages}") from exc
    for key in ("scenario", "title", "explanation"):
        if key in lesson and not isinstance(lesson[key], str):
            raise LessonGeneratorError(f"The generated lesson's {key} is not text.")
    return lesson


@dataclass
class LessonGeneratorClient:
    base_url: str
    timeout: float = 10.0
    attempts: int = 3
    breaker: CircuitBreaker | None = None
    sleep: Callable[[float], None] = time.sleep

    @classmethod
    def from_settings(cls, **overrides: Any) -> LessonGeneratorClient | None:
        """The configured client, or None when LESSON_GENERATOR_URL is unset."""
        if not settings.LESSON_GENERATOR_URL:
            return None
        options = {
            "base_url": settings.LESSON_GENERATOR_URL,
            "timeout": settings.LESSON_GENERATOR_TIMEOUT_SECONDS,
            "attempts": settings.LESSON_GENERATOR_ATTEMPTS,
            "breaker": generator_breaker(),
        }
        options.update(overrides)
        return cls(**options)

    def generate(self, *, topic: str, learner_id: str, difficulty: str) -> dict[str, Any]:
        """One lesson from the generator, validated; raises LessonGeneratorError or
        CircuitOpenError."""
        breaker = self.breaker or generator_breaker()
        return breaker.call(self._generate_with_retries, topic, learner_id, difficulty)

    def _generate_with_retries(self, topic: str, learner_id: str, difficulty: str):
        for attempt in retry_policy(attempts=self.attempts, sleep=self.sleep):
            with attempt:
                return self._post(topic, learner_id, difficulty)
        raise AssertionError("unreachable: the retry policy re-raises")  # pragma: no cover

    def _post(self, topic: str, learner_id: str, difficulty: str) -> dict[str, Any]:
        url = self.base_url.rstrip("/") + GENERATE_PATH
        body = {"topic": topic, "learner_id": learner_id, "difficulty": difficulty}
        try:
            response = requests.post(url, json=body, timeout=self.timeout)
        except requests.Timeout as exc:
            raise _TransientGeneratorError(f"timed out after {self.timeout}s") from exc
        except requests.RequestException as exc:
            raise _TransientGeneratorError(f"cannot reach the generator: {exc}") from exc
        if response.status_code == 429 or response.status_code >= 500:
            retry_after = response.headers.get("Retry-After")
            raise _TransientGeneratorError(
                f"generator answered {response.status_code}",
                retry_after=float(retry_after) if retry_after and retry_after.isdigit() else None,
            )
        if response.status_code != 200:
            raise LessonGeneratorError(f"generator answered {response.status_code}")
        try:
            data = response.json()
        except ValueError as exc:
            raise LessonGeneratorError("generator answered malformed JSON") from exc
        return validate_generated_lesson(data)


@dataclass(frozen=True)
class LessonChoice:
    microlesson: Microlesson
    source: str  # "generated" or "authored"
    fallback_reason: str | None = None


def lesson_obtain_for_topic(
    *,
    learner: Learner,
    topic: Topic,
    difficulty: str = Difficulty.BEGINNER,
    avoid_ids: Iterable[int] = (),
    client: LessonGeneratorClient | None = None,
    use_generator: bool = True,
) -> LessonChoice:
    """A lesson on `topic` for `learner`: generated if possible, else from the authored bank.

    Raises NoLessonAvailableError only when the generator gave nothing and the bank has no
    lesson on the topic either.
    """
    reason = None
    if use_generator:
        client = client or LessonGeneratorClient.from_settings()
        if client is None:
            reason = "generator_not_configured"
        else:
            try:
                data = client.generate(
                    topic=topic.slug, learner_id=learner.employee_id, difficulty=difficulty
                )
                return LessonChoice(
                    microlesson=_save_generated(
                        learner=learner, topic=topic, difficulty=difficulty, data=data
                    ),
                    source=Microlesson.Source.GENERATED,
                )
            except CircuitOpenError:
                reason = "circuit_open"
            except LessonGeneratorError as exc:
                reason = "generator_failed"
                logger.warning(
                    "lesson generator failed; using the authored bank",
                    extra={"topic": topic.slug, "error": str(exc)},
                )
    else:
        reason = "generator_not_used"
    lesson = selectors.authored_lesson_for(
        learner=learner, topic=topic, difficulty=difficulty, avoid_ids=avoid_ids
    )
    if lesson is None:
        raise NoLessonAvailableError(f"No lesson on {topic.slug}.", topic=topic.slug)
    return LessonChoice(
        microlesson=lesson, source=Microlesson.Source.AUTHORED, fallback_reason=reason
    )


@transaction.atomic
def _save_generated(
    *, learner: Learner, topic: Topic, difficulty: str, data: dict[str, Any]
) -> Microlesson:
    return Microlesson.objects.create(
        topic=topic,
        title=(data.get("title") or topic.title)[:200],
        difficulty=difficulty,
        source=Microlesson.Source.GENERATED,
        content=data["content"],
        key_points=list(data.get("key_points", [])),
        scenario=data.get("scenario", ""),
        quiz_question=data["quiz_question"],
        quiz_options=list(data["quiz_options"]),
        correct_answer=data["correct_answer"],
        explanation=data.get("explanation", ""),
        generated_for=learner,
        generator_metadata={k: v for k, v in data.items() if k in ("model", "sources", "id")},
    )
