"""
Completion rewards: a path template may carry a gift card reward (amount, currency and a
monthly budget per cohort). Completing such a path issues a card through
gift_cards.GiftCardService once per learner and path, within the cohort's budget for the
month; a completion past the budget waits as "pending budget" until budget appears.

    from lessons.rewards import services
    services.path_reward_grant(learning_path_id=42)
"""
