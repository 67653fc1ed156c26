"""make conformance reads the suite's log: passed/failed per describe, hooks, tests not run."""

from tests.conformance.run import report, tally


def _test(title, status, error=None):
    return {"title": title, "status": status, "error": error, "tests": []}


def _suite(title, *tests, error=None):
    return {"title": title, "status": "failed", "error": error, "tests": list(tests)}


def test_tests_are_counted_per_top_level_describe_with_a_failed_hook_as_one_failure():
    # given a log with a passing describe, and one whose nested before hook failed
    record = {
        "summary": {"total": 6, "passed": 3, "failed": 2},
        "log": _suite(
            "",
            _suite("Statements", _test("stores", "passed"), _test("reads", "passed")),
            _suite(
                "State",
                _test("puts", "passed"),
                _suite("ETags", error='"before all" hook: Error: 404'),
                _test("deletes", "failed", "Error: expected 204"),
            ),
        ),
    }
    # when
    groups = tally(record)
    # then
    assert [(g.title, g.passed, g.failed) for g in groups] == [
        ("Statements", 2, 0),
        ("State", 1, 2),
    ]
    assert groups[1].failures[0][0] == "State > ETags"
    assert "expected 204" in groups[1].failures[1][1]


def test_a_failed_root_hook_is_the_setup_and_hidden_tests_count_as_failed(tmp_path, monkeypatch):
    # given the 2.0 run whose first POST was refused
    record = {
        "summary": {"total": 1442, "passed": 0, "failed": 1},
        "log": {"title": "", "status": "failed", "error": "Error: 400", "tests": []},
    }
    monkeypatch.setattr("tests.conformance.run.VAR", tmp_path)
    monkeypatch.setattr("tests.conformance.run.ROOT", tmp_path)
    # when
    outcome = report("2.0.0", record, grep=None, timed_out=False)
    # then
    assert (outcome.passed, outcome.failed, outcome.not_run) == (0, 1442, 1441)
    assert "Error: 400" in (tmp_path / "failures-2.0.0.txt").read_text()


def test_without_a_log_every_expected_test_is_failed(tmp_path, monkeypatch):
    monkeypatch.setattr("tests.conformance.run.VAR", tmp_path)
    monkeypatch.setattr("tests.conformance.run.ROOT", tmp_path)
    outcome = report("1.0.3", {}, grep=None, timed_out=True)
    assert (outcome.passed, outcome.failed, outcome.total) == (0, 1365, 1365)
