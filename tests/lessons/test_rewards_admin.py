"""Completion rewards in the admin (template fields, rewards, budgets, the pending action)
and on the monitoring dashboard."""

import re
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from lessons.models import PathTemplate
from lessons.rewards import services
from lessons.rewards.models import PathReward, RewardBudget
from tests.lessons.rewards_support import completed_path, rewarded_template, store

pytestmark = pytest.mark.django_db

FIGURE = re.compile(r'data-figure="([\w-]+)"[^>]*?data-value="([^"]*)"')


@pytest.fixture
def superuser_client(client, django_user_model):
    client.force_login(
        django_user_model.objects.create_superuser("root", "root@example.com", "pw-123456!")
    )
    return client


@pytest.fixture
def rewards():
    """Budget for two in one store; three completions (two issued, one pending)."""
    template = rewarded_template(amount="10.00", budget="20.00")
    cohort = store("Leeds Briggate")
    made = [
        services.path_reward_grant(learning_path_id=completed_path(template, cohort=cohort).pk)
        for _ in range(3)
    ]
    return {"template": template, "cohort": cohort, "rewards": made}


def test_the_template_admin_edits_the_reward(superuser_client):
    template = rewarded_template()
    url = reverse("admin:lessons_pathtemplate_change", args=[template.pk])
    page = superuser_client.get(url).content.decode()
    assert "Completion reward" in page and 'name="reward_monthly_budget"' in page
    # when: the budget is set below the amount
    form = {
        "slug": template.slug,
        "title": template.title,
        "description": "",
        "difficulty": "beginner",
        "topics": '["onboarding-topic"]',
        "reward_amount": "10.00",
        "reward_currency": "usd",
        "reward_monthly_budget": "5.00",
        "reward_cohort_kind": "store",
    }
    response = superuser_client.post(url, form)
    # then: a clear form error, nothing saved
    assert response.status_code == 200
    assert "The budget must cover at least one reward." in response.content.decode()
    # and a valid budget is saved, the currency normalised
    response = superuser_client.post(url, {**form, "reward_monthly_budget": "100.00"})
    assert response.status_code == 302
    template.refresh_from_db()
    assert (template.reward_currency, template.reward_monthly_budget) == ("USD", Decimal("100.00"))
    listing = superuser_client.get(reverse("admin:lessons_pathtemplate_changelist"))
    assert "USD 10.00 (budget 100.00/month)" in listing.content.decode()


def test_the_reward_list_filters_and_searches(superuser_client, rewards):
    url = reverse("admin:lessons_pathreward_changelist")
    page = superuser_client.get(url).content.decode()
    assert page.count('class="action-checkbox"') == 3
    pending = superuser_client.get(url, {"status__exact": "pending_budget"}).content.decode()
    assert pending.count('class="action-checkbox"') == 1
    assert "Reward pending budget" in pending
    by_cohort = superuser_client.get(url, {"cohort__id__exact": rewards["cohort"].pk})
    assert by_cohort.content.decode().count('class="action-checkbox"') == 3
    learner = rewards["rewards"][0].learner
    found = superuser_client.get(url, {"q": learner.employee_id}).content.decode()
    assert found.count('class="action-checkbox"') == 1
    month = rewards["rewards"][0].month
    assert f"{month:%B %Y}" in page
    by_month = superuser_client.get(url, {"month": month.isoformat()}).content.decode()
    assert by_month.count('class="action-checkbox"') == 3
    other = superuser_client.get(url, {"month": "2001-01-01"}).content.decode()
    assert other.count('class="action-checkbox"') == 0
    assert superuser_client.get(url, {"month": "not-a-date"}).status_code == 200


def test_the_reward_detail_page_is_readable_and_shows_no_code(superuser_client, rewards):
    reward = rewards["rewards"][0]
    page = superuser_client.get(
        reverse("admin:lessons_pathreward_change", args=[reward.pk])
    ).content.decode()
    assert reward.gift_card.masked_code in page
    assert "Timeline" in page and "Issued" in page
    assert reward.sealed_code not in page
    assert 'name="_save"' not in page  # read-only


def test_the_learners_page_lists_their_rewards(superuser_client, rewards):
    reward = rewards["rewards"][2]
    page = superuser_client.get(
        reverse("admin:learners_learner_change", args=[reward.learner_id])
    ).content.decode()
    assert "Path rewards" in page and "Reward pending budget" in page
    assert reverse("admin:lessons_pathreward_change", args=[reward.pk]) in page


def test_the_issue_pending_action_issues_once_budget_is_raised(superuser_client, rewards):
    pending = rewards["rewards"][2]
    url = reverse("admin:lessons_pathreward_changelist")
    action = {"action": "issue_pending", "_selected_action": [pending.pk]}
    # when: the budget is still spent
    response = superuser_client.post(url, action, follow=True)
    assert "0 issued, 1 still pending" in response.content.decode()
    # when: staff raise the cohort's budget in the budget admin, then run the action
    budget = RewardBudget.objects.get(template=rewards["template"], cohort=rewards["cohort"])
    budget_url = reverse("admin:lessons_rewardbudget_change", args=[budget.pk])
    assert superuser_client.get(budget_url).status_code == 200
    assert superuser_client.post(budget_url, {"budget_amount": "30.00"}).status_code == 302
    response = superuser_client.post(url, action, follow=True)
    # then
    assert "1 issued, 0 still pending" in response.content.decode()
    # and a negative budget is a form error, not a server error
    refused = superuser_client.post(budget_url, {"budget_amount": "-1"})
    assert refused.status_code == 200 and "errornote" in refused.content.decode()
    assert PathReward.objects.get(pk=pending.pk).status == "issued"


def test_the_action_needs_the_issue_permission(client, django_user_model, rewards):
    staff = django_user_model.objects.create_user("viewer", password="pw-123456!", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_pathreward"))
    client.force_login(staff)
    url = reverse("admin:lessons_pathreward_changelist")
    page = client.get(url).content.decode()
    assert "issue_pending" not in page
    client.post(url, {"action": "issue_pending", "_selected_action": [rewards["rewards"][2].pk]})
    RewardBudget.objects.update(budget_amount=Decimal("100"))
    assert PathReward.objects.get(pk=rewards["rewards"][2].pk).status == "pending_budget"


def test_the_dashboard_shows_rewards_issued_and_budget_left(superuser_client, rewards, settings):
    settings.ANALYTICS_DASHBOARD_CACHE_SECONDS = 0
    # given: a second store with one reward issued
    other = store("York Parliament Street")
    services.path_reward_grant(
        learning_path_id=completed_path(rewards["template"], cohort=other).pk
    )
    page = superuser_client.get(reverse("admin:index")).content.decode()
    shown = dict(FIGURE.findall(page))
    assert 'id="card-rewards"' in page
    assert shown["rewards-issued"] == "3"
    assert Decimal(shown["rewards-issued-USD"]) == Decimal("30.00")
    assert shown["rewards-pending"] == "1"
    # budget left per cohort, ordered by cohort: Leeds spent, York 10 left
    assert Decimal(shown["rewards-left-1"]) == Decimal("0")
    assert Decimal(shown["rewards-left-2"]) == Decimal("10.00")
    assert "Store: Leeds Briggate" in page and "Store: York Parliament Street" in page


def test_the_dashboard_card_without_rewards_says_so(superuser_client, settings):
    settings.ANALYTICS_DASHBOARD_CACHE_SECONDS = 0
    PathTemplate.objects.create(slug="plain", title="Plain", topics=["x"])
    page = superuser_client.get(reverse("admin:index")).content.decode()
    assert "No completion rewards this month." in page


def test_the_rewards_card_needs_the_view_permission(client, django_user_model, settings):
    settings.ANALYTICS_DASHBOARD_CACHE_SECONDS = 0
    staff = django_user_model.objects.create_user("ops", password="pw-123456!", is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_giftcard"))
    client.force_login(staff)
    page = client.get(reverse("admin:index")).content.decode()
    assert 'id="card-gift-cards"' in page and 'id="card-rewards"' not in page
