"""
Next-topic recommendations for learners (seed 003 Task 1 mapped onto Frontline): users are
learners, products are topics, interactions are lessons delivered, started (first answer),
completed and topics saved for later.

    from lessons.recommendations import RecommendationEngine
    RecommendationEngine(learner_id=42).get_recommendations(limit=10, strategy="hybrid")
"""

from lessons.recommendations.behavior import BehaviorProcessor
from lessons.recommendations.engine import (
    STRATEGIES,
    RecommendationEngine,
    RecommendationResult,
)

__all__ = ["STRATEGIES", "BehaviorProcessor", "RecommendationEngine", "RecommendationResult"]
