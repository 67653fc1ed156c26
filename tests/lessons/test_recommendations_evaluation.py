"""Quality measured: hybrid beats most-popular on a synthetic population with structure."""

import pytest
from django.core.management import call_command

from lessons.recommendations.evaluation import BASELINE, evaluate
from lessons.recommendations.synthetic import population_create

pytestmark = pytest.mark.django_db


def test_hybrid_beats_most_popular_on_ndcg_on_a_population_with_cohort_structure():
    # given: cohorts that each favour their own group of topics
    population_create(learners=300, topics=20, cohorts=4, topics_per_learner=6, seed=11)

    # when
    scores = evaluate(k=10, test_fraction=0.2)

    # then
    assert scores, "no learner had completions on both sides of the cut"
    assert scores["hybrid"].learners > 50
    assert scores["hybrid"].ndcg > scores[BASELINE].ndcg
    assert scores["collaborative"].ndcg > scores[BASELINE].ndcg
    for score in scores.values():
        assert 0 <= score.precision <= 1 and 0 <= score.recall <= 1 and 0 <= score.ndcg <= 1
        assert 0 < score.coverage <= 1


def test_evaluate_command_prints_every_metric_for_each_strategy_and_the_baseline(capsys):
    # when
    call_command("evaluate_recommendations", "--synthetic", "200")

    # then
    out = capsys.readouterr().out
    for name in ("hybrid", "collaborative", "content_based", BASELINE):
        assert name in out
    for metric in ("precision@10", "recall@10", "NDCG@10", "coverage"):
        assert metric in out
    assert "hybrid beats most_popular on NDCG@10" in out
    print(out)
