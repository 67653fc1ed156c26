import io

import pytest
from django.core.management import CommandError, call_command

from learners.importing import learner_import_csv
from learners.models import Cohort, Learner
from tests.learners.factories import LearnerFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["copy", "bulk"])
def strategy(request):
    """Both writers: COPY + ON CONFLICT (PostgreSQL) and bulk_create (any database)."""
    return request.param


HEADER = (
    "employee_id,first_name,last_name,email,phone,role,knowledge_level,preferred_channel,"
    "slack_user_id,time_zone,store,region,team,manager_employee_id\n"
)


def _write(tmp_path, body: str, name="hr.csv"):
    path = tmp_path / name
    path.write_text(HEADER + body)
    return path


GOOD_AND_BAD = (
    # line 2: a manager, listed after their report (line 3) would be; here first
    "M1,Mara,Jade,mara@frontline.test,+15550000001,manager,advanced,email,,Europe/London,"
    "Leeds,North,Tills,\n"
    # line 3: good, reports to M1
    "E1,Ed,Ng,ED@Frontline.test,,sales_associate,,email,,,Leeds,North,Tills,M1\n"
    # line 4: bad email
    "E2,Bo,Li,not-an-email,,sales_associate,,,,,,,,\n"
    # line 5: bad role and bad phone
    "E3,Cy,Ox,cy@frontline.test,555-1234,cashier,,,,,,,,\n"
    # line 6: sms without phone
    "E4,Di,Po,di@frontline.test,,sales_associate,,sms,,,,,,\n"
    # line 7: duplicate employee id of line 3
    "E1,Ed,Again,ed2@frontline.test,,sales_associate,,,,,,,,\n"
    # line 8: missing last name
    "E5,Fa,,fa@frontline.test,,sales_associate,,,,,,,,\n"
    # line 9: good, manager appears later in the file (line 10)
    "E6,Gi,Ro,gi@frontline.test,+447700900123,sales_associate,intermediate,sms,,"
    "America/New_York,York,North,,M2\n"
    # line 10: good manager
    "M2,Hu,Va,hu@frontline.test,,regional_director,,slack,U999,,,North,,\n"
    # line 11: unknown time zone
    "E7,Io,Ka,io@frontline.test,,sales_associate,,,,Moon/Base,,,,\n"
)


def test_import_reports_each_bad_row_by_line_and_imports_the_good_ones(tmp_path, strategy):
    # given
    path = _write(tmp_path, GOOD_AND_BAD)
    # when
    report = learner_import_csv(path=path, batch_size=3, strategy=strategy)
    # then
    assert (report.rows, report.created, report.updated, report.unchanged) == (10, 4, 0, 0)
    rejected = {e.line: e.reason for e in report.errors}
    assert sorted(rejected) == [4, 5, 6, 7, 8, 11]
    assert "email" in rejected[4]
    assert "role" in rejected[5] and "phone" in rejected[5]
    assert "phone: required when the preferred channel is sms" in rejected[6]
    assert "repeats line 3" in rejected[7]
    assert "last_name" in rejected[8]
    assert "time_zone" in rejected[11]
    ed = Learner.objects.get(employee_id="E1")
    assert ed.email == "ed@frontline.test" and ed.knowledge_level == "beginner"
    assert ed.manager.employee_id == "M1"
    assert ed.store == Cohort.objects.get(kind="store", name="Leeds")
    assert ed.region.name == "North" and ed.team.name == "Tills"
    assert Learner.objects.get(employee_id="E6").manager.employee_id == "M2"  # linked later
    assert Learner.objects.get(employee_id="M1").time_zone == "Europe/London"
    assert Cohort.objects.filter(kind="region").count() == 1


def test_a_second_run_changes_nothing_and_an_edited_row_is_updated(tmp_path, strategy):
    path = _write(tmp_path, GOOD_AND_BAD)
    learner_import_csv(path=path, strategy=strategy)
    before = Learner.objects.get(employee_id="M1").updated_at
    # when: same file again
    again = learner_import_csv(path=path, strategy=strategy)
    # then
    assert (again.created, again.updated, again.unchanged) == (0, 0, 4)
    assert Learner.objects.get(employee_id="M1").updated_at == before
    assert Learner.objects.count() == 4
    # when: one row changes its role and channel
    edited = _write(
        tmp_path,
        "E1,Ed,Ng,ed@frontline.test,+15550000002,manager,,sms,,,Leeds,North,Tills,M1\n",
        name="edited.csv",
    )
    report = learner_import_csv(path=edited, strategy=strategy)
    assert (report.created, report.updated) == (0, 1)
    ed = Learner.objects.get(employee_id="E1")
    assert (ed.role, ed.preferred_channel, ed.phone) == ("manager", "sms", "+15550000002")
    assert Learner.objects.count() == 4


def test_an_email_owned_by_another_learner_is_rejected(tmp_path, strategy):
    LearnerFactory(employee_id="OLD", email="taken@frontline.test")
    path = _write(tmp_path, "NEW,An,Be,Taken@frontline.test,,sales_associate,,,,,,,,\n")
    report = learner_import_csv(path=path, strategy=strategy)
    assert [e.line for e in report.errors] == [2]
    assert "belongs to learner OLD" in report.errors[0].reason
    assert not Learner.objects.filter(employee_id="NEW").exists()


def test_an_unknown_manager_is_a_warning_and_the_row_is_kept(tmp_path, strategy):
    path = _write(tmp_path, "E1,Ed,Ng,ed@frontline.test,,sales_associate,,,,,,,,NOBODY\n")
    report = learner_import_csv(path=path, strategy=strategy)
    assert report.created == 1
    assert "NOBODY" in report.warnings[0].reason
    assert Learner.objects.get(employee_id="E1").manager is None


def test_the_command_prints_rejections_and_a_summary(tmp_path):
    path = _write(tmp_path, GOOD_AND_BAD)
    out, err = io.StringIO(), io.StringIO()
    call_command("import_learners", str(path), "--no-progress", stdout=out, stderr=err)
    assert "10 rows: 4 created, 0 updated, 0 unchanged, 6 rejected" in out.getvalue()
    assert "rejected line 4: email" in err.getvalue()


def test_the_command_refuses_a_file_without_the_required_columns(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("id,name\n1,x\n")
    with pytest.raises(CommandError, match="required columns"):
        call_command("import_learners", str(path), "--no-progress")
    with pytest.raises(CommandError, match="No such file"):
        call_command("import_learners", str(tmp_path / "missing.csv"))


def test_a_manager_change_alone_is_applied_and_an_emptied_manager_is_cleared(tmp_path, strategy):
    learner_import_csv(path=_write(tmp_path, GOOD_AND_BAD), strategy=strategy)
    moved = _write(
        tmp_path,
        "M2,Hu,Va,hu@frontline.test,,regional_director,,slack,U999,,,North,,\n"
        "E1,Ed,Ng,ed@frontline.test,,sales_associate,,email,,,Leeds,North,Tills,M2\n"
        "E6,Gi,Ro,gi@frontline.test,+447700900123,sales_associate,intermediate,sms,,"
        "America/New_York,York,North,,\n",
        name="moved.csv",
    )
    report = learner_import_csv(path=moved, strategy=strategy)
    assert (report.created, report.updated, report.unchanged) == (0, 2, 1)
    assert Learner.objects.get(employee_id="E1").manager.employee_id == "M2"
    assert Learner.objects.get(employee_id="E6").manager is None


def test_blank_lines_are_skipped_and_extra_cells_are_rejected(tmp_path, strategy):
    path = _write(
        tmp_path,
        "\n"
        "E1,Ed,Ng,ed@frontline.test,,sales_associate,,,,,,,,,EXTRA\n"
        "E2,Bo,Li,bo@frontline.test,,sales_associate,,,,,,,,\n",
    )
    report = learner_import_csv(path=path, strategy=strategy)
    assert report.rows == 2 and report.created == 1
    assert [(e.line, e.reason) for e in report.errors] == [(3, "too many columns")]


def test_a_file_with_only_the_required_columns_imports_with_defaults(tmp_path, strategy):
    path = tmp_path / "minimal.csv"
    path.write_text("Employee_ID,First_Name,Last_Name,Email,Role\nE1,Ed,Ng,ed@x.test,manager\n")
    report = learner_import_csv(path=path, strategy=strategy)
    assert report.created == 1
    ed = Learner.objects.get(employee_id="E1")
    assert (ed.preferred_channel, ed.time_zone, ed.knowledge_level) == ("email", "UTC", "beginner")
