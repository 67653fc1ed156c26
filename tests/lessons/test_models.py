import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError
from django_fsm import TransitionNotAllowed

from lessons.models import LearningPath, Microlesson
from tests.learners.factories import LearnerFactory
from tests.lessons.factories import LearningPathFactory, MicrolessonFactory, TopicFactory

pytestmark = pytest.mark.django_db


def test_a_well_formed_lesson_is_valid():
    MicrolessonFactory.build(topic=TopicFactory()).full_clean()


@pytest.mark.parametrize(
    ("options", "correct", "field"),
    [
        (["Only one"], 0, "quiz_options"),
        (["a", "b", "c", "d", "e"], 0, "quiz_options"),
        (["a", ""], 0, "quiz_options"),
        (["same", "Same"], 0, "quiz_options"),
        ("not a list", 0, "quiz_options"),
        (["a", "b"], 2, "correct_answer"),
        (["a", "b", "c", "d"], 4, "correct_answer"),
    ],
)
def test_quiz_needs_two_to_four_options_and_a_correct_index_among_them(options, correct, field):
    lesson = MicrolessonFactory.build(
        topic=TopicFactory(), quiz_options=options, correct_answer=correct
    )
    with pytest.raises(ValidationError) as excinfo:
        lesson.full_clean()
    assert field in excinfo.value.message_dict


def test_a_generated_lesson_must_belong_to_a_learner():
    lesson = MicrolessonFactory.build(topic=TopicFactory(), key=None, source="generated")
    with pytest.raises(ValidationError) as excinfo:
        lesson.full_clean()
    assert "generated_for" in excinfo.value.message_dict
    with pytest.raises(IntegrityError):
        lesson.save()


def test_database_refuses_an_out_of_range_answer_index():
    with pytest.raises(IntegrityError):
        MicrolessonFactory(correct_answer=7)


def test_authored_lesson_keys_are_unique():
    MicrolessonFactory(key="dup")
    with pytest.raises(IntegrityError):
        MicrolessonFactory(key="dup")


def test_lifecycle_start_pause_resume_complete_sets_timestamps():
    # given
    path = LearningPathFactory(topics=["a"])
    assert path.status == LearningPath.Status.NOT_STARTED
    # when / then
    path.start()
    assert path.status == "in_progress" and path.started_at is not None
    path.pause()
    assert path.status == "paused" and path.paused_at is not None
    path.resume()
    assert path.status == "in_progress" and path.paused_at is None
    path.current_position = 1
    path.complete()
    assert path.status == "completed"
    assert path.completed_at is not None
    assert path.completion_percentage == 100
    path.save()
    path.refresh_from_db()
    assert path.status == "completed"


@pytest.mark.parametrize(
    ("status_path", "transition"),
    [
        ([], "pause"),
        ([], "resume"),
        ([], "complete"),
        (["start"], "start"),
        (["start"], "resume"),
        (["start", "pause"], "pause"),
    ],
)
def test_invalid_transitions_are_refused(status_path, transition):
    path = LearningPathFactory(topics=[])
    for step in status_path:
        getattr(path, step)()
    with pytest.raises(TransitionNotAllowed):
        getattr(path, transition)()


def test_complete_is_guarded_until_every_topic_is_done():
    path = LearningPathFactory(topics=["a", "b"])
    path.start()
    path.current_position = 1
    with pytest.raises(TransitionNotAllowed):
        path.complete()
    assert path.status == "in_progress"


def test_status_is_protected_from_direct_assignment():
    path = LearningPathFactory()
    with pytest.raises(AttributeError):
        path.status = "completed"


def test_database_refuses_completed_without_timestamp_and_double_enrolment():
    from tests.lessons.factories import PathTemplateFactory

    learner = LearnerFactory()
    template = PathTemplateFactory()
    LearningPathFactory(learner=learner, template=template)
    with pytest.raises(IntegrityError):
        LearningPathFactory(learner=learner, template=template)


def test_progress_percentage_follows_the_position():
    path = LearningPathFactory.build(topics=["a", "b", "c"], current_position=1)
    path.recompute_percentage()
    assert str(path.completion_percentage) == "33.33"
    assert path.current_topic_slug == "b"


def test_source_choices():
    assert set(Microlesson.Source.values) == {"authored", "generated"}
