import json

import pytest
import yaml
from django.core.management import CommandError, call_command

from lessons.models import Microlesson, PathTemplate, Topic
from tests.lessons.test_services import BANK

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_import_lessons_loads_a_json_or_yaml_bank_twice_without_duplicates(
    tmp_path, suffix, capsys
):
    # given
    path = tmp_path / f"bank{suffix}"
    path.write_text(json.dumps(BANK) if suffix == ".json" else yaml.safe_dump(BANK))
    # when
    call_command("import_lessons", str(path))
    call_command("import_lessons", str(path))
    # then
    assert Topic.objects.count() == 2
    assert Microlesson.objects.filter(source="authored").count() == 2
    assert PathTemplate.objects.get(slug="onboarding").title == "New associate onboarding"
    assert "lessons 0 created, 2 updated" in capsys.readouterr().out


def test_import_lessons_reports_problems_and_fails(tmp_path, capsys):
    bad = json.loads(json.dumps(BANK))
    bad["lessons"][0]["quiz_options"] = ["only one"]
    path = tmp_path / "bank.json"
    path.write_text(json.dumps(bad))
    with pytest.raises(CommandError):
        call_command("import_lessons", str(path))
    assert "lessons[0]: quiz_options" in capsys.readouterr().err
    assert Microlesson.objects.count() == 0


def test_import_lessons_refuses_unparseable_and_missing_files(tmp_path):
    broken = tmp_path / "bank.json"
    broken.write_text("{not json")
    with pytest.raises(CommandError):
        call_command("import_lessons", str(broken))
    with pytest.raises(CommandError):
        call_command("import_lessons", str(tmp_path / "missing.yaml"))


def test_the_shipped_starter_bank_loads_and_has_an_onboarding_path():
    from lessons.demo import STARTER_BANK

    # when
    call_command("import_lessons", str(STARTER_BANK))
    # then
    assert Topic.objects.count() >= 8
    assert Microlesson.objects.filter(source="authored").count() >= 30
    onboarding = PathTemplate.objects.get(slug="onboarding")
    assert set(onboarding.topics) <= set(Topic.objects.values_list("slug", flat=True))
    for lesson in Microlesson.objects.all():
        lesson.full_clean()
